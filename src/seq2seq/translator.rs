//! Inference for translation models: the model with its vocabularies, text
//! pipeline and decoding defaults, saved to and loaded from a model
//! directory, translating batches of sentences greedily (the PyTorch
//! tutorial's `evaluate`, batched), by beam search or by sampling.
//!
//! Model directory (DESIGN §3): `config.json` (`{"kind": "seq2seq",
//! "version", "model": Seq2SeqConfig, "text": TextConfig, "decode":
//! DecodeConfig}`; other top-level sections, such as a training config, are
//! left to their owners), `src_vocab.json`, `tgt_vocab.json`,
//! `model.safetensors`, and for subword pipelines `src_tokenizer.json` and
//! `tgt_tokenizer.json`.

use std::path::Path;

use candle_core::Device;
use serde::{Deserialize, Serialize};

use super::{DecoderKind, Seq2Seq, Seq2SeqConfig, Text, TextConfig};
use crate::data::SeqBatch;
use crate::decode::{
    self, BeamOptions, Decoding, Hypothesis, LengthLimit, Search, Specials, StepDecoder,
};
use crate::nn::{Mode, ParamStore};
use crate::text::Vocab;
use crate::train::ModelDir;
use crate::{Error, Result};

/// What `config.json` says `kind` is for these models.
pub const KIND: &str = "seq2seq";
const CONFIG: &str = "config.json";
const SRC_VOCAB: &str = "src_vocab.json";
const TGT_VOCAB: &str = "tgt_vocab.json";
const WEIGHTS: &str = "model.safetensors";

/// `config.json` of a translation model directory.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct SavedConfig {
    kind: String,
    version: String,
    model: Seq2SeqConfig,
    text: TextConfig,
    /// The longest source of the training split, in tokens (absent for
    /// imported models and those trained before it was saved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_src_len: Option<usize>,
    /// How `translate run|eval` decode unless flags say otherwise (absent
    /// in directories written before it was saved: [`DecodeConfig::beam`],
    /// what they were always decoded with).
    #[serde(default = "DecodeConfig::beam")]
    decode: DecodeConfig,
}

/// How many times its longest training source a model reads of a source;
/// the rest is cut (an encoder has learnt nothing about longer inputs, and
/// a runaway input must not set the memory of a batch).
pub const SOURCE_LIMIT_FACTOR: usize = 4;

/// The source limit of a model that does not know its longest training
/// source: [`SOURCE_LIMIT_FACTOR`] × the training default of 100 tokens.
pub const DEFAULT_SOURCE_LIMIT: usize = 400;

/// Options of [`Translator::translate`]: the `decode` section of a
/// translation config, saved with the model it trains.
///
/// A trained model carries the way it is meant to be decoded, as JoeyNMT's
/// `testing` section (`beam_size`, `alpha`, `batch_size`) travels in the
/// model's config: `translate run` and `translate eval` start from the
/// `decode` section of the model's `config.json` and each flag overrides its
/// field. Validation during training does not read it: it decodes greedily
/// with the task's own length budget, so the BLEU that picks the best
/// weights means the same in runs that decode differently afterwards.
///
/// [`Default`] is greedy, the tutorial's `evaluate` that library callers
/// build on; the section a recipe saves defaults to [`DecodeConfig::beam`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecodeConfig {
    /// Output length budget per sentence (within the tutorial decoder's cap).
    pub limit: LengthLimit,
    /// Sentences decoded together (sorted by length to limit padding).
    pub batch_size: usize,
    /// Greedy, beam or sampling.
    pub search: Search,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        DecodeConfig {
            limit: LengthLimit::default(),
            batch_size: 64,
            search: Search::Greedy,
        }
    }
}

impl DecodeConfig {
    /// How a model decodes when nothing says otherwise: beam search with
    /// [`BeamOptions::default`] (5 beams, the default of OpenNMT and
    /// JoeyNMT), the other fields as [`Default`].
    pub fn beam() -> Self {
        DecodeConfig {
            search: Search::Beam(BeamOptions::default()),
            ..DecodeConfig::default()
        }
    }

    /// Checks the batch size and the search's knobs.
    pub fn validate(&self) -> Result<()> {
        if self.batch_size == 0 {
            return Err(Error::Config(
                "translate batch_size must be at least 1".into(),
            ));
        }
        self.search.validate()
    }
}

/// One translated sentence.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Translation {
    /// The source tokens the encoder read: unknown words as `<unk>` (or left
    /// out for a vocabulary without one), cut to fit the tutorial decoder,
    /// `<eos>` last when the pipeline appends it. Empty for an empty sentence.
    pub source_tokens: Vec<String>,
    /// Output tokens (subword pieces for a subword pipeline), without `<eos>`.
    pub tokens: Vec<String>,
    /// The translation: `tokens` detokenised (joined by spaces for the
    /// lessons' whitespace pipeline).
    pub text: String,
    /// Sum of the chosen tokens' log-probabilities (`<eos>` included when emitted).
    pub log_prob: f64,
    /// The search's ranking score (beam search: length-penalised `log_prob`).
    pub score: f64,
    /// Whether `<eos>` was produced (false: stopped by the length limit).
    pub finished: bool,
    /// One row per decoder step (the `<eos>` step included) over the source
    /// tokens; for the tutorial decoder over all its `max_length` slots, the
    /// ones past the source being its empty slots.
    pub attention: Vec<Vec<f32>>,
}

/// A translation model ready for inference.
#[derive(Clone, Debug)]
pub struct Translator {
    model: Seq2Seq,
    params: ParamStore,
    src_vocab: Vocab,
    tgt_vocab: Vocab,
    text: Text,
    max_src_len: Option<usize>,
    source_limit: usize,
    decode: DecodeConfig,
}

impl Translator {
    /// Puts the parts together; vocabulary sizes must match the model's
    /// config, and the target vocabulary needs `<sos>` and `<eos>`.
    pub fn new(
        model: Seq2Seq,
        params: ParamStore,
        src_vocab: Vocab,
        tgt_vocab: Vocab,
        text: Text,
    ) -> Result<Self> {
        let cfg = model.config();
        for (side, vocab, size) in [
            ("source", &src_vocab, cfg.src_vocab),
            ("target", &tgt_vocab, cfg.tgt_vocab),
        ] {
            if vocab.len() != size {
                return Err(Error::Vocab(format!(
                    "the {side} vocabulary has {} entries but the model was built for {size}",
                    vocab.len()
                )));
            }
        }
        if tgt_vocab.sos_id().is_none() || tgt_vocab.eos_id().is_none() {
            return Err(Error::Vocab(
                "the target vocabulary needs <sos> and <eos> to decode".into(),
            ));
        }
        Ok(Translator {
            model,
            params,
            src_vocab,
            tgt_vocab,
            text,
            max_src_len: None,
            source_limit: DEFAULT_SOURCE_LIMIT,
            decode: DecodeConfig::beam(),
        })
    }

    /// Records the longest training source (in tokens), saved with the
    /// config; the source limit becomes `SOURCE_LIMIT_FACTOR` (4) times it.
    pub fn with_max_src_len(mut self, len: Option<usize>) -> Self {
        self.max_src_len = len;
        self.source_limit = len.map_or(DEFAULT_SOURCE_LIMIT, |n| {
            n.max(1).saturating_mul(SOURCE_LIMIT_FACTOR)
        });
        self
    }

    /// Sets how the model decodes unless told otherwise (saved with the
    /// config; [`DecodeConfig::beam`] until set).
    pub fn with_decode(mut self, decode: DecodeConfig) -> Self {
        self.decode = decode;
        self
    }

    /// How the model decodes unless told otherwise: the `decode` section of
    /// its config.
    pub fn decode_config(&self) -> &DecodeConfig {
        &self.decode
    }

    /// Sets the most source tokens read (`--max-src-len`); the rest is cut.
    pub fn with_source_limit(mut self, tokens: usize) -> Self {
        self.source_limit = tokens.max(1);
        self
    }

    /// The most source tokens read of a sentence; see [`Self::with_max_src_len`].
    pub fn source_limit(&self) -> usize {
        self.source_limit
    }

    /// The model.
    pub fn model(&self) -> &Seq2Seq {
        &self.model
    }

    /// The model's parameters.
    pub fn params(&self) -> &ParamStore {
        &self.params
    }

    /// The source vocabulary.
    pub fn src_vocab(&self) -> &Vocab {
        &self.src_vocab
    }

    /// The target vocabulary.
    pub fn tgt_vocab(&self) -> &Vocab {
        &self.tgt_vocab
    }

    /// The text pipeline.
    pub fn text(&self) -> &Text {
        &self.text
    }

    /// Writes config, vocabularies and weights into `dir` (each file atomically).
    pub fn save(&self, dir: &ModelDir) -> Result<()> {
        self.save_config(dir)?;
        dir.write_tensors(WEIGHTS, &self.params.tensors())
    }

    /// Writes config and vocabularies but not the weights: a training run
    /// does this first and lets the trainer write the weights.
    pub fn save_config(&self, dir: &ModelDir) -> Result<()> {
        dir.write_json(
            CONFIG,
            &SavedConfig {
                kind: KIND.into(),
                version: env!("CARGO_PKG_VERSION").into(),
                model: self.model.config().clone(),
                text: self.text.config().clone(),
                max_src_len: self.max_src_len,
                decode: self.decode,
            },
        )?;
        for (name, vocab) in [(SRC_VOCAB, &self.src_vocab), (TGT_VOCAB, &self.tgt_vocab)] {
            dir.write_vocab(name, vocab)?;
        }
        self.text.save(dir)
    }

    /// Whether `dir` holds a translation model: its `config.json` names
    /// the `seq2seq` kind (what tells it from the other tasks' directories).
    pub fn is_model_dir(dir: &Path) -> bool {
        std::fs::read(dir.join(CONFIG))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .is_some_and(|v| v.get("kind").and_then(|k| k.as_str()) == Some(KIND))
    }

    /// Loads a model directory onto the CPU.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::load_on(path, &Device::Cpu)
    }

    /// Loads a model directory onto `device`. Errors name the file at fault:
    /// a missing or unreadable file, a `kind` other than `seq2seq`, a
    /// vocabulary whose size disagrees with the config, or weights that do
    /// not fit it (missing/unexpected names, or a name with both shapes).
    pub fn load_on(path: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let dir = ModelDir::open(path)?;
        let value: serde_json::Value = dir.read_json(CONFIG)?;
        let kind = value.get("kind").and_then(|k| k.as_str()).unwrap_or("");
        if kind != KIND {
            return Err(Error::Checkpoint {
                path: dir.file(CONFIG),
                msg: format!(
                    "`kind` is {:?}, expected \"{KIND}\"",
                    crate::error::excerpt(kind)
                ),
            });
        }
        let cfg: SavedConfig = serde_json::from_value(value).map_err(|e| Error::Checkpoint {
            path: dir.file(CONFIG),
            msg: format!(
                "not a seq2seq model config: {}",
                crate::error::first_chars(&e.to_string(), 300)
            ),
        })?;
        for checked in [cfg.model.validate(), cfg.decode.validate()] {
            checked.map_err(|e| Error::Checkpoint {
                path: dir.file(CONFIG),
                msg: e.to_string(),
            })?;
        }
        let src_vocab = Vocab::load(&dir.file(SRC_VOCAB))?;
        let tgt_vocab = Vocab::load(&dir.file(TGT_VOCAB))?;
        for (file, vocab, size) in [
            (SRC_VOCAB, &src_vocab, cfg.model.src_vocab),
            (TGT_VOCAB, &tgt_vocab, cfg.model.tgt_vocab),
        ] {
            if vocab.len() != size {
                return Err(Error::Checkpoint {
                    path: dir.file(file),
                    msg: format!("has {} entries but {CONFIG} says {size}", vocab.len()),
                });
            }
        }
        let text = Text::load(&dir, cfg.text)?;
        let (model, params) =
            dir.load_weights(WEIGHTS, device, |vb| Seq2Seq::new(&cfg.model, vb))?;
        Ok(Translator::new(model, params, src_vocab, tgt_vocab, text)?
            .with_max_src_len(cfg.max_src_len)
            .with_decode(cfg.decode))
    }

    /// The source ids the encoder reads for `sentence` (see
    /// [`Text::encode_source`]); cut to the [source
    /// limit](Self::source_limit), and to the tutorial decoder's
    /// `max_length` slots, keeping the first words and `<eos>`.
    pub fn source_ids(&self, sentence: &str) -> Result<Vec<u32>> {
        let cap = match self.model.config().decoder {
            DecoderKind::Tutorial => self.model.config().max_length,
            _ => None,
        };
        let cap = cap.map_or(self.source_limit, |c| c.min(self.source_limit));
        self.text
            .encode_source(sentence, &self.src_vocab, Some(cap))
    }

    /// Translates `sentences` with `cfg.search`, in batches of similar length; results
    /// come back in input order. An empty sentence (no known token after
    /// normalising) gets an empty translation without running the model.
    pub fn translate(&self, sentences: &[&str], cfg: &DecodeConfig) -> Result<Vec<Translation>> {
        Self::ensemble(&[self], sentences, cfg)
    }

    /// Like [`translate`](Self::translate), with several models as one (see
    /// [`ensemble_n_best`](Self::ensemble_n_best)).
    pub fn ensemble(
        members: &[&Translator],
        sentences: &[&str],
        cfg: &DecodeConfig,
    ) -> Result<Vec<Translation>> {
        Ok(Self::ensemble_n_best(members, sentences, cfg)?
            .into_iter()
            .map(|mut n| {
                if n.is_empty() {
                    Translation::default()
                } else {
                    n.swap_remove(0)
                }
            })
            .collect())
    }

    /// Like [`translate`](Self::translate), but every alternative the search
    /// kept, best first: the beam's `n_best` list, or one for greedy and sampling.
    pub fn translate_n_best(
        &self,
        sentences: &[&str],
        cfg: &DecodeConfig,
    ) -> Result<Vec<Vec<Translation>>> {
        Self::ensemble_n_best(&[self], sentences, cfg)
    }

    /// Translates with several models as one ([`decode::Ensemble`]: the
    /// mean of their log-probabilities at every step), every alternative
    /// the search kept, best first. The members must read and write text
    /// the same way: equal text pipelines and vocabularies (the source
    /// limit and attention layout are the first member's).
    pub fn ensemble_n_best(
        members: &[&Translator],
        sentences: &[&str],
        cfg: &DecodeConfig,
    ) -> Result<Vec<Vec<Translation>>> {
        let Some(&first) = members.first() else {
            return Err(Error::Config("an ensemble needs at least one model".into()));
        };
        for (i, m) in members.iter().enumerate().skip(1) {
            if m.text.config() != first.text.config()
                || m.src_vocab.tokens() != first.src_vocab.tokens()
                || m.tgt_vocab.tokens() != first.tgt_vocab.tokens()
            {
                return Err(Error::Config(format!(
                    "ensemble model {} reads or writes text differently from the first (another text pipeline or vocabulary): an ensemble needs models trained on the same vocabularies",
                    i + 1
                )));
            }
        }
        // Up front, so a bad knob is an error even when no sentence needs the model.
        cfg.validate()?;
        let ids = sentences
            .iter()
            .map(|s| first.source_ids(s))
            .collect::<Result<Vec<_>>>()?;
        let mut order: Vec<usize> = (0..ids.len()).filter(|&i| !ids[i].is_empty()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
        let specials = Specials {
            sos: first.tgt_vocab.sos_id().unwrap_or(0),
            eos: first.tgt_vocab.eos_id().unwrap_or(0),
        };
        // Any id will do for padding: the encoder and attention mask it out.
        let pad = first.src_vocab.pad_id().unwrap_or(0);
        let tutorial = first.model.config().decoder == DecoderKind::Tutorial;
        let ensemble = decode::Ensemble::new(members.iter().map(|m| &m.model).collect())?;
        // An empty sentence translates to one empty translation.
        let mut out = vec![vec![Translation::default()]; ids.len()];
        for chunk in order.chunks(cfg.batch_size) {
            let seqs: Vec<&[u32]> = chunk.iter().map(|&i| ids[i].as_slice()).collect();
            let batch = SeqBatch::new(&seqs, pad, first.model.device())?;
            let memory = members
                .iter()
                .map(|m| m.model.encode(&batch.ids, &batch.lengths, &mut Mode::Eval))
                .collect::<Result<Vec<_>>>()?;
            let lens = &batch.lengths;
            let decoding = Decoding {
                specials,
                limit: cfg.limit,
                // Each chunk samples from its own stream, so a sentence's
                // sample does not depend on how many chunks came before it.
                search: cfg.search.reseeded(chunk[0] as u64),
            };
            let memory = decode::Members(memory);
            let hyps = decode::run(&ensemble, &memory, lens, &decoding, &mut |_, _| {})?;
            for ((&i, alternatives), len) in chunk.iter().zip(hyps).zip(lens) {
                let keep = if tutorial { usize::MAX } else { *len };
                out[i] = alternatives
                    .into_iter()
                    .map(|h| first.translation(&ids[i], h, keep))
                    .collect();
            }
        }
        Ok(out)
    }

    /// Turns a hypothesis into text; attention rows keep `keep` source columns
    /// (the tutorial decoder's rows keep all its `max_length` slots).
    fn translation(&self, src: &[u32], hyp: Hypothesis, keep: usize) -> Translation {
        let tokens = self.tgt_vocab.decode(&hyp.tokens);
        Translation {
            source_tokens: self.src_vocab.decode(src),
            text: self.text.detokenize(&tokens),
            tokens,
            log_prob: hyp.log_prob,
            score: hyp.score,
            finished: hyp.finished,
            attention: hyp
                .attention
                .into_iter()
                .map(|row| row.into_iter().take(keep).collect())
                .collect(),
        }
    }
}
