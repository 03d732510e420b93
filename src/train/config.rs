//! The `train` section of every task's config: epochs, optimizer, clipping,
//! schedule, early stopping, validation and checkpoint cadence, time limit,
//! seed — and the cross-field rules between them.
//!
//! The learning rate is set here once, in `optimizer`; at run time the
//! optimizer owns the current rate (schedules set it, checkpoints record it).

use serde::{Deserialize, Serialize};

use super::early_stop::EarlyStoppingConfig;
use super::metric::Goal;
use super::optim::OptimizerConfig;
use super::schedule::ScheduleConfig;
use crate::{Error, Result};

/// The seed of a run that names none: training's, and sampling's.
pub const DEFAULT_SEED: u64 = 42;

/// How to train: the `train` section of every task's config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Total epochs (a resumed run continues up to this many).
    pub epochs: usize,
    /// The optimizer and its hyper-parameters.
    pub optimizer: OptimizerConfig,
    /// Clip the global gradient norm to this value before each step.
    pub clip_norm: Option<f64>,
    /// Learning-rate schedule, stepped once per epoch (a plateau schedule on
    /// the validation metric, so only on epochs that validate).
    pub schedule: ScheduleConfig,
    /// Stop when the validation metric stops improving.
    pub early_stopping: Option<EarlyStoppingConfig>,
    /// Validate every this many epochs (0 = never).
    pub validate_every: usize,
    /// The validation metric that picks the best model (and feeds plateau schedules).
    pub select_metric: String,
    /// Whether `select_metric` should go down or up.
    pub select_goal: Goal,
    /// Also checkpoint every this many steps inside an epoch (0 = at epoch ends only).
    pub checkpoint_every: u64,
    /// Also validate every this many optimizer steps inside an epoch (0 = at
    /// epoch ends only), like fairseq's `--validate-interval-updates`: for
    /// corpora whose epoch is longer than a run (a language model on text8).
    /// Each validation records a history row, may save a new best model and
    /// counts for early stopping and plateau schedules.
    #[serde(default)]
    pub validate_every_steps: u64,
    /// Stop gracefully after this many minutes of training (validation
    /// included): validate, keep the best model, checkpoint, return. A resumed
    /// run gets the limit afresh.
    #[serde(default)]
    pub time_limit_minutes: Option<f64>,
    /// Keep the weights of this many latest validations, and of this many
    /// best, in `snapshots/` for checkpoint averaging (`translate average`);
    /// 0 keeps none.
    #[serde(default)]
    pub keep_snapshots: usize,
    /// Seed for dropout masks (batch order is the task's).
    pub seed: u64,
    /// Gradual unfreezing: groups of parameter names (the top group
    /// first) frozen at the start and released one an epoch (ULMFiT; see
    /// `train::unfreeze`); empty: everything trains from the start.
    #[serde(default)]
    pub gradual_unfreezing: Vec<Vec<String>>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 10,
            optimizer: OptimizerConfig::default(),
            clip_norm: None,
            schedule: ScheduleConfig::Constant,
            early_stopping: None,
            validate_every: 1,
            select_metric: "loss".into(),
            select_goal: Goal::Min,
            checkpoint_every: 0,
            validate_every_steps: 0,
            time_limit_minutes: None,
            keep_snapshots: 0,
            seed: DEFAULT_SEED,
            gradual_unfreezing: Vec::new(),
        }
    }
}

impl TrainConfig {
    /// Early stopping on the metric that selects the best model (its
    /// goal too), after `patience` validations without a better value.
    pub fn stop_on_selection(&self, patience: u64) -> EarlyStoppingConfig {
        EarlyStoppingConfig {
            metric: self.select_metric.clone(),
            mode: self.select_goal,
            patience,
            ..EarlyStoppingConfig::default()
        }
    }

    /// Checks cross-field rules.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(Error::Config("train.epochs must be at least 1".into()));
        }
        if let Some(c) = self.clip_norm
            && !(c > 0.0 && c.is_finite())
        {
            return Err(Error::Config(format!(
                "train.clip_norm must be a positive number, got {c}"
            )));
        }
        if let Some(m) = self.time_limit_minutes
            && !(m > 0.0 && m.is_finite())
        {
            return Err(Error::Config(format!(
                "train.time_limit_minutes must be a positive number, got {m}"
            )));
        }
        if (self.early_stopping.is_some() || self.schedule.needs_metric())
            && self.validate_every == 0
            && self.validate_every_steps == 0
        {
            return Err(Error::Config(
                "early stopping and plateau schedules need validation: set train.validate_every ≥ 1"
                    .into(),
            ));
        }
        self.optimizer.validate()?;
        self.schedule.validate()?;
        if let ScheduleConfig::Cosine { min_lr, .. } = self.schedule
            && min_lr >= self.optimizer.lr()
        {
            return Err(Error::Config(format!(
                "the cosine schedule anneals from the learning rate down to min_lr, but min_lr (--min-lr) {min_lr} is not below the rate (--lr) {}",
                self.optimizer.lr()
            )));
        }
        Ok(())
    }
}
