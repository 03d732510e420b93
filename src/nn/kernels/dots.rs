//! `dst[m, n] (+)= a[m, k] · bᵀ` for a few rows of `a` and `b` stored as
//! `[n, k]` row-major — a layer's weight as PyTorch stores it: every output
//! is a dot product of two contiguous rows. Decoding and batch-1 training
//! run their projections this way (one or a beam's worth of rows against a
//! 2,803 × 256 output layer).
//!
//! The `gemm` crate repacks all of `b` for such products, and its one-row
//! path reads `b` once per row of `a`. Here each row of `b` is read from
//! memory once: the dot products of all rows of `a` with it run while it
//! sits in L1. In f32 (what models run in) a block of eight rows of `b`
//! meets each row of `a` in eight vector accumulators (AVX-512 or AVX2, the
//! instruction sets of [`crate::nn::kernels::simd`]); f64 (the parity tests) runs
//! plain loops.

use std::any::TypeId;
use std::sync::OnceLock;

use super::{Real, helper};
#[cfg(target_arch = "x86_64")]
use crate::nn::kernels::simd::{Avx2, Avx512};
use crate::nn::kernels::simd::{Isa, Scalar};

/// `dst[r·dst_ld + j] (+)= Σ_i a[r·a_ld + i] · b[j·b_ld + i]` for `r < m`,
/// `j < n`.
///
/// # Panics
/// When a buffer is too short for its rows (the caller checks first).
pub fn few_rows_nt<T: Real>(
    (dst, dst_ld): (&mut [T], usize),
    (a, a_ld): (&[T], usize),
    (b, b_ld): (&[T], usize),
    (m, k, n): (usize, usize, usize),
    accumulate: bool,
) {
    assert!(
        fits(dst.len(), m, dst_ld, n) && fits(a.len(), m, a_ld, k) && fits(b.len(), n, b_ld, k),
        "few_rows_nt: buffers too small for their shapes"
    );
    if TypeId::of::<T>() == TypeId::of::<f32>() {
        // SAFETY: `T` is `f32` (same type, so same layout and lifetime).
        let (dst, a, b) = unsafe {
            (
                std::slice::from_raw_parts_mut(dst.as_mut_ptr().cast::<f32>(), dst.len()),
                std::slice::from_raw_parts(a.as_ptr().cast::<f32>(), a.len()),
                std::slice::from_raw_parts(b.as_ptr().cast::<f32>(), b.len()),
            )
        };
        let run = Run {
            dst: dst.as_mut_ptr(),
            dst_ld,
            a,
            a_ld,
            b,
            b_ld,
            m,
            k,
            n,
            accumulate,
        };
        static ISA: OnceLock<Isa> = OnceLock::new();
        let isa = *ISA.get_or_init(Isa::detect);
        // Half the columns to the helper core where the product is worth
        // the hand-over (about a microsecond); the rows of `dst` the two
        // halves write are disjoint.
        let half = n / 2 / COLS * COLS;
        if m * n * k >= SPLIT && half > 0 {
            let (left, right) = run.split(half);
            // SAFETY: `Isa::detect` chose the instruction set for this CPU;
            // the assert above keeps every row inside its buffer, and the
            // halves write disjoint columns of `dst`, which outlives both.
            helper::join(|| unsafe { left.on(isa) }, move || unsafe { right.on(isa) });
        } else {
            // SAFETY: as above, one product.
            unsafe { run.on(isa) };
        }
        return;
    }
    for j in 0..n {
        let bj = &b[j * b_ld..j * b_ld + k];
        for r in 0..m {
            let row = &a[r * a_ld..r * a_ld + k];
            let mut s = T::ZERO;
            for (&x, &y) in row.iter().zip(bj) {
                s += x * y;
            }
            let d = &mut dst[r * dst_ld + j];
            *d = if accumulate { *d + s } else { s };
        }
    }
}

/// Multiply-adds from which a product is split over two cores.
const SPLIT: usize = 1 << 16;

/// Whether a buffer of `len` holds `rows` rows of `cols` values `ld` apart.
fn fits(len: usize, rows: usize, ld: usize, cols: usize) -> bool {
    rows == 0 || len >= (rows - 1) * ld + cols
}

/// Rows of `a` up to which [`few_rows_nn`] beats the `gemm` crate: it reads
/// `b` once per row (once per core with two rows), where `gemm` packs it first.
pub const FEW_ROWS_NN: usize = 2;

/// `dst[r·dst_ld + j] (+)= Σ_p a[r·a_ld + p] · b[p·b_ld + j]` for `r < m`,
/// `j < n`: a few rows of `a` against `b` stored `[k, n]` row-major — a
/// layer's weight read as `x · W` (the input gradient of `x · Wᵀ`), as
/// batch-1 backpropagation runs every step. Each row of `b` is streamed
/// once per row of `a` into running sums that stay in L1; the `gemm`
/// crate repacks all of `b` for such products first. A large product
/// goes half to the helper core (the columns of a single row, or the
/// rows), which changes no number.
///
/// # Panics
/// When a buffer is too short for its rows (the caller checks first).
pub fn few_rows_nn<T: Real>(
    (dst, dst_ld): (&mut [T], usize),
    (a, a_ld): (&[T], usize),
    (b, b_ld): (&[T], usize),
    (m, k, n): (usize, usize, usize),
    accumulate: bool,
) {
    assert!(
        fits(dst.len(), m, dst_ld, n) && fits(a.len(), m, a_ld, k) && fits(b.len(), k, b_ld, n),
        "few_rows_nn: buffers too small for their shapes"
    );
    let big = m * n * k >= SPLIT;
    if big && m == 1 && n >= 2 * NN_TILE {
        let half = n / 2 / 16 * 16;
        let (left, right) = dst.split_at_mut(half);
        helper::join(
            || {
                nn_rows(
                    (left, dst_ld),
                    (a, a_ld),
                    (b, b_ld),
                    (1, k, half),
                    accumulate,
                )
            },
            || {
                let b = &b[half..];
                nn_rows(
                    (right, dst_ld),
                    (a, a_ld),
                    (b, b_ld),
                    (1, k, n - half),
                    accumulate,
                )
            },
        );
    } else if big && m >= 2 {
        let top = m / 2;
        let (upper, lower) = dst.split_at_mut(top * dst_ld);
        helper::join(
            || {
                nn_rows(
                    (upper, dst_ld),
                    (a, a_ld),
                    (b, b_ld),
                    (top, k, n),
                    accumulate,
                )
            },
            || {
                let a = &a[top * a_ld..];
                nn_rows(
                    (lower, dst_ld),
                    (a, a_ld),
                    (b, b_ld),
                    (m - top, k, n),
                    accumulate,
                )
            },
        );
    } else {
        nn_rows((dst, dst_ld), (a, a_ld), (b, b_ld), (m, k, n), accumulate);
    }
}

/// Columns of `dst` one pass of [`few_rows_nn`] sums (1 KB of f32 running
/// sums, in L1; `b` is read in rows of as many).
const NN_TILE: usize = 256;

widest! {
    /// [`few_rows_nn`] on one core, compiled for the widest vectors this CPU has.
    fn nn_rows / nn_rows_body<T: Real>(
        dst: (&mut [T], usize),
        a: (&[T], usize),
        b: (&[T], usize),
        sizes: (usize, usize, usize),
        accumulate: bool,
    ) -> () {
        let ((dst, dst_ld), (a, a_ld), (b, b_ld), (m, k, n)) = (dst, a, b, sizes);
        let mut acc = [T::ZERO; NN_TILE];
        for r in 0..m {
            let x = &a[r * a_ld..r * a_ld + k];
            let mut j0 = 0;
            while j0 < n {
                let w = NN_TILE.min(n - j0);
                let acc = &mut acc[..w];
                acc.iter_mut().for_each(|s| *s = T::ZERO);
                for (p, &xp) in x.iter().enumerate() {
                    let row = &b[p * b_ld + j0..p * b_ld + j0 + w];
                    for (s, &y) in acc.iter_mut().zip(row) {
                        *s += xp * y;
                    }
                }
                let d = &mut dst[r * dst_ld + j0..r * dst_ld + j0 + w];
                match accumulate {
                    true => d.iter_mut().zip(acc.iter()).for_each(|(d, &s)| *d += s),
                    false => d.copy_from_slice(acc),
                }
                j0 += w;
            }
        }
    }
}

/// One f32 product's operands.
#[derive(Clone, Copy)]
struct Run<'a> {
    /// `dst` as a pointer: two halves of one product write disjoint
    /// columns of the same rows at once.
    dst: *mut f32,
    dst_ld: usize,
    a: &'a [f32],
    a_ld: usize,
    b: &'a [f32],
    b_ld: usize,
    m: usize,
    k: usize,
    n: usize,
    accumulate: bool,
}

/// Rows of `b` a block: each row of `a` meets them in `COLS` independent
/// accumulators, so the multiply-adds of one block hide each other's latency,
/// one load of `a` serves `COLS` products, and the `COLS` horizontal sums
/// are done together (one sum per dot product cost a sixth of decoding).
const COLS: usize = 8;

// SAFETY: a `Run` is sent only to the helper thread by `helper::join`, which
// returns after the helper is done with it; what `dst` points to outlives it.
unsafe impl Send for Run<'_> {}

impl Run<'_> {
    /// The product's first `cols` columns, and the rest.
    fn split(self, cols: usize) -> (Self, Self) {
        let right = Run {
            // Stays inside `dst` (or one past it): `cols < n ≤ dst_ld`.
            dst: self.dst.wrapping_add(cols),
            b: &self.b[cols * self.b_ld..],
            n: self.n - cols,
            ..self
        };
        (Run { n: cols, ..self }, right)
    }

    /// The product on instruction set `isa`.
    ///
    /// # Safety
    /// `isa`'s instructions exist on this CPU; `a` holds `m` rows and `b`
    /// `n` rows of `k`, and `dst` rows of `dst_ld` with `n` columns (the
    /// caller's assert), which nothing else reads or writes meanwhile.
    unsafe fn on(self, isa: Isa) {
        // SAFETY: the caller's guarantees.
        unsafe {
            match isa {
                #[cfg(target_arch = "x86_64")]
                Isa::Avx512 => avx512(self),
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2 => avx2(self),
                _ => self.with::<Scalar>(),
            }
        }
    }

    /// The product in `B`'s registers: blocks of [`COLS`] rows of `b`, each
    /// block against every row of `a` while it sits in L1, so `b` is read
    /// from memory once; the last `n mod COLS` rows of `b` one at a time.
    ///
    /// # Safety
    /// As [`Run::on`].
    #[inline(always)]
    unsafe fn with<B: Block>(self) {
        let (a, b) = (self.a.as_ptr(), self.b.as_ptr());
        let (k, body) = (self.k, self.k / B::W * B::W);
        // SAFETY (all the pointer arithmetic below): rows `r < m` of `a` and
        // `j < n` of `b` hold `k` floats (the caller's), and every load
        // reads `W` floats at `i ≤ body − W` or one float at `i < k`.
        let tail = |x: *const f32, y: *const f32| -> f32 {
            (body..k).map(|i| unsafe { *x.add(i) * *y.add(i) }).sum()
        };
        let put = |r: usize, j: usize, s: f32| {
            // SAFETY: `r < m`, `j < n`: inside `dst` (the caller's).
            let d = unsafe { &mut *self.dst.add(r * self.dst_ld + j) };
            *d = if self.accumulate { *d + s } else { s };
        };
        let mut j = 0;
        while j + COLS <= self.n {
            let rows: [*const f32; COLS] =
                std::array::from_fn(|c| unsafe { b.add((j + c) * self.b_ld) });
            for r in 0..self.m {
                let x = unsafe { a.add(r * self.a_ld) };
                let mut acc = [unsafe { B::zero() }; COLS];
                let mut i = 0;
                while i < body {
                    let xv = unsafe { B::load(x.add(i)) };
                    for (s, &y) in acc.iter_mut().zip(&rows) {
                        *s = unsafe { B::fma(xv, B::load(y.add(i)), *s) };
                    }
                    i += B::W;
                }
                let sums = unsafe { B::sums(&acc) };
                for (c, (s, &y)) in sums.into_iter().zip(&rows).enumerate() {
                    put(r, j + c, s + tail(x, y));
                }
            }
            j += COLS;
        }
        for j in j..self.n {
            let y = unsafe { b.add(j * self.b_ld) };
            for r in 0..self.m {
                let x = unsafe { a.add(r * self.a_ld) };
                let mut acc = unsafe { B::zero() };
                let mut i = 0;
                while i < body {
                    acc = unsafe { B::fma(B::load(x.add(i)), B::load(y.add(i)), acc) };
                    i += B::W;
                }
                put(r, j, unsafe { B::sum(acc) } + tail(x, y));
            }
        }
    }
}

/// The vector operations of the blocked kernel, `W` lanes a register.
/// Implementations are `#[inline(always)]`, so they take the target
/// features of the function they are inlined into.
trait Block {
    /// One register of `W` floats.
    type V: Copy;
    /// Floats a register.
    const W: usize;
    /// All lanes zero.
    ///
    /// # Safety
    /// The instruction set exists on this CPU.
    unsafe fn zero() -> Self::V;
    /// `W` floats from `p`.
    ///
    /// # Safety
    /// `p` is valid for `W` floats; the instruction set exists.
    unsafe fn load(p: *const f32) -> Self::V;
    /// `acc + x·y`, lane by lane.
    ///
    /// # Safety
    /// The instruction set exists.
    unsafe fn fma(x: Self::V, y: Self::V, acc: Self::V) -> Self::V;
    /// The lane sums of `COLS` registers, one float each.
    ///
    /// # Safety
    /// The instruction set exists.
    unsafe fn sums(acc: &[Self::V; COLS]) -> [f32; COLS];
    /// The lane sum of one register.
    ///
    /// # Safety
    /// The instruction set exists.
    unsafe fn sum(acc: Self::V) -> f32;
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn avx512(run: Run<'_>) {
    // SAFETY: the caller's guarantees.
    unsafe { run.with::<Avx512>() }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2(run: Run<'_>) {
    // SAFETY: the caller's guarantees.
    unsafe { run.with::<Avx2>() }
}

impl Block for Scalar {
    type V = f32;
    const W: usize = 1;
    #[inline(always)]
    unsafe fn zero() -> f32 {
        0.0
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> f32 {
        // SAFETY: the caller's.
        unsafe { *p }
    }
    #[inline(always)]
    unsafe fn fma(x: f32, y: f32, acc: f32) -> f32 {
        acc + x * y
    }
    #[inline(always)]
    unsafe fn sums(acc: &[f32; COLS]) -> [f32; COLS] {
        *acc
    }
    #[inline(always)]
    unsafe fn sum(acc: f32) -> f32 {
        acc
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{Avx2, Avx512, Block, COLS};

    /// The lane sums of eight AVX registers as one register of eight sums:
    /// pairwise horizontal adds, then the two 128-bit halves added.
    ///
    /// # Safety
    /// AVX exists on this CPU.
    #[inline(always)]
    unsafe fn sum8(v: &[__m256; COLS]) -> [f32; COLS] {
        // SAFETY: register-only arithmetic under the caller's AVX.
        unsafe {
            let q0 = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
            let q1 = _mm256_hadd_ps(_mm256_hadd_ps(v[4], v[5]), _mm256_hadd_ps(v[6], v[7]));
            // q0 lanes: sums 0–3 of the low halves, then of the high halves.
            let s = _mm256_add_ps(
                _mm256_permute2f128_ps(q0, q1, 0x20),
                _mm256_permute2f128_ps(q0, q1, 0x31),
            );
            let mut out = [0f32; COLS];
            _mm256_storeu_ps(out.as_mut_ptr(), s);
            out
        }
    }

    impl Block for Avx2 {
        type V = __m256;
        const W: usize = 8;
        #[inline(always)]
        unsafe fn zero() -> __m256 {
            // SAFETY: the caller's AVX.
            unsafe { _mm256_setzero_ps() }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m256 {
            // SAFETY: the caller's: 8 floats at `p`, AVX.
            unsafe { _mm256_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn fma(x: __m256, y: __m256, acc: __m256) -> __m256 {
            // SAFETY: the caller's FMA.
            unsafe { _mm256_fmadd_ps(x, y, acc) }
        }
        #[inline(always)]
        unsafe fn sums(acc: &[__m256; COLS]) -> [f32; COLS] {
            // SAFETY: the caller's AVX.
            unsafe { sum8(acc) }
        }
        #[inline(always)]
        unsafe fn sum(acc: __m256) -> f32 {
            // SAFETY: the caller's AVX.
            unsafe { sum8(&[acc; COLS])[0] }
        }
    }

    /// A 512-bit register folded to 256 bits (its halves added).
    ///
    /// # Safety
    /// AVX-512F exists on this CPU.
    #[inline(always)]
    unsafe fn fold(v: __m512) -> __m256 {
        // SAFETY: register-only arithmetic under the caller's AVX-512F.
        unsafe {
            let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
            _mm256_add_ps(_mm512_castps512_ps256(v), hi)
        }
    }

    impl Block for Avx512 {
        type V = __m512;
        const W: usize = 16;
        #[inline(always)]
        unsafe fn zero() -> __m512 {
            // SAFETY: the caller's AVX-512F.
            unsafe { _mm512_setzero_ps() }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m512 {
            // SAFETY: the caller's: 16 floats at `p`, AVX-512F.
            unsafe { _mm512_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn fma(x: __m512, y: __m512, acc: __m512) -> __m512 {
            // SAFETY: the caller's AVX-512F.
            unsafe { _mm512_fmadd_ps(x, y, acc) }
        }
        #[inline(always)]
        unsafe fn sums(acc: &[__m512; COLS]) -> [f32; COLS] {
            // SAFETY: the caller's AVX-512F (which implies AVX).
            unsafe {
                let mut halves = [_mm256_setzero_ps(); COLS];
                for (h, &v) in halves.iter_mut().zip(acc) {
                    *h = fold(v);
                }
                sum8(&halves)
            }
        }
        #[inline(always)]
        unsafe fn sum(acc: __m512) -> f32 {
            // SAFETY: the caller's AVX-512F.
            unsafe { _mm512_reduce_add_ps(acc) }
        }
    }
}

#[cfg(test)]
#[path = "dots_tests.rs"]
mod tests;
