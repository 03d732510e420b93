//! Softmax cross-entropy with label smoothing from logits, fused: one op in
//! place of log-softmax, gather and the smoothing sum (PyTorch's
//! `cross_entropy(logits, y, label_smoothing=ε, reduction='none')`).
//!
//! Per row `i` with `lse = log Σ_j e^{x_j}`:
//! `loss_i = (1 − ε)(lse − x_y) + ε (lse − mean_j x_j)`, and
//! `∂loss_i/∂x = softmax(x) − q` with `q = (1 − ε)·onehot(y) + ε/V`,
//! recomputed from the logits in the backward pass (one `exp` per element),
//! so nothing of size `[N, V]` is kept besides the logits themselves.

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};

use super::Real;
use super::rows::{exp_sum, smoothed_loss, sum_and_max};

/// The op: one target per row and the smoothing ε.
#[derive(Clone, Debug)]
pub struct SoftmaxCrossEntropy {
    /// Class of each row, in `0..V`.
    pub targets: Vec<u32>,
    /// Label smoothing ε in `[0, 1]`.
    pub label_smoothing: f64,
}

/// `(max, log Σ e^{x − max})` of a row.
#[inline(always)]
fn log_sum_exp<T: Real>(row: &[T]) -> (T, T) {
    let (_, m) = sum_and_max(row);
    (m, exp_sum(row, m).ln())
}

impl SoftmaxCrossEntropy {
    fn check(&self, layout: &Layout) -> candle_core::Result<(usize, usize)> {
        let (n, v) = layout.shape().dims2()?;
        if self.targets.len() != n || v == 0 {
            candle_core::bail!(
                "cross-entropy kernel: {} targets for logits {:?}",
                self.targets.len(),
                layout.shape()
            );
        }
        if let Some(&y) = self.targets.iter().find(|&&y| y as usize >= v) {
            candle_core::bail!("cross-entropy kernel: target {y} outside 0..{v}");
        }
        Ok((n, v))
    }

    fn forward<T: Real>(&self, x: &[T], v: usize) -> Vec<T> {
        losses(x, &self.targets, v, T::of(self.label_smoothing))
    }

    fn backward<T: Real>(&self, x: &[T], grad: &[T], v: usize) -> Vec<T> {
        gradients(x, &self.targets, grad, v, T::of(self.label_smoothing))
    }
}

widest! {
    /// The rows' losses against `targets` with label smoothing `eps`,
    /// compiled for the widest vectors this CPU has.
    fn losses / losses_body<T: Real>(x: &[T], targets: &[u32], v: usize, eps: T) -> Vec<T> {
        let inv_v = T::of(1.0 / v as f64);
        let mut out = Vec::with_capacity(targets.len());
        for (row, &y) in x.chunks(v).zip(targets) {
            let (sum, m) = sum_and_max(row);
            let lse = m + exp_sum(row, m).ln();
            out.push(smoothed_loss(lse, row[y as usize], sum, eps, inv_v));
        }
        out
    }
}

widest! {
    /// `∂L/∂logits` from the rows' loss gradients `grad`, compiled for the
    /// widest vectors this CPU has.
    fn gradients / gradients_body<T: Real>(
        x: &[T],
        targets: &[u32],
        grad: &[T],
        v: usize,
        eps: T,
    ) -> Vec<T> {
        let off = eps * T::of(1.0 / v as f64);
        let mut out = vec![T::ZERO; x.len()];
        for ((row, d), (&y, &g)) in x.chunks(v).zip(out.chunks_mut(v)).zip(targets.iter().zip(grad)) {
            let (m, l) = log_sum_exp(row);
            let lse = m + l;
            for (dj, &xj) in d.iter_mut().zip(row) {
                *dj = g * ((xj - lse).exp() - off);
            }
            d[y as usize] = d[y as usize] - g * (T::ONE - eps);
        }
        out
    }
}

impl CustomOp1 for SoftmaxCrossEntropy {
    fn name(&self) -> &'static str {
        "softmax-cross-entropy"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (n, v) = self.check(l)?;
        let Some((a, b)) = l.contiguous_offsets() else {
            candle_core::bail!("cross-entropy kernel: logits must be contiguous");
        };
        let out = match s {
            CpuStorage::F32(x) => CpuStorage::F32(self.forward(&x[a..b], v)),
            CpuStorage::F64(x) => CpuStorage::F64(self.forward(&x[a..b], v)),
            _ => candle_core::bail!("cross-entropy kernel: f32 or f64 logits only"),
        };
        Ok((out, Shape::from(n)))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let (_, v) = self.check(arg.layout())?;
        macro_rules! run {
            ($t:ty) => {{
                let x = arg.flatten_all()?.to_vec1::<$t>()?;
                let g = grad.flatten_all()?.to_vec1::<$t>()?;
                Tensor::from_vec(self.backward(&x, &g, v), arg.shape(), arg.device())?
            }};
        }
        let d = match arg.dtype() {
            candle_core::DType::F32 => run!(f32),
            candle_core::DType::F64 => run!(f64),
            other => candle_core::bail!("cross-entropy kernel: no backward for {other:?}"),
        };
        Ok(Some(d))
    }
}

/// Per-row label-smoothed cross-entropy of `logits [N, V]` against `targets`
/// (`N` classes in `0..V`) → `[N]`, with a backward pass to the logits.
pub fn softmax_cross_entropy(
    logits: &Tensor,
    targets: &[u32],
    label_smoothing: f64,
) -> candle_core::Result<Tensor> {
    logits.contiguous()?.apply_op1(SoftmaxCrossEntropy {
        targets: targets.to_vec(),
        label_smoothing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The row passes compiled for this CPU's widest vectors give the
    /// baseline build's bits.
    #[test]
    fn widest_build_equals_the_baseline_bit_for_bit() {
        let (x, targets, grad, v) = super::super::rows::sample_rows();
        assert!(losses(&x, &targets, v, 0.1) == losses_body(&x, &targets, v, 0.1));
        assert!(
            gradients(&x, &targets, &grad, v, 0.1) == gradients_body(&x, &targets, &grad, v, 0.1)
        );
    }
}
