//! Plain-text corpora for word2vec and language models, read as a stream of
//! words. text8 is one line of 100 MB, so nothing here holds a line: bytes
//! arrive in buffer-sized chunks and words are cut at ASCII whitespace (space,
//! tab, CR, LF, VT, FF — the separators of the word2vec C tool), with a word
//! that straddles two chunks carried over.

use std::io::BufRead;

use super::source::read_error;
use crate::error::{Error, Result, Source};

/// A streaming word reader. [`CorpusReader::next_word`] lends each word
/// without allocating; the [`Iterator`] impl yields owned `String`s.
pub struct CorpusReader<R> {
    reader: R,
    word: Vec<u8>,
    line: usize,
    word_line: usize,
    any_bytes: bool,
    done: bool,
}

impl<R: BufRead> CorpusReader<R> {
    /// Words of `reader`.
    pub fn new(reader: R) -> Self {
        CorpusReader {
            reader,
            word: Vec::with_capacity(64),
            line: 1,
            word_line: 1,
            any_bytes: false,
            done: false,
        }
    }

    /// The 1-based line the reader is on (text8 stays on line 1).
    pub fn line(&self) -> usize {
        self.line
    }

    /// The 1-based line the last word returned started on.
    pub fn word_line(&self) -> usize {
        self.word_line
    }

    /// The next word, or `None` at the end. An empty stream, a NUL byte or a
    /// word that is not UTF-8 is an [`Error::Format`].
    pub fn next_word(&mut self) -> Result<Option<&str>> {
        if self.done {
            return Ok(None);
        }
        self.word.clear();
        loop {
            let buf = match self.reader.fill_buf() {
                Ok(buf) => buf,
                Err(e) => {
                    self.done = true;
                    return Err(read_error(e, Some(self.line), "a text corpus"));
                }
            };
            if buf.is_empty() {
                self.done = true;
                if !self.any_bytes {
                    return Err(self.fail(None, "file is empty, expected a text corpus"));
                }
                break;
            }
            self.any_bytes = true;
            let mut used = 0;
            let mut complete = false;
            for &b in buf {
                used += 1;
                if is_separator(b) {
                    if b == b'\n' {
                        self.line += 1;
                    }
                    if !self.word.is_empty() {
                        complete = true;
                        break;
                    }
                } else if b == 0 {
                    self.reader.consume(used);
                    return Err(self.fail(
                        Some(self.line),
                        "NUL byte: this looks like a binary file, expected a text corpus",
                    ));
                } else {
                    if self.word.is_empty() {
                        self.word_line = self.line;
                    }
                    self.word.push(b);
                }
            }
            self.reader.consume(used);
            if complete {
                break;
            }
        }
        if self.word.is_empty() {
            return Ok(None);
        }
        // The newline that ended the word is counted already.
        let line = self.word_line;
        match std::str::from_utf8(&self.word) {
            Ok(w) => Ok(Some(w)),
            Err(_) => {
                self.done = true;
                Err(Error::format(
                    Source::stream(),
                    Some(line),
                    "invalid UTF-8 in a word, expected a UTF-8 text corpus",
                ))
            }
        }
    }

    fn fail(&mut self, line: Option<usize>, msg: &str) -> Error {
        self.done = true;
        Error::format(Source::stream(), line, msg)
    }
}

fn is_separator(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

impl<R: BufRead> Iterator for CorpusReader<R> {
    type Item = Result<String>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_word().map(|w| w.map(str::to_string)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use std::io::BufReader;

    use super::*;

    #[test]
    fn words_across_tiny_chunks() {
        let text = " anarchism originated\tas a\r\nterm  of abuse ";
        // A 3-byte buffer cuts words at every possible place.
        let r = BufReader::with_capacity(3, text.as_bytes());
        let words: Vec<String> = CorpusReader::new(r).map(|w| w.unwrap()).collect();
        assert_eq!(
            words,
            ["anarchism", "originated", "as", "a", "term", "of", "abuse"]
        );
        let r = BufReader::with_capacity(2, "né à\u{a0}x".as_bytes());
        let words: Vec<String> = CorpusReader::new(r).map(|w| w.unwrap()).collect();
        assert_eq!(words, ["né", "à\u{a0}x"]);
    }

    #[test]
    fn errors_are_clear() {
        let e = CorpusReader::new(&b""[..]).next().unwrap().unwrap_err();
        assert_eq!(
            e.to_string(),
            "<input>: file is empty, expected a text corpus"
        );
        let mut r = CorpusReader::new(&b"a\nb \xff\xfe c"[..]);
        assert_eq!(r.next().unwrap().unwrap(), "a");
        assert_eq!(r.next().unwrap().unwrap(), "b");
        let e = r.next().unwrap().unwrap_err().to_string();
        assert_eq!(
            e,
            "<input>:2: invalid UTF-8 in a word, expected a UTF-8 text corpus"
        );
        assert!(r.next().is_none());
        let e = CorpusReader::new(&b"ab\0"[..]).next().unwrap().unwrap_err();
        assert!(e.to_string().contains("binary"));
        // Whitespace only: not empty, just no words.
        assert!(CorpusReader::new(&b" \n "[..]).next().is_none());
    }
}
