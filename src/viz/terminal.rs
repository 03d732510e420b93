//! Attention matrices as plain text, for `--show-attention` in a terminal.
//!
//! The layout of [`super::heatmap`] in characters: source tokens as column
//! headers, one line per output token, each weight as a number with two
//! decimals or as a shade block (`░▒▓█`). Columns are as wide as their token
//! (within bounds; longer tokens are cut with `…`), and a source too long
//! for the terminal is split into blocks of columns, the way numpy prints a
//! wide array, rather than wrapping lines mid-row.

use std::fmt::Write;
use std::ops::Range;

use super::attention::AttentionMap;

/// What each cell of the text matrix shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TextCells {
    /// The weight with two decimals (`0.42`); `·` where it rounds to 0.00.
    #[default]
    Numbers,
    /// A block whose density follows the weight on a 0–1 scale: blank below
    /// 0.1, then `░` `▒` `▓` `█` from 0.1, 0.3, 0.5 and 0.75.
    Shades,
}

/// How the text matrix is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TextStyle {
    /// What each cell shows.
    pub cells: TextCells,
    /// Widest line, in characters (at least 40 is used); wider sources are
    /// split into blocks of columns.
    pub width: usize,
}

impl Default for TextStyle {
    fn default() -> Self {
        TextStyle {
            cells: TextCells::Numbers,
            width: 100,
        }
    }
}

/// Column bounds, in characters: wide enough for `0.00`, narrow enough that
/// a long word does not push every other column off the screen.
const MIN_COL: usize = 4;
const MAX_COL: usize = 10;
const MAX_ROW_LABEL: usize = 16;

/// Renders `map` as numbers, at most 100 characters wide.
pub fn render_attention_text(map: &AttentionMap) -> String {
    render_attention_text_with(map, &TextStyle::default())
}

/// Renders `map` as text in `style`. Every line ends with `\n`.
pub fn render_attention_text_with(map: &AttentionMap, style: &TextStyle) -> String {
    let width = style.width.max(40);
    let headers: Vec<String> = map.source().iter().map(|t| cut(t, MAX_COL)).collect();
    let cols: Vec<usize> = headers.iter().map(|h| len(h).max(MIN_COL)).collect();
    let labels: Vec<String> = map.output().iter().map(|t| cut(t, MAX_ROW_LABEL)).collect();
    let label_w = labels.iter().map(|l| len(l)).max().unwrap_or(0).max(1);

    let mut out = String::new();
    if headers.is_empty() {
        out.push_str("(no source tokens)\n");
        return out;
    }
    // Two blanks between columns read best; one is still clear, and worth
    // it when it saves splitting the matrix.
    let room = width - label_w - 3;
    let (gap, blocks) = [2, 1]
        .map(|gap| (gap, blocks(&cols, room, gap)))
        .into_iter()
        .min_by_key(|(gap, b)| (b.len(), std::cmp::Reverse(*gap)))
        .unwrap_or((2, vec![0..cols.len()]));
    for (block_no, block) in blocks.iter().enumerate() {
        if block_no > 0 {
            out.push('\n');
        }
        if block.len() < cols.len() {
            let _ = match block.len() {
                1 => writeln!(out, "source token {} of {}", block.end, cols.len()),
                _ => writeln!(
                    out,
                    "source tokens {}–{} of {}",
                    block.start + 1,
                    block.end,
                    cols.len()
                ),
            };
        }
        let mut line = format!("{:label_w$} │", "");
        for j in block.clone() {
            let _ = write!(line, " {:w$}", headers[j], w = cols[j] + gap - 1);
        }
        push_line(&mut out, &line);
        let rule_w: usize = block.clone().map(|j| cols[j] + gap).sum();
        let _ = writeln!(out, "{}┼{}", "─".repeat(label_w + 1), "─".repeat(rule_w));
        if labels.is_empty() {
            let _ = writeln!(out, "{:label_w$} │ (no output tokens)", "");
        }
        for (label, row) in labels.iter().zip(map.weights()) {
            let mut line = format!("{label:label_w$} │");
            for j in block.clone() {
                let cell = match style.cells {
                    TextCells::Numbers => number(row[j]),
                    TextCells::Shades => shade(row[j]).to_string().repeat(cols[j]),
                };
                let _ = write!(line, " {cell:w$}", w = cols[j] + gap - 1);
            }
            push_line(&mut out, &line);
        }
    }
    out
}

/// Splits columns into consecutive runs that fit in `room` characters, as
/// few runs as possible and as even in length as possible (14 columns as
/// 7 + 7, not 13 + 1); a run holds at least one column, however wide.
fn blocks(cols: &[usize], room: usize, gap: usize) -> Vec<Range<usize>> {
    let fits = |r: &Range<usize>| {
        r.len() == 1 || cols[r.clone()].iter().map(|w| w + gap).sum::<usize>() <= room
    };
    let n = cols.len();
    for k in 1..n {
        let even: Vec<Range<usize>> = (0..k).map(|i| i * n / k..(i + 1) * n / k).collect();
        if even.iter().all(fits) {
            return even;
        }
    }
    (0..n).map(|j| j..j + 1).collect()
}

/// Appends `line` without trailing blanks (padding of the last column).
fn push_line(out: &mut String, line: &str) {
    out.push_str(line.trim_end());
    out.push('\n');
}

/// Two decimals; `·` for weights that would print as 0.00, so the peaks
/// stand out of the noise.
fn number(w: f32) -> String {
    match w {
        w if w.abs() < 0.005 => "·".to_string(),
        w if w.is_finite() => format!("{w:.2}"),
        _ => "nan".to_string(),
    }
}

fn shade(w: f32) -> char {
    match w {
        w if w >= 0.75 => '█',
        w if w >= 0.5 => '▓',
        w if w >= 0.3 => '▒',
        w if w >= 0.1 => '░',
        // Small, negative and NaN weights alike show as nothing.
        _ => ' ',
    }
}

/// Width of `s` in characters (tokens are words; wide CJK glyphs count as one).
fn len(s: &str) -> usize {
    s.chars().count()
}

/// `s` cut to `max` characters, the last of them `…` when anything was cut.
fn cut(s: &str, max: usize) -> String {
    if len(s) <= max {
        s.to_string()
    } else {
        s.chars()
            .take(max - 1)
            .chain(std::iter::once('…'))
            .collect()
    }
}
