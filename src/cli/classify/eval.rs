//! `attend classify eval`: accuracy, per-class scores and the confusion
//! matrix of a model on a held-out split or a dataset.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use attend::classify::Predictor;
use attend::classify::{self, LabelDataConfig, Labelled, held_out};
use attend::viz::{AttentionMap, HeatmapStyle, plot_attention};
use clap::Args;

/// `attend classify eval` flags.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Model directory.
    #[arg(long, value_name = "DIR")]
    model: PathBuf,
    /// Which held-out split of the model directory to score (without --data).
    #[arg(long, default_value = "test", value_parser = ["test", "valid"])]
    split: String,
    /// Score every row of this dataset (name, or path of a CSV/TSV with a
    /// header) instead of a held-out split; its labels must be the model's.
    #[arg(long, value_name = "NAME|PATH", conflicts_with = "split")]
    data: Option<String>,
    /// Text column of a file given by path.
    #[arg(long, value_name = "C", requires_all = ["label_col", "data"])]
    text_col: Option<String>,
    /// Label column of a file given by path.
    #[arg(long, value_name = "C", requires_all = ["text_col", "data"])]
    label_col: Option<String>,
    /// With --data: the file's labels are inline in each line.
    #[arg(long, value_enum, requires = "data", conflicts_with_all = ["text_col", "label_col"])]
    format: Option<super::FormatArg>,
    /// With --data: the file's text encoding, e.g. latin1 (default UTF-8).
    #[arg(long, value_name = "LABEL", requires = "data")]
    encoding: Option<String>,
    /// With --data: stop at a row with a missing column or an empty text
    /// instead of skipping it with a warning.
    #[arg(long, requires = "data")]
    strict: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Draw the confusion matrix, each row normalised to its class's
    /// examples (recall on the diagonal), to FILE.png or FILE.svg.
    #[arg(long, value_name = "FILE")]
    heatmap: Option<PathBuf>,
}

pub(super) fn eval(args: &EvalArgs) -> Result<ExitCode> {
    let predictor = Predictor::load(&args.model)?;
    let rows: Vec<Labelled> = match &args.data {
        None => held_out(&args.model, &args.split)?,
        Some(data) => {
            let read = classify::read_dataset(&LabelDataConfig {
                dataset: data.clone(),
                text_col: args.text_col.clone(),
                label_col: args.label_col.clone(),
                format: args.format.map(Into::into),
                encoding: args.encoding.clone(),
                strict: args.strict,
                ..LabelDataConfig::default()
            })?;
            if let Some(w) = read.warning() {
                eprintln!("{w}");
            }
            read.check_labels(predictor.classes())?;
            read.rows
        }
    };
    let (report, confusion) = predictor.evaluate(&rows)?;
    if let Some(path) = &args.heatmap {
        let rows: Vec<Vec<f32>> = confusion
            .counts
            .iter()
            .map(|row| {
                let n = row.iter().sum::<usize>().max(1) as f32;
                row.iter().map(|&c| c as f32 / n).collect()
            })
            .collect();
        let map = AttentionMap::new(confusion.classes.clone(), confusion.classes.clone(), rows)?;
        let style = HeatmapStyle {
            title: Some(format!(
                "confusion (rows: gold, columns: predicted), accuracy {:.4}",
                report.accuracy
            )),
            ..HeatmapStyle::default()
        };
        plot_attention(path, &map, &style)?;
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        let value = serde_json::json!({
            "accuracy": report.accuracy,
            "macro": report.macro_avg,
            "weighted": report.weighted,
            "per_class": report.per_class,
            "confusion": confusion.counts,
            "classes": confusion.classes,
            "examples": report.examples,
        });
        writeln!(out, "{value}")?;
    } else {
        write!(out, "{}", report.text())?;
        writeln!(out, "\nconfusion matrix (rows: gold, columns: predicted)")?;
        write!(out, "{}", confusion.table())?;
    }
    Ok(ExitCode::SUCCESS)
}
