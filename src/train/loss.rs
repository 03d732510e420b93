//! Classification losses with PyTorch's semantics: `torch.nn.functional.cross_entropy`
//! and `nll_loss` (class weights, `ignore_index`, label smoothing, reductions),
//! and the masked sequence NLL that seq2seq and language models train on.
//!
//! With log-probabilities `lp = log_softmax(logits)`, class weights `w` (all 1
//! when absent), `m_i = [y_i ≠ ignore_index]` and smoothing ε over C classes,
//! PyTorch's `cross_entropy_loss_label_smoothing` computes per example
//!
//! ```text
//! nll_i    = −w[y_i] · lp[i, y_i] · m_i
//! smooth_i = −Σ_c w[c] · lp[i, c] · m_i        (the class weights apply here too)
//! loss_i   = (1 − ε) · nll_i + (ε / C) · smooth_i
//! ```
//!
//! and `mean` divides both sums by `Σ_i w[y_i] · m_i` (the weighted count of
//! kept targets, not the batch size). All of it is composed from candle ops
//! with a backward pass, so the loss trains. From logits without class
//! weights or an ignored index, [`Kernel::Fused`] computes the same numbers
//! in one op ([`crate::nn::kernels::cross_entropy`]).

use candle_core::{D, DType, Tensor};
use candle_nn::ops::log_softmax;

use crate::nn::kernels::Kernel;
use crate::nn::kernels::cross_entropy::softmax_cross_entropy;
use crate::nn::kernels::linear_cross_entropy::linear_cross_entropy;
use crate::{Error, Result};

/// How per-example losses are combined, as PyTorch's `reduction`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reduction {
    /// Weighted mean over the targets that are not ignored.
    #[default]
    Mean,
    /// Sum over examples.
    Sum,
    /// One loss per example, `[N]` (0 for ignored targets).
    None,
}

/// `torch.nn.CrossEntropyLoss` over `[N, C]` inputs and `[N]` class ids.
#[derive(Clone, Debug, Default)]
pub struct CrossEntropy {
    /// Targets equal to this id contribute nothing, not even to the mean's count.
    pub ignore_index: Option<u32>,
    /// ε in [0, 1]: the target distribution is `(1 − ε)·onehot + ε/C`.
    pub label_smoothing: f64,
    /// A weight per class, `[C]`, in the inputs' dtype or convertible to it.
    pub weight: Option<Tensor>,
    /// How per-example losses are combined.
    pub reduction: Reduction,
    /// [`CrossEntropy::forward`] on the fused softmax cross-entropy where it
    /// applies (no class weights, no ignored index, f32/f64 on the CPU).
    pub kernel: Kernel,
}

impl CrossEntropy {
    /// logits: `[N, C]`, targets: `[N]` (u32) → a scalar, or `[N]` for `Reduction::None`.
    pub fn forward(&self, logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
        if !self.fuses(logits) {
            return self.forward_log_probs(&log_softmax(logits, D::Minus1)?, targets);
        }
        let (n, _) = self.check(logits, targets)?;
        let ids: Vec<u32> = targets.to_dtype(DType::U32)?.to_vec1()?;
        self.reduce_unweighted(
            softmax_cross_entropy(logits, &ids, self.label_smoothing)?,
            n,
        )
    }

    /// The loss of an output layer's logits `x · wᵀ + b` (x `[N, K]`, w
    /// `[C, K]`, b `[C]`) against targets `[N]`: [`CrossEntropy::forward`] of
    /// the logits, with the layer and the loss fused into one op under
    /// [`Kernel::Fused`] (same conditions), so the `[N, C]` logits are never
    /// a graph node.
    pub fn forward_linear(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: Option<&Tensor>,
        targets: &Tensor,
    ) -> Result<Tensor> {
        if !self.fuses(x) || w.dtype() != x.dtype() {
            let logits = x.matmul(&w.t()?)?;
            let logits = match b {
                Some(b) => logits.broadcast_add(b)?,
                None => logits,
            };
            return self.forward(&logits, targets);
        }
        let (n, _) = x.dims2()?;
        let (c, _) = w.dims2()?;
        self.check_sizes(n, c, targets)?;
        let ids: Vec<u32> = targets.to_dtype(DType::U32)?.to_vec1()?;
        let per = linear_cross_entropy(x, w, b, &ids, self.label_smoothing)?;
        self.reduce_unweighted(per, n)
    }

    /// Whether the fused kernels compute this loss for `inputs`: no class
    /// weights, no ignored index, f32/f64 on the CPU, [`Kernel::Fused`].
    fn fuses(&self, inputs: &Tensor) -> bool {
        self.kernel == Kernel::Fused
            && self.weight.is_none()
            && self.ignore_index.is_none()
            && inputs.device().is_cpu()
            && matches!(inputs.dtype(), DType::F32 | DType::F64)
    }

    /// Per-example losses `[N]` reduced as `self.reduction` says, every
    /// example weighing 1 (the fused paths).
    fn reduce_unweighted(&self, per: Tensor, n: usize) -> Result<Tensor> {
        Ok(match self.reduction {
            Reduction::None => per,
            Reduction::Sum => per.sum_all()?,
            Reduction::Mean => (per.sum_all()? / n as f64)?,
        })
    }

    /// Checks ε and that `targets` is `[N]` for inputs `[N, C]` → `(N, C)`.
    fn check(&self, inputs: &Tensor, targets: &Tensor) -> Result<(usize, usize)> {
        let (n, c) = inputs.dims2()?;
        self.check_sizes(n, c, targets)?;
        Ok((n, c))
    }

    /// Checks ε and that `targets` is `[n]` for `n` examples of `c` classes.
    fn check_sizes(&self, n: usize, c: usize, targets: &Tensor) -> Result<()> {
        if !(0.0..=1.0).contains(&self.label_smoothing) {
            return Err(Error::Config(format!(
                "label_smoothing must be in [0, 1], got {}",
                self.label_smoothing
            )));
        }
        if targets.dims() != [n] {
            return Err(Error::Shape(format!(
                "targets have shape {:?}, expected [{n}] for inputs of shape [{n}, {c}]",
                targets.dims()
            )));
        }
        Ok(())
    }

    /// The same loss from log-probabilities `[N, C]`; with `label_smoothing = 0`
    /// this is `torch.nn.functional.nll_loss`.
    pub fn forward_log_probs(&self, log_probs: &Tensor, targets: &Tensor) -> Result<Tensor> {
        let (n, c) = self.check(log_probs, targets)?;
        let dtype = log_probs.dtype();
        let targets = targets.to_dtype(DType::U32)?;
        // Ignored targets may lie outside [0, C): point them at class 0 for the
        // gather and let the mask zero their contribution.
        let (targets, keep) = match self.ignore_index {
            Some(ig) => {
                let keep = targets.ne(ig)?;
                let safe = keep.where_cond(&targets, &targets.zeros_like()?)?;
                (safe, Some(keep.to_dtype(dtype)?))
            }
            None => (targets, None),
        };
        let weight = match &self.weight {
            Some(w) if w.dims() != [c] => {
                return Err(Error::Shape(format!(
                    "class weights have shape {:?}, expected [{c}]",
                    w.dims()
                )));
            }
            Some(w) => Some(w.to_dtype(dtype)?.to_device(log_probs.device())?),
            None => None,
        };
        // Per-example weight w[y_i]·m_i: what the mean divides by.
        let mut ex_w = match &weight {
            Some(w) => Some(w.index_select(&targets, 0)?),
            None => None,
        };
        if let Some(k) = &keep {
            ex_w = Some(match ex_w {
                Some(w) => (w * k)?,
                None => k.clone(),
            });
        }
        let picked = log_probs.gather(&targets.unsqueeze(1)?, 1)?.squeeze(1)?;
        let mut per = match &ex_w {
            Some(w) => (picked * w)?.neg()?,
            None => picked.neg()?,
        };
        let eps = self.label_smoothing;
        if eps > 0.0 {
            let smooth = match &weight {
                Some(w) => log_probs.broadcast_mul(&w.unsqueeze(0)?)?.sum(1)?.neg()?,
                None => log_probs.sum(1)?.neg()?,
            };
            let smooth = match &keep {
                Some(k) => (smooth * k)?,
                None => smooth,
            };
            per = (per.affine(1.0 - eps, 0.0)? + smooth.affine(eps / c as f64, 0.0)?)?;
        }
        Ok(match self.reduction {
            Reduction::None => per,
            Reduction::Sum => per.sum_all()?,
            Reduction::Mean => match &ex_w {
                Some(w) => per.sum_all()?.div(&w.sum_all()?)?,
                None => (per.sum_all()? / n as f64)?,
            },
        })
    }
}

/// Plain mean cross-entropy: logits `[N, C]`, targets `[N]` → scalar.
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    CrossEntropy::default().forward(logits, targets)
}

/// Plain mean negative log-likelihood: log_probs `[N, C]`, targets `[N]` → scalar.
pub fn nll_loss(log_probs: &Tensor, targets: &Tensor) -> Result<Tensor> {
    CrossEntropy::default().forward_log_probs(log_probs, targets)
}

/// Masked sequence NLL averaged over real tokens: log_probs [B, T, C],
/// targets [B, T] (u32), mask [B, T] (1 = real token, any dtype) → scalar
/// `Σ −lp[b, t, y] · mask / Σ mask`. Padded positions may hold any target id
/// below C.
pub fn masked_nll(log_probs: &Tensor, targets: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let (b, t, c) = log_probs.dims3()?;
    if targets.dims() != [b, t] || mask.dims() != [b, t] {
        return Err(Error::Shape(format!(
            "targets {:?} and mask {:?} must both be [{b}, {t}] for log-probs [{b}, {t}, {c}]",
            targets.dims(),
            mask.dims()
        )));
    }
    let mask = mask.to_dtype(log_probs.dtype())?.flatten_all()?;
    let per = CrossEntropy {
        reduction: Reduction::None,
        ..Default::default()
    }
    .forward_log_probs(&log_probs.reshape((b * t, c))?, &targets.flatten_all()?)?;
    Ok((per * &mask)?.sum_all()?.div(&mask.sum_all()?)?)
}

/// [`masked_nll`] from logits [B, T, C].
pub fn masked_cross_entropy(logits: &Tensor, targets: &Tensor, mask: &Tensor) -> Result<Tensor> {
    masked_nll(&log_softmax(logits, D::Minus1)?, targets, mask)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn masked_loss_averages_real_tokens_and_every_logit_gets_a_gradient() -> Result<()> {
        let dev = Device::Cpu;
        let logits = Var::from_slice(
            &[
                0.1f64, 0.5, -0.3, 1.0, 0.2, 0.0, -1.0, 2.0, 0.3, 0.3, 0.3, 0.3,
            ],
            (2, 2, 3),
            &dev,
        )?;
        let targets = Tensor::new(&[[0u32, 2], [1, 0]], &dev)?;
        let mask = Tensor::new(&[[1u8, 1], [1, 0]], &dev)?;
        let loss = masked_cross_entropy(logits.as_tensor(), &targets, &mask)?;
        // Reference: the three real tokens through plain cross-entropy.
        let flat = logits.as_tensor().reshape((4, 3))?;
        let kept = flat.index_select(&Tensor::new(&[0u32, 1, 2], &dev)?, 0)?;
        let want = cross_entropy(&kept, &Tensor::new(&[0u32, 2, 1], &dev)?)?;
        let (l, w) = (loss.to_scalar::<f64>()?, want.to_scalar::<f64>()?);
        assert!((l - w).abs() < 1e-15, "{l} vs {w}");
        let grads = loss.backward()?;
        let g: Vec<f64> = grads
            .get(logits.as_tensor())
            .expect("grad")
            .flatten_all()?
            .to_vec1()?;
        assert!(g[..9].iter().all(|v| *v != 0.0));
        assert!(
            g[9..].iter().all(|v| *v == 0.0),
            "padded step must get no gradient"
        );
        Ok(())
    }

    #[test]
    fn rejects_bad_shapes_and_smoothing() -> Result<()> {
        let dev = Device::Cpu;
        let x = Tensor::zeros((2, 3), DType::F32, &dev)?;
        assert!(cross_entropy(&x, &Tensor::new(&[0u32], &dev)?).is_err());
        let ce = CrossEntropy {
            label_smoothing: 1.5,
            ..Default::default()
        };
        assert!(ce.forward(&x, &Tensor::new(&[0u32, 1], &dev)?).is_err());
        let ce = CrossEntropy {
            weight: Some(Tensor::ones(2, DType::F32, &dev)?),
            ..Default::default()
        };
        assert!(ce.forward(&x, &Tensor::new(&[0u32, 1], &dev)?).is_err());
        Ok(())
    }

    /// The fused kernel ([`softmax_cross_entropy`]) against this module's
    /// reference loss on log-softmax, values and gradients.
    #[test]
    fn fused_kernel_matches_log_softmax_and_the_reference_loss_with_gradients() -> crate::Result<()>
    {
        let (n, v) = (7, 11);
        let data: Vec<f64> = (0..n * v).map(|i| (i as f64 * 0.731).sin() * 3.0).collect();
        let targets: Vec<u32> = (0..n as u32).map(|i| (i * 5) % v as u32).collect();
        for dtype in [DType::F64, DType::F32] {
            let tol = if dtype == DType::F64 { 1e-12 } else { 1e-5 };
            for eps in [0.0, 0.1, 1.0] {
                let x = Var::from_tensor(
                    &Tensor::from_vec(data.clone(), (n, v), &Device::Cpu)?.to_dtype(dtype)?,
                )?;
                let w = Tensor::arange(1.0, (n + 1) as f64, &Device::Cpu)?.to_dtype(dtype)?;
                let fused = softmax_cross_entropy(x.as_tensor(), &targets, eps)?;
                let reference = CrossEntropy {
                    label_smoothing: eps,
                    reduction: Reduction::None,
                    ..CrossEntropy::default()
                }
                .forward_log_probs(
                    &candle_nn::ops::log_softmax(x.as_tensor(), D::Minus1)?,
                    &Tensor::new(targets.as_slice(), &Device::Cpu)?,
                )?;
                let gf = (&fused * &w)?.sum_all()?.backward()?;
                let gr = (&reference * &w)?.sum_all()?.backward()?;
                let diff = crate::nn::kernels::max_abs_diff;
                assert!(diff(&fused, &reference)? < tol, "{dtype:?} ε={eps}: values");
                let (Some(a), Some(b)) = (gf.get(x.as_tensor()), gr.get(x.as_tensor())) else {
                    panic!("no gradient");
                };
                assert!(diff(a, b)? < tol, "{dtype:?} ε={eps}: gradients");
            }
        }
        assert!(
            softmax_cross_entropy(
                &Tensor::zeros((2, 3), DType::F32, &Device::Cpu)?,
                &[0, 3],
                0.0
            )
            .is_err()
        );
        Ok(())
    }
}
