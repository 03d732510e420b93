//! Sequential colour maps for heatmaps: a value in `[0, 1]` to a colour.
//!
//! Each map is a piecewise-linear ramp through nine anchor colours sampled
//! from matplotlib's maps (viridis: van der Walt and Smith, 2015; Blues and
//! Greys: ColorBrewer, Harrower and Brewer, 2003). Nine anchors keep the
//! lightness steps even enough that a linear blend between them stays
//! perceptually ordered, which is what lets a reader compare two cells.

use plotters::style::RGBColor;

/// A sequential colour map.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColorMap {
    /// Dark purple → blue → green → yellow; readable in grey and by most
    /// colour-blind readers.
    #[default]
    Viridis,
    /// White → dark blue.
    Blues,
    /// White → black; prints well.
    Greys,
}

const VIRIDIS: [u32; 9] = [
    0x440154, 0x472d7b, 0x3b528b, 0x2c728e, 0x21918c, 0x28ae80, 0x5ec962, 0xaddc30, 0xfde725,
];
const BLUES: [u32; 9] = [
    0xf7fbff, 0xdeebf7, 0xc6dbef, 0x9ecae1, 0x6baed6, 0x4292c6, 0x2171b5, 0x08519c, 0x08306b,
];
const GREYS: [u32; 9] = [
    0xffffff, 0xf0f0f0, 0xd9d9d9, 0xbdbdbd, 0x969696, 0x737373, 0x525252, 0x252525, 0x000000,
];

impl ColorMap {
    fn anchors(self) -> &'static [u32; 9] {
        match self {
            ColorMap::Viridis => &VIRIDIS,
            ColorMap::Blues => &BLUES,
            ColorMap::Greys => &GREYS,
        }
    }

    /// The colour of `t`, clamped to `[0, 1]`; NaN maps to the low end.
    pub fn color(self, t: f64) -> RGBColor {
        let anchors = self.anchors();
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        let pos = t * (anchors.len() - 1) as f64;
        let i = (pos.floor() as usize).min(anchors.len() - 2);
        let f = pos - i as f64;
        let (a, b) = (rgb(anchors[i]), rgb(anchors[i + 1]));
        let mix = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * f).round() as u8;
        RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }

    /// Whether text on a cell of value `t` should be dark (the cell is light).
    pub fn wants_dark_text(self, t: f64) -> bool {
        let RGBColor(r, g, b) = self.color(t);
        // Relative luminance (ITU-R BT.709 weights) on the sRGB values is
        // close enough to decide between black and white text.
        0.2126 * r as f64 + 0.7152 * g as f64 + 0.0722 * b as f64 > 140.0
    }
}

fn rgb(hex: u32) -> (u8, u8, u8) {
    ((hex >> 16) as u8, (hex >> 8) as u8, hex as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_hit_the_anchors_and_middle_interpolates() {
        assert_eq!(ColorMap::Viridis.color(0.0), RGBColor(0x44, 0x01, 0x54));
        assert_eq!(ColorMap::Viridis.color(1.0), RGBColor(0xfd, 0xe7, 0x25));
        assert_eq!(ColorMap::Viridis.color(0.5), RGBColor(0x21, 0x91, 0x8c));
        assert_eq!(ColorMap::Greys.color(2.0), RGBColor(0, 0, 0));
        assert_eq!(ColorMap::Greys.color(f64::NAN), RGBColor(255, 255, 255));
        // Halfway between the first two Greys anchors.
        assert_eq!(ColorMap::Greys.color(1.0 / 16.0), RGBColor(248, 248, 248));
    }

    #[test]
    fn text_contrast_flips_with_lightness() {
        assert!(!ColorMap::Viridis.wants_dark_text(0.0));
        assert!(ColorMap::Viridis.wants_dark_text(1.0));
        assert!(ColorMap::Blues.wants_dark_text(0.0));
        assert!(!ColorMap::Blues.wants_dark_text(1.0));
    }
}
