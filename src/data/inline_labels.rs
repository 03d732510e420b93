//! Labelled lines that carry their labels inline: `label text`, the layout
//! of the sentence-classification sets of Kim (2014) (SST-1/2, MR, Subj)
//! and of TREC-style data, and fastText's `__label__X [__label__Y …] text`,
//! where every token with the `__label__` prefix is a label wherever it
//! stands (as fastText reads it) and the other tokens are the text.
//!
//! Rows stream through [`TextLines`], so a file is never held whole, broken
//! UTF-8 and binary data are errors naming the line, and a row without a
//! label or without text is skipped (and listed) or an error, as
//! [`BadRows`] says, like the CSV/TSV reader's bad rows.

use std::io::BufRead;

use serde::{Deserialize, Serialize};

use super::labelled::{BadRows, SkippedRow};
use super::source::TextLines;
use crate::error::{Error, Result, Source, excerpt};

/// fastText's label prefix.
pub const FASTTEXT_PREFIX: &str = "__label__";

/// Where a line's labels are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InlineFormat {
    /// The first whitespace-separated token is the label, the rest the text.
    LabelFirst,
    /// Tokens starting with `__label__` are labels (one or more), the rest the text.
    FastText,
}

/// One labelled line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InlineExample {
    /// The labels, in the order written (one for `label text` lines).
    pub labels: Vec<String>,
    /// The text, its tokens joined by single spaces.
    pub text: String,
    /// The 1-based line it came from.
    pub line: usize,
}

impl InlineExample {
    /// The text and its first label: what a single-label classifier trains
    /// and is scored on (fastText's several labels beyond the first are dropped).
    pub fn into_first_label(self) -> (String, String) {
        let label = self.labels.into_iter().next().unwrap_or_default();
        (self.text, label)
    }
}

/// A file's labelled lines and the lines left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InlineRows {
    /// The examples, in file order.
    pub examples: Vec<InlineExample>,
    /// Lines without a label or without text (none under [`BadRows::Error`]).
    pub skipped: Vec<SkippedRow>,
}

/// The labels and text of one line, or what is wrong with it.
pub fn parse_inline(
    line: &str,
    format: InlineFormat,
) -> std::result::Result<(Vec<String>, String), String> {
    match format {
        InlineFormat::LabelFirst => {
            let trimmed = line.trim_start();
            let Some((label, text)) = trimmed.split_once(char::is_whitespace) else {
                return Err(if trimmed.is_empty() {
                    "empty line, expected `label text`".into()
                } else {
                    format!(
                        "only a label (`{}`), expected `label text`",
                        excerpt(trimmed.trim_end())
                    )
                });
            };
            let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
            if text.is_empty() {
                return Err(format!(
                    "only a label (`{}`), expected `label text`",
                    excerpt(label)
                ));
            }
            Ok((vec![label.to_string()], text))
        }
        InlineFormat::FastText => {
            let mut labels = Vec::new();
            let mut words = Vec::new();
            for token in line.split_whitespace() {
                match token.strip_prefix(FASTTEXT_PREFIX) {
                    Some("") => {
                        return Err(format!("`{FASTTEXT_PREFIX}` without a label name"));
                    }
                    Some(label) => labels.push(label.to_string()),
                    None => words.push(token),
                }
            }
            if labels.is_empty() {
                return Err(format!(
                    "no label, expected `{FASTTEXT_PREFIX}X text` (fastText's format)"
                ));
            }
            if words.is_empty() {
                return Err("labels but no text".into());
            }
            Ok((labels, words.join(" ")))
        }
    }
}

/// Reads every labelled line of `r`; a line without a label or text is
/// skipped (and listed) or ends the read with an error naming it, as `bad`
/// says. Broken UTF-8, NUL bytes and an empty stream are errors either way.
pub fn read_inline(r: impl BufRead, format: InlineFormat, bad: BadRows) -> Result<InlineRows> {
    let expected = match format {
        InlineFormat::LabelFirst => "`label text` lines",
        InlineFormat::FastText => "fastText `__label__X text` lines",
    };
    let mut rows = InlineRows::default();
    for (index, item) in TextLines::new(r, expected).enumerate() {
        let (line, text) = item?;
        match parse_inline(&text, format) {
            Ok((labels, text)) => rows.examples.push(InlineExample { labels, text, line }),
            Err(reason) => match bad {
                BadRows::Error => {
                    return Err(Error::format(Source::stream(), Some(line), reason));
                }
                BadRows::Skip => rows.skipped.push(SkippedRow {
                    index,
                    line: Some(line),
                    reason,
                }),
            },
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_first_lines_split_at_the_first_space() {
        let (l, t) =
            parse_inline("1 a  gripping , funny film\t.", InlineFormat::LabelFirst).unwrap();
        assert_eq!(
            (l, t.as_str()),
            (vec!["1".to_string()], "a gripping , funny film .")
        );
        let (l, _) = parse_inline("NUM:date when was it ?", InlineFormat::LabelFirst).unwrap();
        assert_eq!(l, ["NUM:date"]);
        assert!(
            parse_inline("1", InlineFormat::LabelFirst)
                .unwrap_err()
                .contains("only a label")
        );
        assert!(parse_inline("1   ", InlineFormat::LabelFirst).is_err());
        assert!(
            parse_inline("", InlineFormat::LabelFirst)
                .unwrap_err()
                .contains("empty")
        );
    }

    #[test]
    fn fasttext_labels_are_every_prefixed_token() {
        let (l, t) = parse_inline(
            "__label__sauce __label__cheese How much does potato starch __label__x affect",
            InlineFormat::FastText,
        )
        .unwrap();
        assert_eq!(l, ["sauce", "cheese", "x"]);
        assert_eq!(t, "How much does potato starch affect");
        assert!(
            parse_inline("no label here", InlineFormat::FastText)
                .unwrap_err()
                .contains("no label")
        );
        assert!(
            parse_inline("__label__a", InlineFormat::FastText)
                .unwrap_err()
                .contains("no text")
        );
        assert!(parse_inline("__label__ text", InlineFormat::FastText).is_err());
    }

    #[test]
    fn a_file_reads_with_line_numbers_and_bad_lines_are_skipped_or_errors() {
        let data = "0 bad movie\n1\n1 good movie\n";
        let rows = read_inline(data.as_bytes(), InlineFormat::LabelFirst, BadRows::Skip).unwrap();
        let got: Vec<(&str, &str, usize)> = rows
            .examples
            .iter()
            .map(|e| (e.labels[0].as_str(), e.text.as_str(), e.line))
            .collect();
        assert_eq!(got, [("0", "bad movie", 1), ("1", "good movie", 3)]);
        assert_eq!(rows.skipped.len(), 1);
        assert_eq!(rows.skipped[0].line, Some(2));
        let e = read_inline(data.as_bytes(), InlineFormat::LabelFirst, BadRows::Error).unwrap_err();
        assert!(e.to_string().contains(":2: only a label"), "{e}");
    }

    #[test]
    fn latin1_bytes_and_binary_data_are_errors_naming_the_line() {
        let latin1: &[u8] = b"1 fine\n0 caf\xe9 au lait\n";
        let e = read_inline(latin1, InlineFormat::LabelFirst, BadRows::Skip).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains(":2: invalid UTF-8"), "{msg}");
        let e = read_inline(&b"1 a\0b\n"[..], InlineFormat::LabelFirst, BadRows::Skip).unwrap_err();
        assert!(e.to_string().contains("NUL"), "{e}");
        assert!(read_inline(&b""[..], InlineFormat::FastText, BadRows::Skip).is_err());
    }

    #[test]
    fn the_shared_sentence_sets_read_without_a_bad_line() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/sentences");
        for (file, rows, classes) in [("sst2.dev.txt.gz", 872, 2), ("sst1.dev.txt.gz", 1101, 5)] {
            let path = dir.join(file);
            let r = crate::data::open(&path).unwrap();
            let got = read_inline(r, InlineFormat::LabelFirst, BadRows::Error).unwrap();
            assert_eq!(got.examples.len(), rows, "{file}");
            let mut labels: Vec<&str> = got.examples.iter().map(|e| e.labels[0].as_str()).collect();
            labels.sort_unstable();
            labels.dedup();
            assert_eq!(labels.len(), classes, "{file}: {labels:?}");
        }
    }
}
