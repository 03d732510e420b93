//! How translations are scored, in training's validation and in
//! `translate eval` alike: corpus BLEU (Papineni et al. 2002) as sacreBLEU
//! computes it, and exact match; `translate eval` adds chrF (Popović, 2015),
//! also sacreBLEU's. The text pipeline says how BLEU tokenises
//! ([`Text::bleu_config`](super::Text::bleu_config)): `none` for the
//! lessons' text, tokenised by the model's own pipeline already, which is
//! what the reference scripts report; `13a` for detokenised translations
//! of real text against raw references, as papers report. Validation
//! curves, evaluations and their numbers then compare directly.

use std::time::Instant;

use serde::Serialize;

use super::{DecodeConfig, Translator};
use crate::data::Pair;
use crate::metrics::{BleuConfig, BleuScore, ChrfConfig, corpus_bleu, corpus_chrf};
use crate::{Error, Result};

/// BLEU and exact match of a set of translations.
#[derive(Clone, Debug)]
pub(crate) struct Scores {
    /// Corpus BLEU against one reference per translation.
    pub bleu: BleuScore,
    /// Fraction of translations equal to their reference.
    pub exact_match: f64,
}

/// Scores `hyps` against `refs` (one reference each, in the same order)
/// with BLEU as `cfg` says.
pub(crate) fn score<H: AsRef<str>, R: AsRef<str>>(
    hyps: &[H],
    refs: &[R],
    cfg: &BleuConfig,
) -> Result<Scores> {
    let refs: Vec<&str> = refs.iter().map(AsRef::as_ref).collect();
    let bleu = corpus_bleu(hyps, std::slice::from_ref(&refs), cfg)?;
    let exact = hyps
        .iter()
        .zip(&refs)
        .filter(|(h, r)| h.as_ref() == **r)
        .count();
    Ok(Scores {
        bleu,
        exact_match: exact as f64 / refs.len().max(1) as f64,
    })
}

/// Scores of a model on a set of pairs.
#[derive(Clone, Debug, Serialize)]
pub struct EvalReport {
    /// Corpus BLEU (sacreBLEU, as the signature says).
    pub bleu: f64,
    /// Fraction of translations equal to their reference.
    pub exact_match: f64,
    /// sacreBLEU's signature of the BLEU settings.
    pub signature: String,
    /// chrF2 (sacreBLEU's defaults; lowercased when BLEU is).
    pub chrf: f64,
    /// sacreBLEU's signature of the chrF settings.
    pub chrf_signature: String,
    /// Sentences scored.
    pub sentences: usize,
    /// Output tokens produced per second of decoding.
    pub tokens_per_second: f64,
    /// sacreBLEU's one-line BLEU summary.
    pub summary: String,
    /// sacreBLEU's chrF line (`chrF2 = 58.21`).
    pub chrf_summary: String,
    /// The translations, in input order.
    #[serde(skip)]
    pub hypotheses: Vec<String>,
}

/// Translates the sources of `pairs` with one model, or an ensemble of
/// several ([`Translator::ensemble`]), and scores them against their
/// targets ([`Text::reference`](super::Text::reference)) with BLEU as
/// `bleu` says (the pipeline's own settings are
/// [`Text::bleu_config`](super::Text::bleu_config)) and chrF.
pub fn evaluate(
    members: &[&Translator],
    pairs: &[Pair],
    decode: &DecodeConfig,
    bleu: &BleuConfig,
) -> Result<EvalReport> {
    if pairs.is_empty() {
        return Err(Error::Config("nothing to evaluate: no pairs".into()));
    }
    let Some(tr) = members.first() else {
        return Err(Error::Config("nothing to evaluate with: no model".into()));
    };
    let sources: Vec<&str> = pairs.iter().map(|p| p.src.as_str()).collect();
    let started = Instant::now();
    let out = Translator::ensemble(members, &sources, decode)?;
    let seconds = started.elapsed().as_secs_f64();
    let hyps: Vec<String> = out.iter().map(|t| t.text.clone()).collect();
    let refs: Vec<String> = pairs
        .iter()
        .map(|p| tr.text().reference(&p.tgt))
        .collect::<Result<_>>()?;
    let scores = score(&hyps, &refs, bleu)?;
    let chrf_cfg = ChrfConfig {
        lowercase: bleu.lowercase,
        ..ChrfConfig::default()
    };
    let chrf = corpus_chrf(&hyps, std::slice::from_ref(&refs), &chrf_cfg)?;
    let produced: usize = out.iter().map(|t| t.tokens.len() + 1).sum();
    Ok(EvalReport {
        bleu: scores.bleu.score,
        exact_match: scores.exact_match,
        signature: scores.bleu.signature().to_string(),
        chrf: chrf.score,
        chrf_signature: chrf.signature().to_string(),
        chrf_summary: chrf.to_string(),
        sentences: pairs.len(),
        tokens_per_second: produced as f64 / seconds.max(1e-9),
        summary: scores.bleu.to_string(),
        hypotheses: hyps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Tokenize;

    fn tok(tokenize: Tokenize) -> BleuConfig {
        BleuConfig {
            tokenize,
            ..BleuConfig::default()
        }
    }

    #[test]
    fn exact_match_and_bleu_of_a_small_set() -> Result<()> {
        let refs = ["the cat sat on the mat", "i am here", "he is tall"];
        let hyps = ["the cat sat on the mat", "i am here", "he is big"];
        let s = score(&hyps, &refs, &tok(Tokenize::None))?;
        assert!((s.exact_match - 2.0 / 3.0).abs() < 1e-12);
        assert!(s.bleu.score > 0.0 && s.bleu.score < 100.0);
        let same = score(&refs, &refs, &tok(Tokenize::None))?;
        assert_eq!(same.exact_match, 1.0);
        assert!((same.bleu.score - 100.0).abs() < 1e-9);
        // The signature says what was computed: no tokenisation of its own.
        assert!(s.bleu.signature().to_string().contains("tok:none"));
        Ok(())
    }

    #[test]
    fn nothing_to_score_is_an_error_not_a_number() {
        let none: [&str; 0] = [];
        assert!(score(&none, &none, &BleuConfig::default()).is_err());
    }
}
