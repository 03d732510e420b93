//! Training: optimizers, gradient clipping, losses, schedules, early stopping, and the generic loop.

pub mod history;
pub mod model_dir;
pub mod progress;

pub use history::{EpochRecord, History, Metrics};
pub use model_dir::ModelDir;
pub use progress::Progress;
