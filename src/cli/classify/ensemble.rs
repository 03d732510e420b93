//! `attend classify ensemble`, and the report an ensemble's training ends
//! with: each member's and the ensemble's validation accuracy.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use attend::classify::Predictor;
use attend::classify::{self, ClassifyConfig, held_out};
use clap::Args;

use super::train::TrainArgs;
use crate::cli::Globals;

/// `attend classify ensemble` flags.
#[derive(Debug, Args)]
pub struct EnsembleArgs {
    /// Model directories (single models or ensembles) trained on the same split.
    #[arg(required = true, value_name = "MODEL")]
    models: Vec<PathBuf>,
    /// Each model's weight in the mean of probabilities, comma-separated, one
    /// per MODEL (an ensemble's is shared among its members); default: every
    /// member weighs the same. Choose them on the validation split.
    #[arg(long, value_name = "W,…", value_delimiter = ',')]
    weights: Vec<f64>,
    /// The new ensemble's directory (must not exist).
    #[arg(long)]
    out: PathBuf,
}

/// `classify ensemble`: copies the models into one ensemble directory.
pub(super) fn ensemble(args: &EnsembleArgs) -> Result<ExitCode> {
    let weights = (!args.weights.is_empty()).then_some(args.weights.as_slice());
    classify::assemble_ensemble(&args.models, weights, &args.out)?;
    report_ensemble(&args.out)
}

/// Prints each member's and the ensemble's validation accuracy.
pub(super) fn report_ensemble(out: &Path) -> Result<ExitCode> {
    let valid = held_out(out, "valid")?;
    let members = Predictor::members_of(out)?.unwrap_or_default();
    for m in &members {
        let (r, _) = Predictor::load(m)?.evaluate(&valid)?;
        eprintln!("{}: validation accuracy {:.4}", m.display(), r.accuracy);
    }
    let (r, _) = Predictor::load(out)?.evaluate(&valid)?;
    eprintln!(
        "ensemble of {}: validation accuracy {:.4}; model in {}",
        members.len(),
        r.accuracy,
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `train --ensemble N`: the members one after the other, then each
/// member's and the ensemble's validation accuracy.
pub(super) fn train_ensemble(
    cfg: &ClassifyConfig,
    args: &TrainArgs,
    n: usize,
    globals: &Globals,
) -> Result<ExitCode> {
    let out = &args.run.out;
    let reports = classify::train_ensemble(cfg, n, &args.run.options(globals.threads))?;
    if let Some(first) = reports.first() {
        let (train, valid, test) = first.sizes;
        eprintln!(
            "train {train}, valid {valid}, test {test}; {} tokens, {} classes",
            first.vocab,
            first.classes.len()
        );
    }
    if let Some(stopped) = reports.last().filter(|r| r.summary.interrupted) {
        return Ok(args
            .run
            .finish(&stopped.summary, &cfg.train.select_metric, "classify"));
    }
    report_ensemble(out)
}
