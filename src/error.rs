//! The library's one error type.
//!
//! Modelled on finalfusion's: a single `#[non_exhaustive]` enum whose variants say
//! *what* went wrong and *where* (file and line for bad input), so the binary can
//! print one line and exit non-zero without guessing.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where a piece of input came from, for error messages: a file path, or a
/// description such as `<stdin>` when a reader was handed a bare stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source(pub String);

impl Source {
    /// A source with no file behind it (a stream handed to a reader).
    pub fn stream() -> Self {
        Source("<input>".to_string())
    }
}

impl From<&Path> for Source {
    fn from(p: &Path) -> Self {
        Source(p.display().to_string())
    }
}

impl From<&str> for Source {
    fn from(s: &str) -> Self {
        Source(s.to_string())
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Every error the library returns.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tensor operation failed (shape mismatch, dtype, device).
    #[error("tensor error: {0}")]
    Candle(#[from] candle_core::Error),

    /// Reading or writing a file failed.
    ///
    /// The cause is part of the message rather than a chained `source`, so
    /// the binary's one-line report does not print it twice.
    #[error("{path}: {cause}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        cause: std::io::Error,
    },

    /// Input did not have the expected format. `line` is 1-based; `None` when
    /// the problem is not tied to one line (an empty file, say).
    #[error("{file}{}: {msg}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Format {
        /// The file or stream that held the bad input.
        file: Source,
        /// 1-based line number, where there is one.
        line: Option<usize>,
        /// What was found and what was expected.
        msg: String,
    },

    /// A configuration value, or a combination of values, is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// A vocabulary could not be built, read or used.
    #[error("vocabulary: {0}")]
    Vocab(String),

    /// A named dataset could not be found or fetched.
    #[error("dataset: {0}")]
    Dataset(String),

    /// A model directory or checkpoint is missing a piece or does not fit the model.
    #[error("checkpoint {path}: {msg}")]
    Checkpoint {
        /// The model directory or file.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },

    /// Tensors or weights had the wrong shape for the operation or layer.
    #[error("shape mismatch: {0}")]
    Shape(String),
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            cause: source,
        }
    }

    /// A format error at `line` (1-based) of `source`.
    pub fn format(source: impl Into<Source>, line: Option<usize>, msg: impl Into<String>) -> Self {
        Error::Format {
            file: source.into(),
            line,
            msg: msg.into(),
        }
    }

    /// Re-labels format and I/O errors that came from an anonymous stream with
    /// the path of the file the stream was opened from: readers take
    /// `impl BufRead` and only the edge knows the path.
    pub fn at_path(self, path: &Path) -> Self {
        match self {
            Error::Format { file, line, msg } if file == Source::stream() => Error::Format {
                file: Source::from(path),
                line,
                msg,
            },
            Error::Io { path: p, cause } if p.as_os_str().is_empty() => Error::Io {
                path: path.to_path_buf(),
                cause,
            },
            other => other,
        }
    }
}

/// The most characters of input an error message quotes.
pub const EXCERPT_CHARS: usize = 80;

/// `s` as an error message quotes it: whole when short, else its first
/// [`EXCERPT_CHARS`] characters and `…`, so a 5 MB line does not become a
/// 5 MB message.
pub fn excerpt(s: &str) -> std::borrow::Cow<'_, str> {
    first_chars(s, EXCERPT_CHARS)
}

/// `s` whole when it has at most `n` characters, else its first `n` and `…`:
/// for a parser's whole message, which quotes input inside a sentence.
pub fn first_chars(s: &str, n: usize) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(n) {
        None => s.into(),
        Some((cut, _)) => format!("{}…", &s[..cut]).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_cut_long_input_on_a_character() {
        assert_eq!(excerpt("short"), "short");
        let long = "é".repeat(5_000_000);
        let e = excerpt(&long);
        assert_eq!(e.chars().count(), EXCERPT_CHARS + 1);
        assert!(e.ends_with('…'));
    }

    #[test]
    fn format_error_names_file_and_line() {
        let e = Error::format(Path::new("data/x.tsv"), Some(7), "expected a tab");
        assert_eq!(e.to_string(), "data/x.tsv:7: expected a tab");
        let e = Error::format(Path::new("data/x.tsv"), None, "file is empty");
        assert_eq!(e.to_string(), "data/x.tsv: file is empty");
    }

    #[test]
    fn at_path_relabels_streams_only() {
        let e = Error::format(Source::stream(), Some(3), "bad").at_path(Path::new("a.tsv"));
        assert_eq!(e.to_string(), "a.tsv:3: bad");
        let e = Error::format(Path::new("b.tsv"), Some(3), "bad").at_path(Path::new("a.tsv"));
        assert_eq!(e.to_string(), "b.tsv:3: bad");
    }
}
