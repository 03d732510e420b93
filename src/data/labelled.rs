//! Labelled text: one example per row of a CSV (RFC 4180 quoting, through the
//! `csv` crate) or TSV (split on tabs, quotes are ordinary characters, as in
//! the IMDB file), with or without a header. The text and label columns are
//! chosen by header name or 0-based index; several text columns are joined
//! with a space (AG News: title + description).
//!
//! ## Quoted fields
//!
//! RFC 4180 lets a quoted CSV field hold line breaks, so one stray `"` at the
//! start of a field would otherwise read the rest of the file as that field
//! (a 120-row file with a stray quote on line 61 read as 60 rows). The
//! labelled datasets hold no multi-line fields, and a real one is a few
//! lines of text, so a quoted field may span at most [`MAX_QUOTED_LINES`]
//! lines and, once it crosses a line break, hold at most
//! [`MAX_QUOTED_BYTES`]; a longer one, or one still open at the end of the
//! file, is an error naming the line where the field began, under either
//! [`BadRows`] policy: the rows it swallowed cannot be counted or skipped
//! truthfully. A quoted field on one line has no limit of its own.

use std::io::{BufRead, Read};
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::source::{open_decoded, read_error};
use crate::error::{Error, Result, Source, excerpt};

/// A column, by header name or 0-based index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Column {
    /// 0-based position.
    Index(usize),
    /// Header name (needs a header row).
    Name(String),
}

impl FromStr for Column {
    type Err = std::convert::Infallible;

    /// All digits is an index, anything else a name.
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(s.parse()
            .map_or_else(|_| Column::Name(s.to_string()), Column::Index))
    }
}

impl std::fmt::Display for Column {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Column::Index(i) => write!(f, "column {i}"),
            Column::Name(n) => write!(f, "column `{n}`"),
        }
    }
}

/// How fields are separated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Delimiter {
    /// Comma, with RFC 4180 quoting.
    Csv,
    /// Tab, no quoting.
    Tsv,
}

/// The layout of a labelled file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelledFormat {
    /// Field separator and quoting.
    pub delimiter: Delimiter,
    /// Whether the first row names the columns.
    pub header: bool,
    /// The text column(s); several are joined with one space.
    pub text: Vec<Column>,
    /// The label column.
    pub label: Column,
}

/// One labelled example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Example {
    /// The text (text columns joined with a space).
    pub text: String,
    /// The label, as written in the file.
    pub label: String,
}

/// What to do with a row that lacks a column or whose text is empty (a
/// damaged file, a stray blank row): stop, or skip it and say so. Broken
/// encodings, binary data and unreadable files are errors either way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BadRows {
    /// An error naming the line (`--strict`).
    #[default]
    Error,
    /// Left out, and listed in [`LabelledReader::skipped`].
    Skip,
}

/// A row left out under [`BadRows::Skip`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedRow {
    /// 0-based position among the file's data rows (the header not counted).
    pub index: usize,
    /// 1-based line of the file where the row starts, where known.
    pub line: Option<usize>,
    /// What is wrong with it.
    pub reason: String,
}

impl std::fmt::Display for SkippedRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "line {l}: {}", self.reason),
            None => write!(f, "row {}: {}", self.index + 1, self.reason),
        }
    }
}

/// The most lines a quoted CSV field may span (see the module docs).
pub const MAX_QUOTED_LINES: usize = 50;

/// The most bytes a quoted CSV field that crosses a line break may hold.
pub const MAX_QUOTED_BYTES: usize = 1 << 20;

/// Where the CSV parser would be in the byte stream: the same states
/// `csv_core` goes through with its defaults (comma, `"` quoting with
/// doubled quotes, any of CR, LF, CRLF ending a record).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Quoting {
    FieldStart,
    Unquoted,
    /// Inside a quoted field that began on `line`, `bytes` bytes in, at
    /// its `lines`-th line.
    Quoted {
        line: usize,
        lines: usize,
        bytes: usize,
    },
    /// Just after a `"` inside a quoted field: a second `"` is a literal
    /// quote, anything else ends the quoting.
    QuoteInQuoted {
        line: usize,
        lines: usize,
        bytes: usize,
    },
}

/// A quoted field the guard refused, carried through the CSV reader as the
/// payload of an I/O error and turned back into a format error there.
#[derive(Debug)]
struct QuoteError {
    line: usize,
    msg: String,
}

impl std::fmt::Display for QuoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for QuoteError {}

/// Follows the quoting of the bytes the CSV reader pulls and fails the read
/// at the first quoted field that runs too long or to the end of the file.
/// Watching the raw bytes is the only way to see it: the `csv` crate
/// accepts both silently.
struct QuoteGuard<R> {
    inner: R,
    /// Off for TSV, where quotes are ordinary characters.
    on: bool,
    /// Line breaks seen so far.
    newlines: usize,
    /// Whether the last byte was a CR (so a LF after it ends no new line).
    prev_cr: bool,
    state: Quoting,
}

impl<R> QuoteGuard<R> {
    fn scan(&mut self, bytes: &[u8]) -> Result<(), QuoteError> {
        use Quoting::*;
        for &b in bytes {
            let line_break = b == b'\n' || b == b'\r';
            if b == b'\n' {
                self.newlines += 1;
            }
            self.state = match self.state {
                FieldStart if b == b'"' => Quoted {
                    line: self.newlines + 1,
                    lines: 1,
                    bytes: 0,
                },
                FieldStart | Unquoted if b == b',' || line_break => FieldStart,
                FieldStart | Unquoted => Unquoted,
                Quoted { line, lines, bytes } if b == b'"' => QuoteInQuoted { line, lines, bytes },
                Quoted { line, lines, bytes } => {
                    // CRLF is one line break; a lone CR counts as one too.
                    let lines = lines + usize::from((b == b'\n' && !self.prev_cr) || b == b'\r');
                    let bytes = bytes + 1;
                    if lines > MAX_QUOTED_LINES {
                        return Err(QuoteError {
                            line,
                            msg: format!(
                                "a quoted field begins here and runs over more than {MAX_QUOTED_LINES} lines: an unmatched `\"`? (expected a closing quote)"
                            ),
                        });
                    }
                    if lines > 1 && bytes > MAX_QUOTED_BYTES {
                        return Err(QuoteError {
                            line,
                            msg: format!(
                                "a quoted field begins here and runs over {lines} lines and more than {MAX_QUOTED_BYTES} bytes: an unmatched `\"`? (expected a closing quote)"
                            ),
                        });
                    }
                    Quoted { line, lines, bytes }
                }
                QuoteInQuoted { line, lines, bytes } if b == b'"' => Quoted {
                    line,
                    lines,
                    bytes: bytes + 1,
                },
                QuoteInQuoted { .. } if b == b',' || line_break => FieldStart,
                QuoteInQuoted { .. } => Unquoted,
            };
            self.prev_cr = b == b'\r';
        }
        Ok(())
    }
}

impl<R: Read> Read for QuoteGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if !self.on {
            return Ok(n);
        }
        let invalid = |e: QuoteError| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
        if n == 0 {
            if let Quoting::Quoted { line, .. } = self.state {
                return Err(invalid(QuoteError {
                    line,
                    msg: "a quoted field begins here and is still open at the end of the file: an unmatched `\"`? (expected a closing quote)".into(),
                }));
            }
            return Ok(0);
        }
        self.scan(&buf[..n]).map_err(invalid)?;
        Ok(n)
    }
}

/// Streams the examples of a labelled file (see [`reader`]).
pub struct LabelledReader<R: BufRead> {
    csv: csv::Reader<QuoteGuard<R>>,
    text: Vec<usize>,
    label: usize,
    /// Fields a row needs to reach every chosen column.
    columns: usize,
    record: csv::StringRecord,
    rows: usize,
    done: bool,
    bad: BadRows,
    skipped: Vec<SkippedRow>,
    /// Where the last example returned began.
    line: Option<usize>,
}

/// A data row: an example, or why it is not one.
enum Row {
    Good(Example),
    Bad(Option<usize>, String),
}

/// Examples of a labelled stream. Resolves the columns first, so a column
/// name that is not in the header is an error here, before any row is read.
pub fn reader<R: BufRead>(r: R, fmt: &LabelledFormat) -> Result<LabelledReader<R>> {
    let mut b = csv::ReaderBuilder::new();
    b.has_headers(fmt.header).flexible(true);
    if fmt.delimiter == Delimiter::Tsv {
        b.delimiter(b'\t').quoting(false);
    }
    let mut csv = b.from_reader(QuoteGuard {
        inner: r,
        on: fmt.delimiter == Delimiter::Csv,
        newlines: 0,
        prev_cr: false,
        state: Quoting::FieldStart,
    });
    let header = if fmt.header {
        let h = csv.headers().map_err(csv_error)?.clone();
        if h.is_empty() || (h.len() == 1 && h[0].is_empty()) {
            return Err(empty(fmt));
        }
        Some(h)
    } else {
        None
    };
    let resolve = |c: &Column| resolve(c, header.as_ref());
    let text: Vec<usize> = fmt.text.iter().map(resolve).collect::<Result<_>>()?;
    let label = resolve(&fmt.label)?;
    Ok(LabelledReader {
        columns: text
            .iter()
            .copied()
            .chain([label])
            .max()
            .map_or(0, |m| m + 1),
        text,
        label,
        csv,
        record: csv::StringRecord::new(),
        rows: 0,
        done: false,
        bad: BadRows::Error,
        skipped: Vec::new(),
        line: None,
    })
}

fn empty(fmt: &LabelledFormat) -> Error {
    let what = match fmt.delimiter {
        Delimiter::Csv => "CSV",
        Delimiter::Tsv => "TSV",
    };
    Error::format(
        Source::stream(),
        None,
        format!("file is empty, expected labelled {what} rows"),
    )
}

fn resolve(col: &Column, header: Option<&csv::StringRecord>) -> Result<usize> {
    match (col, header) {
        (Column::Index(i), _) => Ok(*i),
        (Column::Name(n), Some(h)) => h.iter().position(|f| f == n).ok_or_else(|| {
            let names: Vec<&str> = h.iter().collect();
            Error::format(
                Source::stream(),
                Some(1),
                format!(
                    "no column `{}` in the header (columns: {})",
                    excerpt(n),
                    excerpt(&names.join(", "))
                ),
            )
        }),
        (Column::Name(n), None) => Err(Error::Config(format!(
            "column `{n}` is chosen by name, but the file has no header: use a 0-based index"
        ))),
    }
}

fn csv_error(e: csv::Error) -> Error {
    let line = e.position().map(|p| p.line() as usize);
    match e.into_kind() {
        csv::ErrorKind::Io(io) => match io.get_ref().and_then(|e| e.downcast_ref::<QuoteError>()) {
            Some(q) => Error::format(Source::stream(), Some(q.line), q.msg.clone()),
            None => read_error(io, line, "labelled text rows"),
        },
        csv::ErrorKind::Utf8 { .. } => Error::format(
            Source::stream(),
            line,
            "invalid UTF-8, expected labelled rows as UTF-8 text",
        ),
        other => Error::format(Source::stream(), line, format!("{other:?}")),
    }
}

impl<R: BufRead> LabelledReader<R> {
    /// Sets what happens to rows with a missing column or an empty text.
    pub fn bad_rows(mut self, bad: BadRows) -> Self {
        self.bad = bad;
        self
    }

    /// The rows skipped so far (under [`BadRows::Skip`]), in file order.
    pub fn skipped(&self) -> &[SkippedRow] {
        &self.skipped
    }

    /// The 1-based line where the last example returned began (its row
    /// may run over several lines), so later checks can name it.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    fn read_row(&mut self) -> Result<Option<Row>> {
        if !self.csv.read_record(&mut self.record).map_err(csv_error)? {
            return Ok(None);
        }
        self.rows += 1;
        let line = self.record.position().map(|p| p.line() as usize);
        if self.record.iter().any(|f| f.contains('\0')) {
            return Err(Error::format(
                Source::stream(),
                line,
                "NUL byte: this looks like a binary file, expected labelled text rows",
            ));
        }
        if self.record.len() < self.columns {
            let (needed, found) = (self.columns, self.record.len());
            return Ok(Some(Row::Bad(
                line,
                format!("expected at least {needed} columns, found {found}"),
            )));
        }
        let label = self.record[self.label].to_string();
        let mut text = String::new();
        for &i in &self.text {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(&self.record[i]);
        }
        if text.trim().is_empty() {
            return Ok(Some(Row::Bad(line, "empty text".into())));
        }
        self.line = line;
        Ok(Some(Row::Good(Example { text, label })))
    }
}

impl<R: BufRead> Iterator for LabelledReader<R> {
    type Item = Result<Example>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            match self.read_row() {
                Ok(Some(Row::Good(ex))) => return Some(Ok(ex)),
                Ok(Some(Row::Bad(line, reason))) => match self.bad {
                    BadRows::Skip => self.skipped.push(SkippedRow {
                        index: self.rows - 1,
                        line,
                        reason,
                    }),
                    BadRows::Error => {
                        self.done = true;
                        return Some(Err(Error::format(Source::stream(), line, reason)));
                    }
                },
                Ok(None) => {
                    self.done = true;
                    return (self.rows == 0).then(|| {
                        Err(Error::format(
                            Source::stream(),
                            None,
                            if self.csv.has_headers() {
                                "no rows after the header, expected labelled text rows"
                            } else {
                                "file is empty, expected labelled text rows"
                            },
                        ))
                    });
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        None
    }
}

/// Reads every example of the file at `path` (gzip or plain); a row with a
/// missing column or an empty text is an error naming its line.
pub fn read_labelled(path: &Path, fmt: &LabelledFormat) -> Result<Vec<Example>> {
    read_labelled_with(path, fmt, BadRows::Error).map(|(rows, _)| rows)
}

/// Reads every example of the file at `path`, with `bad` deciding about
/// rows with a missing column or an empty text; returns the examples and
/// the rows skipped.
pub fn read_labelled_with(
    path: &Path,
    fmt: &LabelledFormat,
    bad: BadRows,
) -> Result<(Vec<Example>, Vec<SkippedRow>)> {
    read_labelled_rows(path, fmt, bad).map(|r| (r.examples, r.skipped))
}

/// A labelled file as read by [`read_labelled_rows`].
#[derive(Clone, Debug, Default)]
pub struct LabelledRows {
    /// The examples, in file order.
    pub examples: Vec<Example>,
    /// The 1-based line where each example began.
    pub lines: Vec<Option<usize>>,
    /// The rows left out under [`BadRows::Skip`].
    pub skipped: Vec<SkippedRow>,
}

/// [`read_labelled_with`], keeping the line of every example so that a
/// check made later (a label the model does not know) can name it.
pub fn read_labelled_rows(path: &Path, fmt: &LabelledFormat, bad: BadRows) -> Result<LabelledRows> {
    read_labelled_rows_in(path, None, fmt, bad)
}

/// [`read_labelled_rows`] of a file in `encoding` (see [`open_decoded`]).
pub fn read_labelled_rows_in(
    path: &Path,
    encoding: Option<&str>,
    fmt: &LabelledFormat,
    bad: BadRows,
) -> Result<LabelledRows> {
    let read = || -> Result<_> {
        let mut rows = reader(open_decoded(path, encoding)?, fmt)?.bad_rows(bad);
        let mut out = LabelledRows::default();
        while let Some(ex) = rows.next() {
            out.examples.push(ex?);
            out.lines.push(rows.line());
        }
        out.skipped = rows.skipped;
        Ok(out)
    };
    read().map_err(|e| e.at_path(path))
}

/// The 0-based data-row positions of the `kept` examples read when
/// `skipped` were left out.
pub fn kept_indices(kept: usize, skipped: &[SkippedRow]) -> Vec<usize> {
    let mut gaps = skipped.iter().map(|s| s.index).peekable();
    let mut out = Vec::with_capacity(kept);
    let mut i = 0;
    while out.len() < kept {
        if gaps.peek() == Some(&i) {
            gaps.next();
        } else {
            out.push(i);
        }
        i += 1;
    }
    out
}

#[cfg(test)]
#[path = "labelled_tests.rs"]
mod tests;
