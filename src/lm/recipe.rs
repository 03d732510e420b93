//! A whole language-model run, from a dataset name to a trained model
//! directory, and its evaluation: what `attend lm train|eval` do.
//!
//! Data flow (DESIGN §2): read → split (streams by position, lines seeded and
//! stratified by condition) → vocabulary from the training part → encode
//! (unknown → `<unk>`) → train with [`Trainer`] → the model directory holds
//! `config.json` (architecture, text level, stream or lines, conditions),
//! `vocab.json`, the weights, `train_config.json`, the held-out parts
//! (`valid.txt`/`test.txt`, or `.tsv` for lines), history and curves, and
//! `bpc_time.png`/`.svg`: the validation curve against wall-clock minutes.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::batch::{EncodedLine, LmData, LmSpecials};
use super::data::{self, Line, LmDataConfig, Splits};
use super::decoding::LmDecodeConfig;
use super::model::{LanguageModel, LmConfig};
use super::task::{LmTask, TaskConfig, score};
use crate::data::Resolver;
use crate::data::{Column, Delimiter, LabelledFormat, read_labelled};
use crate::nn::ParamStore;
use crate::text::Level;
use crate::text::Vocab;
use crate::train::TRAIN_CONFIG;
use crate::train::{
    AdamConfig, Goal, ModelDir, OptimizerConfig, RunOptions, Start, Summary, TaskParts,
    TrainConfig, Trainer,
};
use crate::viz::{Chart, Series, plot_lines};
use crate::{Error, Result};

/// The best weights, as the trainer writes them.
const WEIGHTS: &str = "model.safetensors";

/// Everything `attend lm train` needs: one TOML file's sections.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LmRunConfig {
    /// Data, level and split.
    pub data: LmDataConfig,
    /// The model (vocabulary and condition counts are filled in from the data).
    pub model: LmConfig,
    /// The training loop.
    pub train: TrainConfig,
    /// Batching, truncated BPTT, scheduled sampling.
    pub task: TaskConfig,
    /// How `lm generate` decodes the trained model by default.
    pub decode: LmDecodeConfig,
}

impl LmRunConfig {
    /// Checks every section (the model's sizes are checked once the data
    /// fills in the vocabulary).
    pub fn validate(&self) -> Result<()> {
        self.train.validate()?;
        self.task.validate()?;
        self.data.validate()?;
        self.decode.validate()
    }
}

impl Default for LmRunConfig {
    /// A char-level LSTM (512 units) on text8 as in Karpathy's char-rnn:
    /// Adam 2e-3, gradients clipped to norm 5, 64 streams × 100 steps.
    fn default() -> Self {
        LmRunConfig {
            data: LmDataConfig::default(),
            model: LmConfig::default(),
            train: TrainConfig {
                epochs: 10,
                optimizer: OptimizerConfig::Adam(AdamConfig {
                    lr: 2e-3,
                    ..AdamConfig::default()
                }),
                clip_norm: Some(5.0),
                select_metric: "loss".into(),
                select_goal: Goal::Min,
                ..TrainConfig::default()
            },
            task: TaskConfig::default(),
            decode: LmDecodeConfig::default(),
        }
    }
}

/// The saved description of a model: enough to rebuild and use it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedLm {
    /// The architecture.
    pub model: LmConfig,
    /// How its data was read (level, columns, split).
    pub data: LmDataConfig,
    /// Trained on one stream (true) or on lines.
    pub stream: bool,
    /// The conditions, in index order (empty: unconditioned).
    pub conditions: Vec<String>,
    /// Evaluation settings.
    pub task: TaskConfig,
    /// Generation defaults (absent from models saved before the section:
    /// its default, the sampling those were always generated with).
    #[serde(default)]
    pub decode: LmDecodeConfig,
}

/// Loads the model, vocabulary and description in `dir`.
pub fn load_model(dir: &Path) -> Result<(LanguageModel, Vocab, SavedLm)> {
    let d = ModelDir::open(dir)?;
    let saved: SavedLm = d.read_json("config.json")?;
    let vocab = Vocab::load(&d.file("vocab.json"))?;
    if vocab.len() != saved.model.vocab {
        return Err(Error::Config(format!(
            "{}: config.json says {} tokens, vocab.json has {}",
            dir.display(),
            saved.model.vocab,
            vocab.len()
        )));
    }
    let device = candle_core::Device::Cpu;
    let (model, _params) =
        d.load_weights(WEIGHTS, &device, |vb| LanguageModel::new(&saved.model, vb))?;
    Ok((model, vocab, saved))
}

/// What [`train`] did.
#[derive(Debug)]
pub struct TrainReport {
    /// The trainer's summary.
    pub summary: Summary,
    /// Tokens in the training, validation and test parts.
    pub sizes: (usize, usize, usize),
    /// Vocabulary size.
    pub vocab: usize,
    /// The conditions.
    pub conditions: Vec<String>,
}

fn specials(vocab: &Vocab) -> Result<LmSpecials> {
    let need = |id: Option<u32>, name: &str| {
        id.ok_or_else(|| Error::Vocab(format!("the vocabulary has no {name}")))
    };
    Ok(LmSpecials {
        pad: need(vocab.pad_id(), "<pad>")?,
        sos: need(vocab.sos_id(), "<sos>")?,
        eos: need(vocab.eos_id(), "<eos>")?,
    })
}

/// Encodes lines; a line whose condition is not among `conditions` is an error.
fn encode_lines(
    lines: &[Line],
    level: Level,
    vocab: &Vocab,
    conditions: &[String],
) -> Result<Vec<EncodedLine>> {
    lines
        .iter()
        .map(|l| {
            let condition = match &l.condition {
                Some(c) => Some(conditions.iter().position(|k| k == c).ok_or_else(|| {
                    Error::Config(format!(
                        "condition `{c}` does not occur in the training part"
                    ))
                })? as u32),
                None => None,
            };
            Ok(EncodedLine {
                ids: vocab.encode(&data::tokens(&l.text, level, false)),
                condition,
            })
        })
        .collect()
}

fn encode(part: Part<'_>, level: Level, vocab: &Vocab, conditions: &[String]) -> Result<LmData> {
    Ok(match part {
        Part::Stream(text) => LmData::Stream(data::encode_stream(text, level, vocab)?),
        Part::Lines(lines) => LmData::Lines(encode_lines(lines, level, vocab, conditions)?),
    })
}

enum Part<'a> {
    Stream(&'a str),
    Lines(&'a [Line]),
}

fn parts(splits: &Splits) -> [Part<'_>; 3] {
    match splits {
        Splits::Stream { train, valid, test } => {
            [Part::Stream(train), Part::Stream(valid), Part::Stream(test)]
        }
        Splits::Lines { train, valid, test } => {
            [Part::Lines(train), Part::Lines(valid), Part::Lines(test)]
        }
    }
}

/// Trains a language model into `out`, or resumes the run there.
pub fn train(cfg: &LmRunConfig, run: &RunOptions) -> Result<TrainReport> {
    cfg.validate()?;
    let source = Resolver::from_env().resolve(&cfg.data.dataset)?.path;
    let (dir, _lock, start) = ModelDir::for_training(run, Some(&source))?;
    let quiet = run.quiet;
    let mut splits = data::read(&cfg.data)?;
    let max = cfg.data.max_line();
    let cut = data::cut_long_lines(&mut splits, cfg.data.level, max);
    if cut > 0 && !quiet {
        eprintln!(
            "warning: {cut} lines longer than max_len = {max} tokens cut to their first {max}"
        );
    }
    let stream = matches!(splits, Splits::Stream { .. });
    let (vocab, conditions) = match start {
        Start::Fresh => {
            let mut conditions: Vec<String> = match &splits {
                Splits::Lines { train, .. } => {
                    train.iter().filter_map(|l| l.condition.clone()).collect()
                }
                Splits::Stream { .. } => Vec::new(),
            };
            conditions.sort();
            conditions.dedup();
            (data::build_vocab(&splits, &cfg.data)?, conditions)
        }
        Start::Resume => {
            let saved: SavedLm = dir.read_json("config.json")?;
            (Vocab::load(&dir.file("vocab.json"))?, saved.conditions)
        }
    };
    let model_cfg = LmConfig {
        vocab: vocab.len(),
        pad_id: vocab.pad_id(),
        conditions: conditions.len(),
        ..cfg.model.clone()
    };
    model_cfg.validate()?;
    let [train_part, valid_part, test_part] = parts(&splits);
    let level = cfg.data.level;
    let train = encode(train_part, level, &vocab, &conditions)?;
    let valid = encode(valid_part, level, &vocab, &conditions)?;
    let test = encode(test_part, level, &vocab, &conditions)?;
    if start == Start::Fresh {
        dir.write_json(
            "config.json",
            &SavedLm {
                model: model_cfg.clone(),
                data: cfg.data.clone(),
                stream,
                conditions: conditions.clone(),
                task: cfg.task.clone(),
                decode: cfg.decode,
            },
        )?;
        dir.write_vocab("vocab.json", &vocab)?;
        write_part(&dir, "valid", &splits, 1)?;
        write_part(&dir, "test", &splits, 2)?;
        dir.record_data(&source)?;
    }
    // A resume records what it may change (epochs, limits), so the next
    // `--resume` goes on with them.
    dir.write_json(TRAIN_CONFIG, cfg)?;
    let params = ParamStore::new(cfg.train.seed);
    let model = LanguageModel::new(
        &model_cfg,
        params.var_builder(candle_core::DType::F32, &candle_core::Device::Cpu),
    )?;
    let sizes = (train.predicted(), valid.predicted(), test.predicted());
    let chars = (level == Level::Char).then_some(1.0);
    let parts = TaskParts {
        model,
        params,
        train,
        valid,
        seed: cfg.train.seed,
    };
    let task = LmTask::new(parts, specials(&vocab)?, chars, &cfg.task)?;
    let summary = Trainer::new(cfg.train.clone(), dir.clone())?
        .threads(run.threads)
        .on_record(crate::viz::plot_history)
        .quiet(!run.progress)
        .fit(&task, start)?;
    plot_against_time(&dir, &summary)?;
    Ok(TrainReport {
        summary,
        sizes,
        vocab: vocab.len(),
        conditions,
    })
}

/// `bpc_time` (char models) or `loss_time`: validation against wall-clock minutes.
fn plot_against_time(dir: &ModelDir, summary: &Summary) -> Result<()> {
    let epochs = &summary.state.history.epochs;
    let metric = if epochs.iter().any(|r| r.valid.contains_key("bits_per_char")) {
        "bits_per_char"
    } else {
        "loss"
    };
    let points: Vec<(f64, f64)> = epochs
        .iter()
        .filter_map(|r| r.valid.get(metric).map(|v| (r.elapsed / 60.0, *v)))
        .collect();
    if points.is_empty() {
        return Ok(());
    }
    let stem = if metric == "loss" {
        "loss_time"
    } else {
        "bpc_time"
    };
    let chart = Chart {
        title: format!("validation {metric} against training time"),
        x_label: "minutes".into(),
        y_label: metric.into(),
    };
    let series = [Series {
        name: format!("valid {metric}"),
        points,
    }];
    plot_lines(&dir.file(stem), &chart, &series)
}

/// Writes held-out part `k` (1 validation, 2 test): raw text for streams, a
/// TSV of `text` and `condition` for lines.
fn write_part(dir: &ModelDir, name: &str, splits: &Splits, k: usize) -> Result<()> {
    match &parts(splits)[k] {
        Part::Stream(text) => dir.write_bytes(&format!("{name}.txt"), text.as_bytes()),
        Part::Lines(lines) => {
            let mut buf = Vec::new();
            let io = |e| Error::io(format!("{name}.tsv"), e);
            writeln!(buf, "text\tcondition").map_err(io)?;
            for l in lines.iter() {
                let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
                writeln!(
                    buf,
                    "{}\t{}",
                    clean(&l.text),
                    clean(l.condition.as_deref().unwrap_or(""))
                )
                .map_err(io)?;
            }
            dir.write_bytes(&format!("{name}.tsv"), &buf)
        }
    }
}

/// Scores of a text under a model.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvalReport {
    /// Mean negative log-likelihood per predicted token (nats).
    pub loss: f64,
    /// `exp(loss)`.
    pub perplexity: f64,
    /// Bits per character (char models; `null` otherwise).
    pub bits_per_char: Option<f64>,
    /// Predicted tokens.
    pub tokens: usize,
    /// What was scored.
    pub data: String,
}

/// Scores the held-out test part saved in `dir` or, with `dataset`, every
/// line or character of that file (read as the model's training data was).
pub fn evaluate(dir: &Path, dataset: Option<&str>) -> Result<EvalReport> {
    let (model, vocab, saved) = load_model(dir)?;
    let level = saved.data.level;
    let (part, what): (Splits, String) = match dataset {
        Some(name) => {
            let cfg = LmDataConfig {
                dataset: name.to_string(),
                ..saved.data.clone()
            };
            (data::read_whole(&cfg, saved.stream)?, name.to_string())
        }
        None => {
            let file = data::held_out_file(dir, "test", saved.stream);
            let part = match saved.stream {
                true => Splits::Stream {
                    train: String::new(),
                    valid: String::new(),
                    test: data::read_text(&file)?,
                },
                false => {
                    let fmt = LabelledFormat {
                        delimiter: Delimiter::Tsv,
                        header: true,
                        text: vec![Column::Name("text".into())],
                        label: Column::Name("condition".into()),
                    };
                    let lines = read_labelled(&file, &fmt)?
                        .into_iter()
                        .map(|e| Line {
                            text: e.text,
                            condition: (!saved.conditions.is_empty()).then_some(e.label),
                        })
                        .collect();
                    Splits::Lines {
                        train: Vec::new(),
                        valid: Vec::new(),
                        test: lines,
                    }
                }
            };
            (part, file.display().to_string())
        }
    };
    let mut part = part;
    data::cut_long_lines(&mut part, level, saved.data.max_line());
    let [_, _, test] = parts(&part);
    let test = encode(test, level, &vocab, &saved.conditions)?;
    let (nll, tokens) = score(&model, &test, &specials(&vocab)?, &saved.task)?;
    let m = LmTask::metrics(nll, tokens, (level == Level::Char).then_some(1.0));
    Ok(EvalReport {
        loss: m["loss"],
        perplexity: m["perplexity"],
        bits_per_char: m.get("bits_per_char").copied(),
        tokens,
        data: what,
    })
}
