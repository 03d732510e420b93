//! Properties every attention form must have, run over all of them.

use candle_core::{DType, Device, Tensor, Var};

use super::*;
use crate::nn::ParamStore;

const B: usize = 3;
const S: usize = 5;
const H: usize = 4;
const LENGTHS: [usize; B] = [5, 2, 3];

fn mask(lengths: &[usize], s: usize, dtype: DType) -> Result<Tensor> {
    let v: Vec<f32> = lengths
        .iter()
        .flat_map(|&l| (0..s).map(move |j| if j < l { 1.0 } else { 0.0 }))
        .collect();
    Ok(Tensor::from_vec(v, (lengths.len(), s), &Device::Cpu)?.to_dtype(dtype)?)
}

fn randn(seed: u64, shape: &[usize]) -> Result<Var> {
    let store = ParamStore::new(seed);
    let vb = store.var_builder(DType::F64, &Device::Cpu);
    let t = vb.get_with_hints(
        shape,
        "x",
        candle_nn::Init::Randn {
            mean: 0.0,
            stdev: 1.0,
        },
    )?;
    Ok(Var::from_tensor(&t)?)
}

/// Every query-dependent form, built on one fresh store each.
fn layers() -> Result<Vec<(AttentionLayer, ParamStore)>> {
    let mut out = Vec::new();
    for kind in [
        AttentionKind::Additive,
        AttentionKind::Dot,
        AttentionKind::General,
    ] {
        let store = ParamStore::new(11);
        let cfg = AttentionConfig {
            kind,
            query: H,
            key: H,
            hidden: (kind == AttentionKind::Additive).then_some(6),
        };
        let layer = AttentionLayer::new(&cfg, store.var_builder(DType::F64, &Device::Cpu))?;
        out.push((layer, store));
    }
    Ok(out)
}

fn rows(t: &Tensor) -> Result<Vec<Vec<f64>>> {
    Ok(t.to_dtype(DType::F64)?.to_vec2()?)
}

#[test]
fn weights_are_a_distribution_over_valid_positions_only() -> Result<()> {
    let keys = randn(1, &[B, S, H])?;
    let query = randn(2, &[B, H])?;
    for mask_dtype in [DType::U8, DType::F32, DType::I64] {
        let m = mask(&LENGTHS, S, mask_dtype)?;
        for (layer, _) in layers()? {
            let prepared = layer.prepare(&keys)?;
            let out = layer.attend(&query, &keys, &prepared, &m)?;
            assert_eq!(out.context.dims(), [B, H]);
            for (b, row) in rows(&out.weights)?.iter().enumerate() {
                let sum: f64 = row.iter().sum();
                assert!(
                    (sum - 1.0).abs() < 1e-12,
                    "{:?}: row {b} sums to {sum}",
                    layer.kind()
                );
                for (j, w) in row.iter().enumerate() {
                    if j >= LENGTHS[b] {
                        assert_eq!(*w, 0.0, "{:?}: masked weight [{b},{j}]", layer.kind());
                    } else {
                        assert!(
                            *w > 0.0,
                            "{:?}: valid weight [{b},{j}] is {w}",
                            layer.kind()
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

#[test]
fn padded_rows_match_their_unpadded_sequences() -> Result<()> {
    let keys = randn(3, &[B, S, H])?;
    let query = randn(4, &[B, H])?;
    let m = mask(&LENGTHS, S, DType::U8)?;
    for (layer, _) in layers()? {
        let batched = layer.attend(&query, &keys, &layer.prepare(&keys)?, &m)?;
        for (b, &len) in LENGTHS.iter().enumerate() {
            let k = keys.narrow(0, b, 1)?.narrow(1, 0, len)?;
            let q = query.narrow(0, b, 1)?;
            let alone =
                layer.attend(&q, &k, &layer.prepare(&k)?, &mask(&[len], len, DType::U8)?)?;
            let got = rows(&batched.context.narrow(0, b, 1)?)?;
            let want = rows(&alone.context)?;
            for (g, w) in got[0].iter().zip(&want[0]) {
                assert!(
                    (g - w).abs() < 1e-12,
                    "{:?} row {b}: {g} vs {w}",
                    layer.kind()
                );
            }
        }
    }
    Ok(())
}

#[test]
fn masked_positions_get_zero_gradient_and_every_parameter_one() -> Result<()> {
    let keys = randn(5, &[B, S, H])?;
    let query = randn(6, &[B, H])?;
    let m = mask(&LENGTHS, S, DType::U8)?;
    let loss_w = randn(7, &[B, H])?;
    for (layer, store) in layers()? {
        let out = layer.attend(&query, &keys, &layer.prepare(&keys)?, &m)?;
        let loss = out.context.mul(&loss_w)?.sum_all()?;
        let grads = loss.backward()?;
        let gk = grads.get(&keys).map(rows_3).transpose()?;
        let gk = gk.unwrap_or_default();
        assert_eq!(gk.len(), B, "{:?}: keys got no gradient", layer.kind());
        for (b, &len) in LENGTHS.iter().enumerate() {
            for (j, g) in gk[b].iter().enumerate() {
                let norm: f64 = g.iter().map(|x| x.abs()).sum();
                assert!(norm.is_finite());
                if j >= len {
                    assert_eq!(
                        norm,
                        0.0,
                        "{:?}: gradient at masked [{b},{j}]",
                        layer.kind()
                    );
                } else {
                    assert!(
                        norm > 0.0,
                        "{:?}: no gradient at valid [{b},{j}]",
                        layer.kind()
                    );
                }
            }
        }
        assert!(
            grads.get(&query).is_some(),
            "{:?}: query got no gradient",
            layer.kind()
        );
        for (name, var) in store.vars() {
            let g = grads.get(var.as_tensor());
            let norm = match g {
                Some(g) => g.abs()?.sum_all()?.to_scalar::<f64>()?,
                None => 0.0,
            };
            assert!(
                norm > 0.0,
                "{:?}: parameter {name} got no gradient",
                layer.kind()
            );
        }
    }
    Ok(())
}

fn rows_3(t: &Tensor) -> Result<Vec<Vec<Vec<f64>>>> {
    Ok(t.to_dtype(DType::F64)?.to_vec3()?)
}

#[test]
fn a_fully_masked_row_gives_zeros_not_nan() -> Result<()> {
    let keys = randn(8, &[2, S, H])?;
    let query = randn(9, &[2, H])?;
    let m = mask(&[3, 0], S, DType::U8)?;
    for (layer, _) in layers()? {
        let out = layer.attend(&query, &keys, &layer.prepare(&keys)?, &m)?;
        assert!(rows(&out.weights)?[1].iter().all(|w| *w == 0.0));
        assert!(rows(&out.context)?[1].iter().all(|c| *c == 0.0));
        let grads = out.context.sum_all()?.backward()?;
        let g = grads
            .get(&keys)
            .map(rows_3)
            .transpose()?
            .unwrap_or_default();
        assert!(g.iter().flatten().flatten().all(|x| x.is_finite()));
        assert!(g[1].iter().flatten().all(|x| *x == 0.0));
    }
    Ok(())
}

#[test]
fn pooling_masks_sums_to_one_and_trains_every_parameter() -> Result<()> {
    let store = ParamStore::new(3);
    let pool = AttentionPooling::new(H, store.var_builder(DType::F64, &Device::Cpu))?;
    let keys = randn(10, &[B, S, H])?;
    let out = pool.forward(&keys, &mask(&LENGTHS, S, DType::U8)?)?;
    assert_eq!(out.context.dims(), [B, H]);
    for (b, row) in rows(&out.weights)?.iter().enumerate() {
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(row[LENGTHS[b]..].iter().all(|w| *w == 0.0));
    }
    let grads = out.context.sum_all()?.backward()?;
    for (name, var) in store.vars() {
        let g = grads
            .get(var.as_tensor())
            .map(|g| g.abs()?.sum_all()?.to_scalar::<f64>());
        let g = g.transpose()?;
        assert!(g.is_some(), "pooling {name} is not in the graph");
        // The softmax is shift-invariant, so `b`'s gradient is 0 up to
        // rounding (PyTorch's is ~1e-17 too); `w` must really move.
        if name == "w" {
            assert!(g.unwrap_or(0.0) > 0.0, "pooling w got no gradient");
        }
    }
    Ok(())
}

#[test]
fn tutorial_attention_shapes_and_gradients() -> Result<()> {
    let store = ParamStore::new(4);
    let cfg = TutorialAttentionConfig {
        hidden: H,
        max_length: S,
    };
    let att = TutorialAttention::new(
        &cfg,
        store.var_builder(DType::F64, &Device::Cpu).pp("decoder"),
    )?;
    let names: Vec<String> = store.vars().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "decoder.attn.bias",
            "decoder.attn.weight",
            "decoder.attn_combine.bias",
            "decoder.attn_combine.weight"
        ]
    );
    let e = randn(1, &[2, H])?;
    let h = randn(2, &[2, H])?;
    let enc = randn(3, &[2, S, H])?;
    let out = att.forward(&e, &h, &enc)?;
    assert_eq!(out.gru_input.dims(), [2, H]);
    for row in rows(&out.weights)? {
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
    let grads = out.gru_input.sum_all()?.backward()?;
    for (name, var) in store.vars() {
        let g = grads
            .get(var.as_tensor())
            .map(|g| g.abs()?.sum_all()?.to_scalar::<f64>());
        assert!(
            g.transpose()?.unwrap_or(0.0) > 0.0,
            "{name} got no gradient"
        );
    }
    let wrong = randn(4, &[2, S + 1, H])?;
    assert!(matches!(att.forward(&e, &h, &wrong), Err(Error::Shape(_))));
    Ok(())
}

#[test]
fn shape_errors_are_clear() -> Result<()> {
    let keys = randn(1, &[B, S, H])?;
    let query = randn(2, &[B, H])?;
    let m = mask(&LENGTHS, S, DType::U8)?;
    for (layer, _) in layers()? {
        let prepared = layer.prepare(&keys)?;
        let bad_query = randn(3, &[B, H + 1])?;
        let err = layer.attend(&bad_query, &keys, &prepared, &m);
        assert!(
            matches!(err, Err(Error::Shape(_))),
            "{:?}: {err:?}",
            layer.kind()
        );
        let rank3_query = randn(3, &[B, 1, H])?;
        let err = layer.scores(&rank3_query, &prepared);
        assert!(matches!(&err, Err(Error::Shape(m)) if m.contains("[batch, query_size]")));
        let short_mask = mask(&LENGTHS, S - 1, DType::U8)?;
        let err = layer.attend(&query, &keys, &prepared, &short_mask);
        assert!(
            matches!(err, Err(Error::Shape(_))),
            "{:?}: {err:?}",
            layer.kind()
        );
        let other_batch = keys.narrow(0, 0, 2)?;
        let err = layer.attend(&query, &other_batch, &prepared, &m);
        assert!(
            matches!(err, Err(Error::Shape(_))),
            "{:?}: {err:?}",
            layer.kind()
        );
        let flat = keys.flatten_from(1)?;
        assert!(matches!(layer.prepare(&flat), Err(Error::Shape(_))));
    }
    Ok(())
}

#[test]
fn config_parses_lowercase_kinds_and_validates() -> Result<()> {
    let cfg: AttentionConfig = serde_json::from_str(r#"{"kind": "general", "query": 4, "key": 6}"#)
        .map_err(|e| Error::Config(e.to_string()))?;
    assert_eq!(cfg.kind, AttentionKind::General);
    assert!(
        serde_json::from_str::<AttentionConfig>(r#"{"kind": "Dot", "query": 4, "key": 4}"#)
            .is_err()
    );
    assert!(
        serde_json::from_str::<AttentionConfig>(r#"{"kind": "dot", "query": 4, "key": 4, "x": 1}"#)
            .is_err()
    );
    let dot = AttentionConfig {
        kind: AttentionKind::Dot,
        query: 4,
        key: 6,
        hidden: None,
    };
    assert!(matches!(dot.validate(), Err(Error::Config(_))));
    let general = AttentionConfig {
        kind: AttentionKind::General,
        query: 4,
        key: 6,
        hidden: Some(3),
    };
    assert!(matches!(general.validate(), Err(Error::Config(_))));
    let store = ParamStore::new(0);
    let additive = AttentionConfig {
        kind: AttentionKind::Additive,
        query: 4,
        key: 6,
        hidden: None,
    };
    AttentionLayer::new(&additive, store.var_builder(DType::F32, &Device::Cpu))?;
    let shapes: Vec<(String, Vec<usize>)> = store
        .vars()
        .into_iter()
        .map(|(n, v)| (n, v.dims().to_vec()))
        .collect();
    assert_eq!(
        shapes,
        [
            ("W_k".into(), vec![4, 6]),
            ("W_q".into(), vec![4, 4]),
            ("w_v".into(), vec![4])
        ]
    );
    Ok(())
}
