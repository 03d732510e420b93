//! Attention heatmaps as PNG or SVG, like the PyTorch seq2seq tutorial's
//! `showAttention` (after Bahdanau et al., 2015, Fig. 3), laid out for reading.
//!
//! Source tokens run along the top, rotated to read upwards; output tokens
//! run down the left; one square cell per weight, coloured by a perceptual
//! sequential map ([`ColorMap`]), with the value written in the cell when the
//! cell is big enough, and a colour bar on the right. The cell size follows
//! the token counts within fixed bounds, and the image size follows the cells
//! and the measured label widths, so a long sentence gets a bigger picture
//! rather than overlapping labels.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::attention::AttentionMap;
use super::colormap::ColorMap;
use super::font::{FAMILY, text_size};
use super::output::{DrawResult, Figure, save};
use crate::Result;

/// What the colour scale spans.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColorRange {
    /// 0 to 1: attention weights are probabilities, and pictures of different
    /// sentences compare directly.
    #[default]
    Unit,
    /// 0 to the largest weight in the map: more contrast for diffuse attention.
    Max,
}

/// How a heatmap looks.
#[derive(Clone, Debug, PartialEq)]
pub struct HeatmapStyle {
    /// Title above the picture; `None` writes the source sentence.
    pub title: Option<String>,
    /// Colour map of the cells and the colour bar.
    pub colormap: ColorMap,
    /// What the colour scale spans.
    pub range: ColorRange,
    /// Write each weight in its cell, where cells are big enough to hold it.
    pub annotate: bool,
    /// Cell side in pixels (clamped to 12..=96); `None` sizes cells from the
    /// token counts.
    pub cell_px: Option<u32>,
}

impl Default for HeatmapStyle {
    fn default() -> Self {
        HeatmapStyle {
            title: None,
            colormap: ColorMap::default(),
            range: ColorRange::default(),
            annotate: true,
            cell_px: None,
        }
    }
}

/// Draws `map` to `path`: PNG for `.png`, SVG for `.svg` (any other extension
/// is an [`crate::Error::Config`]), written atomically.
pub fn plot_attention(path: &Path, map: &AttentionMap, style: &HeatmapStyle) -> Result<()> {
    save(path, &Heatmap::new(map, style))
}

const MARGIN: u32 = 16;
const TITLE_PX: f64 = 18.0;
/// Automatic cells aim at a grid this many pixels along its longer side…
const TARGET_GRID: u32 = 560;
/// …within these bounds: small enough for short sentences to stay compact,
/// big enough for a rotated label to fit in a column.
const MIN_CELL: u32 = 20;
const MAX_CELL: u32 = 44;
/// Cells at least this big get their value written in them.
const ANNOTATE_CELL: u32 = 30;
/// Longer tokens are cut with an ellipsis so one odd token cannot eat the image.
const MAX_LABEL_CHARS: usize = 24;
const BAR_W: u32 = 16;
const BAR_GAP: u32 = 20;
const MIN_BAR_H: u32 = 120;
const TICK_LEN: u32 = 4;
const MIN_WIDTH: u32 = 360;
/// A long title widens a small picture up to this width, and is cut beyond it.
const MAX_TITLE_WIDTH: u32 = 1000;
const NAN_COLOR: RGBColor = RGBColor(0xdd, 0xdd, 0xdd);
const FRAME: RGBColor = RGBColor(0x80, 0x80, 0x80);
const TEXT: RGBColor = RGBColor(0x20, 0x20, 0x20);

/// A map with its layout worked out, ready to draw on any backend.
struct Heatmap<'a> {
    map: &'a AttentionMap,
    style: &'a HeatmapStyle,
    title: String,
    x_labels: Vec<String>,
    y_labels: Vec<String>,
    cell: u32,
    label_px: f64,
    /// Top-left corner of the grid.
    grid: (i32, i32),
    /// Top-left corner and height of the colour bar.
    bar: (i32, i32, u32),
    /// Top value of the colour scale.
    vmax: f32,
    size: (u32, u32),
}

impl<'a> Heatmap<'a> {
    fn new(map: &'a AttentionMap, style: &'a HeatmapStyle) -> Self {
        let (n_src, n_out) = (map.source().len() as u32, map.output().len() as u32);
        let cell = match style.cell_px {
            Some(c) => c.clamp(12, 96),
            None => (TARGET_GRID / n_src.max(n_out).max(1)).clamp(MIN_CELL, MAX_CELL),
        };
        // Labels scale with the cell so a rotated label never overflows its column.
        let label_px = (cell as f64 * 0.62).clamp(11.0, 15.0);
        let x_labels: Vec<String> = map.source().iter().map(|t| shorten(t)).collect();
        let y_labels: Vec<String> = map.output().iter().map(|t| shorten(t)).collect();
        let widest = |labels: &[String]| {
            labels
                .iter()
                .map(|l| text_size(l, label_px).0)
                .max()
                .unwrap_or(0)
        };
        let title = style
            .title
            .clone()
            .unwrap_or_else(|| map.source().join(" "));
        let title_h = if title.is_empty() {
            0
        } else {
            text_size("Ag", TITLE_PX).1 + 14
        };
        let y_labels_w = widest(&y_labels) + 10;
        let grid_y = MARGIN + title_h + widest(&x_labels) + 10;
        let (grid_w, grid_h) = (n_src * cell, n_out * cell);
        let bar_h = grid_h.max(MIN_BAR_H);
        let tick_w = text_size("0.00", label_px).0;
        let content_w = y_labels_w + grid_w + BAR_GAP + BAR_W + TICK_LEN + 4 + tick_w;
        let title_w = text_size(&title, TITLE_PX).0;
        let width = (content_w + 2 * MARGIN)
            .max(MIN_WIDTH)
            .max((title_w + 2 * MARGIN).min(MAX_TITLE_WIDTH));
        // A picture widened for its title or the minimum width keeps its
        // content centred under the title.
        let grid_x = (width - content_w) / 2 + y_labels_w;
        let bar_x = grid_x + grid_w + BAR_GAP;
        let height = grid_y + grid_h.max(bar_h) + MARGIN + label_px as u32 / 2;
        let vmax = match style.range {
            ColorRange::Unit => 1.0,
            ColorRange::Max => match map.max_weight() {
                m if m > 0.0 => m,
                _ => 1.0,
            },
        };
        Heatmap {
            map,
            style,
            title: fit(&title, TITLE_PX, width - 2 * MARGIN),
            x_labels,
            y_labels,
            cell,
            label_px,
            grid: (grid_x as i32, grid_y as i32),
            bar: (bar_x as i32, grid_y as i32, bar_h),
            vmax,
            size: (width, height),
        }
    }

    fn label_style(&self, h: HPos, v: VPos) -> TextStyle<'static> {
        (FAMILY, self.label_px)
            .into_font()
            .color(&TEXT)
            .pos(Pos::new(h, v))
    }

    fn draw_cells<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let (gx, gy) = self.grid;
        let c = self.cell as i32;
        let annotate = self.style.annotate && self.cell >= ANNOTATE_CELL;
        let value_px = (self.cell as f64 * 0.32).clamp(10.0, 13.0);
        for (i, row) in self.map.weights().iter().enumerate() {
            for (j, &w) in row.iter().enumerate() {
                let (x, y) = (gx + j as i32 * c, gy + i as i32 * c);
                let t = (w / self.vmax) as f64;
                let fill = if w.is_finite() {
                    self.style.colormap.color(t)
                } else {
                    NAN_COLOR
                };
                // One pixel short on each side leaves a hairline of
                // background between cells, so neighbours stay distinct.
                root.draw(&Rectangle::new(
                    [(x, y), (x + c - 1, y + c - 1)],
                    fill.filled(),
                ))?;
                // Leaving near-zero cells blank lets the peaks stand out.
                let near_zero = w.abs() < 0.005;
                if annotate && !near_zero {
                    let dark = !w.is_finite() || self.style.colormap.wants_dark_text(t);
                    let ink = if dark { BLACK } else { WHITE };
                    let style = (FAMILY, value_px)
                        .into_font()
                        .color(&ink)
                        .pos(Pos::new(HPos::Center, VPos::Center));
                    let text = if w.is_finite() {
                        format!("{w:.2}")
                    } else {
                        "nan".to_string()
                    };
                    root.draw_text(&text, &style, (x + c / 2, y + c / 2))?;
                }
            }
        }
        Ok(())
    }

    fn draw_labels<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let (gx, gy) = self.grid;
        let c = self.cell as i32;
        if !self.title.is_empty() {
            let style = (FAMILY, TITLE_PX)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Top));
            root.draw_text(&self.title, &style, (self.size.0 as i32 / 2, MARGIN as i32))?;
        }
        // Rotated to read upwards, starting just above the grid, centred on the column.
        let up = self
            .label_style(HPos::Left, VPos::Center)
            .transform(FontTransform::Rotate270);
        for (j, label) in self.x_labels.iter().enumerate() {
            root.draw_text(label, &up, (gx + j as i32 * c + c / 2, gy - 6))?;
        }
        let left = self.label_style(HPos::Right, VPos::Center);
        for (i, label) in self.y_labels.iter().enumerate() {
            root.draw_text(label, &left, (gx - 8, gy + i as i32 * c + c / 2))?;
        }
        Ok(())
    }

    fn draw_color_bar<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let (bx, by, bh) = self.bar;
        let w = BAR_W as i32;
        // One band per pixel row: a smooth ramp in the PNG, and in the SVG
        // still only a few hundred rectangles.
        for r in 0..bh {
            let t = 1.0 - (r as f64 + 0.5) / bh as f64;
            let y = by + r as i32;
            root.draw(&Rectangle::new(
                [(bx, y), (bx + w, y + 1)],
                self.style.colormap.color(t).filled(),
            ))?;
        }
        root.draw(&Rectangle::new(
            [(bx, by), (bx + w, by + bh as i32)],
            FRAME.stroke_width(1),
        ))?;
        let ticks = self.label_style(HPos::Left, VPos::Center);
        for k in 0..=4 {
            let frac = k as f64 / 4.0;
            let y = by + bh as i32 - (frac * bh as f64).round() as i32;
            let x = bx + w;
            root.draw(&PathElement::new(
                vec![(x, y), (x + TICK_LEN as i32, y)],
                FRAME.stroke_width(1),
            ))?;
            let value = frac * self.vmax as f64;
            root.draw_text(&format!("{value:.2}"), &ticks, (x + TICK_LEN as i32 + 4, y))?;
        }
        Ok(())
    }
}

impl Figure for Heatmap<'_> {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        self.draw_cells(root)?;
        self.draw_labels(root)?;
        self.draw_color_bar(root)
    }
}

/// `token` cut to [`MAX_LABEL_CHARS`] with an ellipsis.
fn shorten(token: &str) -> String {
    if token.chars().count() <= MAX_LABEL_CHARS {
        token.to_string()
    } else {
        let mut s: String = token.chars().take(MAX_LABEL_CHARS - 1).collect();
        s.push('…');
        s
    }
}

/// `text` cut with an ellipsis until it is at most `max_w` pixels wide.
fn fit(text: &str, px: f64, max_w: u32) -> String {
    if text_size(text, px).0 <= max_w {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut n = chars.len();
    while n > 0 {
        n -= 1;
        let cut: String = chars[..n].iter().collect::<String>() + "…";
        if text_size(&cut, px).0 <= max_w {
            return cut;
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    fn toks(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn diagonal(src: &str, out: &str) -> Result<AttentionMap> {
        let (s, o) = (toks(src), toks(out));
        let w = (0..o.len())
            .map(|i| {
                (0..s.len())
                    .map(|j| if i == j { 0.9 } else { 0.01 })
                    .collect()
            })
            .collect();
        AttentionMap::new(s, o, w)
    }

    fn png_size(bytes: &[u8]) -> (u32, u32) {
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&bytes[12..16], b"IHDR");
        let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        (be(&bytes[16..20]), be(&bytes[20..24]))
    }

    #[test]
    fn png_has_the_laid_out_size_and_grows_with_the_sentence() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tmp", e))?;
        let style = HeatmapStyle::default();
        let short = diagonal("je suis là . <eos>", "i m here . <eos>")?;
        let path = dir.path().join("short.png");
        plot_attention(&path, &short, &style)?;
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let (w, h) = png_size(&bytes);
        assert_eq!((w, h), Heatmap::new(&short, &style).size);
        assert!(w >= MIN_WIDTH && h > 5 * MAX_CELL, "{w}x{h}");

        let words: Vec<String> = (0..60).map(|i| format!("word{i}")).collect();
        let long = diagonal(&words.join(" "), &words[..50].join(" "))?;
        let path = dir.path().join("long.png");
        plot_attention(&path, &long, &style)?;
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let (lw, lh) = png_size(&bytes);
        // Cells shrink but stay at least MIN_CELL, so the image grows instead.
        assert!(lw >= 60 * MIN_CELL && lh >= 50 * MIN_CELL, "{lw}x{lh}");
        // Written atomically: nothing but the two pictures is left behind.
        let names = std::fs::read_dir(dir.path()).map_err(|e| Error::io("tmp", e))?;
        assert_eq!(names.count(), 2);
        Ok(())
    }

    #[test]
    fn svg_has_tokens_title_and_color_bar() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tmp", e))?;
        let map = diagonal("il a froid <eos>", "he is cold <eos>")?;
        let path = dir.path().join("attn.svg");
        let style = HeatmapStyle {
            range: ColorRange::Max,
            ..HeatmapStyle::default()
        };
        plot_attention(&path, &map, &style)?;
        let svg = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        assert!(svg.starts_with("<svg"));
        for token in ["il", "froid", "he", "cold", "&lt;eos&gt;"] {
            assert!(svg.contains(&format!("\n{token}\n")), "{token} missing");
        }
        assert!(svg.contains("il a froid &lt;eos&gt;"), "default title");
        // The bar: its tick labels (0 to the largest weight) and one band per pixel row.
        assert!(svg.contains("\n0.00\n") && svg.contains("\n0.90\n"));
        let (_, _, bar_h) = Heatmap::new(&map, &style).bar;
        assert!(svg.matches("<rect").count() >= 16 + bar_h as usize);
        Ok(())
    }

    #[test]
    fn other_extensions_are_refused_before_drawing() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tmp", e))?;
        let map = diagonal("a b", "x y")?;
        for name in ["attn.jpg", "attn"] {
            let path = dir.path().join(name);
            let r = plot_attention(&path, &map, &HeatmapStyle::default());
            assert!(
                matches!(&r, Err(Error::Config(m)) if m.contains(".png") && m.contains(".svg")),
                "{r:?}"
            );
            assert!(!path.exists());
        }
        Ok(())
    }

    #[test]
    fn empty_maps_still_draw() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tmp", e))?;
        let no_output = AttentionMap::new(toks("a b <eos>"), vec![], vec![])?;
        let nothing = AttentionMap::new(vec![], vec![], vec![])?;
        for (i, map) in [no_output, nothing].iter().enumerate() {
            for ext in ["png", "svg"] {
                let path = dir.path().join(format!("empty{i}.{ext}"));
                plot_attention(&path, map, &HeatmapStyle::default())?;
                assert!(path.exists());
            }
        }
        Ok(())
    }

    #[test]
    fn long_titles_and_tokens_are_cut() {
        let fitted = fit(&"word ".repeat(100), TITLE_PX, 300);
        assert!(fitted.ends_with('…') && text_size(&fitted, TITLE_PX).0 <= 300);
        assert_eq!(fit("short", TITLE_PX, 300), "short");
        let cut = shorten(&"x".repeat(40));
        assert_eq!(cut.chars().count(), MAX_LABEL_CHARS);
        assert!(cut.ends_with('…'));
    }
}
