//! Optimizers with PyTorch's exact update rules: `torch.optim.SGD`, `Adam`, `AdamW`.
//!
//! Every optimizer is built from the named parameters of a
//! [`ParamStore`](crate::nn::ParamStore) (`store.vars()`, sorted by name), keeps
//! its buffers per parameter in the parameter's dtype, and updates parameters
//! through `Var::set` on detached tensors so that no autograd graph is built.
//! Parameters without a gradient in the `GradStore` are skipped, like
//! PyTorch's `p.grad is None`, and their buffers and step counts stay as they were.
//!
//! [`OptimizerConfig`] is the serde form used in training configs (PyTorch's
//! defaults), and [`build`] turns it into a boxed [`Optimizer`].

mod adam;
mod adam_pass;
mod sgd;
#[cfg(test)]
mod test_support;

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor, Var};
use serde::{Deserialize, Serialize};

use crate::nn::record::RowGrad;
use crate::{Error, Result};

pub use adam::{Adam, AdamConfig, AdamW, AdamWConfig};
pub use sgd::{Sgd, SgdConfig};

/// A first-order optimizer over a fixed list of named parameters.
pub trait Optimizer {
    /// One update from the gradients in `grads` (params without a gradient are
    /// skipped, like PyTorch's `p.grad is None`).
    fn step(&mut self, grads: &GradStore) -> Result<()>;
    /// Whether [`Optimizer::step_rows`] updates a parameter from its row
    /// gradients exactly as [`Optimizer::step`] would from the dense
    /// gradient they stand for (rows without a gradient do not move): only
    /// then does the trainer record embedding gradients as rows
    /// ([`crate::nn::record`]). Plain SGD can; momentum, weight decay and
    /// Adam move every row.
    fn takes_rows(&self) -> bool {
        false
    }
    /// One update of the tables in `rows` from their row gradients, after
    /// [`Optimizer::step`] of the same batch. Only called with rows when
    /// [`Optimizer::takes_rows`] says so; an optimizer that cannot take them
    /// refuses.
    fn step_rows(&mut self, rows: &[RowGrad]) -> Result<()> {
        match rows.first() {
            None => Ok(()),
            Some(r) => Err(Error::Config(format!(
                "this optimizer cannot update a table from row gradients ({} rows)",
                r.ids.len()
            ))),
        }
    }
    /// The current learning rate.
    fn lr(&self) -> f64;
    /// Sets the learning rate (schedulers call this).
    fn set_lr(&mut self, lr: f64);
    /// Everything needed to resume exactly (moment buffers, step counts, the
    /// learning rate), as named tensors for `optimizer.safetensors`.
    fn state(&self) -> Result<HashMap<String, Tensor>>;
    /// Restores what [`Optimizer::state`] returned. Entries must belong to this
    /// optimizer's parameters and have their shapes; missing buffers mean
    /// "not started yet", as in a fresh optimizer.
    fn load_state(&mut self, state: &HashMap<String, Tensor>) -> Result<()>;
}

/// Which optimizer to train with, and its settings; PyTorch's defaults.
///
/// In TOML: `optimizer = { type = "adam", lr = 1e-3 }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum OptimizerConfig {
    /// Stochastic gradient descent with optional (Nesterov) momentum.
    Sgd(SgdConfig),
    /// Adam with L2 weight decay added to the gradient.
    Adam(AdamConfig),
    /// Adam with decoupled weight decay.
    Adamw(AdamWConfig),
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        OptimizerConfig::Adam(AdamConfig::default())
    }
}

impl OptimizerConfig {
    /// Checks the settings with PyTorch's rules (plus `lr > 0`).
    pub fn validate(&self) -> Result<()> {
        match self {
            OptimizerConfig::Sgd(c) => c.validate(),
            OptimizerConfig::Adam(c) => c.validate(),
            OptimizerConfig::Adamw(c) => c.validate(),
        }
    }

    /// The configured learning rate.
    pub fn lr(&self) -> f64 {
        match self {
            OptimizerConfig::Sgd(c) => c.lr,
            OptimizerConfig::Adam(c) => c.lr,
            OptimizerConfig::Adamw(c) => c.lr,
        }
    }

    /// Sets the learning rate, keeping the optimizer and its other settings.
    pub fn set_lr(&mut self, lr: f64) {
        match self {
            OptimizerConfig::Sgd(c) => c.lr = lr,
            OptimizerConfig::Adam(c) => c.lr = lr,
            OptimizerConfig::Adamw(c) => c.lr = lr,
        }
    }
}

/// Builds the optimizer `cfg` describes over `vars` (validating `cfg` first).
pub fn build(cfg: &OptimizerConfig, vars: Vec<(String, Var)>) -> Result<Box<dyn Optimizer>> {
    Ok(match cfg {
        OptimizerConfig::Sgd(c) => Box::new(Sgd::new(c, vars)?),
        OptimizerConfig::Adam(c) => Box::new(Adam::new(c, vars)?),
        OptimizerConfig::Adamw(c) => Box::new(AdamW::new(c, vars)?),
    })
}

/// `Error::Config` unless `ok`.
fn ensure(ok: bool, msg: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::Config(msg()))
    }
}

/// Parameters must be floating point: the update rules are real arithmetic.
fn check_params(vars: &[(String, Var)]) -> Result<()> {
    for (name, var) in vars {
        if !var.dtype().is_float() {
            return Err(Error::Config(format!(
                "parameter `{name}` has dtype {:?}; optimizers need floating-point parameters",
                var.dtype()
            )));
        }
    }
    Ok(())
}

/// The gradient of `var`, detached so the update builds no graph.
fn grad_of(grads: &GradStore, var: &Var) -> Option<Tensor> {
    grads.get(var.as_tensor()).map(Tensor::detach)
}

/// The learning rate as a state entry (PyTorch keeps it in the param group).
const LR_KEY: &str = "lr";

fn lr_tensor(lr: f64) -> Result<Tensor> {
    Ok(Tensor::new(lr, &candle_core::Device::Cpu)?)
}

/// A step count as a state entry (i64, like a PyTorch integer tensor).
fn count_tensor(step: u64) -> Result<Tensor> {
    let step = i64::try_from(step)
        .map_err(|_| Error::Config(format!("step count {step} does not fit an i64")))?;
    Ok(Tensor::new(step, &candle_core::Device::Cpu)?)
}

/// Reads a scalar entry as f64, whatever dtype it was saved in.
fn scalar(key: &str, t: &Tensor) -> Result<f64> {
    if t.elem_count() != 1 {
        return Err(Error::Shape(format!(
            "optimizer state `{key}` should hold one value, it has shape {:?}",
            t.dims()
        )));
    }
    Ok(t.flatten_all()?
        .to_dtype(DType::F64)?
        .get(0)?
        .to_scalar::<f64>()?)
}

/// Reads a step count (a non-negative whole number).
fn count(key: &str, t: &Tensor) -> Result<u64> {
    let v = scalar(key, t)?;
    if v < 0.0 || v.fract() != 0.0 || !v.is_finite() {
        return Err(Error::Config(format!(
            "optimizer state `{key}` should be a step count, found {v}"
        )));
    }
    Ok(v as u64)
}

/// Takes buffer `key` for `var` out of a saved state: same shape, converted to
/// the parameter's dtype and device. `None` when the state has no such entry.
fn buffer(state: &HashMap<String, Tensor>, key: &str, var: &Var) -> Result<Option<Tensor>> {
    let Some(t) = state.get(key) else {
        return Ok(None);
    };
    if t.dims() != var.dims() {
        return Err(Error::Shape(format!(
            "optimizer state `{key}` has shape {:?}, the parameter has {:?}",
            t.dims(),
            var.dims()
        )));
    }
    let t = t.to_dtype(var.dtype())?.to_device(var.device())?;
    // A fresh copy, so later updates never share storage with the caller's map.
    Ok(Some(t.copy()?))
}

/// Rejects entries that no parameter of this optimizer owns: loading Adam
/// state into SGD, or a checkpoint of another model, is a mistake to report.
fn check_keys<'a>(
    state: &HashMap<String, Tensor>,
    names: impl Iterator<Item = &'a str>,
    suffixes: &[&str],
) -> Result<()> {
    let mut known: std::collections::HashSet<String> = [LR_KEY.to_string()].into();
    for name in names {
        for s in suffixes {
            known.insert(format!("{name}.{s}"));
        }
    }
    let mut unknown: Vec<&String> = state.keys().filter(|k| !known.contains(*k)).collect();
    unknown.sort();
    match unknown.first() {
        None => Ok(()),
        Some(k) => Err(Error::Config(format!(
            "optimizer state has entry `{k}`, which does not belong to this optimizer's parameters"
        ))),
    }
}

/// Restores the learning rate if the state carries one.
fn saved_lr(state: &HashMap<String, Tensor>) -> Result<Option<f64>> {
    state.get(LR_KEY).map(|t| scalar(LR_KEY, t)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_parses_with_pytorch_defaults_and_rejects_unknown_fields() {
        let c: OptimizerConfig = serde_json::from_str(r#"{"type":"adamw","lr":0.01}"#).unwrap();
        let OptimizerConfig::Adamw(a) = &c else {
            panic!("{c:?}")
        };
        assert_eq!(
            (a.lr, a.betas, a.eps, a.weight_decay),
            (0.01, (0.9, 0.999), 1e-8, 1e-2)
        );
        let c: OptimizerConfig = serde_json::from_str(r#"{"type":"adam"}"#).unwrap();
        assert_eq!(c, OptimizerConfig::Adam(AdamConfig::default()));
        assert_eq!(AdamConfig::default().weight_decay, 0.0);
        let c: OptimizerConfig =
            serde_json::from_str(r#"{"type":"sgd","lr":0.1,"momentum":0.9,"nesterov":true}"#)
                .unwrap();
        c.validate().unwrap();
        assert!(
            serde_json::from_str::<OptimizerConfig>(r#"{"type":"sgd","lr":0.1,"mom":0.9}"#)
                .is_err()
        );
        assert!(serde_json::from_str::<OptimizerConfig>(r#"{"type":"rmsprop"}"#).is_err());
        let back: OptimizerConfig =
            serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn params_without_gradient_are_skipped() -> Result<()> {
        let dev = candle_core::Device::Cpu;
        let a = Var::from_slice(&[1.0f32, 2.0], 2, &dev)?;
        let b = Var::from_slice(&[3.0f32], 1, &dev)?;
        let vars = vec![("a".to_string(), a.clone()), ("b".to_string(), b.clone())];
        let loss = a.as_tensor().sqr()?.sum_all()?;
        let grads = loss.backward()?;
        let cfgs = [
            OptimizerConfig::Sgd(SgdConfig {
                momentum: 0.9,
                ..Default::default()
            }),
            OptimizerConfig::Adam(AdamConfig::default()),
            OptimizerConfig::Adamw(AdamWConfig::default()),
        ];
        for cfg in cfgs {
            let mut opt = build(&cfg, vars.clone())?;
            opt.step(&grads)?;
            assert_eq!(b.as_tensor().to_vec1::<f32>()?, [3.0], "{cfg:?}");
            assert!(a.as_tensor().to_vec1::<f32>()?[0] < 1.0, "{cfg:?}");
            let state = opt.state()?;
            assert!(state.keys().all(|k| !k.starts_with("b.")), "{cfg:?}");
            assert!(state.keys().any(|k| k.starts_with("a.")), "{cfg:?}");
            assert_eq!(a.dtype(), DType::F32);
        }
        Ok(())
    }

    #[test]
    fn invalid_settings_are_config_errors() {
        let bad = [
            OptimizerConfig::Sgd(SgdConfig {
                lr: 0.0,
                ..Default::default()
            }),
            OptimizerConfig::Sgd(SgdConfig {
                momentum: -0.1,
                ..Default::default()
            }),
            OptimizerConfig::Sgd(SgdConfig {
                nesterov: true,
                ..Default::default()
            }),
            OptimizerConfig::Sgd(SgdConfig {
                nesterov: true,
                momentum: 0.9,
                dampening: 0.1,
                ..Default::default()
            }),
            OptimizerConfig::Sgd(SgdConfig {
                weight_decay: -1.0,
                ..Default::default()
            }),
            OptimizerConfig::Adam(AdamConfig {
                betas: (1.0, 0.999),
                ..Default::default()
            }),
            OptimizerConfig::Adam(AdamConfig {
                betas: (0.9, -0.1),
                ..Default::default()
            }),
            OptimizerConfig::Adam(AdamConfig {
                eps: -1e-8,
                ..Default::default()
            }),
            OptimizerConfig::Adamw(AdamWConfig {
                lr: f64::NAN,
                ..Default::default()
            }),
            OptimizerConfig::Adamw(AdamWConfig {
                weight_decay: -0.1,
                ..Default::default()
            }),
        ];
        for cfg in bad {
            assert!(
                matches!(build(&cfg, vec![]), Err(Error::Config(_))),
                "{cfg:?}"
            );
        }
    }
}
