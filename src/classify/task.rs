//! Training a [`Classifier`] with the generic [`Trainer`](crate::train::Trainer):
//! length-bucketed batches reshuffled per epoch from the seed, mean
//! cross-entropy (optionally class-weighted), batch shards across the cores,
//! validation by loss, accuracy and macro F1.

use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

use super::Classifier;
use crate::data::{BatchConfig, Batcher, SeqBatch, shard_ranges};
use crate::metrics::classification::Confusion;
use crate::nn::{Mode, ParamStore, Rebuild};
use crate::train::{BatchStats, CrossEntropy, Metrics, Reduction, Task, TaskParts};
use crate::{Error, Result};

/// One encoded example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Example {
    /// Token ids (never empty: an empty text is one `<unk>`).
    pub ids: Vec<u32>,
    /// Class index.
    pub label: u32,
}

/// A padded batch of examples.
#[derive(Clone, Debug)]
pub struct LabelBatch {
    /// Ids `[B, T]`, lengths and mask.
    pub seqs: SeqBatch,
    /// Class indices `[B]` (u32).
    pub labels: Tensor,
    /// The same, on the host.
    pub label_ids: Vec<u32>,
}

/// How a [`ClassifyTask`] trains and validates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaskConfig {
    /// Training batches.
    pub batch: BatchConfig,
    /// Examples per validation batch.
    pub eval_batch_size: usize,
}

impl Default for TaskConfig {
    fn default() -> Self {
        TaskConfig {
            batch: BatchConfig {
                batch_size: 64,
                ..BatchConfig::default()
            },
            eval_batch_size: 512,
        }
    }
}

/// A classifier with its training and validation examples.
pub struct ClassifyTask {
    model: Classifier,
    params: ParamStore,
    classes: Vec<String>,
    train: Vec<Example>,
    valid: Vec<Example>,
    batcher: Batcher,
    pad: u32,
    class_weights: Option<Tensor>,
    /// The same weights on the host, for the loss's denominators.
    host_weights: Option<Vec<f32>>,
    cfg: TaskConfig,
}

impl ClassifyTask {
    /// A task over encoded examples of `classes`; `class_weights` (one per
    /// class) weight the loss as PyTorch's `weight=`.
    pub fn new(
        parts: TaskParts<Classifier, Vec<Example>>,
        classes: Vec<String>,
        class_weights: Option<Vec<f32>>,
        cfg: &TaskConfig,
    ) -> Result<Self> {
        let (model, params, train, valid, seed) = parts.into_tuple();
        if cfg.eval_batch_size == 0 {
            return Err(Error::Config("eval_batch_size must be at least 1".into()));
        }
        for (set, examples) in [("training", &train), ("validation", &valid)] {
            if let Some(i) = examples.iter().position(|e| e.ids.is_empty()) {
                return Err(Error::Config(format!("{set} example {i} has no tokens")));
            }
            if let Some(e) = examples.iter().find(|e| e.label as usize >= classes.len()) {
                return Err(Error::Config(format!(
                    "{set} label {} outside the {} classes",
                    e.label,
                    classes.len()
                )));
            }
        }
        let device = model.device().clone();
        let host_weights = class_weights.clone();
        let class_weights = match class_weights {
            Some(w) if w.len() != classes.len() => {
                return Err(Error::Config(format!(
                    "{} class weights for {} classes",
                    w.len(),
                    classes.len()
                )));
            }
            Some(w) => Some(Tensor::from_vec(w, classes.len(), &device)?),
            None => None,
        };
        let lengths = train.iter().map(|e| e.ids.len()).collect();
        let batcher = Batcher::new(lengths, &cfg.batch, seed)?;
        let pad = model.config().pad_id.unwrap_or(0);
        Ok(ClassifyTask {
            model,
            params,
            classes,
            train,
            valid,
            batcher,
            pad,
            class_weights,
            host_weights,
            cfg: cfg.clone(),
        })
    }

    /// Pads `rows` into a batch.
    pub fn batch(&self, rows: &[&Example]) -> Result<LabelBatch> {
        let ids: Vec<&[u32]> = rows.iter().map(|e| e.ids.as_slice()).collect();
        let label_ids: Vec<u32> = rows.iter().map(|e| e.label).collect();
        Ok(LabelBatch {
            seqs: SeqBatch::new(&ids, self.pad, self.model.device())?,
            labels: Tensor::new(label_ids.as_slice(), self.model.device())?,
            label_ids,
        })
    }

    fn loss_fn(&self, reduction: Reduction) -> CrossEntropy {
        CrossEntropy {
            weight: self.class_weights.clone(),
            reduction,
            ..CrossEntropy::default()
        }
    }

    /// The weight a batch's mean loss divides by: its examples, or the sum of
    /// their class weights.
    fn batch_weight(&self, labels: &[u32]) -> f64 {
        match &self.host_weights {
            None => labels.len() as f64,
            Some(w) => labels.iter().map(|&y| f64::from(w[y as usize])).sum(),
        }
    }

    /// Predicted classes and the (class-weighted) mean loss over `examples`,
    /// in length-sorted batches of at most `eval_batch_size` rows and
    /// `EVAL_TOKENS` padded tokens.
    pub fn predict(&self, examples: &[Example]) -> Result<(Vec<u32>, f64)> {
        let mut order: Vec<usize> = (0..examples.len()).collect();
        order.sort_by_key(|&i| examples[i].ids.len());
        let mut predicted = vec![0u32; examples.len()];
        let (mut loss, mut weight) = (0.0, 0.0);
        let model = self.model.for_inference(&self.params)?;
        let batches = crate::data::length_batches(
            &order,
            |i| examples[i].ids.len(),
            self.cfg.eval_batch_size,
            EVAL_TOKENS,
        );
        for chunk in batches {
            let rows: Vec<&Example> = chunk.iter().map(|&i| &examples[i]).collect();
            let batch = self.batch(&rows)?;
            let out = model.forward(&batch.seqs.ids, &batch.seqs.lengths, &mut Mode::Eval)?;
            let sum = self
                .loss_fn(Reduction::Sum)
                .forward(&out.logits, &batch.labels)?;
            loss += f64::from(sum.to_dtype(DType::F32)?.to_scalar::<f32>()?);
            weight += self.batch_weight(&batch.label_ids);
            let best: Vec<u32> = out.logits.argmax(1)?.to_vec1()?;
            for (&i, p) in chunk.iter().zip(best) {
                predicted[i] = p;
            }
        }
        Ok((predicted, loss / weight.max(f64::MIN_POSITIVE)))
    }
}

/// The most padded tokens (rows × longest) of an evaluation or prediction
/// batch: 512 surnames or 256 reviews of 500 words, while one runaway text
/// runs alone instead of padding hundreds of others to its length.
pub const EVAL_TOKENS: usize = 131_072;

impl Task for ClassifyTask {
    type Batch = LabelBatch;

    fn params(&self) -> &ParamStore {
        &self.params
    }

    fn train_batches(&self, epoch: usize) -> Result<Vec<LabelBatch>> {
        self.batcher
            .epoch(epoch as u64)
            .iter()
            .map(|idx| self.batch(&idx.iter().map(|&i| &self.train[i]).collect::<Vec<_>>()))
            .collect()
    }

    fn loss(&self, batch: &LabelBatch, mode: &mut Mode<'_>) -> Result<Tensor> {
        Ok(self.loss_with_stats(batch, mode)?.0)
    }

    /// The loss and the batch's training accuracy (unweighted, with
    /// dropout on, as Keras's `accuracy`), for the accuracy curve.
    fn loss_with_stats(
        &self,
        batch: &LabelBatch,
        mode: &mut Mode<'_>,
    ) -> Result<(Tensor, BatchStats)> {
        let out = self
            .model
            .forward(&batch.seqs.ids, &batch.seqs.lengths, mode)?;
        let loss = self
            .loss_fn(Reduction::Mean)
            .forward(&out.logits, &batch.labels)?;
        let predicted: Vec<u32> = out.logits.argmax(1)?.to_vec1()?;
        let correct = predicted
            .iter()
            .zip(&batch.label_ids)
            .filter(|(p, y)| p == y)
            .count();
        let mut stats = BatchStats::default();
        stats.add("accuracy", correct as f64, predicted.len() as f64);
        // Mask pooling's sparsity term trains only; validation reports the
        // cross-entropy alone.
        let loss = match out.penalty {
            Some(p) => (loss + p.to_dtype(DType::F32)?)?,
            None => loss,
        };
        Ok((loss, stats))
    }

    fn batch_tokens(&self, batch: &LabelBatch) -> usize {
        batch.seqs.lengths.iter().sum()
    }

    /// Row shards weighted by their share of the loss's denominator (examples,
    /// or class weights), so the weighted shard losses sum to the batch's mean.
    fn split(&self, batch: &LabelBatch, parts: usize) -> Result<Vec<(LabelBatch, f64)>> {
        let rows = batch.label_ids.len();
        let parts = parts.min(rows);
        if parts < 2 {
            return Ok(Vec::new());
        }
        let total = self.batch_weight(&batch.label_ids);
        shard_ranges(rows, parts)
            .into_iter()
            .map(|r| {
                let label_ids = batch.label_ids[r.clone()].to_vec();
                let shard = LabelBatch {
                    seqs: batch.seqs.rows(r.start, r.len())?,
                    labels: batch.labels.narrow(0, r.start, r.len())?,
                    label_ids,
                };
                let w = self.batch_weight(&shard.label_ids) / total;
                Ok((shard, w))
            })
            .collect()
    }

    /// `loss`, `accuracy` and `macro_f1` on the validation examples.
    fn evaluate(&self) -> Result<Metrics> {
        let (predicted, loss) = self.predict(&self.valid)?;
        let gold: Vec<u32> = self.valid.iter().map(|e| e.label).collect();
        let report = Confusion::new(&self.classes, &gold, &predicted)?.report();
        Ok(Metrics::from([
            ("loss".to_string(), loss),
            ("accuracy".to_string(), report.accuracy),
            ("macro_f1".to_string(), report.macro_avg.f1),
        ]))
    }
}
