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
    let wide = blocks(&cols, room, 2);
    let (gap, runs) = match blocks(&cols, room, 1) {
        tight if tight.len() < wide.len() => (1, tight),
        _ => (2, wide),
    };
    for (block_no, block) in runs.iter().enumerate() {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Result;

    fn toks(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn uniform(n_src: usize, out: &str) -> Result<AttentionMap> {
        let src: Vec<String> = (0..n_src).map(|i| format!("s{i}")).collect();
        let out = toks(out);
        let w = vec![vec![1.0 / n_src as f32; n_src]; out.len()];
        AttentionMap::new(src, out, w)
    }

    /// The cells of a matrix line: what follows the `│`.
    fn cells(line: &str) -> Vec<&str> {
        line.split('│')
            .nth(1)
            .unwrap_or("")
            .split_whitespace()
            .collect()
    }

    #[test]
    fn one_line_per_output_token_one_column_per_source_token() -> Result<()> {
        let map = AttentionMap::new(
            toks("je suis content <eos>"),
            toks("i am happy <eos>"),
            vec![
                vec![0.9, 0.05, 0.05, 0.0],
                vec![0.1, 0.8, 0.1, 0.0],
                vec![0.0, 0.1, 0.85, 0.05],
                vec![0.0, 0.0, 0.123, 0.877],
            ],
        )?;
        let text = render_attention_text(&map);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2 + 4, "{text}");
        assert_eq!(cells(lines[0]), ["je", "suis", "content", "<eos>"]);
        assert!(lines[1].starts_with("──") && lines[1].contains('┼'));
        assert!(lines[2].starts_with("i "));
        assert_eq!(cells(lines[2]), ["0.90", "0.05", "0.05", "·"]);
        assert_eq!(cells(lines[5]), ["·", "·", "0.12", "0.88"]);
        // Columns line up: each value starts where its header does.
        let col = |line: &str, s: &str| line.find(s).map(|b| line[..b].chars().count());
        assert_eq!(col(lines[0], "content"), col(lines[4], "0.85"));
        Ok(())
    }

    #[test]
    fn shades_follow_the_weight() -> Result<()> {
        let map = AttentionMap::new(
            toks("a b c d e"),
            toks("x"),
            vec![vec![0.05, 0.2, 0.4, 0.6, 0.9]],
        )?;
        let style = TextStyle {
            cells: TextCells::Shades,
            width: 80,
        };
        let text = render_attention_text_with(&map, &style);
        let row = text.lines().nth(2).unwrap_or("");
        assert_eq!(cells(row), ["░░░░", "▒▒▒▒", "▓▓▓▓", "████"], "{text}");
        Ok(())
    }

    #[test]
    fn long_sources_split_into_even_blocks_within_the_width() -> Result<()> {
        let map = uniform(30, "x y z")?;
        let text = render_attention_text_with(
            &map,
            &TextStyle {
                width: 60,
                ..TextStyle::default()
            },
        );
        assert!(text.lines().all(|l| l.chars().count() <= 60), "{text}");
        let headers: Vec<&str> = text
            .lines()
            .filter(|l| l.trim_start().starts_with('│'))
            .flat_map(cells)
            .collect();
        let expected: Vec<String> = (0..30).map(|i| format!("s{i}")).collect();
        assert_eq!(headers, expected);
        let notes: Vec<&str> = text.lines().filter(|l| l.starts_with("source")).collect();
        assert!(notes.len() >= 2 && notes[0].starts_with("source tokens 1–"));
        assert_eq!(blocks(&[4; 14], 45, 2), vec![0..7, 7..14]);
        assert_eq!(blocks(&[30, 4], 10, 2), vec![0..1, 1..2]);
        Ok(())
    }

    #[test]
    fn long_tokens_are_cut_and_empty_maps_say_so() -> Result<()> {
        let map = AttentionMap::new(
            vec!["anticonstitutionnellement".into()],
            vec!["unconstitutionally".into()],
            vec![vec![1.0]],
        )?;
        let text = render_attention_text(&map);
        assert!(
            text.contains("anticonst…") && text.contains("unconstitutiona…"),
            "{text}"
        );

        let no_output = AttentionMap::new(toks("a b"), vec![], vec![])?;
        let text = render_attention_text(&no_output);
        assert_eq!(text.lines().count(), 3);
        assert!(
            text.contains("(no output tokens)")
                && cells(text.lines().next().unwrap_or("")) == ["a", "b"]
        );

        let nothing = AttentionMap::new(vec![], vec![], vec![])?;
        assert_eq!(render_attention_text(&nothing), "(no source tokens)\n");
        Ok(())
    }
}
