//! `--init-from-lm DIR`: a classifier whose embedding table and recurrent
//! layers start as a trained `attend lm` model's (Dai & Le 2015; Howard &
//! Ruder 2018, ULMFiT).
//!
//! The recipe, decided here:
//! - **Shared vocabulary, extended**: the classifier reads with the language
//!   model's vocabulary (`vocab.json`), so its first rows mean the same
//!   tokens; the training texts' tokens the LM lacks (seen `min_freq` times)
//!   follow, with fresh rows, so that a task's own words (`n't` in a corpus
//!   without punctuation) are not all `<unk>`.
//! - **The LM's shape**: embedding width, cell, hidden size and layers are
//!   the LM's, and the encoder reads left to right only, as the LM did (a
//!   backward direction would start from nothing). Pooling, head and
//!   dropout are the classifier's own.
//! - **Weights by name**: `embedding.weight` and every `rnn.*` tensor are
//!   copied from the LM's `model.safetensors`, each checked for its shape;
//!   the LM's decoder is dropped, the pooling and head start fresh.
//! - **Gradual unfreezing** (ULMFiT §3.3), not discriminative rates: the
//!   pretrained layers are frozen at first and released one group an epoch
//!   from the top (epoch 1 trains the head, epoch 2 also the top RNN
//!   layer, …, the embeddings last), so the random head cannot wreck the
//!   pretrained features before it has learned anything. Its schedule is
//!   in `train.gradual_unfreezing` (see `train::unfreeze`).
//!
//! Only the LM's `config.json` fields named below are read, so any LM
//! directory `attend lm train` writes (with or without conditions) serves.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use serde::Deserialize;

use super::model::ClassifierConfig;
use crate::nn::{Cell, ParamStore};
use crate::text::{Level, Vocab};
use crate::train::{ModelDir, read_tensors};
use crate::{Error, Result};

/// The language model's weights file.
const LM_WEIGHTS: &str = "model.safetensors";

#[derive(Deserialize)]
struct LmFile {
    model: LmShape,
    data: LmData,
}

#[derive(Deserialize)]
struct LmShape {
    vocab: usize,
    embed: usize,
    cell: Cell,
    hidden: usize,
    layers: usize,
    #[serde(default)]
    conditions: usize,
}

#[derive(Deserialize)]
struct LmData {
    level: Level,
}

/// A language model's encoder, read to start a classifier from.
pub struct LmEncoder {
    dir: PathBuf,
    shape: LmShape,
    level: Level,
    /// The LM's vocabulary, the classifier's too.
    pub vocab: Vocab,
}

/// What extending the LM's vocabulary by a training text's own tokens did.
#[derive(Clone, Copy, Debug)]
pub struct Extension {
    /// How many tokens were added.
    pub added: usize,
    /// The share of the training text's tokens the LM's vocabulary knows.
    pub coverage: f64,
}

/// The parameter groups of a left-to-right encoder of `layers` layers for
/// gradual unfreezing, the top layer first and the embeddings last.
pub fn unfreezing_groups(layers: usize) -> Vec<Vec<String>> {
    let mut groups: Vec<Vec<String>> = (0..layers)
        .rev()
        .map(|l| {
            ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
                .iter()
                .map(|w| format!("rnn.{w}_l{l}"))
                .collect()
        })
        .collect();
    groups.push(vec!["embedding.weight".into()]);
    groups
}

impl LmEncoder {
    /// Reads the LM directory's description and vocabulary; an error if it
    /// is not an LM directory or its vocabulary does not match its model.
    pub fn open(dir: &Path) -> Result<Self> {
        let d = ModelDir::open(dir)?;
        let not_lm = |why: String| Error::Checkpoint {
            path: dir.to_path_buf(),
            msg: format!("--init-from-lm: {why}, expected a directory of `attend lm train`"),
        };
        let file: LmFile = d
            .read_json("config.json")
            .map_err(|e| not_lm(format!("its config.json is not a language model's ({e})")))?;
        if !d.file(LM_WEIGHTS).is_file() {
            return Err(not_lm(format!("it has no {LM_WEIGHTS}")));
        }
        if file.model.conditions > 0 {
            return Err(not_lm(
                "a conditioned language model reads a condition with every token".into(),
            ));
        }
        let vocab = Vocab::load(&d.file("vocab.json"))?;
        if vocab.len() != file.model.vocab {
            return Err(Error::Vocab(format!(
                "--init-from-lm {}: vocab.json has {} tokens but the model's embedding table {} rows: the vocabulary does not belong to these weights",
                dir.display(),
                vocab.len(),
                file.model.vocab
            )));
        }
        if vocab.pad_id().is_none() || vocab.unk_id().is_none() {
            return Err(Error::Vocab(format!(
                "--init-from-lm {}: its vocabulary has no <pad> or no <unk>, which a classifier needs",
                dir.display()
            )));
        }
        Ok(LmEncoder {
            dir: dir.to_path_buf(),
            shape: file.model,
            level: file.data.level,
            vocab,
        })
    }

    /// The LM's vocabulary followed by the training tokens it lacks that
    /// are seen at least `min_freq` times (most frequent first); how many
    /// were added and how much of the training text the LM's own tokens
    /// cover, counted in the same pass.
    pub fn extended_vocab<S: AsRef<str>>(
        &self,
        tokens: impl IntoIterator<Item = S>,
        min_freq: u64,
    ) -> Result<(Vocab, Extension)> {
        let mut counts = crate::text::VocabBuilder::new();
        counts.add_all(tokens);
        let task = counts.build(&crate::text::VocabConfig {
            min_freq: 1,
            max_size: None,
            specials: crate::text::Specials::of(&[]),
        })?;
        let mut words = self.vocab.tokens().to_vec();
        let mut freqs = self.vocab.counts().to_vec();
        let (mut known, mut all) = (0u64, 0u64);
        for (t, &c) in task.tokens().iter().zip(task.counts()) {
            all += c;
            if self.vocab.id(t).is_some() {
                known += c;
            } else if c >= min_freq {
                words.push(t.clone());
                freqs.push(c);
            }
        }
        let added = words.len() - self.vocab.len();
        let vocab = Vocab::from_parts(self.vocab.specials().clone(), words, freqs)?;
        let coverage = known as f64 / all.max(1) as f64;
        Ok((vocab, Extension { added, coverage }))
    }

    /// The line a training run prints once the weights are in.
    pub fn report(&self, copied: usize, model: &ClassifierConfig, ext: Extension) -> String {
        format!(
            "init from the language model in {}: {copied} tensors (the embeddings and {} {} layer(s) of {} units); its {} tokens cover {:.1} % of the training text, {} more of the training text's own added; gradual unfreezing over the first {} epochs",
            self.dir.display(),
            model.layers,
            format!("{:?}", model.cell).to_uppercase(),
            model.hidden,
            self.vocab.len(),
            100.0 * ext.coverage,
            ext.added,
            model.layers + 1
        )
    }

    /// `cfg` in the LM's shape for a vocabulary of `vocab` tokens (the LM's
    /// first); an error if the classifier reads other tokens than the LM
    /// (characters, words).
    pub fn shape(
        &self,
        cfg: &ClassifierConfig,
        level: Level,
        vocab: usize,
    ) -> Result<ClassifierConfig> {
        if level != self.level {
            return Err(Error::Config(format!(
                "--init-from-lm {}: the language model reads {}, the classifier {}: give --level {}",
                self.dir.display(),
                level_name(self.level),
                level_name(level),
                format!("{:?}", self.level).to_lowercase()
            )));
        }
        if cfg.encoder != super::Encoder::Rnn {
            return Err(Error::Config(
                "--init-from-lm starts a recurrent encoder: it needs --encoder rnn".into(),
            ));
        }
        Ok(ClassifierConfig {
            vocab,
            pad_id: self.vocab.pad_id(),
            embed: self.shape.embed,
            cell: self.shape.cell,
            hidden: self.shape.hidden,
            layers: self.shape.layers,
            bidirectional: false,
            ..cfg.clone()
        })
    }

    /// Copies the LM's embedding and recurrent weights into the
    /// classifier's `params` by name; returns how many tensors it copied.
    pub fn load_into(&self, params: &ParamStore) -> Result<usize> {
        let path = self.dir.join(LM_WEIGHTS);
        let tensors = read_tensors(&path, &Device::Cpu)?;
        let mut copied = 0;
        for (name, var) in params.vars() {
            if name != "embedding.weight" && !name.starts_with("rnn.") {
                continue;
            }
            let Some(t) = tensors.get(&name) else {
                return Err(Error::Checkpoint {
                    path: path.clone(),
                    msg: format!(
                        "--init-from-lm: no tensor `{name}`, which the classifier's encoder needs"
                    ),
                });
            };
            let t = t.to_dtype(DType::F32)?;
            // An extended vocabulary has more rows than the LM's: the LM's
            // come first, the task's own keep their fresh initialisation.
            let t = match (name.as_str(), t.dims(), var.dims()) {
                ("embedding.weight", &[rows, d], &[more, e]) if rows < more && d == e => {
                    let fresh =
                        var.as_tensor()
                            .to_dtype(DType::F32)?
                            .narrow(0, rows, more - rows)?;
                    candle_core::Tensor::cat(&[&t, &fresh], 0)?
                }
                _ => t,
            };
            if t.dims() != var.dims() {
                return Err(Error::Checkpoint {
                    path: path.clone(),
                    msg: format!(
                        "--init-from-lm: `{name}` is {:?}, the classifier's {:?}",
                        t.dims(),
                        var.dims()
                    ),
                });
            }
            var.set(&t.to_dtype(var.dtype())?)?;
            copied += 1;
        }
        Ok(copied)
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Char => "characters",
        Level::Word => "words",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_go_from_the_top_layer_to_the_embeddings() {
        let g = unfreezing_groups(2);
        assert_eq!(g.len(), 3);
        assert_eq!(g[0][0], "rnn.weight_ih_l1");
        assert_eq!(g[1][3], "rnn.bias_hh_l0");
        assert_eq!(g[2], ["embedding.weight"]);
    }
}
