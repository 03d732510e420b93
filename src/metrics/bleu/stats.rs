//! BLEU's sufficient statistics (Papineni et al., 2002): per n-gram order the
//! clipped matches and hypothesis n-grams, plus hypothesis and closest
//! reference lengths, accumulated segment by segment as sacreBLEU 2.x does
//! (Post, 2018), so evaluation never has to hold a corpus of strings.

use std::collections::HashMap;

use super::score::{NRefs, compute_bleu};
use super::tokenize::{preprocess, python_split};
use super::{BleuConfig, BleuScore};
use crate::{Error, Result};

/// Running BLEU statistics for one configuration. Add segments with
/// [`add`](Self::add), combine shards with [`merge`](Self::merge), and read the
/// score with [`score`](Self::score). The configuration lives inside so the
/// tokenisation of the statistics and the signature of the score cannot disagree.
#[derive(Clone, Debug, PartialEq)]
pub struct BleuStats {
    cfg: BleuConfig,
    sys_len: u64,
    ref_len: u64,
    correct: Vec<u64>,
    total: Vec<u64>,
    nrefs: Option<NRefs>,
    segments: usize,
}

impl BleuStats {
    /// Empty statistics for `cfg` (validated here).
    pub fn new(cfg: &BleuConfig) -> Result<Self> {
        cfg.validate()?;
        Ok(Self {
            cfg: cfg.clone(),
            sys_len: 0,
            ref_len: 0,
            correct: vec![0; cfg.max_ngram_order],
            total: vec![0; cfg.max_ngram_order],
            nrefs: None,
            segments: 0,
        })
    }

    /// The configuration these statistics are computed under.
    pub fn config(&self) -> &BleuConfig {
        &self.cfg
    }

    /// How many segments have been added.
    pub fn segments(&self) -> usize {
        self.segments
    }

    /// Adds one segment: a hypothesis and its references (at least one; an
    /// empty string is a reference of length 0, as in sacreBLEU). n-gram
    /// matches are clipped by the largest count in any single reference.
    pub fn add<R: AsRef<str>>(&mut self, hyp: &str, refs: &[R]) -> Result<()> {
        if refs.is_empty() {
            return Err(Error::Shape(format!(
                "BLEU segment {} has no reference",
                self.segments + 1
            )));
        }
        let (tok, lc, order) = (
            self.cfg.tokenize,
            self.cfg.lowercase,
            self.cfg.max_ngram_order,
        );
        let refs: Vec<String> = refs
            .iter()
            .map(|r| preprocess(r.as_ref(), tok, lc))
            .collect();
        let ref_tokens: Vec<Vec<&str>> = refs.iter().map(|r| python_split(r).collect()).collect();
        let mut ref_max: HashMap<&[&str], u64> = HashMap::new();
        for toks in &ref_tokens {
            for (gram, count) in ngram_counts(toks, order) {
                let best = ref_max.entry(gram).or_insert(0);
                *best = (*best).max(count);
            }
        }
        let hyp = preprocess(hyp, tok, lc);
        let hyp_tokens: Vec<&str> = python_split(&hyp).collect();
        for (gram, count) in ngram_counts(&hyp_tokens, order) {
            let n = gram.len() - 1;
            self.total[n] += count;
            if let Some(&in_ref) = ref_max.get(gram) {
                self.correct[n] += count.min(in_ref);
            }
        }
        let hyp_len = hyp_tokens.len() as u64;
        self.sys_len += hyp_len;
        self.ref_len += closest_ref_len(hyp_len, ref_tokens.iter().map(|t| t.len() as u64));
        self.nrefs = Some(combine(self.nrefs, NRefs::Fixed(refs.len())));
        self.segments += 1;
        Ok(())
    }

    /// Adds the statistics of another shard computed under the same configuration.
    pub fn merge(&mut self, other: &BleuStats) -> Result<()> {
        if other.cfg != self.cfg {
            return Err(Error::Config(format!(
                "cannot merge BLEU statistics of different configurations ({:?} vs {:?})",
                self.cfg, other.cfg
            )));
        }
        self.sys_len += other.sys_len;
        self.ref_len += other.ref_len;
        for (a, b) in self.correct.iter_mut().zip(&other.correct) {
            *a += b;
        }
        for (a, b) in self.total.iter_mut().zip(&other.total) {
            *a += b;
        }
        if let Some(n) = other.nrefs {
            self.nrefs = Some(combine(self.nrefs, n));
        }
        self.segments += other.segments;
        Ok(())
    }

    /// The corpus BLEU of everything added so far; an error when nothing was
    /// added (sacreBLEU refuses an empty hypothesis stream too).
    pub fn score(&self) -> Result<BleuScore> {
        let nrefs = self
            .nrefs
            .ok_or_else(|| Error::Shape("BLEU needs at least one segment".to_string()))?;
        Ok(compute_bleu(
            &self.correct,
            &self.total,
            self.sys_len,
            self.ref_len,
            nrefs,
            &self.cfg,
        ))
    }
}

/// The reference-count field after seeing one more segment or shard.
fn combine(seen: Option<NRefs>, next: NRefs) -> NRefs {
    match seen {
        None => next,
        Some(prev) if prev == next => prev,
        Some(_) => NRefs::Var,
    }
}

/// sacreBLEU's `_get_closest_ref_len`: the reference length nearest the
/// hypothesis length; on a tie the shorter reference wins.
pub(super) fn closest_ref_len(hyp_len: u64, ref_lens: impl IntoIterator<Item = u64>) -> u64 {
    let mut best: Option<(u64, u64)> = None; // (distance, length)
    for len in ref_lens {
        let diff = hyp_len.abs_diff(len);
        best = match best {
            Some((d, l)) if d < diff || (d == diff && l <= len) => Some((d, l)),
            _ => Some((diff, len)),
        };
    }
    best.map_or(0, |(_, l)| l)
}

/// Counts of every n-gram of orders 1..=`order` in `tokens`.
fn ngram_counts<'a, 'b>(tokens: &'a [&'b str], order: usize) -> HashMap<&'a [&'b str], u64> {
    let mut counts = HashMap::new();
    for n in 1..=order.min(tokens.len()) {
        for gram in tokens.windows(n) {
            *counts.entry(gram).or_insert(0) += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_reference_prefers_shorter_on_tie() {
        assert_eq!(closest_ref_len(5, [7, 3]), 3);
        assert_eq!(closest_ref_len(5, [3, 7]), 3);
        assert_eq!(closest_ref_len(5, [9, 6, 4]), 4);
        assert_eq!(closest_ref_len(5, [9, 6]), 6);
    }

    #[test]
    fn clipping_uses_the_largest_count_in_one_reference() {
        let cfg = BleuConfig::default();
        let mut stats = BleuStats::new(&cfg).unwrap();
        // "the" appears once in each reference: clipped to 1, not 2.
        stats.add("the the the", &["the cat", "a the"]).unwrap();
        assert_eq!(stats.correct[0], 1);
        assert_eq!(stats.total, vec![3, 2, 1, 0]);
        assert_eq!(stats.ref_len, 2);
    }

    #[test]
    fn merge_equals_adding_everything_to_one() {
        let cfg = BleuConfig::default();
        let segs = [("a b c d", "a b c e"), ("x y", "x y z"), ("p q r", "p q r")];
        let mut whole = BleuStats::new(&cfg).unwrap();
        let mut left = BleuStats::new(&cfg).unwrap();
        let mut right = BleuStats::new(&cfg).unwrap();
        for (i, (h, r)) in segs.iter().enumerate() {
            whole.add(h, &[r]).unwrap();
            if i < 1 { &mut left } else { &mut right }
                .add(h, &[r])
                .unwrap();
        }
        left.merge(&right).unwrap();
        assert_eq!(left, whole);
        let other = BleuStats::new(&BleuConfig::sentence()).unwrap();
        assert!(left.merge(&other).is_err());
    }

    #[test]
    fn varying_reference_counts_sign_as_var() {
        let mut stats = BleuStats::new(&BleuConfig::default()).unwrap();
        stats.add("a b", &["a b"]).unwrap();
        assert!(
            stats
                .score()
                .unwrap()
                .signature()
                .to_string()
                .starts_with("nrefs:1|")
        );
        stats.add("a b", &["a b", "a c"]).unwrap();
        assert!(
            stats
                .score()
                .unwrap()
                .signature()
                .to_string()
                .starts_with("nrefs:var|")
        );
    }

    #[test]
    fn no_segments_or_no_references_are_errors() {
        let mut stats = BleuStats::new(&BleuConfig::default()).unwrap();
        assert!(stats.score().is_err());
        assert!(stats.add("a", &[] as &[&str]).is_err());
    }
}
