//! Recurrent language models (the lecture before seq2seq): char- and
//! word-level RNN/LSTM/GRU models trained with teacher forcing or scheduled
//! sampling, truncated backpropagation through time over long corpora,
//! perplexity and bits per character, and generation through [`crate::decode`].

mod batch;
pub mod data;
pub mod generate;
pub mod model;
pub mod recipe;
mod scheduled_sampling;
pub mod task;

pub use generate::{GenerateConfig, Generator};
pub use model::{LanguageModel, LmConfig, LmMemory, LmState};
pub use task::{LmTask, ScheduledSampling, TaskConfig};
