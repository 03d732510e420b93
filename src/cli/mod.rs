//! The command line: one file per command group, a clap-derive `Command` enum,
//! and `run`, which sets the global options and dispatches.

mod config;
mod data;
mod translate;

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

/// Recurrent neural sequence models for NLP: translation with attention,
/// text classification, word embeddings, language models.
#[derive(Debug, Parser)]
#[command(name = "attend", version, about, long_about = None)]
pub struct Cli {
    /// Worker threads for tensor math and data work (default: number of cores).
    #[arg(long, global = true)]
    pub threads: Option<usize>,

    /// Seed for shuffling, initialisation, dropout and teacher forcing.
    #[arg(long, global = true, default_value_t = 42)]
    pub seed: u64,

    #[command(subcommand)]
    pub command: Command,
}

/// Command groups.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inspect datasets: counts, vocabulary sizes, length histograms.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Sequence-to-sequence translation with attention (train, eval, run, import-pytorch).
    #[command(subcommand)]
    Translate(translate::TranslateCommand),
    /// RNN text classifiers with attention (train, eval, predict).
    Classify(Pending),
    /// word2vec embeddings (train, similar, analogy, eval, convert).
    Embed(Pending),
    /// RNN language models (train, generate, eval).
    Lm(Pending),
    /// HTTP API and demo page for trained models.
    Serve(Pending),
}

/// Arguments of a command group that is not built yet: everything is accepted
/// so the group can be listed, and running it says so plainly.
#[derive(Debug, clap::Args)]
pub struct Pending {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    args: Vec<String>,
}

/// Global settings every command shares.
#[derive(Clone, Copy, Debug)]
pub struct Globals {
    /// Seed for everything random.
    pub seed: u64,
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let threads = cli
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    set_threads(threads)?;
    let globals = Globals { seed: cli.seed };
    match cli.command {
        Command::Data(cmd) => data::run(cmd, &globals),
        Command::Translate(cmd) => translate::run(cmd, &globals),
        Command::Classify(_) => pending("classify"),
        Command::Embed(_) => pending("embed"),
        Command::Lm(_) => pending("lm"),
        Command::Serve(_) => pending("serve"),
    }
}

fn pending(group: &str) -> Result<ExitCode> {
    anyhow::bail!("`attend {group}` is not available in this version yet")
}

/// Sizes the rayon pool and candle's matmul threads. candle reads
/// `RAYON_NUM_THREADS` when it first multiplies, so it must be set before any
/// tensor work; its pool spin-waits, so more threads than cores only hurts.
fn set_threads(n: usize) -> Result<()> {
    // SAFETY: called once at start-up, before any other thread exists.
    unsafe { std::env::set_var("RAYON_NUM_THREADS", n.to_string()) };
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global()
        .context("setting up the thread pool")?;
    Ok(())
}
