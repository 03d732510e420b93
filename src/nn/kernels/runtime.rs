//! Process start-up for fast CPU kernels: the thread pools, subnormal
//! flushing and the allocator's settings. Call [`tune_allocator`] and
//! [`set_threads`] first thing in `main` (the binary and the benchmarks do).
//!
//! The process-wide state they set, and its invariants:
//! - `CANDLE_NUM_THREADS`/`RAYON_NUM_THREADS` = 1 and rayon's global pool of
//!   `n` threads: set once, before any tensor work (candle reads the
//!   variables when it first computes; rayon's pool cannot be rebuilt);
//! - FTZ/DAZ on the main thread and every pool thread: per thread, so a
//!   thread started elsewhere keeps IEEE subnormals (the tests do);
//! - the helper thread of [`super::helper`], enabled with two threads or
//!   more: one per process, idle unless a product asks for it.

use super::simd::flush_denormals;
use crate::{Error, Result};

/// Sizes attend's own thread pool (data work, data-parallel training) and
/// pins candle's intra-op parallelism to one thread.
///
/// Measured on the 2-core reference machine (`examples/`-style timing of one
/// seq2seq training step, hidden 256, batch 64): candle's barrier-synchronised
/// pool spin-waits between the many small ops of a recurrent step, so two
/// intra-op threads made a step 2.2× *slower* than one (456 ms → 141 ms for
/// the backward pass). Cores are put to work one level up instead. candle
/// reads `CANDLE_NUM_THREADS` / `RAYON_NUM_THREADS` when it first computes, so
/// they must be set before any tensor work: call this first thing in `main`
/// (the binary and the benchmarks do).
pub fn set_threads(n: usize) -> Result<()> {
    // SAFETY: called once at start-up, before any other thread exists.
    unsafe {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
    flush_denormals();
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .start_handler(|_| flush_denormals())
        .build_global()
        .map_err(|e| Error::Config(format!("cannot set up {n} threads: {e}")))?;
    if n >= 2 {
        // Products outside the pool (decoding a sentence at a time) split
        // over a second core.
        super::helper::enable();
    }
    Ok(())
}

/// Keeps freed tensor memory in the heap instead of returning it to the OS;
/// call it first thing in `main`, before any thread starts (the binary and
/// the benchmarks do).
///
/// glibc serves blocks over 128 KiB with `mmap` and unmaps them on free, so
/// every training step page-faults its activations in again, and page faults
/// from two threads serialise on the process's memory-map lock. Measured on the
/// 2-core reference machine (one seq2seq step, hidden 256, batch 64, two batch
/// shards): 1.55 s → 0.87 s per 10 steps with these settings, against 1.53 s
/// without. Memory returns to the OS at exit; the heap keeps at most what one
/// step needs.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called before
    // any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}
