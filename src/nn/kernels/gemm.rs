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

/// Up to this many rows, a product with a transposed `b` runs as dot products
/// of contiguous rows ([`super::dots`]), which read `b` as it is stored where
/// the packed path repacks all of it on every call. Measured with the
/// blocked dot kernel on AVX2 (Zen 3), `b` 2,803 × 256: 10 rows 285 µs
/// against 411 µs packed, 16 rows 331 µs against 506 µs, 24 rows 499 µs
/// against 650 µs; `b` 2,048 × 512: 16 rows 679 against 734 µs, 24 rows
/// 944 against 900 µs — even from about 20 rows.
pub const FEW_ROWS: usize = 16;

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
    let (a_ld, b_ld) = packed_lds(a_op, b_op, (m, k, n));
    matmul_ld(
        (dst, n),
        (a, a_op, a_ld),
        (b, b_op, b_ld),
        m,
        k,
        n,
        accumulate,
    );
}

/// The leading dimensions of `a` (`[m, k]`) and `b` (`[k, n]`) stored
/// without gaps, as read through their [`Op`]s.
fn packed_lds(a_op: Op, b_op: Op, (m, k, n): (usize, usize, usize)) -> (usize, usize) {
    let a_ld = if a_op == Op::N { k } else { m };
    let b_ld = if b_op == Op::N { n } else { k };
    (a_ld, b_ld)
}

/// [`matmul`] on sub-matrices: each operand comes with its leading dimension
/// (the distance between the starts of consecutive rows of its buffer), so a
/// product can read or write the first columns of a wider row-major buffer
/// (an LSTM's `h` inside its `[h | c]` state rows) without a copy.
pub fn matmul_ld<T: Real>(
    (dst, dst_ld): (&mut [T], usize),
    (a, a_op, a_ld): (&[T], Op, usize),
    (b, b_op, b_ld): (&[T], Op, usize),
    m: usize,
    k: usize,
    n: usize,
    accumulate: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    // Rows and columns of each buffer as stored.
    let stored = |op: Op, rows: usize, cols: usize| match op {
        Op::N => (rows, cols),
        Op::T => (cols, rows),
    };
    let fits = |len: usize, (rows, cols): (usize, usize), ld: usize| {
        ld >= cols && (rows == 0 || cols == 0 || len >= (rows - 1) * ld + cols)
    };
    assert!(
        fits(dst.len(), (m, n), dst_ld)
            && fits(a.len(), stored(a_op, m, k), a_ld)
            && fits(b.len(), stored(b_op, k, n), b_ld),
        "matmul: buffers too small for their shapes and leading dimensions"
    );
    if few_rows(a_op, b_op, m, k) {
        // `gemm` would repack (a scalar strided gather of) the whole of `b`
        // for these few rows on every call — several times the product
        // itself — and its one-row path reads `b` once per row.
        let few = match b_op {
            Op::T => super::dots::few_rows_nt,
            Op::N => super::dots::few_rows_nn,
        };
        few((dst, dst_ld), (a, a_ld), (b, b_ld), (m, k, n), accumulate);
        return;
    }
    if k == 0 {
        if !accumulate {
            for row in dst.chunks_mut(dst_ld).take(m) {
                row[..n].iter_mut().for_each(|x| *x = T::ZERO);
            }
        }
        return;
    }
    // SAFETY: the assert above keeps every index the strides reach inside the
    // buffers; `dst` does not alias `a` or `b` (distinct borrows).
    unsafe {
        gemm_into(
            dst.as_mut_ptr(),
            dst_ld,
            (a, a_op, a_ld),
            (b, b_op, b_ld),
            (m, k, n),
            accumulate,
        )
    }
}

/// Whether [`matmul_ld`] runs a product on the few-row kernels of
/// [`super::dots`] rather than the `gemm` crate.
fn few_rows(a_op: Op, b_op: Op, m: usize, k: usize) -> bool {
    k > 0
        && a_op == Op::N
        && match b_op {
            Op::T => m <= FEW_ROWS,
            Op::N => m <= super::dots::FEW_ROWS_NN,
        }
}

/// The `gemm` crate's product into `dst` (`m` rows `dst_ld` apart), which
/// it only writes unless `accumulate`.
///
/// # Safety
/// `dst` holds `m` rows of `n` values `dst_ld` apart, `a` and `b` hold
/// their shapes (`k > 0`), and `dst` aliases neither and outlives the call.
unsafe fn gemm_into<T: Real>(
    dst: *mut T,
    dst_ld: usize,
    (a, a_op, a_ld): (&[T], Op, usize),
    (b, b_op, b_ld): (&[T], Op, usize),
    (m, k, n): (usize, usize, usize),
    accumulate: bool,
) {
    // (col stride, row stride) of each operand as the product reads it.
    let strides = |op: Op, ld: usize| match op {
        Op::N => (1, ld as isize),
        Op::T => (ld as isize, 1),
    };
    let (a_cs, a_rs) = strides(a_op, a_ld);
    let (b_cs, b_rs) = strides(b_op, b_ld);
    let product = Product {
        m,
        n,
        k,
        dst,
        dst_ld,
        a: a.as_ptr(),
        a_cs,
        a_rs,
        b: b.as_ptr(),
        b_cs,
        accumulate,
        b_rs,
    };
    // Large products outside the pool (batched decoding) split their
    // columns with the helper core; inside it the shards keep both busy.
    let half = n / 2;
    // SAFETY: the caller's; the two halves write disjoint columns of `dst`.
    unsafe {
        if m * n * k >= SPLIT && half >= 16 {
            let (left, right) = product.split(half);
            super::helper::join(|| left.run(), move || right.run());
        } else {
            product.run();
        }
    }
}

/// `a · b` (operands as in [`matmul`]) into a fresh row-major `[m, n]`
/// buffer. Where the `gemm` crate runs the product the buffer is not
/// zero-filled first (it only writes it): a weight gradient of a few
/// million values is a fill as long as the product's own writes.
pub fn matmul_new<T: Real>(
    a: &[T],
    a_op: Op,
    b: &[T],
    b_op: Op,
    m: usize,
    k: usize,
    n: usize,
) -> Vec<T> {
    let (a_ld, b_ld) = packed_lds(a_op, b_op, (m, k, n));
    if m == 0 || n == 0 || k == 0 || few_rows(a_op, b_op, m, k) {
        let mut dst = vec![T::ZERO; m * n];
        matmul_ld(
            (&mut dst, n),
            (a, a_op, a_ld),
            (b, b_op, b_ld),
            m,
            k,
            n,
            false,
        );
        return dst;
    }
    assert!(
        a.len() >= m * k && b.len() >= k * n,
        "matmul: buffers too small for their shapes"
    );
    let mut dst: Vec<std::mem::MaybeUninit<T>> = Vec::with_capacity(m * n);
    // SAFETY: the capacity holds `m · n` values, the operands their shapes
    // (asserted), and `dst` is a fresh allocation; `gemm` without
    // `accumulate` writes every one of the `m · n` values and reads none.
    unsafe {
        gemm_into(
            dst.as_mut_ptr().cast::<T>(),
            n,
            (a, a_op, a_ld),
            (b, b_op, b_ld),
            (m, k, n),
            false,
        );
        dst.set_len(m * n);
    }
    let mut dst = std::mem::ManuallyDrop::new(dst);
    let (ptr, len, cap) = (dst.as_mut_ptr().cast::<T>(), dst.len(), dst.capacity());
    // SAFETY: every element is initialised (above); `MaybeUninit<T>` has
    // `T`'s size and alignment, and the allocation is handed over whole.
    unsafe { Vec::from_raw_parts(ptr, len, cap) }
}

/// Multiply-adds from which a packed product is split over two cores.
const SPLIT: usize = 1 << 18;

/// One product's operands as the `gemm` crate takes them.
#[derive(Clone, Copy)]
struct Product<T> {
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    dst_ld: usize,
    a: *const T,
    a_cs: isize,
    a_rs: isize,
    b: *const T,
    b_cs: isize,
    b_rs: isize,
    accumulate: bool,
}

// SAFETY: sent only to the helper thread by `helper::join`, which returns
// after the helper is done with it; the buffers outlive the call.
unsafe impl<T> Send for Product<T> {}

impl<T: Real> Product<T> {
    /// The first `cols` columns of the product, and the rest.
    fn split(self, cols: usize) -> (Self, Self) {
        let right = Product {
            n: self.n - cols,
            dst: self.dst.wrapping_add(cols),
            b: self.b.wrapping_offset(cols as isize * self.b_cs),
            ..self
        };
        (Product { n: cols, ..self }, right)
    }

    /// # Safety
    /// The strides reach only inside live buffers; `dst` aliases neither
    /// operand, and nothing else touches its columns meanwhile.
    unsafe fn run(self) {
        // SAFETY: the caller's.
        unsafe {
            gemm::gemm(
                self.m,
                self.n,
                self.k,
                self.dst,
                1,
                self.dst_ld as isize,
                self.accumulate,
                self.a,
                self.a_cs,
                self.a_rs,
                self.b,
                self.b_cs,
                self.b_rs,
                T::ONE,
                T::ONE,
                false,
                false,
                false,
                Parallelism::None,
            );
        }
    }
}

/// `src` (`rows × cols` inside rows `ld` wide) transposed: `[cols, rows]`
/// row-major. In tiles, so that neither side is walked a whole column at a
/// time (the plain double loop cost 8 ns an element at 2,048 × 512).
pub fn transpose<T: Real>(src: &[T], rows: usize, cols: usize, ld: usize) -> Vec<T> {
    const TILE: usize = 8;
    let mut dst = vec![T::ZERO; rows * cols];
    for i0 in (0..rows).step_by(TILE) {
        let i1 = (i0 + TILE).min(rows);
        for j0 in (0..cols).step_by(TILE) {
            let j1 = (j0 + TILE).min(cols);
            for i in i0..i1 {
                let row = &src[i * ld + j0..i * ld + j1];
                for (j, &v) in (j0..j1).zip(row) {
                    dst[j * rows + i] = v;
                }
            }
        }
    }
    dst
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
        // One row, two, a few (run row by row when `b` is transposed),
        // many; and products large enough to be split over two cores.
        for m in [1, 2, 5, FEW_ROWS + 3] {
            layouts_match(m, 7, 3);
        }
        for m in [1, 2] {
            layouts_match(m, 300, 700);
        }
    }

    #[test]
    fn tiled_transpose_matches_the_plain_one() {
        // Sizes off the tile, read from inside wider rows.
        let (rows, cols, ld) = (13, 19, 21);
        let x: Vec<f64> = (0..rows * ld).map(|i| i as f64).collect();
        let got = super::transpose(&x, rows, cols, ld);
        for i in 0..rows {
            for j in 0..cols {
                assert_eq!(got[j * rows + i], x[i * ld + j]);
            }
        }
    }

    fn layouts_match(m: usize, k: usize, n: usize) {
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
                // A fresh buffer: the same bits as the product written over zeros.
                assert_eq!(
                    super::matmul_new(aa, ao, bb, bo, m, k, n),
                    dst,
                    "{ao:?}{bo:?}"
                );
            }
        }
    }

    #[test]
    fn leading_dimensions_read_and_write_sub_matrices() {
        let (m, k, n) = (4, 3, 5);
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.91).cos()).collect();
        let want = naive(&a, &b, m, k, n);
        // `a` as the first k columns of rows 7 wide, `dst` inside rows 9 wide.
        let mut wide_a = vec![99.0; (m - 1) * 7 + k];
        for i in 0..m {
            wide_a[i * 7..i * 7 + k].copy_from_slice(&a[i * k..(i + 1) * k]);
        }
        let mut dst = vec![-5.0; (m - 1) * 9 + n + 2];
        matmul_ld(
            (&mut dst, 9),
            (&wide_a, Op::N, 7),
            (&b, Op::N, n),
            m,
            k,
            n,
            false,
        );
        for i in 0..m {
            for j in 0..n {
                assert!((dst[i * 9 + j] - want[i * n + j]).abs() < 1e-12);
            }
            // Columns past n are left alone.
            if i + 1 < m {
                assert_eq!(dst[i * 9 + n], -5.0);
            }
        }
        // aᵀ stored as [k, m] inside rows 6 wide.
        let at = transpose(&a, m, k);
        let mut wide_at = vec![0.0; (k - 1) * 6 + m];
        for p in 0..k {
            wide_at[p * 6..p * 6 + m].copy_from_slice(&at[p * m..(p + 1) * m]);
        }
        let mut dst = vec![0.0; m * n];
        matmul_ld(
            (&mut dst, n),
            (&wide_at, Op::T, 6),
            (&b, Op::N, n),
            m,
            k,
            n,
            false,
        );
        for (d, w) in dst.iter().zip(&want) {
            assert!((d - w).abs() < 1e-12);
        }
    }

    /// Split over the helper core, a packed product equals the same product
    /// on one thread bit for bit, for either layout of `b` and an odd width.
    #[test]
    fn split_products_equal_one_thread_exactly() {
        super::super::helper::enable();
        for (m, k, n, b_op) in [(64, 256, 2803, Op::T), (40, 300, 901, Op::N)] {
            let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.91).cos()).collect();
            let b_ld = if b_op == Op::N { n } else { k };
            let mut split = vec![0.5f32; m * n];
            matmul(&mut split, &a, Op::N, &b, b_op, m, k, n, true);
            let mut alone = vec![0.5f32; m * n];
            let strides = if b_op == Op::N {
                (1, b_ld as isize)
            } else {
                (b_ld as isize, 1)
            };
            let product = Product {
                m,
                n,
                k,
                dst: alone.as_mut_ptr(),
                dst_ld: n,
                a: a.as_ptr(),
                a_cs: 1,
                a_rs: k as isize,
                b: b.as_ptr(),
                b_cs: strides.0,
                b_rs: strides.1,
                accumulate: true,
            };
            // SAFETY: the strides stay inside the buffers built above.
            unsafe { product.run() };
            assert!(split == alone, "{m}×{k}×{n} {b_op:?}");
        }
    }
}
