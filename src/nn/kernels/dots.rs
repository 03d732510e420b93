//! `dst[m, n] (+)= a[m, k] · bᵀ` for a few rows of `a` and `b` stored as
//! `[n, k]` row-major — a layer's weight as PyTorch stores it: every output
//! is a dot product of two contiguous rows. Decoding and batch-1 training
//! run their projections this way (one or a beam's worth of rows against a
//! 2,803 × 256 output layer).
//!
//! The `gemm` crate repacks all of `b` for such products, and its one-row
//! path reads `b` once per row of `a`. Here each row of `b` is read from
//! memory once: the dot products of all rows of `a` with it run while it
//! sits in L1. In f32 (what models run in) each dot product is word2vec's
//! AVX-512 / AVX2 kernel ([`crate::embed::simd`]); f64 (the parity tests)
//! runs plain loops.

use std::any::TypeId;
use std::sync::OnceLock;

use super::Real;
#[cfg(target_arch = "x86_64")]
use crate::embed::simd::{Avx2, Avx512};
use crate::embed::simd::{Isa, Lanes, Scalar};

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
    let fits = |len: usize, rows: usize, ld: usize, cols: usize| {
        rows == 0 || len >= (rows - 1) * ld + cols
    };
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
        // SAFETY: `Isa::detect` chose the instruction set for this CPU; the
        // assert above keeps every row inside its buffer. (Splitting the
        // columns over two threads did not pay where it matters: decoding
        // one sentence with beam 5 on 2 threads took 5.0–5.4 s for 1,200
        // sentences split, 4.3 s not — the pool's threads sleep between
        // steps — though a 2,048 × 512 LSTM step alone ran 1.4× faster.)
        unsafe { run.on(*ISA.get_or_init(Isa::detect), dst) };
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

/// One f32 product's operands.
#[derive(Clone, Copy)]
struct Run<'a> {
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

impl Run<'_> {
    /// The product on instruction set `isa`.
    ///
    /// # Safety
    /// `isa`'s instructions exist on this CPU; `a` holds `m` rows and `b`
    /// `n` rows of `k` (the caller's assert).
    unsafe fn on(self, isa: Isa, dst: &mut [f32]) {
        // SAFETY: the caller's guarantees.
        unsafe {
            match isa {
                #[cfg(target_arch = "x86_64")]
                Isa::Avx512 => avx512(self, dst),
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2 => avx2(self, dst),
                _ => self.with::<Scalar>(dst),
            }
        }
    }

    /// The product with `L`'s dot product.
    ///
    /// # Safety
    /// As [`Run::on`].
    #[inline(always)]
    unsafe fn with<L: Lanes>(self, dst: &mut [f32]) {
        let (a, b) = (self.a.as_ptr(), self.b.as_ptr());
        for j in 0..self.n {
            for r in 0..self.m {
                // SAFETY: rows `r` of `a` and `j` of `b` hold `k` floats
                // (the caller's).
                let s = unsafe { L::dot(a.add(r * self.a_ld), b.add(j * self.b_ld), self.k) };
                let d = &mut dst[r * self.dst_ld + j];
                *d = if self.accumulate { *d + s } else { s };
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn avx512(run: Run<'_>, dst: &mut [f32]) {
    // SAFETY: the caller's guarantees.
    unsafe { run.with::<Avx512>(dst) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2(run: Run<'_>, dst: &mut [f32]) {
    // SAFETY: the caller's guarantees.
    unsafe { run.with::<Avx2>(dst) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The f32 kernels on every instruction set this CPU has, and the f64
    /// loops, against f64 sums: row counts 1 to 9, lengths off the vector
    /// width, rows inside wider buffers, accumulating or overwriting.
    #[test]
    fn dots_match_the_plain_sums() {
        for (k, n) in [(37, 7), (300, 900)] {
            let (a_ld, b_ld, dst_ld) = (k + 9, k + 6, n + 4);
            for m in 1..=9 {
                let a: Vec<f64> = (0..m * a_ld).map(|i| (i as f64 * 0.37).sin()).collect();
                let b: Vec<f64> = (0..n * b_ld).map(|i| (i as f64 * 0.91).cos()).collect();
                let want = |r: usize, j: usize| -> f64 {
                    (0..k).map(|i| a[r * a_ld + i] * b[j * b_ld + i]).sum()
                };
                let check = |name: &str, got: &[f64], start: f64, tol: f64| {
                    for r in 0..m {
                        for j in 0..n {
                            let (d, w) = (got[r * dst_ld + j], want(r, j) + start);
                            assert!((d - w).abs() < tol, "{name} m {m} ({r}, {j}): {d} vs {w}");
                        }
                        // Columns past n are left alone.
                        assert_eq!(got[r * dst_ld + n], start, "{name}");
                    }
                };
                for accumulate in [false, true] {
                    let start = if accumulate { 1.0 } else { 0.0 };
                    let mut dst = vec![start; m * dst_ld];
                    few_rows_nt(
                        (&mut dst, dst_ld),
                        (&a, a_ld),
                        (&b, b_ld),
                        (m, k, n),
                        accumulate,
                    );
                    check("f64", &dst, start, 1e-12);
                    let (a32, b32): (Vec<f32>, Vec<f32>) = (
                        a.iter().map(|&x| x as f32).collect(),
                        b.iter().map(|&x| x as f32).collect(),
                    );
                    let run = Run {
                        dst_ld,
                        a: &a32,
                        a_ld,
                        b: &b32,
                        b_ld,
                        m,
                        k,
                        n,
                        accumulate,
                    };
                    for isa in [Isa::Avx512, Isa::Avx2, Isa::Scalar] {
                        if !isa.available() {
                            continue;
                        }
                        let mut dst = vec![start as f32; m * dst_ld];
                        // SAFETY: the CPU has the instruction set (checked
                        // above); the buffers hold their rows.
                        unsafe { run.on(isa, &mut dst) };
                        let got: Vec<f64> = dst.iter().map(|&x| f64::from(x)).collect();
                        check(&format!("{isa:?}"), &got, start, 1e-4);
                    }
                    let mut dst = vec![start as f32; m * dst_ld];
                    few_rows_nt(
                        (&mut dst, dst_ld),
                        (&a32, a_ld),
                        (&b32, b_ld),
                        (m, k, n),
                        accumulate,
                    );
                    let got: Vec<f64> = dst.iter().map(|&x| f64::from(x)).collect();
                    check("f32 dispatched", &got, start, 1e-4);
                }
            }
        }
    }
}
