//! How translations are scored, in training's validation and in
//! `translate eval` alike: corpus BLEU (Papineni et al. 2002) as sacreBLEU
//! computes it with `tokenize='none'` on the normalised text, and exact
//! match. `tokenize='none'` because the text is tokenised by the model's own
//! pipeline already, and it is what the reference scripts report, so
//! validation curves, evaluations and their numbers compare directly.

use crate::Result;
use crate::metrics::{BleuConfig, BleuScore, Tokenize, corpus_bleu};

/// BLEU and exact match of a set of translations.
#[derive(Clone, Debug)]
pub(crate) struct Scores {
    /// Corpus BLEU against one reference per translation.
    pub bleu: BleuScore,
    /// Fraction of translations equal to their reference.
    pub exact_match: f64,
}

/// Scores `hyps` against `refs` (one reference each, in the same order).
pub(crate) fn score<H: AsRef<str>, R: AsRef<str>>(hyps: &[H], refs: &[R]) -> Result<Scores> {
    let refs: Vec<&str> = refs.iter().map(AsRef::as_ref).collect();
    let cfg = BleuConfig {
        tokenize: Tokenize::None,
        ..BleuConfig::default()
    };
    let bleu = corpus_bleu(hyps, std::slice::from_ref(&refs), &cfg)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_match_and_bleu_of_a_small_set() -> Result<()> {
        let refs = ["the cat sat on the mat", "i am here", "he is tall"];
        let hyps = ["the cat sat on the mat", "i am here", "he is big"];
        let s = score(&hyps, &refs)?;
        assert!((s.exact_match - 2.0 / 3.0).abs() < 1e-12);
        assert!(s.bleu.score > 0.0 && s.bleu.score < 100.0);
        let same = score(&refs, &refs)?;
        assert_eq!(same.exact_match, 1.0);
        assert!((same.bleu.score - 100.0).abs() < 1e-9);
        // The signature says what was computed: no tokenisation of its own.
        assert!(s.bleu.signature().to_string().contains("tok:none"));
        Ok(())
    }

    #[test]
    fn nothing_to_score_is_an_error_not_a_number() {
        let none: [&str; 0] = [];
        assert!(score(&none, &none).is_err());
    }
}
