//! `attend classify …`: train, evaluate and use text classifiers. The work is
//! `attend::classify`; these files turn flags into configs and results into
//! text, one command (or the grid of `compare`) each.

mod compare;
mod cv;
mod ensemble;
mod eval;
mod predict;
mod train;

use std::process::ExitCode;

use anyhow::Result;
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
