//! Datasets: readers (pairs, labelled text, corpora), filters, splits,
//! batches, and named datasets.
//!
//! Readers take `impl BufRead` and label their errors as coming from a stream;
//! the `*_path` / `read_*` functions are the edges that open a file (gzip or
//! plain) and relabel errors with its path.

pub mod atomic;
pub mod batch;
pub mod corpus;
pub mod download;
pub mod filter;
pub mod labelled;
pub mod pairs;
pub mod pyrandom;
pub mod registry;
pub mod resolve;
pub mod source;
pub mod split;
pub mod stats;
pub mod vectors;

pub use batch::{BatchConfig, Batcher, PairBatch, PairSpecials, SeqBatch, shard_ranges};
pub use corpus::CorpusReader;
pub use filter::{ENG_PREFIXES, EnglishSide, LengthFilter, TUTORIAL_MAX_LENGTH, TutorialFilter};
pub use labelled::{
    BadRows, Column, Delimiter, Example, LabelledFormat, LabelledReader, LabelledRows, SkippedRow,
    read_labelled, read_labelled_rows, read_labelled_with,
};
pub use pairs::{Pair, PairReader, read_pairs};
pub use pyrandom::{PyRandom, python_shuffled};
pub use registry::{DATASETS, DataFormat, DatasetInfo};
pub use resolve::{Resolved, Resolver};
pub use source::{TextLines, open};
pub use split::{Split, SplitConfig, python_stratified_split, split, stratified_split};
pub use stats::{Histogram, SideStats, Stats, StatsConfig, stats, stats_path};
