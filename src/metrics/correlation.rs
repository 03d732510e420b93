//! Correlation coefficients for word-similarity evaluations: Pearson's r and
//! Spearman's ρ (Pearson's r of the ranks, tied values sharing their mean
//! rank — `scipy.stats.spearmanr`, which gensim's `evaluate_word_pairs`
//! reports).

/// Pearson's correlation of `x` and `y` (equal lengths); `NaN` when either
/// is constant or they have fewer than two points.
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    if n < 2 {
        return f64::NAN;
    }
    let mx = x[..n].iter().sum::<f64>() / n as f64;
    let my = y[..n].iter().sum::<f64>() / n as f64;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (dx, dy) = (x[i] - mx, y[i] - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    sxy / (sxx * syy).sqrt()
}

/// 1-based ranks, ties given the mean of the ranks they span (`rankdata`'s
/// "average").
pub fn ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && x[order[j + 1]] == x[order[i]] {
            j += 1;
        }
        let mean = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            r[k] = mean;
        }
        i = j + 1;
    }
    r
}

/// Spearman's rank correlation of `x` and `y`.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&ranks(x), &ranks(y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed() {
        assert_eq!(ranks(&[10.0, 20.0, 20.0, 5.0]), [2.0, 3.5, 3.5, 1.0]);
        // Monotone but not linear: ρ = 1, r < 1.
        let x = [1.0, 2.0, 3.0, 4.0];
        let y = [1.0, 4.0, 9.0, 16.0];
        assert!((spearman(&x, &y) - 1.0).abs() < 1e-12);
        // r = Σdxdy / √(Σdx²Σdy²): dx = −1.5,−.5,.5,1.5; dy = −6.5,−3.5,1.5,8.5
        // → 25 / √(5 · 129) = 0.98437…
        assert!((pearson(&x, &y) - 25.0 / (5.0f64 * 129.0).sqrt()).abs() < 1e-12);
        // With ties: ranks x = 1, 2.5, 2.5, 4; y = 4, 3, 2, 1 → ρ = −0.948683…
        let rho = spearman(&[1.0, 2.0, 2.0, 3.0], &[4.0, 3.0, 2.0, 1.0]);
        assert!((rho + 0.948_683_298_050_513_8).abs() < 1e-12, "{rho}");
        assert!(pearson(&[1.0, 1.0], &[1.0, 2.0]).is_nan());
    }
}
