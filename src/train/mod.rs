//! Training: optimizers, gradient clipping, losses, schedules, early stopping, and the generic loop.
