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

use super::source::{open, read_error};
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
    let read = || -> Result<_> {
        let mut rows = reader(open(path)?, fmt)?.bad_rows(bad);
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
mod tests {
    use super::*;

    fn fmt(delimiter: Delimiter, header: bool, text: &[Column], label: Column) -> LabelledFormat {
        LabelledFormat {
            delimiter,
            header,
            text: text.to_vec(),
            label,
        }
    }

    fn read(data: &str, f: &LabelledFormat) -> Result<Vec<Example>> {
        reader(data.as_bytes(), f)?.collect()
    }

    #[test]
    fn csv_quoting_and_joined_columns() {
        let data = "\"3\",\"Fears, \"\"T N\"\"\",\"Unions\nsay\"\n\"4\",\"Race\",\"On\"\n";
        let f = fmt(
            Delimiter::Csv,
            false,
            &[Column::Index(1), Column::Index(2)],
            Column::Index(0),
        );
        let got = read(data, &f).unwrap();
        assert_eq!(got[0].text, "Fears, \"T N\" Unions\nsay");
        assert_eq!(got[0].label, "3");
        assert_eq!(
            got[1],
            Example {
                text: "Race On".into(),
                label: "4".into()
            }
        );
    }

    #[test]
    fn columns_by_header_name_and_tsv_quotes_are_text() {
        let data = "split\tlabel\ttext\ntrain\tpos\tA \"great\" film\n";
        let f = fmt(
            Delimiter::Tsv,
            true,
            &["text".parse().unwrap()],
            "label".parse().unwrap(),
        );
        let got = read(data, &f).unwrap();
        assert_eq!(
            got,
            [Example {
                text: "A \"great\" film".into(),
                label: "pos".into()
            }]
        );
        let f = fmt(
            Delimiter::Tsv,
            true,
            &[Column::Name("review".into())],
            Column::Index(1),
        );
        let e = read(data, &f).err().unwrap().to_string();
        assert_eq!(
            e,
            "<input>:1: no column `review` in the header (columns: split, label, text)"
        );
        let f = fmt(
            Delimiter::Tsv,
            false,
            &[Column::Name("text".into())],
            Column::Index(1),
        );
        assert!(matches!(read(data, &f), Err(Error::Config(_))));
    }

    #[test]
    fn missing_column_and_empty_files_are_errors() {
        let f = fmt(
            Delimiter::Csv,
            true,
            &[Column::Name("X".into())],
            Column::Name("y".into()),
        );
        let e = read("y,X\nWorld,Title\nSports\n", &f)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "<input>:3: expected at least 2 columns, found 1");
        let e = read("", &f).unwrap_err().to_string();
        assert_eq!(e, "<input>: file is empty, expected labelled CSV rows");
        let e = read("y,X\n", &f).unwrap_err().to_string();
        assert_eq!(
            e,
            "<input>: no rows after the header, expected labelled text rows"
        );
        let nohead = fmt(Delimiter::Csv, false, &[Column::Index(1)], Column::Index(0));
        let e = read("", &nohead).unwrap_err().to_string();
        assert_eq!(e, "<input>: file is empty, expected labelled text rows");
    }

    #[test]
    fn bad_rows_are_skipped_with_their_lines_or_stop_the_read() {
        let f = fmt(
            Delimiter::Csv,
            true,
            &[Column::Name("X".into())],
            Column::Name("y".into()),
        );
        let data = "y,X\nWorld,Title\nSports\nBusiness,  \n\"Sci\",\"two\nlines\"\nWorld,Last\n";
        let mut r = reader(data.as_bytes(), &f).unwrap().bad_rows(BadRows::Skip);
        let got: Vec<Example> = r.by_ref().collect::<Result<_>>().unwrap();
        let texts: Vec<&str> = got.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(texts, ["Title", "two\nlines", "Last"]);
        let skipped: Vec<String> = r.skipped().iter().map(|s| s.to_string()).collect();
        assert_eq!(
            skipped,
            [
                "line 3: expected at least 2 columns, found 1",
                "line 4: empty text"
            ]
        );
        assert_eq!(r.skipped()[1].index, 2);
        assert_eq!(kept_indices(3, r.skipped()), [0, 3, 4]);
        let e = read("y,X\nWorld,Title\nBusiness,\n", &f)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("<input>:3: empty text"), "{e}");
        // A file of bad rows only reads as no examples, not as an empty file.
        let mut r = reader("y,X\nSports\n".as_bytes(), &f)
            .unwrap()
            .bad_rows(BadRows::Skip);
        assert_eq!(r.by_ref().count(), 0);
        assert_eq!(r.skipped().len(), 1);
    }

    /// `n` rows `label,text i` under a header, with `bad` as data row `at`
    /// (line `at + 2`).
    fn rows_with(n: usize, at: usize, bad: &str) -> String {
        let mut s = String::from("label,text\n");
        for i in 0..n {
            if i == at {
                s.push_str(bad);
            } else {
                s.push_str(&format!("{},row {i}\n", ["pos", "neg"][i % 2]));
            }
        }
        s
    }

    #[test]
    fn a_stray_quote_is_an_error_at_its_line_under_either_policy() {
        let f = fmt(
            Delimiter::Csv,
            true,
            &[Column::Name("text".into())],
            Column::Name("label".into()),
        );
        // Data row 59 is line 61: its quote never closes.
        let data = rows_with(120, 59, "neg,\"stray quote\n");
        for bad in [BadRows::Error, BadRows::Skip] {
            // The header read may already meet it (the CSV reader reads ahead).
            let e = reader(data.as_bytes(), &f)
                .and_then(|r| r.bad_rows(bad).collect::<Result<Vec<_>>>())
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with(
                    "<input>:61: a quoted field begins here and runs over more than 50 lines"
                ),
                "{bad:?}: {e}"
            );
        }
        // Near the end, the quote is still open when the file ends.
        let data = rows_with(20, 15, "neg,\"stray quote\n");
        let e = read(&data, &f).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "<input>:17: a quoted field begins here and is still open at the end of the file"
            ),
            "{e}"
        );
        // A second stray quote further on closes it: still an error once the
        // field runs over more than MAX_QUOTED_LINES lines.
        let mut data = rows_with(120, 10, "neg,\"opens\n");
        data.push_str("pos,closes\"\n");
        let e = read(&data, &f).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "<input>:12: a quoted field begins here and runs over more than 50 lines"
            ),
            "{e}"
        );
        // Line breaks inside quotes are RFC 4180: a few lines read as one field.
        let data = rows_with(10, 3, "neg,\"three\nshort\r\nlines\"\n");
        let got = read(&data, &f).unwrap();
        assert_eq!(got.len(), 10);
        assert_eq!(got[3].text, "three\nshort\r\nlines");
        assert_eq!(got[4].text, "row 4");
        // Doubled quotes and a quote inside an unquoted field stay text.
        let data = rows_with(4, 1, "neg,\"say \"\"hi\"\"\"\npos,5\" tall\n");
        let got = read(&data, &f).unwrap();
        assert_eq!(got[1].text, "say \"hi\"");
        assert_eq!(got[2].text, "5\" tall");
        // A long quoted field on one line has no limit; across lines it has.
        let long = "x".repeat(MAX_QUOTED_BYTES + 10);
        let data = rows_with(3, 1, &format!("neg,\"{long}\"\n"));
        assert_eq!(read(&data, &f).unwrap()[1].text.len(), long.len());
        let data = rows_with(3, 1, &format!("neg,\"a\n{long}\"\n"));
        let e = read(&data, &f).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "<input>:3: a quoted field begins here and runs over 2 lines and more than"
            ),
            "{e}"
        );
        // TSV has no quoting: the same quote is a character.
        let tsv = fmt(Delimiter::Tsv, false, &[Column::Index(1)], Column::Index(0));
        let got = read("neg\t\"open\npos\tb\n", &tsv).unwrap();
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn examples_keep_the_line_they_began_on() {
        let f = fmt(Delimiter::Csv, true, &[Column::Index(1)], Column::Index(0));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.csv");
        std::fs::write(&path, "y,x\na,\"two\nlines\"\nb,\nc,three\n").unwrap();
        let r = read_labelled_rows(&path, &f, BadRows::Skip).unwrap();
        assert_eq!(r.lines, [Some(2), Some(5)]);
        assert_eq!(r.skipped.len(), 1);
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let f = fmt(Delimiter::Csv, false, &[Column::Index(1)], Column::Index(0));
        let e = reader(&b"1,ok\n2,b\xffd\n"[..], &f)
            .unwrap()
            .collect::<Result<Vec<_>>>()
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "<input>:2: invalid UTF-8, expected labelled rows as UTF-8 text"
        );
    }
}
