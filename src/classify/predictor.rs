//! Using a trained classifier: load a model directory, predict texts (class
//! probabilities, tokens, attention weights), score labelled rows.
//!
//! A directory may hold an ensemble instead of one model (`classify train
//! --ensemble N`): `ensemble.json` names member directories, each a complete
//! model trained with its own seed on the same split. The ensemble predicts
//! the mean of its members' class probabilities (the usual averaging of
//! independently trained networks; Hansen & Salamon, 1990) and, for
//! attention pooling, the mean of their attention rows — still a
//! distribution over the tokens.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Classifier;
use super::recipe::{Labelled, SavedClassifier, TextConfig, WEIGHTS};
use crate::metrics::classification::{Confusion, Report};
use crate::nn::{Mode, ParamStore};
use crate::text::Vocab;
use crate::train::ModelDir;
use crate::{Error, Result};

/// The file that makes a model directory an ensemble.
pub const ENSEMBLE: &str = "ensemble.json";

/// `ensemble.json`: the member directories, relative to the ensemble's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedEnsemble {
    /// Member directories, in training order.
    pub members: Vec<String>,
}

/// One trained model with its vocabulary and text pipeline.
struct Member {
    model: Classifier,
    params: ParamStore,
    vocab: Vocab,
    classes: Vec<String>,
    text: TextConfig,
}

/// A member's view of one text: class probabilities in its class order,
/// the tokens it read, and their attention weights.
struct Raw {
    probs: Vec<f32>,
    tokens: Vec<String>,
    attention: Option<Vec<f64>>,
}

impl Member {
    fn load(dir: &Path) -> Result<Self> {
        let d = ModelDir::open(dir)?;
        let saved: SavedClassifier = d.read_json("config.json")?;
        let vocab = Vocab::load(&d.file("vocab.json"))?;
        let classes: Vec<String> = d.read_json("classes.json")?;
        if vocab.len() != saved.model.vocab || classes.len() != saved.model.classes {
            return Err(Error::Config(format!(
                "{}: config.json says {} tokens and {} classes, vocab.json has {} and classes.json {}",
                dir.display(),
                saved.model.vocab,
                saved.model.classes,
                vocab.len(),
                classes.len()
            )));
        }
        let device = candle_core::Device::Cpu;
        let (model, params) =
            d.load_weights(WEIGHTS, &device, |vb| Classifier::new(&saved.model, vb))?;
        Ok(Member {
            model,
            params,
            vocab,
            classes,
            text: saved.text,
        })
    }

    /// Every text, in input order, batched by length (a batch pads to its
    /// longest text, and reviews run from a few words to thousands);
    /// results do not depend on the batching.
    fn predict(&self, texts: &[&str]) -> Result<Vec<Raw>> {
        let mut encoded: Vec<(Vec<u32>, Vec<String>)> = texts
            .iter()
            .map(|t| self.text.encode_tokens(&self.text.tokens(t), &self.vocab))
            .collect::<Result<_>>()?;
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| encoded[i].0.len());
        let mut slots: Vec<Option<Raw>> = (0..texts.len()).map(|_| None).collect();
        for idx in order.chunks(256) {
            let ids: Vec<&[u32]> = idx.iter().map(|&i| encoded[i].0.as_slice()).collect();
            let pad = self.model.config().pad_id.unwrap_or(0);
            let batch = crate::data::SeqBatch::new(&ids, pad, self.model.device())?;
            let res = self
                .model
                .forward(&batch.ids, &batch.lengths, &mut Mode::Eval)?;
            let probs: Vec<Vec<f32>> = self.model.probabilities(&res.logits)?.to_vec2()?;
            let att: Option<Vec<Vec<f32>>> = match &res.attention {
                Some(a) => Some(a.to_dtype(candle_core::DType::F32)?.to_vec2()?),
                None => None,
            };
            for (row, probs) in probs.into_iter().enumerate() {
                let len = batch.lengths[row];
                slots[idx[row]] = Some(Raw {
                    probs,
                    tokens: std::mem::take(&mut encoded[idx[row]].1),
                    attention: att
                        .as_ref()
                        .map(|a| a[row][..len].iter().map(|&w| f64::from(w)).collect()),
                });
            }
        }
        slots
            .into_iter()
            .map(|p| p.ok_or_else(|| Error::Config("a text was not predicted".into())))
            .collect()
    }
}

/// A trained classifier (or an ensemble of them) with its vocabulary,
/// classes and text pipeline.
pub struct Predictor {
    members: Vec<Member>,
}

/// One prediction.
#[derive(Clone, Debug, Serialize)]
pub struct Prediction {
    /// `(class, probability)`, most probable first.
    pub classes: Vec<(String, f64)>,
    /// The tokens the model read.
    pub tokens: Vec<String>,
    /// Each token's attention weight (attention pooling only), summing to 1.
    pub attention: Option<Vec<f64>>,
}

impl Predictor {
    /// Loads a model directory written by [`super::recipe::train`], or an
    /// ensemble directory written by [`super::recipe::train_ensemble`]
    /// (its members must share their classes, in order).
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(ENSEMBLE);
        if !path.is_file() {
            return Ok(Predictor {
                members: vec![Member::load(dir)?],
            });
        }
        let saved: SavedEnsemble = ModelDir::open(dir)?.read_json(ENSEMBLE)?;
        if saved.members.is_empty() {
            return Err(Error::Config(format!(
                "{}: an ensemble needs at least one member",
                path.display()
            )));
        }
        let members = saved
            .members
            .iter()
            .map(|m| Member::load(&dir.join(m)))
            .collect::<Result<Vec<_>>>()?;
        if let Some((m, _)) = saved
            .members
            .iter()
            .zip(&members)
            .find(|(_, x)| x.classes != members[0].classes)
        {
            return Err(Error::Config(format!(
                "{}: member `{m}` has other classes than `{}`",
                path.display(),
                saved.members[0]
            )));
        }
        Ok(Predictor { members })
    }

    /// The members' directories of an ensemble, relative to `dir`
    /// (`None` for a single model).
    pub fn members_of(dir: &Path) -> Result<Option<Vec<PathBuf>>> {
        if !dir.join(ENSEMBLE).is_file() {
            return Ok(None);
        }
        let saved: SavedEnsemble = ModelDir::open(dir)?.read_json(ENSEMBLE)?;
        Ok(Some(saved.members.iter().map(|m| dir.join(m)).collect()))
    }

    /// Number of models (1 unless an ensemble).
    pub fn members(&self) -> usize {
        self.members.len()
    }

    /// Number of parameters (scalars), all members together.
    pub fn parameters(&self) -> usize {
        self.members
            .iter()
            .map(|m| {
                m.params
                    .tensors()
                    .values()
                    .map(|t| t.elem_count())
                    .sum::<usize>()
            })
            .sum()
    }

    /// The class names.
    pub fn classes(&self) -> &[String] {
        &self.members[0].classes
    }

    /// Class index of a label, if known.
    pub fn class_id(&self, label: &str) -> Option<u32> {
        self.classes()
            .iter()
            .position(|c| c == label)
            .map(|i| i as u32)
    }

    /// Predicts each text, in input order; an ensemble averages its
    /// members' probabilities (and attention rows, where every member read
    /// the text as the same number of tokens).
    pub fn predict(&self, texts: &[&str]) -> Result<Vec<Prediction>> {
        let mut runs = self
            .members
            .iter()
            .map(|m| m.predict(texts))
            .collect::<Result<Vec<_>>>()?;
        let n = runs.len() as f64;
        let first = runs.remove(0);
        Ok(first
            .into_iter()
            .enumerate()
            .map(|(i, raw)| {
                let mut probs: Vec<f64> = raw.probs.iter().map(|&p| f64::from(p)).collect();
                let mut attention = raw.attention;
                for run in &runs {
                    for (s, &p) in probs.iter_mut().zip(&run[i].probs) {
                        *s += f64::from(p);
                    }
                    attention = match (attention, &run[i].attention) {
                        (Some(mut a), Some(b)) if a.len() == b.len() => {
                            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                            Some(a)
                        }
                        _ => None,
                    };
                }
                let mut classes: Vec<(String, f64)> = self
                    .classes()
                    .iter()
                    .cloned()
                    .zip(probs.into_iter().map(|p| p / n))
                    .collect();
                classes.sort_by(|a, b| b.1.total_cmp(&a.1));
                Prediction {
                    classes,
                    tokens: raw.tokens,
                    attention: attention.map(|a| a.into_iter().map(|w| w / n).collect()),
                }
            })
            .collect())
    }

    /// Scores labelled rows: the full report and its confusion matrix.
    /// Rows whose label the model does not know are an error.
    pub fn evaluate(&self, rows: &[Labelled]) -> Result<(Report, Confusion)> {
        if rows.is_empty() {
            return Err(Error::Config("nothing to evaluate: no examples".into()));
        }
        let gold: Vec<u32> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                self.class_id(&r.label).ok_or_else(|| {
                    Error::Config(format!(
                        "example {}: label `{}` is not one of the model's classes",
                        i + 1,
                        r.label
                    ))
                })
            })
            .collect::<Result<_>>()?;
        let texts: Vec<&str> = rows.iter().map(|r| r.text.as_str()).collect();
        let predicted: Vec<u32> = self
            .predict(&texts)?
            .iter()
            .map(|p| self.class_id(&p.classes[0].0).unwrap_or(0))
            .collect();
        let confusion = Confusion::new(self.classes(), &gold, &predicted)?;
        Ok((confusion.report(), confusion))
    }
}
