//! A run's checkpoint: the weights, the optimizer's moments, the task's
//! carried state and the trainer's counters ([`TrainerState`]), published
//! together by [`ModelDir::save_checkpoint`]; and the way back from one.
//! Randomness is derived from the seed and the counters, not saved, so this
//! is all a resume needs to go on bit for bit.

use std::collections::HashMap;

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use super::early_stop::{EarlyStopping, EarlyStoppingState};
use super::model_dir::{CHECKPOINT_STATE, read_json, read_tensors};
use super::schedule::{ScheduleState, Scheduler};
use super::{BatchStats, History, ModelDir, Optimizer, Task};
use crate::nn::ParamStore;
use crate::{Error, Result};

/// The model's weights, in a checkpoint and (the best ones) in the model directory.
pub(super) const MODEL: &str = "model.safetensors";
const OPTIMIZER: &str = "optimizer.safetensors";
/// The task's carried state (see [`Task::carry`]).
const CARRY: &str = "carry.safetensors";

/// Counters and small state saved in `trainer.json` with every checkpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// Epochs fully done.
    pub epochs_done: usize,
    /// Batches done in the current (unfinished) epoch.
    pub batches_done: usize,
    /// Sum of the current epoch's batch losses so far.
    pub epoch_loss_sum: f64,
    /// Sum of the batch losses since the last history record, and their
    /// count (a record's training loss is the mean over its own batches).
    #[serde(default)]
    pub period_loss_sum: f64,
    /// Batches since the last history record.
    #[serde(default)]
    pub period_batches: usize,
    /// What the batches since the last history record reported besides
    /// their loss ([`Task::loss_with_stats`]).
    #[serde(default)]
    pub period_stats: BatchStats,
    /// Wall-clock seconds of training so far, over all sessions of the run.
    #[serde(default)]
    pub elapsed: f64,
    /// Optimizer steps taken.
    pub step: u64,
    /// Current learning rate.
    pub lr: f64,
    /// Best value of the selection metric so far.
    pub best: Option<f64>,
    /// The LR schedule's state (none before the first epoch ends).
    pub schedule: Option<ScheduleState>,
    /// Early stopping's state.
    pub early_stopping: Option<EarlyStoppingState>,
    /// Set when early stopping ended the run.
    pub stopped_early: bool,
    /// Shards each batch was split into (the thread count the run started
    /// with); a resume keeps it, so the run stays bit-for-bit reproducible.
    #[serde(default = "one")]
    pub shards: usize,
    /// Epoch records.
    pub history: History,
}

fn one() -> usize {
    1
}

/// Writes a checkpoint of step `state.step`.
pub(super) fn save<T: Task>(
    dir: &ModelDir,
    task: &T,
    state: &TrainerState,
    params: &ParamStore,
    optimizer: HashMap<String, Tensor>,
) -> Result<()> {
    let model = params.tensors();
    let carry = task.carry()?;
    let mut files = vec![(MODEL, &model), (OPTIMIZER, &optimizer)];
    if !carry.is_empty() {
        files.push((CARRY, &carry));
    }
    dir.save_checkpoint(state.step, &files, state)?;
    Ok(())
}

/// The state a fresh run starts from, if `dir` holds no run yet.
pub(super) fn fresh(dir: &ModelDir, lr: f64, shards: usize) -> Result<TrainerState> {
    if dir.latest_checkpoint()?.is_some() {
        return Err(Error::Checkpoint {
            path: dir.path().to_path_buf(),
            msg: "already holds a training run: resume it, or train into an empty directory".into(),
        });
    }
    Ok(TrainerState {
        lr,
        shards,
        ..TrainerState::default()
    })
}

/// Loads the latest checkpoint of `dir` into the task's parameters, the
/// optimizer, the schedule and early stopping, and returns its counters.
pub(super) fn restore<T: Task>(
    dir: &ModelDir,
    task: &T,
    optimizer: &mut Box<dyn Optimizer>,
    scheduler: &mut Scheduler,
    early: Option<&mut EarlyStopping>,
) -> Result<TrainerState> {
    let ckpt = dir.latest_checkpoint()?.ok_or_else(|| Error::Checkpoint {
        path: dir.path().to_path_buf(),
        msg: "has no checkpoint to resume from".into(),
    })?;
    let device = task
        .params()
        .vars()
        .first()
        .map(|(_, v)| v.device().clone())
        .unwrap_or(candle_core::Device::Cpu);
    let weights = read_tensors(&ckpt.join(MODEL), &device)?;
    task.params()
        .assign(&weights)
        .map_err(|e| Error::Checkpoint {
            path: ckpt.join(MODEL),
            msg: format!("does not fit the model: {e}"),
        })?;
    optimizer.load_state(&read_tensors(&ckpt.join(OPTIMIZER), &device)?)?;
    let state: TrainerState = read_json(&ckpt.join(CHECKPOINT_STATE))?;
    if ckpt.join(CARRY).exists() {
        task.restore_carry(read_tensors(&ckpt.join(CARRY), &device)?)?;
    }
    optimizer.set_lr(state.lr);
    if let Some(saved) = state.schedule.as_ref() {
        scheduler.load_state(saved);
    }
    if let (Some(es), Some(saved)) = (early, state.early_stopping.as_ref()) {
        es.load_state(saved);
    }
    Ok(state)
}
