//! BLEU from its sufficient statistics (Papineni et al., 2002), with the
//! smoothing methods of Chen & Cherry (2014) exactly as sacreBLEU 2.x's
//! `BLEU.compute_bleu`, and the score line and signature sacreBLEU prints
//! (Post, 2018).

use std::fmt;

use super::{BleuConfig, Smooth, Tokenize};

/// The sacreBLEU release whose behaviour (and `version:` signature field) this
/// module reproduces.
pub const SACREBLEU_VERSION: &str = "2.6.0";

/// sacreBLEU's `my_log`: the log of a zero precision is floored to this value
/// rather than `-inf`, so the score is `exp(-huge)` = 0 instead of NaN.
const LOG_ZERO: f64 = -9_999_999_999.0;

/// How many references each segment had, for the signature's `nrefs:` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NRefs {
    /// Every segment had this many references.
    Fixed(usize),
    /// Segments had different numbers of references (`nrefs:var`).
    Var,
}

impl fmt::Display for NRefs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NRefs::Fixed(n) => write!(f, "{n}"),
            NRefs::Var => f.write_str("var"),
        }
    }
}

/// sacreBLEU's reproducibility signature for a BLEU score. `Display` gives the
/// long form, `nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0`.
#[derive(Clone, Debug, PartialEq)]
pub struct BleuSignature {
    /// References per segment.
    pub nrefs: NRefs,
    /// Whether text was lowercased (`case:lc`) or not (`case:mixed`).
    pub lowercase: bool,
    /// Whether effective order was used (`eff:yes`).
    pub effective_order: bool,
    /// The tokeniser (`tok:`).
    pub tokenize: Tokenize,
    /// The smoothing method and value (`smooth:`).
    pub smooth: Smooth,
}

impl BleuSignature {
    fn fields(&self, short: bool) -> String {
        let pick = |long: &'static str, abbr: &'static str| if short { abbr } else { long };
        // sacreBLEU prints `smooth_method[value:.2f]` for the methods that take a value.
        let smooth = match self.smooth {
            Smooth::Exp => "exp".to_string(),
            Smooth::None => "none".to_string(),
            Smooth::Floor(v) => format!("floor[{v:.2}]"),
            Smooth::AddK(k) => format!("add-k[{k:.2}]"),
        };
        format!(
            "{}:{}|{}:{}|{}:{}|{}:{}|{}:{}|{}:{SACREBLEU_VERSION}",
            pick("nrefs", "#"),
            self.nrefs,
            pick("case", "c"),
            if self.lowercase { "lc" } else { "mixed" },
            pick("eff", "e"),
            if self.effective_order { "yes" } else { "no" },
            pick("tok", "tok"),
            self.tokenize.name(),
            pick("smooth", "s"),
            smooth,
            pick("version", "v"),
        )
    }

    /// sacreBLEU's short form, `#:1|c:mixed|e:no|tok:13a|s:exp|v:2.6.0`.
    pub fn short(&self) -> String {
        self.fields(true)
    }
}

impl fmt::Display for BleuSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.fields(false))
    }
}

/// A BLEU result, field for field sacreBLEU's `BLEUScore`. `Display` prints
/// sacreBLEU's line: `BLEU = 38.58 81.2/48.1/27.3/23.5 (BP = 0.969 ratio = 0.970
/// hyp_len = 32 ref_len = 33)`.
#[derive(Clone, Debug, PartialEq)]
pub struct BleuScore {
    /// BLEU on the 0–100 scale.
    pub score: f64,
    /// Matched n-grams per order (after add-k smoothing, as sacreBLEU reports
    /// them; whole numbers unless k is fractional).
    pub counts: Vec<f64>,
    /// Hypothesis n-grams per order (after add-k smoothing, as `counts`).
    pub totals: Vec<f64>,
    /// Smoothed n-gram precisions, 0–100.
    pub precisions: Vec<f64>,
    /// Brevity penalty.
    pub bp: f64,
    /// Total hypothesis length in tokens.
    pub sys_len: u64,
    /// Total (closest) reference length in tokens.
    pub ref_len: u64,
    signature: BleuSignature,
}

impl BleuScore {
    /// `sys_len / ref_len`, or 0 when there is no reference text (as sacreBLEU).
    pub fn ratio(&self) -> f64 {
        if self.ref_len == 0 {
            0.0
        } else {
            self.sys_len as f64 / self.ref_len as f64
        }
    }

    /// The reproducibility signature of the configuration that produced this score.
    pub fn signature(&self) -> &BleuSignature {
        &self.signature
    }

    /// The line sacreBLEU's command line prints:
    /// `BLEU|nrefs:1|…|version:2.6.0 = 38.58 81.2/… (BP = … ref_len = 33)`.
    pub fn format_with_signature(&self) -> String {
        let plain = self.to_string();
        let rest = plain.strip_prefix("BLEU").unwrap_or(&plain);
        format!("BLEU|{}{rest}", self.signature)
    }
}

impl fmt::Display for BleuScore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BLEU = {:.2} ", self.score)?;
        for (i, p) in self.precisions.iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            write!(f, "{p:.1}")?;
        }
        write!(
            f,
            " (BP = {:.3} ratio = {:.3} hyp_len = {} ref_len = {})",
            self.bp,
            self.ratio(),
            self.sys_len,
            self.ref_len
        )
    }
}

/// sacreBLEU's `compute_bleu` over summed statistics: `correct` and `total`
/// hold one entry per n-gram order. `cfg.validate()` has already run.
pub(super) fn compute_bleu(
    correct: &[u64],
    total: &[u64],
    sys_len: u64,
    ref_len: u64,
    nrefs: NRefs,
    cfg: &BleuConfig,
) -> BleuScore {
    let order = cfg.max_ngram_order;
    let mut counts: Vec<f64> = correct.iter().map(|&c| c as f64).collect();
    let mut totals: Vec<f64> = total.iter().map(|&t| t as f64).collect();
    let bp = if sys_len < ref_len {
        if sys_len > 0 {
            (1.0 - ref_len as f64 / sys_len as f64).exp()
        } else {
            0.0
        }
    } else {
        1.0
    };
    let mut precisions = vec![0.0; order];
    let result = |score, counts, totals, precisions| BleuScore {
        score,
        counts,
        totals,
        precisions,
        bp,
        sys_len,
        ref_len,
        signature: BleuSignature {
            nrefs,
            lowercase: cfg.lowercase,
            effective_order: cfg.effective_order,
            tokenize: cfg.tokenize,
            smooth: cfg.smooth,
        },
    };
    // sacreBLEU #141: no match at all is 0, whatever the smoothing.
    if correct.iter().all(|&c| c == 0) {
        return result(0.0, counts, totals, precisions);
    }
    let mut smooth_mteval = 1.0;
    let mut eff_order = order;
    for n in 0..order {
        if let Smooth::AddK(k) = cfg.smooth
            && n > 0
        {
            counts[n] += k;
            totals[n] += k;
        }
        // Orders the hypotheses are too short to have end the loop; without
        // effective order their precision stays 0 and floors the score.
        if totals[n] == 0.0 {
            break;
        }
        if cfg.effective_order {
            eff_order = n + 1;
        }
        precisions[n] = if counts[n] == 0.0 {
            match cfg.smooth {
                Smooth::Exp => {
                    smooth_mteval *= 2.0;
                    100.0 / (smooth_mteval * totals[n])
                }
                Smooth::Floor(v) => 100.0 * v / totals[n],
                Smooth::None | Smooth::AddK(_) => 0.0,
            }
        } else {
            100.0 * counts[n] / totals[n]
        };
    }
    let log_sum: f64 = precisions[..eff_order]
        .iter()
        .map(|&p| if p == 0.0 { LOG_ZERO } else { p.ln() })
        .sum();
    let score = bp * (log_sum / eff_order as f64).exp();
    result(score, counts, totals, precisions)
}
