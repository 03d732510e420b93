//! A whole translation run, from a dataset name to a trained model directory,
//! and its evaluation: what `attend translate train|eval` do, as library calls.
//!
//! Data flow (DESIGN §2): read pairs → optional reverse → normalise (the
//! lesson's `normalizeString` when the tutorial filter is on) → filter →
//! split → vocabularies from the training split only → encode → train with
//! [`Trainer`] → the model directory holds `config.json`, both vocabularies,
//! the weights, the held-out pairs (`valid.tsv`, `test.tsv`) and `data.json`.
//!
//! The split shuffles pair indices with Python's `random.Random(seed)` and
//! takes the test set first, then the validation set: with the defaults this
//! is exactly the 1,059-pair test set of the PyTorch reference scripts in
//! `shared/bench`, so their scores and ours are on the same sentences.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::score::score;
use super::task::{Example, TaskConfig, TranslationTask};
use super::{
    DecodeConfig, DecoderKind, Normalization, Seq2Seq, Seq2SeqConfig, TextConfig, Translator,
};
use crate::data::BatchConfig;
use crate::data::{Pair, PairFilter, PairFilterConfig, Resolver, python_shuffled, read_pairs};
use crate::nn::ParamStore;
use crate::text::{Specials, Vocab, VocabConfig};
use crate::train::TRAIN_CONFIG;
use crate::train::{
    AdamConfig, Goal, ModelDir, OptimizerConfig, RunOptions, ScheduleConfig, Start, Summary,
    TaskParts, TrainConfig, Trainer,
};
use crate::{Error, Result};

/// The `data` section: which pairs, prepared how, split how.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PairDataConfig {
    /// A dataset name (`eng-fra`) or a path to a TSV of pairs.
    pub dataset: String,
    /// Swap the columns (the lesson translates French → English).
    pub reverse: bool,
    /// The lesson's pipeline: `normalizeString` and `filterPair` (English
    /// prefixes, fewer than `max_len` words a side).
    pub tutorial_filter: bool,
    /// Longest sentence kept: the lesson's `MAX_LENGTH` (words < max_len)
    /// with the tutorial filter, else at most `max_len` tokens a side
    /// (default [`DEFAULT_MAX_LEN`]); longer pairs are skipped and counted.
    pub max_len: Option<usize>,
    /// Fraction of pairs held out for the final test.
    pub test_fraction: f64,
    /// Fraction of pairs held out for validation (model selection).
    pub valid_fraction: f64,
    /// Seed of the split's shuffle (Python's `random.Random(seed)`).
    pub split_seed: u64,
    /// Words seen fewer times in the training split become `<unk>`.
    pub min_freq: u64,
}

impl Default for PairDataConfig {
    fn default() -> Self {
        PairDataConfig {
            dataset: "eng-fra".into(),
            reverse: false,
            tutorial_filter: false,
            max_len: None,
            test_fraction: 0.1,
            valid_fraction: 0.05,
            split_seed: 42,
            min_freq: 1,
        }
    }
}

/// The most tokens a side of a training pair has unless `data.max_len`
/// says otherwise: longer pairs are skipped (with a count), as OpenNMT's
/// `src_seq_length`/`tgt_seq_length` and JoeyNMT's `max_sent_length` do,
/// since one runaway line (a missing newline, a whole document) would
/// otherwise set the padded size of its batch and the memory of the run.
/// No pair of the bundled datasets is this long.
pub const DEFAULT_MAX_LEN: usize = 100;

/// The largest `data.max_len`: pairs this long already need gigabytes of
/// activations a batch.
pub const MAX_MAX_LEN: usize = 10_000;

/// Everything `attend translate train` needs: one TOML file's sections.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TranslateConfig {
    /// Data preparation and split.
    pub data: PairDataConfig,
    /// The model (vocabulary sizes are filled in from the data).
    pub model: Seq2SeqConfig,
    /// The training loop.
    pub train: TrainConfig,
    /// Batching, teacher forcing, label smoothing.
    pub task: TaskConfig,
    /// How the trained model decodes in `translate run|eval` unless flags
    /// say otherwise: saved in its `config.json` (see [`DecodeConfig`]).
    /// Validation decodes greedily within `task.limit`.
    pub decode: DecodeConfig,
}

impl Default for TranslateConfig {
    /// The recipe `attend translate train` runs without flags, chosen on the
    /// lesson's data for the best model within a minute on two cores, by mean
    /// validation BLEU over three training seeds (`BENCHMARKS.md` lists the
    /// candidates, with the test BLEU that was also read for some of them):
    ///
    /// - GRU encoder–decoder, hidden and embeddings 256, one layer, the
    ///   encoder bidirectional (bridged to the decoder's state);
    /// - Luong `general` attention *without* input feeding, so teacher-forced
    ///   training runs the decoder over all steps at once (several times
    ///   faster than a step-by-step decoder on a CPU, for equal BLEU here);
    /// - the output layer tied to the target embeddings (Press & Wolf 2017):
    ///   on these 9,000 pairs it learns in 8 epochs what the untied model
    ///   needed 20 for, and ends higher;
    /// - dropout 0.1, label smoothing 0.1, Adam at 2e-3 decaying ×0.8 an
    ///   epoch (a cosine to 0 over the same 8 epochs scored 0.9 lower),
    ///   gradients clipped to norm 5, batches of 64, teacher forcing always;
    /// - 8 epochs, the weights kept are those of the best validation BLEU.
    ///
    /// The section types' own defaults (`Seq2SeqConfig::default`, …) stay the
    /// neutral ones other callers build on.
    fn default() -> Self {
        TranslateConfig {
            data: PairDataConfig::default(),
            model: Seq2SeqConfig {
                embed: 256,
                hidden: 256,
                bidirectional: true,
                dropout: 0.1,
                decoder: DecoderKind::General,
                input_feeding: false,
                tie_embeddings: true,
                ..Seq2SeqConfig::default()
            },
            train: TrainConfig {
                epochs: 8,
                optimizer: OptimizerConfig::Adam(AdamConfig {
                    lr: 2e-3,
                    ..AdamConfig::default()
                }),
                clip_norm: Some(5.0),
                schedule: ScheduleConfig::Exponential { gamma: 0.8 },
                select_metric: "bleu".into(),
                select_goal: Goal::Max,
                ..TrainConfig::default()
            },
            task: TaskConfig {
                batch: BatchConfig {
                    batch_size: 64,
                    ..BatchConfig::default()
                },
                label_smoothing: 0.1,
                ..TaskConfig::default()
            },
            decode: DecodeConfig::beam(),
        }
    }
}

impl TranslateConfig {
    /// Checks every section and the rules between them.
    pub fn validate(&self) -> Result<()> {
        let d = &self.data;
        let held_out = d.test_fraction + d.valid_fraction;
        if !(0.0..1.0).contains(&d.test_fraction)
            || !(0.0..1.0).contains(&d.valid_fraction)
            || held_out >= 1.0
        {
            return Err(Error::Config(format!(
                "data.test_fraction and data.valid_fraction must be in [0, 1) and leave pairs to train on (got {} and {})",
                d.test_fraction, d.valid_fraction
            )));
        }
        if let Some(m) = d.max_len
            && !(1..=MAX_MAX_LEN).contains(&m)
        {
            return Err(Error::Config(format!(
                "data.max_len (--max-len) must be in 1..={MAX_MAX_LEN}, got {m}: a batch is as wide as its longest pair"
            )));
        }
        if self.model.decoder == DecoderKind::Tutorial && self.model.max_length.is_none() {
            return Err(Error::Config(
                "the tutorial decoder needs model.max_length (the lesson uses 10)".into(),
            ));
        }
        self.train.validate()?;
        self.task.validate()?;
        self.decode.validate()
    }

    /// The text pipeline these settings imply.
    pub fn text(&self) -> TextConfig {
        match self.data.tutorial_filter {
            true => TextConfig::tutorial(),
            false => TextConfig::default(),
        }
    }
}

/// Prepared pairs: normalised, filtered and split.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PreparedPairs {
    /// Pairs read from the file.
    pub read: usize,
    /// Pairs the filters dropped (too long; with the tutorial filter also
    /// those without an English prefix).
    pub skipped: usize,
    /// Training pairs.
    pub train: Vec<Pair>,
    /// Validation pairs.
    pub valid: Vec<Pair>,
    /// Test pairs.
    pub test: Vec<Pair>,
}

/// Reads, reverses, normalises and filters the pairs of `data` (no split).
pub fn load_pairs(data: &PairDataConfig, text: &TextConfig) -> Result<(usize, Vec<Pair>)> {
    let resolved = Resolver::from_env().resolve(&data.dataset)?;
    let raw = read_pairs(&resolved.path)?;
    let read = raw.len();
    let filter = PairFilter::new(&PairFilterConfig {
        tutorial: data.tutorial_filter,
        reverse: data.reverse,
        // Training caps the length even when not told to (see
        // DEFAULT_MAX_LEN); the lesson's filter has a limit of its own.
        max_len: match data.tutorial_filter {
            true => data.max_len,
            false => Some(data.max_len.unwrap_or(DEFAULT_MAX_LEN)),
        },
    });
    let kept = raw
        .into_iter()
        .map(|p| if data.reverse { p.reversed() } else { p })
        .map(|p| Pair::new(text.normalize(&p.src), text.normalize(&p.tgt)))
        .filter(|p| filter.keep(p))
        .collect();
    Ok((read, kept))
}

/// [`load_pairs`], then the seeded split (test first, then validation).
pub fn prepare(data: &PairDataConfig, text: &TextConfig) -> Result<PreparedPairs> {
    let (read, pairs) = load_pairs(data, text)?;
    let n = pairs.len();
    let n_test = (n as f64 * data.test_fraction).floor() as usize;
    let n_valid = (n as f64 * data.valid_fraction).floor() as usize;
    if n_test + n_valid >= n || n_test == 0 || n_valid == 0 {
        return Err(Error::Config(format!(
            "{}: {n} of {read} pairs left after filtering, too few for a test split ({} of them), a validation split ({}) and pairs to train on: give more pairs, loosen the filters (--max-len) or raise data.test_fraction/data.valid_fraction",
            data.dataset, data.test_fraction, data.valid_fraction
        )));
    }
    let order = python_shuffled(n, data.split_seed);
    let pick = |range: std::ops::Range<usize>| -> Vec<Pair> {
        order[range].iter().map(|&i| pairs[i].clone()).collect()
    };
    Ok(PreparedPairs {
        read,
        skipped: read - n,
        test: pick(0..n_test),
        valid: pick(n_test..n_test + n_valid),
        train: pick(n_test + n_valid..n),
    })
}

/// Builds the source and target vocabularies from training pairs.
pub fn build_vocabs(train: &[Pair], text: &TextConfig, min_freq: u64) -> Result<(Vocab, Vocab)> {
    let cfg = VocabConfig {
        min_freq,
        max_size: None,
        specials: Specials::standard(),
    };
    let src = Vocab::build(train.iter().flat_map(|p| text.tokens(&p.src)), &cfg)?;
    let tgt = Vocab::build(train.iter().flat_map(|p| text.tokens(&p.tgt)), &cfg)?;
    Ok((src, tgt))
}

/// Writes pairs as `src<TAB>tgt` lines.
fn write_pairs(dir: &ModelDir, name: &str, pairs: &[Pair]) -> Result<()> {
    let mut out = Vec::new();
    for p in pairs {
        // Normalised text has no tabs or newlines; guard anyway so the file
        // always reads back as the same pairs.
        let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
        writeln!(out, "{}\t{}", clean(&p.src), clean(&p.tgt)).map_err(|e| Error::io(name, e))?;
    }
    dir.write_bytes(name, &out)
}

/// What [`train`] did.
#[derive(Debug)]
pub struct TrainReport {
    /// The trainer's summary (history, best metric).
    pub summary: Summary,
    /// Pairs read, and the sizes of the three splits.
    pub sizes: (usize, usize, usize, usize),
    /// Vocabulary sizes (source, target).
    pub vocab: (usize, usize),
}

/// Trains a translation model into `out`, or resumes the run there.
/// `threads` shards each batch across threads (see [`Trainer::threads`]).
pub fn train(cfg: &TranslateConfig, run: &RunOptions) -> Result<TrainReport> {
    cfg.validate()?;
    let source = Resolver::from_env().resolve(&cfg.data.dataset)?.path;
    let (dir, _lock, start) = ModelDir::for_training(run, Some(&source))?;
    let quiet = run.quiet;
    let text = cfg.text();
    let data = prepare(&cfg.data, &text)?;
    if !quiet && !cfg.data.tutorial_filter && data.skipped > 0 {
        eprintln!(
            "warning: {} pairs with a side longer than max_len = {} tokens skipped",
            data.skipped,
            cfg.data.max_len.unwrap_or(DEFAULT_MAX_LEN)
        );
    }
    let (src_vocab, tgt_vocab) = match start {
        Start::Fresh => build_vocabs(&data.train, &text, cfg.data.min_freq)?,
        Start::Resume => (
            Vocab::load(&dir.file("src_vocab.json"))?,
            Vocab::load(&dir.file("tgt_vocab.json"))?,
        ),
    };
    let model_cfg = Seq2SeqConfig {
        src_vocab: src_vocab.len(),
        tgt_vocab: tgt_vocab.len(),
        pad_id: tgt_vocab.pad_id(),
        ..cfg.model.clone()
    };
    model_cfg.validate()?;
    let params = ParamStore::new(cfg.train.seed);
    let vb = params.var_builder(candle_core::DType::F32, &candle_core::Device::Cpu);
    let model = Seq2Seq::new(&model_cfg, vb)?;
    if start == Start::Fresh {
        // Everything but the weights first, so the directory explains itself
        // (and loads) from the first checkpoint on.
        let translator = Translator::new(
            model.clone(),
            params.clone(),
            src_vocab.clone(),
            tgt_vocab.clone(),
            text.clone(),
        )?
        .with_max_src_len(data.train.iter().map(|p| text.tokens(&p.src).len()).max())
        .with_decode(cfg.decode);
        translator.save_config(&dir)?;
        write_pairs(&dir, "valid.tsv", &data.valid)?;
        write_pairs(&dir, "test.tsv", &data.test)?;
        dir.record_data(&source)?;
    }
    // A resume records what it may change (epochs, limits), so the next
    // `--resume` goes on with them.
    dir.write_json(TRAIN_CONFIG, cfg)?;
    let encode = |pairs: &[Pair]| -> Result<Vec<Example>> {
        pairs
            .iter()
            .map(|p| Example::new(p, &text, &src_vocab, &tgt_vocab))
            // A pair whose source has no known word cannot be learnt from.
            .filter(|e| e.as_ref().map_or(true, |e| !e.src.is_empty()))
            .collect()
    };
    let train_ex = encode(&data.train)?;
    let valid_ex = encode(&data.valid)?;
    let sizes = (
        data.read,
        data.train.len(),
        data.valid.len(),
        data.test.len(),
    );
    let vocab = (src_vocab.len(), tgt_vocab.len());
    let parts = TaskParts {
        model,
        params,
        train: train_ex,
        valid: valid_ex,
        seed: cfg.train.seed,
    };
    let task = TranslationTask::new(parts, tgt_vocab, &cfg.task)?;
    let summary = Trainer::new(cfg.train.clone(), dir)?
        .threads(run.threads)
        .on_record(crate::viz::plot_history)
        .quiet(!run.progress)
        .fit(&task, start)?;
    Ok(TrainReport {
        summary,
        sizes,
        vocab,
    })
}

/// Scores of a model on a set of pairs.
#[derive(Clone, Debug, Serialize)]
pub struct EvalReport {
    /// Corpus BLEU (sacreBLEU, tokenize none, on normalised text).
    pub bleu: f64,
    /// Fraction of translations equal to their reference.
    pub exact_match: f64,
    /// sacreBLEU's signature of the BLEU settings.
    pub signature: String,
    /// Sentences scored.
    pub sentences: usize,
    /// Output tokens produced per second of decoding.
    pub tokens_per_second: f64,
    /// sacreBLEU's one-line summary.
    pub summary: String,
    /// The translations, in input order.
    #[serde(skip)]
    pub hypotheses: Vec<String>,
}

/// Translates the sources of `pairs` and scores them against their targets.
pub fn evaluate(tr: &Translator, pairs: &[Pair], decode: &DecodeConfig) -> Result<EvalReport> {
    if pairs.is_empty() {
        return Err(Error::Config("nothing to evaluate: no pairs".into()));
    }
    let sources: Vec<&str> = pairs.iter().map(|p| p.src.as_str()).collect();
    let started = Instant::now();
    let out = tr.translate(&sources, decode)?;
    let seconds = started.elapsed().as_secs_f64();
    let hyps: Vec<String> = out.iter().map(|t| t.text.clone()).collect();
    let refs: Vec<String> = pairs
        .iter()
        .map(|p| tr.text().tokens(&p.tgt).join(" "))
        .collect();
    let scores = score(&hyps, &refs)?;
    let produced: usize = out.iter().map(|t| t.tokens.len() + 1).sum();
    Ok(EvalReport {
        bleu: scores.bleu.score,
        exact_match: scores.exact_match,
        signature: scores.bleu.signature().to_string(),
        sentences: pairs.len(),
        tokens_per_second: produced as f64 / seconds.max(1e-9),
        summary: scores.bleu.to_string(),
        hypotheses: hyps,
    })
}

/// Reads pairs saved by [`train`] (`valid.tsv` / `test.tsv`) from a model directory.
pub fn held_out(dir: &Path, split: &str) -> Result<Vec<Pair>> {
    read_pairs(&dir.join(format!("{split}.tsv")))
}

/// Whether a text pipeline is the lesson's.
pub fn is_tutorial(text: &TextConfig) -> bool {
    text.normalize == Normalization::Tutorial
}
