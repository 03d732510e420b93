//! The element-wise math of each recurrent cell for one batch row, forward
//! and backward ([`CellMath`]: PyTorch's equations and gate order), shared
//! by every fused recurrent op (the layer's, `recurrent`; the tutorial
//! decoder's; the decoding step's [`cell_step`]).

use super::Real;
use crate::nn::{Cell, Nonlinearity};

/// The element-wise math of one cell for one batch row, forward and backward.
///
/// Slices hold `H`-wide blocks: `x` and `hw` the `G` gate pre-activations
/// (`x W_ihᵀ + b_ih` and `h W_hhᵀ + b_hh`), states `S` blocks (`h`, then `c`),
/// `saved` the `K` blocks the backward pass reads.
pub(crate) trait CellMath: Copy {
    /// Gate blocks `G` in the weights.
    const GATES: usize;
    /// State blocks `S`: 1 (`h`) or 2 (`h`, `c`).
    const STATES: usize;
    /// Saved blocks `K`.
    const SAVED: usize;
    /// Whether the gradient of `hw` is that of `x` (both enter the gates as
    /// one sum, as in the LSTM and the Elman RNN; not the GRU, whose `hw`
    /// for `n` is scaled by `r`). Such a cell's backward writes `d_x` only,
    /// and the caller reads it for `d_hw` too, with one buffer fewer.
    const HW_IS_X: bool;

    /// One step: `state` goes from the state before the step to the one after.
    fn forward<T: Real>(h: usize, x: &[T], hw: &[T], state: &mut [T], saved: &mut [T]);

    /// The step's backward pass: reads [`StepIn`], writes [`StepGrads`].
    fn backward<T: Real>(h: usize, step: StepIn<'_, T>, grads: StepGrads<'_, T>);
}

/// What one row's backward step reads.
pub(crate) struct StepIn<'a, T> {
    /// The cell's saved blocks.
    pub(crate) saved: &'a [T],
    /// The state after the step.
    pub(crate) new: &'a [T],
    /// The state before the step.
    pub(crate) prev: &'a [T],
    /// The gradient on `new`.
    pub(crate) d_new: &'a [T],
}

/// What one row's backward step writes: the gradients of `x` and `hw`
/// (`d_hw` empty where [`CellMath::HW_IS_X`]), and the part of `prev`'s
/// gradient that does not go through `hw` (the caller adds `d_hw · W_hh` to
/// its `h` block).
pub(crate) struct StepGrads<'a, T> {
    pub(crate) d_x: &'a mut [T],
    pub(crate) d_hw: &'a mut [T],
    pub(crate) d_prev: &'a mut [T],
}

/// Elman RNN, `h' = act(x + hw)`; `RELU` picks relu over tanh. Nothing is
/// saved: the derivative comes from `h'` itself.
#[derive(Clone, Copy)]
pub(crate) struct Elman<const RELU: bool>;

impl<const RELU: bool> CellMath for Elman<RELU> {
    const GATES: usize = 1;
    const STATES: usize = 1;
    const SAVED: usize = 0;
    const HW_IS_X: bool = true;

    #[inline(always)]
    fn forward<T: Real>(h: usize, x: &[T], hw: &[T], state: &mut [T], _: &mut [T]) {
        for j in 0..h {
            let pre = x[j] + hw[j];
            state[j] = match RELU {
                true if pre > T::ZERO => pre,
                true => T::ZERO,
                false => pre.tanh(),
            };
        }
    }

    #[inline(always)]
    fn backward<T: Real>(h: usize, step: StepIn<'_, T>, grads: StepGrads<'_, T>) {
        let StepIn { new, d_new, .. } = step;
        let StepGrads { d_x, d_prev, .. } = grads;
        for j in 0..h {
            let y = new[j];
            // relu'(0) = 0, as PyTorch; relu(pre) > 0 exactly when pre > 0.
            let slope = match RELU {
                true if y > T::ZERO => T::ONE,
                true => T::ZERO,
                false => T::ONE - y * y,
            };
            d_x[j] = d_new[j] * slope;
            d_prev[j] = T::ZERO;
        }
    }
}

/// LSTM, gates i, f, g, o; state `[h | c]`; saved i, f, g, o and `tanh(c')`.
#[derive(Clone, Copy)]
pub(crate) struct Lstm;

impl CellMath for Lstm {
    const GATES: usize = 4;
    const STATES: usize = 2;
    const SAVED: usize = 5;
    const HW_IS_X: bool = true;

    #[inline(always)]
    fn forward<T: Real>(h: usize, x: &[T], hw: &[T], state: &mut [T], saved: &mut [T]) {
        // Every block re-sliced to exactly H, so the indexed loop carries no
        // bounds checks and vectorises.
        let [xi, xf, xg, xo] = blocks_of::<T, 4>(x, h);
        let [hi, hf, hg, ho] = blocks_of::<T, 4>(hw, h);
        let [hs, cs] = blocks_mut::<T, 2>(state, h);
        let [si, sf, sg, so, stc] = blocks_mut::<T, 5>(saved, h);
        for j in 0..h {
            let i = (xi[j] + hi[j]).sigmoid();
            let f = (xf[j] + hf[j]).sigmoid();
            let g = (xg[j] + hg[j]).tanh();
            let o = (xo[j] + ho[j]).sigmoid();
            let c = f * cs[j] + i * g;
            let tc = c.tanh();
            cs[j] = c;
            hs[j] = o * tc;
            si[j] = i;
            sf[j] = f;
            sg[j] = g;
            so[j] = o;
            stc[j] = tc;
        }
    }

    #[inline(always)]
    fn backward<T: Real>(h: usize, step: StepIn<'_, T>, grads: StepGrads<'_, T>) {
        let StepIn {
            saved, prev, d_new, ..
        } = step;
        let StepGrads { d_x, d_prev, .. } = grads;
        let c_prev = &prev[h..2 * h];
        let (dh, dc) = d_new.split_at(h);
        let (dh_prev, dc_prev) = d_prev.split_at_mut(h);
        for j in 0..h {
            let (i, f, g) = (saved[j], saved[h + j], saved[2 * h + j]);
            let (o, tc) = (saved[3 * h + j], saved[4 * h + j]);
            let d_o = dh[j] * tc;
            let d_c = dc[j] + dh[j] * o * (T::ONE - tc * tc);
            let pre = [
                d_c * g * i * (T::ONE - i),
                d_c * c_prev[j] * f * (T::ONE - f),
                d_c * i * (T::ONE - g * g),
                d_o * o * (T::ONE - o),
            ];
            for (k, p) in pre.into_iter().enumerate() {
                d_x[k * h + j] = p;
            }
            dh_prev[j] = T::ZERO;
            dc_prev[j] = d_c * f;
        }
    }
}

/// GRU, gates r, z, n, with PyTorch's `r ⊙ (W_hn h + b_hn)`; saved r, z, n
/// and `W_hn h + b_hn`.
#[derive(Clone, Copy)]
pub(crate) struct Gru;

impl CellMath for Gru {
    const GATES: usize = 3;
    const STATES: usize = 1;
    const SAVED: usize = 4;
    const HW_IS_X: bool = false;

    #[inline(always)]
    fn forward<T: Real>(h: usize, x: &[T], hw: &[T], state: &mut [T], saved: &mut [T]) {
        let [xr, xz, xn] = blocks_of::<T, 3>(x, h);
        let [hr, hz, hn] = blocks_of::<T, 3>(hw, h);
        let [sr, sz, sn, shn] = blocks_mut::<T, 4>(saved, h);
        let state = &mut state[..h];
        for j in 0..h {
            let r = (xr[j] + hr[j]).sigmoid();
            let z = (xz[j] + hz[j]).sigmoid();
            let n = (xn[j] + r * hn[j]).tanh();
            state[j] = n + z * (state[j] - n);
            sr[j] = r;
            sz[j] = z;
            sn[j] = n;
            shn[j] = hn[j];
        }
    }

    #[inline(always)]
    fn backward<T: Real>(h: usize, step: StepIn<'_, T>, grads: StepGrads<'_, T>) {
        let StepIn {
            saved, prev, d_new, ..
        } = step;
        let StepGrads { d_x, d_hw, d_prev } = grads;
        for j in 0..h {
            let (r, z) = (saved[j], saved[h + j]);
            let (n, hn) = (saved[2 * h + j], saved[3 * h + j]);
            let dh = d_new[j];
            let dn_pre = dh * (T::ONE - z) * (T::ONE - n * n);
            let dr_pre = dn_pre * hn * r * (T::ONE - r);
            let dz_pre = dh * (prev[j] - n) * z * (T::ONE - z);
            d_x[j] = dr_pre;
            d_x[h + j] = dz_pre;
            d_x[2 * h + j] = dn_pre;
            d_hw[j] = dr_pre;
            d_hw[h + j] = dz_pre;
            d_hw[2 * h + j] = dn_pre * r;
            d_prev[j] = dh * z;
        }
    }
}

/// One row's step as the forward pass left it: the cell's saved blocks and
/// the state before and after the step.
pub(crate) struct RowTrace<'a, T> {
    pub(crate) saved: &'a [T],
    pub(crate) prev: &'a [T],
    pub(crate) new: &'a [T],
}

/// One row's backward step, shared by the recurrent ops: the gradient on
/// the state after the step (`ds`) takes the step's output gradient `dy`,
/// `prev_h` takes `h` before the step (for the weight gradients), and the
/// cell's backward writes the gate gradients `d_x`, `d_hw` (empty where
/// [`CellMath::HW_IS_X`]) and the state's part of `d_prev`.
#[inline(always)]
pub(crate) fn backward_row<C: CellMath, T: Real>(
    h: usize,
    step: RowTrace<'_, T>,
    (ds, dy): (&mut [T], &[T]),
    prev_h: &mut [T],
    (d_x, d_hw, d_prev): (&mut [T], &mut [T], &mut [T]),
) {
    for (x, &g) in ds[..h].iter_mut().zip(dy) {
        *x += g;
    }
    prev_h.copy_from_slice(&step.prev[..h]);
    let step = StepIn {
        saved: step.saved,
        new: step.new,
        prev: step.prev,
        d_new: ds,
    };
    C::backward(h, step, StepGrads { d_x, d_hw, d_prev });
}

/// The cell's part of one step of backpropagation through time, over all
/// `b` rows of a batch of `t` steps: step `s` in time, `i` in the trace's
/// processing order (`states` `[T + 1, B, S·H]`, `saved` `[T, B, K·H]`, as
/// the forward pass left them). Each row takes its output gradient from
/// `grad_out` (`[B, T, H]`) into `d_state`, writes its gate gradients into
/// `d_xw`/`d_hw` and the state's part of the previous state's gradient into
/// `d_next`. A row past its length (`lengths`) passes its state gradient
/// through unchanged. Shared by every fused recurrent op; what differs
/// between them (the `W_hh` product, attention) runs around it.
#[inline(always)]
pub(crate) fn backward_rows<C: CellMath, T: Real>(
    (b, t, h): (usize, usize, usize),
    (i, s): (usize, usize),
    (states, saved): (&[T], &[T]),
    (grad_out, lengths): (&[T], Option<&[usize]>),
    (d_state, d_next): (&mut [T], &mut [T]),
    prev_h: &mut [T],
    (d_xw, d_hw): (&mut [T], &mut [T]),
) {
    let (g, sw, k) = (C::GATES * h, C::STATES * h, C::SAVED * h);
    let prev = &states[i * b * sw..(i + 1) * b * sw];
    let new = &states[(i + 1) * b * sw..(i + 2) * b * sw];
    for r in 0..b {
        let ds = &mut d_state[r * sw..(r + 1) * sw];
        let next = &mut d_next[r * sw..(r + 1) * sw];
        if lengths.is_some_and(|l| s >= l[r]) {
            // A padded step passes the state, and so its gradient,
            // through; its output is a constant zero.
            next.copy_from_slice(ds);
            continue;
        }
        let at = r * t + s;
        let d_hw_row = match C::HW_IS_X {
            true => &mut [],
            false => &mut d_hw[at * g..(at + 1) * g],
        };
        backward_row::<C, T>(
            h,
            RowTrace {
                saved: &saved[(i * b + r) * k..(i * b + r + 1) * k],
                prev: &prev[r * sw..(r + 1) * sw],
                new: &new[r * sw..(r + 1) * sw],
            },
            (ds, &grad_out[at * h..(at + 1) * h]),
            &mut prev_h[at * h..(at + 1) * h],
            (&mut d_xw[at * g..(at + 1) * g], d_hw_row, next),
        );
    }
}

/// The first `N` blocks of width `h` of `x`, each exactly `h` long.
fn blocks_of<T, const N: usize>(x: &[T], h: usize) -> [&[T]; N] {
    std::array::from_fn(|k| &x[k * h..(k + 1) * h])
}

/// The first `N` blocks of width `h` of `x`, mutable, each exactly `h` long.
fn blocks_mut<T, const N: usize>(x: &mut [T], h: usize) -> [&mut [T]; N] {
    let mut rest = &mut x[..N * h];
    std::array::from_fn(|_| {
        let (block, tail) = std::mem::take(&mut rest).split_at_mut(h);
        rest = tail;
        block
    })
}

/// Gates, state and saved blocks of a cell, for shape checks.
pub(crate) fn blocks(cell: Cell) -> (usize, usize, usize) {
    fn of<C: CellMath>() -> (usize, usize, usize) {
        (C::GATES, C::STATES, C::SAVED)
    }
    match cell {
        Cell::Rnn(Nonlinearity::Tanh) => of::<Elman<false>>(),
        Cell::Rnn(Nonlinearity::Relu) => of::<Elman<true>>(),
        Cell::Lstm => of::<Lstm>(),
        Cell::Gru => of::<Gru>(),
    }
}

/// Calls `$f::<CellType, $t>($args…)` for the op's cell.
macro_rules! with_cell {
    ($cell:expr, $f:ident::<$t:ty>($($arg:expr),*)) => {
        match $cell {
            Cell::Rnn(Nonlinearity::Tanh) => $f::<Elman<false>, $t>($($arg),*),
            Cell::Rnn(Nonlinearity::Relu) => $f::<Elman<true>, $t>($($arg),*),
            Cell::Lstm => $f::<Lstm, $t>($($arg),*),
            Cell::Gru => $f::<Gru, $t>($($arg),*),
        }
    };
}
pub(crate) use with_cell;

/// One row's step of `cell` outside any graph, the fused op's own cell
/// math: `x` and `hw` are the input and recurrent projections with their
/// biases (`G·H` each), `state` (`[h]`, or `[h | c]` for an LSTM) goes
/// from before the step to after it; `scratch` holds what the training op
/// saves for backward (grown as needed, reused across calls). For decoding
/// steps that run on the host.
pub fn cell_step<T: Real>(
    cell: Cell,
    h: usize,
    (x, hw): (&[T], &[T]),
    state: &mut [T],
    scratch: &mut Vec<T>,
) {
    let (_, _, saved) = blocks(cell);
    if scratch.len() < saved * h {
        scratch.resize(saved * h, T::ZERO);
    }
    with_cell!(cell, step::<T>(h, x, hw, state, scratch))
}

widest! {
    /// One row's step of the cell `C` (see [`cell_step`]), compiled for the
    /// widest vectors this CPU has.
    fn step / step_row<C: CellMath, T: Real>(h: usize, x: &[T], hw: &[T], state: &mut [T], saved: &mut [T]) -> () {
        C::forward(h, x, hw, state, &mut saved[..C::SAVED * h]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: f32) -> Vec<f32> {
        (0..n).map(|i| (i as f32 * seed).sin() * 1.5).collect()
    }

    /// The decoding step's row compiled for this CPU's widest vectors gives
    /// what the baseline build of the same loop gives, bit for bit, for
    /// every cell.
    #[test]
    fn widest_step_equals_the_baseline_bit_for_bit() {
        fn case<C: CellMath>(cell: Cell) {
            let h = 37;
            let (g, sw) = (C::GATES * h, C::STATES * h);
            let xa = values(2 * g + sw, 0.37);
            let (x, hw) = (&xa[..g], &xa[g..2 * g]);
            let (mut wide, mut base) = (xa[..sw].to_vec(), xa[..sw].to_vec());
            let (mut saved_wide, mut saved_base) = (vec![0.0; 5 * h], vec![0.0; 5 * h]);
            step::<C, f32>(h, x, hw, &mut wide, &mut saved_wide);
            step_row::<C, f32>(h, x, hw, &mut base, &mut saved_base);
            assert!(wide == base && saved_wide == saved_base, "{cell:?} step");
        }
        case::<Elman<false>>(Cell::Rnn(Nonlinearity::Tanh));
        case::<Elman<true>>(Cell::Rnn(Nonlinearity::Relu));
        case::<Lstm>(Cell::Lstm);
        case::<Gru>(Cell::Gru);
    }
}
