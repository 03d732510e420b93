//! Sequence-to-sequence translation with RNN encoder–decoders: Sutskever et
//! al. (2014), "Sequence to Sequence Learning with Neural Networks"; Bahdanau
//! et al. (2015), "Neural Machine Translation by Jointly Learning to Align and
//! Translate"; Luong et al. (2015), "Effective Approaches to Attention-based
//! Neural Machine Translation"; and the PyTorch tutorial "NLP From Scratch:
//! Translation with a Sequence to Sequence Network and Attention", whose
//! trained models import and decode identically.
//!
//! - [`Seq2SeqConfig`] / [`DecoderKind`]: the architecture.
//! - [`Encoder`] → [`Bridge`] → [`Decoder`], assembled by [`Seq2Seq`],
//!   which implements [`StepDecoder`](crate::decode::StepDecoder) over
//!   [`Memory`] and [`DecoderState`].
//! - [`Translator`]: model + vocabularies + [`TextConfig`], saved to and
//!   loaded from a model directory with its decoding defaults, translating
//!   batches through [`decode::run`](crate::decode::run);
//!   [`import_tutorial`] builds one from the PyTorch tutorial's files.
//! - [`TranslationTask`]: the [`train::Task`](crate::train::Task) that trains
//!   a model on encoded [`Example`]s.

mod bridge;
mod config;
mod data;
mod decoder;
mod encoder;
pub mod fused_step;
mod import;
mod memory;
mod model;
mod recipe;
#[cfg(test)]
mod record_tests;
mod score;
mod task;
#[cfg(test)]
mod tests;
mod text;
mod translator;
mod tutorial_kernel;
mod weights;

pub use bridge::{Bridge, BridgeConfig};
pub use config::{DecoderKind, Seq2SeqConfig};
pub use data::{
    DEFAULT_MAX_LEN, MAX_MAX_LEN, MULTI30K, PIG_LATIN, PairDataConfig, PairSource, PairSources,
    PreparedPairs, held_out, load_pairs, prepare,
};
pub use decoder::{Advance, Decoder};
pub use encoder::Encoder;
pub use import::import_tutorial;
pub use memory::{DecoderState, Memory};
pub use model::{Seq2Seq, masked_loss};
pub use recipe::{TrainReport, TranslateConfig, build_vocabs, is_tutorial, learn_text, train};
pub use score::{EvalReport, evaluate};
pub use task::{Example, TaskConfig, TranslationTask};
pub use text::{Normalization, Text, TextConfig, Tokenization};
pub use translator::{DecodeConfig, Translation, Translator};
pub use weights::load_model;
