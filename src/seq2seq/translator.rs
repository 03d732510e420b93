//! Inference for translation models: the model with its vocabularies and text
//! pipeline, saved to and loaded from a model directory, translating batches
//! of sentences greedily (the PyTorch tutorial's `evaluate`, batched).
//!
//! Model directory (DESIGN §3): `config.json` (`{"kind": "seq2seq",
//! "version", "model": Seq2SeqConfig, "text": TextConfig}`; other top-level
//! sections, such as a training config, are left to their owners),
//! `src_vocab.json`, `tgt_vocab.json`, `model.safetensors`.

use std::path::Path;

use candle_core::Device;
use serde::{Deserialize, Serialize};

use super::weights::load_model;
use super::{DecoderKind, Seq2Seq, Seq2SeqConfig, TextConfig};
use crate::data::SeqBatch;
use crate::decode::{GreedyConfig, LengthLimit, Specials, StepDecoder, greedy};
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
}

/// Options of [`Translator::translate`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TranslateConfig {
    /// Output length budget per sentence (within the tutorial decoder's cap).
    pub limit: LengthLimit,
    /// Sentences decoded together (sorted by length to limit padding).
    pub batch_size: usize,
}

impl Default for TranslateConfig {
    fn default() -> Self {
        TranslateConfig {
            limit: LengthLimit::default(),
            batch_size: 64,
        }
    }
}

/// One translated sentence.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Translation {
    /// The source tokens the encoder read: unknown words as `<unk>` (or left
    /// out for a vocabulary without one), cut to fit the tutorial decoder,
    /// `<eos>` last when the pipeline appends it. Empty for an empty sentence.
    pub source_tokens: Vec<String>,
    /// Output tokens, without `<eos>`.
    pub tokens: Vec<String>,
    /// `tokens` joined by spaces.
    pub text: String,
    /// Sum of the chosen tokens' log-probabilities (`<eos>` included when emitted).
    pub log_prob: f64,
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
    text: TextConfig,
}

impl Translator {
    /// Puts the parts together; vocabulary sizes must match the model's
    /// config, and the target vocabulary needs `<sos>` and `<eos>`.
    pub fn new(
        model: Seq2Seq,
        params: ParamStore,
        src_vocab: Vocab,
        tgt_vocab: Vocab,
        text: TextConfig,
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
        })
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
    pub fn text(&self) -> &TextConfig {
        &self.text
    }

    /// Writes config, vocabularies and weights into `dir` (each file atomically).
    pub fn save(&self, dir: &ModelDir) -> Result<()> {
        dir.write_json(
            CONFIG,
            &SavedConfig {
                kind: KIND.into(),
                version: env!("CARGO_PKG_VERSION").into(),
                model: self.model.config().clone(),
                text: self.text.clone(),
            },
        )?;
        for (name, vocab) in [(SRC_VOCAB, &self.src_vocab), (TGT_VOCAB, &self.tgt_vocab)] {
            let mut bytes = Vec::new();
            vocab.write_json(&mut bytes)?;
            dir.write_bytes(name, &bytes)?;
        }
        dir.write_tensors(WEIGHTS, &self.params.tensors())
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
                msg: format!("`kind` is {kind:?}, expected \"{KIND}\""),
            });
        }
        let cfg: SavedConfig = serde_json::from_value(value).map_err(|e| Error::Checkpoint {
            path: dir.file(CONFIG),
            msg: format!("not a seq2seq model config: {e}"),
        })?;
        cfg.model.validate().map_err(|e| Error::Checkpoint {
            path: dir.file(CONFIG),
            msg: e.to_string(),
        })?;
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
        let tensors = dir.read_tensors(WEIGHTS, device)?;
        let (model, params) = load_model(
            &cfg.model,
            tensors,
            device,
            &dir.file(WEIGHTS),
            &|n: &str| n.to_string(),
        )?;
        Translator::new(model, params, src_vocab, tgt_vocab, cfg.text)
    }

    /// The source ids the encoder reads for `sentence` (see
    /// [`TextConfig::encode_source`]); cut to the tutorial decoder's
    /// `max_length` slots, keeping the first words and `<eos>`.
    pub fn source_ids(&self, sentence: &str) -> Result<Vec<u32>> {
        let cap = match self.model.config().decoder {
            DecoderKind::Tutorial => self.model.config().max_length,
            _ => None,
        };
        self.text.encode_source(sentence, &self.src_vocab, cap)
    }

    /// Translates `sentences` greedily, in batches of similar length; results
    /// come back in input order. An empty sentence (no known token after
    /// normalising) gets an empty translation without running the model.
    pub fn translate(&self, sentences: &[&str], cfg: &TranslateConfig) -> Result<Vec<Translation>> {
        if cfg.batch_size == 0 {
            return Err(Error::Config(
                "translate batch_size must be at least 1".into(),
            ));
        }
        let ids = sentences
            .iter()
            .map(|s| self.source_ids(s))
            .collect::<Result<Vec<_>>>()?;
        let mut order: Vec<usize> = (0..ids.len()).filter(|&i| !ids[i].is_empty()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
        let specials = Specials {
            sos: self.tgt_vocab.sos_id().unwrap_or(0),
            eos: self.tgt_vocab.eos_id().unwrap_or(0),
        };
        let greedy_cfg = GreedyConfig {
            specials,
            limit: cfg.limit,
        };
        // Any id will do for padding: the encoder and attention mask it out.
        let pad = self.src_vocab.pad_id().unwrap_or(0);
        let tutorial = self.model.config().decoder == DecoderKind::Tutorial;
        let mut out = vec![Translation::default(); ids.len()];
        for chunk in order.chunks(cfg.batch_size) {
            let seqs: Vec<&[u32]> = chunk.iter().map(|&i| ids[i].as_slice()).collect();
            let batch = SeqBatch::new(&seqs, pad, self.model.device())?;
            let memory = self
                .model
                .encode(&batch.ids, &batch.lengths, &mut Mode::Eval)?;
            let hyps = greedy(&self.model, &memory, &batch.lengths, &greedy_cfg)?;
            for ((&i, hyp), len) in chunk.iter().zip(hyps).zip(&batch.lengths) {
                let tokens = self.tgt_vocab.decode(&hyp.tokens);
                let attention = match tutorial {
                    true => hyp.attention,
                    false => hyp
                        .attention
                        .into_iter()
                        .map(|row| row.into_iter().take(*len).collect())
                        .collect(),
                };
                out[i] = Translation {
                    source_tokens: self.src_vocab.decode(&ids[i]),
                    text: tokens.join(" "),
                    tokens,
                    log_prob: hyp.log_prob,
                    finished: hyp.finished,
                    attention,
                };
            }
        }
        Ok(out)
    }
}
