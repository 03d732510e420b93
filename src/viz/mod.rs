//! Pictures of training and models: loss curves and attention heatmaps (PNG
//! and SVG), attention matrices as text for a terminal, and tokens
//! highlighted by their attention weight as HTML.

mod attention;
mod colormap;
mod curves;
mod font;
mod heatmap;
mod highlight;
mod output;
mod terminal;

pub use attention::AttentionMap;
pub use colormap::ColorMap;
pub use curves::{Chart, Series, plot_history, plot_lines};
pub use heatmap::{ColorRange, HeatmapStyle, plot_attention};
pub use highlight::{Highlighted, highlight_html};
pub use terminal::{TextCells, TextStyle, render_attention_text, render_attention_text_with};
