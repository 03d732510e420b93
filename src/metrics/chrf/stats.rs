//! chrF's sufficient statistics: per character and word n-gram order the
//! hypothesis n-grams, reference n-grams and clipped matches, taken for each
//! segment from the reference with the best F-score and summed over the
//! corpus, as sacreBLEU 2.6.0's `CHRF` does.

use std::collections::HashMap;
use std::hash::Hash;

use super::score::{chrf_score, f_score};
use super::{ChrfConfig, ChrfScore};
use crate::metrics::NRefs;
use crate::metrics::bleu::tokenize::python_split;
use crate::text::is_python_space;
use crate::{Error, Result};

/// Running chrF statistics for one configuration. Add segments with
/// [`add`](Self::add), combine shards with [`merge`](Self::merge), and read the
/// score with [`score`](Self::score).
#[derive(Clone, Debug, PartialEq)]
pub struct ChrfStats {
    cfg: ChrfConfig,
    totals: Vec<u64>,
    nrefs: Option<NRefs>,
    segments: usize,
}

/// One segment's n-gram counts, character orders then word orders.
struct Ngrams<'a> {
    chars: Vec<HashMap<&'a [char], u64>>,
    words: Vec<HashMap<&'a [&'a str], u64>>,
}

impl ChrfStats {
    /// Empty statistics for `cfg` (validated here).
    pub fn new(cfg: &ChrfConfig) -> Result<Self> {
        cfg.validate()?;
        Ok(Self {
            cfg: cfg.clone(),
            totals: vec![0; 3 * (cfg.char_order + cfg.word_order)],
            nrefs: None,
            segments: 0,
        })
    }

    /// The configuration these statistics are computed under.
    pub fn config(&self) -> &ChrfConfig {
        &self.cfg
    }

    /// How many segments have been added.
    pub fn segments(&self) -> usize {
        self.segments
    }

    /// Adds one segment: a hypothesis and its references (at least one; an
    /// empty string is a reference without n-grams). Of several references
    /// the first with the highest segment F-score counts, as in sacreBLEU.
    pub fn add<R: AsRef<str>>(&mut self, hyp: &str, refs: &[R]) -> Result<()> {
        if refs.is_empty() {
            return Err(Error::Shape(format!(
                "chrF segment {} has no reference",
                self.segments + 1
            )));
        }
        let hyp = self.prepare(hyp);
        let hyp_words = self.words(&hyp.text);
        let hyp_ngrams = self.ngrams(&hyp.chars, &hyp_words);
        let mut best: Option<(f64, Vec<u64>)> = None;
        for r in refs {
            let r = self.prepare(r.as_ref());
            let r_words = self.words(&r.text);
            let r_ngrams = self.ngrams(&r.chars, &r_words);
            let mut seg = Vec::with_capacity(self.totals.len());
            for (h, r) in hyp_ngrams.chars.iter().zip(&r_ngrams.chars) {
                seg.extend(match_stats(h, r));
            }
            for (h, r) in hyp_ngrams.words.iter().zip(&r_ngrams.words) {
                seg.extend(match_stats(h, r));
            }
            let f = f_score(&seg, self.cfg.beta, self.cfg.eps_smoothing);
            // Strictly greater: on a tie the earlier reference stays.
            if best.as_ref().is_none_or(|(bf, _)| f > *bf) {
                best = Some((f, seg));
            }
        }
        if let Some((_, seg)) = best {
            for (t, s) in self.totals.iter_mut().zip(seg) {
                *t += s;
            }
        }
        self.nrefs = Some(combine(self.nrefs, NRefs::Fixed(refs.len())));
        self.segments += 1;
        Ok(())
    }

    /// Adds the statistics of another shard computed under the same configuration.
    pub fn merge(&mut self, other: &ChrfStats) -> Result<()> {
        if other.cfg != self.cfg {
            return Err(Error::Config(format!(
                "cannot merge chrF statistics of different configurations ({:?} vs {:?})",
                self.cfg, other.cfg
            )));
        }
        for (a, b) in self.totals.iter_mut().zip(&other.totals) {
            *a += b;
        }
        if let Some(n) = other.nrefs {
            self.nrefs = Some(combine(self.nrefs, n));
        }
        self.segments += other.segments;
        Ok(())
    }

    /// The corpus chrF of everything added so far; an error when nothing was
    /// added.
    pub fn score(&self) -> Result<ChrfScore> {
        let nrefs = self
            .nrefs
            .ok_or_else(|| Error::Shape("chrF needs at least one segment".to_string()))?;
        Ok(chrf_score(self.totals.clone(), nrefs, &self.cfg))
    }

    /// sacreBLEU's `_preprocess_segment` (optional `str.lower()`, nothing
    /// else: unlike BLEU, no `rstrip`) and the characters n-grams are cut
    /// from: Python's `''.join(line.split())` unless whitespace is kept.
    fn prepare(&self, sent: &str) -> Prepared {
        let text = if self.cfg.lowercase {
            // Full Unicode mapping with final sigma, as Python's `str.lower()`.
            sent.to_lowercase()
        } else {
            sent.to_string()
        };
        let chars = if self.cfg.whitespace {
            text.chars().collect()
        } else {
            text.chars().filter(|&c| !is_python_space(c)).collect()
        };
        Prepared { text, chars }
    }

    /// chrF++'s words; chrF (word order 0) skips the split.
    fn words<'a>(&self, text: &'a str) -> Vec<&'a str> {
        if self.cfg.word_order > 0 {
            remove_punctuation(text)
        } else {
            Vec::new()
        }
    }

    fn ngrams<'a>(&self, chars: &'a [char], words: &'a [&'a str]) -> Ngrams<'a> {
        Ngrams {
            chars: (1..=self.cfg.char_order)
                .map(|n| count_ngrams(chars, n))
                .collect(),
            words: (1..=self.cfg.word_order)
                .map(|n| count_ngrams(words, n))
                .collect(),
        }
    }
}

/// A preprocessed segment: its text (for words) and its characters.
struct Prepared {
    text: String,
    chars: Vec<char>,
}

/// The reference-count field after seeing one more segment or shard.
fn combine(seen: Option<NRefs>, next: NRefs) -> NRefs {
    match seen {
        None => next,
        Some(prev) if prev == next => prev,
        Some(_) => NRefs::Var,
    }
}

/// Counts of the n-grams of exactly order `n` (none when the sequence is
/// shorter than `n`). Slices stand for sacreBLEU's strings: characters are
/// Python's `str` items, and words hold no space, so `' '.join` of a word
/// n-gram is unique to it.
fn count_ngrams<T: Eq + Hash>(items: &[T], n: usize) -> HashMap<&[T], u64> {
    let mut counts = HashMap::new();
    if n > 0 {
        for gram in items.windows(n) {
            *counts.entry(gram).or_insert(0) += 1;
        }
    }
    counts
}

/// sacreBLEU's `_get_match_statistics`: `[hyp n-grams, ref n-grams, matches]`,
/// matches clipped by the reference count. Hypothesis n-grams count as 0
/// when the reference has none of this order, so the order drops out of the
/// effective-order average.
fn match_stats<K: Eq + Hash>(hyp: &HashMap<K, u64>, refs: &HashMap<K, u64>) -> [u64; 3] {
    let (mut n_hyp, mut n_match) = (0, 0);
    for (gram, &count) in hyp {
        n_hyp += count;
        if let Some(&in_ref) = refs.get(gram) {
            n_match += count.min(in_ref);
        }
    }
    let n_ref = refs.values().sum();
    [if refs.is_empty() { 0 } else { n_hyp }, n_ref, n_match]
}

/// sacreBLEU's `_remove_punctuation` for chrF++'s words (after Popović's
/// chrF++.py): whitespace-split words longer than one character lose one
/// ASCII punctuation mark, the last if it is one, else the first. So `(hi)`
/// gives `(hi` and `)` (sacreBLEU issue 124).
pub(super) fn remove_punctuation(sent: &str) -> Vec<&str> {
    let mut words = Vec::new();
    for w in python_split(sent) {
        let mut chars = w.chars();
        let (first, last) = (chars.next(), chars.next_back());
        match (first, last) {
            // `char::is_ascii_punctuation` is exactly Python's `string.punctuation`.
            (Some(_), Some(l)) if l.is_ascii_punctuation() => {
                let cut = w.len() - l.len_utf8();
                words.extend([&w[..cut], &w[cut..]]);
            }
            (Some(f), Some(_)) if f.is_ascii_punctuation() => {
                let cut = f.len_utf8();
                words.extend([&w[..cut], &w[cut..]]);
            }
            _ => words.push(w),
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn punctuation_split_matches_sacrebleu() {
        // Expected lists printed by sacreBLEU 2.6.0's `CHRF()._remove_punctuation`.
        let cases: [(&str, &[&str]); 6] = [
            ("Hello, world!", &["Hello", ",", "world", "!"]),
            ("(hi) \"x\" . a", &["(hi", ")", "\"x", "\"", ".", "a"]),
            ("«Bonjour», dit-il.", &["«Bonjour»", ",", "dit-il", "."]),
            ("'tis ...", &["'", "tis", "..", "."]),
            ("é! ß", &["é", "!", "ß"]),
            ("", &[]),
        ];
        for (input, want) in cases {
            assert_eq!(remove_punctuation(input), want, "input {input:?}");
        }
    }

    #[test]
    fn match_statistics_clip_and_drop_missing_orders() {
        let hyp = count_ngrams(&['a', 'a', 'b'], 1);
        let r = count_ngrams(&['a', 'c'], 1);
        assert_eq!(match_stats(&hyp, &r), [3, 2, 1]);
        let empty = count_ngrams::<char>(&[], 1);
        assert_eq!(match_stats(&hyp, &empty), [0, 0, 0]);
        assert_eq!(match_stats(&empty, &r), [0, 2, 0]);
    }

    #[test]
    fn best_reference_is_kept_per_segment() {
        let cfg = ChrfConfig::default();
        let mut both = ChrfStats::new(&cfg).unwrap();
        both.add("abc", &["xyz", "abc"]).unwrap();
        let mut good = ChrfStats::new(&cfg).unwrap();
        good.add("abc", &["abc"]).unwrap();
        assert_eq!(both.totals, good.totals);
        assert_eq!(both.score().unwrap().score, 100.0);
    }

    #[test]
    fn merge_equals_adding_everything_to_one() {
        let cfg = ChrfConfig::plus_plus();
        let segs = [("a b c d", "a b c e"), ("x y", "x y z"), ("p q r", "p q r")];
        let mut whole = ChrfStats::new(&cfg).unwrap();
        let mut left = ChrfStats::new(&cfg).unwrap();
        let mut right = ChrfStats::new(&cfg).unwrap();
        for (i, (h, r)) in segs.iter().enumerate() {
            whole.add(h, &[r]).unwrap();
            if i < 1 { &mut left } else { &mut right }
                .add(h, &[r])
                .unwrap();
        }
        left.merge(&right).unwrap();
        assert_eq!(left, whole);
        let other = ChrfStats::new(&ChrfConfig::default()).unwrap();
        assert!(left.merge(&other).is_err());
    }

    #[test]
    fn no_segments_or_no_references_are_errors() {
        let mut stats = ChrfStats::new(&ChrfConfig::default()).unwrap();
        assert!(stats.score().is_err());
        assert!(stats.add("a", &[] as &[&str]).is_err());
    }
}
