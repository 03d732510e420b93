//! `attend classify …`: train, evaluate and use text classifiers. The work is
//! `attend::classify`; this file turns flags into configs and results into text.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use attend::classify::recipe::{self, LabelDataConfig, Labelled, held_out};
use attend::classify::{ClassifyConfig, Encoder, Level, Pooling, Prediction, Predictor};
use attend::data::TextLines;
use attend::text::NormalizeConfig;
use attend::train::{EarlyStoppingConfig, PlateauConfig, ScheduleConfig, Start};
use attend::viz::{AttentionMap, HeatmapStyle, Highlighted, highlight_html, plot_attention};
use clap::{Args, Subcommand, ValueEnum};

use super::Globals;
use super::common::TrainRun;
use super::flags::{CellArg, DataFlags, LevelArg, ModelFlags, TrainFlags};

/// Classification commands.
#[derive(Debug, Subcommand)]
pub enum ClassifyCommand {
    /// Train a classifier (or resume one with --resume).
    Train(Box<TrainArgs>),
    /// Score a classifier: accuracy, per-class precision/recall/F1, confusion matrix.
    Eval(EvalArgs),
    /// Classify texts given as arguments, or lines of standard input.
    Predict(PredictArgs),
    /// Train one model per cell × hidden size on the same split; one table.
    Compare(Box<CompareArgs>),
    /// Join trained models (any architectures, one split) into one ensemble.
    Ensemble(EnsembleArgs),
}

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

/// `attend classify train` flags; each overrides the config file.
#[derive(Debug, Args)]
#[command(mut_arg("data", |a| a.help(
    "Dataset name (names, ag-news-titles, imdb) or path of a CSV/TSV with a header"
)))]
pub struct TrainArgs {
    #[command(flatten)]
    run: TrainRun,
    #[command(flatten)]
    data: DataFlags,
    /// Text column of a file given by path.
    #[arg(long, value_name = "C", requires = "label_col")]
    text_col: Option<String>,
    /// Label column of a file given by path.
    #[arg(long, value_name = "C", requires = "text_col")]
    label_col: Option<String>,
    /// Stop at a row with a missing column or an empty text (default: skip
    /// it, and list the skipped lines in a warning).
    #[arg(long)]
    strict: bool,
    /// Tokens are characters or (lowercased, punctuation split) words.
    #[arg(long, value_enum)]
    level: Option<LevelArg>,
    /// Keep at most N tokens of each text (default 5,000, at most 100,000;
    /// longer texts are cut, with a count).
    #[arg(long, value_name = "N")]
    max_len: Option<usize>,
    /// Recurrent network, or a bag of tokens (and n-grams) averaged: fastText's
    /// classifier, trained in seconds, a strong partner in an ensemble.
    #[arg(long, value_enum)]
    encoder: Option<EncoderArg>,
    /// Add the n-grams of 2..=N tokens to each text (the bag encoder only;
    /// characters: `<` and `>` mark the start and end).
    #[arg(long, value_name = "N")]
    ngrams: Option<usize>,
    /// Pooling over the steps.
    #[arg(long, value_enum)]
    pooling: Option<PoolingArg>,
    /// Hidden units per direction (compare: a comma-separated list, default
    /// 32,64,128).
    #[arg(long, value_name = "N", value_delimiter = ',')]
    hidden: Vec<usize>,
    /// Width of the head's hidden layer (default: --hidden's; 0: a linear head).
    #[arg(long, value_name = "N")]
    head: Option<usize>,
    #[command(flatten)]
    model: ModelFlags,
    /// Start the embedding table from a vector file (word2vec text or
    /// binary, GloVe; e.g. from `attend embed train`); its width becomes the
    /// model's, and the share of the vocabulary it covers is reported.
    #[arg(long, value_name = "FILE", conflicts_with = "embed")]
    embeddings: Option<PathBuf>,
    /// Keep the embedding table fixed during training.
    #[arg(long, alias = "freeze", requires = "embeddings")]
    freeze_embeddings: bool,
    /// Weight of the gates' mean in the loss (`--pooling mask`; default 0.05).
    #[arg(long, value_name = "L")]
    mask_sparsity: Option<f32>,
    /// Read left to right only (the default reads both ways).
    #[arg(long)]
    unidirectional: bool,
    /// Read both ways (the default; overrides a config file's setting).
    #[arg(long, conflicts_with = "unidirectional")]
    bidirectional: bool,
    /// Class weighting of the loss.
    #[arg(long, value_enum)]
    class_weights: Option<ClassWeightsArg>,
    #[command(flatten)]
    train: TrainFlags,
    /// Stop when validation accuracy has not improved for N epochs.
    #[arg(long, value_name = "N")]
    patience: Option<u64>,
    /// Halve the learning rate when validation accuracy has not improved for
    /// N epochs (ReduceLROnPlateau, factor 0.5).
    #[arg(long, value_name = "N", conflicts_with = "cosine")]
    plateau: Option<u64>,
    /// Train N models with seeds seed, seed + 1, … on the same split (in
    /// `--out`/member-K) and predict with the mean of their probabilities:
    /// eval and predict read the directory as one model.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    ensemble: Option<u16>,
}

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

/// Runs a `classify` command.
pub fn run(cmd: ClassifyCommand, globals: &Globals) -> Result<ExitCode> {
    match cmd {
        ClassifyCommand::Train(args) => train(&args, globals),
        ClassifyCommand::Eval(args) => eval(&args),
        ClassifyCommand::Predict(args) => predict(&args),
        ClassifyCommand::Compare(args) => compare(&args, globals),
        ClassifyCommand::Ensemble(args) => ensemble(&args),
    }
}

fn train(args: &TrainArgs, globals: &Globals) -> Result<ExitCode> {
    if args.hidden.len() > 1 {
        anyhow::bail!("--hidden takes one size for train (several are for `classify compare`)");
    }
    let cfg: ClassifyConfig = args
        .run
        .config(RESUME_FLAGS, |cfg| apply_flags(cfg, args, globals))?;
    let planned = match args.run.resume {
        true => recipe::planned_ensemble(&args.run.out)?,
        false => None,
    };
    let members = args.ensemble.map(usize::from);
    if let (Some(given), Some(saved)) = (members, planned)
        && given != saved
    {
        anyhow::bail!(
            "--ensemble: the run in {} trains {saved} members, not {given}; leave the flag out to resume it",
            args.run.out.display()
        );
    }
    args.run.stop_gracefully_on_signals()?;
    if let Some(n) = members.or(planned).filter(|&n| n > 1) {
        return train_ensemble(&cfg, args, n, globals);
    }
    let report = recipe::train(
        &cfg,
        &args.run.out,
        args.run.start(),
        globals.threads,
        false,
    )?;
    let (train, valid, test) = report.sizes;
    eprintln!(
        "train {train}, valid {valid}, test {test}; {} tokens, {} classes",
        report.vocab,
        report.classes.len()
    );
    Ok(args
        .run
        .finish(&report.summary, &cfg.train.select_metric, "classify"))
}

/// `train --ensemble N`: the members one after the other, then each
/// member's and the ensemble's validation accuracy.
fn train_ensemble(
    cfg: &ClassifyConfig,
    args: &TrainArgs,
    n: usize,
    globals: &Globals,
) -> Result<ExitCode> {
    let out = &args.run.out;
    let reports = recipe::train_ensemble(cfg, out, n, args.run.start(), globals.threads, false)?;
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

/// `classify ensemble`: copies the models into one ensemble directory.
fn ensemble(args: &EnsembleArgs) -> Result<ExitCode> {
    let weights = (!args.weights.is_empty()).then_some(args.weights.as_slice());
    recipe::assemble_ensemble(&args.models, weights, &args.out)?;
    report_ensemble(&args.out)
}

/// Prints each member's and the ensemble's validation accuracy.
fn report_ensemble(out: &std::path::Path) -> Result<ExitCode> {
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

/// The lecture's homework: every cell × hidden size trained on the same
/// split (models in `--out`/`<cell>-<hidden>`), scored on the same test set.
fn compare(args: &CompareArgs, globals: &Globals) -> Result<ExitCode> {
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
            let report = recipe::train(&cfg, &dir, Start::Fresh, globals.threads, true)?;
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

/// Config fields whose flag is not named after them (see [`TrainRun::config`]).
const RESUME_FLAGS: &[(&str, &str)] = &[
    ("model.head_hidden", "--head"),
    ("model.bidirectional", "--bidirectional/--unidirectional"),
    ("model.cell", "--cell"),
    ("text.level", "--level"),
    ("text.normalize", "--level"),
    ("data.min_freq", "--level"),
    ("data.text_col", "--text-col"),
    ("data.label_col", "--label-col"),
    ("inverse_class_weights", "--class-weights"),
    ("train.early_stopping", "--patience"),
    ("train.schedule", "--plateau/--cosine"),
    ("task.batch.batch_size", "--batch-size"),
];

/// The flags onto `cfg`, section by section, then the checks that need
/// the whole config.
fn apply_flags(cfg: &mut ClassifyConfig, a: &TrainArgs, g: &Globals) -> Result<()> {
    apply_data_flags(cfg, a);
    apply_model_flags(cfg, a);
    recipe_defaults_for_dataset(cfg, a);
    apply_train_flags(cfg, a, g);
    if a.mask_sparsity.is_some() && cfg.model.pooling != Pooling::Mask {
        anyhow::bail!(
            "--mask-sparsity weighs the gates of --pooling mask, but the pooling is {:?}",
            cfg.model.pooling
        );
    }
    if cfg.model.freeze_embeddings && cfg.embeddings.is_none() {
        anyhow::bail!(
            "--freeze-embeddings (model.freeze_embeddings) keeps pretrained vectors fixed: give them with --embeddings FILE"
        );
    }
    Ok(())
}

/// The dataset, its columns, and how its texts become tokens.
fn apply_data_flags(cfg: &mut ClassifyConfig, a: &TrainArgs) {
    a.data.apply(cfg);
    let d = &mut cfg.data;
    if a.text_col.is_some() {
        d.text_col = a.text_col.clone();
        d.label_col = a.label_col.clone();
    }
    if a.strict {
        d.strict = true;
    }
    // The news and review datasets are word-level lessons: words (lowercased,
    // punctuation split), seen at least twice, unless told otherwise.
    let wordy = matches!(cfg.data.dataset.as_str(), "ag-news-titles" | "imdb")
        && cfg.text.level == Level::Char;
    if let Some(l) = a.level.or(wordy.then_some(LevelArg::Word)) {
        if matches!(l, LevelArg::Word) && a.level.is_none() && cfg.data.min_freq < 2 {
            cfg.data.min_freq = 2;
        }
        cfg.text.level = l.into();
        cfg.text.normalize = match l {
            LevelArg::Char => NormalizeConfig {
                lowercase: false,
                split_punctuation: false,
            },
            LevelArg::Word => NormalizeConfig::default(),
        };
    }
    if a.max_len.is_some() {
        cfg.text.max_len = a.max_len;
    }
    if let Some(n) = a.ngrams {
        cfg.text.ngrams = n;
    }
}

/// The encoder, its pooling, head and embeddings, and the loss's weights.
fn apply_model_flags(cfg: &mut ClassifyConfig, a: &TrainArgs) {
    a.model.apply(cfg);
    let m = &mut cfg.model;
    if let Some(e) = a.encoder {
        m.encoder = match e {
            EncoderArg::Rnn => Encoder::Rnn,
            EncoderArg::Bag => Encoder::Bag,
        };
        // A bag's only pooling is the mean; the RNN's default is attention.
        if m.encoder == Encoder::Bag && a.pooling.is_none() {
            m.pooling = Pooling::Mean;
        }
    }
    if let Some(p) = a.pooling {
        m.pooling = p.into();
    }
    if let Some(&h) = a.hidden.first() {
        m.hidden = h;
        m.head_hidden = h;
    }
    if let Some(h) = a.head {
        m.head_hidden = h;
    }
    if a.freeze_embeddings {
        m.freeze_embeddings = true;
    }
    if let Some(l) = a.mask_sparsity {
        m.mask_sparsity = l;
    }
    if a.bidirectional {
        m.bidirectional = true;
    }
    if a.unidirectional {
        m.bidirectional = false;
    }
    if let Some(path) = &a.embeddings {
        cfg.embeddings = Some(path.clone());
    }
    if let Some(w) = a.class_weights {
        cfg.inverse_class_weights = matches!(w, ClassWeightsArg::Inverse);
    }
}

/// IMDB's reviews are long (230 words on average) and plentiful: three
/// epochs with 100-wide word vectors reach 90 % (BENCHMARKS.md) where the
/// surname recipe's fifteen would take forty minutes. Only where neither
/// flags nor the config file chose otherwise, so before the training flags.
fn recipe_defaults_for_dataset(cfg: &mut ClassifyConfig, a: &TrainArgs) {
    let defaults = ClassifyConfig::default();
    if cfg.data.dataset == "imdb" {
        if cfg.train.epochs == defaults.train.epochs {
            cfg.train.epochs = 3;
        }
        if cfg.model.embed == defaults.model.embed && a.model.embed.is_none() {
            cfg.model.embed = 100;
        }
    }
}

/// The shared training flags, then early stopping and the plateau schedule,
/// which follow the validation metric the recipe selects by.
fn apply_train_flags(cfg: &mut ClassifyConfig, a: &TrainArgs, g: &Globals) {
    a.train.apply(cfg, g.seed_flag);
    let t = &mut cfg.train;
    if let Some(p) = a.patience {
        t.early_stopping = Some(EarlyStoppingConfig {
            metric: t.select_metric.clone(),
            mode: t.select_goal,
            patience: p,
            ..EarlyStoppingConfig::default()
        });
    }
    if let Some(p) = a.plateau {
        t.schedule = ScheduleConfig::Plateau(PlateauConfig {
            mode: t.select_goal,
            factor: 0.5,
            patience: p,
            ..PlateauConfig::default()
        });
    }
}

fn eval(args: &EvalArgs) -> Result<ExitCode> {
    let predictor = Predictor::load(&args.model)?;
    let rows: Vec<Labelled> = match &args.data {
        None => held_out(&args.model, &args.split)?,
        Some(data) => {
            let read = recipe::read_dataset(&LabelDataConfig {
                dataset: data.clone(),
                text_col: args.text_col.clone(),
                label_col: args.label_col.clone(),
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

fn predict(args: &PredictArgs) -> Result<ExitCode> {
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
