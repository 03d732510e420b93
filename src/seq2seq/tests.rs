//! Properties every decoder kind and cell must have, run over all of them.

use candle_core::{DType, Device, Tensor};
use rand::{SeedableRng, rngs::StdRng};

use super::*;
use crate::Result;
use crate::data::{PairBatch, PairSpecials};
use crate::decode::{GreedyConfig, LengthLimit, Specials, StepDecoder, greedy};
use crate::nn::{Cell, Mode, Nonlinearity, ParamStore};

const SP: PairSpecials = PairSpecials {
    pad: 0,
    sos: 2,
    eos: 3,
};
const KINDS: [DecoderKind; 5] = [
    DecoderKind::None,
    DecoderKind::Additive,
    DecoderKind::Dot,
    DecoderKind::General,
    DecoderKind::Tutorial,
];

fn src() -> Vec<Vec<u32>> {
    vec![vec![4, 5, 6, 7, 3], vec![8, 3], vec![9, 10, 3]]
}

fn tgt() -> Vec<Vec<u32>> {
    vec![vec![4, 5, 6], vec![7, 8, 9, 10], vec![11]]
}

fn cfg(kind: DecoderKind, cell: Cell, bidirectional: bool, layers: usize) -> Seq2SeqConfig {
    let tutorial = kind == DecoderKind::Tutorial;
    Seq2SeqConfig {
        src_vocab: 11,
        tgt_vocab: 13,
        embed: if tutorial { 8 } else { 6 },
        hidden: 8,
        cell,
        layers,
        bidirectional: bidirectional && !tutorial,
        dropout: 0.2,
        out_dropout: 0.1,
        decoder: kind,
        feed_context: kind == DecoderKind::None,
        input_feeding: true,
        max_length: tutorial.then_some(7),
        tie_embeddings: false,
        share_embeddings: false,
        pad_id: Some(0),
    }
}

fn build(cfg: &Seq2SeqConfig, dtype: DType) -> Result<(Seq2Seq, ParamStore)> {
    let store = ParamStore::new(5);
    let model = Seq2Seq::new(cfg, store.var_builder(dtype, &Device::Cpu))?;
    Ok((model, store))
}

fn batch(src: &[Vec<u32>], tgt: &[Vec<u32>]) -> Result<PairBatch> {
    PairBatch::new(src, tgt, &SP, &Device::Cpu)
}

/// The gradient of every parameter of `store` not `skip`ped, with its
/// name; a parameter without one fails the test.
fn named_grads(
    store: &ParamStore,
    grads: &candle_core::backprop::GradStore,
    skip: impl Fn(&str) -> bool,
) -> Vec<(String, Tensor)> {
    store
        .vars()
        .into_iter()
        .filter(|(name, _)| !skip(name))
        .map(|(name, v)| match grads.get(v.as_tensor()) {
            Some(g) => (name, g.clone()),
            None => panic!("no gradient for {name}"),
        })
        .collect()
}

/// Every combination the shared tests run over.
fn variants() -> Vec<Seq2SeqConfig> {
    let mut out = Vec::new();
    for kind in KINDS {
        for cell in [Cell::Gru, Cell::Lstm, Cell::Rnn(Nonlinearity::Tanh)] {
            for (bidi, layers) in [(false, 1), (true, 2)] {
                out.push(cfg(kind, cell, bidi, layers));
            }
        }
    }
    for kind in [DecoderKind::Dot, DecoderKind::General] {
        for (bidi, layers) in [(false, 1), (true, 2)] {
            out.push(Seq2SeqConfig {
                input_feeding: false,
                ..cfg(kind, Cell::Gru, bidi, layers)
            });
        }
    }
    out.push(Seq2SeqConfig {
        feed_context: false,
        ..cfg(DecoderKind::None, Cell::Lstm, false, 1)
    });
    out
}

/// Teacher forcing through the decoder's all-steps path equals the same
/// steps taken one at a time through the `StepDecoder` API (eval mode, f64).
#[test]
fn all_steps_at_once_equal_step_by_step() -> Result<()> {
    let b = batch(&src(), &tgt())?;
    let mut parallel = 0;
    for c in variants() {
        let (model, _) = build(&c, DType::F64)?;
        let memory = model.encode(&b.src, &b.src_lengths, &mut Mode::Eval)?;
        let emb = model.decoder().embed(&b.tgt_in, &mut Mode::Eval)?;
        let Some(hidden) = model.decoder().advance_all(&emb, &memory, &mut Mode::Eval) else {
            continue;
        };
        parallel += 1;
        let all = model.decoder().project(&hidden?, &mut Mode::Eval)?;
        let mut state = model.start(&memory)?;
        let gold = b.tgt_in.t()?.contiguous()?;
        for i in 0..gold.dim(0)? {
            let step = model.step(&gold.get(i)?, &state, &memory)?;
            let diff = (step.log_probs - all.narrow(1, i, 1)?.squeeze(1)?)?
                .abs()?
                .max_all()?
                .to_scalar::<f64>()?;
            assert!(diff < 1e-12, "{c:?} step {i}: {diff}");
            state = step.state;
        }
    }
    // none ×7 (feed_context or not), dot/general without input feeding ×4,
    // the one-layer tutorial decoder (its fused op) ×3.
    assert_eq!(parallel, 14);
    Ok(())
}

/// The tutorial decoder's fused op over all teacher-forced steps equals the
/// step-by-step graph it replaces, on values and on the gradient of every
/// parameter (encoder included, through the slots and the initial state),
/// for every cell; f64 to 1e-10 and f32 to 1e-5 relative, with few rows
/// and with more than the packed products' threshold.
#[test]
fn fused_tutorial_decoder_equals_the_step_by_step_graph() -> Result<()> {
    use crate::nn::kernels::gemm::FEW_ROWS;
    let cells = [
        Cell::Gru,
        Cell::Lstm,
        Cell::Rnn(Nonlinearity::Tanh),
        Cell::Rnn(Nonlinearity::Relu),
    ];
    let many = FEW_ROWS + 4;
    // Rows of varied lengths, the source within the 7 slots.
    let rows = |n: usize| -> (Vec<Vec<u32>>, Vec<Vec<u32>>) {
        let s = (0..n)
            .map(|r| {
                (0..1 + r % 6)
                    .map(|j| 4 + ((r + j) % 7) as u32)
                    .chain([3])
                    .collect()
            })
            .collect();
        let t = (0..n)
            .map(|r| {
                (0..1 + r % 5)
                    .map(|j| 4 + ((2 * r + j) % 9) as u32)
                    .collect()
            })
            .collect();
        (s, t)
    };
    for (dtype, n, tol) in [
        (DType::F64, 3, 1e-10),
        (DType::F64, many, 1e-10),
        (DType::F32, many, 1e-5),
    ] {
        let (s, t) = rows(n);
        let b = batch(&s, &t)?;
        for cell in cells {
            let c = cfg(DecoderKind::Tutorial, cell, false, 1);
            let (model, store) = build(&c, dtype)?;
            let dec = model.decoder();
            let run = |fused: bool| -> Result<(Tensor, Vec<(String, Tensor)>)> {
                let mut rng = StdRng::seed_from_u64(8);
                let mode = &mut Mode::Train(&mut rng);
                let memory = model.encode(&b.src, &b.src_lengths, mode)?;
                let emb = dec.embed(&b.tgt_in, mode)?;
                let hidden = match fused {
                    true => match dec.advance_all(&emb, &memory, mode) {
                        Some(h) => h?,
                        None => panic!("{cell:?}: no fused path"),
                    },
                    false => {
                        let mut state = dec.start(&memory)?;
                        let mut hs = Vec::new();
                        for i in 0..emb.dim(1)? {
                            let e = emb.narrow(1, i, 1)?.squeeze(1)?;
                            let step = dec.advance(&e, &state, &memory, mode)?;
                            hs.push(step.hidden);
                            state = step.state;
                        }
                        Tensor::stack(&hs, 1)?
                    }
                };
                // A loss that weighs every output differently.
                let n = hidden.elem_count();
                let w = Tensor::arange(0f64, n as f64, &Device::Cpu)?
                    .affine(0.37, 0.0)?
                    .sin()?
                    .to_dtype(dtype)?
                    .reshape(hidden.shape())?;
                let grads = (&hidden * &w)?.sum_all()?.backward()?;
                // Every parameter up to the output layer, which this loss skips.
                let skip = |name: &str| name.starts_with("decoder.out.");
                Ok((hidden, named_grads(&store, &grads, skip)))
            };
            let (hf, gf) = run(true)?;
            let (hr, gr) = run(false)?;
            let rel = |a: &Tensor, r: &Tensor| -> Result<f64> {
                let (a, r) = (a.to_dtype(DType::F64)?, r.to_dtype(DType::F64)?);
                let scale = r.abs()?.max_all()?.to_scalar::<f64>()?.max(1e-30);
                Ok((a - r)?.abs()?.max_all()?.to_scalar::<f64>()? / scale)
            };
            let d = rel(&hf, &hr)?;
            assert!(
                d < tol,
                "{cell:?} {dtype:?} {n} rows: outputs differ by {d}"
            );
            assert_eq!(gf.len(), gr.len());
            for ((name, a), (_, r)) in gf.iter().zip(&gr) {
                let d = rel(a, r)?;
                assert!(
                    d < tol,
                    "{cell:?} {dtype:?} {n} rows: {name} differs by {d}"
                );
            }
        }
    }
    Ok(())
}

#[test]
fn shapes_for_every_kind_and_cell() -> Result<()> {
    let b = batch(&src(), &tgt())?;
    for c in variants() {
        let (model, _) = build(&c, DType::F32)?;
        let lp = model.forward_teacher(&b, 1.0, &mut Mode::Eval)?;
        assert_eq!(lp.dims(), [3, 5, 13], "{c:?}");
        let memory = model.encode(&b.src, &b.src_lengths, &mut Mode::Eval)?;
        let slots = if c.decoder == DecoderKind::Tutorial {
            7
        } else {
            5
        };
        assert_eq!(memory.values.dim(1)?, slots);
        let state = model.start(&memory)?;
        assert_eq!(state.rnn.h().dims(), [c.layers, 3, 8]);
        let step = model.step(&Tensor::new(&[2u32, 2, 2], &Device::Cpu)?, &state, &memory)?;
        assert_eq!(step.log_probs.dims(), [3, 13]);
        let att = step.attention.map(|a| a.dims().to_vec());
        assert_eq!(att, c.decoder.attends().then(|| vec![3, slots]), "{c:?}");
        // Probabilities: each row of exp(log_probs) sums to 1.
        let sums: Vec<f32> = step.log_probs.exp()?.sum(1)?.to_vec1()?;
        assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-5), "{sums:?}");
    }
    Ok(())
}

#[test]
fn padding_never_changes_a_sentence() -> Result<()> {
    let (s, t) = (src(), tgt());
    let full = batch(&s, &t)?;
    for c in variants() {
        let (model, _) = build(&c, DType::F64)?;
        let lp = model.forward_teacher(&full, 1.0, &mut Mode::Eval)?;
        let memory = model.encode(&full.src, &full.src_lengths, &mut Mode::Eval)?;
        let limit = GreedyConfig {
            specials: Specials { sos: 2, eos: 3 },
            limit: LengthLimit::default(),
        };
        let together = greedy(&model, &memory, &full.src_lengths, &limit)?;
        for row in 0..s.len() {
            let one = batch(&s[row..=row], &t[row..=row])?;
            let alone = model.forward_teacher(&one, 1.0, &mut Mode::Eval)?;
            let n = t[row].len() + 1;
            let a = alone.get(0)?.narrow(0, 0, n)?;
            let b = lp.get(row)?.narrow(0, 0, n)?;
            let diff = (a - b)?.abs()?.max_all()?.to_scalar::<f64>()?;
            assert!(diff < 1e-10, "{c:?} row {row}: {diff}");
            let mem = model.encode(&one.src, &one.src_lengths, &mut Mode::Eval)?;
            let h = greedy(&model, &mem, &one.src_lengths, &limit)?;
            assert_eq!(h[0].tokens, together[row].tokens, "{c:?} row {row}");
            for (x, y) in h[0].attention.iter().zip(&together[row].attention) {
                let width = x.len();
                assert!(x.iter().zip(&y[..width]).all(|(p, q)| (p - q).abs() < 1e-6));
                assert!(
                    y[width..].iter().all(|w| *w == 0.0),
                    "padding gets attention"
                );
            }
        }
    }
    Ok(())
}

#[test]
fn every_parameter_gets_a_gradient() -> Result<()> {
    let b = batch(&src(), &tgt())?;
    let mut configs = variants();
    configs.push(Seq2SeqConfig {
        tie_embeddings: true,
        embed: 8,
        ..cfg(DecoderKind::Dot, Cell::Gru, true, 1)
    });
    for c in configs {
        let (model, store) = build(&c, DType::F32)?;
        for r in [1.0, 0.5] {
            let mut rng = StdRng::seed_from_u64(3);
            let loss = model.loss(&b, r, 0.1, &mut Mode::Train(&mut rng))?;
            let grads = loss.backward()?;
            for (name, var) in store.vars() {
                let g = grads.get(var.as_tensor());
                let norm = match g {
                    Some(g) => g.abs()?.sum_all()?.to_scalar::<f32>()?,
                    None => 0.0,
                };
                assert!(norm > 0.0, "{c:?} r={r}: no gradient for {name}");
            }
        }
        let names: Vec<String> = store.vars().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names.contains(&"decoder.out.weight".to_string()),
            !c.tie_embeddings
        );
        let want_bridge = c.bidirectional;
        assert_eq!(names.iter().any(|n| n.starts_with("bridge.")), want_bridge);
    }
    Ok(())
}

#[test]
fn teacher_forcing_ratio_matters_and_full_forcing_is_deterministic() -> Result<()> {
    let b = batch(&src(), &tgt())?;
    for kind in KINDS {
        let (model, _) = build(&cfg(kind, Cell::Gru, false, 1), DType::F32)?;
        let run = |r: f64, seed: u64| -> Result<Vec<f32>> {
            let mut rng = StdRng::seed_from_u64(seed);
            let lp = model.forward_teacher(&b, r, &mut Mode::Train(&mut rng))?;
            Ok(lp.flatten_all()?.to_vec1()?)
        };
        assert_eq!(run(1.0, 1)?, run(1.0, 1)?, "{kind:?}");
        assert_ne!(run(0.0, 1)?, run(1.0, 1)?, "{kind:?}");
        assert_eq!(run(0.5, 9)?, run(0.5, 9)?, "{kind:?}: seeded coins");
        let eval = |r| model.forward_teacher(&b, r, &mut Mode::Eval);
        assert!(eval(0.5).is_err(), "coins need the training RNG");
        assert!(eval(0.0).is_ok() && eval(1.0).is_ok());
        assert!(eval(1.5).is_err());
    }
    Ok(())
}

#[test]
fn tutorial_source_longer_than_its_slots_is_an_error() -> Result<()> {
    let (model, _) = build(&cfg(DecoderKind::Tutorial, Cell::Gru, false, 1), DType::F32)?;
    let long = batch(&[vec![4; 8]], &[vec![4]])?;
    assert!(model.forward_teacher(&long, 1.0, &mut Mode::Eval).is_err());
    Ok(())
}

#[test]
fn masked_loss_ignores_padding() -> Result<()> {
    let logits = Tensor::arange(0f32, 12.0, &Device::Cpu)?.reshape((1, 2, 6))?;
    let lp = candle_nn::ops::log_softmax(&logits, candle_core::D::Minus1)?;
    let targets = Tensor::new(&[[1u32, 0]], &Device::Cpu)?;
    let one = masked_loss(
        &lp,
        &targets,
        &Tensor::new(&[[1f32, 0.0]], &Device::Cpu)?,
        0.0,
    )?;
    let want = lp.get(0)?.get(0)?.get(1)?.neg()?;
    assert_eq!(one.to_scalar::<f32>()?, want.to_scalar::<f32>()?);
    Ok(())
}

/// The fused loss (logits → softmax cross-entropy kernel) equals
/// `log_softmax` + `masked_loss`, values and every gradient, in training mode
/// (same dropout masks: both draw them in the same order).
#[test]
fn fused_loss_equals_the_reference_loss() -> Result<()> {
    use crate::nn::Kernel;
    let b = batch(&src(), &tgt())?;
    for c in [
        cfg(DecoderKind::Additive, Cell::Gru, true, 2),
        Seq2SeqConfig {
            input_feeding: false,
            ..cfg(DecoderKind::General, Cell::Lstm, false, 1)
        },
    ] {
        let (model, store) = build(&c, DType::F64)?;
        let run = |kernel: Kernel| -> Result<(f64, Vec<Tensor>)> {
            let m = model.clone().with_kernel(kernel);
            let mut rng = StdRng::seed_from_u64(4);
            let loss = m.loss(&b, 1.0, 0.1, &mut Mode::Train(&mut rng))?;
            let grads = loss.backward()?;
            let g = store
                .vars()
                .into_iter()
                .filter_map(|(_, v)| grads.get(v.as_tensor()).cloned())
                .collect();
            Ok((loss.to_scalar::<f64>()?, g))
        };
        let (lf, gf) = run(Kernel::Fused)?;
        let (lr, gr) = run(Kernel::Reference)?;
        assert!((lf - lr).abs() < 1e-12, "{c:?}: {lf} vs {lr}");
        assert_eq!(gf.len(), gr.len());
        assert_eq!(gf.len(), store.vars().len());
        for (a, r) in gf.iter().zip(&gr) {
            let d = (a - r)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f64>()?;
            assert!(d < 1e-12, "{c:?}: gradient differs by {d}");
        }
    }
    Ok(())
}

/// Scheduled sampling's loss (each step's own token from its logits
/// outside the graph, then one output layer + loss op over all steps)
/// equals the masked NLL of `forward_teacher`'s log-probabilities, on the
/// value and every gradient, in training mode for every decoder (the same
/// coins and dropout masks: both draw them in the same order), and free
/// running in eval mode.
#[test]
fn sampled_loss_equals_the_log_prob_loss() -> Result<()> {
    let b = batch(&src(), &tgt())?;
    for c in variants() {
        let (model, store) = build(&c, DType::F64)?;
        for ratio in [0.5, 0.0] {
            let run = |fused: bool| -> Result<(f64, Vec<(String, Tensor)>)> {
                let mut rng = StdRng::seed_from_u64(6);
                let mut train = Mode::Train(&mut rng);
                let mode = match ratio > 0.0 {
                    true => &mut train,
                    false => &mut Mode::Eval,
                };
                let loss = match fused {
                    true => model.loss(&b, ratio, 0.1, mode)?,
                    false => {
                        let lp = model.forward_teacher(&b, ratio, mode)?;
                        masked_loss(&lp, &b.tgt_out, &b.tgt_mask, 0.1)?
                    }
                };
                let grads = loss.backward()?;
                Ok((
                    loss.to_scalar::<f64>()?,
                    named_grads(&store, &grads, |_| false),
                ))
            };
            let (lf, gf) = run(true)?;
            let (lr, gr) = run(false)?;
            assert!((lf - lr).abs() < 1e-10, "{c:?} {ratio}: {lf} vs {lr}");
            for ((name, a), (_, r)) in gf.iter().zip(&gr) {
                let d = (a - r)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f64>()?;
                assert!(d < 1e-10, "{c:?} {ratio}: {name} differs by {d}");
            }
        }
    }
    Ok(())
}

/// The model rebuilt for validation over the same store scores like the
/// trainable one (its log-probabilities through the host kernel), records
/// no graph, and follows the store's updates when rebuilt.
#[test]
fn inference_twin_scores_alike_without_a_graph() -> Result<()> {
    use crate::nn::Rebuild;
    for kind in [DecoderKind::Additive, DecoderKind::General] {
        let (model, store) = build(&cfg(kind, Cell::Gru, true, 1), DType::F64)?;
        let b = batch(&src(), &tgt())?;
        let trained = model.forward_teacher(&b, 1.0, &mut Mode::Eval)?;
        assert!(trained.track_op());
        let twin = model.for_inference(&store)?;
        let lp = twin.forward_teacher(&b, 1.0, &mut Mode::Eval)?;
        assert!(!lp.track_op(), "{kind:?}: the twin recorded a graph");
        let d: f64 = (lp - &trained)?.abs()?.flatten_all()?.max(0)?.to_scalar()?;
        assert!(d < 1e-12, "{kind:?}: {d}");
        for (_, v) in store.vars() {
            v.set(&v.as_tensor().affine(0.5, 0.0)?)?;
        }
        let moved = model
            .for_inference(&store)?
            .forward_teacher(&b, 1.0, &mut Mode::Eval)?;
        let d: f64 = (moved - &trained)?
            .abs()?
            .flatten_all()?
            .max(0)?
            .to_scalar()?;
        assert!(d > 1e-3, "{kind:?}: the rebuilt twin missed the update");
    }
    Ok(())
}

/// The fused host step against the graph step, over a few steps of a batch
/// fed its gold tokens (rows of different source lengths, so Luong's mask
/// matters): log-probabilities, attention rows and states (input feeding's
/// `h̃` included) agree to f32 rounding, for the tutorial decoder, Luong
/// dot/general with and without input feeding (dot over a bidirectional
/// encoder, through its key projection) and Bahdanau additive, GRU, LSTM and
/// Elman cells, one and two layers. Only the constant f32 twin takes it; the
/// trainable model and the decoder without attention keep the graph.
#[test]
fn fused_step_matches_the_graph_step() -> Result<()> {
    use crate::nn::Rebuild;
    let b = batch(&src(), &tgt())?;
    let plain = |kind, cell, bidi, layers| Seq2SeqConfig {
        input_feeding: false,
        ..cfg(kind, cell, bidi, layers)
    };
    let graph_only = [
        cfg(DecoderKind::None, Cell::Gru, false, 1),
        plain(DecoderKind::None, Cell::Lstm, true, 2),
    ];
    for c in graph_only {
        let (model, store) = build(&c, DType::F32)?;
        assert!(
            model
                .for_inference(&store)?
                .decoder()
                .fused_step()
                .is_none(),
            "{c:?}"
        );
    }
    for c in [
        cfg(DecoderKind::Tutorial, Cell::Gru, false, 1),
        cfg(DecoderKind::Tutorial, Cell::Lstm, false, 2),
        plain(DecoderKind::General, Cell::Gru, false, 1),
        plain(DecoderKind::General, Cell::Lstm, true, 2),
        plain(DecoderKind::Dot, Cell::Gru, true, 1),
        plain(DecoderKind::Dot, Cell::Rnn(Nonlinearity::Tanh), false, 2),
        cfg(DecoderKind::General, Cell::Gru, false, 1),
        cfg(DecoderKind::Dot, Cell::Lstm, true, 2),
        cfg(DecoderKind::Additive, Cell::Gru, false, 1),
        cfg(DecoderKind::Additive, Cell::Lstm, true, 2),
        plain(
            DecoderKind::Additive,
            Cell::Rnn(Nonlinearity::Tanh),
            true,
            1,
        ),
    ] {
        let (model, store) = build(&c, DType::F32)?;
        assert!(model.decoder().fused_step().is_none(), "trainable weights");
        let twin = model.for_inference(&store)?;
        assert!(twin.decoder().fused_step().is_some(), "{c:?}");
        let memory = model.encode(&b.src, &b.src_lengths, &mut Mode::Eval)?;
        let twin_memory = twin.encode(&b.src, &b.src_lengths, &mut Mode::Eval)?;
        let (mut graph, mut fused) = (model.start(&memory)?, twin.start(&twin_memory)?);
        let gold = b.tgt_in.t()?.contiguous()?;
        let max = |a: &Tensor, b: &Tensor| -> Result<f32> {
            Ok((a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?)
        };
        for i in 0..gold.dim(0)? {
            let want = model.step(&gold.get(i)?, &graph, &memory)?;
            let got = twin.step(&gold.get(i)?, &fused, &twin_memory)?;
            let kind = c.decoder;
            assert!(
                max(&got.log_probs, &want.log_probs)? < 1e-5,
                "{kind:?} step {i}"
            );
            let (Some(ga), Some(wa)) = (got.attention.as_ref(), want.attention.as_ref()) else {
                panic!("{kind:?} step {i}: attention missing");
            };
            assert!(max(ga, wa)? < 1e-6, "{kind:?} step {i}");
            assert!(
                max(got.state.rnn.h(), want.state.rnn.h())? < 1e-6,
                "{kind:?} step {i}"
            );
            match (got.state.rnn.c(), want.state.rnn.c()) {
                (Some(a), Some(b)) => assert!(max(a, b)? < 1e-6, "{kind:?} step {i}"),
                (None, None) => {}
                _ => panic!("{kind:?} step {i}: memory cells differ in kind"),
            }
            match (got.state.feed.as_ref(), want.state.feed.as_ref()) {
                (Some(a), Some(b)) => assert!(max(a, b)? < 1e-6, "{kind:?} step {i}"),
                (None, None) => assert!(
                    !c.input_feeding || !matches!(kind, DecoderKind::Dot | DecoderKind::General)
                ),
                _ => panic!("{kind:?} step {i}: input feeding differs"),
            }
            (graph, fused) = (want.state, got.state);
        }
    }
    Ok(())
}

#[test]
fn shared_embeddings_are_one_matrix_read_by_both_sides() -> Result<()> {
    let b = batch(&src(), &tgt())?;
    let base = Seq2SeqConfig {
        src_vocab: 13,
        embed: 8,
        ..cfg(DecoderKind::General, Cell::Gru, true, 1)
    };
    let shared_cfg = Seq2SeqConfig {
        share_embeddings: true,
        tie_embeddings: true,
        ..base.clone()
    };
    let (shared, store) = build(&shared_cfg, DType::F32)?;
    let names: Vec<String> = store.vars().into_iter().map(|(n, _)| n).collect();
    assert!(
        !names.iter().any(|n| n == "encoder.embedding.weight"),
        "{names:?}"
    );
    // The same model with two matrices holding the same values computes the
    // same loss, and the shared matrix's gradient is the sum of theirs.
    let mut tensors = store.tensors();
    let table = tensors["decoder.embedding.weight"].copy()?;
    tensors.insert("encoder.embedding.weight".into(), table);
    let two = ParamStore::from_tensors(5, tensors)?;
    let split = Seq2Seq::new(
        &Seq2SeqConfig {
            share_embeddings: false,
            ..shared_cfg.clone()
        },
        two.var_builder(DType::F32, &Device::Cpu),
    )?;
    let loss = |m: &Seq2Seq| m.loss(&b, 1.0, 0.0, &mut Mode::Eval);
    let (l1, l2) = (loss(&shared)?, loss(&split)?);
    let (v1, v2) = (l1.to_scalar::<f32>()?, l2.to_scalar::<f32>()?);
    assert!((v1 - v2).abs() < 1e-6, "{v1} vs {v2}");
    let g1 = l1.backward()?;
    let g2 = l2.backward()?;
    let grad = |g: &candle_core::backprop::GradStore, s: &ParamStore, n: &str| {
        s.get(n)
            .and_then(|v| g.get(v.as_tensor()).cloned())
            .ok_or_else(|| crate::Error::Config(format!("no gradient for {n}")))
    };
    let sum = (grad(&g2, &two, "encoder.embedding.weight")?
        + grad(&g2, &two, "decoder.embedding.weight")?)?;
    let diff = (grad(&g1, &store, "decoder.embedding.weight")? - sum)?
        .abs()?
        .max_all()?
        .to_scalar::<f32>()?;
    assert!(diff < 1e-5, "gradients differ by {diff}");
    let unequal = Seq2SeqConfig {
        src_vocab: 11,
        ..shared_cfg
    };
    assert!(unequal.validate().is_err());
    Ok(())
}
