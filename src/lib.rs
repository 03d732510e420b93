//! # attend
//!
//! Recurrent neural sequence models for NLP — seq2seq translation with
//! attention, RNN/LSTM/GRU classifiers, word2vec, RNN language models — built
//! on [candle](https://github.com/huggingface/candle), numerically faithful to
//! PyTorch (parameter names, gate orders, packed-sequence semantics), and fast
//! on a CPU.
//!
//! Modules are layered; arrows point down only (`ARCHITECTURE.md` has the map):
//! task modules ([`seq2seq`], [`classify`], [`lm`], [`embed`]) → [`train`],
//! [`decode`], [`metrics`], [`viz`] → [`nn`] → [`data`], [`text`], [`memory`],
//! [`error`]. Nothing in [`nn`] knows about a task; nothing in [`text`] knows
//! about tensors. Each public item has one path (its module's; the prelude
//! gathers the main ones), and the fused kernels are private to the crate.
#![warn(missing_docs)]

pub mod classify;
pub mod data;
pub mod decode;
pub mod embed;
pub mod error;
pub mod lm;
pub mod memory;
pub mod metrics;
pub mod nn;
pub mod prelude;
pub mod seq2seq;
pub mod serve;
pub mod text;
pub mod train;
pub mod viz;

pub use error::{Error, Result};
