//! Pictures of training and models: loss curves (PNG and SVG).
