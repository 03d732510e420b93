//! Tests of `packed` (kept beside it, in their own file).

use super::*;

#[allow(clippy::too_many_arguments)]
fn naive(
    a: &[f32],
    a_ld: usize,
    b: &[f32],
    b_op: Op,
    b_ld: usize,
    m: usize,
    k: usize,
    n: usize,
) -> Vec<f64> {
    let at = |p: usize, j: usize| match b_op {
        Op::N => b[p * b_ld + j],
        Op::T => b[j * b_ld + p],
    };
    let mut out = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            out[i * n + j] = (0..k)
                .map(|p| a[i * a_ld + p] as f64 * at(p, j) as f64)
                .sum();
        }
    }
    out
}

/// Every row count of the tiles (1–8 and past), panel edges (n off and on
/// 16, a lone last panel and a pair), depths past one slice, both layouts
/// of `b`, leading dimensions wider than the rows, and both `accumulate`
/// modes: each tile this CPU runs and the plain fallback give the naive
/// product.
#[test]
fn packed_products_match_the_naive_product() {
    let mut cases = Vec::new();
    for m in [1, 5, 6, 7, 8, 9, 13, 37] {
        for (k, n) in [
            (1, 1),
            (7, 15),
            (300, 16),
            (40, 17),
            (200, 40),
            (33, 48),
            (600, 50),
        ] {
            cases.push((m, k, n));
        }
    }
    let tiles = [None, Some(Tiles::Avx2), Some(Tiles::Avx512)];
    for tiles in tiles.into_iter().filter(|t| t.is_none_or(Tiles::available)) {
        for &(m, k, n) in &cases {
            for b_op in [Op::N, Op::T] {
                let (a_ld, dst_ld) = (k + 3, n + 2);
                let b_ld = if b_op == Op::N { n + 1 } else { k + 5 };
                let rows = if b_op == Op::N { k } else { n };
                let a: Vec<f32> = (0..m * a_ld).map(|i| (i as f32 * 0.37).sin()).collect();
                let b: Vec<f32> = (0..rows * b_ld).map(|i| (i as f32 * 0.91).cos()).collect();
                let want = naive(&a, a_ld, &b, b_op, b_ld, m, k, n);
                let packed = Packed::build(&b, b_op, b_ld, (k, n), tiles);
                for accumulate in [false, true] {
                    let mut dst = vec![0.5f32; (m - 1) * dst_ld + n + 1];
                    packed.matmul((&mut dst, dst_ld), (&a, a_ld), m, accumulate);
                    for i in 0..m {
                        for j in 0..n {
                            let w = want[i * n + j] + if accumulate { 0.5 } else { 0.0 };
                            let got = dst[i * dst_ld + j] as f64;
                            assert!(
                                (got - w).abs() <= 1e-4 * (1.0 + w.abs()),
                                "tiles {tiles:?} {m}×{k}×{n} {b_op:?} acc {accumulate}: [{i},{j}] {got} vs {w}"
                            );
                        }
                        // Columns between n and the next row stay as they were.
                        if i + 1 < m {
                            assert_eq!(dst[i * dst_ld + n], 0.5);
                        }
                    }
                    assert_eq!(dst[(m - 1) * dst_ld + n], 0.5);
                }
            }
        }
    }
}

/// Split over the helper core, a product equals the same product on one
/// thread bit for bit, whichever tile runs it; and the two tiles agree bit
/// for bit (each element sums its depth in the same order).
#[test]
fn split_panels_equal_one_thread_exactly() {
    helper::enable();
    let (m, k, n) = (40, 300, 901);
    let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
    let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.91).cos()).collect();
    assert!(m * n * k >= SPLIT);
    let mut results = Vec::new();
    for tiles in [Tiles::Avx2, Tiles::Avx512] {
        if !tiles.available() {
            continue;
        }
        let packed = Packed::build(&b, Op::N, n, (k, n), Some(tiles));
        let mut split = vec![0.5f32; m * n];
        packed.matmul((&mut split, n), (&a, k), m, true);
        let Repr::Panels(panels, _) = &packed.repr else {
            unreachable!("built with panels")
        };
        let mut alone = vec![0.5f32; m * n];
        let run = Run {
            dst: alone.as_mut_ptr(),
            dst_ld: n,
            a: a.as_ptr(),
            a_ld: k,
            panels: panels.as_ptr(),
            m,
            k,
            n,
            accumulate: true,
            tiles,
        };
        // SAFETY: the tile's instruction sets checked above; the
        // buffers fit the shapes.
        unsafe { run.go() };
        assert!(split == alone, "{tiles:?}");
        results.push(alone);
    }
    if let [avx2, avx512] = &results[..] {
        assert!(avx2 == avx512);
    }
}
