//! `attend classify …`: train, evaluate and use text classifiers. The work is
//! `attend::classify`; these files turn flags into configs and results into
//! text, one command (or the grid of `compare`) each.

mod autotune;
mod compare;
mod cv;
mod ensemble;
mod eval;
mod predict;
mod train;

use std::process::ExitCode;

use anyhow::Result;
use attend::classify::Pooling;
use attend::data::InlineFormat;
use clap::{Subcommand, ValueEnum};

use super::Globals;

/// Classification commands.
#[derive(Debug, Subcommand)]
pub enum ClassifyCommand {
    /// Train a classifier (or resume one with --resume).
    Train(Box<train::TrainArgs>),
    /// Score a classifier: accuracy, per-class precision/recall/F1, confusion matrix.
    Eval(eval::EvalArgs),
    /// Classify texts given as arguments, or lines of standard input.
    Predict(predict::PredictArgs),
    /// Train one model per cell × hidden size on the same split; one table.
    Compare(Box<compare::CompareArgs>),
    /// Stratified k-fold cross-validation: one model per fold, mean ± std.
    Cv(Box<cv::CvArgs>),
    /// Join trained models (any architectures, one split) into one ensemble.
    Ensemble(ensemble::EnsembleArgs),
}

/// `--format`: where a data file's labels are, when not in a CSV/TSV column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// `label text` lines: the first word is the label (SST, MR, Subj, TREC).
    LabelFirst,
    /// fastText's `__label__X text` lines (several labels: the first is used).
    Fasttext,
}

impl From<FormatArg> for InlineFormat {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::LabelFirst => InlineFormat::LabelFirst,
            FormatArg::Fasttext => InlineFormat::FastText,
        }
    }
}

/// Pooling over the RNN's steps.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum PoolingArg {
    /// The final state of the top layer (the lessons).
    Last,
    /// Mean over the real steps.
    Mean,
    /// Max over the real steps.
    Max,
    /// Learned attention weights (explainable).
    Attention,
    /// Dot attention with the final state, concatenated with it (explainable).
    Dot,
    /// Attender/predictor: sigmoid gates per token, a sparsity penalty (explainable).
    Mask,
}

impl From<PoolingArg> for Pooling {
    fn from(p: PoolingArg) -> Self {
        match p {
            PoolingArg::Last => Pooling::Last,
            PoolingArg::Mean => Pooling::Mean,
            PoolingArg::Max => Pooling::Max,
            PoolingArg::Attention => Pooling::Attention,
            PoolingArg::Dot => Pooling::Dot,
            PoolingArg::Mask => Pooling::Mask,
        }
    }
}

/// What reads the embedded tokens.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum EncoderArg {
    /// A recurrent network, then the pooling.
    Rnn,
    /// The mean of the token embeddings (fastText; pair it with --ngrams).
    Bag,
}

/// Class weighting of the loss.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ClassWeightsArg {
    /// Every class weighs 1.
    None,
    /// n / (classes · n_class), scikit-learn's "balanced".
    Inverse,
}

/// Runs a `classify` command.
pub fn run(cmd: ClassifyCommand, globals: &Globals) -> Result<ExitCode> {
    match cmd {
        ClassifyCommand::Train(args) => train::train(&args, globals),
        ClassifyCommand::Eval(args) => eval::eval(&args),
        ClassifyCommand::Predict(args) => predict::predict(&args),
        ClassifyCommand::Compare(args) => compare::compare(&args, globals),
        ClassifyCommand::Ensemble(args) => ensemble::ensemble(&args),
        ClassifyCommand::Cv(args) => cv::cv(&args, globals),
    }
}
