//! Tests for sampling: filters on hand-made distributions, agreement with
//! greedy in the limits, reproducibility and empirical frequencies.

use super::*;
use crate::decode::toy::{EOS, SOS, Script, Toy, VOCAB};
use crate::decode::{GreedyConfig, greedy};
use candle_core::Device;

fn toy(confidence: f32) -> Toy {
    Toy {
        confidence,
        device: Device::Cpu,
    }
}

fn cfg(options: SampleOptions, seed: u64, extra: usize) -> SampleConfig {
    SampleConfig {
        specials: Specials { sos: SOS, eos: EOS },
        limit: LengthLimit { ratio: 1.0, extra },
        options,
        seed,
    }
}

fn opts(temperature: f64, top_k: Option<usize>, top_p: Option<f64>) -> SampleOptions {
    SampleOptions {
        temperature,
        top_k,
        top_p,
    }
}

fn script() -> Script {
    Script(vec![vec![2, 3, 4], vec![5], vec![], vec![6, 7, 2, 3, 4]])
}

fn lengths(s: &Script) -> Vec<usize> {
    s.0.iter().map(|r| r.len()).collect()
}

#[test]
fn tiny_temperature_and_top_k_1_equal_greedy() -> Result<()> {
    // Low confidence: plain sampling would stray, the limits must not.
    let model = toy(0.3);
    let s = script();
    let g = greedy(
        &model,
        &s,
        &lengths(&s),
        &GreedyConfig {
            specials: Specials { sos: SOS, eos: EOS },
            limit: LengthLimit {
                ratio: 1.0,
                extra: 3,
            },
        },
    )?;
    for o in [opts(1e-3, None, None), opts(1.0, Some(1), None)] {
        for seed in 0..5 {
            let got = sample(&model, &s, &lengths(&s), &cfg(o, seed, 3))?;
            assert_eq!(got, g, "{o:?} seed {seed}");
        }
    }
    Ok(())
}

#[test]
fn top_p_keeps_the_smallest_sufficient_set() {
    let probs = [0.05f32, 0.4, 0.1, 0.3, 0.15];
    let lp: Vec<f32> = probs.iter().map(|p| p.ln()).collect();
    let kept = |o: SampleOptions| -> Vec<u32> { candidates(&lp, &o).iter().map(|t| t.0).collect() };
    // 0.4 < 0.5 ≤ 0.4 + 0.3.
    assert_eq!(kept(opts(1.0, None, Some(0.5))), [1, 3]);
    // Exactly reaching p stops: 0.4 + 0.3 + 0.15 = 0.85.
    assert_eq!(kept(opts(1.0, None, Some(0.85))), [1, 3, 4]);
    assert_eq!(kept(opts(1.0, None, Some(0.86))), [1, 3, 4, 2]);
    // Always at least one token.
    assert_eq!(kept(opts(1.0, None, Some(1e-9))), [1]);
    assert_eq!(kept(opts(1.0, None, Some(1.0))).len(), 5);
    // Top-k first, then top-p over the renormalised survivors:
    // {0.4, 0.3} → {4/7, 3/7}; 4/7 ≥ 0.5 already.
    assert_eq!(kept(opts(1.0, Some(2), Some(0.5))), [1]);
    // Top-k alone keeps the k most probable.
    let mut k3 = kept(opts(1.0, Some(3), None));
    k3.sort();
    assert_eq!(k3, [1, 3, 4]);
    // Temperature flattens before top-p: at T = 100 all five are near-equal,
    // so reaching half the mass needs three tokens.
    assert_eq!(kept(opts(100.0, None, Some(0.5))).len(), 3);
}

#[test]
fn same_seed_same_samples_and_rows_independent_of_the_batch() -> Result<()> {
    let model = toy(0.4);
    let s = script();
    let o = opts(1.0, None, None);
    let a = sample(&model, &s, &lengths(&s), &cfg(o, 7, 4))?;
    let b = sample(&model, &s, &lengths(&s), &cfg(o, 7, 4))?;
    assert_eq!(a, b);
    let c = sample(&model, &s, &lengths(&s), &cfg(o, 8, 4))?;
    assert_ne!(a, c, "another seed should give other samples");
    // A row's draws depend only on the seed and its index: the last row,
    // decoded beside other rows (which leave the batch at other steps),
    // matches the first run.
    let alone = Script(vec![vec![], vec![], vec![], s.0[3].clone()]);
    let d = sample(&model, &alone, &[0, 0, 0, 5], &cfg(o, 7, 4))?;
    assert_eq!(d[3], a[3]);
    Ok(())
}

#[test]
fn log_prob_is_the_models_untempered_one() -> Result<()> {
    let model = toy(0.4);
    let s = script();
    let hyps = sample(&model, &s, &lengths(&s), &cfg(opts(3.0, None, None), 1, 4))?;
    let (want, rest) = (0.4f64.ln(), (0.6f64 / 7.0).ln());
    for (h, script) in hyps.iter().zip(&s.0) {
        // Replay the toy: step t wants script[t] (or <eos> past its end).
        let mut expect = 0.0;
        let emitted = h.tokens.iter().copied().chain(h.finished.then_some(EOS));
        for (t, tok) in emitted.enumerate() {
            let wanted = script.get(t).copied().unwrap_or(EOS);
            expect += if tok == wanted { want } else { rest };
        }
        assert!((h.log_prob - expect).abs() < 1e-5, "{h:?}");
        assert_eq!(h.score, h.log_prob);
    }
    Ok(())
}

/// First-token frequencies over many identical rows against the tempered
/// probabilities, within 4.5 standard deviations per token.
fn check_frequencies(o: SampleOptions, expect: &[f64]) -> Result<()> {
    let n = 6000;
    let model = toy(0.5);
    let s = Script(vec![vec![4]; n]);
    let hyps = sample(&model, &s, &vec![0; n], &cfg(o, 11, 1))?;
    let mut counts = [0usize; VOCAB];
    for h in &hyps {
        counts[h.tokens.first().copied().unwrap_or(EOS) as usize] += 1;
    }
    for (tok, (&c, &p)) in counts.iter().zip(expect).enumerate() {
        let f = c as f64 / n as f64;
        let sd = (p * (1.0 - p) / n as f64).sqrt();
        assert!(
            (f - p).abs() <= 4.5 * sd + 1e-12,
            "token {tok}: {f} vs {p} ({o:?})"
        );
    }
    Ok(())
}

#[test]
fn empirical_frequencies_match_the_distribution() -> Result<()> {
    // The toy puts 0.5 on token 4 and 0.5/7 on each other token (SOS included).
    let rest = 0.5 / 7.0;
    let mut plain = [rest; VOCAB];
    plain[4] = 0.5;
    check_frequencies(opts(1.0, None, None), &plain)?;
    // T = 2: p ∝ √p.
    let z = 0.5f64.sqrt() + 7.0 * rest.sqrt();
    let mut warm = [rest.sqrt() / z; VOCAB];
    warm[4] = 0.5f64.sqrt() / z;
    check_frequencies(opts(2.0, None, None), &warm)?;
    // Top-2: token 4 and, of the tied rest, the lowest id (0), renormalised.
    let mut top2 = [0.0; VOCAB];
    top2[4] = 0.5 / (0.5 + rest);
    top2[0] = rest / (0.5 + rest);
    check_frequencies(opts(1.0, Some(2), None), &top2)
}

#[test]
fn invalid_options_are_config_errors() {
    let model = toy(0.5);
    let s = script();
    for o in [
        opts(0.0, None, None),
        opts(-1.0, None, None),
        opts(f64::NAN, None, None),
        opts(1.0, Some(0), None),
        opts(1.0, None, Some(0.0)),
        opts(1.0, None, Some(1.5)),
    ] {
        let err = sample(&model, &s, &lengths(&s), &cfg(o, 0, 2));
        assert!(matches!(err, Err(Error::Config(_))), "{o:?}");
    }
    assert!(opts(0.5, Some(3), Some(1.0)).validate().is_ok());
}
