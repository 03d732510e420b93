//! The `decode` section of a language-model run: how `lm generate` decodes
//! when its flags say nothing. Saved with the model (in its `config.json`,
//! as a translation model's is), so a model carries the settings it was
//! meant to be sampled with; flags override one knob at a time.

use serde::{Deserialize, Serialize};

use super::generate::MAX_LENGTH;
use crate::decode::{SampleOptions, Search};
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
}
