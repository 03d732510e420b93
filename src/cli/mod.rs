//! The command line: one file per command group, a clap-derive `Command` enum,
//! and `run`, which sets the global options and dispatches.

mod classify;
mod common;
mod config;
mod data;
mod embed;
mod flags;
mod lm;
mod serve;
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

    /// Seed for shuffling, initialisation, dropout and teacher forcing
    /// [default: 42, or a config file's `train.seed`; a resumed run keeps its own].
    #[arg(long, global = true)]
    pub seed: Option<u64>,

    /// Recurrent layers and the loss on fused kernels or on the reference
    /// candle graph; both give the same numbers up to rounding.
    #[arg(long, global = true, value_enum, default_value_t = KernelArg::Fused)]
    pub kernel: KernelArg,

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
    #[command(subcommand)]
    Classify(classify::ClassifyCommand),
    /// word2vec embeddings (train, similar, analogy, eval, convert).
    #[command(subcommand)]
    Embed(embed::EmbedCommand),
    /// RNN language models (train, eval, generate).
    #[command(subcommand)]
    Lm(lm::LmCommand),
    /// HTTP API and web page for trained models (translate, classify,
    /// generate, word vectors).
    Serve(serve::ServeArgs),
}

/// `--kernel` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum KernelArg {
    /// Fused kernels where one exists.
    Fused,
    /// The plain candle graph everywhere.
    Reference,
}

/// Global settings every command shares.
#[derive(Clone, Copy, Debug)]
pub struct Globals {
    /// Seed for everything random (`--seed`, else [`attend::train::DEFAULT_SEED`]).
    pub seed: u64,
    /// `--seed` as given: training applies it over a config file's or a
    /// resumed run's seed only when it was given.
    pub seed_flag: Option<u64>,
    /// Threads for attend's own parallel work (batch shards, data).
    pub threads: usize,
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let threads = cli
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    set_threads(threads)?;
    attend::nn::set_default_kernel(match cli.kernel {
        KernelArg::Fused => attend::nn::Kernel::Fused,
        KernelArg::Reference => attend::nn::Kernel::Reference,
    });
    let globals = Globals {
        seed: cli.seed.unwrap_or(attend::train::DEFAULT_SEED),
        seed_flag: cli.seed,
        threads,
    };
    match cli.command {
        Command::Data(cmd) => data::run(cmd, &globals),
        Command::Translate(cmd) => translate::run(cmd, &globals),
        Command::Classify(cmd) => classify::run(cmd, &globals),
        Command::Embed(cmd) => embed::run(cmd, &globals),
        Command::Lm(cmd) => lm::run(cmd, &globals),
        Command::Serve(args) => serve::run(args),
    }
}

/// See [`attend::nn::set_threads`].
fn set_threads(n: usize) -> Result<()> {
    attend::nn::set_threads(n).context("setting up the thread pool")
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// The commands override the help of shared flags by their ids
    /// (`mut_arg`), which clap checks only when it builds the command: a
    /// renamed flag fails here rather than on a user's command line.
    #[test]
    fn command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
