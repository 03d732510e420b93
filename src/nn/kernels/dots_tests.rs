//! Tests of `dots` (kept beside it, in their own file).

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
                for isa in [Isa::Avx512, Isa::Avx2, Isa::Scalar] {
                    if !isa.available() {
                        continue;
                    }
                    let mut dst = vec![start as f32; m * dst_ld];
                    let run = Run {
                        dst: dst.as_mut_ptr(),
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
                    // SAFETY: the CPU has the instruction set (checked
                    // above); the buffers hold their rows.
                    unsafe { run.on(isa) };
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

/// Split over the helper core, a product equals the same product on
/// one thread bit for bit: row counts 1 to 8, a decoder's output layer
/// and an odd width whose halves are uneven.
#[test]
fn split_products_equal_one_thread_exactly() {
    helper::enable();
    let isa = Isa::detect();
    for (k, n) in [(256, 2803), (300, 901)] {
        for m in 1..=8 {
            let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n * k).map(|i| (i as f32 * 0.91).cos()).collect();
            let mut split = vec![0.5f32; m * n];
            few_rows_nt((&mut split, n), (&a, k), (&b, k), (m, k, n), true);
            let mut alone = vec![0.5f32; m * n];
            let run = Run {
                dst: alone.as_mut_ptr(),
                dst_ld: n,
                a: &a,
                a_ld: k,
                b: &b,
                b_ld: k,
                m,
                k,
                n,
                accumulate: true,
            };
            // SAFETY: the detected instruction set; buffers hold their rows.
            unsafe { run.on(isa) };
            assert!(split == alone, "m {m} k {k} n {n}");
        }
    }
}
