//! Opening data files and reading their lines.
//!
//! [`open`] is the edge where a path becomes a stream: gzip is recognised by
//! its magic bytes (1f 8b), not the file name, and decoded with
//! `MultiGzDecoder` so concatenated members read as one file. [`TextLines`]
//! turns a stream into numbered lines and every way a line can be unreadable
//! (invalid UTF-8, NUL bytes of a binary file, an empty file) into a
//! [`Error::Format`] naming the line and what was expected.

use std::fs::File;
use std::io::{self, BufRead, BufReader, ErrorKind};
use std::path::Path;

use flate2::bufread::MultiGzDecoder;

use crate::error::{Error, Result, Source};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Opens `path` for reading, decompressing gzip transparently. A missing
/// path, a directory or an unreadable file is an [`Error::Io`] naming it.
pub fn open(path: &Path) -> Result<Box<dyn BufRead + Send>> {
    let fail = |kind: ErrorKind, msg: &str| Error::io(path, io::Error::new(kind, msg.to_string()));
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        ErrorKind::NotFound => fail(ErrorKind::NotFound, "no such file, expected a data file"),
        _ => Error::io(path, e),
    })?;
    if meta.is_dir() {
        return Err(fail(
            ErrorKind::InvalidInput,
            "is a directory, expected a data file",
        ));
    }
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let head = reader.fill_buf().map_err(|e| Error::io(path, e))?;
    if head.starts_with(&GZIP_MAGIC) {
        Ok(Box::new(BufReader::with_capacity(
            1 << 16,
            MultiGzDecoder::new(reader),
        )))
    } else {
        Ok(Box::new(reader))
    }
}

/// Opens `path` like [`open`], its text transcoded to UTF-8 from
/// `encoding` (a WHATWG label: `latin1`, `windows-1252`, `iso-8859-15`,
/// `utf-16le`, `shift_jis`, …; `None` or UTF-8: read as it is, where an
/// invalid byte stays an error naming its line). Note that, as in browsers,
/// `latin1` means windows-1252.
pub fn open_decoded(path: &Path, encoding: Option<&str>) -> Result<Box<dyn BufRead + Send>> {
    let Some(label) = encoding else {
        return open(path);
    };
    let enc = encoding_rs::Encoding::for_label(label.trim().as_bytes()).ok_or_else(|| {
        Error::Config(format!(
            "unknown encoding `{}`: expected a label such as utf-8, latin1, windows-1252, iso-8859-15, utf-16le",
            crate::error::excerpt(label)
        ))
    })?;
    let inner = open(path)?;
    if enc == encoding_rs::UTF_8 {
        return Ok(inner);
    }
    let decoded = encoding_rs_io::DecodeReaderBytesBuilder::new()
        .encoding(Some(enc))
        .build(inner);
    Ok(Box::new(BufReader::with_capacity(1 << 16, decoded)))
}

/// An error while reading a stream. Damaged compressed data (the error kinds
/// flate2 reports for a truncated or corrupt gzip file) is a problem with the
/// file's content, so it becomes a [`Error::Format`] at the line being read;
/// anything else stays an I/O error.
pub fn read_error(e: io::Error, line: Option<usize>, expected: &str) -> Error {
    match e.kind() {
        ErrorKind::InvalidInput | ErrorKind::InvalidData | ErrorKind::UnexpectedEof => {
            Error::format(
                Source::stream(),
                line,
                format!("unreadable data ({e}), expected {expected}"),
            )
        }
        _ => Error::io("", e),
    }
}

/// Numbered lines of a stream: yields `(line_no, line)` with `line_no`
/// 1-based and the line ending (`\n` or `\r\n`) and a leading UTF-8 BOM
/// removed. Errors are labelled [`Source::stream`]; the path edge relabels
/// them with [`Error::at_path`].
pub struct TextLines<R> {
    reader: R,
    line_no: usize,
    buf: Vec<u8>,
    expected: String,
    done: bool,
}

impl<R: BufRead> TextLines<R> {
    /// Lines of `reader`; `expected` describes the content for error
    /// messages ("English`<TAB>`French sentence pairs").
    pub fn new(reader: R, expected: impl Into<String>) -> Self {
        TextLines {
            reader,
            line_no: 0,
            buf: Vec::new(),
            expected: expected.into(),
            done: false,
        }
    }

    /// What the content is expected to be, for callers' own messages.
    pub fn expected(&self) -> &str {
        &self.expected
    }

    fn read_line(&mut self) -> Result<Option<(usize, String)>> {
        self.buf.clear();
        let n = match self.reader.read_until(b'\n', &mut self.buf) {
            Ok(n) => n,
            Err(e) => {
                self.done = true;
                return Err(read_error(e, Some(self.line_no + 1), &self.expected));
            }
        };
        if n == 0 {
            if self.line_no == 0 {
                return Err(self.error(None, format!("file is empty, expected {}", self.expected)));
            }
            return Ok(None);
        }
        self.line_no += 1;
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
        }
        let line = self.decode()?;
        Ok(Some((self.line_no, line)))
    }

    fn decode(&mut self) -> Result<String> {
        let line_no = Some(self.line_no);
        if let Some(col) = self.buf.iter().position(|&b| b == 0) {
            return Err(self.error(
                line_no,
                format!(
                    "NUL byte at byte {}: this looks like a binary file, expected {}",
                    col + 1,
                    self.expected
                ),
            ));
        }
        let bytes = std::mem::take(&mut self.buf);
        match String::from_utf8(bytes) {
            Ok(mut s) => {
                if self.line_no == 1 && s.starts_with('\u{feff}') {
                    s.remove(0);
                }
                Ok(s)
            }
            Err(e) => {
                let at = e.utf8_error().valid_up_to() + 1;
                self.buf = e.into_bytes();
                Err(self.error(
                    line_no,
                    format!(
                        "invalid UTF-8 at byte {at}, expected {} as UTF-8 text",
                        self.expected
                    ),
                ))
            }
        }
    }

    fn error(&mut self, line: Option<usize>, msg: String) -> Error {
        // One error ends the stream: a reader that has lost sync has nothing
        // trustworthy to say about the lines after it.
        self.done = true;
        Error::format(Source::stream(), line, msg)
    }
}

impl<R: BufRead> Iterator for TextLines<R> {
    type Item = Result<(usize, String)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.read_line() {
            Ok(Some(item)) => Some(Ok(item)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn lines(bytes: &[u8]) -> Vec<Result<(usize, String)>> {
        TextLines::new(bytes, "text").collect()
    }

    #[test]
    fn numbers_lines_and_strips_crlf_and_bom() {
        let got: Vec<_> = lines(b"\xef\xbb\xbfa\r\nb\n\nc")
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(
            got,
            [
                (1, "a".into()),
                (2, "b".into()),
                (3, String::new()),
                (4, "c".into())
            ]
        );
    }

    #[test]
    fn empty_binary_and_invalid_utf8_are_errors() {
        let e = lines(b"").remove(0).unwrap_err().to_string();
        assert_eq!(e, "<input>: file is empty, expected text");
        let got = lines(b"ok\nbad\xff\nnever");
        assert_eq!(got.len(), 2, "the stream stops at the first error");
        let e = got.into_iter().nth(1).unwrap().unwrap_err().to_string();
        assert_eq!(
            e,
            "<input>:2: invalid UTF-8 at byte 4, expected text as UTF-8 text"
        );
        let e = lines(b"\x7fELF\x00\x01").remove(0).unwrap_err().to_string();
        assert!(e.starts_with("<input>:1: NUL byte at byte 5"), "{e}");
    }

    #[test]
    fn open_detects_gzip_by_magic_bytes() {
        let dir = tempfile::tempdir().unwrap();
        // No `.gz` extension: only the magic bytes say it is compressed.
        let path = dir.path().join("pairs.txt");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"Go.\tVa !\n").unwrap();
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        let got: Vec<_> = TextLines::new(open(&path).unwrap(), "pairs").collect();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].as_ref().unwrap().1, "Go.\tVa !");
        let plain = dir.path().join("plain.gz");
        std::fs::write(&plain, "x\n").unwrap();
        let mut s = String::new();
        open(&plain).unwrap().read_line(&mut s).unwrap();
        assert_eq!(s, "x\n");
    }

    #[test]
    fn damaged_gzip_is_a_format_error() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&b"Go.\tVa !\n".repeat(1000)).unwrap();
        let bytes = gz.finish().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.gz");
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let last = TextLines::new(open(&path).unwrap(), "pairs")
            .last()
            .unwrap();
        let e = last.unwrap_err();
        assert!(matches!(e, Error::Format { line: Some(_), .. }), "{e}");
        assert!(e.to_string().contains("unreadable data"), "{e}");
    }

    #[test]
    fn open_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let e = open(&dir.path().join("nope.tsv"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("nope.tsv: no such file"), "{e}");
        let e = open(dir.path()).err().unwrap().to_string();
        assert!(e.ends_with("is a directory, expected a data file"), "{e}");
    }
}
