//! A second core for the few-row products of one-sentence decoding.
//!
//! Decoding a sentence at a time is bound by reading the weights (a
//! 2,803 × 256 output layer is 2.9 MB, past L2, once per step), and each
//! core reads its own share faster than one core reads all of it. rayon's
//! threads fall asleep in the tens of microseconds between a step's
//! products, and waking one cost more than the half product saved (a split
//! through rayon made decoding slower). So the split goes to one dedicated
//! thread that spins while products keep coming, and parks after
//! `SPIN` without one: a short burst of spinning on the other core after
//! decoding stops, nothing while idle.
//!
//! Off unless [`enable`]d ([`super::runtime::set_threads`] with two threads or more);
//! one caller at a time (a second caller, or any caller inside the rayon
//! pool, whose threads keep both cores busy already, runs both halves itself).
//! A caller whose half is done before the helper picked its job up takes the
//! job back and runs it too, so a machine busy with other work costs a
//! split nothing more than running alone.
//! Which thread computes a column changes no number: outputs are the same
//! bit for bit either way.

use std::cell::UnsafeCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// How long the helper spins for the next job before parking.
const SPIN: Duration = Duration::from_micros(500);

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Lets [`join`] use the helper thread (started on first use).
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

const IDLE: u8 = 0;
const POSTED: u8 = 1;
const RUNNING: u8 = 2;
const DONE: u8 = 3;

/// A type-erased `FnOnce` living on the poster's stack.
type Job = (unsafe fn(*mut ()), *mut ());

struct Helper {
    thread: OnceLock<Thread>,
    /// `IDLE → POSTED` (poster) `→ RUNNING → DONE` (helper) `→ IDLE`
    /// (poster); or `POSTED → IDLE` when the poster takes its job back
    /// before the helper picked it up.
    state: AtomicU8,
    /// A poster holds the helper.
    busy: AtomicBool,
    /// The helper is parked, or about to park.
    sleeping: AtomicBool,
    /// The last job panicked.
    panicked: AtomicBool,
    /// Written by the holder of `busy` before `POSTED`, read by the helper after.
    job: UnsafeCell<Job>,
}

// SAFETY: `job` is written only by the poster holding `busy`, before its
// `POSTED` store (release), and read only by the helper after loading
// `POSTED` (acquire); the pointer it holds is used only while the poster waits.
unsafe impl Sync for Helper {}

fn noop(_: *mut ()) {}

fn helper() -> Option<&'static Helper> {
    static HELPER: OnceLock<Option<&'static Helper>> = OnceLock::new();
    *HELPER.get_or_init(|| {
        let h: &'static Helper = Box::leak(Box::new(Helper {
            thread: OnceLock::new(),
            state: AtomicU8::new(IDLE),
            busy: AtomicBool::new(false),
            sleeping: AtomicBool::new(false),
            panicked: AtomicBool::new(false),
            job: UnsafeCell::new((noop, std::ptr::null_mut())),
        }));
        let spawned = std::thread::Builder::new()
            .name("attend-products".into())
            .spawn(move || h.serve())
            .ok()?;
        h.thread.set(spawned.thread().clone()).ok()?;
        Some(h)
    })
}

impl Helper {
    fn serve(&self) {
        // The same float mode as the threads it works for (set_threads).
        super::simd::flush_denormals();
        loop {
            let mut since = Instant::now();
            let mut spins = 0u32;
            while self.state.load(Ordering::Acquire) != POSTED {
                std::hint::spin_loop();
                spins = spins.wrapping_add(1);
                if spins.is_multiple_of(256) {
                    // Lets whatever else wants this core run (a machine
                    // busy with other work); costs a microsecond otherwise.
                    std::thread::yield_now();
                }
                if spins.is_multiple_of(256) && since.elapsed() > SPIN {
                    // Paired with the poster's store of POSTED then load of
                    // `sleeping`: one of the two sees the other's store.
                    self.sleeping.store(true, Ordering::SeqCst);
                    if self.state.load(Ordering::SeqCst) != POSTED {
                        std::thread::park();
                    }
                    self.sleeping.store(false, Ordering::SeqCst);
                    since = Instant::now();
                }
            }
            // The poster may have taken the job back meanwhile.
            if self
                .state
                .compare_exchange(POSTED, RUNNING, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                continue;
            }
            // SAFETY: POSTED was read with acquire after the poster wrote the job.
            let (call, data) = unsafe { *self.job.get() };
            // SAFETY: the poster keeps `data` alive until it sees DONE.
            let ok = catch_unwind(AssertUnwindSafe(|| unsafe { call(data) })).is_ok();
            self.panicked.store(!ok, Ordering::Relaxed);
            self.state.store(DONE, Ordering::Release);
        }
    }
}

/// Runs `mine` on this thread and `theirs` on the helper core at the same
/// time when the helper is enabled and free, else both here, one after the
/// other. Returns once both have run.
pub fn join<A: FnOnce(), B: FnOnce() + Send>(mine: A, theirs: B) {
    let free = ENABLED.load(Ordering::Relaxed) && rayon::current_thread_index().is_none();
    let h = match free.then(helper).flatten() {
        Some(h) if !h.busy.swap(true, Ordering::Acquire) => h,
        _ => {
            mine();
            theirs();
            return;
        }
    };
    unsafe fn call<B: FnOnce()>(p: *mut ()) {
        // SAFETY: `p` is the poster's `Option<B>`, alive until DONE.
        if let Some(f) = unsafe { (*p.cast::<Option<B>>()).take() } {
            f();
        }
    }
    let mut slot = Some(theirs);
    // SAFETY: this thread holds `busy`; the helper reads the job only after POSTED.
    unsafe { *h.job.get() = (call::<B>, (&raw mut slot).cast::<()>()) };
    h.state.store(POSTED, Ordering::SeqCst);
    if h.sleeping.load(Ordering::SeqCst)
        && let Some(t) = h.thread.get()
    {
        t.unpark();
    }
    let mut wait = Wait {
        h,
        done: false,
        panicked: false,
    };
    mine();
    if wait.finish() {
        // The helper never started it (its core was busy elsewhere):
        // waiting for it could take a scheduler's time slice.
        if let Some(f) = slot.take() {
            f();
        }
    }
    assert!(!wait.panicked, "a product on the helper thread panicked");
}

/// The poster's side of a posted job: takes it back if the helper has not
/// started it, else waits for it; then frees the helper (on drop too, so a
/// panicking `mine` never unwinds past a job the helper still reads from
/// its stack).
struct Wait {
    h: &'static Helper,
    done: bool,
    panicked: bool,
}

impl Wait {
    /// True when the job was taken back, not run.
    fn finish(&mut self) -> bool {
        if self.done {
            return false;
        }
        self.done = true;
        let back = self
            .h
            .state
            .compare_exchange(POSTED, IDLE, Ordering::Acquire, Ordering::Relaxed)
            .is_ok();
        if !back {
            while self.h.state.load(Ordering::Acquire) != DONE {
                std::hint::spin_loop();
            }
            self.panicked = self.h.panicked.load(Ordering::Relaxed);
            self.h.state.store(IDLE, Ordering::Relaxed);
        }
        self.h.busy.store(false, Ordering::Release);
        back
    }
}

impl Drop for Wait {
    fn drop(&mut self) {
        // Unwinding: a job taken back is simply not run.
        let _ = self.finish();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// Both halves run, whatever the helper's state, many times over (the
    /// helper parks between the bursts).
    #[test]
    fn both_halves_always_run() {
        enable();
        let count = AtomicUsize::new(0);
        for burst in 0..3 {
            for _ in 0..500 {
                join(
                    || {
                        count.fetch_add(1, Ordering::Relaxed);
                    },
                    || {
                        count.fetch_add(1, Ordering::Relaxed);
                    },
                );
            }
            if burst < 2 {
                std::thread::sleep(2 * SPIN);
            }
        }
        assert_eq!(count.load(Ordering::Relaxed), 3000);
    }
}
