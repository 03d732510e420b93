//! A graceful stop: Ctrl-C or SIGTERM ends a training run after the step in
//! progress, with a checkpoint, instead of losing the epoch so far.
//!
//! The library only keeps the request, in one process-wide flag, and the
//! [`Trainer`](super::Trainer) reads it after every optimizer step; the
//! binary decides which signals set it (see `cli::common`). A process-wide
//! flag because a signal is process-wide; the invariant is simply that the
//! flag only ever goes from unset to set (tests reset it between runs).

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Asks running training to stop after its current step. Returns whether a
/// stop had been asked for already (a second Ctrl-C: the caller may then
/// exit at once).
pub fn request_stop() -> bool {
    REQUESTED.swap(true, Ordering::SeqCst)
}

/// Whether a stop has been asked for.
pub fn stop_requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Forgets a stop request (for tests and long-lived hosts that train again).
pub fn clear_stop_request() {
    REQUESTED.store(false, Ordering::SeqCst);
}
