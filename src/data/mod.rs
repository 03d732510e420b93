//! Datasets: readers (pairs, labelled text, corpora), filters, splits,
//! batches, and named datasets.
//!
//! Readers take `impl BufRead` and label their errors as coming from a stream;
//! the `*_path` / `read_*` functions are the edges that open a file (gzip or
//! plain) and relabel errors with its path.

pub mod corpus;
pub mod labelled;
pub mod pairs;
pub mod source;

pub use corpus::CorpusReader;
pub use labelled::{Column, Delimiter, Example, LabelledFormat, LabelledReader, read_labelled};
pub use pairs::{Pair, PairReader, read_pairs};
pub use source::{TextLines, open};
