//! Training: optimizers, gradient clipping, losses, schedules, early stopping,
//! and the generic loop.
//!
//! Everything numeric mirrors a PyTorch counterpart closely enough to reproduce
//! its numbers (see `tests/optim_parity.rs`): `torch.optim` ([`Sgd`], [`Adam`],
//! [`AdamW`]), `clip_grad_norm_` ([`clip_grad_norm`]), `cross_entropy`/`nll_loss`
//! ([`cross_entropy`], [`nll_loss`]), `lr_scheduler` ([`Scheduler`]), plus early
//! stopping ([`EarlyStopping`]).
//! [`Trainer`] runs any [`Task`] with them and writes a [`ModelDir`].

mod checkpoint;
mod clip;
mod config;
mod early_stop;
mod history;
pub mod interrupt;
mod lock;
mod loss;
mod metric;
mod model_dir;
mod optim;
mod progress;
mod run_options;
mod schedule;
mod shards;
mod snapshots;
mod task;
mod trainer;
mod unfreeze;

pub use checkpoint::TrainerState;
pub use clip::{clip_grad_norm, clip_grad_norm_rows};
pub use config::{DEFAULT_SEED, TrainConfig};
pub use early_stop::{Decision, EarlyStopping, EarlyStoppingConfig, EarlyStoppingState};
pub use history::{EpochRecord, History, Metrics};
pub use lock::DirLock;
pub use loss::{
    CrossEntropy, Reduction, cross_entropy, masked_cross_entropy, masked_nll, nll_loss,
};
pub use metric::Goal;
pub use model_dir::{ModelDir, Start, TRAIN_CONFIG, read_json, read_tensors};
pub use optim::{
    Adam, AdamConfig, AdamW, AdamWConfig, Optimizer, OptimizerConfig, Sgd, SgdConfig,
    build as build_optimizer,
};
pub use progress::Progress;
pub use run_options::RunOptions;
pub use schedule::{PlateauConfig, ScheduleConfig, ScheduleState, Scheduler, ThresholdMode};
pub use shards::{batch_gradients, sum_gradients};
pub use snapshots::{Pick, Snapshot, SnapshotIndex, average_into, average_weights};
pub use task::{BatchStats, Task, TaskParts};
pub use trainer::{Summary, Trainer};
