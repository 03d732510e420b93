//! `attend classify train --autotune MINUTES`: the search's trials as they
//! end, then its table.

use std::process::ExitCode;

use anyhow::Result;
use attend::classify::{self, ClassifyConfig};

use super::train::TrainArgs;
use crate::cli::Globals;

/// `train --autotune MINUTES`: the trials as they end, then the table.
pub(super) fn autotune(
    cfg: &ClassifyConfig,
    minutes: f64,
    args: &TrainArgs,
    globals: &Globals,
) -> Result<ExitCode> {
    let metric = &cfg.train.select_metric;
    let report = classify::autotune(cfg, minutes, &args.run.options(globals.threads), |t| {
        eprintln!(
            "trial {}: valid {metric} {} in {:.1} s, {} epochs ({})",
            t.number,
            t.valid.map_or("-".into(), |v| format!("{v:.4}")),
            t.seconds,
            t.epochs,
            t.settings
        );
    })?;
    print!("{}", report.table(metric));
    let best = &report.trials[report.best];
    eprintln!(
        "autotune: {} trials in {:.1} s; best trial {} (valid {metric} {}); model in {}",
        report.trials.len(),
        report.seconds,
        best.number,
        best.valid.map_or("-".into(), |v| format!("{v:.4}")),
        args.run.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
