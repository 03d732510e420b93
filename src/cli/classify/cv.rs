//! `attend classify cv`: stratified k-fold cross-validation of the
//! `train` recipe, fold by fold, then the table and mean ± std.

use std::process::ExitCode;

use anyhow::Result;
use attend::classify::{self, ClassifyConfig, CvOptions};
use clap::Args;

use super::train::{TrainArgs, apply_flags};
use crate::cli::Globals;

/// `attend classify cv` flags (the model and training flags as for
/// `train`; `--out` holds `cv.json` and, with --keep-models, the folds'
/// models).
#[derive(Debug, Args)]
pub struct CvArgs {
    /// Number of stratified folds (dealt with the config's
    /// `data.split_seed`, 0 by default).
    #[arg(long, value_name = "K", default_value_t = 10)]
    folds: usize,
    /// Keep each fold's model in --out/fold-F (default: removed once scored).
    #[arg(long)]
    keep_models: bool,
    #[command(flatten)]
    train: TrainArgs,
}

pub(super) fn cv(args: &CvArgs, globals: &Globals) -> Result<ExitCode> {
    if args.train.ensemble.is_some() {
        anyhow::bail!("--ensemble trains several models on one split; cv trains one per fold");
    }
    if args.train.autotune.is_some() {
        anyhow::bail!(
            "--autotune searches on one validation split; tune with `classify train --autotune`, then cross-validate its settings"
        );
    }
    if args.train.hidden.len() > 1 {
        anyhow::bail!("--hidden takes one size for cv");
    }
    let mut cfg: ClassifyConfig = args.train.run.load()?;
    apply_flags(&mut cfg, &args.train, globals)?;
    args.train.run.stop_gracefully_on_signals()?;
    let options = CvOptions {
        folds: args.folds,
        keep_models: args.keep_models,
    };
    let run = args.train.run.options(globals.threads);
    let report = classify::cross_validate(&cfg, options, &run, |f| {
        eprintln!(
            "fold {}/{}: accuracy {:.4}, macro F1 {:.4} ({:.1} s)",
            f.fold, args.folds, f.accuracy, f.macro_f1, f.seconds
        );
    })?;
    print!("{}", report.table());
    if report.complete() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "stopped after {} of {} folds (saved in {}); `attend classify cv --resume` with the same flags goes on",
        report.folds.len(),
        args.folds,
        args.train.run.out.display()
    );
    Ok(ExitCode::from(130))
}
