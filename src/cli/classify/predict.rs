//! `attend classify predict`: the classes of texts, and with `--explain` the
//! attention each token got, on the terminal or as HTML.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use attend::classify::{Prediction, Predictor};
use attend::data::TextLines;
use attend::viz::{Highlighted, highlight_html};
use clap::Args;

/// `attend classify predict` flags.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Model directory.
    #[arg(long, value_name = "DIR")]
    model: PathBuf,
    /// Texts to classify (default: each line of standard input, one JSON object each).
    texts: Vec<String>,
    /// Classes shown per text.
    #[arg(long, value_name = "K", default_value_t = 3)]
    top: usize,
    /// Show each token's attention weight (attention pooling).
    #[arg(long)]
    explain: bool,
    /// Also write the texts to FILE.html, each token's background its weight.
    #[arg(long, value_name = "FILE", requires = "explain")]
    html: Option<PathBuf>,
}

pub(super) fn predict(args: &PredictArgs) -> Result<ExitCode> {
    let predictor = Predictor::load(&args.model)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut explained: Vec<Highlighted> = Vec::new();
    let mut keep = |p: &Prediction| {
        if let (Some(w), Some((label, prob))) = (&p.attention, p.classes.first()) {
            explained.push(Highlighted {
                caption: format!("{label} {prob:.4}"),
                tokens: p.tokens.iter().cloned().zip(w.iter().copied()).collect(),
            });
        }
    };
    if !args.texts.is_empty() {
        let texts: Vec<&str> = args.texts.iter().map(String::as_str).collect();
        let colour = std::io::stdout().is_terminal();
        for (text, p) in texts.iter().zip(predictor.predict(&texts)?) {
            keep(&p);
            writeln!(out, "{text}")?;
            for (class, prob) in p.classes.iter().take(args.top.max(1)) {
                writeln!(out, "  {prob:.4}  {class}")?;
            }
            if args.explain {
                writeln!(out, "  {}", explain_line(&p, colour))?;
            }
        }
        return write_html(args, &explained);
    }
    // Standard input: one JSON object per line, in input order.
    let stdin = std::io::stdin();
    for line in TextLines::new(stdin.lock(), "texts, one per line") {
        let (_, line) = match line {
            Err(attend::Error::Format { line: None, .. }) => anyhow::bail!(NO_TEXTS),
            other => other.context("reading standard input")?,
        };
        let p = predictor
            .predict(&[line.as_str()])?
            .pop()
            .context("no prediction")?;
        keep(&p);
        let mut value = serde_json::json!({
            "text": line,
            "label": p.classes[0].0,
            "classes": p.classes.iter().take(args.top.max(1)).map(|(c, pr)| serde_json::json!({"class": c, "probability": pr})).collect::<Vec<_>>(),
        });
        if args.explain {
            value["tokens"] = serde_json::json!(p.tokens);
            value["attention"] = serde_json::json!(p.attention);
        }
        writeln!(out, "{value}")?;
    }
    write_html(args, &explained)
}

/// What `predict` says when given no text at all.
const NO_TEXTS: &str = "no texts: give them as arguments or one per line on standard input";

fn write_html(args: &PredictArgs, explained: &[Highlighted]) -> Result<ExitCode> {
    if let Some(path) = &args.html {
        if explained.is_empty() {
            anyhow::bail!(
                "{}: the model pools without attention, so there is nothing to highlight",
                args.model.display()
            );
        }
        std::fs::write(path, highlight_html(explained))
            .with_context(|| format!("{}: cannot write the HTML file", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Tokens with their weights; on a terminal the background shade is the weight.
fn explain_line(p: &Prediction, colour: bool) -> String {
    let Some(weights) = &p.attention else {
        return "(no attention: the model pools without it)".into();
    };
    let max = weights
        .iter()
        .copied()
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);
    p.tokens
        .iter()
        .zip(weights)
        .map(|(t, &w)| {
            if colour {
                // 24-bit background from white to red by weight / max.
                let shade = (255.0 * (1.0 - w / max)).round() as u8;
                format!("\x1b[48;2;255;{shade};{shade}m\x1b[30m{t}\x1b[0m")
            } else {
                format!("{t}({w:.3})")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
