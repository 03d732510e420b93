//! One training step of the PyTorch tutorial's seq2seq model (issue 7):
//! GRU 256 encoder, the tutorial's attention decoder (`max_length` 10),
//! vocabularies of 4,345 and 2,803 words, source and target 8 tokens, teacher
//! forcing, dropout 0.1; one step = forward + backward + SGD (lr 0.01).
//! `bench/seq2seq_step.sh` runs `bench/seq2seq_step_torch.py` beside it.
//!
//! `cargo bench --bench seq2seq_step [-- --threads N --json --batch N]`. With 2 threads
//! a batch is split into one shard per thread as attend's trainer does (each
//! shard's forward and backward on its own core, gradients summed); batch 1
//! runs on one.

use std::time::Instant;

use attend::data::{PairBatch, PairSpecials};
use attend::nn::record::GradRecorder;
use attend::nn::{Mode, ParamStore};
use attend::seq2seq::{Seq2Seq, Seq2SeqConfig};
use attend::train::{Optimizer, Sgd, SgdConfig, batch_gradients};
use candle_core::backprop::GradStore;
use candle_core::{DType, Device};
use rand::{Rng, SeedableRng, rngs::StdRng};
use rayon::prelude::*;

const LEN: usize = 8;
const SP: PairSpecials = PairSpecials {
    pad: 2,
    sos: 0,
    eos: 1,
};

fn config() -> Seq2SeqConfig {
    Seq2SeqConfig::tutorial(4345, 2803, 256, 10)
}

/// Random pairs of exactly `LEN` tokens each side (source ends in `<eos>`;
/// the target's `<eos>` is appended by the batch, so it holds `LEN − 1` words).
fn batch(b: usize, rng: &mut StdRng) -> attend::Result<PairBatch> {
    let words = |n: usize, v: u32, rng: &mut StdRng| -> Vec<u32> {
        (0..n).map(|_| rng.random_range(3..v)).collect()
    };
    let src: Vec<Vec<u32>> = (0..b)
        .map(|_| {
            let mut s = words(LEN - 1, 4345, rng);
            s.push(SP.eos);
            s
        })
        .collect();
    let tgt: Vec<Vec<u32>> = (0..b).map(|_| words(LEN - 1, 2803, rng)).collect();
    PairBatch::new(&src, &tgt, &SP, &Device::Cpu)
}

fn main() -> attend::Result<()> {
    attend::nn::tune_allocator();
    let argv: Vec<String> = std::env::args().collect();
    let threads = argv
        .iter()
        .position(|a| a == "--threads")
        .and_then(|i| argv.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(2usize);
    let json = argv.iter().any(|a| a == "--json");
    // `--batch N` times one batch size only (for profiling).
    let only: Option<usize> = argv
        .iter()
        .position(|a| a == "--batch")
        .and_then(|i| argv.get(i + 1))
        .and_then(|v| v.parse().ok());
    // The binary's thread set-up: candle's intra-op pool pinned to one thread.
    attend::nn::set_threads(threads)?;
    let cfg = config();
    for b in [1usize, 64]
        .into_iter()
        .filter(|b| only.is_none_or(|o| o == *b))
    {
        let store = ParamStore::new(1);
        let model = Seq2Seq::new(&cfg, store.var_builder(DType::F32, &Device::Cpu))?;
        let vars = store.vars();
        let mut sgd = Sgd::new(
            &SgdConfig {
                lr: 0.01,
                ..SgdConfig::default()
            },
            vars.clone(),
        )?;
        // Weight gradients beside the graph and embedding tables as row
        // gradients, as the trainer records them for plain SGD.
        let recorder = GradRecorder::start(&vars, sgd.takes_rows());
        let mut rng = StdRng::seed_from_u64(3);
        let n = threads.min(b);
        let shards: Vec<PairBatch> = (0..n)
            .map(|i| batch(b / n + usize::from(i < b % n), &mut rng))
            .collect::<attend::Result<_>>()?;
        let mut step = || -> attend::Result<()> {
            // Rayon tasks, as the trainer: candle's element-wise kernels run on
            // the global pool, and from plain threads the shards serialise.
            let grads: Vec<attend::Result<GradStore>> = shards
                .par_iter()
                .enumerate()
                .map(|(i, shard)| {
                    let mut r = StdRng::seed_from_u64(i as u64);
                    let loss = model.loss(shard, 1.0, 0.0, &mut Mode::Train(&mut r))?;
                    // Shards' mean losses weighted by their share of the batch.
                    let w = shard.src.dim(0)? as f64 / b as f64;
                    Ok((loss * w)?.backward()?)
                })
                .collect();
            let grads = grads.into_iter().collect::<attend::Result<Vec<_>>>()?;
            let (total, rows) = batch_gradients(grads, &vars, Some(&recorder))?;
            sgd.step(&total)?;
            sgd.step_rows(&rows)
        };
        for _ in 0..3 {
            step()?;
        }
        let steps = if b == 1 { 300 } else { 40 };
        let start = Instant::now();
        for _ in 0..steps {
            step()?;
        }
        let per_s = steps as f64 / start.elapsed().as_secs_f64();
        if json {
            println!(
                "{{\"impl\":\"attend\",\"batch\":{b},\"threads\":{threads},\"steps_per_second\":{per_s:.3}}}"
            );
        } else {
            println!("batch {b:>2}, {threads} threads: {per_s:.1} steps/s");
        }
    }
    Ok(())
}
