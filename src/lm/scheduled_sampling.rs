//! Scheduled sampling (Bengio et al., 2015): how often the model is fed its
//! own sample instead of the true token, as training goes on, and drawing
//! those samples.

use candle_core::{DType, Tensor};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::LanguageModel;
use crate::nn::Mode;
use crate::{Error, Result};

/// How the probability of feeding the model's own sample grows with the
/// training step `i` (Bengio et al. 2015, §2.4, whose ε_i is the
/// probability of the *true* token; here `p = max · (1 − ε_i)`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decay {
    /// ε_i = max(0, 1 − i / k): linear over `k` steps.
    Linear,
    /// ε_i = k^i with 0 < k < 1.
    Exponential,
    /// ε_i = k / (k + exp(i / k)), k ≥ 1 (the paper's favourite).
    InverseSigmoid,
}

/// Scheduled sampling's settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduledSampling {
    /// The shape of the schedule.
    pub decay: Decay,
    /// Its constant (steps for linear and inverse sigmoid, a rate for exponential).
    pub k: f64,
    /// The highest probability of feeding a sample (the paper lets it reach 1;
    /// a language model scored on true text does best well below).
    pub max: f64,
}

impl Default for ScheduledSampling {
    /// Inverse sigmoid with k = 500 (half-way after about 3,100 steps), at most 0.25.
    fn default() -> Self {
        ScheduledSampling {
            decay: Decay::InverseSigmoid,
            k: 500.0,
            max: 0.25,
        }
    }
}

impl ScheduledSampling {
    /// Checks the ranges of `k` and `max`.
    pub fn validate(&self) -> Result<()> {
        let ok = match self.decay {
            Decay::Linear => self.k > 0.0,
            Decay::Exponential => self.k > 0.0 && self.k < 1.0,
            Decay::InverseSigmoid => self.k >= 1.0,
        };
        if !ok || !self.k.is_finite() {
            return Err(Error::Config(format!(
                "scheduled sampling: k = {} does not suit {:?} decay (linear: > 0; exponential: in (0, 1); inverse-sigmoid: ≥ 1)",
                self.k, self.decay
            )));
        }
        if !(0.0..=1.0).contains(&self.max) {
            return Err(Error::Config(format!(
                "scheduled sampling: max must be in [0, 1], got {}",
                self.max
            )));
        }
        Ok(())
    }

    /// The probability of feeding the model's sample at step `i` (0-based).
    pub fn probability(&self, i: u64) -> f64 {
        let i = i as f64;
        let truth = match self.decay {
            Decay::Linear => (1.0 - i / self.k).max(0.0),
            Decay::Exponential => self.k.powf(i),
            Decay::InverseSigmoid => self.k / (self.k + (i / self.k).exp()),
        };
        self.max * (1.0 - truth)
    }
}

/// The tokens to feed at step `s`: per row, with probability `p`, a sample
/// from the model's prediction `out` (`[B, 1, H]`), else the true token.
/// `None` when every row takes the true token.
#[allow(clippy::too_many_arguments)]
pub(super) fn feed_samples(
    model: &LanguageModel,
    out: &Tensor,
    input: &[u32],
    b: usize,
    t: usize,
    s: usize,
    p: f64,
    mode: &mut Mode<'_>,
) -> Result<Option<Vec<u32>>> {
    let Some(rng) = mode.rng() else {
        return Ok(None);
    };
    let own: Vec<bool> = (0..b).map(|_| rng.random::<f64>() < p).collect();
    if !own.iter().any(|&o| o) {
        return Ok(None);
    }
    let logits = model.logits(&out.squeeze(1)?.detach())?;
    let probs: Vec<Vec<f32>> =
        candle_nn::ops::softmax_last_dim(&logits.to_dtype(DType::F32)?)?.to_vec2()?;
    let tokens = (0..b)
        .map(|r| {
            if !own[r] {
                return input[r * t + s];
            }
            let u: f32 = rng.random();
            let mut acc = 0.0;
            for (v, &q) in probs[r].iter().enumerate() {
                acc += q;
                if u < acc {
                    return v as u32;
                }
            }
            (probs[r].len() - 1) as u32
        })
        .collect();
    Ok(Some(tokens))
}
