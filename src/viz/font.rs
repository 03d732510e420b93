//! The one font every plot draws with.
//!
//! DejaVu Sans Mono (see `assets/fonts/DejaVu-LICENSE.txt`) is compiled into
//! the binary and registered as `"sans-serif"`, so plots look the same on a
//! machine without system fonts, such as a CI container, and text can be
//! measured before a drawing backend exists (layouts size the image from it).

use std::sync::Once;

use plotters::style::{FontStyle, IntoFont};

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSansMono.ttf");
static REGISTER: Once = Once::new();

/// The family name plots ask for; it resolves to the compiled-in font.
pub(crate) const FAMILY: &str = "sans-serif";

/// Registers the compiled-in font under [`FAMILY`]; cheap after the first call.
pub(crate) fn register_font() {
    REGISTER.call_once(|| {
        // The font is compiled in and known to parse; if it ever did not,
        // drawing would report the missing font as an error.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
    });
}

/// Width and height in pixels of `text` at `size` px, as the bitmap backend
/// will draw it. Falls back to the monospace advance (0.6 em) if the font
/// cannot lay the text out, so a layout never fails on measuring.
pub(crate) fn text_size(text: &str, size: f64) -> (u32, u32) {
    register_font();
    (FAMILY, size)
        .into_font()
        .box_size(text)
        .unwrap_or_else(|_| {
            let w = (text.chars().count() as f64 * size * 0.6).ceil() as u32;
            (w, size.ceil() as u32)
        })
}
