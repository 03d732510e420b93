//! Tests of `adam` (kept beside it, in their own file).

use super::super::test_support::{bits, paired_grads, params};
use super::*;
use candle_core::DType;

/// Steps a fused and a reference optimizer with the same gradients and
/// compares every parameter bit for bit (same operations, same order).
fn fused_matches_reference(decoupled: bool, weight_decay: f64, dtype: DType) {
    let (a, b) = (params(dtype, 3), params(dtype, 3));
    let core = |vars, kernel| {
        let mut c = Core::new(vars, 3e-3, (0.9, 0.999), 1e-8, weight_decay, decoupled).unwrap();
        c.kernel = kernel;
        c
    };
    let mut fused = core(a.clone(), Kernel::Fused);
    let mut reference = core(b.clone(), Kernel::Reference);
    for step in 0..4 {
        let (ga, gb) = paired_grads(&a, &b, dtype, step == 2);
        fused.step(&ga).unwrap();
        reference.step(&gb).unwrap();
    }
    for ((n, va), (_, vb)) in a.iter().zip(&b) {
        assert_eq!(bits(va), bits(vb), "{n} {dtype:?}");
    }
    let (sa, sb) = (fused.state().unwrap(), reference.state().unwrap());
    assert_eq!(sa.len(), sb.len());
    for (k, t) in &sa {
        assert_eq!(bits(t), bits(&sb[k]), "state {k}");
    }
}

#[test]
fn fused_adam_is_the_reference_bit_for_bit() {
    for dtype in [DType::F32, DType::F64] {
        fused_matches_reference(false, 0.0, dtype);
        fused_matches_reference(false, 0.01, dtype);
        fused_matches_reference(true, 0.01, dtype);
    }
}
