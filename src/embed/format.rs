//! Vector files: word2vec text (`<words> <dims>` header, then `word v₁ … v_d`
//! per line), word2vec binary (the same header, then per word `word`, a
//! space and `d` little-endian `f32`s — the C tool ends each with a newline,
//! gensim does not; both read), and GloVe text (no header). Text is written
//! with the shortest decimal that reads back as the same `f32`, so files
//! round-trip exactly through gensim's `save_word2vec_format` /
//! `load_word2vec_format`, whose text writer does the same.

use std::io::{BufRead, Write};
use std::path::Path;

use super::vectors::Embeddings;
use crate::data::source;
use crate::error::{Error, Result, Source};
use crate::train::model_dir::write_atomic;

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
        let header = std::str::from_utf8(first_line)
            .ok()
            .and_then(|l| parse_header(l.trim_end_matches('\r')));
        let Some((_, dim)) = header else {
            return VectorFormat::Glove;
        };
        let rest = &head[(first_line.len() + 1).min(head.len())..];
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

/// Reads a vector file, detecting its format from its first bytes unless
/// `format` is given.
pub fn load(path: &Path, format: Option<VectorFormat>) -> Result<Embeddings> {
    let mut r = source::open(path)?;
    let format = match format {
        Some(f) => f,
        // Peeking fills the reader's buffer without consuming it.
        None => VectorFormat::detect(r.fill_buf().map_err(|e| Error::io(path, e))?),
    };
    read(r, format).map_err(|e| e.at_path(path))
}

/// Writes `vectors` to `path` in `format`, atomically (`write_atomic`: a
/// synced temporary file renamed into place).
pub fn save(vectors: &Embeddings, path: &Path, format: VectorFormat) -> Result<()> {
    check_words(vectors)?;
    write_atomic(path, |w| write_rows(vectors, w, format))
}

/// Reads vectors in `format` from a stream.
pub fn read(mut r: impl BufRead, format: VectorFormat) -> Result<Embeddings> {
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
/// declares: a damaged header must not make the reader allocate terabytes.
const PREALLOC_WORDS: usize = 1 << 20;

/// The widest vectors a header may declare.
const MAX_DIM: usize = 1 << 16;

/// The `<words> <dimensions>` header on line `n`.
fn header_at(line: &str, n: usize) -> Result<(usize, usize)> {
    let (count, dim) = parse_header(line).ok_or_else(|| {
        fail(
            n,
            format!("expected a header `<words> <dimensions>`, found {line:?}"),
        )
    })?;
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

fn read_text(r: impl BufRead, header: bool) -> Result<Embeddings> {
    let lines = source::TextLines::new(r, "a vector file");
    let mut declared: Option<(usize, usize)> = None;
    let (mut words, mut data) = (Vec::new(), Vec::new());
    let mut dim = 0usize;
    for item in lines {
        let (n, line) = item?;
        let line = line.as_str();
        if header && declared.is_none() {
            let (count, d) = header_at(line, n)?;
            declared = Some((count, d));
            dim = d;
            words.reserve(count.min(PREALLOC_WORDS));
            data.reserve(count.min(PREALLOC_WORDS).saturating_mul(d));
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        if let Some((count, _)) = declared
            && words.len() == count
        {
            return Err(fail(
                n,
                format!("more vectors than the {count} the header declares"),
            ));
        }
        let mut fields = line.split_ascii_whitespace();
        let word = fields.next().unwrap_or_default();
        let before = data.len();
        for f in fields {
            data.push(f.parse::<f32>().map_err(|_| {
                fail(
                    n,
                    format!("`{f}` is not a number (a component of `{word}`'s vector)"),
                )
            })?);
        }
        let got = data.len() - before;
        if dim == 0 {
            if got == 0 {
                return Err(fail(
                    n,
                    format!("`{word}` has no numbers, expected a vector"),
                ));
            }
            dim = got;
        }
        if got != dim {
            return Err(fail(
                n,
                format!("`{word}` has {got} numbers, expected {dim}"),
            ));
        }
        words.push(word.to_string());
    }
    match declared {
        Some((count, _)) if words.len() != count => Err(Error::format(
            Source::stream(),
            None,
            format!(
                "the header declares {count} vectors, the file has {}",
                words.len()
            ),
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
        _ => Embeddings::new(words, dim, data),
    }
}

fn read_binary(r: &mut impl BufRead) -> Result<Embeddings> {
    let read = |e: std::io::Error| source::read_error(e, Some(1), "a binary vector file");
    let mut head = Vec::new();
    r.read_until(b'\n', &mut head).map_err(read)?;
    let text = String::from_utf8_lossy(&head);
    let (count, dim) = header_at(text.trim_end(), 1)?;
    let mut words = Vec::with_capacity(count.min(PREALLOC_WORDS));
    let mut data = Vec::with_capacity(count.min(PREALLOC_WORDS).saturating_mul(dim));
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
                "`{w}`'s vector is cut short, expected {dim} floats"
            ))
        })?;
        data.extend(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        );
        words.push(w);
    }
    Embeddings::new(words, dim, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Embeddings {
        let words = ["the", "é", "x1"].map(String::from).to_vec();
        let data = vec![
            0.1,
            -2.5e-7,
            3.0,
            1.0 / 3.0,
            0.0,
            -1e30,
            f32::MIN_POSITIVE,
            7.25,
            -0.0,
        ];
        Embeddings::new(words, 3, data).unwrap()
    }

    #[test]
    fn every_format_round_trips_exactly() {
        let v = sample();
        for f in [
            VectorFormat::Text,
            VectorFormat::Binary,
            VectorFormat::Glove,
        ] {
            let mut buf = Vec::new();
            write(&v, &mut buf, f).unwrap();
            assert_eq!(VectorFormat::detect(&buf), f, "{f:?}");
            let back = read(&buf[..], f).unwrap();
            assert_eq!(back.words(), v.words());
            let same = back
                .data()
                .iter()
                .zip(v.data())
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{f:?}: {:?}", back.data());
        }
        // Malformed text is still text (so its error names the line).
        assert_eq!(
            VectorFormat::detect(b"1 2\nthe 0.1 abc\n"),
            VectorFormat::Text
        );
        // gensim's binary rows have no newline between vectors.
        let mut gensim = b"2 1\n".to_vec();
        for (w, x) in [("a", 1.5f32), ("b", -2.0)] {
            gensim.extend(w.as_bytes());
            gensim.push(b' ');
            gensim.extend(x.to_le_bytes());
        }
        let v = read(&gensim[..], VectorFormat::Binary).unwrap();
        assert_eq!(v.get("b"), Some(&[-2.0f32][..]));
    }

    #[test]
    fn malformed_files_are_clear_errors() {
        let err = |text: &str, f| read(text.as_bytes(), f).unwrap_err().to_string();
        assert_eq!(
            err("3 2\na 1 2\nb 1\n", VectorFormat::Text),
            "<input>:3: `b` has 1 numbers, expected 2"
        );
        assert_eq!(
            err("1 2\na 1 x\n", VectorFormat::Text),
            "<input>:2: `x` is not a number (a component of `a`'s vector)"
        );
        assert_eq!(
            err("3 2\na 1 2\nb 1 2\n", VectorFormat::Text),
            "<input>: the header declares 3 vectors, the file has 2"
        );
        assert_eq!(
            err("1 2\na 1 2\nb 1 2\n", VectorFormat::Text),
            "<input>:3: more vectors than the 1 the header declares"
        );
        assert!(err("two words\n", VectorFormat::Text).starts_with("<input>:1: expected a header"));
        assert_eq!(
            err("1 0\n", VectorFormat::Text),
            "<input>:1: the header declares 0 dimensions, expected 1 to 65536"
        );
        assert_eq!(
            err("9 99999999999\n", VectorFormat::Binary),
            "<input>:1: the header declares 99999999999 dimensions, expected 1 to 65536"
        );
        assert_eq!(
            err("a 1 2\nb 3\n", VectorFormat::Glove),
            "<input>:2: `b` has 1 numbers, expected 2"
        );
        let mut bin = b"2 2\na ".to_vec();
        bin.extend(1f32.to_le_bytes());
        assert_eq!(
            read(&bin[..], VectorFormat::Binary)
                .unwrap_err()
                .to_string(),
            "<input>: vector 1 of 2: `a`'s vector is cut short, expected 2 floats"
        );
        let mut bin = b"2 1\na ".to_vec();
        bin.extend(1f32.to_le_bytes());
        bin.push(b'\n');
        assert_eq!(
            read(&bin[..], VectorFormat::Binary)
                .unwrap_err()
                .to_string(),
            "<input>: vector 2 of 2: the file ends, but the header declares 2 vectors"
        );
    }
}
