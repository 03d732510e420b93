//! The `decode` section of a language-model run: how `lm generate` decodes
//! when its flags say nothing. Saved with the model (in its `config.json`,
//! as a translation model's is), so a model carries the settings it was
//! meant to be sampled with; flags override one knob at a time.

use serde::{Deserialize, Serialize};

use super::generate::MAX_LENGTH;
use crate::decode::{BeamOptions, SampleOptions, Search, SearchOverrides};
use crate::train::DEFAULT_SEED;
use crate::{Error, Result};

/// A language model's generation defaults.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LmDecodeConfig {
    /// Greedy, beam or sampling; [`Default`] samples at temperature 1 with
    /// seed 42, as `lm generate` always has (a `--seed` flag replaces the
    /// seed).
    pub search: Search,
    /// Tokens to generate at most; `None`: 30 for a model of lines, 200 for
    /// a model of one stream.
    pub length: Option<usize>,
}

impl Default for LmDecodeConfig {
    fn default() -> Self {
        LmDecodeConfig {
            search: Search::Sample {
                options: SampleOptions::default(),
                seed: DEFAULT_SEED,
            },
            length: None,
        }
    }
}

impl LmDecodeConfig {
    /// Checks the search's knobs and the length.
    pub fn validate(&self) -> Result<()> {
        if let Some(n) = self.length
            && !(1..=MAX_LENGTH).contains(&n)
        {
            return Err(Error::Config(format!(
                "decode.length must be between 1 and {MAX_LENGTH} tokens, got {n}"
            )));
        }
        self.search.validate()
    }

    /// The length to generate for a model of one stream (`stream`) or of lines.
    pub fn length_for(&self, stream: bool) -> usize {
        self.length.unwrap_or(if stream { 200 } else { 30 })
    }

    /// The search for `count` texts with a caller's choices over the saved
    /// one: greedy; a beam of `o.beam` ranked by the texts' own
    /// log-probability (GNMT's length penalty is a translation setting;
    /// here the caller's length is the say on length); the saved search
    /// when no knob is set (a beam returning `count` texts); sampling
    /// otherwise, from the saved sampling knobs.
    pub fn search_for(&self, o: &SearchOverrides, count: usize, default_seed: u64) -> Search {
        match (o.greedy, o.beam, self.search) {
            (true, _, _) => Search::Greedy,
            (false, Some(size), _) => Search::Beam(BeamOptions {
                size,
                alpha: 0.0,
                n_best: count.min(size),
            }),
            (false, None, Search::Beam(options)) if !o.sampling_knob() => {
                Search::Beam(BeamOptions {
                    n_best: count.min(options.size),
                    ..options
                })
            }
            (false, None, Search::Greedy) if !o.sampling_knob() => Search::Greedy,
            (false, None, saved) => o.sampling(saved, default_seed),
        }
    }
}
