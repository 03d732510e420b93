//! chrF's F-score from summed n-gram statistics, as sacreBLEU 2.6.0's
//! `CHRF._compute_f_score`, and the score line and signature it prints
//! (Post, 2018).

use std::fmt;

use super::ChrfConfig;
use crate::metrics::{NRefs, SACREBLEU_VERSION};

/// sacreBLEU's `CHRFSignature`. `Display` gives the long form,
/// `nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChrfSignature {
    /// References per segment.
    pub nrefs: NRefs,
    /// Whether text was lowercased (`case:lc`) or not (`case:mixed`).
    pub lowercase: bool,
    /// ε smoothing (`eff:no`) or sacreBLEU's effective order (`eff:yes`).
    pub eps_smoothing: bool,
    /// Character n-gram order (`nc:`).
    pub char_order: usize,
    /// Word n-gram order (`nw:`).
    pub word_order: usize,
    /// Whether whitespace was kept in character n-grams (`space:`).
    pub whitespace: bool,
}

impl ChrfSignature {
    fn fields(&self, short: bool) -> String {
        let pick = |long: &'static str, abbr: &'static str| if short { abbr } else { long };
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        format!(
            "{}:{}|{}:{}|{}:{}|nc:{}|nw:{}|{}:{}|{}:{SACREBLEU_VERSION}",
            pick("nrefs", "#"),
            self.nrefs,
            pick("case", "c"),
            if self.lowercase { "lc" } else { "mixed" },
            pick("eff", "e"),
            yes_no(!self.eps_smoothing),
            self.char_order,
            self.word_order,
            pick("space", "s"),
            yes_no(self.whitespace),
            pick("version", "v"),
        )
    }

    /// sacreBLEU's short form, `#:1|c:mixed|e:yes|nc:6|nw:0|s:no|v:2.6.0`.
    pub fn short(&self) -> String {
        self.fields(true)
    }
}

impl fmt::Display for ChrfSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.fields(false))
    }
}

/// A chrF result, as sacreBLEU's `CHRFScore`. `Display` prints sacreBLEU's
/// line, `chrF2 = 61.53` (or `chrF2++ = …` for word order 2).
#[derive(Clone, Debug, PartialEq)]
pub struct ChrfScore {
    /// chrF on the 0–100 scale.
    pub score: f64,
    /// Character n-gram order.
    pub char_order: usize,
    /// Word n-gram order.
    pub word_order: usize,
    /// β of the F-score.
    pub beta: u32,
    /// The summed statistics the score was computed from: per order
    /// `[hypothesis n-grams, reference n-grams, matches]`, character orders
    /// 1..=`char_order` first, then word orders (sacreBLEU's layout).
    pub stats: Vec<u64>,
    signature: ChrfSignature,
}

impl ChrfScore {
    /// sacreBLEU's name for the metric: `chrF` + β + one `+` per word order.
    pub fn name(&self) -> String {
        format!("chrF{}{}", self.beta, "+".repeat(self.word_order))
    }

    /// The reproducibility signature of the configuration that produced this score.
    pub fn signature(&self) -> &ChrfSignature {
        &self.signature
    }

    /// The line sacreBLEU's command line prints:
    /// `chrF2|nrefs:1|…|version:2.6.0 = 61.53`.
    pub fn format_with_signature(&self) -> String {
        format!("{}|{} = {:.2}", self.name(), self.signature, self.score)
    }
}

impl fmt::Display for ChrfScore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {:.2}", self.name(), self.score)
    }
}

/// The score and signature for summed `stats` (3 per order) under `cfg`.
pub(super) fn chrf_score(stats: Vec<u64>, nrefs: NRefs, cfg: &ChrfConfig) -> ChrfScore {
    ChrfScore {
        score: f_score(&stats, cfg.beta, cfg.eps_smoothing),
        char_order: cfg.char_order,
        word_order: cfg.word_order,
        beta: cfg.beta,
        stats,
        signature: ChrfSignature {
            nrefs,
            lowercase: cfg.lowercase,
            eps_smoothing: cfg.eps_smoothing,
            char_order: cfg.char_order,
            word_order: cfg.word_order,
            whitespace: cfg.whitespace,
        },
    }
}

/// sacreBLEU's `CHRF._compute_f_score` on 0–100, operation for operation so
/// the floating-point result is the same. `stats` holds
/// `[hyp, ref, match]` per order. By default precision and recall are
/// averaged over the orders that both sides have, and one F-score is taken of
/// the averages (sacreBLEU < 2.0's "effective order"); with `eps_smoothing`
/// the per-order F-scores are averaged, ε standing in for what is missing.
pub(super) fn f_score(stats: &[u64], beta: u32, eps_smoothing: bool) -> f64 {
    const EPS: f64 = 1e-16;
    // β² and 1 + β² are Python ints converted to float when multiplied: the
    // same rounding as these `as` conversions of exact u64s.
    let factor_int = u64::from(beta) * u64::from(beta);
    let (factor, one_plus) = (factor_int as f64, (factor_int + 1) as f64);
    let order = stats.len() / 3;
    let mut score = 0.0;
    let (mut avg_prec, mut avg_rec, mut effective) = (0.0, 0.0, 0u32);
    for triple in stats.chunks_exact(3) {
        let (n_hyp, n_ref, n_match) = (triple[0], triple[1], triple[2]);
        let prec = if n_hyp > 0 {
            n_match as f64 / n_hyp as f64
        } else {
            EPS
        };
        let rec = if n_ref > 0 {
            n_match as f64 / n_ref as f64
        } else {
            EPS
        };
        let denom = factor * prec + rec;
        score += if denom > 0.0 {
            one_plus * prec * rec / denom
        } else {
            EPS
        };
        if n_hyp > 0 && n_ref > 0 {
            avg_prec += prec;
            avg_rec += rec;
            effective += 1;
        }
    }
    if eps_smoothing {
        return 100.0 * score / order as f64;
    }
    if effective == 0 {
        return 0.0;
    }
    avg_prec /= f64::from(effective);
    avg_rec /= f64::from(effective);
    if avg_prec + avg_rec == 0.0 {
        return 0.0;
    }
    100.0 * (one_plus * avg_prec * avg_rec / (factor * avg_prec + avg_rec))
}
