//! Training: optimizers, gradient clipping, losses, schedules, early stopping, and the generic loop.
//!
//! Everything here mirrors a PyTorch counterpart closely enough to reproduce
//! its numbers (see `tests/optim_parity.rs`): `torch.optim` ([`optim`]),
//! `clip_grad_norm_` ([`clip`]), `cross_entropy`/`nll_loss` ([`loss`]),
//! `lr_scheduler` ([`schedule`]), plus early stopping ([`early_stop`]).

pub mod clip;
pub mod early_stop;
pub mod loss;
pub mod metric;
pub mod optim;
pub mod schedule;

pub use clip::clip_grad_norm;
pub use early_stop::{Decision, EarlyStopping, EarlyStoppingConfig, EarlyStoppingState};
pub use loss::{
    CrossEntropy, Reduction, cross_entropy, masked_cross_entropy, masked_nll, nll_loss,
};
pub use metric::Mode;
pub use optim::{
    Adam, AdamConfig, AdamW, AdamWConfig, Optimizer, OptimizerConfig, Sgd, SgdConfig,
    build as build_optimizer,
};
pub use schedule::{PlateauConfig, ScheduleConfig, ScheduleState, Scheduler, ThresholdMode};
