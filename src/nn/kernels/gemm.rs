//! Row-major matrix products on plain slices, for the kernels: a thin, checked
//! wrapper over the `gemm` crate (the one candle's CPU backend uses).

use gemm::Parallelism;

use super::Real;

/// How an operand is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// As the product reads it: `[rows, cols]` row-major.
    N,
    /// Transposed: the product reads `[rows, cols]` from a `[cols, rows]` row-major buffer.
    T,
}

/// `dst[m, n] (+)= a[m, k] · b[k, n]`, all row-major; `a`/`b` read through
/// [`Op`]; `accumulate` adds to `dst` instead of overwriting it. Runs on the
/// calling thread: the trainer already spreads batch shards over the cores.
#[allow(clippy::too_many_arguments)]
pub fn matmul<T: Real>(
    dst: &mut [T],
    a: &[T],
    a_op: Op,
    b: &[T],
    b_op: Op,
    m: usize,
    k: usize,
    n: usize,
    accumulate: bool,
) {
    assert!(
        dst.len() >= m * n && a.len() >= m * k && b.len() >= k * n,
        "matmul: buffers too small"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst[..m * n].iter_mut().for_each(|x| *x = T::ZERO);
        }
        return;
    }
    // (col stride, row stride) of each operand as the product reads it.
    let (a_cs, a_rs) = match a_op {
        Op::N => (1, k as isize),
        Op::T => (m as isize, 1),
    };
    let (b_cs, b_rs) = match b_op {
        Op::N => (1, n as isize),
        Op::T => (k as isize, 1),
    };
    // SAFETY: the asserts above keep every index the strides reach inside the
    // buffers; `dst` does not alias `a` or `b` (distinct borrows).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            T::ONE,
            T::ONE,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        out
    }

    fn transpose(x: &[f64], rows: usize, cols: usize) -> Vec<f64> {
        let mut out = vec![0.0; x.len()];
        for i in 0..rows {
            for j in 0..cols {
                out[j * rows + i] = x[i * cols + j];
            }
        }
        out
    }

    #[test]
    fn every_layout_matches_the_naive_product() {
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.91).cos()).collect();
        let want = naive(&a, &b, m, k, n);
        let at = transpose(&a, m, k);
        let bt = transpose(&b, k, n);
        for (aa, ao) in [(&a, Op::N), (&at, Op::T)] {
            for (bb, bo) in [(&b, Op::N), (&bt, Op::T)] {
                let mut dst = vec![1.0; m * n];
                matmul(&mut dst, aa, ao, bb, bo, m, k, n, true);
                for (d, w) in dst.iter().zip(&want) {
                    assert!((d - (w + 1.0)).abs() < 1e-12, "{ao:?}{bo:?}");
                }
                matmul(&mut dst, aa, ao, bb, bo, m, k, n, false);
                for (d, w) in dst.iter().zip(&want) {
                    assert!((d - w).abs() < 1e-12, "{ao:?}{bo:?}");
                }
            }
        }
    }
}
