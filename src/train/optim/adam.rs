//! Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019), as
//! `torch.optim.Adam` / `torch.optim.AdamW` (`amsgrad=False`).
//!
//! Per parameter, at step `t` with gradient `g`:
//!
//! ```text
//! Adam:  g ← g + weight_decay · p            (L2 through the gradient)
//! AdamW: p ← p · (1 − lr · weight_decay)     (decoupled, before the moments)
//! m ← lerp(m, g, 1 − β1)          v ← β2 · v + (1 − β2) · g²
//! denom = √v / √(1 − β2^t) + eps
//! p ← p − lr / (1 − β1^t) · m / denom
//! ```
//!
//! The bias corrections are applied exactly where PyTorch applies them (to the
//! step size and to `√v`, not to `m` and `v`), so `eps` means the same thing.

use std::collections::HashMap;
use std::sync::Mutex;

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};
use serde::{Deserialize, Serialize};

use super::adam_pass::{Apply, FirstMoment, Host, Pass, SecondMoment};
use super::{
    LR_KEY, Optimizer, buffer, check_keys, check_params, count, count_tensor, ensure, grad_of,
    lr_tensor, saved_lr,
};
use crate::Result;
use crate::nn::kernels::inplace;
use crate::nn::kernels::{Kernel, default_kernel};

/// Settings of [`Adam`]; defaults are PyTorch's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f64,
    /// Decay rates of the first and second moment estimates.
    pub betas: (f64, f64),
    /// Added to the denominator for numerical stability.
    pub eps: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

/// Settings of [`AdamW`]; defaults are PyTorch's (note `weight_decay = 0.01`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdamWConfig {
    /// Learning rate.
    pub lr: f64,
    /// Decay rates of the first and second moment estimates.
    pub betas: (f64, f64),
    /// Added to the denominator for numerical stability.
    pub eps: f64,
    /// Decoupled weight decay: parameters shrink by `lr · weight_decay` per step.
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 1e-2,
        }
    }
}

/// The checks of `torch.optim.Adam(W).__init__`, plus a positive learning rate.
fn validate(name: &str, lr: f64, betas: (f64, f64), eps: f64, wd: f64) -> Result<()> {
    ensure(lr > 0.0 && lr.is_finite(), || {
        format!("{name}: learning rate must be positive, got {lr}")
    })?;
    for (i, b) in [betas.0, betas.1].into_iter().enumerate() {
        ensure((0.0..1.0).contains(&b), || {
            format!("{name}: beta parameter at index {i} must be in [0, 1), got {b}")
        })?;
    }
    ensure(eps >= 0.0 && eps.is_finite(), || {
        format!("{name}: eps must be >= 0, got {eps}")
    })?;
    ensure(wd >= 0.0 && wd.is_finite(), || {
        format!("{name}: weight_decay must be >= 0, got {wd}")
    })
}

impl AdamConfig {
    /// PyTorch's checks, plus a positive, finite learning rate.
    pub fn validate(&self) -> Result<()> {
        validate("adam", self.lr, self.betas, self.eps, self.weight_decay)
    }
}

impl AdamWConfig {
    /// PyTorch's checks, plus a positive, finite learning rate.
    pub fn validate(&self) -> Result<()> {
        validate("adamw", self.lr, self.betas, self.eps, self.weight_decay)
    }
}

struct Param {
    name: String,
    var: Var,
    /// Steps taken with a gradient (PyTorch keeps one count per parameter).
    step: u64,
    /// `exp_avg` and `exp_avg_sq`.
    moments: Moments,
}

/// A parameter's `exp_avg` and `exp_avg_sq`, where they are kept between
/// steps.
enum Moments {
    /// Before the first step with a gradient.
    None,
    /// As tensors: the reference path's, and state just loaded.
    Tensors(Tensor, Tensor),
    /// As the fused path's own flat buffers, in the parameter's dtype.
    Host(Host),
}

impl Param {
    /// Copies of the moments as tensors shaped like the parameter.
    fn moment_tensors(&self) -> Result<Option<(Tensor, Tensor)>> {
        Ok(match &self.moments {
            Moments::None => None,
            Moments::Tensors(m, v) => Some((m.copy()?, v.copy()?)),
            Moments::Host(h) => Some(h.tensors(&self.var)?),
        })
    }

    /// The moments as tensors, taken out of the parameter (the reference
    /// path puts its new ones back).
    fn take_tensors(&mut self) -> Result<Option<(Tensor, Tensor)>> {
        Ok(match std::mem::replace(&mut self.moments, Moments::None) {
            Moments::None => None,
            Moments::Tensors(m, v) => Some((m, v)),
            Moments::Host(h) => Some(h.tensors(&self.var)?),
        })
    }

    /// The moments as buffers of `g`'s dtype (zeros before the first step),
    /// taken out of the parameter (the fused path puts them back).
    fn take_host(&mut self, g: &Tensor) -> Result<Host> {
        let flat = |t: &Tensor| t.flatten_all().map_err(crate::Error::from);
        let f64 = g.dtype() == candle_core::DType::F64;
        Ok(match std::mem::replace(&mut self.moments, Moments::None) {
            Moments::Host(h) => h,
            Moments::Tensors(m, v) if f64 => Host::F64(flat(&m)?.to_vec1()?, flat(&v)?.to_vec1()?),
            Moments::Tensors(m, v) => Host::F32(flat(&m)?.to_vec1()?, flat(&v)?.to_vec1()?),
            Moments::None if f64 => Host::F64(vec![0.0; g.elem_count()], vec![0.0; g.elem_count()]),
            Moments::None => Host::F32(vec![0.0; g.elem_count()], vec![0.0; g.elem_count()]),
        })
    }
}

/// The update both variants share; `decoupled` picks AdamW's weight decay.
struct Core {
    lr: f64,
    betas: (f64, f64),
    eps: f64,
    weight_decay: f64,
    decoupled: bool,
    params: Vec<Param>,
    /// In-place kernels where they can run, or tensor ops throughout.
    kernel: Kernel,
}

const STEP: &str = "step";
const EXP_AVG: &str = "exp_avg";
const EXP_AVG_SQ: &str = "exp_avg_sq";

/// `torch.lerp(a, b, w)` with PyTorch's two-sided formula, which keeps the
/// result exact at both ends.
fn lerp(a: &Tensor, b: &Tensor, w: f64) -> Result<Tensor> {
    let d = (b - a)?;
    Ok(if w.abs() < 0.5 {
        (a + d.affine(w, 0.0)?)?
    } else {
        (b - d.affine(1.0 - w, 0.0)?)?
    })
}

impl Core {
    fn new(
        vars: Vec<(String, Var)>,
        lr: f64,
        betas: (f64, f64),
        eps: f64,
        wd: f64,
        decoupled: bool,
    ) -> Result<Self> {
        check_params(&vars)?;
        let params = vars
            .into_iter()
            .map(|(name, var)| Param {
                name,
                var,
                step: 0,
                moments: Moments::None,
            })
            .collect();
        Ok(Core {
            lr,
            betas,
            eps,
            weight_decay: wd,
            decoupled,
            params,
            kernel: default_kernel(),
        })
    }

    fn step(&mut self, grads: &GradStore) -> Result<()> {
        let (b1, b2) = self.betas;
        let fused = self.kernel == Kernel::Fused;
        for i in 0..self.params.len() {
            let Some(mut g) = grad_of(grads, &self.params[i].var) else {
                continue;
            };
            let mut w = self.params[i].var.as_detached_tensor();
            self.params[i].step += 1;
            if fused && self.fused_step(i, &g, &w)? {
                continue;
            }
            let p = &mut self.params[i];
            let moments = p.take_tensors()?;
            if self.weight_decay != 0.0 {
                if self.decoupled {
                    w = w.affine(1.0 - self.lr * self.weight_decay, 0.0)?;
                } else {
                    g = (g + w.affine(self.weight_decay, 0.0)?)?;
                }
            }
            let (m, v) = match moments {
                Some(mv) => mv,
                None => (g.zeros_like()?, g.zeros_like()?),
            };
            let m = lerp(&m, &g, 1.0 - b1)?;
            let v = (v.affine(b2, 0.0)? + g.sqr()?.affine(1.0 - b2, 0.0)?)?;
            // `beta ** step` in Python is C's pow on doubles, as is powf.
            let t = p.step as f64;
            let bias_c1 = 1.0 - b1.powf(t);
            let bias_c2 = 1.0 - b2.powf(t);
            let step_size = self.lr / bias_c1;
            // √v / √bias_c2 + eps in one pass (x · (1/s) + eps, as torch's division does).
            let denom = v.sqrt()?.affine(1.0 / bias_c2.sqrt(), self.eps)?;
            p.var.set(&(w - (&m / &denom)?.affine(step_size, 0.0)?)?)?;
            p.moments = Moments::Tensors(m, v);
        }
        Ok(())
    }

    /// The step of one parameter as one in-place pass over parameter,
    /// gradient and moments (per chunk, the three element rules of the
    /// tensor ops of [`Core::step`] in their order, so the same bits);
    /// `false`, with nothing changed, where the kernels cannot run.
    fn fused_step(&mut self, i: usize, g: &Tensor, w: &Tensor) -> Result<bool> {
        let g = g.contiguous()?;
        if !inplace::eligible(w, &[&g]) {
            return Ok(false);
        }
        let (b1, b2) = self.betas;
        let l2 = if self.decoupled {
            0.0
        } else {
            self.weight_decay
        };
        let t = self.params[i].step as f64;
        let bias_c2 = 1.0 - b2.powf(t);
        let mut host = self.params[i].take_host(&g)?;
        let pass = Pass {
            host: Mutex::new(&mut host),
            first: FirstMoment {
                weight: 1.0 - b1,
                l2,
            },
            second: SecondMoment { beta2: b2, l2 },
            apply: Apply {
                decay: (self.decoupled && self.weight_decay != 0.0)
                    .then_some(1.0 - self.lr * self.weight_decay),
                inv_sqrt_bias_c2: 1.0 / bias_c2.sqrt(),
                eps: self.eps,
                step_size: self.lr / (1.0 - b1.powf(t)),
            },
        };
        let done = w.inplace_op2(&g, &pass);
        self.params[i].moments = Moments::Host(host);
        done?;
        Ok(true)
    }

    fn state(&self) -> Result<HashMap<String, Tensor>> {
        let mut out = HashMap::from([(LR_KEY.to_string(), lr_tensor(self.lr)?)]);
        for p in &self.params {
            if let Some((m, v)) = p.moment_tensors()? {
                out.insert(format!("{}.{STEP}", p.name), count_tensor(p.step)?);
                out.insert(format!("{}.{EXP_AVG}", p.name), m);
                out.insert(format!("{}.{EXP_AVG_SQ}", p.name), v);
            }
        }
        Ok(out)
    }

    fn load_state(&mut self, state: &HashMap<String, Tensor>) -> Result<()> {
        let names = self.params.iter().map(|p| p.name.as_str());
        check_keys(state, names, &[STEP, EXP_AVG, EXP_AVG_SQ])?;
        // Read everything before changing anything, so a bad entry leaves the
        // optimizer as it was.
        let mut loaded = Vec::with_capacity(self.params.len());
        for p in &self.params {
            let key = |s: &str| format!("{}.{s}", p.name);
            let step = state
                .get(&key(STEP))
                .map(|t| count(&key(STEP), t))
                .transpose()?;
            let m = buffer(state, &key(EXP_AVG), &p.var)?;
            let v = buffer(state, &key(EXP_AVG_SQ), &p.var)?;
            loaded.push(match (step, m, v) {
                (None, None, None) => (0, None),
                (Some(s), Some(m), Some(v)) => (s, Some((m, v))),
                _ => {
                    return Err(crate::Error::Config(format!(
                        "optimizer state for `{}` must have all of {STEP}, {EXP_AVG}, {EXP_AVG_SQ} or none",
                        p.name
                    )));
                }
            });
        }
        let lr = saved_lr(state)?;
        for (p, (step, moments)) in self.params.iter_mut().zip(loaded) {
            p.step = step;
            p.moments = match moments {
                Some((m, v)) => Moments::Tensors(m, v),
                None => Moments::None,
            };
        }
        if let Some(lr) = lr {
            self.lr = lr;
        }
        Ok(())
    }
}

/// `torch.optim.Adam` (one parameter group, `amsgrad=False`, `maximize=False`).
pub struct Adam(Core);

impl Adam {
    /// An optimizer over `vars` (as `ParamStore::vars()` gives them).
    pub fn new(cfg: &AdamConfig, vars: Vec<(String, Var)>) -> Result<Self> {
        cfg.validate()?;
        Core::new(vars, cfg.lr, cfg.betas, cfg.eps, cfg.weight_decay, false).map(Adam)
    }

    /// The same optimizer stepping with `kernel` (the process default otherwise).
    pub fn with_kernel(mut self, kernel: Kernel) -> Self {
        self.0.kernel = kernel;
        self
    }
}

/// `torch.optim.AdamW` (one parameter group, `amsgrad=False`, `maximize=False`).
pub struct AdamW(Core);

impl AdamW {
    /// An optimizer over `vars` (as `ParamStore::vars()` gives them).
    pub fn new(cfg: &AdamWConfig, vars: Vec<(String, Var)>) -> Result<Self> {
        cfg.validate()?;
        Core::new(vars, cfg.lr, cfg.betas, cfg.eps, cfg.weight_decay, true).map(AdamW)
    }

    /// The same optimizer stepping with `kernel` (the process default otherwise).
    pub fn with_kernel(mut self, kernel: Kernel) -> Self {
        self.0.kernel = kernel;
        self
    }
}

/// Both variants are the shared core behind a name, so they cannot drift apart.
macro_rules! delegate_optimizer {
    ($t:ty) => {
        impl Optimizer for $t {
            fn step(&mut self, grads: &GradStore) -> Result<()> {
                self.0.step(grads)
            }
            fn lr(&self) -> f64 {
                self.0.lr
            }
            fn set_lr(&mut self, lr: f64) {
                self.0.lr = lr;
            }
            fn state(&self) -> Result<HashMap<String, Tensor>> {
                self.0.state()
            }
            fn load_state(&mut self, state: &HashMap<String, Tensor>) -> Result<()> {
                self.0.load_state(state)
            }
        }
    };
}

delegate_optimizer!(Adam);
delegate_optimizer!(AdamW);

#[cfg(test)]
#[path = "adam_tests.rs"]
mod tests;
