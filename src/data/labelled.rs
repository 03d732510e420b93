//! Labelled text: one example per row of a CSV (RFC 4180 quoting, through the
//! `csv` crate) or TSV (split on tabs, quotes are ordinary characters, as in
//! the IMDB file), with or without a header. The text and label columns are
//! chosen by header name or 0-based index; several text columns are joined
//! with a space (AG News: title + description).

use std::io::BufRead;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::source::{open, read_error};
use crate::error::{Error, Result, Source};

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

/// Streams the examples of a labelled file (see [`reader`]).
pub struct LabelledReader<R: BufRead> {
    csv: csv::Reader<R>,
    text: Vec<usize>,
    label: usize,
    /// Fields a row needs to reach every chosen column.
    columns: usize,
    record: csv::StringRecord,
    rows: usize,
    done: bool,
    bad: BadRows,
    skipped: Vec<SkippedRow>,
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
    let mut csv = b.from_reader(r);
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
                    "no column `{n}` in the header (columns: {})",
                    names.join(", ")
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
        csv::ErrorKind::Io(io) => read_error(io, line, "labelled text rows"),
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
    let read = || -> Result<_> {
        let mut rows = reader(open(path)?, fmt)?.bad_rows(bad);
        let examples = rows.by_ref().collect::<Result<Vec<_>>>()?;
        Ok((examples, rows.skipped))
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
