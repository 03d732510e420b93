//! Micro-benchmark of one recurrent layer (issue 7): cell × hidden × batch,
//! length 20, input width = hidden, forward and forward + backward, on the
//! fused kernel and on the candle reference graph, plus the matrix-product
//! ceiling of the same shapes measured in the same run.
//!
//! `cargo bench --bench recurrent [-- --threads N --quick --json --cell C
//! --hidden H --batch B --no-ceiling]` (the last four pick one case and time
//! the layer alone, for profiling). With 2
//! threads attend does what its trainer does: the batch is split into one
//! shard per thread, each shard runs forward and backward on its own core
//! (batch 1 cannot be split and runs on one), and the weight gradients are
//! recorded beside candle's graph ([`GradRecorder`]) and collected. The
//! ceiling is the same layer's products alone, as the layer runs them
//! ([`matmul`], and [`StepProduct`] for the steps, over plain buffers,
//! sharded the same way), so `ceiling %` says how much of the time is
//! anything but matrix products.
//! One JSON object per measurement with `--json` (what `bench/recurrent.sh`
//! compares against PyTorch).

use std::sync::Mutex;
use std::time::Instant;

use attend::nn::products::{Op, StepProduct, matmul};
use attend::nn::record::GradRecorder;
use attend::nn::{Cell, Kernel, Mode, Nonlinearity, ParamStore, Rnn, RnnConfig};
use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var};

const LEN: usize = 20;

struct Args {
    threads: usize,
    quick: bool,
    json: bool,
    reference: bool,
    /// Only this cell (`rnn`, `lstm`, `gru`), for profiling one case.
    cell: Option<String>,
    /// Only this hidden size.
    hidden: Option<usize>,
    /// Only this batch size.
    batch: Option<usize>,
    /// Skip the ceiling (profiling the layer alone).
    no_ceiling: bool,
}

fn args() -> Args {
    let argv: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        argv.iter()
            .position(|a| a == flag)
            .and_then(|i| argv.get(i + 1))
            .and_then(|v| v.parse().ok())
    };
    Args {
        threads: value("--threads").unwrap_or(2),
        quick: argv.iter().any(|a| a == "--quick"),
        json: argv.iter().any(|a| a == "--json"),
        reference: argv.iter().any(|a| a == "--reference"),
        cell: argv
            .iter()
            .position(|a| a == "--cell")
            .and_then(|i| argv.get(i + 1))
            .cloned(),
        hidden: value("--hidden"),
        batch: value("--batch"),
        no_ceiling: argv.iter().any(|a| a == "--no-ceiling"),
    }
}

/// Median seconds of one call of `f`, over repeats of at least ~50 ms each.
fn time(mut f: impl FnMut(), budget: f64) -> f64 {
    f();
    let start = Instant::now();
    f();
    let once = start.elapsed().as_secs_f64().max(1e-7);
    let reps = ((0.05 / once).ceil() as usize).max(1);
    let rounds = ((budget / (once * reps as f64)) as usize).clamp(3, 15);
    let mut samples: Vec<f64> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..reps {
                f();
            }
            start.elapsed().as_secs_f64() / reps as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Batch shards, one per thread, as the trainer splits a batch.
fn shards(batch: usize, threads: usize) -> Vec<usize> {
    let n = threads.min(batch).max(1);
    (0..n)
        .map(|i| batch / n + usize::from(i < batch % n))
        .collect()
}

/// Runs `f(shard index, shard batch)` for every shard, each on its own rayon thread.
fn on_shards(sizes: &[usize], f: &(dyn Fn(usize, usize) + Sync)) {
    rayon::scope(|s| {
        for (i, &b) in sizes.iter().enumerate() {
            s.spawn(move |_| f(i, b));
        }
    });
}

/// FLOPs of the layer's products: forward = input projection + recurrent
/// products; backward = twice that again (input/state gradients and weight
/// gradients).
fn flops(gates: usize, h: usize, b: usize, backward: bool) -> f64 {
    let fwd = 2.0 * (LEN * b * h * gates * h) as f64 * 2.0;
    if backward { 3.0 * fwd } else { fwd }
}

/// The layer's products on plain f32 buffers, one shard of batch `b`.
fn products(gates: usize, h: usize, b: usize, backward: bool, buf: &mut Buffers) {
    let (g, tb) = (gates * h, LEN * b);
    matmul(&mut buf.xw, &buf.x, Op::N, &buf.w, Op::T, tb, h, g, false);
    // The steps' products as the layer runs them: on `W_hh` as stored for
    // a few rows, else on `W_hh` packed once per sequence (its packing counted).
    let w_hh = StepProduct::new(&buf.w, Op::T, h, (h, g), b);
    for s in 0..LEN {
        let hs = &buf.x[s * b * h..(s + 1) * b * h];
        w_hh.apply((&mut buf.step, g), (hs, h), b, true);
    }
    if !backward {
        return;
    }
    let w_hh = StepProduct::new(&buf.w, Op::N, h, (g, h), b);
    for s in 0..LEN {
        let d = &buf.xw[s * b * g..(s + 1) * b * g];
        w_hh.apply((&mut buf.dh, h), (d, g), b, true);
    }
    matmul(&mut buf.dx, &buf.xw, Op::N, &buf.w, Op::N, tb, g, h, false);
    matmul(&mut buf.dw, &buf.xw, Op::T, &buf.x, Op::N, g, tb, h, false);
    matmul(&mut buf.dw, &buf.xw, Op::T, &buf.x, Op::N, g, tb, h, true);
}

struct Buffers {
    x: Vec<f32>,
    w: Vec<f32>,
    xw: Vec<f32>,
    step: Vec<f32>,
    dh: Vec<f32>,
    dx: Vec<f32>,
    dw: Vec<f32>,
}

impl Buffers {
    fn new(gates: usize, h: usize, b: usize) -> Self {
        let g = gates * h;
        let fill = |n: usize| (0..n).map(|i| ((i % 97) as f32) * 1e-3).collect();
        Buffers {
            x: fill(LEN * b * h),
            w: fill(g * h),
            xw: fill(LEN * b * g),
            step: fill(b * g),
            dh: fill(b * h),
            dx: fill(LEN * b * h),
            dw: fill(g * h),
        }
    }
}

/// The layer and its parameters.
fn layer(cell: Cell, h: usize, kernel: Kernel) -> candle_core::Result<(Rnn, Vec<(String, Var)>)> {
    let store = ParamStore::new(7);
    let rnn = Rnn::new(
        &RnnConfig::new(cell, h, h),
        store.var_builder(DType::F32, &Device::Cpu),
    )
    .map(|r| r.with_kernel(kernel))
    .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
    Ok((rnn, store.vars()))
}

/// One forward (and backward) of the layer on a shard of batch `b`: the
/// gradients, with backward.
fn run_layer(rnn: &Rnn, x: &Var, backward: bool) -> Option<GradStore> {
    let b = x.dim(0).unwrap_or(1);
    let lengths = vec![LEN; b];
    let result = rnn
        .forward(x.as_tensor(), &lengths, None, &mut Mode::Eval)
        .map_err(|e| candle_core::Error::Msg(e.to_string()))
        .and_then(|(out, state)| match backward {
            true => Ok(Some((out.sum_all()? + state.h().sum_all()?)?.backward()?)),
            false => Ok(None),
        });
    result.unwrap_or_else(|e| {
        eprintln!("layer failed: {e}");
        std::process::exit(1);
    })
}

fn name(cell: Cell) -> &'static str {
    match cell {
        Cell::Rnn(_) => "rnn",
        Cell::Lstm => "lstm",
        Cell::Gru => "gru",
    }
}

fn main() -> candle_core::Result<()> {
    let a = args();
    // The binary's allocator settings, so the layer runs as it does in training.
    attend::nn::tune_allocator();
    // The harness is also run by `cargo bench` with its own flags (--bench).
    // The binary's thread set-up: candle's intra-op pool pinned to one thread.
    attend::nn::set_threads(a.threads).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
    let cells = [Cell::Rnn(Nonlinearity::Tanh), Cell::Lstm, Cell::Gru];
    let (hiddens, batches): (&[usize], &[usize]) = match a.quick {
        true => (&[256], &[1, 64]),
        false => (&[128, 256, 512], &[1, 16, 64]),
    };
    let budget = if a.quick { 0.3 } else { 0.6 };
    if !a.json {
        println!(
            "{:<5} {:>4} {:>3} {:<8} {:>10} {:>10} {:>9} {:>10}",
            "cell", "H", "B", "pass", "fused ms", "GFLOP/s", "ceiling%", "ref ms"
        );
    }
    for cell in cells {
        if a.cell.as_deref().is_some_and(|c| c != name(cell)) {
            continue;
        }
        let gates = cell.gates();
        for &h in hiddens {
            if a.hidden.is_some_and(|x| x != h) {
                continue;
            }
            let (fused, params) = layer(cell, h, Kernel::Fused)?;
            let (reference, _) = layer(cell, h, Kernel::Reference)?;
            // The weight gradients beside the graph, as the trainer records them.
            let recorder = GradRecorder::start(&params, false);
            for &b in batches {
                if a.batch.is_some_and(|x| x != b) {
                    continue;
                }
                let sizes = shards(b, a.threads);
                let inputs: Vec<Var> = sizes
                    .iter()
                    .map(|&sb| Tensor::randn(0f32, 1.0, (sb, LEN, h), &Device::Cpu))
                    .map(|t| t.and_then(|t| Var::from_tensor(&t)))
                    .collect::<candle_core::Result<_>>()?;
                for backward in [false, true] {
                    let pass = if backward { "fwd+bwd" } else { "fwd" };
                    let run = |rnn: &Rnn| {
                        let inputs = &inputs;
                        let stores: Vec<Mutex<Option<GradStore>>> =
                            sizes.iter().map(|_| Mutex::new(None)).collect();
                        let shard = |i: usize, _| {
                            let grads = run_layer(rnn, &inputs[i], backward);
                            if let Ok(mut slot) = stores[i].lock() {
                                *slot = grads;
                            }
                        };
                        time(
                            || {
                                on_shards(&sizes, &shard);
                                let mut all: Vec<GradStore> = stores
                                    .iter()
                                    .filter_map(|s| s.lock().ok().and_then(|mut s| s.take()))
                                    .collect();
                                if let Err(e) = recorder.collect(&mut all) {
                                    eprintln!("collect failed: {e}");
                                    std::process::exit(1);
                                }
                            },
                            budget,
                        )
                    };
                    let fused_s = run(&fused);
                    let ref_s = match a.reference {
                        true => Some(run(&reference)),
                        false => None,
                    };
                    let bufs: Vec<Mutex<Buffers>> = sizes
                        .iter()
                        .map(|&sb| Mutex::new(Buffers::new(gates, h, sb)))
                        .collect();
                    let ceiling_s = match a.no_ceiling {
                        true => f64::NAN,
                        false => time(
                            || {
                                on_shards(&sizes, &|i, sb| {
                                    if let Ok(mut buf) = bufs[i].lock() {
                                        products(gates, h, sb, backward, &mut buf);
                                    }
                                })
                            },
                            budget,
                        ),
                    };
                    let fl = flops(gates, h, b, backward);
                    let gflops = fl / fused_s / 1e9;
                    let share = 100.0 * ceiling_s / fused_s;
                    if a.json {
                        println!(
                            "{{\"impl\":\"attend\",\"cell\":\"{}\",\"hidden\":{h},\"batch\":{b},\
                             \"len\":{LEN},\"pass\":\"{pass}\",\"threads\":{},\"seconds\":{fused_s:e},\
                             \"gflops\":{gflops:.3},\"ceiling_seconds\":{ceiling_s:e},\
                             \"ceiling_gflops\":{:.3},\"reference_seconds\":{}}}",
                            name(cell),
                            a.threads,
                            fl / ceiling_s / 1e9,
                            ref_s.map_or("null".into(), |s| format!("{s:e}"))
                        );
                    } else {
                        println!(
                            "{:<5} {:>4} {:>3} {:<8} {:>10.3} {:>10.1} {:>9.0} {:>10}",
                            name(cell),
                            h,
                            b,
                            pass,
                            fused_s * 1e3,
                            gflops,
                            share,
                            ref_s.map_or("-".into(), |s| format!("{:.3}", s * 1e3))
                        );
                    }
                }
            }
        }
    }
    Ok(())
}
