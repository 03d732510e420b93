//! `tanh` as one op with its backward pass, for the attentional hidden state
//! `tanh(W_c [c; h])` and the encoder-to-decoder bridge.
//!
//! candle's `tanh` calls libm's scalar `tanhf` per element and its backward
//! is three tensor ops (`1 − y²`, then the product); here the forward pass
//! is the kernels' polynomial [`Real::tanh`] in one loop that vectorises, and
//! the backward pass `dy · (1 − y²)` one more. The values stay within a few
//! ulp of libm's (tested with the other kernels' functions).

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Shape, Tensor, WithDType};

use super::{Kernel, Real, read_cpu, slice_of};

struct Tanh;

widest! {
    /// `tanh` of every element, compiled for the widest vectors.
    fn forward / forward_body<T: Real>(x: &[T]) -> Vec<T> {
        let mut y = x.to_vec();
        for v in y.iter_mut() {
            *v = v.tanh();
        }
        y
    }
}

widest! {
    /// `dy · (1 − y²)`, compiled for the widest vectors.
    fn gradient / gradient_body<T: Real>(y: &[T], dy: &[T]) -> Vec<T> {
        let mut dx = dy.to_vec();
        for (d, &y) in dx.iter_mut().zip(y) {
            *d = *d * (T::ONE - y * y);
        }
        dx
    }
}

fn backward<T: Real + WithDType>(y: &Tensor, dy: &Tensor) -> candle_core::Result<Tensor> {
    let dx = read_cpu::<T, _>(y, |ys| read_cpu::<T, _>(dy, |gs| Ok(gradient(ys, gs))))?;
    Tensor::from_vec(dx, y.shape(), y.device())
}

impl CustomOp1 for Tanh {
    fn name(&self) -> &'static str {
        "tanh"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let y = match s {
            CpuStorage::F32(_) => CpuStorage::F32(forward(slice_of::<f32>(s, l)?)),
            CpuStorage::F64(_) => CpuStorage::F64(forward(slice_of::<f64>(s, l)?)),
            _ => candle_core::bail!("tanh kernel: f32 or f64 only"),
        };
        Ok((y, l.shape().clone()))
    }

    fn bwd(&self, _x: &Tensor, y: &Tensor, dy: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let dy = dy.contiguous()?;
        let dx = match y.dtype() {
            DType::F32 => backward::<f32>(y, &dy)?,
            DType::F64 => backward::<f64>(y, &dy)?,
            other => candle_core::bail!("tanh kernel: no backward for {other:?}"),
        };
        Ok(Some(dx))
    }
}

/// `tanh(x)`: the fused op on [`Kernel::Fused`] for CPU f32/f64 tensors,
/// else candle's (the reference path).
pub fn tanh(x: &Tensor, kernel: Kernel) -> candle_core::Result<Tensor> {
    let fits = x.device().is_cpu() && matches!(x.dtype(), DType::F32 | DType::F64);
    match kernel == Kernel::Fused && fits {
        true => x.contiguous()?.apply_op1(Tanh),
        false => x.tanh(),
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Var};

    use super::*;

    /// The passes compiled for this CPU's widest vectors give the baseline
    /// build's bits, the polynomial's small-argument branch included.
    #[test]
    fn widest_build_equals_the_baseline_bit_for_bit() {
        let x: Vec<f32> = (0..203).map(|i| ((i as f32) * 0.173).sin() * 3.0).collect();
        assert!(forward(&x) == forward_body(&x));
        let y = forward(&x);
        assert!(gradient(&y, &x) == gradient_body(&y, &x));
    }

    /// Values and gradients of the fused op agree with candle's graph, in
    /// f64 to 1e-12 and f32 to 1e-6 of the largest value, for a
    /// non-contiguous input too.
    #[test]
    fn matches_the_graph_on_values_and_gradients() -> candle_core::Result<()> {
        for (dtype, tol) in [(DType::F64, 1e-12), (DType::F32, 1e-6)] {
            let data: Vec<f64> = (0..6 * 7)
                .map(|i| ((i as f64) * 0.37).sin() * 3.0)
                .collect();
            let x =
                Var::from_tensor(&Tensor::from_vec(data, (6, 7), &Device::Cpu)?.to_dtype(dtype)?)?;
            let w = Tensor::arange(0.0, 42.0, &Device::Cpu)?
                .reshape((7, 6))?
                .to_dtype(dtype)?;
            let run = |kernel: Kernel| -> candle_core::Result<(Tensor, Tensor)> {
                // Through a transpose, so the op sees a strided input.
                let y = tanh(&x.as_tensor().t()?, kernel)?;
                let loss = (&y * &w)?.sum_all()?;
                let grads = loss.backward()?;
                let g = grads
                    .get(x.as_tensor())
                    .cloned()
                    .ok_or_else(|| candle_core::Error::Msg("no gradient".into()))?;
                Ok((y, g))
            };
            let (ry, rg) = run(Kernel::Reference)?;
            let (fy, fg) = run(Kernel::Fused)?;
            let max_abs = |t: &Tensor| -> candle_core::Result<f64> {
                t.abs()?.to_dtype(DType::F64)?.max_all()?.to_scalar::<f64>()
            };
            for (a, b) in [(ry, fy), (rg, fg)] {
                let (diff, scale) = (max_abs(&(&a - &b)?)?, max_abs(&a)?.max(1.0));
                assert!(diff <= tol * scale, "{dtype:?}: {diff} at scale {scale}");
            }
        }
        Ok(())
    }
}
