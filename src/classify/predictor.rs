//! Using a trained classifier: load a model directory, predict texts (class
//! probabilities, tokens, attention weights), score labelled rows.
//!
//! A directory may hold an ensemble instead of one model (`classify train
//! --ensemble N`): `ensemble.json` names member directories, each a complete
//! model trained with its own seed on the same split. The ensemble predicts
//! the mean of its members' class probabilities (the usual averaging of
//! independently trained networks; Hansen & Salamon, 1990) and, for
//! attention pooling, the mean of their attention rows — still a
//! distribution over the tokens. An assembled ensemble may weigh its
//! members (`classify ensemble --weights`): the mean is then weighted, and
//! the attention rows are averaged over the members that have them.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Classifier;
use super::data::Labelled;
use super::recipe::{SavedClassifier, WEIGHTS};
use super::text::TextConfig;
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
    /// Each member's weight in the mean (positive; need not sum to 1);
    /// absent: all weigh the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<Vec<f64>>,
}

impl SavedEnsemble {
    /// The members' weights, summing to 1; an error names `path` when they
    /// are not one positive finite number per member.
    pub fn normalized_weights(&self, path: &Path) -> Result<Vec<f64>> {
        let n = self.members.len();
        let w = match &self.weights {
            None => vec![1.0; n],
            Some(w) if w.len() == n && w.iter().all(|x| x.is_finite() && *x > 0.0) => w.clone(),
            Some(w) => {
                return Err(Error::Config(format!(
                    "{}: expected {n} positive weights, one per member, got {w:?}",
                    path.display()
                )));
            }
        };
        let total: f64 = w.iter().sum();
        Ok(w.into_iter().map(|x| x / total).collect())
    }
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
        let batches = crate::data::length_batches(
            &order,
            |i| encoded[i].0.len(),
            256,
            super::task::EVAL_TOKENS,
        );
        for idx in batches {
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
    /// One per member, summing to 1.
    weights: Vec<f64>,
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
    /// Whether `dir` holds a classifier or a classifier ensemble (its
    /// `classes.json`, or an ensemble's `ensemble.json`).
    pub fn is_model_dir(dir: &Path) -> bool {
        dir.join("classes.json").is_file() || dir.join(ENSEMBLE).is_file()
    }

    /// Loads a model directory written by [`super::recipe::train`], or an
    /// ensemble directory written by [`train_ensemble`](super::train_ensemble)
    /// (its members must share their classes, in order).
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(ENSEMBLE);
        if !path.is_file() {
            return Ok(Predictor {
                members: vec![Member::load(dir)?],
                weights: vec![1.0],
            });
        }
        let saved: SavedEnsemble = ModelDir::open(dir)?.read_json(ENSEMBLE)?;
        if saved.members.is_empty() {
            return Err(Error::Config(format!(
                "{}: an ensemble needs at least one member",
                path.display()
            )));
        }
        let weights = saved.normalized_weights(&path)?;
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
        Ok(Predictor { members, weights })
    }

    /// The members' weights (summing to 1), as [`Predictor::members_of`]
    /// lists them (`[1.0]` for a single model).
    pub fn weights_of(dir: &Path) -> Result<Vec<f64>> {
        let path = dir.join(ENSEMBLE);
        if !path.is_file() {
            return Ok(vec![1.0]);
        }
        let saved: SavedEnsemble = ModelDir::open(dir)?.read_json(ENSEMBLE)?;
        saved.normalized_weights(&path)
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
    /// members' probabilities with their weights, and the attention rows of
    /// the members that read the text as the same tokens as the first member
    /// with attention (its tokens are then the ones shown), reweighted among
    /// themselves.
    pub fn predict(&self, texts: &[&str]) -> Result<Vec<Prediction>> {
        let mut runs = self
            .members
            .iter()
            .map(|m| m.predict(texts).map(|r| r.into_iter().map(Some).collect()))
            .collect::<Result<Vec<Vec<Option<Raw>>>>>()?;
        (0..texts.len())
            .map(|i| {
                let mut views: Vec<Raw> = runs.iter_mut().filter_map(|r| r[i].take()).collect();
                let mut probs = vec![0.0f64; self.classes().len()];
                for (raw, &w) in views.iter().zip(&self.weights) {
                    for (s, &p) in probs.iter_mut().zip(&raw.probs) {
                        *s += w * f64::from(p);
                    }
                }
                let lead = views
                    .iter()
                    .position(|r| r.attention.is_some())
                    .unwrap_or(0);
                let tokens = std::mem::take(&mut views[lead].tokens);
                let attention = views[lead].attention.as_ref().map(|first| {
                    let mut sum = vec![0.0; first.len()];
                    let mut total = 0.0;
                    for (raw, &w) in views.iter().zip(&self.weights) {
                        if let Some(a) = raw.attention.as_ref().filter(|a| a.len() == sum.len()) {
                            sum.iter_mut().zip(a).for_each(|(s, x)| *s += w * x);
                            total += w;
                        }
                    }
                    sum.into_iter().map(|x| x / total).collect()
                });
                let mut classes: Vec<(String, f64)> =
                    self.classes().iter().cloned().zip(probs).collect();
                classes.sort_by(|a, b| b.1.total_cmp(&a.1));
                Ok(Prediction {
                    classes,
                    tokens,
                    attention,
                })
            })
            .collect()
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
                        crate::error::excerpt(&r.label)
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
