//! The teaching BLEU of d2l.ai ("Dive into Deep Learning", §10.7, the `bleu`
//! function) and the Neuromatch course: one sentence, one reference,
//! `exp(min(0, 1 - len_label/len_pred)) · Π_{n=1..k} p_n^(1/2^n)`.
//!
//! It is *not* Papineni et al. (2002)'s BLEU: there is no geometric mean,
//! longer n-grams weigh less, and there is no smoothing. Kept under its own
//! name so lesson numbers can be reproduced; report [`super::bleu`] (Post,
//! 2018) everywhere else.

use std::collections::HashMap;

/// d2l's `bleu(pred_seq, label_seq, k)` on already split tokens (d2l splits on
/// single spaces: `seq.split(' ')`), on the 0–1 scale.
///
/// Where d2l divides by zero — an order `n` longer than the prediction, or an
/// empty prediction — the precision (and so the score) is 0: a prediction
/// with no n-grams of some order matched none.
pub fn teaching_bleu<P: AsRef<str>, L: AsRef<str>>(
    pred_tokens: &[P],
    label_tokens: &[L],
    k: usize,
) -> f64 {
    let pred: Vec<&str> = pred_tokens.iter().map(AsRef::as_ref).collect();
    let label: Vec<&str> = label_tokens.iter().map(AsRef::as_ref).collect();
    let (len_pred, len_label) = (pred.len(), label.len());
    if len_pred == 0 {
        return 0.0;
    }
    let mut score = (1.0 - len_label as f64 / len_pred as f64).min(0.0).exp();
    for n in 1..=k {
        if n > len_pred {
            return 0.0;
        }
        // Each label n-gram can be matched once (clipped counts).
        let mut label_subs: HashMap<&[&str], usize> = HashMap::new();
        for gram in label.windows(n) {
            *label_subs.entry(gram).or_insert(0) += 1;
        }
        let mut num_matches = 0usize;
        for gram in pred.windows(n) {
            if let Some(left) = label_subs.get_mut(gram)
                && *left > 0
            {
                num_matches += 1;
                *left -= 1;
            }
        }
        let p = num_matches as f64 / (len_pred - n + 1) as f64;
        score *= p.powf(0.5f64.powi(n as i32));
    }
    score
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<&str> {
        s.split(' ').collect()
    }

    #[test]
    fn d2l_worked_example() {
        // d2l's text: label A..F, prediction A B, k = 2 → exp(1 - 6/2) ≈ 0.14.
        let s = teaching_bleu(&toks("a b"), &toks("a b c d e f"), 2);
        assert!((s - (-2.0f64).exp()).abs() < 1e-15);
    }

    #[test]
    fn perfect_and_disjoint() {
        assert_eq!(
            teaching_bleu(&toks("je suis chez moi ."), &toks("je suis chez moi ."), 4),
            1.0
        );
        assert_eq!(teaching_bleu(&toks("x y z"), &toks("a b c"), 2), 0.0);
        assert_eq!(teaching_bleu::<&str, &str>(&[], &toks("a"), 2), 0.0);
    }

    #[test]
    fn matches_are_clipped() {
        // p1 = 1/3 (one "a" in the label), p2 = 0 → 0; with k = 1: (1/3)^(1/2).
        let s = teaching_bleu(&toks("a a a"), &toks("a b c"), 1);
        assert!((s - (1.0f64 / 3.0).sqrt()).abs() < 1e-15);
    }
}
