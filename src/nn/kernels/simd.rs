//! Instruction sets: which vector extensions this CPU has ([`Isa::detect`])
//! and the lane operations written once against [`Lanes`] and compiled three
//! times — AVX-512, AVX2 + FMA and portable scalar code. The fused kernels
//! (`dots`, `packed`, the `widest!` dispatch) and word2vec's inner loop (a
//! dot product and two AXPY forms over one embedding row, run inside one
//! `#[target_feature]` function per sentence so every operation inlines as
//! straight-line vector code; gensim calls BLAS `sdot`/`saxpy` for each
//! 100-float row) both build on it, so it sits here, below both.
//!
//! Rows are raw pointers, not slices: under Hogwild (Recht et al., 2011)
//! other threads write the same rows concurrently, so no `&mut` to shared
//! memory is ever formed.

/// The instruction set the trainer's loop is compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// 16 lanes, masked tails.
    Avx512,
    /// 8 lanes with fused multiply-add.
    Avx2,
    /// Plain Rust, any CPU.
    Scalar,
}

impl Isa {
    /// The best instruction set this CPU runs.
    pub fn detect() -> Isa {
        [Isa::Avx512, Isa::Avx2]
            .into_iter()
            .find(|isa| isa.available())
            .unwrap_or(Isa::Scalar)
    }

    /// Whether this CPU can run code compiled for `self`.
    pub fn available(self) -> bool {
        match self {
            Isa::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }
}

/// Row operations over `n` floats. Implementations are `#[inline(always)]`
/// so they take the target features of the function they are inlined into.
///
/// # Safety
/// Every pointer must be valid for `n` floats; `x`/`w` may be written by
/// other threads meanwhile (Hogwild), which only perturbs the numbers.
pub trait Lanes {
    /// `Σ a[i]·b[i]`.
    ///
    /// # Safety
    /// See the trait.
    unsafe fn dot(a: *const f32, b: *const f32, n: usize) -> f32;

    /// `y += g·x`.
    ///
    /// # Safety
    /// See the trait.
    unsafe fn axpy(g: f32, x: *const f32, y: *mut f32, n: usize);

    /// The negative-sampling / hierarchical-softmax update of one output
    /// row, in one pass over it: `e += g·w`, then `w += g·x` (the C tool's
    /// two loops, fused, with `e` reading `w` before its update).
    ///
    /// # Safety
    /// See the trait.
    unsafe fn update(g: f32, x: *const f32, w: *mut f32, e: *mut f32, n: usize);
}

/// Portable code.
pub struct Scalar;

impl Lanes for Scalar {
    #[inline(always)]
    unsafe fn dot(a: *const f32, b: *const f32, n: usize) -> f32 {
        // Eight partial sums, as the vector kernels keep, so all three
        // round alike and the compiler may vectorise without reassociating.
        let mut acc = [0f32; 8];
        let mut i = 0;
        // SAFETY: i + 8 ≤ n and i < n below; the caller guarantees n floats.
        unsafe {
            while i + 8 <= n {
                for (l, a_l) in acc.iter_mut().enumerate() {
                    *a_l += *a.add(i + l) * *b.add(i + l);
                }
                i += 8;
            }
            let mut s = acc.iter().sum::<f32>();
            while i < n {
                s += *a.add(i) * *b.add(i);
                i += 1;
            }
            s
        }
    }

    #[inline(always)]
    unsafe fn axpy(g: f32, x: *const f32, y: *mut f32, n: usize) {
        for i in 0..n {
            // SAFETY: i < n.
            unsafe { *y.add(i) += g * *x.add(i) };
        }
    }

    #[inline(always)]
    unsafe fn update(g: f32, x: *const f32, w: *mut f32, e: *mut f32, n: usize) {
        for i in 0..n {
            // SAFETY: i < n.
            unsafe {
                let wi = *w.add(i);
                *e.add(i) += g * wi;
                *w.add(i) = wi + g * *x.add(i);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub use x86::{Avx2, Avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::Lanes;

    /// AVX-512F: 16 floats a register, the tail through a load mask.
    pub struct Avx512;

    #[inline(always)]
    fn tail_mask(rest: usize) -> __mmask16 {
        ((1u32 << rest) - 1) as __mmask16
    }

    impl Lanes for Avx512 {
        #[inline(always)]
        unsafe fn dot(a: *const f32, b: *const f32, n: usize) -> f32 {
            // SAFETY: loads stay within n floats (masked tail); the caller
            // runs this only where AVX-512F is available.
            unsafe {
                let (mut s0, mut s1) = (_mm512_setzero_ps(), _mm512_setzero_ps());
                let mut i = 0;
                while i + 32 <= n {
                    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a.add(i)), _mm512_loadu_ps(b.add(i)), s0);
                    s1 = _mm512_fmadd_ps(
                        _mm512_loadu_ps(a.add(i + 16)),
                        _mm512_loadu_ps(b.add(i + 16)),
                        s1,
                    );
                    i += 32;
                }
                if i + 16 <= n {
                    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a.add(i)), _mm512_loadu_ps(b.add(i)), s0);
                    i += 16;
                }
                if i < n {
                    let m = tail_mask(n - i);
                    s1 = _mm512_fmadd_ps(
                        _mm512_maskz_loadu_ps(m, a.add(i)),
                        _mm512_maskz_loadu_ps(m, b.add(i)),
                        s1,
                    );
                }
                _mm512_reduce_add_ps(_mm512_add_ps(s0, s1))
            }
        }

        #[inline(always)]
        unsafe fn axpy(g: f32, x: *const f32, y: *mut f32, n: usize) {
            // SAFETY: as in `dot`; the tail store is masked.
            unsafe {
                let gv = _mm512_set1_ps(g);
                let mut i = 0;
                while i + 16 <= n {
                    let v =
                        _mm512_fmadd_ps(gv, _mm512_loadu_ps(x.add(i)), _mm512_loadu_ps(y.add(i)));
                    _mm512_storeu_ps(y.add(i), v);
                    i += 16;
                }
                if i < n {
                    let m = tail_mask(n - i);
                    let v = _mm512_fmadd_ps(
                        gv,
                        _mm512_maskz_loadu_ps(m, x.add(i)),
                        _mm512_maskz_loadu_ps(m, y.add(i)),
                    );
                    _mm512_mask_storeu_ps(y.add(i), m, v);
                }
            }
        }

        #[inline(always)]
        unsafe fn update(g: f32, x: *const f32, w: *mut f32, e: *mut f32, n: usize) {
            // SAFETY: as in `axpy`.
            unsafe {
                let gv = _mm512_set1_ps(g);
                let mut i = 0;
                while i + 16 <= n {
                    let wv = _mm512_loadu_ps(w.add(i));
                    _mm512_storeu_ps(e.add(i), _mm512_fmadd_ps(gv, wv, _mm512_loadu_ps(e.add(i))));
                    _mm512_storeu_ps(w.add(i), _mm512_fmadd_ps(gv, _mm512_loadu_ps(x.add(i)), wv));
                    i += 16;
                }
                if i < n {
                    let m = tail_mask(n - i);
                    let wv = _mm512_maskz_loadu_ps(m, w.add(i));
                    let ev = _mm512_fmadd_ps(gv, wv, _mm512_maskz_loadu_ps(m, e.add(i)));
                    _mm512_mask_storeu_ps(e.add(i), m, ev);
                    let nw = _mm512_fmadd_ps(gv, _mm512_maskz_loadu_ps(m, x.add(i)), wv);
                    _mm512_mask_storeu_ps(w.add(i), m, nw);
                }
            }
        }
    }

    /// AVX2 + FMA: 8 floats a register, a scalar tail.
    pub struct Avx2;

    #[inline(always)]
    unsafe fn hsum256(v: __m256) -> f32 {
        // SAFETY: register-only arithmetic under the caller's AVX2.
        unsafe {
            let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
            _mm_cvtss_f32(s)
        }
    }

    impl Lanes for Avx2 {
        #[inline(always)]
        unsafe fn dot(a: *const f32, b: *const f32, n: usize) -> f32 {
            // SAFETY: loads stay within n floats; AVX2+FMA checked by the caller.
            unsafe {
                let (mut s0, mut s1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
                let mut i = 0;
                while i + 16 <= n {
                    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a.add(i)), _mm256_loadu_ps(b.add(i)), s0);
                    s1 = _mm256_fmadd_ps(
                        _mm256_loadu_ps(a.add(i + 8)),
                        _mm256_loadu_ps(b.add(i + 8)),
                        s1,
                    );
                    i += 16;
                }
                if i + 8 <= n {
                    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a.add(i)), _mm256_loadu_ps(b.add(i)), s0);
                    i += 8;
                }
                let mut s = hsum256(_mm256_add_ps(s0, s1));
                while i < n {
                    s += *a.add(i) * *b.add(i);
                    i += 1;
                }
                s
            }
        }

        #[inline(always)]
        unsafe fn axpy(g: f32, x: *const f32, y: *mut f32, n: usize) {
            // SAFETY: as in `dot`.
            unsafe {
                let gv = _mm256_set1_ps(g);
                let mut i = 0;
                while i + 8 <= n {
                    let v =
                        _mm256_fmadd_ps(gv, _mm256_loadu_ps(x.add(i)), _mm256_loadu_ps(y.add(i)));
                    _mm256_storeu_ps(y.add(i), v);
                    i += 8;
                }
                while i < n {
                    *y.add(i) += g * *x.add(i);
                    i += 1;
                }
            }
        }

        #[inline(always)]
        unsafe fn update(g: f32, x: *const f32, w: *mut f32, e: *mut f32, n: usize) {
            // SAFETY: as in `dot`.
            unsafe {
                let gv = _mm256_set1_ps(g);
                let mut i = 0;
                while i + 8 <= n {
                    let wv = _mm256_loadu_ps(w.add(i));
                    _mm256_storeu_ps(e.add(i), _mm256_fmadd_ps(gv, wv, _mm256_loadu_ps(e.add(i))));
                    _mm256_storeu_ps(w.add(i), _mm256_fmadd_ps(gv, _mm256_loadu_ps(x.add(i)), wv));
                    i += 8;
                }
                while i < n {
                    let wi = *w.add(i);
                    *e.add(i) += g * wi;
                    *w.add(i) = wi + g * *x.add(i);
                    i += 1;
                }
            }
        }
    }
}

/// Sets the calling thread's SSE control register to flush subnormal floats
/// to zero (FTZ) and read them as zero (DAZ); `set_threads` does it for
/// the main thread and every pool thread.
///
/// As a model sharpens, its softmax probabilities and gradients fill with
/// values below `f32::MIN_POSITIVE` (`e^{−90}` is one), and every product
/// that touches one takes a microcode assist on x86, around a hundred cycles.
/// Measured on the 2-core reference machine: the default translation
/// recipe's epochs slowed from 12 s to 15.5 s over ten epochs with IEEE
/// subnormals, the matrix-product kernel's share of the time rising from 40 %
/// to 53 %. Numbers below 1.2e-38 have no effect on a loss or an update of
/// these models; the tests, which do not call this, keep full IEEE arithmetic.
pub fn flush_denormals() {
    #[cfg(target_arch = "x86_64")]
    #[allow(deprecated)] // std's replacement is inline assembly doing the same.
    // SAFETY: sets two mode bits (FTZ 0x8000, DAZ 0x0040) of this thread's
    // MXCSR, keeping the rounding mode and exception masks as they are.
    unsafe {
        use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
        _mm_setcsr(_mm_getcsr() | 0x8040);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(always)]
    fn check<L: Lanes>() {
        for n in [1, 7, 8, 15, 16, 17, 31, 32, 33, 100, 300] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let want: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            // SAFETY: both vectors hold n floats.
            let got = unsafe { L::dot(a.as_ptr(), b.as_ptr(), n) };
            assert!(
                (got as f64 - want).abs() < 1e-4,
                "dot n={n}: {got} vs {want}"
            );

            let mut y = b.clone();
            // SAFETY: as above.
            unsafe { L::axpy(0.5, a.as_ptr(), y.as_mut_ptr(), n) };
            for i in 0..n {
                assert!((y[i] - (b[i] + 0.5 * a[i])).abs() < 1e-6);
            }

            let (mut w, mut e) = (b.clone(), vec![1.0f32; n]);
            // SAFETY: as above.
            unsafe { L::update(-0.25, a.as_ptr(), w.as_mut_ptr(), e.as_mut_ptr(), n) };
            for i in 0..n {
                assert!((e[i] - (1.0 - 0.25 * b[i])).abs() < 1e-6, "update e n={n}");
                assert!((w[i] - (b[i] - 0.25 * a[i])).abs() < 1e-6, "update w n={n}");
            }
        }
    }

    #[test]
    fn scalar_ops() {
        check::<Scalar>();
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn vector_ops_match() {
        #[target_feature(enable = "avx512f")]
        fn avx512() {
            check::<Avx512>();
        }
        #[target_feature(enable = "avx2,fma")]
        fn avx2() {
            check::<Avx2>();
        }
        if Isa::Avx512.available() {
            // SAFETY: the CPU has AVX-512F.
            unsafe { avx512() };
        }
        if Isa::Avx2.available() {
            // SAFETY: the CPU has AVX2 and FMA.
            unsafe { avx2() };
        }
    }
}
