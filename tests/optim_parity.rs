//! Parity with PyTorch's optimizers, `clip_grad_norm_`, `cross_entropy` and
//! `ReduceLROnPlateau` (fixtures: `optim_parity.json` + `.safetensors`).
//!
//! Each case trains a `Linear(5, 4)` with mean cross-entropy for the given
//! number of steps, with the optimizer settings parsed from the case's PyTorch
//! `repr` in the manifest, so the test follows the fixture.

// tests/common's NaN-aware comparison trips this lint; it is not ours to edit.
mod common;

use std::collections::HashMap;

use attend::nn::{Linear, LinearConfig, ParamStore};
use attend::train::{
    CrossEntropy, Goal, OptimizerConfig, PlateauConfig, Reduction, ScheduleConfig, Scheduler,
    ThresholdMode, build_optimizer, clip_grad_norm, cross_entropy,
};
use candle_core::{D, DType, Device, Tensor};
use common::{assert_close, load_fixture, load_manifest};
use serde_json::{Value, json};

const FIXTURE: &str = "optim_parity.safetensors";
const MANIFEST: &str = "optim_parity.json";

/// Turns PyTorch's optimizer repr (`SGD ( Parameter Group 0  lr: 0.1  … )`)
/// into an [`OptimizerConfig`]. Settings we do not implement must be at
/// their defaults, or the case fails rather than silently testing less.
fn parse_optimizer(repr: &str) -> OptimizerConfig {
    let kind = repr.split_whitespace().next().unwrap();
    let body = repr
        .split_once("Parameter Group 0")
        .unwrap()
        .1
        .trim()
        .trim_end_matches(')');
    let re = regex::Regex::new(r"(\w+): (\([^)]*\)|\S+)").unwrap();
    let mut obj = serde_json::Map::new();
    obj.insert("type".into(), json!(kind.to_lowercase()));
    for cap in re.captures_iter(body) {
        let (key, val) = (&cap[1], &cap[2]);
        match key {
            "lr" | "momentum" | "dampening" | "weight_decay" | "eps" => {
                obj.insert(key.into(), json!(val.parse::<f64>().unwrap()));
            }
            "nesterov" => {
                obj.insert(key.into(), json!(val == "True"));
            }
            "betas" => {
                let b: Vec<f64> = val
                    .trim_matches(|c| c == '(' || c == ')')
                    .split(',')
                    .map(|s| s.trim().parse().unwrap())
                    .collect();
                obj.insert(key.into(), json!(b));
            }
            "decoupled_weight_decay" => {
                assert_eq!(val == "True", kind == "AdamW", "{repr}")
            }
            "foreach" | "fused" => assert_eq!(val, "None", "{key} in {repr}"),
            "differentiable" | "maximize" | "amsgrad" | "capturable" => {
                assert_eq!(val, "False", "{key} in {repr}")
            }
            other => panic!("unknown optimizer setting `{other}` in {repr}"),
        }
    }
    let cfg: OptimizerConfig = serde_json::from_value(Value::Object(obj)).unwrap();
    cfg
}

struct Run {
    losses: Vec<f64>,
    norms: Vec<f64>,
    store: ParamStore,
}

/// Trains the fixture's Linear(5, 4) in `dtype`. `resume_after`: stop the
/// first optimizer after that many steps, pass its state through a
/// safetensors file into a freshly built one, and carry on.
fn train(
    fx: &HashMap<String, Tensor>,
    cfg: &OptimizerConfig,
    clip: Option<f64>,
    steps: usize,
    dtype: DType,
    resume_after: Option<usize>,
) -> Run {
    let dev = Device::Cpu;
    let init = HashMap::from([
        (
            "weight".to_string(),
            fx["init/weight"].to_dtype(dtype).unwrap(),
        ),
        ("bias".to_string(), fx["init/bias"].to_dtype(dtype).unwrap()),
    ]);
    let store = ParamStore::from_tensors(0, init).unwrap();
    let lin_cfg = LinearConfig {
        input: 5,
        output: 4,
        bias: true,
    };
    let lin = Linear::new(&lin_cfg, store.var_builder(dtype, &dev)).unwrap();
    let x = fx["data/x"].to_dtype(dtype).unwrap();
    let y = fx["data/y"].to_dtype(DType::U32).unwrap();
    let vars = store.vars();
    let mut opt = build_optimizer(cfg, vars.clone()).unwrap();
    let (mut losses, mut norms) = (vec![], vec![]);
    for step in 0..steps {
        if resume_after == Some(step) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("optimizer.safetensors");
            candle_core::safetensors::save(&opt.state().unwrap(), &path).unwrap();
            let saved = candle_core::safetensors::load(&path, &dev).unwrap();
            opt = build_optimizer(cfg, vars.clone()).unwrap();
            opt.load_state(&saved).unwrap();
        }
        let loss = cross_entropy(&lin.forward(&x).unwrap(), &y).unwrap();
        losses.push(
            loss.to_dtype(DType::F64)
                .unwrap()
                .to_scalar::<f64>()
                .unwrap(),
        );
        let mut grads = loss.backward().unwrap();
        if let Some(max) = clip {
            norms.push(clip_grad_norm(&vars, &mut grads, max).unwrap());
        }
        opt.step(&grads).unwrap();
    }
    Run {
        losses,
        norms,
        store,
    }
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn vec_tensor(v: &[f64]) -> Tensor {
    Tensor::new(v, &Device::Cpu).unwrap()
}

fn check_case(case: &Value, fx: &HashMap<String, Tensor>, dtype: DType, tol: (f64, f64)) {
    let name = case["name"].as_str().unwrap();
    let cfg = parse_optimizer(case["optimizer"].as_str().unwrap());
    let clip = case["clip_max_norm"].as_f64();
    let steps = case["steps"].as_u64().unwrap() as usize;
    let run = train(fx, &cfg, clip, steps, dtype, None);
    let what = |s: &str| format!("{name} ({dtype:?}): {s}");
    let (rtol, atol) = tol;
    let want_losses = floats(&case["losses"]);
    assert_eq!(want_losses.len(), steps, "{name}");
    assert_close(
        &what("losses"),
        &vec_tensor(&run.losses),
        &vec_tensor(&want_losses),
        rtol,
        atol,
    );
    let want_norms = floats(&case["pre_clip_norms"]);
    assert_eq!(
        want_norms.len(),
        if clip.is_some() { steps } else { 0 },
        "{name}"
    );
    assert_close(
        &what("pre-clip norms"),
        &vec_tensor(&run.norms),
        &vec_tensor(&want_norms),
        rtol,
        atol,
    );
    let got = run.store.tensors();
    for p in ["weight", "bias"] {
        assert_close(&what(p), &got[p], &fx[&format!("{name}/{p}")], rtol, atol);
    }
}

fn cases() -> Vec<Value> {
    let m = load_manifest(MANIFEST);
    let cases = m["cases"].as_array().unwrap().clone();
    assert!(!cases.is_empty());
    cases
}

#[test]
fn every_case_matches_pytorch_in_f64() {
    let fx = load_fixture(FIXTURE);
    for case in cases() {
        check_case(&case, &fx, DType::F64, (1e-9, 1e-12));
    }
}

#[test]
fn every_case_matches_pytorch_in_f32() {
    let fx = load_fixture(FIXTURE);
    for case in cases() {
        check_case(&case, &fx, DType::F32, (1e-5, 0.0));
    }
}

#[test]
fn optimizer_state_resumes_bit_for_bit() {
    let fx = load_fixture(FIXTURE);
    for case in cases() {
        let cfg = parse_optimizer(case["optimizer"].as_str().unwrap());
        let clip = case["clip_max_norm"].as_f64();
        for dtype in [DType::F64, DType::F32] {
            let straight = train(&fx, &cfg, clip, 5, dtype, None);
            let resumed = train(&fx, &cfg, clip, 5, dtype, Some(2));
            assert_eq!(straight.losses, resumed.losses, "{}", case["name"]);
            let (a, b) = (straight.store.tensors(), resumed.store.tensors());
            for p in ["weight", "bias"] {
                let bits = |t: &Tensor| -> Vec<u64> {
                    let v: Vec<f64> = t
                        .to_dtype(DType::F64)
                        .unwrap()
                        .flatten_all()
                        .unwrap()
                        .to_vec1()
                        .unwrap();
                    v.iter().map(|x| x.to_bits()).collect()
                };
                assert_eq!(bits(&a[p]), bits(&b[p]), "{} {p} {dtype:?}", case["name"]);
            }
        }
    }
}

#[test]
fn optimizer_state_rejects_foreign_entries() {
    let fx = load_fixture(FIXTURE);
    let adam = parse_optimizer(
        cases().iter().find(|c| c["name"] == "adam").unwrap()["optimizer"]
            .as_str()
            .unwrap(),
    );
    let sgd_m = parse_optimizer(
        cases()
            .iter()
            .find(|c| c["name"] == "sgd_momentum")
            .unwrap()["optimizer"]
            .as_str()
            .unwrap(),
    );
    let store = ParamStore::from_tensors(
        0,
        HashMap::from([("weight".to_string(), fx["init/weight"].clone())]),
    )
    .unwrap();
    let x = fx["data/x"].clone();
    let loss = x
        .matmul(&store.get("weight").unwrap().as_tensor().t().unwrap())
        .unwrap()
        .sum_all()
        .unwrap();
    let mut opt = build_optimizer(&adam, store.vars()).unwrap();
    opt.step(&loss.backward().unwrap()).unwrap();
    let state = opt.state().unwrap();
    assert!(state.contains_key("weight.exp_avg") && state.contains_key("weight.step"));
    // Adam moments mean nothing to SGD.
    let mut sgd = build_optimizer(&sgd_m, store.vars()).unwrap();
    assert!(sgd.load_state(&state).is_err());
    // A buffer of the wrong shape is refused, and the optimizer is unchanged.
    let mut bad = state.clone();
    bad.insert(
        "weight.exp_avg".into(),
        Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap(),
    );
    let mut fresh = build_optimizer(&adam, store.vars()).unwrap();
    assert!(fresh.load_state(&bad).is_err());
    assert!(fresh.state().unwrap().len() == 1, "only lr before any step");
}

#[test]
fn cross_entropy_references() {
    let fx = load_fixture(FIXTURE);
    let target = fx["loss/target"].to_dtype(DType::U32).unwrap();
    let mut seen = 0;
    for (dtype, tol) in [(DType::F64, 1e-9), (DType::F32, 1e-5)] {
        let logits = fx["loss/logits"].to_dtype(dtype).unwrap();
        let weight = fx["loss/class_weight"].to_dtype(dtype).unwrap();
        let ce = |ignore_index, label_smoothing, weight: Option<&Tensor>| CrossEntropy {
            ignore_index,
            label_smoothing,
            weight: weight.cloned(),
            reduction: Reduction::Mean,
            ..Default::default()
        };
        let cases: Vec<(&str, Tensor)> = vec![
            ("ce_mean", cross_entropy(&logits, &target).unwrap()),
            (
                "ce_ignore_index_2",
                ce(Some(2), 0.0, None).forward(&logits, &target).unwrap(),
            ),
            (
                "ce_label_smoothing_0.1",
                ce(None, 0.1, None).forward(&logits, &target).unwrap(),
            ),
            (
                "ce_weighted",
                ce(None, 0.0, Some(&weight))
                    .forward(&logits, &target)
                    .unwrap(),
            ),
            (
                "ce_weighted_ignore_2_smooth_0.1",
                ce(Some(2), 0.1, Some(&weight))
                    .forward(&logits, &target)
                    .unwrap(),
            ),
            (
                "nll_of_log_softmax_sum",
                CrossEntropy {
                    reduction: Reduction::Sum,
                    ..Default::default()
                }
                .forward_log_probs(
                    &candle_nn::ops::log_softmax(&logits, D::Minus1).unwrap(),
                    &target,
                )
                .unwrap(),
            ),
        ];
        for (name, got) in cases {
            let want = &fx[&format!("loss/{name}")];
            assert_close(
                &format!("{name} ({dtype:?})"),
                &got.reshape(1).unwrap(),
                want,
                tol,
                0.0,
            );
            seen += 1;
        }
    }
    // Every reference in the fixture is checked (logits, target, weights are inputs).
    let refs = fx.keys().filter(|k| k.starts_with("loss/")).count() - 3;
    assert_eq!(seen, 2 * refs);
}

/// Parses `mode=min factor=0.1 patience=2 threshold=1e-4 (rel) start lr 1.0`.
fn parse_plateau(text: &str) -> (PlateauConfig, f64) {
    let mut cfg = PlateauConfig::default();
    let mut lr = None;
    let toks: Vec<&str> = text.split_whitespace().collect();
    for (i, tok) in toks.iter().enumerate() {
        match tok.split_once('=') {
            Some(("mode", v)) => cfg.mode = if v == "min" { Goal::Min } else { Goal::Max },
            Some(("factor", v)) => cfg.factor = v.parse().unwrap(),
            Some(("patience", v)) => cfg.patience = v.parse().unwrap(),
            Some(("threshold", v)) => cfg.threshold = v.parse().unwrap(),
            Some(("cooldown", v)) => cfg.cooldown = v.parse().unwrap(),
            Some(("min_lr", v)) => cfg.min_lr = v.parse().unwrap(),
            Some(("eps", v)) => cfg.eps = v.parse().unwrap(),
            Some((k, _)) => panic!("unknown plateau setting {k}"),
            None => match *tok {
                "(rel)" => cfg.threshold_mode = ThresholdMode::Rel,
                "(abs)" => cfg.threshold_mode = ThresholdMode::Abs,
                "lr" => lr = Some(toks[i + 1].parse().unwrap()),
                _ => {}
            },
        }
    }
    (cfg, lr.expect("start lr"))
}

#[test]
fn reduce_lr_on_plateau_trace() {
    let m = load_manifest(MANIFEST);
    let p = &m["reduce_lr_on_plateau"];
    let (cfg, lr0) = parse_plateau(p["config"].as_str().unwrap());
    let metrics = floats(&p["metrics"]);
    let want = floats(&p["lr_after_each_step"]);
    assert_eq!(metrics.len(), want.len());
    let store = ParamStore::from_tensors(
        0,
        HashMap::from([(
            "w".to_string(),
            Tensor::zeros(2, DType::F64, &Device::Cpu).unwrap(),
        )]),
    )
    .unwrap();
    let sgd = OptimizerConfig::Sgd(attend::train::SgdConfig {
        lr: lr0,
        ..Default::default()
    });
    let mut opt = build_optimizer(&sgd, store.vars()).unwrap();
    let sched_cfg = ScheduleConfig::Plateau(cfg);
    let mut sched = Scheduler::new(&sched_cfg).unwrap();
    for (i, (metric, want)) in metrics.iter().zip(&want).enumerate() {
        // Halfway, resume the schedule from its JSON state: nothing may change.
        if i == metrics.len() / 2 {
            let json = serde_json::to_string(&sched.state()).unwrap();
            sched = Scheduler::new(&sched_cfg).unwrap();
            sched.load_state(&serde_json::from_str(&json).unwrap());
        }
        sched.step(opt.as_mut(), Some(*metric)).unwrap();
        assert_eq!(opt.lr(), *want, "lr after step {i} (metric {metric})");
    }
}
