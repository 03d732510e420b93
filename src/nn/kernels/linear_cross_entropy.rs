//! The output layer and its softmax cross-entropy as one op: per-row losses
//! of `x · Wᵀ + b` against class ids, with label smoothing, and the
//! gradients of `x`, `W` and `b` (PyTorch's
//! `cross_entropy(linear(x, W, b), y, label_smoothing=ε, reduction='none')`).
//!
//! Through the graph, the `[N, V]` logits of a vocabulary-sized output layer
//! are written, broadcast-added, copied into a log-softmax and back again in
//! backward, with a zero-filled gradient buffer for every node and a strided
//! column sum for the bias. Here the logits live in one buffer: the forward
//! pass turns them into softmax probabilities in place and keeps them for
//! the backward pass, which overwrites them with `∂loss/∂logits` and runs
//! the two products (`dx = d·W`, `dW = dᵀ·x`) and one row sum for `db`.
//!
//! Per row `i` with `lse = log Σ_j e^{z_j}`:
//! `loss_i = (1 − ε)(lse − z_y) + ε (lse − mean_j z_j)` and
//! `∂loss_i/∂z = softmax(z) − q`, `q = (1 − ε)·onehot(y) + ε/V`.

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp3, Layout, Shape, Tensor};

use super::rows::{exp_shifted, smoothed_loss, sum_and_max};
use super::{Real, linear, read_cpu, slice_of};

/// The op: one class per row and the smoothing ε; the forward pass leaves
/// its probabilities here for the backward pass.
#[derive(Debug)]
pub struct LinearCrossEntropy {
    targets: Vec<u32>,
    label_smoothing: f64,
    probs: Mutex<Option<CpuStorage>>,
}

impl LinearCrossEntropy {
    /// Checks shapes: x `[N, K]`, w `[V, K]`, b `[V]`, one target per row in `0..V`.
    fn dims(
        &self,
        x: &Layout,
        w: &Layout,
        b: &Layout,
    ) -> candle_core::Result<(usize, usize, usize)> {
        let (n, k) = x.shape().dims2()?;
        let (v, k2) = w.shape().dims2()?;
        if k2 != k || b.shape().dims() != [v] || self.targets.len() != n || v == 0 {
            candle_core::bail!(
                "linear cross-entropy: x {:?}, weight {:?}, bias {:?}, {} targets",
                x.shape(),
                w.shape(),
                b.shape(),
                self.targets.len()
            );
        }
        if let Some(&y) = self.targets.iter().find(|&&y| y as usize >= v) {
            candle_core::bail!("linear cross-entropy: target {y} outside 0..{v}");
        }
        Ok((n, k, v))
    }

    /// Losses `[N]`; `z` (`[N, V]`) ends holding the softmax probabilities.
    fn forward<T: Real>(
        &self,
        x: &[T],
        w: &[T],
        b: &[T],
        dims: (usize, usize, usize),
    ) -> (Vec<T>, Vec<T>) {
        let v = dims.2;
        let mut z = linear::forward(x, w, b, dims);
        let eps = T::of(self.label_smoothing);
        let losses = softmax_losses(&mut z, &self.targets, v, eps);
        (losses, z)
    }

    /// Turns the probabilities `p` into `∂L/∂logits` in place, from `∂L/∂loss`.
    fn logit_gradients<T: Real>(&self, p: &mut [T], grad: &[T], v: usize) {
        let eps = T::of(self.label_smoothing);
        logit_gradients(p, &self.targets, grad, v, eps);
    }
}

widest! {
    /// Each row of `v` logits in `z` replaced by its softmax; the rows'
    /// losses against `targets` with label smoothing `eps`. Compiled for the
    /// widest vectors this CPU has.
    fn softmax_losses / softmax_losses_body<T: Real>(
        z: &mut [T],
        targets: &[u32],
        v: usize,
        eps: T,
    ) -> Vec<T> {
        let inv_v = T::of(1.0 / v as f64);
        let mut losses = Vec::with_capacity(targets.len());
        for (row, &y) in z.chunks_mut(v).zip(targets) {
            let (sum, m) = sum_and_max(row);
            let zy = row[y as usize];
            let s = exp_shifted(row, m);
            let inv_s = T::ONE / s;
            for zj in row.iter_mut() {
                *zj = *zj * inv_s;
            }
            let lse = m + s.ln();
            losses.push(smoothed_loss(lse, zy, sum, eps, inv_v));
        }
        losses
    }
}

widest! {
    /// The softmax rows `p` turned into `∂L/∂logits` in place, from the
    /// rows' loss gradients `grad`. Compiled for the widest vectors.
    fn logit_gradients / logit_gradients_body<T: Real>(
        p: &mut [T],
        targets: &[u32],
        grad: &[T],
        v: usize,
        eps: T,
    ) -> () {
        let off = eps * T::of(1.0 / v as f64);
        let hit = T::ONE - eps;
        for ((row, &y), &g) in p.chunks_mut(v).zip(targets).zip(grad) {
            for dj in row.iter_mut() {
                *dj = g * (*dj - off);
            }
            let y = y as usize;
            row[y] = row[y] - g * hit;
        }
    }
}

impl CustomOp3 for LinearCrossEntropy {
    fn name(&self) -> &'static str {
        "linear-cross-entropy"
    }

    fn cpu_fwd(
        &self,
        sx: &CpuStorage,
        lx: &Layout,
        sw: &CpuStorage,
        lw: &Layout,
        sb: &CpuStorage,
        lb: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let dims = self.dims(lx, lw, lb)?;
        let (losses, probs) = match sx {
            CpuStorage::F32(_) => {
                let (l, p) = self.forward(
                    slice_of::<f32>(sx, lx)?,
                    slice_of(sw, lw)?,
                    slice_of(sb, lb)?,
                    dims,
                );
                (CpuStorage::F32(l), CpuStorage::F32(p))
            }
            CpuStorage::F64(_) => {
                let (l, p) = self.forward(
                    slice_of::<f64>(sx, lx)?,
                    slice_of(sw, lw)?,
                    slice_of(sb, lb)?,
                    dims,
                );
                (CpuStorage::F64(l), CpuStorage::F64(p))
            }
            _ => candle_core::bail!("linear cross-entropy: f32 or f64 only"),
        };
        *self.probs.lock().map_err(|_| {
            candle_core::Error::Msg("linear cross-entropy: poisoned cache".into())
        })? = Some(probs);
        Ok((losses, Shape::from(dims.0)))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let dims = self.dims(x.layout(), w.layout(), b.layout())?;
        let cached = self
            .probs
            .lock()
            .map_err(|_| candle_core::Error::Msg("linear cross-entropy: poisoned cache".into()))?
            .take();
        let grad = grad.contiguous()?;
        macro_rules! run {
            ($t:ty, $variant:ident) => {{
                // A second backward through the same graph recomputes them.
                let mut p = match cached {
                    Some(CpuStorage::$variant(p)) => p,
                    _ => read_cpu::<$t, _>(x, |xs| {
                        read_cpu::<$t, _>(w, |ws| {
                            read_cpu::<$t, _>(b, |bs| Ok(self.forward(xs, ws, bs, dims).1))
                        })
                    })?,
                };
                read_cpu::<$t, _>(&grad, |g| {
                    self.logit_gradients(&mut p, g, dims.2);
                    Ok(())
                })?;
                linear::gradients(&p, x, w, dims)
            }};
        }
        match x.dtype() {
            candle_core::DType::F32 => run!(f32, F32),
            candle_core::DType::F64 => run!(f64, F64),
            other => candle_core::bail!("linear cross-entropy: no backward for {other:?}"),
        }
    }
}

/// Per-row label-smoothed cross-entropy of `x · wᵀ + b` (`x [N, K]`,
/// `w [V, K]`, `b [V]` or none) against `targets` (`N` classes in `0..V`) →
/// `[N]`, with a backward pass to `x`, `w` and `b`.
pub fn linear_cross_entropy(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    targets: &[u32],
    label_smoothing: f64,
) -> candle_core::Result<Tensor> {
    let op = LinearCrossEntropy {
        targets: targets.to_vec(),
        label_smoothing,
        probs: Mutex::new(None),
    };
    let b = linear::bias_or_zeros(b, w.dim(0)?, x)?;
    crate::nn::record::apply_op3(&x.contiguous()?, &w.contiguous()?, &b, op)
}

/// Used once a batch: its gradients stay dense.
impl crate::nn::record::RecordableOp for LinearCrossEntropy {}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, Var};

    use super::*;
    use crate::nn::kernels::cross_entropy::softmax_cross_entropy;

    /// The row passes compiled for this CPU's widest vectors give the
    /// baseline build's bits.
    #[test]
    fn widest_build_equals_the_baseline_bit_for_bit() {
        let (z, targets, grad, v) = super::super::rows::sample_rows();
        let (mut wide, mut base) = (z.clone(), z);
        let lw = softmax_losses(&mut wide, &targets, v, 0.1);
        let lb = softmax_losses_body(&mut base, &targets, v, 0.1);
        assert!(lw == lb && wide == base);
        logit_gradients(&mut wide, &targets, &grad, v, 0.1);
        logit_gradients_body(&mut base, &targets, &grad, v, 0.1);
        assert!(wide == base);
    }

    #[test]
    fn matches_linear_then_cross_entropy_with_all_gradients() -> crate::Result<()> {
        let (n, k, v) = (9, 6, 13);
        let dev = Device::Cpu;
        let wave =
            |len: usize, f: f64| -> Vec<f64> { (0..len).map(|i| (i as f64 * f).sin()).collect() };
        let targets: Vec<u32> = (0..n as u32).map(|i| (i * 7) % v as u32).collect();
        for dtype in [DType::F64, DType::F32] {
            let tol = if dtype == DType::F64 { 1e-12 } else { 2e-5 };
            for eps in [0.0, 0.1] {
                let var = |d: Vec<f64>, s: &[usize]| -> crate::Result<Var> {
                    Ok(Var::from_tensor(
                        &Tensor::from_vec(d, s, &dev)?.to_dtype(dtype)?,
                    )?)
                };
                let x = var(wave(n * k, 0.37), &[n, k])?;
                let w = var(wave(v * k, 0.91), &[v, k])?;
                let b = var(wave(v, 1.7), &[v])?;
                // Row weights, one of them 0 as a padded position's would be.
                let rw = Tensor::from_vec(
                    (0..n)
                        .map(|i| if i == 3 { 0.0 } else { i as f64 + 0.5 })
                        .collect::<Vec<_>>(),
                    n,
                    &dev,
                )?
                .to_dtype(dtype)?;
                let fused = linear_cross_entropy(
                    x.as_tensor(),
                    w.as_tensor(),
                    Some(b.as_tensor()),
                    &targets,
                    eps,
                )?;
                let logits = x
                    .as_tensor()
                    .matmul(&w.as_tensor().t()?)?
                    .broadcast_add(b.as_tensor())?;
                let reference = softmax_cross_entropy(&logits, &targets, eps)?;
                let gf = (&fused * &rw)?.sum_all()?.backward()?;
                let gr = (&reference * &rw)?.sum_all()?.backward()?;
                let diff = |a: &Tensor, b: &Tensor| -> crate::Result<f64> {
                    let scale = b
                        .abs()?
                        .flatten_all()?
                        .to_dtype(DType::F64)?
                        .max(0)?
                        .to_scalar::<f64>()?
                        .max(1.0);
                    Ok((a - b)?
                        .abs()?
                        .flatten_all()?
                        .to_dtype(DType::F64)?
                        .max(0)?
                        .to_scalar::<f64>()?
                        / scale)
                };
                assert!(diff(&fused, &reference)? < tol, "{dtype:?} ε={eps}: values");
                for (name, p) in [("x", &x), ("w", &w), ("b", &b)] {
                    let (Some(a), Some(r)) = (gf.get(p.as_tensor()), gr.get(p.as_tensor())) else {
                        panic!("no gradient for {name}");
                    };
                    assert!(diff(a, r)? < tol, "{dtype:?} ε={eps}: d{name}");
                }
            }
        }
        let z = |s: &[usize]| Tensor::zeros(s, DType::F32, &dev);
        assert!(
            linear_cross_entropy(&z(&[2, 3])?, &z(&[4, 3])?, Some(&z(&[4])?), &[0, 4], 0.0)
                .is_err()
        );
        assert!(
            linear_cross_entropy(&z(&[2, 3])?, &z(&[4, 2])?, Some(&z(&[4])?), &[0, 1], 0.0)
                .is_err()
        );
        Ok(())
    }
}
