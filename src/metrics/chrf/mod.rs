//! chrF (Popović, 2015, "chrF: character n-gram F-score for automatic MT
//! evaluation") and chrF++ (Popović, 2017, "chrF++: words helping character
//! n-grams"), reproducing sacreBLEU 2.6.0's `CHRF` metric exactly: the same
//! whitespace removal, punctuation split for word n-grams, per-segment choice
//! of the best reference, corpus statistics summed before the F-score, the
//! averaging of `CHRF._compute_f_score`, and the signature.
//!
//! ```
//! use attend::metrics::{ChrfConfig, corpus_chrf};
//! let hyps = ["The cat sat on the mat."];
//! let refs = vec![vec!["The cat sat on the mat."]];
//! let chrf = corpus_chrf(&hyps, &refs, &ChrfConfig::default())?;
//! assert!((chrf.score - 100.0).abs() < 1e-9);
//! assert_eq!(chrf.signature().to_string(),
//!            "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0");
//! # Ok::<(), attend::Error>(())
//! ```

mod score;
mod stats;

use serde::{Deserialize, Serialize};

pub use score::{ChrfScore, ChrfSignature};
pub use stats::ChrfStats;

use crate::{Error, Result};

/// How chrF is computed; field names and `Default` are those of sacreBLEU's
/// `CHRF` class (chrF2: character 6-grams, no word n-grams, β = 2).
/// [`ChrfConfig::plus_plus`] is chrF++.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChrfConfig {
    /// Highest character n-gram order (`nc:`, 6).
    pub char_order: usize,
    /// Highest word n-gram order (`nw:`); 0 is chrF, 2 is chrF++.
    pub word_order: usize,
    /// Recall weighs β times as much as precision (2). sacreBLEU leaves β out
    /// of the signature; it shows in the score's name, `chrF2`.
    pub beta: u32,
    /// Lowercase hypotheses and references first (`case:lc`).
    pub lowercase: bool,
    /// Keep whitespace inside character n-grams (`space:yes`); by default it
    /// is removed, as chrF's definition has it.
    pub whitespace: bool,
    /// Average per-order F-scores with ε for missing orders, like chrF++.py,
    /// Moses and NLTK (`eff:no`), instead of sacreBLEU's default F-score of the
    /// precisions and recalls averaged over the orders present (`eff:yes`).
    pub eps_smoothing: bool,
}

impl Default for ChrfConfig {
    fn default() -> Self {
        Self {
            char_order: 6,
            word_order: 0,
            beta: 2,
            lowercase: false,
            whitespace: false,
            eps_smoothing: false,
        }
    }
}

impl ChrfConfig {
    /// chrF++: the defaults plus word unigrams and bigrams (`word_order` 2).
    pub fn plus_plus() -> Self {
        Self {
            word_order: 2,
            ..Self::default()
        }
    }

    /// Rejects a configuration with no n-gram order at all: sacreBLEU divides
    /// by zero there under ε smoothing and reports a meaningless 0 otherwise.
    pub fn validate(&self) -> Result<()> {
        if self.char_order + self.word_order == 0 {
            return Err(Error::Config(
                "chrF needs char_order + word_order of at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// Corpus chrF of `hyps` against one or more reference streams; `refs[j][i]`
/// is stream `j`'s reference for hypothesis `i` (sacreBLEU's layout, as
/// [`corpus_bleu`](crate::metrics::corpus_bleu)). Every stream must have one
/// line per hypothesis.
pub fn corpus_chrf<H: AsRef<str>, R: AsRef<str>>(
    hyps: &[H],
    refs: &[Vec<R>],
    cfg: &ChrfConfig,
) -> Result<ChrfScore> {
    let mut stats = ChrfStats::new(cfg)?;
    super::segments::each_segment("chrF", hyps, refs, |hyp, refs| stats.add(hyp, refs))?;
    stats.score()
}

/// chrF of one hypothesis against its references (at least one); sacreBLEU's
/// `sentence_chrf` uses the same defaults as the corpus score.
pub fn sentence_chrf<R: AsRef<str>>(hyp: &str, refs: &[R], cfg: &ChrfConfig) -> Result<ChrfScore> {
    let mut stats = ChrfStats::new(cfg)?;
    stats.add(hyp, refs)?;
    stats.score()
}

#[cfg(test)]
mod tests;
