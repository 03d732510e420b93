//! The word2vec trainer: hand-written SGD on flat `f32` buffers, shared by
//! all threads without locks (Hogwild, Recht et al., 2011), exactly the
//! algorithm of word2vec.c (Mikolov et al., 2013): per centre word a random
//! window reach; skip-gram trains each context word's input vector against
//! the centre word (negative sampling and/or hierarchical softmax), CBOW the
//! mean of the context's; gradients from the C tool's sigmoid table
//! (updates skipped outside its range, as gensim does); the learning rate decays linearly with the words processed by all
//! threads together.
//!
//! The corpus is cut into jobs of about 10,000 words (whole sentences) and
//! the jobs into one contiguous stretch per thread, which that thread trains
//! epoch after epoch without waiting for the others; the learning rate
//! follows the words done by all threads together.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::config::{Architecture, TrainConfig};
use super::corpus::Corpus;
use super::huffman::Huffman;
use super::sampling::{NoiseTable, SigmoidTable, ThreadRng, keep_thresholds};
use crate::data::vectors::Embeddings;
use crate::error::{Error, Result};
use crate::nn::kernels::simd::{self, Isa, Lanes, Scalar};

/// Words a job holds at least (gensim's `MAX_WORDS_IN_BATCH`).
const JOB_WORDS: usize = 10_000;

/// What a finished run reports.
#[derive(Clone, Debug)]
pub struct TrainReport {
    /// Corpus words processed over all epochs (in the vocabulary, before
    /// subsampling: the C tool's and gensim's "raw" count).
    pub words: u64,
    /// Words that survived subsampling and were trained on (gensim's
    /// "effective words").
    pub effective_words: u64,
    /// Wall time of the training loop, seconds.
    pub seconds: f64,
    /// Mean loss per training example of each epoch: `−ln σ(v·u)` of the
    /// positive word plus `−ln σ(−v·u)` of each negative sample, and the
    /// hierarchical-softmax path's log-loss, per (input, target word) pair.
    pub epoch_losses: Vec<f64>,
    /// The instruction set the inner loop ran on.
    pub isa: Isa,
}

impl TrainReport {
    /// Raw words per second.
    pub fn words_per_second(&self) -> f64 {
        self.words as f64 / self.seconds.max(1e-9)
    }

    /// Effective (trained) words per second.
    pub fn effective_words_per_second(&self) -> f64 {
        self.effective_words as f64 / self.seconds.max(1e-9)
    }
}

/// Trains input vectors on `corpus`, the inner loop compiled for the best
/// instruction set of this CPU. `quiet` silences the progress bar.
pub fn train(corpus: &Corpus, cfg: &TrainConfig, quiet: bool) -> Result<(Embeddings, TrainReport)> {
    cfg.validate()?;
    let isa = Isa::detect();
    let v = corpus.vocab.len();
    let d = cfg.dim;
    let counts = corpus.vocab.counts();
    // The input table, and an output table each for negative sampling and
    // the hierarchical softmax when on: checked before any is allocated.
    let tables = 1 + usize::from(cfg.negative > 0) + usize::from(cfg.hs);
    let need = crate::memory::bytes_of("the vector tables", &[tables, v, d], 4)?;
    crate::memory::check(
        &format!("{tables} tables of {v} words × {d} dimensions (--size)"),
        need,
        0,
    )?;
    let mut init = ThreadRng::new(cfg.seed, usize::MAX >> 1);
    let mut syn0: Vec<f32> = (0..v * d).map(|_| init.init(d)).collect();
    let mut syn1neg = vec![0f32; if cfg.negative > 0 { v * d } else { 0 }];
    let mut syn1 = vec![0f32; if cfg.hs { v * d } else { 0 }];
    let shared = Shared {
        cfg,
        corpus,
        keep: keep_thresholds(counts, cfg.sample),
        noise: NoiseTable::new(counts, cfg.noise_power),
        huffman: if cfg.hs {
            Huffman::new(counts)
        } else {
            Huffman::default()
        },
        sigmoid: SigmoidTable::new(),
        syn0: Rows(syn0.as_mut_ptr()),
        syn1neg: Rows(syn1neg.as_mut_ptr()),
        syn1: Rows(syn1.as_mut_ptr()),
        jobs: jobs(corpus),
        words_done: AtomicU64::new(0),
        effective: AtomicU64::new(0),
        epoch_loss: Mutex::new(vec![(0.0, 0); cfg.epochs]),
        running: AtomicUsize::new(cfg.threads),
    };
    let total_words = corpus.ids.len() as u64 * cfg.epochs as u64;
    let started = Instant::now();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..cfg.threads)
            .map(|t| {
                let shared = &shared;
                scope.spawn(move || {
                    let _exit = Exit(&shared.running);
                    match isa {
                        #[cfg(target_arch = "x86_64")]
                        // SAFETY: `Isa::detect` found AVX-512F on this CPU.
                        Isa::Avx512 => unsafe { work_avx512(shared, t) },
                        #[cfg(target_arch = "x86_64")]
                        // SAFETY: as above.
                        Isa::Avx2 => unsafe { work_avx2(shared, t) },
                        _ => work::<Scalar>(shared, t),
                    }
                })
            })
            .collect();
        watch(&shared, total_words, started, quiet);
        workers.into_iter().all(|w| w.join().is_ok())
    })
    .then_some(())
    .ok_or_else(|| Error::Config("a training thread failed".into()))?;
    let seconds = started.elapsed().as_secs_f64();
    let epoch_losses = shared
        .epoch_loss
        .lock()
        .map_err(|_| Error::Config("a training thread failed".into()))?
        .iter()
        .map(|&(sum, n)| if n > 0 { sum / n as f64 } else { f64::NAN })
        .collect();
    let report = TrainReport {
        words: shared.words_done.load(Ordering::Relaxed),
        effective_words: shared.effective.load(Ordering::Relaxed),
        seconds,
        epoch_losses,
        isa,
    };
    drop(shared);
    let vectors = Embeddings::new(corpus.vocab.tokens().to_vec(), d, syn0)?;
    Ok((vectors, report))
}

/// A row-major matrix written by every thread at once.
#[derive(Clone, Copy)]
struct Rows(*mut f32);

// SAFETY: Hogwild by design — threads read and write rows without
// synchronisation; a torn or lost float update perturbs SGD, it cannot make
// memory unsafe because the buffers outlive the scoped threads and every
// index is below vocab × dim.
unsafe impl Sync for Rows {}
// SAFETY: as above.
unsafe impl Send for Rows {}

impl Rows {
    #[inline(always)]
    fn row(self, id: u32, dim: usize) -> *mut f32 {
        // SAFETY: ids come from the vocabulary, so the row is in the buffer.
        unsafe { self.0.add(id as usize * dim) }
    }
}

struct Shared<'a> {
    cfg: &'a TrainConfig,
    corpus: &'a Corpus,
    keep: Vec<u64>,
    noise: NoiseTable,
    huffman: Huffman,
    sigmoid: SigmoidTable,
    syn0: Rows,
    syn1neg: Rows,
    syn1: Rows,
    /// `(first sentence, end sentence)` of every job.
    jobs: Vec<(usize, usize)>,
    words_done: AtomicU64,
    effective: AtomicU64,
    /// Per epoch: loss sum and examples.
    epoch_loss: Mutex<Vec<(f64, u64)>>,
    /// Workers still running.
    running: AtomicUsize,
}

/// Counts a worker out when it ends, panicking or not.
struct Exit<'a>(&'a AtomicUsize);

impl Drop for Exit<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Release);
    }
}

fn jobs(corpus: &Corpus) -> Vec<(usize, usize)> {
    let mut jobs = Vec::new();
    let (mut first, mut start) = (0usize, 0usize);
    for (s, &end) in corpus.sentence_ends.iter().enumerate() {
        if end - start >= JOB_WORDS {
            jobs.push((first, s + 1));
            first = s + 1;
            start = end;
        }
    }
    if first < corpus.sentence_ends.len() {
        jobs.push((first, corpus.sentence_ends.len()));
    }
    jobs
}

/// Progress bar (or one log line per epoch) until the workers finish.
fn watch(shared: &Shared<'_>, total: u64, started: Instant, quiet: bool) {
    let epochs = shared.cfg.epochs;
    let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new(total);
        if let Ok(style) =
            ProgressStyle::with_template("epoch {prefix} [{bar:30}] {percent}% {msg} eta {eta}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    });
    let mut logged = 0usize;
    loop {
        let done = shared.words_done.load(Ordering::Relaxed);
        let finished = shared.running.load(Ordering::Acquire) == 0;
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        let epoch = ((done * epochs as u64) / total.max(1)).min(epochs as u64 - 1) as usize;
        let losses = shared
            .epoch_loss
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default();
        let loss = |e: usize| {
            losses
                .get(e)
                .map_or(f64::NAN, |&(s, n)| s / n.max(1) as f64)
        };
        let alpha = alpha_at(shared.cfg, done as f64 / total.max(1) as f64);
        if let Some(bar) = &bar {
            bar.set_prefix(format!("{}/{epochs}", epoch + 1));
            bar.set_position(done);
            bar.set_message(format!(
                "{:.0} words/s alpha {alpha:.6} loss {:.4}",
                done as f64 / secs,
                loss(epoch)
            ));
        } else if !quiet {
            while logged < epoch || (finished && logged < epochs) {
                eprintln!(
                    "epoch {}/{epochs}: loss {:.4}, {:.0} words/s, alpha {alpha:.6}, {secs:.1} s",
                    logged + 1,
                    loss(logged),
                    done as f64 / secs
                );
                logged += 1;
            }
        }
        if finished {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}

/// The learning rate after `progress` ∈ [0, 1] of all epochs' words.
fn alpha_at(cfg: &TrainConfig, progress: f64) -> f32 {
    let (a, m) = (cfg.start_alpha() as f64, cfg.end_alpha() as f64);
    (a - (a - m) * progress.clamp(0.0, 1.0)).max(m) as f32
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn work_avx512(shared: &Shared<'_>, thread: usize) {
    work::<simd::Avx512>(shared, thread)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn work_avx2(shared: &Shared<'_>, thread: usize) {
    work::<simd::Avx2>(shared, thread)
}

/// One thread's loop over jobs.
#[inline(always)]
fn work<L: Lanes>(shared: &Shared<'_>, thread: usize) {
    let cfg = shared.cfg;
    let total = (shared.corpus.ids.len() * cfg.epochs).max(1) as f64;
    let mut t = Thread {
        rng: ThreadRng::new(cfg.seed, thread),
        neu1: vec![0f32; cfg.dim],
        neu1e: vec![0f32; cfg.dim],
        kept: Vec::with_capacity(JOB_WORDS),
        loss: 0.0,
        examples: 0,
    };
    // Each thread trains its own stretch of the corpus, every epoch, as the
    // C tool's threads each read their own part of the file: threads at
    // distant places in the text update different rows far more often than
    // threads on neighbouring jobs, and fewer Hogwild collisions on the
    // same frequent rows lose fewer updates. (With neighbouring jobs, CBOW
    // on text8 with two threads scored lower than with one; see
    // BENCHMARKS.md.)
    let n_jobs = shared.jobs.len();
    let mine = thread * n_jobs / cfg.threads..(thread + 1) * n_jobs / cfg.threads;
    for (epoch, job) in (0..cfg.epochs).flat_map(|e| mine.clone().map(move |j| (e, j))) {
        let (first, end) = shared.jobs[job];
        let alpha = alpha_at(
            cfg,
            shared.words_done.load(Ordering::Relaxed) as f64 / total,
        );
        let (mut words, mut effective) = (0u64, 0u64);
        for s in first..end {
            let sentence = shared.corpus.sentence(s);
            words += sentence.len() as u64;
            effective += t.train_sentence::<L>(shared, sentence, alpha) as u64;
        }
        shared.words_done.fetch_add(words, Ordering::Relaxed);
        shared.effective.fetch_add(effective, Ordering::Relaxed);
        if let Ok(mut l) = shared.epoch_loss.lock() {
            l[epoch].0 += t.loss;
            l[epoch].1 += t.examples;
        }
        t.loss = 0.0;
        t.examples = 0;
    }
}

/// A thread's buffers and running loss.
struct Thread {
    rng: ThreadRng,
    neu1: Vec<f32>,
    neu1e: Vec<f32>,
    kept: Vec<u32>,
    loss: f64,
    examples: u64,
}

impl Thread {
    /// Subsamples and trains one sentence; returns the words kept.
    #[inline(always)]
    fn train_sentence<L: Lanes>(&mut self, sh: &Shared<'_>, sentence: &[u32], alpha: f32) -> usize {
        self.kept.clear();
        for &w in sentence {
            let keep = sh.keep[w as usize];
            if keep >= 1 << 32 || (self.rng.next_u32() as u64) < keep {
                self.kept.push(w);
            }
        }
        let kept = std::mem::take(&mut self.kept);
        let window = sh.cfg.window;
        for (i, &centre) in kept.iter().enumerate() {
            let reach = self.rng.reach(window);
            let lo = i.saturating_sub(reach);
            let hi = (i + reach + 1).min(kept.len());
            match sh.cfg.architecture {
                Architecture::SkipGram => {
                    for (j, &context) in kept.iter().enumerate().take(hi).skip(lo) {
                        if j != i {
                            let l1 = sh.syn0.row(context, sh.cfg.dim);
                            self.neu1e.fill(0.0);
                            self.targets::<L>(sh, centre, l1, alpha);
                            // SAFETY: `neu1e` and the row hold `dim` floats.
                            unsafe { L::axpy(1.0, self.neu1e.as_ptr(), l1, sh.cfg.dim) };
                        }
                    }
                }
                Architecture::Cbow => {
                    let d = sh.cfg.dim;
                    self.neu1.fill(0.0);
                    let mut cw = 0usize;
                    for (j, &context) in kept.iter().enumerate().take(hi).skip(lo) {
                        if j != i {
                            // SAFETY: rows and `neu1` hold `dim` floats.
                            unsafe {
                                L::axpy(1.0, sh.syn0.row(context, d), self.neu1.as_mut_ptr(), d)
                            };
                            cw += 1;
                        }
                    }
                    if cw == 0 {
                        continue;
                    }
                    let inv = 1.0 / cw as f32;
                    self.neu1.iter_mut().for_each(|x| *x *= inv);
                    self.neu1e.fill(0.0);
                    let l1 = self.neu1.as_mut_ptr();
                    self.targets::<L>(sh, centre, l1, alpha);
                    for (j, &context) in kept.iter().enumerate().take(hi).skip(lo) {
                        if j != i {
                            // SAFETY: as above.
                            unsafe {
                                L::axpy(1.0, self.neu1e.as_ptr(), sh.syn0.row(context, d), d)
                            };
                        }
                    }
                }
            }
        }
        let n = kept.len();
        self.kept = kept;
        n
    }

    /// Trains input `l1` to predict `word`: hierarchical softmax along its
    /// Huffman path and/or negative sampling; the input's gradient is
    /// accumulated in `neu1e`.
    #[inline(always)]
    fn targets<L: Lanes>(&mut self, sh: &Shared<'_>, word: u32, l1: *mut f32, alpha: f32) {
        let d = sh.cfg.dim;
        let e = self.neu1e.as_mut_ptr();
        if sh.cfg.hs {
            let (code, points) = (
                sh.huffman.code(word as usize),
                sh.huffman.points(word as usize),
            );
            for (&c, &p) in code.iter().zip(points) {
                let row = sh.syn1.row(p, d);
                // SAFETY: rows and buffers hold `dim` floats.
                let f = unsafe { L::dot(l1, row, d) };
                // word2vec's codes: branch 0 is the positive class.
                let Some((err, loss)) = sh.sigmoid.gradient(1.0 - c as f32, f) else {
                    continue;
                };
                let g = err * alpha;
                self.loss += loss as f64;
                // SAFETY: as above.
                unsafe { L::update(g, l1, row, e, d) };
            }
        }
        if sh.cfg.negative > 0 {
            for k in 0..=sh.cfg.negative {
                let (target, label) = if k == 0 {
                    (word, 1.0)
                } else {
                    let t = sh.noise.draw(self.rng.next_u64()) as u32;
                    if t == word {
                        continue;
                    }
                    (t, 0.0)
                };
                let row = sh.syn1neg.row(target, d);
                // SAFETY: rows and buffers hold `dim` floats.
                let f = unsafe { L::dot(l1, row, d) };
                let Some((err, loss)) = sh.sigmoid.gradient(label, f) else {
                    continue;
                };
                let g = err * alpha;
                self.loss += loss as f64;
                // SAFETY: as above.
                unsafe { L::update(g, l1, row, e, d) };
            }
        }
        self.examples += 1;
    }
}
