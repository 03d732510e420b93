//! Stochastic gradient descent with momentum, as `torch.optim.SGD`.
//!
//! Per parameter, with gradient `g` (Sutskever et al. 2013 for the Nesterov form,
//! in PyTorch's formulation):
//!
//! ```text
//! g ← g + weight_decay · p                   (L2, before momentum)
//! b ← g                                      on the first step (no dampening)
//! b ← momentum · b + (1 − dampening) · g     afterwards
//! g ← g + momentum · b   (nesterov)   or   g ← b
//! p ← p − lr · g
//! ```

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};
use serde::{Deserialize, Serialize};

use super::{
    LR_KEY, Optimizer, buffer, check_keys, check_params, ensure, grad_of, lr_tensor, saved_lr,
};
use crate::nn::kernels::inplace::{self, Elementwise};
use crate::nn::kernels::{Kernel, Real, default_kernel};
use crate::nn::record::RowGrad;
use crate::{Error, Result};

/// Settings of [`Sgd`]; defaults are PyTorch's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SgdConfig {
    /// Learning rate.
    pub lr: f64,
    /// Momentum factor (0 = plain SGD).
    pub momentum: f64,
    /// Dampening of the gradient's share of the momentum buffer.
    pub dampening: f64,
    /// Nesterov momentum (needs `momentum > 0` and `dampening == 0`).
    pub nesterov: bool,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig {
            lr: 1e-3,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        }
    }
}

impl SgdConfig {
    /// PyTorch's checks, plus a positive, finite learning rate.
    pub fn validate(&self) -> Result<()> {
        ensure(self.lr > 0.0 && self.lr.is_finite(), || {
            format!("sgd: learning rate must be positive, got {}", self.lr)
        })?;
        ensure(self.momentum >= 0.0 && self.momentum.is_finite(), || {
            format!("sgd: momentum must be >= 0, got {}", self.momentum)
        })?;
        ensure(self.dampening.is_finite(), || {
            format!("sgd: dampening must be finite, got {}", self.dampening)
        })?;
        ensure(
            self.weight_decay >= 0.0 && self.weight_decay.is_finite(),
            || format!("sgd: weight_decay must be >= 0, got {}", self.weight_decay),
        )?;
        ensure(
            !self.nesterov || (self.momentum > 0.0 && self.dampening == 0.0),
            || "sgd: Nesterov momentum requires a momentum and zero dampening".to_string(),
        )
    }
}

struct Param {
    name: String,
    var: Var,
    /// PyTorch's `momentum_buffer`; `None` until the first step with a gradient.
    buf: Option<Tensor>,
}

/// `torch.optim.SGD` (one parameter group, `maximize=False`).
pub struct Sgd {
    cfg: SgdConfig,
    params: Vec<Param>,
    /// In-place kernels where they can run, or tensor ops throughout.
    kernel: Kernel,
}

/// `p ← p − lr · (g + weight_decay · p)` in one in-place pass: the step
/// without momentum, with the tensor path's operations in its order (so the
/// same bits). Through tensor ops it is three parameter-sized passes and
/// allocations — most of a batch-1 step of the tutorial model.
struct PlainStep {
    lr: f64,
    weight_decay: f64,
}

impl Elementwise<1> for PlainStep {
    const NAME: &'static str = "sgd-step";
    fn apply<T: Real>(&self, w: &mut [T], [g]: [&[T]; 1]) {
        let lr = T::of(self.lr);
        let wd = (self.weight_decay != 0.0).then(|| T::of(self.weight_decay));
        for (w, &g) in w.iter_mut().zip(g) {
            let g = match wd {
                Some(wd) => g + (*w * wd + T::ZERO),
                None => g,
            };
            *w = *w - (g * lr + T::ZERO);
        }
    }
}

const BUF: &str = "momentum_buffer";

impl Sgd {
    /// An optimizer over `vars` (as `ParamStore::vars()` gives them).
    pub fn new(cfg: &SgdConfig, vars: Vec<(String, Var)>) -> Result<Self> {
        cfg.validate()?;
        check_params(&vars)?;
        let params = vars
            .into_iter()
            .map(|(name, var)| Param {
                name,
                var,
                buf: None,
            })
            .collect();
        Ok(Sgd {
            cfg: cfg.clone(),
            params,
            kernel: default_kernel(),
        })
    }

    /// The same optimizer stepping with `kernel` (the process default otherwise).
    pub fn with_kernel(mut self, kernel: Kernel) -> Self {
        self.kernel = kernel;
        self
    }
}

impl Optimizer for Sgd {
    fn step(&mut self, grads: &GradStore) -> Result<()> {
        let c = &self.cfg;
        for p in &mut self.params {
            let Some(mut g) = grad_of(grads, &p.var) else {
                continue;
            };
            let w = p.var.as_detached_tensor();
            if self.kernel == Kernel::Fused && c.momentum == 0.0 {
                let g = g.contiguous()?;
                let op = PlainStep {
                    lr: c.lr,
                    weight_decay: c.weight_decay,
                };
                if inplace::eligible(&w, &[&g]) && inplace::update1(&w, &g, &op)? {
                    continue;
                }
            }
            if c.weight_decay != 0.0 {
                g = (g + w.affine(c.weight_decay, 0.0)?)?;
            }
            if c.momentum != 0.0 {
                let b = match p.buf.take() {
                    // torch: `buf = torch.clone(grad)`; tensors here are
                    // immutable, so sharing the gradient is a clone.
                    None => g.clone(),
                    Some(b) => (b.affine(c.momentum, 0.0)? + g.affine(1.0 - c.dampening, 0.0)?)?,
                };
                g = if c.nesterov {
                    (g + b.affine(c.momentum, 0.0)?)?
                } else {
                    b.clone()
                };
                p.buf = Some(b);
            }
            p.var.set(&(w - g.affine(c.lr, 0.0)?)?)?;
        }
        Ok(())
    }

    fn takes_rows(&self) -> bool {
        self.kernel == Kernel::Fused && self.cfg.momentum == 0.0 && self.cfg.weight_decay == 0.0
    }

    /// The rows' plain step: the bits the dense step gives those rows
    /// (and every other row keeps its value, as the dense step's zero
    /// gradient leaves it).
    fn step_rows(&mut self, rows: &[RowGrad]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        if !self.takes_rows() {
            return Err(Error::Config(
                "SGD with momentum or weight decay moves every row: it needs dense gradients"
                    .into(),
            ));
        }
        let op = PlainStep {
            lr: self.cfg.lr,
            weight_decay: 0.0,
        };
        for r in rows {
            let Some(p) = self.params.iter().find(|p| p.var.id() == r.var.id()) else {
                continue;
            };
            // Rows are recorded only for f32/f64 tables on the CPU, which the
            // kernel writes.
            if !inplace::update_rows(&p.var.as_detached_tensor(), &r.ids, &r.rows, &op)? {
                return Err(Error::Config(format!(
                    "row gradients for {}: the table is not an f32/f64 CPU tensor",
                    p.name
                )));
            }
        }
        Ok(())
    }

    fn lr(&self) -> f64 {
        self.cfg.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.cfg.lr = lr;
    }

    fn state(&self) -> Result<HashMap<String, Tensor>> {
        let mut out = HashMap::from([(LR_KEY.to_string(), lr_tensor(self.cfg.lr)?)]);
        for p in &self.params {
            if let Some(b) = &p.buf {
                out.insert(format!("{}.{BUF}", p.name), b.copy()?);
            }
        }
        Ok(out)
    }

    fn load_state(&mut self, state: &HashMap<String, Tensor>) -> Result<()> {
        check_keys(state, self.params.iter().map(|p| p.name.as_str()), &[BUF])?;
        // Read everything before changing anything, so a bad entry leaves the
        // optimizer as it was.
        let mut bufs = Vec::with_capacity(self.params.len());
        for p in &self.params {
            bufs.push(buffer(state, &format!("{}.{BUF}", p.name), &p.var)?);
        }
        let lr = saved_lr(state)?;
        for (p, b) in self.params.iter_mut().zip(bufs) {
            p.buf = b;
        }
        if let Some(lr) = lr {
            self.cfg.lr = lr;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{bits, paired_grads, params};
    use super::*;
    use candle_core::DType;

    /// The in-place step and the tensor ops give the same bits, with and
    /// without weight decay, in f32 and f64, on a parameter large enough to
    /// be split over the pool and on a strided gradient.
    #[test]
    fn fused_plain_step_matches_the_reference_bit_for_bit() {
        for (dtype, weight_decay) in [(DType::F32, 0.0), (DType::F32, 0.01), (DType::F64, 0.01)] {
            let (a, b) = (params(dtype, 1), params(dtype, 1));
            let cfg = SgdConfig {
                lr: 0.05,
                weight_decay,
                ..SgdConfig::default()
            };
            let mut fused = Sgd::new(&cfg, a.clone())
                .unwrap()
                .with_kernel(Kernel::Fused);
            let mut reference = Sgd::new(&cfg, b.clone())
                .unwrap()
                .with_kernel(Kernel::Reference);
            for step in 0..3 {
                let (ga, gb) = paired_grads(&a, &b, dtype, step == 1);
                fused.step(&ga).unwrap();
                reference.step(&gb).unwrap();
            }
            for (((n, va), (_, vb)), (_, v0)) in a.iter().zip(&b).zip(params(dtype, 1)) {
                assert_eq!(bits(va), bits(vb), "{n} {dtype:?} wd {weight_decay}");
                // The step moved the parameter.
                assert_ne!(bits(va), bits(&v0));
            }
        }
    }
}
