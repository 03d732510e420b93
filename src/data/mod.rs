//! Datasets: readers (pairs, labelled text, corpora), filters, splits,
//! batches, and named datasets.
//!
//! Readers take `impl BufRead` and label their errors as coming from a stream;
//! the `*_path` / `read_*` functions are the edges that open a file (gzip or
//! plain) and relabel errors with its path.

pub mod atomic;
mod batch;
mod corpus;
pub mod download;
mod filter;
mod inline_labels;
mod labelled;
mod pairs;
mod parallel;
mod pyrandom;
mod registry;
mod resolve;
mod source;
mod split;
mod stats;
pub mod vectors;

pub use batch::{
    BatchConfig, Batcher, PairBatch, PairSpecials, SeqBatch, length_batches, shard_ranges,
};
pub use corpus::CorpusReader;
pub use filter::{
    ENG_PREFIXES, EnglishSide, LengthFilter, PairFilter, PairFilterConfig, TUTORIAL_MAX_LENGTH,
    TutorialFilter,
};
pub use inline_labels::{
    FASTTEXT_PREFIX, InlineExample, InlineFormat, InlineRows, parse_inline, read_inline,
};
pub use labelled::{
    BadRows, Column, Delimiter, Example, LabelledFormat, LabelledReader, LabelledRows, SkippedRow,
    kept_indices, read_labelled, read_labelled_rows, read_labelled_rows_in, read_labelled_with,
    reader as labelled_reader,
};
pub use pairs::{Pair, PairReader, read_pairs, reader as pair_reader};
pub use parallel::read_parallel;
pub use pyrandom::{PyRandom, python_shuffled};
pub use registry::{ClassifyDefaults, DATASETS, DataFormat, DatasetInfo, TestSet, lookup};
pub use resolve::{Resolved, Resolver};
pub use source::{TextLines, open, open_decoded};
pub use split::{
    Split, SplitConfig, python_stratified_split, split, stratified_folds, stratified_split,
};
pub use stats::{Histogram, SideStats, Stats, StatsConfig, stats, stats_path};
