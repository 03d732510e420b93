//! A whole translation run, from a dataset name to a trained model directory,
//! and its evaluation: what `attend translate train|eval` do, as library calls.
//!
//! Data flow (DESIGN §2): read pairs ([`super::data`]: a dataset, parallel
//! files, official splits) → optional reverse → normalise and filter →
//! split where no held-out files are given → tokenisers and vocabularies
//! from the training split only → encode → train with [`Trainer`] → the
//! model directory holds `config.json`, both vocabularies (and tokenisers),
//! the weights (the best, and `snapshots/` of the latest and best
//! validations), the held-out pairs (`valid.tsv`, `test.tsv`) and
//! `data_source.json`.

use serde::{Deserialize, Serialize};

use super::data::{DEFAULT_MAX_LEN, PairDataConfig, prepare, write_pairs};
use super::task::{Example, TaskConfig, TranslationTask};
use super::{
    DecodeConfig, DecoderKind, Normalization, Seq2Seq, Seq2SeqConfig, Text, TextConfig, Translator,
};
use crate::data::{BatchConfig, Pair, Resolver};
use crate::decode::Search;
use crate::nn::ParamStore;
use crate::text::{Specials, SubwordConfig, Subwords, Vocab, VocabConfig};
use crate::train::TRAIN_CONFIG;
use crate::train::{
    AdamConfig, Goal, ModelDir, OptimizerConfig, RunOptions, ScheduleConfig, Start, Summary,
    TaskParts, TrainConfig, Trainer,
};
use crate::{Error, Result};

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
    /// - 8 epochs, the weights kept are those of the best validation BLEU;
    ///   the weights of the 5 latest and 5 best validations are kept in
    ///   `snapshots/` for `translate average`.
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
                keep_snapshots: 5,
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
    /// The named recipes (`--recipe`), with a line each: `lesson` is
    /// [`Default`], `multi30k` is [`TranslateConfig::multi30k`].
    pub const RECIPES: [(&'static str, &'static str); 2] = [
        ("lesson", "the default: tuned on the lesson's eng-fra pairs"),
        (
            "multi30k",
            "Multi30k de→en on its official splits, chosen on the validation split (BENCHMARKS.md)",
        ),
    ];

    /// The recipe called `name`, if there is one.
    pub fn recipe(name: &str) -> Option<Self> {
        match name {
            "lesson" => Some(Self::default()),
            "multi30k" => Some(Self::multi30k()),
            _ => None,
        }
    }

    /// The recipe for Multi30k (and similar small corpora of real text),
    /// chosen on its validation split only (BENCHMARKS.md lists the
    /// candidates and their validation BLEU): the default model and
    /// optimiser on BPE pieces (8,000 a language, separate vocabularies: a
    /// joint one with shared embeddings and dropout 0.3 scored a little
    /// lower), 9 epochs — the best validation BLEU of a 10-epoch run, and
    /// within a quarter of an hour on two cores (the learning rate decays
    /// per epoch whatever the total, so these are that run's first 9).
    /// The model decodes with beam 5 and length penalty α = 1.0 (0.6 and
    /// 1.5 scored lower on the validation split). Averaging the last 4
    /// validations' weights afterwards (`translate average --last 4`) adds
    /// most: also chosen on validation, against the last 3 and the best 3.
    pub fn multi30k() -> Self {
        let mut cfg = Self::default();
        cfg.data.dataset = super::data::MULTI30K.into();
        cfg.data.tokenizer = Some(super::Tokenization::Bpe);
        cfg.train.epochs = 9;
        if let Search::Beam(beam) = &mut cfg.decode.search {
            beam.alpha = 1.0;
        }
        cfg
    }

    /// Checks every section and the rules between them.
    pub fn validate(&self) -> Result<()> {
        self.data.validate()?;
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
        self.data.text()
    }
}

fn vocab_config(min_freq: u64) -> VocabConfig {
    VocabConfig {
        min_freq,
        max_size: None,
        specials: Specials::standard(),
    }
}

/// Every source and every target token of `train`, in order.
fn tokens_of(train: &[Pair], text: &Text) -> Result<(Vec<String>, Vec<String>)> {
    let (mut src, mut tgt) = (Vec::new(), Vec::new());
    for p in train {
        src.extend(text.src_tokens(&p.src)?);
        tgt.extend(text.tgt_tokens(&p.tgt)?);
    }
    Ok((src, tgt))
}

/// Builds the source and target vocabularies from training pairs.
pub fn build_vocabs(train: &[Pair], text: &Text, min_freq: u64) -> Result<(Vocab, Vocab)> {
    let cfg = vocab_config(min_freq);
    let (src, tgt) = tokens_of(train, text)?;
    Ok((Vocab::build(src, &cfg)?, Vocab::build(tgt, &cfg)?))
}

/// The text pipeline and vocabularies of a fresh run: the learnt
/// tokenisers (one for both languages with `joint_vocab`) trained on the
/// training split's normalised text, vocabularies of their pieces (one
/// shared vocabulary when joint), or the lessons' whitespace vocabularies.
pub fn learn_text(data: &PairDataConfig, train: &[Pair]) -> Result<(Text, Vocab, Vocab)> {
    let cfg = data.text();
    let Some(kind) = cfg.subwords else {
        let text = Text::plain(cfg)?;
        let (src, tgt) = build_vocabs(train, &text, data.min_freq)?;
        return Ok((text, src, tgt));
    };
    let sw = SubwordConfig {
        kind,
        vocab_size: data.vocab_size,
        min_freq: data.min_freq,
    };
    let norm = &cfg;
    let side = |pick: fn(&Pair) -> &str| train.iter().map(move |p| norm.normalize(pick(p)));
    let learnt = match cfg.joint {
        true => {
            let both = Subwords::train(&sw, side(|p| &p.src).chain(side(|p| &p.tgt)))?;
            (both.clone(), both)
        }
        false => (
            Subwords::train(&sw, side(|p| &p.src))?,
            Subwords::train(&sw, side(|p| &p.tgt))?,
        ),
    };
    let text = Text::new(cfg, Some(learnt))?;
    // Every piece the tokeniser learnt was seen in training: no threshold.
    if text.config().joint {
        let (mut src, tgt) = tokens_of(train, &text)?;
        src.extend(tgt);
        let vocab = Vocab::build(src, &vocab_config(1))?;
        return Ok((text, vocab.clone(), vocab));
    }
    let (src, tgt) = build_vocabs(train, &text, 1)?;
    Ok((text, src, tgt))
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
    let sources = cfg.data.sources(&Resolver::from_env())?;
    let source = sources.train.path().to_path_buf();
    let (dir, _lock, start) = ModelDir::for_training(run, Some(&source))?;
    let quiet = run.quiet;
    let text_cfg = cfg.text();
    let data = prepare(&cfg.data, &text_cfg)?;
    if !quiet && !cfg.data.tutorial_filter && data.skipped > 0 {
        eprintln!(
            "warning: {} pairs with a side longer than max_len = {} words skipped",
            data.skipped,
            cfg.data.max_len.unwrap_or(DEFAULT_MAX_LEN)
        );
    }
    let (text, src_vocab, tgt_vocab) = match start {
        Start::Fresh => learn_text(&cfg.data, &data.train)?,
        Start::Resume => (
            Text::load(&dir, text_cfg)?,
            Vocab::load(&dir.file("src_vocab.json"))?,
            Vocab::load(&dir.file("tgt_vocab.json"))?,
        ),
    };
    let model_cfg = Seq2SeqConfig {
        src_vocab: src_vocab.len(),
        tgt_vocab: tgt_vocab.len(),
        pad_id: tgt_vocab.pad_id(),
        share_embeddings: cfg.model.share_embeddings || cfg.data.joint_vocab,
        ..cfg.model.clone()
    };
    model_cfg.validate()?;
    let params = ParamStore::new(cfg.train.seed);
    let vb = params.var_builder(candle_core::DType::F32, &candle_core::Device::Cpu);
    let model = Seq2Seq::new(&model_cfg, vb)?;
    if start == Start::Fresh {
        // Everything but the weights first, so the directory explains itself
        // (and loads) from the first checkpoint on.
        let longest = data
            .train
            .iter()
            .map(|p| text.src_tokens(&p.src).map(|t| t.len()))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .max();
        let translator = Translator::new(
            model.clone(),
            params.clone(),
            src_vocab.clone(),
            tgt_vocab.clone(),
            text.clone(),
        )?
        .with_max_src_len(longest)
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
    let task = TranslationTask::new(parts, tgt_vocab, text, &cfg.task)?;
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

/// Whether a text pipeline is the lesson's.
pub fn is_tutorial(text: &Text) -> bool {
    text.config().normalize == Normalization::Tutorial
}
