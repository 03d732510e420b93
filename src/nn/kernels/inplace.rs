//! Element-wise updates of one tensor in place, in parallel chunks: the
//! optimizer steps, gradient sums and clipping of the training loop.
//!
//! Through candle's tensor ops an Adam step over a few million parameters is a
//! dozen passes, each allocating a parameter-sized tensor, all on one thread
//! while the other core waits for the next batch. Here each pass reads its
//! operands once and writes the destination where it lies, split over the
//! rayon pool. Callers keep their tensor-op code as the reference path and use
//! these kernels only where [`eligible`] says they can run (CPU, f32/f64,
//! contiguous, equal shapes and dtypes): there the arithmetic is the same
//! operations in the same order, so both paths give identical bits.

use candle_core::{
    CpuStorage, DType, InplaceOp1, InplaceOp2, InplaceOp3, Layout, Tensor, WithDType,
};
use rayon::prelude::*;

use super::{Real, read_cpu, slice_of};

/// Running sums of [`chunk_sum_squares`].
const LANES: usize = 8;

/// Elements per parallel task: large enough that scheduling is noise, small
/// enough that a parameter of a few hundred thousand values splits across cores.
pub(crate) const CHUNK: usize = 1 << 15;

/// The per-element rule of an in-place update of `dst` from `N` operands.
pub trait Elementwise<const N: usize>: Sync {
    /// The op's name in candle's error messages.
    const NAME: &'static str;
    /// Updates `dst[i]` from `srcs[k][i]`, for a chunk (all slices one length).
    fn apply<T: Real>(&self, dst: &mut [T], srcs: [&[T]; N]);
}

struct InPlace<'a, E>(&'a E);

fn run<T: Real, E: Elementwise<N>, const N: usize>(op: &E, dst: &mut [T], srcs: [&[T]; N]) {
    if dst.len() <= CHUNK {
        op.apply(dst, srcs);
        return;
    }
    dst.par_chunks_mut(CHUNK).enumerate().for_each(|(i, d)| {
        let lo = i * CHUNK;
        op.apply(d, srcs.map(|s| &s[lo..lo + d.len()]));
    });
}

impl<E> InPlace<'_, E> {
    fn fwd<const N: usize>(
        &self,
        dst: &mut CpuStorage,
        dst_l: &Layout,
        srcs: [(&CpuStorage, &Layout); N],
    ) -> candle_core::Result<()>
    where
        E: Elementwise<N>,
    {
        let (lo, hi) = dst_l
            .contiguous_offsets()
            .ok_or_else(|| candle_core::Error::Msg(format!("{}: dst not contiguous", E::NAME)))?;
        match dst {
            CpuStorage::F32(d) => run(self.0, &mut d[lo..hi], slices(srcs)?),
            CpuStorage::F64(d) => run(self.0, &mut d[lo..hi], slices(srcs)?),
            _ => candle_core::bail!("{}: f32 or f64 only", E::NAME),
        }
        Ok(())
    }
}

/// The operands as slices of one element type.
fn slices<'a, T: WithDType, const N: usize>(
    srcs: [(&'a CpuStorage, &Layout); N],
) -> candle_core::Result<[&'a [T]; N]> {
    let mut out: [&[T]; N] = [&[]; N];
    for (o, (st, l)) in out.iter_mut().zip(srcs) {
        *o = slice_of(st, l)?;
    }
    Ok(out)
}

// candle names its in-place traits by arity; each forwards to `fwd`.
impl<E: Elementwise<0>> InplaceOp1 for InPlace<'_, E> {
    fn name(&self) -> &'static str {
        E::NAME
    }
    fn cpu_fwd(&self, s: &mut CpuStorage, l: &Layout) -> candle_core::Result<()> {
        self.fwd(s, l, [])
    }
}

impl<E: Elementwise<1>> InplaceOp2 for InPlace<'_, E> {
    fn name(&self) -> &'static str {
        E::NAME
    }
    fn cpu_fwd(
        &self,
        s: &mut CpuStorage,
        l: &Layout,
        a: &CpuStorage,
        la: &Layout,
    ) -> candle_core::Result<()> {
        self.fwd(s, l, [(a, la)])
    }
}

impl<E: Elementwise<2>> InplaceOp3 for InPlace<'_, E> {
    fn name(&self) -> &'static str {
        E::NAME
    }
    fn cpu_fwd(
        &self,
        s: &mut CpuStorage,
        l: &Layout,
        a: &CpuStorage,
        la: &Layout,
        b: &CpuStorage,
        lb: &Layout,
    ) -> candle_core::Result<()> {
        self.fwd(s, l, [(a, la), (b, lb)])
    }
}

/// Whether the kernels can update `dst` from `srcs`: all on the CPU, f32 or
/// f64, contiguous, of one shape and dtype, and no operand sharing `dst`'s
/// storage (checked by candle when the op runs).
pub fn eligible(dst: &Tensor, srcs: &[&Tensor]) -> bool {
    let ok = |t: &Tensor| {
        t.device().is_cpu()
            && t.is_contiguous()
            && t.dtype() == dst.dtype()
            && t.shape() == dst.shape()
    };
    matches!(dst.dtype(), DType::F32 | DType::F64) && ok(dst) && srcs.iter().all(|t| ok(t))
}

/// Applies `op` to `dst` in place, returning `false` (and doing nothing)
/// where the kernels cannot run, so the caller takes its reference path.
pub fn update0<E: Elementwise<0>>(dst: &Tensor, op: &E) -> candle_core::Result<bool> {
    if !eligible(dst, &[]) {
        return Ok(false);
    }
    dst.inplace_op1(&InPlace(op))?;
    Ok(true)
}

/// [`update0`] with one operand.
pub fn update1<E: Elementwise<1>>(dst: &Tensor, a: &Tensor, op: &E) -> candle_core::Result<bool> {
    if !eligible(dst, &[a]) {
        return Ok(false);
    }
    dst.inplace_op2(a, &InPlace(op))?;
    Ok(true)
}

/// `Σ x²` of a tensor the kernels can read (CPU, f32/f64, contiguous),
/// accumulated in f64 over parallel chunks (the same bits on every run);
/// `None` elsewhere.
pub fn sum_squares(t: &Tensor) -> Option<f64> {
    if !eligible(t, &[]) {
        return None;
    }
    fn go<T: Copy + Into<f64> + Sync + WithDType>(t: &Tensor) -> Option<f64> {
        // Chunk sums collected in order and added in order: rayon's own
        // `sum` groups by how work was stolen, which would make the bits
        // (and a resumed run) depend on timing.
        let parts: Vec<f64> = read_cpu::<T, _>(t, |x| {
            Ok(x.par_chunks(CHUNK).map(chunk_sum_squares).collect())
        })
        .ok()?;
        Some(parts.iter().sum())
    }
    match t.dtype() {
        DType::F32 => go::<f32>(t),
        DType::F64 => go::<f64>(t),
        _ => None,
    }
}

/// `Σ x²` of one chunk in f64, over `LANES` running sums (element `i` into
/// sum `i mod LANES`, the tail into the first ones), added in a fixed order
/// at the end: the sums are independent, so the loop vectorises, where one
/// running sum waits on every addition (a clipping pass was 4 % of a
/// translation epoch). The order is fixed, so the bits are the same on
/// every run.
fn chunk_sum_squares<T: Copy + Into<f64>>(c: &[T]) -> f64 {
    let mut acc = [0f64; LANES];
    let mut blocks = c.chunks_exact(LANES);
    for block in &mut blocks {
        for (a, &v) in acc.iter_mut().zip(block) {
            let v: f64 = v.into();
            *a += v * v;
        }
    }
    for (a, &v) in acc.iter_mut().zip(blocks.remainder()) {
        let v: f64 = v.into();
        *a += v * v;
    }
    acc.iter().sum()
}

/// [`sum_squares`] of a `[V, D]` tensor that is zero outside the rows `ids`
/// (ascending, distinct), from those rows alone (`rows`, `[ids.len(), D]`):
/// the same bits as the dense tensor gives, since each element lands in
/// the chunk and running sum it would take there and the zeros add
/// nothing. `None` where the kernels cannot read `rows` or `ids` is not
/// ascending.
pub fn sum_squares_rows(rows: &Tensor, ids: &[u32]) -> Option<f64> {
    if !eligible(rows, &[]) || ids.windows(2).any(|w| w[0] >= w[1]) {
        return None;
    }
    fn go<T: Copy + Into<f64> + WithDType>(rows: &Tensor, ids: &[u32]) -> Option<f64> {
        read_cpu::<T, _>(rows, |x| {
            let d = x.len() / ids.len().max(1);
            let mut parts = Vec::new();
            let (mut chunk, mut acc) = (None, [0f64; LANES]);
            for (&id, row) in ids.iter().zip(x.chunks(d.max(1))) {
                for (j, &v) in row.iter().enumerate() {
                    let at = id as usize * d + j;
                    if chunk != Some(at / CHUNK) {
                        if chunk.is_some() {
                            parts.push(acc.iter().sum::<f64>());
                        }
                        (chunk, acc) = (Some(at / CHUNK), [0f64; LANES]);
                    }
                    let v: f64 = v.into();
                    acc[at % CHUNK % LANES] += v * v;
                }
            }
            if chunk.is_some() {
                parts.push(acc.iter().sum::<f64>());
            }
            Ok(parts.iter().sum())
        })
        .ok()
    }
    match rows.dtype() {
        DType::F32 => go::<f32>(rows, ids),
        DType::F64 => go::<f64>(rows, ids),
        _ => None,
    }
}

/// An element-wise rule applied to some rows of a `[V, D]` tensor.
struct OnRows<'a, E> {
    op: &'a E,
    ids: &'a [u32],
}

impl<E: Elementwise<1>> InplaceOp2 for OnRows<'_, E> {
    fn name(&self) -> &'static str {
        E::NAME
    }
    fn cpu_fwd(
        &self,
        s: &mut CpuStorage,
        l: &Layout,
        a: &CpuStorage,
        la: &Layout,
    ) -> candle_core::Result<()> {
        fn go<T: Real + WithDType, E: Elementwise<1>>(
            op: &E,
            ids: &[u32],
            dst: &mut [T],
            rows: &[T],
        ) -> candle_core::Result<()> {
            let d = rows.len() / ids.len().max(1);
            for (&id, row) in ids.iter().zip(rows.chunks(d.max(1))) {
                let at = id as usize * d;
                let Some(dst) = dst.get_mut(at..at + d) else {
                    candle_core::bail!("{}: row {id} is outside the tensor", E::NAME);
                };
                op.apply(dst, [row]);
            }
            Ok(())
        }
        let (lo, hi) = l
            .contiguous_offsets()
            .ok_or_else(|| candle_core::Error::Msg(format!("{}: dst not contiguous", E::NAME)))?;
        match s {
            CpuStorage::F32(d) => go(self.op, self.ids, &mut d[lo..hi], slice_of(a, la)?),
            CpuStorage::F64(d) => go(self.op, self.ids, &mut d[lo..hi], slice_of(a, la)?),
            _ => candle_core::bail!("{}: f32 or f64 only", E::NAME),
        }
    }
}

/// Applies `op` to the rows `ids` of `dst` (`[V, D]`), row `ids[i]` taking
/// `rows[i]` (`rows`: `[ids.len(), D]`) as its operand; `false` (and
/// nothing done) where the kernels cannot run.
pub fn update_rows<E: Elementwise<1>>(
    dst: &Tensor,
    ids: &[u32],
    rows: &Tensor,
    op: &E,
) -> candle_core::Result<bool> {
    let fits = match (dst.dims(), rows.dims()) {
        ([_, d], [k, d2]) => d == d2 && *k == ids.len(),
        _ => false,
    };
    let ok = |t: &Tensor| t.device().is_cpu() && t.is_contiguous() && t.dtype() == dst.dtype();
    if !fits || !matches!(dst.dtype(), DType::F32 | DType::F64) || !ok(dst) || !ok(rows) {
        return Ok(false);
    }
    dst.inplace_op2(rows, &OnRows { op, ids })?;
    Ok(true)
}

/// `dst += src`.
pub struct AddAssign;

impl Elementwise<1> for AddAssign {
    const NAME: &'static str = "add-assign";
    fn apply<T: Real>(&self, dst: &mut [T], [src]: [&[T]; 1]) {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d += s;
        }
    }
}

/// `dst = dst · k + 0` (candle's `affine(k, 0)`).
pub struct Scale(pub f64);

impl Elementwise<0> for Scale {
    const NAME: &'static str = "scale";
    fn apply<T: Real>(&self, dst: &mut [T], _: [&[T]; 0]) {
        let k = T::of(self.0);
        for d in dst {
            *d = *d * k + T::ZERO;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    /// A table that is zero outside some rows: their sum of squares from
    /// the rows alone is the dense one's, bit for bit, with rows straddling
    /// chunk borders (width 13) and the last row's tail; and `update_rows`
    /// writes exactly those rows.
    #[test]
    fn row_kernels_equal_the_dense_ones() -> candle_core::Result<()> {
        let (v, d) = (3 * CHUNK / 13 + 5, 13);
        let ids: Vec<u32> = vec![0, 7, 2520, 2521, 5041, v as u32 - 1];
        for dtype in [DType::F32, DType::F64] {
            let rows = Tensor::randn(0f32, 1.0, (ids.len(), d), &Device::Cpu)?.to_dtype(dtype)?;
            let dense = Tensor::zeros((v, d), dtype, &Device::Cpu)?;
            let at = Tensor::new(ids.as_slice(), &Device::Cpu)?;
            let dense = dense.index_add(&at, &rows, 0)?;
            let want = sum_squares(&dense);
            assert!(want.is_some_and(|w| w > 0.0));
            assert_eq!(sum_squares_rows(&rows, &ids), want, "{dtype:?}");
            assert_eq!(sum_squares_rows(&rows, &[7, 0, 1, 2, 3, 4]), None);
            let table = Tensor::randn(0f32, 1.0, (v, d), &Device::Cpu)?.to_dtype(dtype)?;
            let expected = (&table + &dense)?;
            assert!(update_rows(&table, &ids, &rows, &AddAssign)?);
            let diff = (table - expected)?.abs()?.max_all()?.to_dtype(DType::F64)?;
            assert_eq!(diff.to_scalar::<f64>()?, 0.0);
        }
        Ok(())
    }

    #[test]
    fn add_assign_and_scale_match_tensor_ops_bit_for_bit() {
        for dtype in [DType::F32, DType::F64] {
            let n = 3 * CHUNK + 17;
            let a = Tensor::randn(0f32, 1.0, n, &Device::Cpu)
                .unwrap()
                .to_dtype(dtype)
                .unwrap();
            let b = Tensor::randn(0f32, 1.0, n, &Device::Cpu)
                .unwrap()
                .to_dtype(dtype)
                .unwrap();
            let want = (&a + &b).unwrap().affine(0.37, 0.0).unwrap();
            let dst = a.copy().unwrap();
            assert!(update1(&dst, &b, &AddAssign).unwrap());
            assert!(update0(&dst, &Scale(0.37)).unwrap());
            let diff = (dst - want).unwrap().abs().unwrap().max_all().unwrap();
            assert_eq!(
                diff.to_dtype(DType::F64)
                    .unwrap()
                    .to_scalar::<f64>()
                    .unwrap(),
                0.0
            );
        }
    }

    #[test]
    fn sum_squares_is_the_squared_norm() {
        let x = Tensor::arange(0f32, 100_000.0, &Device::Cpu).unwrap();
        let want: f64 = (0..100_000u64).map(|i| (i * i) as f64).sum();
        assert_eq!(sum_squares(&x), Some(want));
    }

    /// The lane sums over odd lengths (a tail shorter than the lanes) and
    /// fractional values agree with one running sum to rounding, and twice
    /// the same input gives the same bits.
    #[test]
    fn sum_squares_over_lanes_and_tails() {
        for n in [1, 7, 9, CHUNK - 3, 2 * CHUNK + 5] {
            let v: Vec<f32> = (0..n).map(|i| ((i as f32) * 0.731).sin()).collect();
            let want: f64 = v.iter().map(|&x| (x as f64) * (x as f64)).sum();
            let x = Tensor::from_vec(v, n, &Device::Cpu).unwrap();
            let got = sum_squares(&x).unwrap();
            assert!(
                (got - want).abs() <= 1e-12 * want,
                "n = {n}: {got} against {want}"
            );
            assert_eq!(sum_squares(&x).unwrap().to_bits(), got.to_bits());
        }
    }

    #[test]
    fn ineligible_operands_are_left_to_the_caller() {
        let a = Tensor::zeros((4, 3), DType::F32, &Device::Cpu).unwrap();
        let t = Tensor::ones((3, 4), DType::F32, &Device::Cpu)
            .unwrap()
            .t()
            .unwrap();
        assert!(!update1(&a, &t, &AddAssign).unwrap());
        let i = Tensor::zeros((4, 3), DType::U32, &Device::Cpu).unwrap();
        assert!(!update0(&i, &Scale(2.0)).unwrap());
        assert_eq!(sum_squares(&t), None);
        assert_eq!(a.sum_all().unwrap().to_scalar::<f32>().unwrap(), 0.0);
    }
}
