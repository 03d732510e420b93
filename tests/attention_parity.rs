//! Attention against PyTorch: every case of `attention_parity.json`, forward
//! (context, weights) and the gradients of `Σ context·loss_w_context` with
//! respect to the inputs and every parameter, in f32 and in f64.
//!
//! Parameters load straight from the fixture's `CASE/param/*` tensors through
//! `ParamStore::from_tensors`, so the layers' parameter names are checked too.

// `common::assert_close` negates a float comparison on purpose (NaN must
// fail); the lint fires on it in every test that includes the module.
mod common;

use std::collections::HashMap;

use attend::nn::{
    Additive, AdditiveConfig, Attended, Attention, AttentionPooling, Dot, General, GeneralConfig,
    TutorialAttention, TutorialAttentionConfig,
};
use attend::nn::{Linear, LinearConfig, ParamStore};
use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::VarBuilder;
use common::{assert_close, load_fixture, load_manifest};

const FIXTURE: &str = "attention_parity.safetensors";
const MANIFEST: &str = "attention_parity.json";
const TUTORIAL: &str = "tutorial_attn_decoder_step";

/// The precisions compared: (dtype, rtol, atol).
const PRECISIONS: [(DType, f64, f64); 2] = [(DType::F32, 1e-4, 1e-6), (DType::F64, 1e-9, 1e-12)];

/// The fixture's tensors of one case, with the `CASE/` prefix stripped.
struct Case {
    name: String,
    tensors: HashMap<String, Tensor>,
}

impl Case {
    fn load(all: &HashMap<String, Tensor>, name: &str) -> Case {
        let prefix = format!("{name}/");
        let tensors: HashMap<String, Tensor> = all
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(&prefix).map(|k| (k.to_string(), v.clone())))
            .collect();
        assert!(!tensors.is_empty(), "{name}: no tensors in {FIXTURE}");
        Case {
            name: name.to_string(),
            tensors,
        }
    }

    /// Tensor `key` converted to `dtype` (indices stay as they are).
    fn get(&self, key: &str, dtype: DType) -> Tensor {
        let t = self
            .tensors
            .get(key)
            .unwrap_or_else(|| panic!("{}: fixture has no `{key}`", self.name));
        if t.dtype().is_float() {
            t.to_dtype(dtype).unwrap()
        } else {
            t.clone()
        }
    }

    /// Names under `prefix/`, sorted, without the prefix.
    fn names(&self, prefix: &str) -> Vec<String> {
        let prefix = format!("{prefix}/");
        let mut names: Vec<String> = self
            .tensors
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix).map(str::to_string))
            .collect();
        names.sort();
        names
    }

    /// `param/*` in `dtype`, renamed by `rename` (fixture name → layer name).
    fn params(&self, dtype: DType, rename: &dyn Fn(&str) -> String) -> HashMap<String, Tensor> {
        self.names("param")
            .iter()
            .map(|n| (rename(n), self.get(&format!("param/{n}"), dtype)))
            .collect()
    }

    fn what(&self, dtype: DType, tensor: &str) -> String {
        format!("{} [{dtype:?}] {tensor}", self.name)
    }
}

fn var(t: Tensor) -> Var {
    Var::from_tensor(&t).unwrap()
}

/// `[batch, src_len]` mask, 1 where `j < valid[b]`.
fn mask_from_valid(valid: &Tensor, src_len: usize) -> Tensor {
    let positions = Tensor::arange(0i64, src_len as i64, &Device::Cpu).unwrap();
    positions
        .unsqueeze(0)
        .unwrap()
        .broadcast_lt(&valid.to_dtype(DType::I64).unwrap().unsqueeze(1).unwrap())
        .unwrap()
}

/// Checks that the layer created exactly the fixture's parameters, no fresh ones.
fn assert_params_loaded(case: &Case, store: &ParamStore, expected: &HashMap<String, Tensor>) {
    let mut have: Vec<String> = store.vars().into_iter().map(|(n, _)| n).collect();
    let mut want: Vec<String> = expected.keys().cloned().collect();
    have.sort();
    want.sort();
    assert_eq!(
        have, want,
        "{}: layer parameters differ from the fixture's",
        case.name
    );
}

/// Compares every `grad/*` of the case: inputs from `inputs`, parameters
/// from `store` under `rename(name)`.
fn assert_grads(
    case: &Case,
    dtype: DType,
    (rtol, atol): (f64, f64),
    grads: &candle_core::backprop::GradStore,
    inputs: &[(&str, &Var)],
    store: &ParamStore,
    rename: &dyn Fn(&str) -> String,
) {
    let names = case.names("grad");
    assert!(
        !names.is_empty(),
        "{}: no gradients in the fixture",
        case.name
    );
    for name in names {
        let what = case.what(dtype, &format!("grad/{name}"));
        let t = match inputs.iter().find(|(n, _)| *n == name) {
            Some((_, v)) => v.as_tensor().clone(),
            None => store
                .get(&rename(&name))
                .unwrap_or_else(|| panic!("{what}: no such input or parameter"))
                .as_tensor()
                .clone(),
        };
        let g = grads
            .get(&t)
            .unwrap_or_else(|| panic!("{what}: no gradient reached it"));
        assert_close(
            &what,
            g,
            &case.get(&format!("grad/{name}"), DType::F64),
            rtol,
            atol,
        );
    }
}

/// additive / dot / general / pooling: `context`, `weights` and all `grad/*`.
/// Compares weights and context with the fixture, then backpropagates the
/// fixture's loss `Σ context·loss_w_context` and returns the gradients.
fn check_outputs(
    case: &Case,
    dtype: DType,
    weights: &Tensor,
    context: &Tensor,
    rtol: f64,
    atol: f64,
) -> candle_core::backprop::GradStore {
    for (name, t) in [("weights", weights), ("context", context)] {
        let expected = case.get(name, DType::F64);
        assert_close(&case.what(dtype, name), t, &expected, rtol, atol);
    }
    let loss = context
        .mul(&case.get("loss_w_context", dtype))
        .unwrap()
        .sum_all()
        .unwrap();
    loss.backward().unwrap()
}

fn check_scored(case: &Case, dtype: DType, rtol: f64, atol: f64) {
    let keys = var(case.get("keys", dtype));
    let (_, src_len, key_size) = keys.dims3().unwrap();
    let mask = mask_from_valid(&case.get("valid", dtype), src_len);
    let same = |n: &str| n.to_string();
    let params = case.params(dtype, &same);
    let store = ParamStore::from_tensors(0, params.clone()).unwrap();
    let vb = store.var_builder(dtype, &Device::Cpu);
    let query = case
        .tensors
        .contains_key("query")
        .then(|| var(case.get("query", dtype)));
    let query_size = || query.as_ref().map(|q| q.dims()[1]).unwrap();

    let layer: Option<Box<dyn Attention>> = match case.name.as_str() {
        "additive" => {
            let hidden = params["W_q"].dims()[0];
            let cfg = AdditiveConfig {
                query: query_size(),
                key: key_size,
                hidden,
            };
            Some(Box::new(Additive::new(&cfg, vb.clone()).unwrap()))
        }
        "dot" => Some(Box::new(Dot::new())),
        "general" => {
            let cfg = GeneralConfig {
                query: query_size(),
                key: key_size,
            };
            Some(Box::new(General::new(&cfg, vb.clone()).unwrap()))
        }
        "pooling" => None,
        other => panic!("{other}: not a scored attention case"),
    };
    let Attended { context, weights } = match (&layer, &query) {
        (Some(layer), Some(q)) => {
            let prepared = layer.prepare(&keys).unwrap();
            layer.attend(q, &keys, &prepared, &mask).unwrap()
        }
        (None, _) => AttentionPooling::new(key_size, vb.clone())
            .unwrap()
            .forward(&keys, &mask)
            .unwrap(),
        (Some(_), None) => panic!("{}: fixture has no query", case.name),
    };
    assert_params_loaded(case, &store, &params);
    let grads = check_outputs(case, dtype, &weights, &context, rtol, atol);
    let mut inputs = vec![("keys", &keys)];
    if let Some(q) = &query {
        inputs.push(("query", q));
    }
    assert_grads(case, dtype, (rtol, atol), &grads, &inputs, &store, &same);
}

/// The tutorial fixture's parameter names → the tutorial's `state_dict` names
/// under `decoder.`.
fn tutorial_name(n: &str) -> String {
    let name = match n {
        "embedding" => "embedding.weight",
        "attn_w" => "attn.weight",
        "attn_b" => "attn.bias",
        "comb_w" => "attn_combine.weight",
        "comb_b" => "attn_combine.bias",
        "gru_w_ih" => "gru.weight_ih_l0",
        "gru_w_hh" => "gru.weight_hh_l0",
        "gru_b_ih" => "gru.bias_ih_l0",
        "gru_b_hh" => "gru.bias_hh_l0",
        "out_w" => "out.weight",
        "out_b" => "out.bias",
        other => panic!("{TUTORIAL}: unknown parameter `{other}`"),
    };
    format!("decoder.{name}")
}

/// What the tutorial step's attention part produces, ready for the GRU.
struct TutorialForward {
    store: ParamStore,
    params: HashMap<String, Tensor>,
    hidden: Var,
    encoder_outputs: Var,
    gru_input: Tensor,
    weights: Tensor,
}

/// The tutorial decoder step up to the GRU: embedding lookup and attention,
/// with the fixture's (batch-less) inputs given a batch of 1.
fn tutorial_forward(case: &Case, dtype: DType) -> TutorialForward {
    let params = case.params(dtype, &tutorial_name);
    let store = ParamStore::from_tensors(0, params.clone()).unwrap();
    let vb = store.var_builder(dtype, &Device::Cpu).pp("decoder");
    let encoder_outputs = var(case.get("encoder_outputs", dtype).unsqueeze(0).unwrap());
    let (_, max_length, hidden_size) = encoder_outputs.dims3().unwrap();
    let hidden = var(case.get("hidden", dtype).unsqueeze(0).unwrap());
    let cfg = TutorialAttentionConfig {
        hidden: hidden_size,
        max_length,
    };
    let attention = TutorialAttention::new(&cfg, vb).unwrap();
    // Eval mode: the tutorial's dropout on the embedding is the identity.
    let token = case.get("token", dtype).reshape(1).unwrap();
    let embedding = store.get("decoder.embedding.weight").unwrap();
    let embedded = embedding.as_tensor().index_select(&token, 0).unwrap();
    let out = attention
        .forward(&embedded, &hidden, &encoder_outputs)
        .unwrap();
    TutorialForward {
        store,
        params,
        hidden,
        encoder_outputs,
        gru_input: out.gru_input,
        weights: out.weights,
    }
}

/// The attention part of the tutorial step: the weights are exact outputs
/// of the fixture. The context and every gradient pass through the GRU and
/// are checked by [`check_tutorial_full_step`].
fn check_tutorial_attention(case: &Case, dtype: DType, rtol: f64, atol: f64) {
    let f = tutorial_forward(case, dtype);
    let expected = case.get("weights", DType::F64);
    let expected = expected.reshape((1, expected.elem_count())).unwrap();
    assert_close(
        &case.what(dtype, "weights"),
        &f.weights,
        &expected,
        rtol,
        atol,
    );
    assert_eq!(
        f.gru_input.dims(),
        f.hidden.dims(),
        "{}: GRU input shape",
        case.name
    );
}

/// The whole tutorial step, given a one-step GRU: `gru_step(vb, x [1, H],
/// h [1, H]) -> h' [1, H]` with `vb` at `decoder.gru`. Compares
/// `concat(log_softmax(out(h')), h')`, the weights and every `grad/*`.
#[allow(dead_code)] // Called by the GRU test enabled at merge (see below).
fn check_tutorial_full_step(
    case: &Case,
    dtype: DType,
    rtol: f64,
    atol: f64,
    gru_step: &dyn Fn(VarBuilder, &Tensor, &Tensor) -> attend::Result<Tensor>,
) {
    let f = tutorial_forward(case, dtype);
    let vb = f.store.var_builder(dtype, &Device::Cpu).pp("decoder");
    let h_new = gru_step(vb.pp("gru"), &f.gru_input, &f.hidden).unwrap();
    let (_, hidden_size) = h_new.dims2().unwrap();
    let vocab = f.params["decoder.out.weight"].dims()[0];
    let out_cfg = LinearConfig {
        input: hidden_size,
        output: vocab,
        bias: true,
    };
    let out = Linear::new(&out_cfg, vb.pp("out")).unwrap();
    let log_probs = candle_nn::ops::log_softmax(&out.forward(&h_new).unwrap(), D::Minus1).unwrap();
    let context = Tensor::cat(&[&log_probs, &h_new], 1)
        .unwrap()
        .squeeze(0)
        .unwrap();
    assert_params_loaded(case, &f.store, &f.params);
    let weights = f.weights.squeeze(0).unwrap();
    let grads = check_outputs(case, dtype, &weights, &context, rtol, atol);
    // The fixture's inputs have no batch dimension; compare without ours.
    let hidden = var(f.hidden.as_tensor().squeeze(0).unwrap());
    let enc = var(f.encoder_outputs.as_tensor().squeeze(0).unwrap());
    let mut grads_unbatched = grads;
    for (batched, unbatched) in [(&f.hidden, &hidden), (&f.encoder_outputs, &enc)] {
        let g = grads_unbatched
            .get(batched.as_tensor())
            .unwrap_or_else(|| panic!("{}: no gradient for an input", case.name))
            .squeeze(0)
            .unwrap();
        grads_unbatched.insert(unbatched.as_tensor(), g);
    }
    let inputs = [("hidden", &hidden), ("encoder_outputs", &enc)];
    assert_grads(
        case,
        dtype,
        (rtol, atol),
        &grads_unbatched,
        &inputs,
        &f.store,
        &tutorial_name,
    );
}

/// The manifest's case names, so a new case cannot be skipped silently.
fn case_names() -> Vec<String> {
    let manifest = load_manifest(MANIFEST);
    let cases = manifest["cases"].as_array().expect("manifest has `cases`");
    let names: Vec<String> = cases
        .iter()
        .map(|c| c["name"].as_str().expect("case has a name").to_string())
        .collect();
    assert!(!names.is_empty(), "{MANIFEST}: no cases");
    names
}

/// Runs every manifest case at one precision.
fn check_all(dtype: DType) {
    let (_, rtol, atol) = PRECISIONS
        .into_iter()
        .find(|p| p.0 == dtype)
        .expect("a compared precision");
    let all = load_fixture(FIXTURE);
    for name in case_names() {
        let case = Case::load(&all, &name);
        match name.as_str() {
            "additive" | "dot" | "general" | "pooling" => check_scored(&case, dtype, rtol, atol),
            TUTORIAL => check_tutorial_attention(&case, dtype, rtol, atol),
            other => panic!("{MANIFEST}: unknown case `{other}`; add it to this test"),
        }
    }
}

#[test]
fn attention_matches_pytorch_f32() {
    check_all(DType::F32);
}

#[test]
fn attention_matches_pytorch_f64() {
    check_all(DType::F64);
}

/// The whole tutorial decoder step: attention, then the GRU, then `out`.
mod tutorial_full_step {
    use super::*;
    use attend::nn::{Cell, Mode, Rnn, RnnConfig, State};

    #[test]
    fn tutorial_attn_decoder_full_step_matches_pytorch() {
        let all = load_fixture(FIXTURE);
        let case = Case::load(&all, TUTORIAL);
        let gru_step = |vb: VarBuilder, x: &Tensor, h: &Tensor| -> attend::Result<Tensor> {
            let (_, size) = h.dims2()?;
            let cfg = RnnConfig {
                cell: Cell::Gru,
                input: x.dims2()?.1,
                hidden: size,
                layers: 1,
                bidirectional: false,
                dropout: 0.0,
            };
            let gru = Rnn::new(&cfg, vb)?;
            let (output, _) = gru.forward(
                &x.unsqueeze(1)?,
                &[1],
                Some(&State::H(h.unsqueeze(0)?)),
                &mut Mode::Eval,
            )?;
            Ok(output.squeeze(1)?)
        };
        for (dtype, rtol, atol) in PRECISIONS {
            check_tutorial_full_step(&case, dtype, rtol, atol, &gru_step);
        }
    }
}
