//! BLEU (Papineni et al., 2002, "BLEU: a Method for Automatic Evaluation of
//! Machine Translation"), reproducing sacreBLEU 2.x exactly (Post, 2018, "A
//! Call for Clarity in Reporting BLEU Scores"): same tokenisers, clipping,
//! closest-reference brevity penalty, smoothing, effective order, score line
//! and signature.
//!
//! ```
//! use attend::metrics::{BleuConfig, corpus_bleu};
//! let hyps = ["the cat is on the mat ."];
//! let refs = vec![vec!["the cat is on the mat ."]];
//! let bleu = corpus_bleu(&hyps, &refs, &BleuConfig::default())?;
//! assert!((bleu.score - 100.0).abs() < 1e-9);
//! assert_eq!(bleu.signature().to_string(),
//!            "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0");
//! # Ok::<(), attend::Error>(())
//! ```

mod score;
mod stats;
pub mod tokenize;

use serde::{Deserialize, Serialize};

pub use score::{BleuScore, BleuSignature, NRefs, SACREBLEU_VERSION};
pub use stats::BleuStats;
pub use tokenize::Tokenize;

use crate::{Error, Result};

/// Smoothing of zero n-gram precisions (Chen & Cherry, 2014), as sacreBLEU's
/// `smooth_method` / `smooth_value`. In TOML/JSON: `"exp"`, `"none"`,
/// `{ floor = 0.1 }`, `{ add-k = 1.0 }`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Smooth {
    /// NIST/mteval-v13a smoothing: the k-th zero precision becomes 1/(2^k · total).
    #[default]
    Exp,
    /// No smoothing: any zero precision makes BLEU 0.
    None,
    /// A zero match count is replaced by this value (sacreBLEU default 0.1).
    Floor(f64),
    /// k is added to matches and totals of orders 2 and up (sacreBLEU default 1).
    AddK(f64),
}

impl Smooth {
    /// sacreBLEU's `(smooth_method, smooth_value)`: `None` takes the method's
    /// default value (floor 0.1, add-k 1); methods without a value ignore it.
    pub fn from_method(method: &str, value: Option<f64>) -> Result<Self> {
        match method {
            "exp" => Ok(Smooth::Exp),
            "none" => Ok(Smooth::None),
            "floor" => Ok(Smooth::Floor(value.unwrap_or(0.1))),
            "add-k" => Ok(Smooth::AddK(value.unwrap_or(1.0))),
            other => Err(Error::Config(format!(
                "unknown BLEU smoothing {other:?} (expected exp, none, floor or add-k)"
            ))),
        }
    }

    /// sacreBLEU's name for the method.
    pub fn method(self) -> &'static str {
        match self {
            Smooth::Exp => "exp",
            Smooth::None => "none",
            Smooth::Floor(_) => "floor",
            Smooth::AddK(_) => "add-k",
        }
    }
}

/// How BLEU is computed. `Default` is sacreBLEU's `corpus_bleu` default;
/// [`BleuConfig::sentence`] is its `sentence_bleu` default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BleuConfig {
    /// Tokeniser applied to hypotheses and references.
    pub tokenize: Tokenize,
    /// Lowercase everything first (`case:lc`).
    pub lowercase: bool,
    /// Smoothing method.
    pub smooth: Smooth,
    /// Highest n-gram order (4).
    pub max_ngram_order: usize,
    /// Average only over the orders the hypotheses are long enough to have,
    /// so short sentences are not floored to 0 (recommended for sentence BLEU).
    pub effective_order: bool,
}

impl Default for BleuConfig {
    fn default() -> Self {
        Self {
            tokenize: Tokenize::Mteval13a,
            lowercase: false,
            smooth: Smooth::Exp,
            max_ngram_order: 4,
            effective_order: false,
        }
    }
}

impl BleuConfig {
    /// sacreBLEU's `sentence_bleu` defaults: the corpus defaults with effective order.
    pub fn sentence() -> Self {
        Self {
            effective_order: true,
            ..Self::default()
        }
    }

    /// Checks the values sacreBLEU would choke on (an order of 0, a negative
    /// or non-finite smoothing value).
    pub fn validate(&self) -> Result<()> {
        if self.max_ngram_order == 0 {
            return Err(Error::Config(
                "BLEU max_ngram_order must be at least 1".into(),
            ));
        }
        if let Smooth::Floor(v) | Smooth::AddK(v) = self.smooth
            && !(v.is_finite() && v >= 0.0)
        {
            return Err(Error::Config(format!(
                "BLEU {} smoothing value must be finite and non-negative, got {v}",
                self.smooth.method()
            )));
        }
        Ok(())
    }
}

/// Corpus BLEU of `hyps` against one or more reference streams; `refs[j][i]`
/// is stream `j`'s reference for hypothesis `i` (sacreBLEU's layout). Every
/// stream must have one line per hypothesis.
pub fn corpus_bleu<H: AsRef<str>, R: AsRef<str>>(
    hyps: &[H],
    refs: &[Vec<R>],
    cfg: &BleuConfig,
) -> Result<BleuScore> {
    let mut stats = BleuStats::new(cfg)?;
    super::segments::each_segment("BLEU", hyps, refs, |hyp, refs| stats.add(hyp, refs))?;
    stats.score()
}

/// BLEU of one hypothesis against its references (at least one). Pass
/// [`BleuConfig::sentence`] for sacreBLEU's `sentence_bleu` defaults.
pub fn sentence_bleu<R: AsRef<str>>(hyp: &str, refs: &[R], cfg: &BleuConfig) -> Result<BleuScore> {
    let mut stats = BleuStats::new(cfg)?;
    stats.add(hyp, refs)?;
    stats.score()
}

#[cfg(test)]
mod tests;
