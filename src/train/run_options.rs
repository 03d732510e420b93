//! Where and how a recipe's training run goes: the options every task's
//! `train` takes besides its config, as one struct rather than a list of
//! positional arguments and bare booleans.

use std::path::PathBuf;

use super::Start;

/// A training run's directory, start, threads and output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunOptions {
    /// The model directory to write (or resume).
    pub out: PathBuf,
    /// A fresh run, or a resume of the run in `out`.
    pub start: Start,
    /// Threads, and so the shards each batch is split into; a resumed run
    /// keeps the count it started with.
    pub threads: usize,
    /// Silences notes and warnings (the data's, a lock taken over).
    pub quiet: bool,
    /// Shows the progress bar and the per-epoch lines.
    pub progress: bool,
}

impl RunOptions {
    /// A fresh run into `out` on one thread, saying everything.
    pub fn new(out: impl Into<PathBuf>) -> Self {
        RunOptions {
            out: out.into(),
            start: Start::Fresh,
            threads: 1,
            quiet: false,
            progress: true,
        }
    }

    /// The same run, starting as `start`.
    pub fn start(mut self, start: Start) -> Self {
        self.start = start;
        self
    }

    /// The same run on `threads` threads.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// The same run printing nothing (tests, grids, library use).
    pub fn silent(mut self) -> Self {
        self.quiet = true;
        self.progress = false;
        self
    }
}
