//! Writing a figure to PNG or SVG, chosen by the file extension, atomically.
//!
//! A figure draws itself on any plotters backend; this file picks the backend
//! and makes the write atomic (a temporary file beside the target, then a
//! rename), so a reader never sees half a picture. The SVG is drawn into
//! memory; the PNG encoder only writes to a path, so it draws to a temporary
//! `.png` path in the same directory (same file system, so the rename is atomic).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use super::font::register_font;
use crate::{Error, Result};

/// What a drawing function returns for backend `DB`.
pub(crate) type DrawResult<DB> =
    std::result::Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Something that can be drawn at a fixed size on any backend.
pub(crate) trait Figure {
    /// Image size in pixels, `(width, height)`.
    fn size(&self) -> (u32, u32);
    /// Draws the whole figure on `root`, which has [`Figure::size`].
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB>;
}

/// The image formats a figure can be saved as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ImageFormat {
    Png,
    Svg,
}

impl ImageFormat {
    /// The format named by `path`'s extension (case-insensitive).
    pub(crate) fn from_path(path: &Path) -> Result<Self> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("png") => Ok(ImageFormat::Png),
            Some("svg") => Ok(ImageFormat::Svg),
            other => Err(Error::Config(format!(
                "{}: cannot tell the image format from {}; use a .png or .svg file name",
                path.display(),
                match other {
                    Some(e) => format!("the extension .{e}"),
                    None => "a name without an extension".to_string(),
                }
            ))),
        }
    }
}

/// Draws `figure` to `path` as PNG or SVG, by the extension, atomically.
pub(crate) fn save(path: &Path, figure: &impl Figure) -> Result<()> {
    let format = ImageFormat::from_path(path)?;
    // The encoders' own errors for a missing folder are opaque
    // (`ImageError(IoError(…))`): say what is wrong before drawing.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        return Err(Error::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!(
                    "cannot write the image: the folder {} does not exist",
                    dir.display()
                ),
            ),
        ));
    }
    register_font();
    let tmp = temp_path(path, format);
    let drawn = match format {
        ImageFormat::Png => draw_png(&tmp, figure),
        ImageFormat::Svg => draw_svg(figure)
            .and_then(|svg| write_synced(&tmp, svg.as_bytes()).map_err(|e| Error::io(path, e))),
    };
    let result = drawn.and_then(|()| fs::rename(&tmp, path).map_err(|e| Error::io(path, e)));
    if result.is_err() {
        // Best effort: the temporary file may not exist if drawing failed early.
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(|e| match e {
        Error::Io { cause, .. } => Error::io(path, cause),
        other => other,
    })
}

/// `.name.tmp.ext` beside `path`: hidden, and still ending in the extension
/// the PNG encoder picks its format from.
fn temp_path(path: &Path, format: ImageFormat) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = match format {
        ImageFormat::Png => "png",
        ImageFormat::Svg => "svg",
    };
    path.with_file_name(format!(".{name}.{}.tmp.{ext}", std::process::id()))
}

fn draw_png(tmp: &Path, figure: &impl Figure) -> Result<()> {
    let root = BitMapBackend::new(tmp, figure.size()).into_drawing_area();
    figure.draw(&root).map_err(|e| draw_error(tmp, e))?;
    root.present().map_err(|e| draw_error(tmp, e))?;
    Ok(())
}

fn draw_svg(figure: &impl Figure) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, figure.size()).into_drawing_area();
        figure.draw(&root).map_err(|e| draw_error("<svg>", e))?;
        root.present().map_err(|e| draw_error("<svg>", e))?;
    }
    Ok(svg)
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn draw_error(path: impl AsRef<Path>, e: impl std::fmt::Display) -> Error {
    Error::io(
        path,
        std::io::Error::other(format!("drawing the image: {e}")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_follows_the_extension() -> Result<()> {
        assert_eq!(
            ImageFormat::from_path(Path::new("a/b.PNG"))?,
            ImageFormat::Png
        );
        assert_eq!(
            ImageFormat::from_path(Path::new("b.svg"))?,
            ImageFormat::Svg
        );
        let e = ImageFormat::from_path(Path::new("b.jpg"))
            .err()
            .map(|e| e.to_string());
        let e = e.unwrap_or_default();
        assert!(
            e.contains(".jpg") && e.contains(".png") && e.contains(".svg"),
            "{e}"
        );
        Ok(())
    }
}
