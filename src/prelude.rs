//! The main types, for `use attend::prelude::*`: a model of each kind, the
//! way to use it, its configs, and a training run's options.

pub use crate::classify::{Classifier, ClassifierConfig, ClassifyConfig, Predictor};
pub use crate::data::vectors::Embeddings;
pub use crate::error::{Error, Result};
pub use crate::lm::{Generator, LanguageModel, LmConfig, LmRunConfig};
pub use crate::seq2seq::{Seq2Seq, Seq2SeqConfig, TranslateConfig, Translator};
pub use crate::text::Vocab;
pub use crate::train::{RunOptions, TrainConfig};
