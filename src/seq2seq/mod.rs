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

pub mod bridge;
pub mod config;
pub mod decoder;
pub mod encoder;
pub mod memory;
pub mod model;
#[cfg(test)]
mod tests;

pub use bridge::{Bridge, BridgeConfig};
pub use config::{DecoderKind, Seq2SeqConfig};
pub use decoder::{Advance, Decoder};
pub use encoder::Encoder;
pub use memory::{DecoderState, Memory};
pub use model::{Seq2Seq, masked_loss};
