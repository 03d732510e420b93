//! `attend classify train`: flags onto a [`ClassifyConfig`], one model or an
//! ensemble of them trained, and the summary.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use attend::classify;
use attend::classify::{ClassifyConfig, Encoder, Pooling};
use attend::data::ClassifyDefaults;
use attend::text::Level;
use attend::text::NormalizeConfig;
use attend::train::{PlateauConfig, ScheduleConfig};
use clap::Args;

use super::{ClassWeightsArg, EncoderArg, PoolingArg};

use crate::cli::Globals;
use crate::cli::common::TrainRun;
use crate::cli::flags::{DataFlags, LevelArg, ModelFlags, TrainFlags};

/// `attend classify train` flags; each overrides the config file.
#[derive(Debug, Args)]
#[command(mut_arg("data", |a| a.help(
    "Dataset name (names, ag-news-titles, imdb, sst2, sst1, mr, subj) or path of a CSV/TSV with a header (or, with --format, of labelled lines)"
)))]
pub struct TrainArgs {
    #[command(flatten)]
    pub(super) run: TrainRun,
    #[command(flatten)]
    data: DataFlags,
    /// Text column of a file given by path.
    #[arg(long, value_name = "C", requires = "label_col")]
    text_col: Option<String>,
    /// Label column of a file given by path.
    #[arg(long, value_name = "C", requires = "text_col")]
    label_col: Option<String>,
    /// The file's labels are inline in each line instead of in columns.
    #[arg(long, value_enum, conflicts_with_all = ["text_col", "label_col"])]
    format: Option<super::FormatArg>,
    /// The file's text encoding, e.g. latin1 or windows-1252 (default UTF-8,
    /// where an invalid byte is an error naming its line).
    #[arg(long, value_name = "LABEL")]
    encoding: Option<String>,
    /// Validation rows from this file (name or path, read as --data is)
    /// instead of a tenth of the training rows; named sets such as sst2
    /// bring their own dev file.
    #[arg(long, value_name = "NAME|PATH")]
    valid: Option<String>,
    /// Test rows from this file instead of a fraction of the training rows
    /// (saved as the model's test.tsv, what `classify eval` scores).
    #[arg(long, value_name = "NAME|PATH")]
    test: Option<String>,
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
    pub(super) hidden: Vec<usize>,
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
    /// Start the embeddings and recurrent layers from a language model
    /// directory of `attend lm train` (its vocabulary, cell, sizes and
    /// layers, read left to right; the pretrained layers thaw one an epoch
    /// from the top, ULMFiT's gradual unfreezing).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["embeddings", "embed", "hidden", "cell", "layers", "bidirectional", "unidirectional", "ngrams"])]
    init_from_lm: Option<PathBuf>,
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
    pub(super) ensemble: Option<u16>,
    /// Search architectures and training settings for this many minutes on
    /// the validation split (random search, the flags' configuration first,
    /// each trial with early stopping), keep the best model in --out and the
    /// trials in --out/autotune.tsv.
    #[arg(long, value_name = "MINUTES", conflicts_with_all = ["ensemble", "resume"])]
    pub(super) autotune: Option<f64>,
}

pub(super) fn train(args: &TrainArgs, globals: &Globals) -> Result<ExitCode> {
    if args.hidden.len() > 1 {
        anyhow::bail!("--hidden takes one size for train (several are for `classify compare`)");
    }
    let cfg: ClassifyConfig = args
        .run
        .config(RESUME_FLAGS, |cfg| apply_flags(cfg, args, globals))?;
    let planned = match args.run.resume {
        true => classify::planned_ensemble(&args.run.out)?,
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
    if let Some(minutes) = args.autotune {
        return super::autotune::autotune(&cfg, minutes, args, globals);
    }
    if let Some(n) = members.or(planned).filter(|&n| n > 1) {
        return super::ensemble::train_ensemble(&cfg, args, n, globals);
    }
    let report = classify::train(&cfg, &args.run.options(globals.threads))?;
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
    ("data.format", "--format"),
    ("data.encoding", "--encoding"),
    ("inverse_class_weights", "--class-weights"),
    ("train.early_stopping", "--patience"),
    ("train.schedule", "--plateau/--cosine"),
    ("task.batch.batch_size", "--batch-size"),
];

/// The flags onto `cfg`, section by section, then the checks that need
/// the whole config.
pub(super) fn apply_flags(cfg: &mut ClassifyConfig, a: &TrainArgs, g: &Globals) -> Result<()> {
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
    if let Some(f) = a.format {
        d.format = Some(f.into());
    }
    if a.encoding.is_some() {
        d.encoding = a.encoding.clone();
    }
    if a.valid.is_some() {
        d.valid = a.valid.clone();
    }
    if a.test.is_some() {
        d.test = a.test.clone();
    }
    if a.strict {
        d.strict = true;
    }
    // A word-level lesson (the registry says which): words (lowercased,
    // punctuation split), seen at least twice, unless told otherwise.
    let wordy = lesson_defaults(cfg).is_some_and(|l| l.words) && cfg.text.level == Level::Char;
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
    if let Some(dir) = &a.init_from_lm {
        cfg.init_from_lm = Some(dir.clone());
    }
    if let Some(w) = a.class_weights {
        cfg.inverse_class_weights = matches!(w, ClassWeightsArg::Inverse);
    }
}

/// The dataset's lesson settings from the registry ([`ClassifyDefaults`]);
/// word-level data of one's own gets the sentence sets' settings.
fn lesson_defaults(cfg: &ClassifyConfig) -> Option<ClassifyDefaults> {
    match attend::data::lookup(&cfg.data.dataset) {
        Some(d) => d.classify,
        None => (cfg.text.level == Level::Word).then_some(ClassifyDefaults::SENTENCES),
    }
}

/// The dataset lesson's epochs, embedding width, dropout and early
/// stopping, each only where neither flags nor the config file chose
/// otherwise, so before the training flags.
fn recipe_defaults_for_dataset(cfg: &mut ClassifyConfig, a: &TrainArgs) {
    let defaults = ClassifyConfig::default();
    let Some(lesson) = lesson_defaults(cfg) else {
        return;
    };
    if let Some(epochs) = lesson.epochs
        && cfg.train.epochs == defaults.train.epochs
        && a.train.epochs.is_none()
    {
        cfg.train.epochs = epochs;
    }
    if let Some(embed) = lesson.embed
        && cfg.model.embed == defaults.model.embed
        && a.model.embed.is_none()
    {
        cfg.model.embed = embed;
    }
    if let Some(dropout) = lesson.dropout
        && cfg.model.dropout == defaults.model.dropout
        && a.model.dropout.is_none()
    {
        cfg.model.dropout = dropout;
    }
    if let Some(patience) = lesson.patience
        && cfg.train.early_stopping.is_none()
        && a.patience.is_none()
    {
        cfg.train.early_stopping = Some(cfg.train.stop_on_selection(patience));
    }
}

/// The shared training flags, then early stopping and the plateau schedule,
/// which follow the validation metric the recipe selects by.
fn apply_train_flags(cfg: &mut ClassifyConfig, a: &TrainArgs, g: &Globals) {
    a.train.apply(cfg, g.seed_flag);
    let t = &mut cfg.train;
    if let Some(p) = a.patience {
        t.early_stopping = Some(t.stop_on_selection(p));
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
