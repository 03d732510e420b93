//! The candle side of a fused op over three inputs whose backward pass reads
//! what its forward pass kept (a trace): the dtype dispatch, the slices of
//! the operands, the trace held between the passes, the gradients as
//! tensors. A kernel ([`TracedKernel`]) supplies only its sizes and its two
//! passes, written once for any [`Real`].

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp3, DType, Device, Layout, Shape, Tensor, WithDType};

use super::gemm::{Op, matmul_new};
use super::{Real, read_cpu, slice_of};
use crate::nn::record::{RecordableOp, UseGrad};

/// A fused op's arithmetic, over three contiguous operands of one float type.
pub(super) trait TracedKernel: Send + Sync + 'static {
    /// What the forward pass keeps for the backward pass.
    type Trace<T: Real>: Send + Sync;
    /// The sizes of one call, read from the operands' layouts.
    type Dims: Copy;
    /// The op's name in candle's error messages.
    const NAME: &'static str;

    /// Checks the operands' layouts against the kernel's settings.
    fn dims(&self, l1: &Layout, l2: &Layout, l3: &Layout) -> candle_core::Result<Self::Dims>;

    /// The output's shape.
    fn shape(&self, d: Self::Dims) -> Shape;

    /// The output, and the trace where a gradient can be asked for.
    fn forward<T: Real>(
        &self,
        inputs: (&[T], &[T], &[T]),
        d: Self::Dims,
    ) -> (Vec<T>, Option<Self::Trace<T>>);

    /// The three operands' gradients from the output's.
    fn backward<T: Real>(
        &self,
        inputs: (&[T], &[T], &[T]),
        trace: &Self::Trace<T>,
        grad: &[T],
        d: Self::Dims,
    ) -> (Vec<T>, Vec<T>, Vec<T>);

    /// [`TracedKernel::backward`] with the two weights' gradients (the
    /// second and third operands) as [`Factors`], for a recorder that adds
    /// up several uses in one product ([`crate::nn::record`]); `None` where
    /// the kernel has no such form.
    fn backward_factored<T: Real>(
        &self,
        inputs: (&[T], &[T], &[T]),
        trace: &Self::Trace<T>,
        grad: &[T],
        d: Self::Dims,
    ) -> Option<(Vec<T>, [Factors<T>; 2])> {
        let _ = (inputs, trace, grad, d);
        None
    }
}

/// A weight's gradient as the factors of its product, `dW = dyᵀ · x`:
/// `dy` `[n, out]` and `x` `[n, in]`, row-major.
pub(super) struct Factors<T> {
    dy: Vec<T>,
    out: usize,
    x: Vec<T>,
    input: usize,
}

impl<T: Real> Factors<T> {
    /// The factors `dy` (`out` wide) and `x` (`input` wide), of one row count.
    pub(super) fn new(dy: Vec<T>, out: usize, x: Vec<T>, input: usize) -> Self {
        Factors { dy, out, x, input }
    }

    /// The factors as tensors, `[n, out]` and `[n, in]`.
    fn tensors(self, dev: &Device) -> candle_core::Result<(Tensor, Tensor)>
    where
        T: WithDType,
    {
        let n = self.dy.len() / self.out.max(1);
        Ok((
            Tensor::from_vec(self.dy, (n, self.out), dev)?,
            Tensor::from_vec(self.x, (n, self.input), dev)?,
        ))
    }

    /// The gradient itself, `[out, in]`.
    fn product(&self) -> Vec<T> {
        let n = self.dy.len() / self.out.max(1);
        matmul_new(&self.dy, Op::T, &self.x, Op::N, self.out, n, self.input)
    }
}

/// A forward pass's output and trace.
type Forward<T, K> = (Vec<T>, Option<<K as TracedKernel>::Trace<T>>);

/// A [`Trace`](TracedKernel::Trace) of either float type.
enum Tape<K: TracedKernel> {
    F32(K::Trace<f32>),
    F64(K::Trace<f64>),
}

/// The op: a kernel and its trace, written by the forward pass and read
/// (never consumed: backward may run twice) by the backward pass, freed
/// with the graph node.
pub(super) struct Traced<K: TracedKernel> {
    kernel: K,
    tape: Mutex<Option<Tape<K>>>,
}

impl<K: TracedKernel> Traced<K> {
    /// The op running `kernel`.
    pub(super) fn new(kernel: K) -> Self {
        Traced {
            kernel,
            tape: Mutex::new(None),
        }
    }
}

impl<K: TracedKernel> CustomOp3 for Traced<K> {
    fn name(&self) -> &'static str {
        K::NAME
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let d = self.kernel.dims(l1, l2, l3)?;
        fn run<T: Real + WithDType, K: TracedKernel>(
            k: &K,
            (s1, l1): (&CpuStorage, &Layout),
            (s2, l2): (&CpuStorage, &Layout),
            (s3, l3): (&CpuStorage, &Layout),
            d: K::Dims,
        ) -> candle_core::Result<Forward<T, K>> {
            let inputs = (slice_of(s1, l1)?, slice_of(s2, l2)?, slice_of(s3, l3)?);
            Ok(k.forward::<T>(inputs, d))
        }
        let args = ((s1, l1), (s2, l2), (s3, l3));
        let (out, tape) = match (s1, s2, s3) {
            (CpuStorage::F32(_), CpuStorage::F32(_), CpuStorage::F32(_)) => {
                let (out, trace) = run::<f32, K>(&self.kernel, args.0, args.1, args.2, d)?;
                (CpuStorage::F32(out), trace.map(Tape::F32))
            }
            (CpuStorage::F64(_), CpuStorage::F64(_), CpuStorage::F64(_)) => {
                let (out, trace) = run::<f64, K>(&self.kernel, args.0, args.1, args.2, d)?;
                (CpuStorage::F64(out), trace.map(Tape::F64))
            }
            _ => candle_core::bail!("{}: f32 or f64 inputs of one dtype only", K::NAME),
        };
        match self.tape.lock() {
            Ok(mut slot) => *slot = tape,
            Err(_) => candle_core::bail!("{}: the trace's lock is poisoned", K::NAME),
        }
        Ok((out, self.kernel.shape(d)))
    }

    fn bwd(
        &self,
        a1: &Tensor,
        a2: &Tensor,
        a3: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let d = self.kernel.dims(a1.layout(), a2.layout(), a3.layout())?;
        let Ok(tape) = self.tape.lock() else {
            candle_core::bail!("{}: the trace's lock is poisoned", K::NAME);
        };
        // Only the incoming gradient may need making contiguous.
        let grad = grad_res.contiguous()?;
        fn run<T: Real + WithDType, K: TracedKernel>(
            k: &K,
            args: [&Tensor; 3],
            trace: &K::Trace<T>,
            grad: &Tensor,
            d: K::Dims,
        ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
            let [a1, a2, a3] = args;
            let (g1, g2, g3) =
                on_slices::<T, _>(args, grad, |xyz, g| k.backward(xyz, trace, g, d))?;
            let dev = a1.device();
            Ok((
                Some(Tensor::from_vec(g1, a1.shape(), dev)?),
                Some(Tensor::from_vec(g2, a2.shape(), dev)?),
                Some(Tensor::from_vec(g3, a3.shape(), dev)?),
            ))
        }
        let args = [a1, a2, a3];
        match (&*tape, a1.dtype()) {
            (Some(Tape::F32(t)), DType::F32) => run::<f32, K>(&self.kernel, args, t, &grad, d),
            (Some(Tape::F64(t)), DType::F64) => run::<f64, K>(&self.kernel, args, t, &grad, d),
            (None, _) => {
                candle_core::bail!("{}: backward through a pass run without gradients", K::NAME)
            }
            (_, other) => candle_core::bail!("{}: no backward for {other:?}", K::NAME),
        }
    }
}

impl<K: TracedKernel> RecordableOp for Traced<K> {
    fn bwd_factored(
        &self,
        args: [&Tensor; 3],
        grad_res: &Tensor,
        factored: [bool; 3],
    ) -> candle_core::Result<Option<[Option<UseGrad>; 3]>> {
        if !factored[1] && !factored[2] {
            return Ok(None);
        }
        let [a1, a2, a3] = args;
        let d = self.kernel.dims(a1.layout(), a2.layout(), a3.layout())?;
        let Ok(tape) = self.tape.lock() else {
            candle_core::bail!("{}: the trace's lock is poisoned", K::NAME);
        };
        let grad = grad_res.contiguous()?;
        fn run<T: Real + WithDType, K: TracedKernel>(
            k: &K,
            args: [&Tensor; 3],
            trace: &K::Trace<T>,
            grad: &Tensor,
            d: K::Dims,
            factored: [bool; 3],
        ) -> candle_core::Result<Option<[Option<UseGrad>; 3]>> {
            let [a1, a2, a3] = args;
            let back =
                on_slices::<T, _>(args, grad, |xyz, g| k.backward_factored(xyz, trace, g, d))?;
            let Some((g1, [f2, f3])) = back else {
                return Ok(None);
            };
            let dev = a1.device();
            // A weight the recorder does not take as factors gets its gradient.
            let weight =
                |f: Factors<T>, a: &Tensor, factored: bool| -> candle_core::Result<UseGrad> {
                    Ok(match factored {
                        true => {
                            let (dy, x) = f.tensors(dev)?;
                            UseGrad::Factors { dy, x }
                        }
                        false => UseGrad::Dense(Tensor::from_vec(f.product(), a.shape(), dev)?),
                    })
                };
            Ok(Some([
                Some(UseGrad::Dense(Tensor::from_vec(g1, a1.shape(), dev)?)),
                Some(weight(f2, a2, factored[1])?),
                Some(weight(f3, a3, factored[2])?),
            ]))
        }
        match (&*tape, a1.dtype()) {
            (Some(Tape::F32(t)), DType::F32) => {
                run::<f32, K>(&self.kernel, args, t, &grad, d, factored)
            }
            (Some(Tape::F64(t)), DType::F64) => {
                run::<f64, K>(&self.kernel, args, t, &grad, d, factored)
            }
            _ => Ok(None),
        }
    }
}

/// `f` on the three operands and the output gradient as slices.
fn on_slices<T: WithDType, R>(
    [a1, a2, a3]: [&Tensor; 3],
    grad: &Tensor,
    f: impl FnOnce((&[T], &[T], &[T]), &[T]) -> R,
) -> candle_core::Result<R> {
    read_cpu::<T, _>(a1, |x| {
        read_cpu::<T, _>(a2, |y| {
            read_cpu::<T, _>(a3, |z| read_cpu::<T, _>(grad, |g| Ok(f((x, y, z), g))))
        })
    })
}
