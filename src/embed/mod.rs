//! word2vec (Mikolov et al., 2013): skip-gram and CBOW with negative
//! sampling and/or hierarchical softmax, trained the way the C tool trains —
//! hand-written SGD on flat `f32` buffers, Hogwild threads — plus vector
//! files (word2vec text/binary, GloVe), queries and the standard
//! evaluations.
//!
//! - [`corpus`]: one streaming pass → vocabulary + the text as ids.
//! - [`sampling`], [`huffman`]: subsampling, noise table, windows, sigmoid
//!   table; the hierarchical-softmax tree.
//! - [`train`](mod@train): the trainer (its row operations, per instruction
//!   set, are [`crate::nn::kernels::simd`]).
//! - [`vectors`], [`format`](mod@format), [`eval`]: using the result.

pub mod config;
pub mod corpus;
pub mod eval;
pub mod format;
pub mod huffman;
pub mod sampling;
pub mod train;
pub mod vectors;

pub use config::{Architecture, TrainConfig};
pub use corpus::{Corpus, CorpusConfig};
pub use format::{LoadReport, VectorFormat, load, load_report, save};
pub use train::{TrainReport, train};
pub use vectors::{AnalogyMethod, Embeddings, Neighbour};
