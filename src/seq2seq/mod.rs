//! Sequence-to-sequence translation with RNN encoder–decoders: Sutskever et
//! al. (2014), "Sequence to Sequence Learning with Neural Networks"; Bahdanau
//! et al. (2015), "Neural Machine Translation by Jointly Learning to Align and
//! Translate"; Luong et al. (2015), "Effective Approaches to Attention-based
//! Neural Machine Translation"; and the PyTorch tutorial "NLP From Scratch:
//! Translation with a Sequence to Sequence Network and Attention", whose
//! trained models import and decode identically.
//!
//! - [`Seq2SeqConfig`] / [`DecoderKind`]: the architecture ([`config`]).
//! - [`Encoder`] → [`Bridge`] → [`Decoder`], assembled by [`Seq2Seq`]
//!   ([`model`]), which implements [`StepDecoder`](crate::decode::StepDecoder)
//!   over [`Memory`] and [`DecoderState`] ([`memory`]).
//! - [`Translator`]: model + vocabularies + [`TextConfig`], saved to and
//!   loaded from a model directory with its decoding defaults, translating
//!   batches through [`decode::run`](crate::decode::run) ([`translator`]);
//!   [`import_tutorial`] builds one from the PyTorch tutorial's files
//!   ([`import`]).
//! - [`TranslationTask`]: the [`train::Task`](crate::train::Task) that trains
//!   a model on encoded [`Example`]s ([`task`]).

pub mod bridge;
pub mod config;
pub mod decoder;
pub mod encoder;
pub mod fused_step;
pub mod import;
pub mod memory;
pub mod model;
pub mod recipe;
#[cfg(test)]
mod record_tests;
mod score;
pub mod task;
#[cfg(test)]
mod tests;
pub mod text;
pub mod translator;
mod tutorial_kernel;
pub mod weights;

pub use bridge::{Bridge, BridgeConfig};
pub use config::{DecoderKind, Seq2SeqConfig};
pub use decoder::{Advance, Decoder};
pub use encoder::Encoder;
pub use import::import_tutorial;
pub use memory::{DecoderState, Memory};
pub use model::{Seq2Seq, masked_loss};
pub use recipe::{EvalReport, PairDataConfig, TrainReport, TranslateConfig};
pub use task::{Example, TaskConfig, TranslationTask};
pub use text::{Normalization, TextConfig};
pub use translator::{DecodeConfig, Translation, Translator};
pub use weights::load_model;
