//! Reductions over one row of a softmax (its sum, maximum and the sum of
//! `e^{z − m}`), shared by the cross-entropy kernels.

use super::Real;

/// Partial sums per lane: a row's reductions as independent lanes the
/// compiler keeps in vector registers (one running sum would be a serial
/// chain of scalar adds — a 2,803-word softmax row was 7 % of a training
/// step that way).
const LANES: usize = 16;

/// The lanes' partial results folded pairwise into one.
#[inline(always)]
fn fold_lanes<T: Real>(mut lanes: [T; LANES], f: impl Fn(T, T) -> T) -> T {
    let mut w = LANES / 2;
    while w > 0 {
        for l in 0..w {
            lanes[l] = f(lanes[l], lanes[l + w]);
        }
        w /= 2;
    }
    lanes[0]
}

/// `(Σ row, max row)` of a non-empty row.
#[inline(always)]
pub(crate) fn sum_and_max<T: Real>(row: &[T]) -> (T, T) {
    let pick = |a: T, b: T| if b > a { b } else { a };
    let (mut sum, mut max) = ([T::ZERO; LANES], [row[0]; LANES]);
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        for l in 0..LANES {
            sum[l] += c[l];
            max[l] = pick(max[l], c[l]);
        }
    }
    let (mut s, mut m) = (fold_lanes(sum, |a, b| a + b), fold_lanes(max, pick));
    for &x in chunks.remainder() {
        s += x;
        m = pick(m, x);
    }
    (s, m)
}

/// `Σ f(z)` over the row, in lanes.
#[inline(always)]
fn lane_sum<T: Real>(row: &[T], f: impl Fn(T) -> T) -> T {
    let mut acc = [T::ZERO; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        for l in 0..LANES {
            acc[l] += f(c[l]);
        }
    }
    let mut s = fold_lanes(acc, |a, b| a + b);
    for &z in chunks.remainder() {
        s += f(z);
    }
    s
}

/// Replaces each `z` by `e^{z − m}` and returns their sum.
#[inline(always)]
pub(crate) fn exp_shifted<T: Real>(row: &mut [T], m: T) -> T {
    for z in row.iter_mut() {
        *z = (*z - m).exp();
    }
    lane_sum(row, |z| z)
}

/// `Σ e^{z − m}` over the row, leaving it as it is.
#[inline(always)]
pub(super) fn exp_sum<T: Real>(row: &[T], m: T) -> T {
    lane_sum(row, |z| (z - m).exp())
}

/// The label-smoothed cross-entropy of one row from its log-sum-exp `lse`,
/// its target's logit `zy` and the sum of its logits (`inv_v = 1/V`):
/// `(1 − ε)(lse − z_y) + ε(lse − mean z)`, PyTorch's `label_smoothing`.
#[inline(always)]
pub(super) fn smoothed_loss<T: Real>(lse: T, zy: T, sum: T, eps: T, inv_v: T) -> T {
    (T::ONE - eps) * (lse - zy) + eps * (lse - sum * inv_v)
}

/// Rows for the kernels' wide-against-baseline tests: 11 rows of 37 logits
/// (lanes and a tail), a target per row and a loss gradient per row.
#[cfg(test)]
pub(super) fn sample_rows() -> (Vec<f32>, Vec<u32>, Vec<f32>, usize) {
    let (n, v) = (11, 37);
    let logits = (0..n * v)
        .map(|i| ((i as f32) * 0.61).sin() * 4.0)
        .collect();
    let targets = (0..n as u32).map(|r| (r * 7) % v as u32).collect();
    let grad = (0..n).map(|r| 0.1 + r as f32 * 0.05).collect();
    (logits, targets, grad, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lane reductions against plain loops, for lengths around the lane
    /// count, with the maximum in the lanes or in the remainder.
    #[test]
    fn lane_reductions_match_plain_loops() {
        for n in [1, 5, LANES - 1, LANES, LANES + 1, 3 * LANES + 7] {
            for peak in [0, n - 1] {
                let mut row: Vec<f64> = (0..n).map(|i| (i as f64 * 0.77).sin()).collect();
                row[peak] = 3.0;
                let (sum, max) = sum_and_max(&row);
                assert!((sum - row.iter().sum::<f64>()).abs() < 1e-12, "n {n}");
                assert_eq!(max, 3.0, "n {n} peak {peak}");
                let want: f64 = row.iter().map(|&z| (z - max).exp()).sum();
                assert!((exp_sum(&row, max) - want).abs() < 1e-12, "n {n}");
                let mut shifted = row.clone();
                assert!((exp_shifted(&mut shifted, max) - want).abs() < 1e-12);
                for (s, z) in shifted.iter().zip(&row) {
                    assert!((s - (z - max).exp()).abs() < 1e-15);
                }
            }
        }
    }
}
