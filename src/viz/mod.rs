//! Pictures of training and models: loss curves (PNG and SVG).

pub mod curves;

pub use curves::{Chart, Series, plot_lines};
