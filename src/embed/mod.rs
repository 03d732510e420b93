//! word2vec (Mikolov et al., 2013): skip-gram and CBOW with negative
//! sampling and/or hierarchical softmax, trained the way the C tool trains —
//! hand-written SGD on flat `f32` buffers, Hogwild threads — and the
//! standard evaluations. The vectors it makes, their queries and their files
//! (word2vec text/binary, GloVe) are [`crate::data::vectors`], shared with
//! the classifier that reads them.
//!
//! - [`Corpus`]: one streaming pass → vocabulary + the text as ids.
//! - [`sampling`], [`huffman`]: subsampling, noise table, windows, sigmoid
//!   table; the hierarchical-softmax tree.
//! - [`train`](fn@train): the trainer (its row operations, per instruction
//!   set, are `nn::kernels::simd`).
//! - [`eval`]: analogy accuracy and similarity correlations.

mod config;
mod corpus;
pub mod eval;
pub mod huffman;
pub mod sampling;
mod train;

pub use config::{Architecture, TrainConfig};
pub use corpus::{Corpus, CorpusConfig};
pub use train::{TrainReport, train};
