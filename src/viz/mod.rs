//! Pictures of training and models: loss curves and attention heatmaps (PNG
//! and SVG), and attention matrices as text for a terminal.

pub mod attention;
pub mod colormap;
pub mod curves;
mod font;
pub mod heatmap;
mod output;
pub mod terminal;

pub use attention::AttentionMap;
pub use colormap::ColorMap;
pub use curves::{Chart, Series, plot_lines};
pub use heatmap::{ColorRange, HeatmapStyle, plot_attention};
pub use terminal::{TextCells, TextStyle, render_attention_text, render_attention_text_with};
