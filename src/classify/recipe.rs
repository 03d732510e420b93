//! A whole classification run, from a dataset name to a trained model
//! directory, and its evaluation: what `attend classify train|eval` do.
//!
//! Data flow (DESIGN §2): read labelled rows → normalise → tokenise (chars or
//! words) → seeded stratified split (80/10/10 unless the dataset brings its
//! own test set; the reference script's split, see [`prepare`]) → vocabulary and classes from the training split only →
//! encode (unknown → `<unk>`) → train with [`Trainer`] → the model directory
//! holds `config.json` (model and text pipeline), `vocab.json`,
//! `classes.json`, the weights, `train_config.json` and the held-out
//! examples (`valid.tsv`, `test.tsv`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::task::{ClassifyTask, Example, TaskConfig};
use super::{Classifier, ClassifierConfig};
use crate::data::{Resolver, vectors};
use crate::nn::ParamStore;
use crate::text::{Specials, Vocab, VocabConfig};
use crate::train::TRAIN_CONFIG;
use crate::train::{
    AdamConfig, Goal, ModelDir, OptimizerConfig, RunOptions, Start, Summary, TaskParts,
    TrainConfig, Trainer,
};
use crate::{Error, Result};

use super::data::{
    LabelDataConfig, Labelled, Prepared, classes_of, inverse_weights, prepare, write_rows,
};
use super::from_lm::{LmEncoder, unfreezing_groups};
use super::pretrained::{Coverage, load_pretrained};
use super::text::{TextConfig, truncated};

/// The best weights, as the trainer writes them.
pub(crate) const WEIGHTS: &str = "model.safetensors";

/// Everything `attend classify train` needs: one TOML file's sections.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassifyConfig {
    /// Data and split.
    pub data: LabelDataConfig,
    /// Text pipeline.
    pub text: TextConfig,
    /// The model (vocabulary and class counts are filled in from the data).
    pub model: ClassifierConfig,
    /// The training loop.
    pub train: TrainConfig,
    /// Batching.
    pub task: TaskConfig,
    /// Weight the loss by inverse class frequency (`--class-weights inverse`).
    pub inverse_class_weights: bool,
    /// Initialise the embedding table from a vector file (word2vec text or
    /// binary, GloVe; `--embeddings`): the model's embedding width becomes
    /// the file's, tokens found in it (exactly, else lowercased) take its
    /// vectors, the others keep their random initial ones, `<pad>` stays 0.
    pub embeddings: Option<PathBuf>,
    /// Start the embeddings and recurrent layers from an `attend lm`
    /// model directory (`--init-from-lm`; its vocabulary and shape, gradual
    /// unfreezing: see `classify::from_lm`).
    #[serde(default)]
    pub init_from_lm: Option<PathBuf>,
}

impl Default for ClassifyConfig {
    /// The recipe `attend classify train` runs without flags, for the
    /// surnames lesson: a character-level bidirectional GRU (embeddings 64,
    /// hidden 128) with attention pooling and an MLP head, dropout 0.2, Adam
    /// 2e-3 with gradients clipped to norm 5, batches of 64, 15 epochs, the
    /// weights of the best validation accuracy kept.
    fn default() -> Self {
        ClassifyConfig {
            data: LabelDataConfig::default(),
            text: TextConfig::default(),
            model: ClassifierConfig::default(),
            train: TrainConfig {
                epochs: 15,
                optimizer: OptimizerConfig::Adam(AdamConfig {
                    lr: 2e-3,
                    ..AdamConfig::default()
                }),
                clip_norm: Some(5.0),
                select_metric: "accuracy".into(),
                select_goal: Goal::Max,
                ..TrainConfig::default()
            },
            task: TaskConfig::default(),
            inverse_class_weights: false,
            embeddings: None,
            init_from_lm: None,
        }
    }
}

impl ClassifyConfig {
    /// Checks every section and the rules between them (the model's sizes
    /// are checked once the data fills in the vocabulary and classes).
    pub fn validate(&self) -> Result<()> {
        self.train.validate()?;
        self.text.validate()?;
        if self.init_from_lm.is_some() && self.embeddings.is_some() {
            return Err(Error::Config(
                "--init-from-lm brings the language model's embeddings: leave out --embeddings"
                    .into(),
            ));
        }
        if self.text.ngrams > 1 && self.model.encoder != super::Encoder::Bag {
            return Err(Error::Config(format!(
                "ngrams = {} needs the bag encoder (--encoder bag): an RNN reads the tokens in order, n-grams are for a bag",
                self.text.ngrams
            )));
        }
        Ok(())
    }
}

/// The saved description of a model: enough to rebuild and use it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedClassifier {
    /// The architecture.
    pub model: ClassifierConfig,
    /// The text pipeline.
    pub text: TextConfig,
}

/// What [`train`] did.
#[derive(Debug)]
pub struct TrainReport {
    /// The trainer's summary.
    pub summary: Summary,
    /// Sizes of the three splits.
    pub sizes: (usize, usize, usize),
    /// Vocabulary size and classes.
    pub vocab: usize,
    /// The classes.
    pub classes: Vec<String>,
    /// Vocabulary coverage of `--embeddings`, when given.
    pub coverage: Option<Coverage>,
}

/// Trains a classifier into `run.out`, or resumes the run there (an
/// ensemble member's run is quiet about the data but shows its progress).
pub fn train(cfg: &ClassifyConfig, run: &RunOptions) -> Result<TrainReport> {
    cfg.validate()?;
    train_prepared(cfg, run, &prepare(&cfg.data)?)
}

/// [`train`] on rows already read and split (a cross-validation fold's).
pub fn train_prepared(
    cfg: &ClassifyConfig,
    run: &RunOptions,
    data: &Prepared,
) -> Result<TrainReport> {
    let quiet = run.quiet;
    cfg.validate()?;
    let source = Resolver::from_env().resolve(&cfg.data.dataset)?.path;
    let (dir, _lock, start) = ModelDir::for_training(run, Some(&source))?;
    if let (Some(w), false) = (&data.warning, quiet) {
        eprintln!("{w}");
    }
    let lm = match (&cfg.init_from_lm, start) {
        (Some(dir), Start::Fresh) => Some(LmEncoder::open(dir)?),
        _ => None,
    };
    let mut extended = None;
    let (vocab, classes) = match (start, &lm) {
        (Start::Fresh, Some(lm)) => {
            let tokens = data.train.iter().flat_map(|r| cfg.text.tokens(&r.text));
            let (vocab, ext) = lm.extended_vocab(tokens, cfg.data.min_freq)?;
            extended = Some(ext);
            (vocab, classes_of(&data.train))
        }
        (Start::Fresh, None) => {
            let vcfg = VocabConfig {
                min_freq: cfg.data.min_freq,
                max_size: cfg.data.max_vocab,
                specials: Specials::of(&["<pad>", "<unk>"]),
            };
            let vocab = Vocab::build(
                data.train.iter().flat_map(|r| cfg.text.tokens(&r.text)),
                &vcfg,
            )?;
            (vocab, classes_of(&data.train))
        }
        (Start::Resume, _) => (
            Vocab::load(&dir.file("vocab.json"))?,
            dir.read_json("classes.json")?,
        ),
    };
    if !quiet {
        let max = cfg.text.max_tokens();
        let cut = truncated(&cfg.text, max, [&data.train, &data.valid, &data.test]);
        if cut > 0 {
            eprintln!(
                "warning: {cut} texts have more than max_len = {max} tokens and are truncated"
            );
        }
    }
    let pretrained = match (&cfg.embeddings, start) {
        (Some(path), Start::Fresh) => {
            let (vectors, report) = vectors::load_report(path, None)?;
            if let (Some(w), false) = (report.warning(path), quiet) {
                eprintln!("{w}");
            }
            Some(vectors)
        }
        _ => None,
    };
    let model_cfg = match (start, &lm) {
        // A resumed run is the model its directory describes (its width may
        // have come from a vector file or a language model).
        (Start::Resume, _) => dir.read_json::<SavedClassifier>("config.json")?.model,
        (Start::Fresh, Some(lm)) => ClassifierConfig {
            classes: classes.len(),
            ..lm.shape(&cfg.model, cfg.text.level, vocab.len())?
        },
        (Start::Fresh, None) => ClassifierConfig {
            vocab: vocab.len(),
            classes: classes.len(),
            pad_id: vocab.pad_id(),
            embed: pretrained.as_ref().map_or(cfg.model.embed, |v| v.dim()),
            ..cfg.model.clone()
        },
    };
    model_cfg.validate()?;
    let params = ParamStore::new(cfg.train.seed);
    let model = Classifier::new(
        &model_cfg,
        params.var_builder(candle_core::DType::F32, &candle_core::Device::Cpu),
    )?;
    if let (Some(lm), Some(ext)) = (&lm, extended) {
        let copied = lm.load_into(&params)?;
        if !quiet {
            eprintln!("{}", lm.report(copied, &model_cfg, ext));
        }
    }
    let coverage = match &pretrained {
        Some(vectors) => {
            let c = load_pretrained(&params, &vocab, vectors)?;
            if !quiet {
                eprintln!(
                    "embeddings: {} of {} vocabulary tokens found in {} ({:.1} %){}",
                    c.found,
                    c.tokens,
                    cfg.embeddings
                        .as_ref()
                        .map_or(String::new(), |p| p.display().to_string()),
                    100.0 * c.found as f64 / c.tokens.max(1) as f64,
                    if model_cfg.freeze_embeddings {
                        ", frozen"
                    } else {
                        ""
                    }
                );
            }
            Some(c)
        }
        None => None,
    };
    if start == Start::Fresh {
        dir.write_json(
            "config.json",
            &SavedClassifier {
                model: model_cfg.clone(),
                text: cfg.text.clone(),
            },
        )?;
        dir.write_vocab("vocab.json", &vocab)?;
        dir.write_json("classes.json", &classes)?;
        write_rows(&dir, "valid.tsv", &data.valid)?;
        write_rows(&dir, "test.tsv", &data.test)?;
        dir.record_data(&source)?;
    }
    // A resume records what it may change (epochs, limits), so the next
    // `--resume` goes on with them.
    dir.write_json(TRAIN_CONFIG, cfg)?;
    let encode = |rows: &[Labelled]| -> Result<Vec<Example>> {
        rows.iter()
            .filter_map(|r| {
                // Validation rows of a class unseen in training cannot be scored.
                let label = classes.iter().position(|c| *c == r.label)? as u32;
                Some(
                    cfg.text
                        .encode(&r.text, &vocab)
                        .map(|ids| Example { ids, label }),
                )
            })
            .collect()
    };
    let weights = cfg
        .inverse_class_weights
        .then(|| inverse_weights(&data.train, &classes));
    let parts = TaskParts {
        model,
        params,
        train: encode(&data.train)?,
        valid: encode(&data.valid)?,
        seed: cfg.train.seed,
    };
    let task = ClassifyTask::new(parts, classes.clone(), weights, &cfg.task)?;
    let mut train_cfg = cfg.train.clone();
    if cfg.init_from_lm.is_some() && train_cfg.gradual_unfreezing.is_empty() {
        train_cfg.gradual_unfreezing = unfreezing_groups(model_cfg.layers);
    }
    let summary = Trainer::new(train_cfg, dir)?
        .threads(run.threads)
        .on_record(crate::viz::plot_history)
        .quiet(!run.progress)
        .fit(&task, start)?;
    Ok(TrainReport {
        summary,
        sizes: (data.train.len(), data.valid.len(), data.test.len()),
        vocab: vocab.len(),
        classes,
        coverage,
    })
}
