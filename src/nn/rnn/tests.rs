//! One test suite over every cell kind, so the cells cannot drift apart.

use candle_core::{DType, Device, Tensor, Var};
use rand::{SeedableRng, rngs::StdRng};

use super::*;
use crate::nn::ParamStore;

const CELLS: [Cell; 4] = [
    Cell::Rnn(Nonlinearity::Tanh),
    Cell::Rnn(Nonlinearity::Relu),
    Cell::Lstm,
    Cell::Gru,
];

fn config(cell: Cell, layers: usize, bidirectional: bool) -> RnnConfig {
    RnnConfig {
        layers,
        bidirectional,
        ..RnnConfig::new(cell, 3, 4)
    }
}

fn input(b: usize, t: usize, i: usize, seed: u64) -> Result<Tensor> {
    let store = ParamStore::new(seed);
    let init = candle_nn::Init::Randn {
        mean: 0.0,
        stdev: 1.0,
    };
    Ok(store
        .var_builder(DType::F64, &Device::Cpu)
        .get_with_hints((b, t, i), "x", init)?
        .detach())
}

fn build(cfg: &RnnConfig, seed: u64) -> Result<(Rnn, ParamStore)> {
    let store = ParamStore::new(seed);
    let rnn = Rnn::new(cfg, store.var_builder(DType::F64, &Device::Cpu))?;
    Ok((rnn, store))
}

fn max_abs(t: &Tensor) -> Result<f64> {
    if t.elem_count() == 0 {
        return Ok(0.0);
    }
    Ok(t.abs()?.flatten_all()?.max(0)?.to_scalar()?)
}

#[test]
fn shapes_and_parameter_names_follow_pytorch() -> Result<()> {
    for cell in CELLS {
        let cfg = config(cell, 2, true);
        let (rnn, store) = build(&cfg, 1)?;
        let g = cell.gates() * 4;
        let mut want = vec![];
        for (name, shape) in [
            ("bias_hh_l0", vec![g]),
            ("bias_hh_l0_reverse", vec![g]),
            ("bias_hh_l1", vec![g]),
            ("bias_hh_l1_reverse", vec![g]),
            ("bias_ih_l0", vec![g]),
            ("bias_ih_l0_reverse", vec![g]),
            ("bias_ih_l1", vec![g]),
            ("bias_ih_l1_reverse", vec![g]),
            ("weight_hh_l0", vec![g, 4]),
            ("weight_hh_l0_reverse", vec![g, 4]),
            ("weight_hh_l1", vec![g, 4]),
            ("weight_hh_l1_reverse", vec![g, 4]),
            ("weight_ih_l0", vec![g, 3]),
            ("weight_ih_l0_reverse", vec![g, 3]),
            ("weight_ih_l1", vec![g, 8]),
            ("weight_ih_l1_reverse", vec![g, 8]),
        ] {
            want.push((name.to_string(), shape));
        }
        let got: Vec<(String, Vec<usize>)> = store
            .vars()
            .into_iter()
            .map(|(n, v)| (n, v.dims().to_vec()))
            .collect();
        assert_eq!(got, want, "{cell:?}");
        let (out, state) = rnn.forward(&input(2, 5, 3, 9)?, &[5, 2], None, &mut Mode::Eval)?;
        assert_eq!(out.dims(), [2, 5, 8], "{cell:?}");
        assert_eq!(state.h().dims(), [4, 2, 4], "{cell:?}");
        assert_eq!(
            state.c().map(|c| c.dims().to_vec()),
            match cell {
                Cell::Lstm => Some(vec![4, 2, 4]),
                _ => None,
            }
        );
    }
    Ok(())
}

#[test]
fn same_seed_same_init_within_pytorch_bounds() -> Result<()> {
    for cell in CELLS {
        let cfg = config(cell, 1, false);
        let (_, a) = build(&cfg, 3)?;
        let (_, b) = build(&cfg, 3)?;
        let (_, c) = build(&cfg, 4)?;
        let w = |s: &ParamStore| -> Result<Vec<f64>> {
            let v = s.get("weight_hh_l0");
            Ok(v.map(|v| v.flatten_all()?.to_vec1())
                .transpose()?
                .unwrap_or_default())
        };
        assert_eq!(w(&a)?, w(&b)?);
        assert_ne!(w(&a)?, w(&c)?);
        for (name, v) in a.vars() {
            assert!(
                max_abs(v.as_tensor())? <= 0.5,
                "{cell:?} {name} outside ±1/√4"
            );
        }
    }
    Ok(())
}

#[test]
fn packed_semantics_padding_zero_final_state_at_own_length() -> Result<()> {
    let lengths = [5, 2, 4];
    for cell in CELLS {
        let cfg = config(cell, 2, true);
        let (rnn, _) = build(&cfg, 2)?;
        let x = input(3, 5, 3, 8)?;
        let (out, state) = rnn.forward(&x, &lengths, None, &mut Mode::Eval)?;
        let top_fwd = state.h().get(2)?;
        let top_rev = state.h().get(3)?;
        for (b, &len) in lengths.iter().enumerate() {
            let row = out.get(b)?;
            let pad = row.narrow(0, len, 5 - len)?;
            assert_eq!(
                max_abs(&pad)?,
                0.0,
                "{cell:?}: padded outputs of {b} are zero"
            );
            let fwd_last = row.get(len - 1)?.narrow(0, 0, 4)?;
            let diff = (fwd_last - top_fwd.get(b)?)?;
            assert_eq!(
                max_abs(&diff)?,
                0.0,
                "{cell:?}: forward h_n = output at len-1"
            );
            let rev_first = row.get(0)?.narrow(0, 4, 4)?;
            let diff = (rev_first - top_rev.get(b)?)?;
            assert_eq!(max_abs(&diff)?, 0.0, "{cell:?}: reverse h_n = output at 0");
            // A sequence run alone, unpadded, gives the same outputs and state.
            let xb = x.narrow(0, b, 1)?.narrow(1, 0, len)?;
            let (ob, sb) = rnn.forward(&xb, &[len], None, &mut Mode::Eval)?;
            let diff = (ob.get(0)? - row.narrow(0, 0, len)?)?;
            assert!(max_abs(&diff)? < 1e-14, "{cell:?}: batch {b} alone");
            let diff = (sb.h().get(3)?.get(0)? - top_rev.get(b)?)?;
            assert!(
                max_abs(&diff)? < 1e-14,
                "{cell:?}: batch {b} alone, reverse state"
            );
        }
    }
    Ok(())
}

#[test]
fn every_parameter_input_and_initial_state_gets_a_gradient() -> Result<()> {
    for cell in CELLS {
        let cfg = config(cell, 2, true);
        let (rnn, store) = build(&cfg, 5)?;
        let x = Var::from_tensor(&input(3, 4, 3, 6)?)?;
        let h0 = Var::from_tensor(&(State::zeros(&cfg, 3, DType::F64, &Device::Cpu)?.h() + 0.1)?)?;
        let init = match cell {
            Cell::Lstm => State::HC {
                h: h0.as_tensor().clone(),
                c: h0.as_tensor().clone(),
            },
            _ => State::H(h0.as_tensor().clone()),
        };
        let (out, state) = rnn.forward(&x, &[4, 1, 3], Some(&init), &mut Mode::Eval)?;
        let loss = (out.sqr()?.sum_all()? + state.h().sum_all()?)?;
        let grads = loss.backward()?;
        for (name, v) in store.vars() {
            let g = grads.get(v.as_tensor()).map(max_abs).transpose()?;
            assert!(
                g.is_some_and(|g| g > 0.0),
                "{cell:?}: no gradient for {name}"
            );
        }
        for (name, t) in [("input", x.as_tensor()), ("h0", h0.as_tensor())] {
            let g = grads.get(t).map(max_abs).transpose()?;
            assert!(
                g.is_some_and(|g| g > 0.0),
                "{cell:?}: no gradient for {name}"
            );
        }
        // Padded input steps cannot influence anything.
        let gx = grads.get(x.as_tensor()).map(|g| g.get(1)?.narrow(0, 1, 3));
        assert_eq!(max_abs(&gx.transpose()?.unwrap_or(x.zeros_like()?))?, 0.0);
    }
    Ok(())
}

#[test]
fn dropout_between_layers_only_in_training() -> Result<()> {
    for cell in CELLS {
        let x = input(2, 4, 3, 7)?;
        let mut cfg = config(cell, 2, false);
        cfg.dropout = 0.5;
        let (rnn, _) = build(&cfg, 1)?;
        let (a, _) = rnn.forward(&x, &[4, 3], None, &mut Mode::Eval)?;
        let (b, _) = rnn.forward(&x, &[4, 3], None, &mut Mode::Eval)?;
        assert_eq!(
            max_abs(&(&a - &b)?)?,
            0.0,
            "{cell:?}: eval is deterministic"
        );
        let mut rng = StdRng::seed_from_u64(1);
        let (c, _) = rnn.forward(&x, &[4, 3], None, &mut Mode::Train(&mut rng))?;
        assert!(
            max_abs(&(&a - &c)?)? > 0.0,
            "{cell:?}: training drops units"
        );
        let mut rng = StdRng::seed_from_u64(1);
        let (d, _) = rnn.forward(&x, &[4, 3], None, &mut Mode::Train(&mut rng))?;
        assert_eq!(
            max_abs(&(&c - &d)?)?,
            0.0,
            "{cell:?}: same seed, same masks"
        );
        // One layer: nothing between layers, so no dropout even in training.
        cfg.layers = 1;
        let (rnn, _) = build(&cfg, 1)?;
        let (e, _) = rnn.forward(&x, &[4, 3], None, &mut Mode::Eval)?;
        let (f, _) = rnn.forward(&x, &[4, 3], None, &mut Mode::Train(&mut rng))?;
        assert_eq!(
            max_abs(&(&e - &f)?)?,
            0.0,
            "{cell:?}: last layer has no dropout"
        );
    }
    Ok(())
}

#[test]
fn bad_lengths_and_states_are_shape_errors() -> Result<()> {
    let cfg = config(Cell::Lstm, 1, false);
    let (rnn, _) = build(&cfg, 1)?;
    let x = input(2, 3, 3, 1)?;
    for lengths in [&[3][..], &[3, 0], &[3, 4]] {
        let e = rnn.forward(&x, lengths, None, &mut Mode::Eval);
        assert!(matches!(e, Err(Error::Shape(_))), "{lengths:?}");
    }
    let h = Tensor::zeros((1, 2, 4), DType::F64, &Device::Cpu)?;
    let e = rnn.forward(&x, &[3, 3], Some(&State::H(h.clone())), &mut Mode::Eval);
    assert!(
        matches!(e, Err(Error::Shape(_))),
        "LSTM needs a memory cell"
    );
    let bad = State::HC {
        h: Tensor::zeros((2, 2, 4), DType::F64, &Device::Cpu)?,
        c: h,
    };
    let e = rnn.forward(&x, &[3, 3], Some(&bad), &mut Mode::Eval);
    assert!(matches!(e, Err(Error::Shape(_))), "wrong state shape");
    assert!(
        rnn.forward(&input(2, 3, 2, 1)?, &[3, 3], None, &mut Mode::Eval)
            .is_err()
    );
    Ok(())
}

#[test]
fn state_select_reorders_batch_and_config_serializes() -> Result<()> {
    let h = Tensor::arange(0f64, 12.0, &Device::Cpu)?.reshape((2, 3, 2))?;
    let s = State::HC {
        h: h.clone(),
        c: (&h * 2.0)?,
    };
    let idx = Tensor::new(&[2u32, 2, 0], &Device::Cpu)?;
    let picked = s.select(&idx)?;
    assert_eq!(
        picked.h().get(1)?.to_vec2::<f64>()?,
        [[10., 11.], [10., 11.], [6., 7.]]
    );
    let c = picked.c().map(|c| c.get(0)?.to_vec2::<f64>()).transpose()?;
    assert_eq!(c, Some(vec![vec![8., 10.], vec![8., 10.], vec![0., 2.]]));
    let cfg = config(Cell::Rnn(Nonlinearity::Relu), 2, true);
    let json = serde_json::to_string(&cfg).map_err(|e| Error::Config(e.to_string()))?;
    assert!(json.contains(r#""cell":{"rnn":"relu"}"#), "{json}");
    let back: RnnConfig = serde_json::from_str(&json).map_err(|e| Error::Config(e.to_string()))?;
    assert_eq!(back, cfg);
    let lstm: RnnConfig = serde_json::from_str(
        r#"{"cell":"lstm","input":2,"hidden":3,"layers":1,"bidirectional":false,"dropout":0.0}"#,
    )
    .map_err(|e| Error::Config(e.to_string()))?;
    assert_eq!(lstm.cell, Cell::Lstm);
    Ok(())
}

/// The fused op and the reference graph, for every cell: same outputs, final
/// states and gradients (every parameter, the input, the initial state), over
/// stacked, bidirectional, variable-length batches, in f64 and f32.
#[test]
fn fused_kernels_match_the_reference_graph() -> Result<()> {
    // (batch, seq, input, hidden, layers, bidirectional, lengths)
    type Case = (usize, usize, usize, usize, usize, bool, Vec<usize>);
    // Batches up to `gemm::FEW_ROWS` (16) multiply by `W_hh` as stored,
    // larger ones by a transposed copy: both are covered.
    let cases: [Case; 5] = [
        (3, 4, 3, 4, 2, true, vec![4, 1, 3]),
        (5, 7, 6, 9, 1, false, vec![7, 7, 7, 7, 7]),
        (4, 6, 5, 16, 2, true, vec![6, 2, 5, 1]),
        (1, 9, 4, 33, 1, true, vec![9]),
        (
            19,
            5,
            3,
            10,
            1,
            true,
            vec![5, 1, 4, 5, 2, 3, 5, 5, 1, 2, 4, 5, 3, 2, 1, 5, 4, 3, 2],
        ),
    ];
    let few = crate::nn::kernels::gemm::FEW_ROWS;
    assert!(cases.iter().any(|c| c.0 <= few) && cases.iter().any(|c| c.0 > few));
    for (cell, dtype) in CELLS
        .iter()
        .flat_map(|c| [(*c, DType::F64), (*c, DType::F32)])
    {
        let tol = if dtype == DType::F64 { 1e-12 } else { 1e-5 };
        for (b, t, i, h, layers, bidi, lengths) in &cases {
            let cfg = RnnConfig {
                layers: *layers,
                bidirectional: *bidi,
                ..RnnConfig::new(cell, *i, *h)
            };
            let store = ParamStore::new(11);
            let rnn = Rnn::new(&cfg, store.var_builder(dtype, &Device::Cpu))?;
            let x = Var::from_tensor(&input(*b, *t, *i, 3)?.to_dtype(dtype)?)?;
            let h0 = Var::from_tensor(
                &(input(layers * cfg.directions(), *b, *h, 4)?.to_dtype(dtype)? * 0.5)?,
            )?;
            let c0 = Var::from_tensor(
                &(input(layers * cfg.directions(), *b, *h, 5)?.to_dtype(dtype)? * 0.7)?,
            )?;
            let lstm = cell.has_cell_state();
            let run = |kernel: Kernel| -> Result<(Vec<Tensor>, Vec<Tensor>)> {
                let rnn = rnn.clone().with_kernel(kernel);
                let init = match lstm {
                    true => State::HC {
                        h: h0.as_tensor().clone(),
                        c: c0.as_tensor().clone(),
                    },
                    false => State::H(h0.as_tensor().clone()),
                };
                let (out, state) = rnn.forward(&x, lengths, Some(&init), &mut Mode::Eval)?;
                // Weights that differ per position, so every gradient path counts.
                let wo = input(*b, *t, cfg.output_size(), 8)?.to_dtype(dtype)?;
                let mut loss = ((out.clone() * wo)?.sum_all()? + state.h().sqr()?.sum_all()?)?;
                if let Some(c) = state.c() {
                    loss = (loss + (c * 0.3)?.sin()?.sum_all()?)?;
                }
                let grads = loss.backward()?;
                let mut g: Vec<Tensor> = store
                    .vars()
                    .into_iter()
                    .map(|(name, v)| {
                        grads.get(v.as_tensor()).cloned().ok_or_else(|| {
                            Error::Config(format!("{kernel:?}: no gradient for {name}"))
                        })
                    })
                    .collect::<Result<_>>()?;
                let inputs = [x.as_tensor(), h0.as_tensor(), c0.as_tensor()];
                for v in inputs.into_iter().take(if lstm { 3 } else { 2 }) {
                    g.push(
                        grads
                            .get(v)
                            .cloned()
                            .ok_or_else(|| Error::Config("no input gradient".into()))?,
                    );
                }
                let mut values = vec![out, state.h().clone()];
                values.extend(state.c().cloned());
                Ok((values, g))
            };
            let (ref_v, ref_g) = run(Kernel::Reference)?;
            let (fus_v, fus_g) = run(Kernel::Fused)?;
            for (k, (a, f)) in ref_v
                .iter()
                .chain(&ref_g)
                .zip(fus_v.iter().chain(&fus_g))
                .enumerate()
            {
                let scale = max_abs(&a.to_dtype(DType::F64)?)?.max(1.0);
                let diff = max_abs(&(a - f)?.to_dtype(DType::F64)?)?;
                assert!(
                    diff <= tol * scale,
                    "{cell:?} {dtype:?} b={b} t={t} h={h} layers={layers} bidi={bidi} \
                     tensor {k}: {diff}"
                );
            }
        }
    }
    Ok(())
}
