//! A word2vec training corpus: one streaming pass over the text (gzip read
//! transparently by `data::open`) that counts words, keeps the ids of the
//! running text, and cuts it into sentences — a line each, or 10,000 words
//! at most, as gensim's `Text8Corpus`/`LineSentence` yield text8's single
//! line. The vocabulary is then fixed (`min_count`, `max_vocab`, most
//! frequent first, as the C tool and gensim order it) and words outside it
//! are dropped from the text before windows are formed, as both tools do.
//!
//! The text is held as `u32` ids, 4 bytes a word (68 MB for text8): every
//! epoch re-reads memory instead of re-decompressing and re-hashing the file.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use crate::data::{CorpusReader, open};
use crate::error::{Error, Result, Source};
use crate::text::{Specials, Vocab};

/// How the corpus is read and which words are kept.
#[derive(Clone, Debug)]
pub struct CorpusConfig {
    /// Words seen fewer times are dropped (C tool and gensim: 5).
    pub min_count: u64,
    /// Keep at most this many words, the most frequent (gensim's
    /// `max_final_vocab`); `None` keeps all.
    pub max_vocab: Option<usize>,
    /// Longest sentence in words; longer lines are cut (gensim: 10,000).
    pub max_sentence: usize,
}

impl Default for CorpusConfig {
    fn default() -> Self {
        CorpusConfig {
            min_count: 5,
            max_vocab: None,
            max_sentence: 10_000,
        }
    }
}

/// A corpus ready for training.
#[derive(Clone, Debug)]
pub struct Corpus {
    /// Kept words, most frequent first, with their counts (no specials).
    pub vocab: Vocab,
    /// The running text as word ids, words outside the vocabulary removed.
    pub ids: Vec<u32>,
    /// End offset in `ids` of every non-empty sentence.
    pub sentence_ends: Vec<usize>,
    /// Words read, kept or not.
    pub raw_words: u64,
    /// Distinct words read, kept or not.
    pub distinct_words: usize,
}

impl Corpus {
    /// Reads the corpus file at `path` (plain or gzip); errors name it.
    pub fn load(path: &Path, cfg: &CorpusConfig) -> Result<Self> {
        Corpus::read(open(path)?, cfg).map_err(|e| e.at_path(path))
    }

    /// Reads a corpus from a stream (errors are labelled as a stream's).
    pub fn read(reader: impl BufRead, cfg: &CorpusConfig) -> Result<Self> {
        if cfg.max_sentence == 0 {
            return Err(Error::Config("max_sentence must be positive".into()));
        }
        let mut words = CorpusReader::new(reader);
        let mut first_seen: HashMap<String, u32> = HashMap::new();
        let mut names: Vec<String> = Vec::new();
        let mut counts: Vec<u64> = Vec::new();
        let mut raw: Vec<u32> = Vec::new();
        let mut raw_ends: Vec<usize> = Vec::new();
        let (mut line, mut in_sentence) = (1usize, 0usize);
        loop {
            let Some(word) = words.next_word()? else {
                break;
            };
            let id = match first_seen.get(word) {
                Some(&id) => id,
                None => {
                    let id = names.len() as u32;
                    first_seen.insert(word.to_string(), id);
                    names.push(word.to_string());
                    counts.push(0);
                    id
                }
            };
            // A word on a later line than the last one starts a sentence.
            let word_line = words.word_line();
            if (word_line != line || in_sentence == cfg.max_sentence) && in_sentence > 0 {
                raw_ends.push(raw.len());
                in_sentence = 0;
            }
            line = word_line;
            counts[id as usize] += 1;
            raw.push(id);
            in_sentence += 1;
        }
        if in_sentence > 0 {
            raw_ends.push(raw.len());
        }
        drop(first_seen);
        if raw.is_empty() {
            return Err(Error::format(
                Source::stream(),
                None,
                "no words (only whitespace), expected a text corpus",
            ));
        }

        // Most frequent first; ties in order of first appearance (a stable sort).
        let mut order: Vec<u32> = (0..names.len() as u32)
            .filter(|&i| counts[i as usize] >= cfg.min_count)
            .collect();
        order.sort_by_key(|&i| std::cmp::Reverse(counts[i as usize]));
        if let Some(max) = cfg.max_vocab {
            order.truncate(max);
        }
        if order.is_empty() {
            return Err(Error::format(
                Source::stream(),
                None,
                format!(
                    "no word occurs at least min_count = {} times ({} words, {} distinct, the \
                     most frequent seen {} times): lower --min-count or use a larger corpus",
                    cfg.min_count,
                    raw.len(),
                    names.len(),
                    counts.iter().max().copied().unwrap_or(0)
                ),
            ));
        }
        let mut remap = vec![u32::MAX; names.len()];
        for (new, &old) in order.iter().enumerate() {
            remap[old as usize] = new as u32;
        }
        let distinct_words = names.len();
        let kept_words = order
            .iter()
            .map(|&o| std::mem::take(&mut names[o as usize]))
            .collect();
        let kept_counts = order.iter().map(|&o| counts[o as usize]).collect();

        // Drop unknown words in place and move the sentence ends with them.
        let raw_words = raw.len() as u64;
        let mut ids = raw;
        let (mut write, mut start) = (0usize, 0usize);
        let mut sentence_ends = Vec::with_capacity(raw_ends.len());
        for end in raw_ends {
            for read in start..end {
                let id = remap[ids[read] as usize];
                if id != u32::MAX {
                    ids[write] = id;
                    write += 1;
                }
            }
            start = end;
            if sentence_ends.last().copied().unwrap_or(0) < write {
                sentence_ends.push(write);
            }
        }
        ids.truncate(write);
        ids.shrink_to_fit();
        Ok(Corpus {
            vocab: Vocab::from_parts(Specials::of(&[]), kept_words, kept_counts)?,
            ids,
            sentence_ends,
            raw_words,
            distinct_words,
        })
    }

    /// Sentence `i` (`0..sentence_ends.len()`) as ids.
    pub fn sentence(&self, i: usize) -> &[u32] {
        let start = if i == 0 { 0 } else { self.sentence_ends[i - 1] };
        &self.ids[start..self.sentence_ends[i]]
    }

    /// The sentences as id slices.
    pub fn sentences(&self) -> impl Iterator<Item = &[u32]> {
        (0..self.sentence_ends.len()).map(|i| self.sentence(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, cfg: &CorpusConfig) -> Result<Corpus> {
        Corpus::read(text.as_bytes(), cfg).map_err(|e| e.at_path(Path::new("c.txt")))
    }

    #[test]
    fn vocabulary_is_by_frequency_then_first_seen() {
        let cfg = CorpusConfig {
            min_count: 2,
            ..Default::default()
        };
        let c = read("b a c a\nd b a x\n\ny c y", &cfg).unwrap();
        // a:3, b:2, c:2, y:2 (b before c before y by first sight); d, x dropped.
        assert_eq!(c.vocab.tokens(), ["a", "b", "c", "y"]);
        assert_eq!(c.vocab.counts(), [3, 2, 2, 2]);
        assert_eq!(c.raw_words, 11);
        assert_eq!(c.distinct_words, 6);
        let s: Vec<&[u32]> = c.sentences().collect();
        assert_eq!(s, [&[1, 0, 2, 0][..], &[1, 0], &[3, 2, 3]]);
    }

    #[test]
    fn long_lines_are_cut_and_max_vocab_keeps_the_most_frequent() {
        let cfg = CorpusConfig {
            min_count: 1,
            max_vocab: Some(2),
            max_sentence: 3,
        };
        let c = read("a a b c a b a", &cfg).unwrap();
        assert_eq!(c.vocab.tokens(), ["a", "b"]);
        // Raw sentences [a a b] [c a b] [a] → [0 0 1] [0 1] [0].
        let s: Vec<&[u32]> = c.sentences().collect();
        assert_eq!(s, [&[0, 0, 1][..], &[0, 1], &[0]]);
    }

    #[test]
    fn bad_corpora_are_clear_errors() {
        let e = read("", &CorpusConfig::default()).unwrap_err().to_string();
        assert_eq!(e, "c.txt: file is empty, expected a text corpus");
        let e = read(" \n ", &CorpusConfig::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no words"), "{e}");
        let e = read("a b a c", &CorpusConfig::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(
                "c.txt: no word occurs at least min_count = 5 times (4 words, 3 distinct"
            ),
            "{e}"
        );
        let e = Corpus::read(&b"a\nb\xff"[..], &CorpusConfig::default())
            .map_err(|e| e.at_path(Path::new("c.txt")))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.txt:2: invalid UTF-8"), "{e}");
    }
}
