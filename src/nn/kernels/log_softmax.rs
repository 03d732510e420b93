//! `log_softmax` over the last dimension for decoding: one pass for the
//! maximum, one for `Σ e^{z − m}` in lanes with the kernels' polynomial
//! `exp`, one to write `z − m − ln Σ`. candle's op makes three tensors on the
//! way and calls libm's scalar `expf` per logit — a tenth of batched beam
//! search over a 2,803-word vocabulary.
//!
//! Only for tensors outside any graph: anything that tracks gradients (or
//! is not a contiguous f32/f64 CPU tensor) takes candle's op, which has the
//! backward pass.

use candle_core::{D, DType, Tensor};

use super::rows::{exp_sum, sum_and_max};
use super::{Real, read_cpu};
use crate::Result;

/// `log_softmax(logits, -1)`, on the host for constant CPU tensors.
pub fn log_softmax(logits: &Tensor) -> Result<Tensor> {
    let plain = !logits.track_op()
        && logits.device().is_cpu()
        && logits.is_contiguous()
        && logits.rank() > 0
        && logits.dims().last().is_some_and(|&v| v > 0);
    match (plain, logits.dtype()) {
        (true, DType::F32) => host::<f32>(logits),
        (true, DType::F64) => host::<f64>(logits),
        _ => Ok(candle_nn::ops::log_softmax(logits, D::Minus1)?),
    }
}

fn host<T: Real + candle_core::WithDType>(logits: &Tensor) -> Result<Tensor> {
    let v = logits.dim(D::Minus1)?;
    let mut out = read_cpu::<T, _>(logits, |z| Ok(z.to_vec()))?;
    log_softmax_rows(&mut out, v);
    Ok(Tensor::from_vec(out, logits.shape(), logits.device())?)
}

widest! {
    /// Each row of `v` logits (`v > 0`) replaced by its `log_softmax`, in
    /// place: for host code that holds its logits in a buffer (the fused
    /// decoding step). Compiled for the widest vectors this CPU has.
    pub fn log_softmax_rows / log_softmax_rows_body<T: Real>(z: &mut [T], v: usize) -> () {
        for row in z.chunks_exact_mut(v) {
            let (_, m) = sum_and_max(row);
            let shift = -(m + exp_sum(row, m).ln());
            for x in row.iter_mut() {
                *x += shift;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Var};

    use super::*;

    /// The rows compiled for this CPU's widest vectors give the baseline
    /// build's bits.
    #[test]
    fn widest_build_equals_the_baseline_bit_for_bit() {
        let (z, _, _, v) = super::super::rows::sample_rows();
        let (mut wide, mut base) = (z.clone(), z);
        log_softmax_rows(&mut wide, v);
        log_softmax_rows_body(&mut base, v);
        assert!(wide == base);
    }

    /// The host path against candle's op (f32 and f64, rows off the lane
    /// width, a row with a far outlier), and a tracked tensor still gets
    /// candle's op with its gradient.
    #[test]
    fn matches_candles_log_softmax() -> Result<()> {
        for (rows, v) in [(1, 1), (3, 17), (5, 2803)] {
            let mut z: Vec<f64> = (0..rows * v)
                .map(|i| (i as f64 * 0.61).sin() * 7.0)
                .collect();
            z[v / 2] = 60.0;
            let t = Tensor::from_vec(z, (rows, v), &Device::Cpu)?;
            for dtype in [DType::F64, DType::F32] {
                let t = t.to_dtype(dtype)?;
                let want = candle_nn::ops::log_softmax(&t, D::Minus1)?;
                let diff = (log_softmax(&t)? - want)?.abs()?.flatten_all()?.max(0)?;
                let tol = if dtype == DType::F64 { 1e-12 } else { 1e-5 };
                let d = diff.to_dtype(DType::F64)?.to_scalar::<f64>()?;
                assert!(d < tol, "{rows}×{v} {dtype:?}: {d}");
            }
        }
        let x = Var::new(&[[1.0f64, 2.0, 3.0]], &Device::Cpu)?;
        let loss = log_softmax(x.as_tensor())?.get(0)?.get(0)?;
        let g = loss.backward()?;
        assert!(
            g.get(x.as_tensor()).is_some(),
            "tracked input lost its gradient"
        );
        Ok(())
    }
}
