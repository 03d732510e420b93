//! Ancestral sampling with temperature, top-k (Fan et al. 2018, "Hierarchical
//! Neural Story Generation") and nucleus / top-p filtering (Holtzman et al.
//! 2020, "The Curious Case of Neural Text Degeneration").
//!
//! Per step and row: divide the log-probabilities by the temperature, keep the
//! `k` most probable tokens, then the smallest set of most probable tokens whose
//! renormalised cumulative probability reaches `p` (always at least one), and
//! draw from what is left, renormalised. The loop is the one greedy uses.
//!
//! Filtering runs on the host, one row at a time: it needs a sort of the kept
//! tokens anyway, `V` is at most a few tens of thousands and a partial sort
//! (`select_nth_unstable_by`) does top-k in linear time.
//!
//! Every source row draws from its own generator, seeded from `seed` and the
//! row's index, so a row's sample does not depend on which other rows share
//! the batch or when they finish.

use std::cmp::Ordering;

use candle_core::{DType, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::search::{self, Choose};
use super::{Batched, Hypothesis, LengthLimit, SampleOptions, Specials, StepDecoder};
use crate::{Error, Result};

/// Settings for [`sample`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SampleConfig {
    /// `<sos>` and `<eos>` ids.
    pub specials: Specials,
    /// Output length budget.
    pub limit: LengthLimit,
    /// Temperature, top-k, top-p.
    pub options: SampleOptions,
    /// The same seed gives the same samples.
    pub seed: u64,
}

/// Samples one output for each row of `memory`. `src_lengths[b]` is row `b`'s
/// source length (for the length budget). `log_prob` is the model's own,
/// untempered, unfiltered log-probability of the drawn tokens.
pub fn sample<M: StepDecoder>(
    model: &M,
    memory: &M::Memory,
    src_lengths: &[usize],
    cfg: &SampleConfig,
) -> Result<Vec<Hypothesis>> {
    sample_each(model, memory, src_lengths, cfg, &mut |_, _| {})
}

/// [`sample`], calling `on_token(row, token)` for every drawn token the
/// moment it is drawn, in order (the ending `<eos>` is not one).
pub fn sample_each<M: StepDecoder>(
    model: &M,
    memory: &M::Memory,
    src_lengths: &[usize],
    cfg: &SampleConfig,
    on_token: &mut dyn FnMut(usize, u32),
) -> Result<Vec<Hypothesis>> {
    cfg.options.validate()?;
    let rngs = (0..memory.batch_size())
        .map(|row| StdRng::seed_from_u64(row_seed(cfg.seed, row)))
        .collect();
    let mut sampler = Sampler {
        options: cfg.options,
        rngs,
    };
    search::left_to_right(
        model,
        memory,
        src_lengths,
        cfg.specials,
        &cfg.limit,
        &mut sampler,
        on_token,
    )
}

/// Mixes the row index into the seed (golden-ratio increment, as in SplitMix64);
/// `seed_from_u64` then spreads any two distinct values over the whole state.
fn row_seed(seed: u64, row: usize) -> u64 {
    seed ^ (row as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

struct Sampler {
    options: SampleOptions,
    rngs: Vec<StdRng>,
}

impl Choose for Sampler {
    fn choose(&mut self, log_probs: &Tensor, rows: &[usize]) -> Result<Vec<(u32, f64)>> {
        let lp = log_probs.to_dtype(DType::F32)?.to_vec2::<f32>()?;
        rows.iter()
            .zip(&lp)
            .map(|(&row, lp)| {
                let kept = candidates(lp, &self.options);
                let token = draw(&kept, &mut self.rngs[row]).ok_or_else(|| {
                    Error::Candle(candle_core::Error::Msg(format!(
                        "sampling: row {row} has no token with a finite log-probability"
                    )))
                })?;
                Ok((token, f64::from(lp[token as usize])))
            })
            .collect()
    }
}

/// Most probable first; equal probabilities by token id, so filtering is deterministic.
fn by_prob_desc(a: &(u32, f64), b: &(u32, f64)) -> Ordering {
    b.1.total_cmp(&a.1).then(a.0.cmp(&b.0))
}

/// The tokens that survive temperature, top-k and top-p, with their
/// (unnormalised) tempered probabilities.
fn candidates(log_probs: &[f32], opts: &SampleOptions) -> Vec<(u32, f64)> {
    let max = log_probs
        .iter()
        .map(|&l| f64::from(l))
        .filter(|l| l.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return Vec::new();
    }
    // Subtracting the max keeps exp() in range even at tiny temperatures.
    let mut kept: Vec<(u32, f64)> = log_probs
        .iter()
        .enumerate()
        .map(|(i, &l)| (i as u32, ((f64::from(l) - max) / opts.temperature).exp()))
        .filter(|&(_, p)| p > 0.0)
        .collect();
    if let Some(k) = opts.top_k
        && k < kept.len()
    {
        kept.select_nth_unstable_by(k - 1, by_prob_desc);
        kept.truncate(k);
    }
    if let Some(p) = opts.top_p {
        kept.sort_by(by_prob_desc);
        let total: f64 = kept.iter().map(|t| t.1).sum();
        // Same order of summation as `total`, so p = 1 keeps everything exactly.
        let mut cum = 0.0;
        let mut n = 0;
        for t in &kept {
            cum += t.1;
            n += 1;
            if cum >= p * total {
                break;
            }
        }
        kept.truncate(n.max(1));
    }
    kept
}

/// Draws a token with probability proportional to its weight.
fn draw(kept: &[(u32, f64)], rng: &mut StdRng) -> Option<u32> {
    let total: f64 = kept.iter().map(|t| t.1).sum();
    let mut u = rng.random::<f64>() * total;
    for &(token, w) in kept {
        if u < w {
            return Some(token);
        }
        u -= w;
    }
    // Rounding can leave `u` a hair above the last weight.
    kept.last().map(|t| t.0)
}

#[cfg(test)]
#[path = "sampling_tests.rs"]
mod tests;
