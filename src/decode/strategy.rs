//! Which search runs: the one [`Search`] that config files, command lines and
//! callers name, the knobs of beam search ([`BeamOptions`], Wu et al. 2016
//! §7) and of sampling ([`SampleOptions`], Fan et al. 2018, Holtzman et al.
//! 2020) with the one check of each value, and [`run`], the one place that
//! turns a `Search` into a call to greedy decoding, beam search or sampling.
//!
//! Tasks (translation, language models) decode through [`run`] alone, so a
//! new knob or a new search is added here once and every task has it.

use serde::{Deserialize, Serialize};

use super::{
    BeamConfig, GreedyConfig, Hypothesis, LengthLimit, SampleConfig, Specials, StepDecoder,
    beam_search, greedy_each, sample_each,
};
use crate::{Error, Result};

/// The most beams a search keeps per source row. Every beam is a copy of the
/// row's decoder state and memory, so the width multiplies the memory of a
/// batch; translation quality stops moving after a handful of beams (and
/// often drops past ten, Koehn & Knowles 2017), so 256 is room, not advice.
pub const MAX_BEAM: usize = 256;

/// The beam knobs a config file or command line can carry.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BeamOptions {
    /// Beams kept per source row, `K` (1 to [`MAX_BEAM`]).
    pub size: usize,
    /// Length-penalty exponent α (≥ 0; 0 = raw log-probability).
    pub alpha: f64,
    /// Hypotheses returned per row (1 ≤ n_best ≤ size).
    pub n_best: usize,
}

impl Default for BeamOptions {
    /// Size 5 and α = 0.6, the usual setting for RNN translation models
    /// (tensor2tensor, Marian; 5 beams are OpenNMT's and JoeyNMT's default
    /// too); one hypothesis per row.
    fn default() -> Self {
        BeamOptions {
            size: 5,
            alpha: 0.6,
            n_best: 1,
        }
    }
}

impl BeamOptions {
    /// Checks the ranges documented on each field.
    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_BEAM).contains(&self.size) {
            return Err(Error::Config(format!(
                "beam size must be between 1 and {MAX_BEAM}, got {}",
                self.size
            )));
        }
        if self.n_best == 0 || self.n_best > self.size {
            return Err(Error::Config(format!(
                "beam n_best must be between 1 and the beam size {}, got {}",
                self.size, self.n_best
            )));
        }
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            return Err(Error::Config(format!(
                "beam length penalty alpha must be a non-negative number, got {}",
                self.alpha
            )));
        }
        Ok(())
    }
}

/// The sampling knobs a config file or command line can carry.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SampleOptions {
    /// Divides the log-probabilities: below 1 sharpens, above 1 flattens (> 0).
    pub temperature: f64,
    /// Keep only the `k` most probable tokens (≥ 1).
    pub top_k: Option<usize>,
    /// Keep the smallest most-probable set with cumulative probability ≥ `p` (0 < p ≤ 1).
    pub top_p: Option<f64>,
}

impl Default for SampleOptions {
    fn default() -> Self {
        SampleOptions {
            temperature: 1.0,
            top_k: None,
            top_p: None,
        }
    }
}

impl SampleOptions {
    /// Checks the ranges documented on each field.
    pub fn validate(&self) -> Result<()> {
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(Error::Config(format!(
                "sampling temperature must be a positive number, got {}",
                self.temperature
            )));
        }
        if self.top_k == Some(0) {
            return Err(Error::Config("sampling top_k must be at least 1".into()));
        }
        if let Some(p) = self.top_p
            && !(p > 0.0 && p <= 1.0)
        {
            return Err(Error::Config(format!(
                "sampling top_p must be in (0, 1], got {p}"
            )));
        }
        Ok(())
    }
}

/// How to pick output tokens. In a config file: `{ type = "greedy" }`,
/// `{ type = "beam", size = 5, alpha = 0.6, n_best = 1 }` or
/// `{ type = "sample", temperature = 1.0, top_k = 40, top_p = 0.9, seed = 42 }`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Search {
    /// The most probable token at each step.
    #[default]
    Greedy,
    /// Beam search with a GNMT length penalty and n-best lists.
    Beam(BeamOptions),
    /// Ancestral sampling (temperature, top-k, top-p), seeded.
    Sample {
        /// Temperature and filters.
        #[serde(flatten)]
        options: SampleOptions,
        /// Seed of the draws: the same seed gives the same outputs.
        seed: u64,
    },
}

impl Search {
    /// Checks the knobs of the chosen search (greedy has none): one message
    /// per bad value, the same from a config file, a flag or a caller.
    pub fn validate(&self) -> Result<()> {
        match self {
            Search::Greedy => Ok(()),
            Search::Beam(options) => options.validate(),
            Search::Sample { options, .. } => options.validate(),
        }
    }

    /// The same search, sampling from stream `stream` of its seed (stream 0
    /// is the seed itself); greedy and beam search draw nothing and are
    /// unchanged. A caller that decodes in chunks gives each chunk its own
    /// stream, so an output does not depend on which chunks came before it.
    pub fn reseeded(self, stream: u64) -> Self {
        match self {
            Search::Sample { options, seed } => Search::Sample {
                options,
                // The golden-ratio increment of SplitMix64, as for the rows of one batch.
                seed: seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15),
            },
            other => other,
        }
    }
}

/// Everything [`run`] needs besides the model and its inputs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decoding {
    /// `<sos>` and `<eos>` ids.
    pub specials: Specials,
    /// Output length budget.
    pub limit: LengthLimit,
    /// Greedy, beam or sampling.
    pub search: Search,
}

/// Decodes every row of `memory` with `cfg.search`. `src_lengths[b]` is row
/// `b`'s source length (for the length budget). Returns, per row, the
/// outputs best first: the beam's `n_best` list, or the one output of greedy
/// decoding and sampling.
///
/// `on_token(row, token)` hears every token greedy decoding and sampling
/// choose, the moment they choose it (not the ending `<eos>`), so callers can
/// stream text; beam search knows its outputs only when it ends and hands
/// out nothing here.
pub fn run<M: StepDecoder>(
    model: &M,
    memory: &M::Memory,
    src_lengths: &[usize],
    cfg: &Decoding,
    on_token: &mut dyn FnMut(usize, u32),
) -> Result<Vec<Vec<Hypothesis>>> {
    let Decoding {
        specials,
        limit,
        search,
    } = *cfg;
    let one_each = |hyps: Vec<Hypothesis>| hyps.into_iter().map(|h| vec![h]).collect();
    Ok(match search {
        Search::Greedy => {
            let cfg = GreedyConfig { specials, limit };
            one_each(greedy_each(model, memory, src_lengths, &cfg, on_token)?)
        }
        Search::Beam(options) => {
            let cfg = BeamConfig {
                specials,
                limit,
                options,
            };
            beam_search(model, memory, src_lengths, &cfg)?
        }
        Search::Sample { options, seed } => {
            let cfg = SampleConfig {
                specials,
                limit,
                options,
                seed,
            };
            one_each(sample_each(model, memory, src_lengths, &cfg, on_token)?)
        }
    })
}

#[cfg(test)]
#[path = "strategy_tests.rs"]
mod tests;
