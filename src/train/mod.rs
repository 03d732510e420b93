//! Training: optimizers, gradient clipping, losses, schedules, early stopping,
//! and the generic loop.
//!
//! Everything numeric mirrors a PyTorch counterpart closely enough to reproduce
//! its numbers (see `tests/optim_parity.rs`): `torch.optim` ([`optim`]),
//! `clip_grad_norm_` ([`clip`]), `cross_entropy`/`nll_loss` ([`loss`]),
//! `lr_scheduler` ([`schedule`]), plus early stopping ([`early_stop`]).
//! [`Trainer`] runs any [`Task`] with them and writes a [`ModelDir`].

mod checkpoint;
pub mod clip;
mod config;
pub mod early_stop;
pub mod history;
pub mod interrupt;
pub mod lock;
pub mod loss;
pub mod metric;
pub mod model_dir;
pub mod optim;
pub mod progress;
mod run_options;
pub mod schedule;
mod shards;
pub mod task;
mod trainer;

pub use checkpoint::TrainerState;
pub use clip::{clip_grad_norm, clip_grad_norm_rows};
pub use config::TrainConfig;
pub use early_stop::{Decision, EarlyStopping, EarlyStoppingConfig, EarlyStoppingState};
pub use history::{EpochRecord, History, Metrics};
pub use lock::DirLock;
pub use loss::{
    CrossEntropy, Reduction, cross_entropy, masked_cross_entropy, masked_nll, nll_loss,
};
pub use metric::Goal;
pub use model_dir::{ModelDir, Start};
pub use optim::{
    Adam, AdamConfig, AdamW, AdamWConfig, Optimizer, OptimizerConfig, Sgd, SgdConfig,
    build as build_optimizer,
};
pub use progress::Progress;
pub use run_options::RunOptions;
pub use schedule::{PlateauConfig, ScheduleConfig, ScheduleState, Scheduler, ThresholdMode};
pub use shards::{batch_gradients, sum_gradients};
pub use task::{BatchStats, Task, TaskParts};
pub use trainer::{Summary, Trainer};
