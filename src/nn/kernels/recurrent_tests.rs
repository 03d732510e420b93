//! Tests of `recurrent` (kept beside it, in their own file).

use super::*;

fn values(n: usize, seed: f32) -> Vec<f32> {
    (0..n).map(|i| (i as f32 * seed).sin() * 1.5).collect()
}

/// The passes compiled for this CPU's widest vectors give what the
/// baseline build of the same loops gives, bit for bit, for every cell,
/// both directions and rows of different lengths (padded steps
/// included). (The decoding step's row: `cell_math`'s tests.)
#[test]
fn widest_build_equals_the_baseline_bit_for_bit() {
    fn case<C: CellMath>(cell: Cell) {
        let (t, b, i, h) = (5, 19, 23, 37);
        let (g, sw) = (C::GATES * h, C::STATES * h);
        let xa = values(b * t * i + b * sw + 2 * g, 0.37);
        let small = |n: usize, f: f32| values(n, f).iter().map(|v| v * 0.2).collect::<Vec<_>>();
        let (wih, whh) = (small(g * i, 0.13), small(g * h, 0.05));
        let d = Dims { t, b, i, h };
        for reverse in [false, true] {
            let op = RecurrentSequence {
                cell,
                steps: t,
                lengths: (0..b).map(|r| 1 + r % t).collect(),
                reverse,
                keep: true,
                input_tracked: true,
            };
            let (out, trace) = forward::<C, f32>(&op, &xa, &wih, &whh, d, true);
            let (base_out, base_trace) = forward_steps::<C, f32>(&op, &xa, &wih, &whh, d, true);
            let (Some(trace), Some(base_trace)) = (trace, base_trace) else {
                panic!("{cell:?}: no trace kept");
            };
            assert!(
                out == base_out
                    && trace.states == base_trace.states
                    && trace.saved == base_trace.saved,
                "{cell:?}"
            );
            let grad = values(out.len(), 0.23);
            let inputs = (&xa[..], &wih[..], &whh[..]);
            let wide = backward::<C, f32>(&op, inputs, &trace, &grad, d, true);
            let base = backward_steps::<C, f32>(&op, inputs, &trace, &grad, d, true);
            assert!(wide == base, "{cell:?} reverse {reverse}");
        }
    }
    case::<Elman<false>>(Cell::Rnn(Nonlinearity::Tanh));
    case::<Elman<true>>(Cell::Rnn(Nonlinearity::Relu));
    case::<Lstm>(Cell::Lstm);
    case::<Gru>(Cell::Gru);
}
