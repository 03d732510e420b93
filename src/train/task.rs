//! The `Task` trait: what the generic training loop needs from a model.
//!
//! Translation, classification and language modelling each implement it once;
//! [`Trainer`](super::Trainer) owns everything else (optimizer, clipping,
//! schedules, validation cadence, checkpoints, history, progress).

use std::collections::BTreeMap;

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::nn::{Mode, ParamStore};

use super::Metrics;

/// What training batches report besides their loss, as sums with counts
/// (a classifier's correct predictions over its examples), so the trainer
/// can add them over batches and shards and record each period's ratio as
/// a training metric (`train_accuracy` in `history.csv`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchStats(BTreeMap<String, (f64, f64)>);

impl BatchStats {
    /// `sum` more of metric `name` over `count` more items.
    pub fn add(&mut self, name: &str, sum: f64, count: f64) {
        let e = self.0.entry(name.to_string()).or_insert((0.0, 0.0));
        e.0 += sum;
        e.1 += count;
    }

    /// Adds everything `other` holds.
    pub fn merge(&mut self, other: &BatchStats) {
        for (name, &(sum, count)) in &other.0 {
            self.add(name, sum, count);
        }
    }

    /// Each metric's sum over its count (metrics without items are left out).
    pub fn means(&self) -> Metrics {
        self.0
            .iter()
            .filter(|(_, (_, count))| *count > 0.0)
            .map(|(name, (sum, count))| (name.clone(), sum / count))
            .collect()
    }
}

/// What every task is built from: a model with its parameters, the
/// training and validation data (`D`: encoded examples, or a corpus), and
/// the seed of the batch order. Each task's constructor takes this and what
/// only it needs.
pub struct TaskParts<M, D> {
    /// The model.
    pub model: M,
    /// Its parameters.
    pub params: ParamStore,
    /// The training data.
    pub train: D,
    /// The validation data.
    pub valid: D,
    /// Seeds the batch order.
    pub seed: u64,
}

impl<M, D> TaskParts<M, D> {
    /// The parts in field order: model, parameters, training data,
    /// validation data, seed.
    pub fn into_tuple(self) -> (M, ParamStore, D, D, u64) {
        (self.model, self.params, self.train, self.valid, self.seed)
    }
}

/// A trainable model together with its data.
pub trait Task {
    /// One training batch.
    type Batch;

    /// The model's parameters (all of them trainable unless frozen by the model).
    fn params(&self) -> &ParamStore;

    /// The training batches of `epoch` (0-based), in the order they are used.
    /// Must be a pure function of the task's seed and `epoch`: exact resume
    /// regenerates an epoch's batches and skips the ones already done.
    fn train_batches(&self, epoch: usize) -> Result<Vec<Self::Batch>>;

    /// The scalar loss of `batch`, differentiable with respect to
    /// [`params`](Task::params). `mode` carries the dropout RNG when training.
    fn loss(&self, batch: &Self::Batch, mode: &mut Mode<'_>) -> Result<Tensor>;

    /// [`loss`](Task::loss) and what the batch reports besides it, from the
    /// same forward pass. Default: nothing besides the loss.
    fn loss_with_stats(
        &self,
        batch: &Self::Batch,
        mode: &mut Mode<'_>,
    ) -> Result<(Tensor, BatchStats)> {
        Ok((self.loss(batch, mode)?, BatchStats::default()))
    }

    /// How many target tokens (or examples) `batch` holds, for throughput.
    fn batch_tokens(&self, batch: &Self::Batch) -> usize;

    /// Validation metrics (at least the one that selects the best model).
    fn evaluate(&self) -> Result<Metrics>;

    /// Splits `batch` into at most `parts` shards with weights `w_k` such that
    /// `Σ w_k · loss(shard_k)` is the loss of the whole batch (for a loss that
    /// is a mean over tokens, `w_k` is the shard's share of the tokens). The
    /// trainer runs the shards on separate threads and sums their gradients.
    /// The default, an empty list, means the batch is not split.
    fn split(&self, batch: &Self::Batch, parts: usize) -> Result<Vec<(Self::Batch, f64)>> {
        let _ = (batch, parts);
        Ok(Vec::new())
    }

    /// State the task carries from batch to batch (a language model's
    /// hidden state under truncated backpropagation through time), saved with
    /// every checkpoint so a resumed run continues exactly. Default: none.
    fn carry(&self) -> Result<std::collections::HashMap<String, Tensor>> {
        Ok(std::collections::HashMap::new())
    }

    /// Restores what [`carry`](Task::carry) saved.
    fn restore_carry(&self, saved: std::collections::HashMap<String, Tensor>) -> Result<()> {
        let _ = saved;
        Ok(())
    }
}
