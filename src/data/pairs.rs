//! Sentence-pair TSV: `source<TAB>target` per line, as in the PyTorch
//! seq2seq lesson's `eng-fra.txt`. Columns after the second are ignored;
//! blank lines are skipped (the lesson strips the file before splitting it).

use std::io::BufRead;
use std::path::Path;

use super::source::{TextLines, open};
use crate::error::{Error, Result, Source};

/// One sentence pair, in file order (for eng-fra: English, then French).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    /// First column.
    pub src: String,
    /// Second column.
    pub tgt: String,
}

impl Pair {
    /// A pair from two strings.
    pub fn new(src: impl Into<String>, tgt: impl Into<String>) -> Self {
        Pair {
            src: src.into(),
            tgt: tgt.into(),
        }
    }

    /// The pair with its sides swapped (the lesson's `reverse=True`).
    pub fn reversed(self) -> Self {
        Pair {
            src: self.tgt,
            tgt: self.src,
        }
    }
}

/// Streams the pairs of a TSV stream (see [`reader`]).
pub struct PairReader<R> {
    lines: TextLines<R>,
}

/// Pairs of a `source<TAB>target` stream. A non-blank line without a tab is a
/// [`Error::Format`] with its line number.
pub fn reader<R: BufRead>(r: R) -> PairReader<R> {
    PairReader {
        lines: TextLines::new(r, "sentence pairs `source<TAB>target`"),
    }
}

impl<R: BufRead> Iterator for PairReader<R> {
    type Item = Result<Pair>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (line_no, line) = match self.lines.next()? {
                Ok(l) => l,
                Err(e) => return Some(Err(e)),
            };
            if line.trim().is_empty() {
                continue;
            }
            let mut cols = line.split('\t');
            let src = cols.next().unwrap_or_default();
            return Some(match cols.next() {
                Some(tgt) => Ok(Pair::new(src, tgt)),
                None => Err(Error::format(
                    Source::stream(),
                    Some(line_no),
                    "expected two tab-separated columns (source<TAB>target), found no tab",
                )),
            });
        }
    }
}

/// Reads every pair of the file at `path` (gzip or plain).
pub fn read_pairs(path: &Path) -> Result<Vec<Pair>> {
    reader(open(path)?)
        .collect::<Result<Vec<_>>>()
        .map_err(|e| e.at_path(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pairs_ignoring_extra_columns_and_blank_lines() {
        let data = "Go.\tVa !\n\nHi.\tSalut !\tCC-BY\r\n";
        let got: Vec<Pair> = reader(data.as_bytes()).map(|p| p.unwrap()).collect();
        assert_eq!(got, [Pair::new("Go.", "Va !"), Pair::new("Hi.", "Salut !")]);
        assert_eq!(got[0].clone().reversed(), Pair::new("Va !", "Go."));
    }

    #[test]
    fn line_without_tab_names_the_line() {
        let data = "Go.\tVa !\nRun! Cours !\n";
        let e = reader(data.as_bytes())
            .collect::<Result<Vec<_>>>()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "<input>:2: expected two tab-separated columns (source<TAB>target), found no tab"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.tsv");
        std::fs::write(&path, data).unwrap();
        let e = read_pairs(&path).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{}:2: expected two", path.display())),
            "{e}"
        );
    }
}
