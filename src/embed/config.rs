//! The word2vec training configuration. Defaults are the C tool's
//! (`word2vec.c`): CBOW, 100 dimensions, window 5, 5 negative samples, no
//! hierarchical softmax, sample 1e-3, min count 5, 5 epochs, learning rate
//! 0.05 for CBOW and 0.025 for skip-gram, decaying linearly to 1e-4 of its
//! start.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Which word predicts which.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    /// Continuous skip-gram: each context word predicts the centre word.
    #[serde(rename = "skipgram")]
    SkipGram,
    /// Continuous bag of words: the mean of the context predicts the centre word.
    Cbow,
}

/// Everything a training run needs besides the corpus.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Skip-gram or CBOW.
    pub architecture: Architecture,
    /// Vector dimensions.
    pub dim: usize,
    /// Largest distance between centre and context word (each window is
    /// shrunk at random to 1..=window).
    pub window: usize,
    /// Negative samples per positive example; 0 turns negative sampling off.
    pub negative: usize,
    /// Hierarchical softmax over a Huffman tree.
    pub hs: bool,
    /// Subsampling threshold for frequent words; 0 keeps every word.
    pub sample: f64,
    /// Exponent of the noise distribution (unigram^0.75).
    pub noise_power: f64,
    /// Passes over the corpus.
    pub epochs: usize,
    /// Starting learning rate; `None` = 0.05 for CBOW, 0.025 for skip-gram.
    pub alpha: Option<f32>,
    /// Final learning rate; `None` = alpha × 1e-4 (the C tool's floor).
    pub min_alpha: Option<f32>,
    /// Hogwild worker threads.
    pub threads: usize,
    /// Seed of initialisation, subsampling, windows and noise draws.
    /// Results are reproducible with one thread; with more, the
    /// interleaving of the threads' updates differs run to run (as in the
    /// C tool and gensim).
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            architecture: Architecture::Cbow,
            dim: 100,
            window: 5,
            negative: 5,
            hs: false,
            sample: 1e-3,
            noise_power: 0.75,
            epochs: 5,
            alpha: None,
            min_alpha: None,
            threads: 1,
            seed: 1,
        }
    }
}

impl TrainConfig {
    /// The starting learning rate in effect.
    pub fn start_alpha(&self) -> f32 {
        self.alpha.unwrap_or(match self.architecture {
            Architecture::Cbow => 0.05,
            Architecture::SkipGram => 0.025,
        })
    }

    /// The final learning rate in effect.
    pub fn end_alpha(&self) -> f32 {
        self.min_alpha.unwrap_or(self.start_alpha() * 1e-4)
    }

    /// Cross-field checks.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        if self.dim == 0 || self.window == 0 || self.epochs == 0 || self.threads == 0 {
            return bad(format!(
                "size, window, epochs and threads must be positive, got {}, {}, {}, {}",
                self.dim, self.window, self.epochs, self.threads
            ));
        }
        if self.negative == 0 && !self.hs {
            return bad("nothing to train: --negative is 0 and --hs is off".into());
        }
        let (a, m) = (self.start_alpha(), self.end_alpha());
        if !(a > 0.0 && a.is_finite() && m >= 0.0 && m <= a) {
            return bad(format!(
                "learning rates must satisfy 0 < alpha and 0 ≤ min_alpha ≤ alpha, got {a} and {m}"
            ));
        }
        if !(self.sample >= 0.0 && self.sample.is_finite()) {
            return bad(format!("sample must be ≥ 0, got {}", self.sample));
        }
        Ok(())
    }
}
