//! `attend classify compare`: the lecture's grid of cells × hidden sizes,
//! trained on one split and scored on one test set.

use std::process::ExitCode;

use anyhow::Result;
use attend::classify::{self, held_out};
use attend::classify::{ClassifyConfig, Predictor};
use attend::train::RunOptions;
use clap::Args;

use super::train::{TrainArgs, apply_flags};
use crate::cli::Globals;
use crate::cli::flags::CellArg;

/// `attend classify compare` flags (the other training flags as for `train`;
/// `--out` is the folder of the models, one directory each).
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Cells to compare.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "rnn,lstm,gru"
    )]
    cells: Vec<CellArg>,
    #[command(flatten)]
    train: TrainArgs,
}

/// The lecture's homework: every cell × hidden size trained on the same
/// split (models in `--out`/`<cell>-<hidden>`), scored on the same test set.
pub(super) fn compare(args: &CompareArgs, globals: &Globals) -> Result<ExitCode> {
    if args.train.autotune.is_some() || args.train.ensemble.is_some() {
        anyhow::bail!(
            "compare trains one model per cell and size: leave out --autotune and --ensemble"
        );
    }
    let mut base: ClassifyConfig = args.train.run.load()?;
    apply_flags(&mut base, &args.train, globals)?;
    let mut rows = Vec::new();
    let sizes = match args.train.hidden.as_slice() {
        [] => vec![32, 64, 128],
        some => some.to_vec(),
    };
    for &cell in &args.cells {
        for &hidden in &sizes {
            let mut cfg = base.clone();
            cfg.model.cell = cell.into();
            cfg.model.hidden = hidden;
            cfg.model.head_hidden = hidden;
            let name = format!("{}-{hidden}", format!("{cell:?}").to_lowercase());
            let dir = args.train.run.out.join(&name);
            eprintln!("training {name}");
            let report = classify::train(
                &cfg,
                &RunOptions::new(&dir).threads(globals.threads).silent(),
            )?;
            let epochs = &report.summary.state.history.epochs;
            let secs = epochs.iter().map(|e| e.seconds).sum::<f64>() / epochs.len().max(1) as f64;
            let predictor = Predictor::load(&dir)?;
            let (r, _) = predictor.evaluate(&held_out(&dir, "test")?)?;
            rows.push((
                name,
                r.accuracy,
                r.weighted.f1,
                r.macro_avg.f1,
                secs,
                predictor.parameters(),
            ));
        }
    }
    println!(
        "{:<12} {:>9} {:>12} {:>9} {:>10} {:>11}",
        "model", "accuracy", "weighted F1", "macro F1", "s/epoch", "parameters"
    );
    for (name, acc, wf1, mf1, secs, params) in rows {
        println!("{name:<12} {acc:>9.4} {wf1:>12.4} {mf1:>9.4} {secs:>10.2} {params:>11}");
    }
    Ok(ExitCode::SUCCESS)
}
