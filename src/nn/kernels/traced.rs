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
pub(crate) trait TracedKernel: Send + Sync + 'static {
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

    /// The first operand's gradient and the two weights' (the second and
    /// third operands), each weight's as its factors where `factored` asks
    /// and the kernel has them (for a recorder that adds up several uses
    /// in one product: [`crate::nn::record`]).
    fn backward<T: Real>(
        &self,
        inputs: (&[T], &[T], &[T]),
        trace: &Self::Trace<T>,
        grad: &[T],
        d: Self::Dims,
        factored: [bool; 2],
    ) -> (Vec<T>, [WeightGrad<T>; 2]);
}

/// A weight's gradient, or the factors of its product `dW = dyᵀ · x`
/// (`dy` `[n, out]`, `x` `[n, in]`, row-major).
pub(crate) enum WeightGrad<T> {
    Dense(Vec<T>),
    Factors {
        dy: Vec<T>,
        out: usize,
        x: Vec<T>,
        input: usize,
    },
}

impl<T: Real> WeightGrad<T> {
    /// `dyᵀ · x` over `n` rows (`dy` `out` wide, `x` `input` wide), as
    /// factors when `factored`, else the product itself.
    pub(crate) fn of(factored: bool, (dy, out): (&[T], usize), (x, input): (&[T], usize)) -> Self {
        match factored {
            true => WeightGrad::Factors {
                dy: dy.to_vec(),
                out,
                x: x.to_vec(),
                input,
            },
            false => {
                let n = dy.len() / out.max(1);
                WeightGrad::Dense(matmul_new(dy, Op::T, x, Op::N, out, n, input))
            }
        }
    }

    /// As the recorder takes it: the gradient shaped like the weight, or the
    /// factors as tensors.
    fn into_use(self, shape: &Shape, dev: &Device) -> candle_core::Result<UseGrad>
    where
        T: WithDType,
    {
        Ok(match self {
            WeightGrad::Dense(g) => UseGrad::Dense(Tensor::from_vec(g, shape, dev)?),
            WeightGrad::Factors { dy, out, x, input } => {
                let n = dy.len() / out.max(1);
                UseGrad::Factors {
                    dy: Tensor::from_vec(dy, (n, out), dev)?,
                    x: Tensor::from_vec(x, (n, input), dev)?,
                }
            }
        })
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
pub(crate) struct Traced<K: TracedKernel> {
    kernel: K,
    tape: Mutex<Option<Tape<K>>>,
}

impl<K: TracedKernel> Traced<K> {
    /// The op running `kernel`.
    pub(crate) fn new(kernel: K) -> Self {
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
        let [g1, g2, g3] = self.gradients([a1, a2, a3], grad_res, [false; 2])?;
        Ok((Some(g1.dense()?), Some(g2.dense()?), Some(g3.dense()?)))
    }
}

impl<K: TracedKernel> RecordableOp for Traced<K> {
    fn bwd_factored(
        &self,
        args: [&Tensor; 3],
        grad: &Tensor,
        factored: [bool; 3],
    ) -> candle_core::Result<Option<[Option<UseGrad>; 3]>> {
        if !factored[1] && !factored[2] {
            return Ok(None);
        }
        let grads = self.gradients(args, grad, [factored[1], factored[2]])?;
        Ok(Some(grads.map(Some)))
    }
}

impl<K: TracedKernel> Traced<K> {
    /// The operands' gradients from the output's (see [`TracedKernel::backward`]).
    fn gradients(
        &self,
        args: [&Tensor; 3],
        grad_res: &Tensor,
        factored: [bool; 2],
    ) -> candle_core::Result<[UseGrad; 3]> {
        let [a1, a2, a3] = args;
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
            factored: [bool; 2],
        ) -> candle_core::Result<[UseGrad; 3]> {
            let [a1, a2, a3] = args;
            let (g1, [w2, w3]) =
                on_slices::<T, _>(args, grad, |xyz, g| k.backward(xyz, trace, g, d, factored))?;
            let dev = a1.device();
            Ok([
                UseGrad::Dense(Tensor::from_vec(g1, a1.shape(), dev)?),
                w2.into_use(a2.shape(), dev)?,
                w3.into_use(a3.shape(), dev)?,
            ])
        }
        match (&*tape, a1.dtype()) {
            (Some(Tape::F32(t)), DType::F32) => {
                run::<f32, K>(&self.kernel, args, t, &grad, d, factored)
            }
            (Some(Tape::F64(t)), DType::F64) => {
                run::<f64, K>(&self.kernel, args, t, &grad, d, factored)
            }
            (None, _) => {
                candle_core::bail!("{}: backward through a pass run without gradients", K::NAME)
            }
            (_, other) => candle_core::bail!("{}: no backward for {other:?}", K::NAME),
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
