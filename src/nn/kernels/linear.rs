//! `y = x · Wᵀ + b` as one op with its backward pass: the layers' input
//! projections, attention projections and combine layers.
//!
//! Through the graph a linear layer is a product with a transposed view, a
//! broadcast add and, in backward, a product whose result is a transposed
//! view added into a zero-filled buffer plus a strided column sum for the
//! bias. Here the forward pass is one product writing the bias-initialised
//! output, and the backward pass two products (`dx = dy · W`,
//! `dW = dyᵀ · x`) and one contiguous row sum (`db`).

use candle_core::{CpuStorage, CustomOp3, DType, Layout, Shape, Tensor, WithDType};

use super::gemm::{Op, matmul, matmul_new};
use super::{Real, read_cpu, slice_of};
use crate::nn::record::{RecordableOp, UseGrad};

/// The op (x `[N, K]`, w `[M, K]`, b `[M]` → `[N, M]`).
#[derive(Clone, Copy, Debug)]
struct LinearOp;

fn dims(x: &Layout, w: &Layout, b: &Layout) -> candle_core::Result<(usize, usize, usize)> {
    let (n, k) = x.shape().dims2()?;
    let (m, k2) = w.shape().dims2()?;
    if k2 != k || b.shape().dims() != [m] {
        candle_core::bail!(
            "linear kernel: x {:?}, weight {:?}, bias {:?}",
            x.shape(),
            w.shape(),
            b.shape()
        );
    }
    Ok((n, k, m))
}

/// `x · wᵀ + b` as a row-major `[n, m]` buffer (the bias written first, the
/// product added onto it). Shared with the fused output layer + loss and the
/// fused decoding step.
pub(crate) fn forward<T: Real>(
    x: &[T],
    w: &[T],
    b: &[T],
    (n, k, m): (usize, usize, usize),
) -> Vec<T> {
    let mut y = bias_rows(b, n);
    matmul(&mut y, x, Op::N, w, Op::T, n, k, m, true);
    y
}

/// `rows` copies of `bias`, a product's starting value.
pub(crate) fn bias_rows<T: Real>(bias: &[T], rows: usize) -> Vec<T> {
    let mut y = Vec::with_capacity(rows * bias.len());
    for _ in 0..rows {
        y.extend_from_slice(bias);
    }
    y
}

/// The gradients of `x · wᵀ + b` for the output gradient `dy` (`[n, m]`):
/// `dx = dy · w`, `dw = dyᵀ · x`, `db` = the column sums of `dy`, as tensors
/// shaped like `x`, `w` and `[m]`. Shared with the fused output layer + loss.
pub(super) fn gradients<T: Real + WithDType>(
    dy: &[T],
    x: &Tensor,
    w: &Tensor,
    (n, k, m): (usize, usize, usize),
) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
    let (dx, db) = input_and_bias_gradients(dy, x, w, (n, k, m))?;
    let dw = read_cpu::<T, _>(x, |xs| Ok(matmul_new(dy, Op::T, xs, Op::N, m, n, k)))?;
    Ok((
        Some(dx),
        Some(Tensor::from_vec(dw, w.shape(), w.device())?),
        Some(db),
    ))
}

/// [`gradients`] but the weight's: `dx = dy · w` and `db`.
fn input_and_bias_gradients<T: Real + WithDType>(
    dy: &[T],
    x: &Tensor,
    w: &Tensor,
    (n, k, m): (usize, usize, usize),
) -> candle_core::Result<(Tensor, Tensor)> {
    let dx = read_cpu::<T, _>(w, |ws| Ok(matmul_new(dy, Op::N, ws, Op::N, n, m, k)))?;
    let mut db = vec![T::ZERO; m];
    for row in dy.chunks(m) {
        for (d, &g) in db.iter_mut().zip(row) {
            *d += g;
        }
    }
    Ok((
        Tensor::from_vec(dx, x.shape(), x.device())?,
        Tensor::from_vec(db, m, x.device())?,
    ))
}

/// The bias, or a zero one standing in for a layer without (its gradient is
/// dropped with it).
pub(super) fn bias_or_zeros(
    b: Option<&Tensor>,
    m: usize,
    x: &Tensor,
) -> candle_core::Result<Tensor> {
    match b {
        Some(b) => b.contiguous(),
        None => Tensor::zeros(m, x.dtype(), x.device()),
    }
}

impl CustomOp3 for LinearOp {
    fn name(&self) -> &'static str {
        "linear"
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
        let d = dims(lx, lw, lb)?;
        let y = match sx {
            CpuStorage::F32(_) => CpuStorage::F32(forward(
                slice_of::<f32>(sx, lx)?,
                slice_of(sw, lw)?,
                slice_of(sb, lb)?,
                d,
            )),
            CpuStorage::F64(_) => CpuStorage::F64(forward(
                slice_of::<f64>(sx, lx)?,
                slice_of(sw, lw)?,
                slice_of(sb, lb)?,
                d,
            )),
            _ => candle_core::bail!("linear kernel: f32 or f64 only"),
        };
        Ok((y, Shape::from((d.0, d.2))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let d = dims(x.layout(), w.layout(), b.layout())?;
        let grad = grad.contiguous()?;
        match x.dtype() {
            DType::F32 => read_cpu::<f32, _>(&grad, |g| gradients(g, x, w, d)),
            DType::F64 => read_cpu::<f64, _>(&grad, |g| gradients(g, x, w, d)),
            other => candle_core::bail!("linear kernel: no backward for {other:?}"),
        }
    }
}

impl RecordableOp for LinearOp {
    /// The weight's gradient as its factors `(dy, x)`.
    fn bwd_factored(
        &self,
        [x, w, b]: [&Tensor; 3],
        grad: &Tensor,
        factored: [bool; 3],
    ) -> candle_core::Result<Option<[Option<UseGrad>; 3]>> {
        if !factored[1] {
            return Ok(None);
        }
        let d = dims(x.layout(), w.layout(), b.layout())?;
        let dy = grad.contiguous()?;
        let (dx, db) = match x.dtype() {
            DType::F32 => read_cpu::<f32, _>(&dy, |g| input_and_bias_gradients(g, x, w, d))?,
            DType::F64 => read_cpu::<f64, _>(&dy, |g| input_and_bias_gradients(g, x, w, d))?,
            other => candle_core::bail!("linear kernel: no backward for {other:?}"),
        };
        let weight = UseGrad::Factors { dy, x: x.clone() };
        Ok(Some([
            Some(UseGrad::Dense(dx)),
            Some(weight),
            Some(UseGrad::Dense(db)),
        ]))
    }
}

/// Whether [`linear`] runs for these operands (CPU, f32/f64, one dtype).
pub fn applies(x: &Tensor, w: &Tensor) -> bool {
    x.device().is_cpu() && matches!(x.dtype(), DType::F32 | DType::F64) && w.dtype() == x.dtype()
}

/// `x · wᵀ + b` over the last dimension of any-rank `x` (`[.., K]`, w
/// `[M, K]`, b `[M]`) → `[.., M]`, with gradients for all three. Without a
/// bias, a zero one stands in (its gradient is dropped with it).
pub fn linear(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> candle_core::Result<Tensor> {
    let dims = x.dims();
    let Some((&k, lead)) = dims.split_last() else {
        candle_core::bail!("linear kernel: input must have at least one dimension");
    };
    let (m, _) = w.dims2()?;
    let b = bias_or_zeros(b, m, x)?;
    let n: usize = lead.iter().product();
    let x = x.contiguous()?.reshape((n, k))?;
    let y = crate::nn::record::apply_op3(&x, &w.contiguous()?, &b, LinearOp)?;
    let mut shape = lead.to_vec();
    shape.push(m);
    y.reshape(shape)
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Var};

    use super::*;

    #[test]
    fn matches_the_graph_on_values_and_all_gradients() -> crate::Result<()> {
        let dev = Device::Cpu;
        let wave =
            |len: usize, f: f64| -> Vec<f64> { (0..len).map(|i| (i as f64 * f).sin()).collect() };
        for dtype in [DType::F64, DType::F32] {
            let tol = if dtype == DType::F64 { 1e-12 } else { 1e-5 };
            for bias in [true, false] {
                let var = |d: Vec<f64>, s: &[usize]| -> crate::Result<Var> {
                    Ok(Var::from_tensor(
                        &Tensor::from_vec(d, s, &dev)?.to_dtype(dtype)?,
                    )?)
                };
                let x = var(wave(2 * 5 * 7, 0.37), &[2, 5, 7])?;
                let w = var(wave(4 * 7, 0.91), &[4, 7])?;
                let b = var(wave(4, 1.7), &[4])?;
                let bias_t = bias.then(|| b.as_tensor());
                let fused = linear(x.as_tensor(), w.as_tensor(), bias_t)?;
                let reference = candle_nn::Linear::new(w.as_tensor().clone(), bias_t.cloned());
                let reference = candle_core::Module::forward(&reference, x.as_tensor())?;
                let rw =
                    Tensor::from_vec(wave(2 * 5 * 4, 2.3), (2, 5, 4), &dev)?.to_dtype(dtype)?;
                let gf = (&fused * &rw)?.sum_all()?.backward()?;
                let gr = (&reference * &rw)?.sum_all()?.backward()?;
                let diff = crate::nn::kernels::max_abs_diff;
                assert_eq!(fused.dims(), [2, 5, 4]);
                assert!(
                    diff(&fused, &reference)? < tol,
                    "{dtype:?} bias={bias}: values"
                );
                for (name, p) in [("x", &x), ("w", &w), ("b", &b)] {
                    match (gf.get(p.as_tensor()), gr.get(p.as_tensor())) {
                        (Some(a), Some(r)) => {
                            assert!(diff(a, r)? < tol, "{dtype:?} bias={bias}: d{name}")
                        }
                        (None, None) => assert!(!bias && name == "b"),
                        _ => panic!("{dtype:?} bias={bias}: gradient of {name} on one path only"),
                    }
                }
            }
        }
        let z = |s: &[usize]| Tensor::zeros(s, DType::F32, &dev);
        assert!(linear(&z(&[2, 3])?, &z(&[4, 2])?, None).is_err());
        Ok(())
    }
}
