//! Recurrent language models (the lecture before seq2seq): char- and
//! word-level RNN/LSTM/GRU models trained with teacher forcing or scheduled
//! sampling, truncated backpropagation through time over long corpora,
//! perplexity and bits per character, and generation through [`crate::decode`].

mod batch;
pub mod data;
mod decoding;
mod generate;
mod model;
mod recipe;
mod scheduled_sampling;
mod task;

pub use batch::{EncodedLine, LmBatch, LmData, LmSpecials};
pub use decoding::LmDecodeConfig;
pub use generate::{GenerateConfig, Generated, Generator, MAX_LENGTH};
pub use model::{LanguageModel, LmConfig, LmMemory, LmState};
pub use recipe::{EvalReport, LmRunConfig, SavedLm, TrainReport, evaluate, load_model, train};
pub use scheduled_sampling::{Decay, ScheduledSampling};
pub use task::{LmTask, TaskConfig};
