//! Vector files: word2vec text (`<words> <dims>` header, then `word v₁ … v_d`
//! per line), word2vec binary (the same header, then per word `word`, a
//! space and `d` little-endian `f32`s — the C tool ends each with a newline,
//! gensim does not; both read), and GloVe text (no header). Text is written
//! with the shortest decimal that reads back as the same `f32`, so files
//! round-trip exactly through gensim's `save_word2vec_format` /
//! `load_word2vec_format`, whose text writer does the same.

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::path::Path;

use super::Embeddings;
use crate::data::atomic::write_atomic;
use crate::data::source;
use crate::error::{Error, Result, Source, excerpt};

/// A vector file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VectorFormat {
    /// word2vec text.
    Text,
    /// word2vec binary.
    Binary,
    /// GloVe text (no header line).
    Glove,
}

impl VectorFormat {
    /// Guesses the format from the first bytes of a file: a `<count> <dims>`
    /// header makes it word2vec, binary when the bytes of the first vector
    /// are not a line of printable ASCII.
    pub fn detect(head: &[u8]) -> VectorFormat {
        let first_line = head.split(|&b| b == b'\n').next().unwrap_or_default();
        let first_line = std::str::from_utf8(first_line)
            .map(|l| l.trim_end_matches('\r'))
            .unwrap_or_default();
        if !looks_like_header(first_line) {
            return VectorFormat::Glove;
        }
        let Some((_, dim)) = parse_header(first_line) else {
            // Two integers that are no valid header: read as word2vec text,
            // whose reader says what is wrong with line 1.
            return VectorFormat::Text;
        };
        let dim = dim.min(MAX_DIM);
        let rest = &head
            [(head.iter().position(|&b| b == b'\n').unwrap_or(head.len()) + 1).min(head.len())..];
        let rest = match rest.iter().position(|&b| b == b' ') {
            Some(sp) => &rest[sp + 1..],
            None => return VectorFormat::Text,
        };
        // The first vector's bytes (or its line, for text): decimal text is
        // printable ASCII; binary floats all but never are.
        // A text line holds at least `dim` numbers and `dim − 1` spaces.
        let sample = &rest[..rest.len().min(4 * dim)];
        let line = sample.split(|&b| b == b'\n').next().unwrap_or_default();
        let short = line.len() < sample.len() && line.len() + 1 < 2 * dim;
        if !short
            && line
                .iter()
                .all(|&b| (0x20..0x7f).contains(&b) || b == b'\t' || b == b'\r')
        {
            VectorFormat::Text
        } else {
            VectorFormat::Binary
        }
    }
}

fn parse_header(line: &str) -> Option<(usize, usize)> {
    let mut it = line.split_ascii_whitespace();
    let (a, b) = (it.next()?.parse().ok()?, it.next()?.parse().ok()?);
    it.next().is_none().then_some((a, b))
}

/// Two integers, signed or not, of any size: what a word2vec header looks
/// like even when its numbers are wrong (`-5 20`). Such a first line is
/// taken as a header and checked, never read as a GloVe word with a
/// one-number vector.
fn looks_like_header(line: &str) -> bool {
    let int = |t: &str| {
        let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    };
    let tokens: Vec<&str> = line.split_ascii_whitespace().take(3).collect();
    tokens.len() == 2 && tokens.iter().all(|t| int(t))
}

/// What reading a vector file found besides the vectors.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Rows whose word appeared earlier in the file: left out, the first
    /// vector of each word is the one kept.
    pub duplicates: usize,
    /// The first such word, and where it is: `line N` (text) or `vector N`
    /// (binary, N counting from 1).
    pub first_duplicate: Option<(String, String)>,
}

impl LoadReport {
    /// "warning: FILE: N duplicate words …", or `None` when there were none.
    pub fn warning(&self, file: &Path) -> Option<String> {
        let (word, at) = self.first_duplicate.as_ref()?;
        let n = self.duplicates;
        Some(format!(
            "warning: {}: {n} duplicate word{} left out, the first vector of each kept (the first: `{}`, {at})",
            file.display(),
            if n == 1 { "" } else { "s" },
            excerpt(word)
        ))
    }

    fn duplicate(&mut self, word: &str, at: impl FnOnce() -> String) {
        self.duplicates += 1;
        if self.first_duplicate.is_none() {
            self.first_duplicate = Some((word.to_string(), at()));
        }
    }
}

/// Reads a vector file, detecting its format from its first bytes unless
/// `format` is given.
pub fn load(path: &Path, format: Option<VectorFormat>) -> Result<Embeddings> {
    load_report(path, format).map(|(v, _)| v)
}

/// [`load`], also returning what the read found besides the vectors
/// (duplicate words), for the caller to warn about.
pub fn load_report(path: &Path, format: Option<VectorFormat>) -> Result<(Embeddings, LoadReport)> {
    let mut r = source::open(path)?;
    let format = match format {
        Some(f) => f,
        // Peeking fills the reader's buffer without consuming it.
        None => VectorFormat::detect(r.fill_buf().map_err(|e| Error::io(path, e))?),
    };
    read_report(r, format).map_err(|e| e.at_path(path))
}

/// Writes `vectors` to `path` in `format`, atomically (`write_atomic`: a
/// synced temporary file renamed into place).
pub fn save(vectors: &Embeddings, path: &Path, format: VectorFormat) -> Result<()> {
    check_words(vectors)?;
    write_atomic(path, |w| write_rows(vectors, w, format))
}

/// Reads vectors in `format` from a stream. Every component must be a
/// finite `f32` (NaN, infinities and numbers beyond `f32` are errors naming
/// the word and its line or position); a word seen before is left out (see
/// [`read_report`] for how many).
pub fn read(r: impl BufRead, format: VectorFormat) -> Result<Embeddings> {
    read_report(r, format).map(|(v, _)| v)
}

/// [`read`], also returning what the read found besides the vectors.
pub fn read_report(mut r: impl BufRead, format: VectorFormat) -> Result<(Embeddings, LoadReport)> {
    match format {
        VectorFormat::Text => read_text(r, true),
        VectorFormat::Glove => read_text(r, false),
        VectorFormat::Binary => read_binary(&mut r),
    }
}

/// Writes vectors in `format` to a stream.
pub fn write(v: &Embeddings, w: &mut impl Write, format: VectorFormat) -> Result<()> {
    check_words(v)?;
    write_rows(v, w, format).map_err(|e| Error::io("", e))
}

/// Every format separates words from numbers by whitespace.
fn check_words(v: &Embeddings) -> Result<()> {
    match v
        .words()
        .iter()
        .find(|w| w.is_empty() || w.contains(char::is_whitespace))
    {
        Some(word) => Err(Error::Vocab(format!(
            "cannot write {word:?}: vector files need words without whitespace"
        ))),
        None => Ok(()),
    }
}

fn write_rows(v: &Embeddings, w: &mut impl Write, format: VectorFormat) -> std::io::Result<()> {
    if format != VectorFormat::Glove {
        writeln!(w, "{} {}", v.len(), v.dim())?;
    }
    let mut line = String::new();
    for (i, word) in v.words().iter().enumerate() {
        if format == VectorFormat::Binary {
            w.write_all(word.as_bytes())?;
            w.write_all(b" ")?;
            for x in v.row(i) {
                w.write_all(&x.to_le_bytes())?;
            }
            w.write_all(b"\n")?;
        } else {
            use std::fmt::Write as _;
            line.clear();
            line.push_str(word);
            for x in v.row(i) {
                // `{}` is the shortest decimal that reads back as the same f32.
                let _ = write!(line, " {x}");
            }
            line.push('\n');
            w.write_all(line.as_bytes())?;
        }
    }
    Ok(())
}

/// Buffers are pre-sized for at most this many of the words a header
/// declares, and at most [`PREALLOC_FLOATS`] numbers: a damaged header must
/// not make the reader allocate terabytes. Past that they grow as vectors
/// arrive, so memory follows the file, not the header.
const PREALLOC_WORDS: usize = 1 << 20;

/// See [`PREALLOC_WORDS`] (64 MiB of `f32`).
const PREALLOC_FLOATS: usize = 1 << 24;

/// The widest vectors a header may declare.
const MAX_DIM: usize = 1 << 16;

/// The `<words> <dimensions>` header on line `n`.
fn header_at(line: &str, n: usize) -> Result<(usize, usize)> {
    let (count, dim) = parse_header(line).ok_or_else(|| {
        fail(
            n,
            format!(
                "expected a header `<words> <dimensions>` of two positive integers, found {:?}",
                excerpt(line)
            ),
        )
    })?;
    if count == 0 {
        return Err(fail(n, "the header declares 0 words, expected at least 1"));
    }
    if dim == 0 || dim > MAX_DIM {
        return Err(fail(
            n,
            format!("the header declares {dim} dimensions, expected 1 to {MAX_DIM}"),
        ));
    }
    Ok((count, dim))
}

fn fail(line: usize, msg: impl Into<String>) -> Error {
    Error::format(Source::stream(), Some(line), msg)
}

fn read_text(r: impl BufRead, header: bool) -> Result<(Embeddings, LoadReport)> {
    let lines = source::TextLines::new(r, "a vector file");
    let mut declared: Option<(usize, usize)> = None;
    let (mut words, mut data) = (Vec::new(), Vec::new());
    let mut seen = HashSet::new();
    let mut report = LoadReport::default();
    // Vector rows read, duplicates included (what a header counts).
    let mut rows = 0usize;
    let mut dim = 0usize;
    for item in lines {
        let (n, line) = item?;
        let line = line.as_str();
        if header && declared.is_none() {
            let (count, d) = header_at(line, n)?;
            declared = Some((count, d));
            dim = d;
            let words_ahead = count.min(PREALLOC_WORDS);
            words.reserve(words_ahead);
            data.reserve(words_ahead.saturating_mul(d).min(PREALLOC_FLOATS));
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        if let Some((count, _)) = declared
            && rows == count
        {
            return Err(fail(
                n,
                format!("more vectors than the {count} the header declares"),
            ));
        }
        rows += 1;
        let mut fields = line.split_ascii_whitespace();
        let word = fields.next().unwrap_or_default();
        let before = data.len();
        for f in fields {
            let x = f.parse::<f32>().map_err(|_| {
                fail(
                    n,
                    format!(
                        "`{}` is not a number (a component of `{}`'s vector)",
                        excerpt(f),
                        excerpt(word)
                    ),
                )
            })?;
            if !x.is_finite() {
                return Err(fail(
                    n,
                    format!(
                        "`{}`'s vector has `{}`, expected finite numbers (no NaN or infinity, at most ±3.4e38)",
                        excerpt(word),
                        excerpt(f)
                    ),
                ));
            }
            data.push(x);
            // A line longer than any valid vector needs no more numbers
            // read to be wrong: stop before it fills memory.
            if dim > 0 && data.len() - before > dim {
                break;
            }
        }
        let got = data.len() - before;
        if dim == 0 {
            if got == 0 {
                return Err(fail(
                    n,
                    format!("`{}` has no numbers, expected a vector", excerpt(word)),
                ));
            }
            if got > MAX_DIM {
                return Err(fail(
                    n,
                    format!(
                        "`{}` has {got} numbers, expected at most {MAX_DIM}",
                        excerpt(word)
                    ),
                ));
            }
            dim = got;
        }
        if got != dim {
            let got = if got > dim {
                format!("more than {dim}")
            } else {
                got.to_string()
            };
            return Err(fail(
                n,
                format!("`{}` has {got} numbers, expected {dim}", excerpt(word)),
            ));
        }
        if seen.contains(word) {
            data.truncate(before);
            report.duplicate(word, || format!("line {n}"));
            continue;
        }
        seen.insert(word.to_string());
        words.push(word.to_string());
    }
    match declared {
        Some((count, _)) if rows != count => Err(Error::format(
            Source::stream(),
            None,
            format!("the header declares {count} vectors, the file has {rows}"),
        )),
        None if header => Err(Error::format(
            Source::stream(),
            None,
            "file is empty, expected a header `<words> <dimensions>`",
        )),
        _ if words.is_empty() => Err(Error::format(
            Source::stream(),
            None,
            "no vectors in the file",
        )),
        _ => Ok((Embeddings::new(words, dim, data)?, report)),
    }
}

fn read_binary(r: &mut impl BufRead) -> Result<(Embeddings, LoadReport)> {
    let read = |e: std::io::Error| source::read_error(e, Some(1), "a binary vector file");
    let mut head = Vec::new();
    r.read_until(b'\n', &mut head).map_err(read)?;
    let text = String::from_utf8_lossy(&head);
    let (count, dim) = header_at(text.trim_end(), 1)?;
    let words_ahead = count.min(PREALLOC_WORDS);
    let mut words = Vec::with_capacity(words_ahead);
    let mut data = Vec::with_capacity(words_ahead.saturating_mul(dim).min(PREALLOC_FLOATS));
    let mut seen = HashSet::new();
    let mut report = LoadReport::default();
    let mut word = Vec::new();
    let mut bytes = vec![0u8; 4 * dim];
    for k in 0..count {
        let at = |msg: String| {
            Error::format(
                Source::stream(),
                None,
                format!("vector {} of {count}: {msg}", k + 1),
            )
        };
        // Skip the newline the C tool writes after each vector.
        loop {
            let buf = r.fill_buf().map_err(read)?;
            match buf.first() {
                Some(b'\n') | Some(b'\r') => r.consume(1),
                _ => break,
            }
        }
        word.clear();
        r.read_until(b' ', &mut word).map_err(read)?;
        if word.last() != Some(&b' ') {
            return Err(at(if word.is_empty() {
                format!("the file ends, but the header declares {count} vectors")
            } else {
                "the file ends inside a word".to_string()
            }));
        }
        word.pop();
        let w = std::str::from_utf8(&word)
            .map_err(|_| at("the word is not UTF-8".to_string()))?
            .to_string();
        r.read_exact(&mut bytes).map_err(|_| {
            at(format!(
                "`{}`'s vector is cut short, expected {dim} floats",
                excerpt(&w)
            ))
        })?;
        let before = data.len();
        data.extend(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        );
        if let Some(i) = data[before..].iter().position(|x| !x.is_finite()) {
            return Err(at(format!(
                "`{}`'s vector has {} at component {}, expected finite numbers",
                excerpt(&w),
                data[before + i],
                i + 1
            )));
        }
        if seen.contains(&w) {
            data.truncate(before);
            report.duplicate(&w, || format!("vector {} of {count}", k + 1));
            continue;
        }
        seen.insert(w.clone());
        words.push(w);
    }
    Ok((Embeddings::new(words, dim, data)?, report))
}

#[cfg(test)]
#[path = "format_tests.rs"]
mod tests;
