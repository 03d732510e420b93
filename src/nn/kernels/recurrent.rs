//! One recurrent layer in one direction over a whole padded batch, as one
//! candle op with backpropagation through time, for every cell of
//! [`Cell`](crate::nn::Cell) (PyTorch's equations and gate order).
//!
//! The input projection `x W_ihᵀ + b_ih` of all steps is one matrix product
//! inside the op. Each step is one product of the state with the recurrent
//! weights of all gates and one fused pass over the gate math (`CellMath`:
//! the only part that differs between cells). Rows past their length keep
//! their state (packed-sequence semantics) and cost no gate math. The gates
//! are saved with the op, so the backward pass recomputes nothing: per step
//! one product with `W_hh` for the state gradient; then the input gradient
//! and both weight gradients of all steps in one product each.
//!
//! Inputs: `W_ih` and `W_hh` themselves, so the parameters enter the op
//! without a copy (a copy is a graph node whose gradient costs a
//! weight-sized zero-fill and addition), and everything else in one flat
//! vector: `x` (`[B, T, I]`), the initial state's `S` blocks `[B, H]` (`h`,
//! then an LSTM's `c`), `b_ih`, `b_hh`. Glueing those is a copy of `x`, but
//! it keeps the projection's `[B·T, G·H]` result out of the graph (its
//! gradient bookkeeping cost four times as much). The output is flat too:
//! `[B, T, H]` (every step's `h`, zero past a row's length as PyTorch pads)
//! then the final state's `h` and (LSTM) `c`, `[B, H]` each; the caller's
//! views of it are contiguous slices, so reading them copies nothing. What
//! backward needs (every step's state and the saved gate blocks) stays with
//! the op, not in its output, so the graph's bookkeeping never touches it.

use candle_core::{Layout, Shape, Tensor};

use super::Real;
use super::cell_math::{CellMath, Elman, Gru, Lstm, backward_rows, blocks, with_cell};
use super::gemm::{Op, matmul};
use super::linear;
use super::packed::StepProduct;
use super::traced::{Traced, TracedKernel, WeightGrad};
use crate::nn::{Cell, Nonlinearity};

/// The op's kernel: the cell, lengths of the batch rows and the direction
/// (the trace between the passes is held by the shared op, `kernels::traced`).
#[derive(Debug)]
pub struct RecurrentSequence {
    /// Which cell's math runs.
    cell: Cell,
    /// Padded length `T`.
    steps: usize,
    /// `lengths[b]` in `1..=T`: row `b` runs steps `0..lengths[b]`.
    lengths: Vec<usize>,
    /// Run from the last valid step back to step 0.
    reverse: bool,
    /// Keep the trace: some input tracks gradients.
    keep: bool,
    /// The layer's input `x` tracks gradients (else backward skips `d_x`).
    input_tracked: bool,
}

/// Sizes of one call.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dims {
    t: usize,
    b: usize,
    /// Input width.
    i: usize,
    h: usize,
}

impl RecurrentSequence {
    /// Steps in processing order.
    fn order(&self) -> Vec<usize> {
        match self.reverse {
            true => (0..self.steps).rev().collect(),
            false => (0..self.steps).collect(),
        }
    }

    fn dims(&self, xa: &Layout, wih: &Layout, whh: &Layout) -> candle_core::Result<Dims> {
        let (gates, states, _) = blocks(self.cell);
        let (t, b) = (self.steps, self.lengths.len());
        let (gi, i) = wih.shape().dims2()?;
        let (gh, h) = whh.shape().dims2()?;
        let g = gates * h;
        if t == 0
            || gi != g
            || gh != g
            || xa.shape().elem_count() != b * t * i + b * states * h + 2 * g
        {
            candle_core::bail!(
                "recurrent kernel ({:?}): inputs {:?}, w_ih {:?} and w_hh {:?} do not fit {b} rows of {t} steps",
                self.cell,
                xa.shape(),
                wih.shape(),
                whh.shape(),
            );
        }
        if self.lengths.iter().any(|&l| l == 0 || l > t) {
            candle_core::bail!("recurrent kernel: lengths must be in 1..={t}");
        }
        Ok(Dims { t, b, i, h })
    }

    /// The output's length: every step's `h`, then the final state.
    fn output_len(&self, d: Dims) -> usize {
        let (_, states, _) = blocks(self.cell);
        d.b * (d.t + states) * d.h
    }
}

/// What the forward pass keeps for the backward pass, in processing order:
/// `states` `[T + 1, B, S·H]` (the state before the first step, then after
/// each; a padded step carries its row's state) and `saved` `[T, B, K·H]`
/// (the cell's saved blocks; zero on padded steps, which backward skips).
pub(crate) struct Trace<T> {
    states: Vec<T>,
    saved: Vec<T>,
}

widest! {
    /// The op's forward pass (see the module docs), compiled for the widest
    /// vectors this CPU has: the output, and the trace when `keep`.
    fn forward / forward_steps<C: CellMath, T: Real>(
        op: &RecurrentSequence,
        xa: &[T],
        wih: &[T],
        whh: &[T],
        d: Dims,
        keep: bool,
    ) -> (Vec<T>, Option<Trace<T>>) {
        let Dims { t, b, i: input, h } = d;
        let (g, sw, k) = (C::GATES * h, C::STATES * h, C::SAVED * h);
        let Inputs { x, s0, b_ih, b_hh: bias } = Inputs::of(xa, d, C::STATES, g);
        // x W_ihᵀ + b_ih of every step in one product, batch-major.
        let xw = linear::forward(x, wih, b_ih, (b * t, input, g));
        // Zero where a row is past its length: PyTorch's padded outputs.
        let mut out = vec![T::ZERO; op.output_len(d)];
        // `states` and `saved` grow step by step, each step's part written
        // while it is in cache (zero-filling them whole up front cost a pass
        // over memory as long as the gate math's).
        let mut states = Vec::with_capacity((t + 1) * b * sw);
        states.resize(b * sw, T::ZERO);
        blocks_to_rows(s0, &mut states, (b, h, sw));
        // Without `keep` (nothing will ask for gradients) one row's saved
        // blocks are scratch, overwritten row after row.
        let mut saved = Vec::with_capacity(if keep { t * b * k } else { k });
        if !keep {
            saved.resize(k, T::ZERO);
        }
        // `W_hhᵀ` packed once per sequence for many rows, rather than
        // repacked by `gemm` on every step.
        let w_hh = StepProduct::new(whh, Op::T, h, (h, g), b);
        let mut hw = vec![T::ZERO; b * g];
        for (i, s) in op.order().into_iter().enumerate() {
            // The new state starts as a copy of the old: padded rows carry it.
            states.extend_from_within(i * b * sw..(i + 1) * b * sw);
            if keep {
                saved.resize((i + 1) * b * k, T::ZERO);
            }
            let (before, after) = states.split_at_mut((i + 1) * b * sw);
            let prev = &before[i * b * sw..];
            for row in hw.chunks_mut(g) {
                row.copy_from_slice(bias);
            }
            // hw += h W_hhᵀ, reading the h block of each [h | c] state row.
            w_hh.apply((&mut hw, g), (prev, sw), b, true);
            for (r, st) in after.chunks_mut(sw).enumerate() {
                if s >= op.lengths[r] {
                    continue;
                }
                let at = r * t + s;
                let sv = match keep {
                    true => &mut saved[(i * b + r) * k..(i * b + r + 1) * k],
                    false => &mut saved[..],
                };
                C::forward(h, &xw[at * g..(at + 1) * g], &hw[r * g..(r + 1) * g], st, sv);
                out[at * h..(at + 1) * h].copy_from_slice(&st[..h]);
            }
        }
        // The final state, `h` of every row, then `c` of every row.
        rows_to_blocks(&states[t * b * sw..], &mut out[b * t * h..], (b, h, sw));
        (out, keep.then_some(Trace { states, saved }))
    }
}

widest! {
    /// Gradients of the op's inputs (the flat `x`, `s0`, `b_ih`, `b_hh`;
    /// `W_ih`; `W_hh`) from the gradient of its output, compiled for the
    /// widest vectors this CPU has.
    fn backward / backward_steps<C: CellMath, T: Real>(
        op: &RecurrentSequence,
        inputs: (&[T], &[T], &[T]),
        trace: &Trace<T>,
        grad: &[T],
        d: Dims,
        need_dx: bool,
    ) -> StepGradients<T> {
        let Dims { t, b, i: input, h } = d;
        let (_, wih, whh) = inputs;
        let (g, sw) = (C::GATES * h, C::STATES * h);
        let Trace { states, saved } = trace;
        let (grad_out, grad_final) = grad.split_at(b * t * h);
        // Batch-major like xw, so every gradient row (r, s) lines up with the
        // x and h it multiplies in the weight gradients; zero on padded steps.
        let mut d_xw = vec![T::ZERO; b * t * g];
        let mut d_hw = match C::HW_IS_X {
            true => Vec::new(),
            false => vec![T::ZERO; b * t * g],
        };
        let mut prev_h = vec![T::ZERO; b * t * h];
        let mut d_state = vec![T::ZERO; b * sw];
        blocks_to_rows(grad_final, &mut d_state, (b, h, sw));
        let mut d_next = vec![T::ZERO; b * sw];
        // `W_hh` for the steps' products, as in the forward pass.
        let w_hh = StepProduct::new(whh, Op::N, h, (g, h), b);
        let order = op.order();
        for (i, &s) in order.iter().enumerate().rev() {
            backward_rows::<C, T>(
                (b, t, h),
                (i, s),
                (states, saved),
                (grad_out, Some(&op.lengths)),
                (&mut d_state, &mut d_next),
                &mut prev_h,
                (&mut d_xw, &mut d_hw),
            );
            // dh_prev += d_hw W_hh over the step's rows (stride T·G); padded
            // rows have zero d_hw, so they get nothing.
            let d_hw = if C::HW_IS_X { &d_xw } else { &d_hw };
            w_hh.apply((&mut d_next, sw), (&d_hw[s * g..], t * g), b, true);
            std::mem::swap(&mut d_state, &mut d_next);
        }
        // The biases' gradients are the rows' sums; the weights' (dW_ih =
        // Σ d_xwᵀ x, dW_hh = Σ d_hwᵀ h_prev) are formed by the caller.
        // The gradient of the op's first input: [d_x | d_s0 | d_b_ih | d_b_hh].
        let mut d_xa = vec![T::ZERO; b * t * input + b * sw + 2 * g];
        let (d_x, rest) = d_xa.split_at_mut(b * t * input);
        if need_dx {
            matmul(d_x, &d_xw, Op::N, wih, Op::N, t * b, g, input, false);
        }
        let (d_s0, rest) = rest.split_at_mut(b * sw);
        rows_to_blocks(&d_state, d_s0, (b, h, sw));
        let (db_ih, db_hh) = rest.split_at_mut(g);
        add_rows(db_ih, &d_xw);
        match C::HW_IS_X {
            true => db_hh.copy_from_slice(db_ih),
            false => add_rows(db_hh, &d_hw),
        }
        StepGradients {
            d_xa,
            d_xw,
            d_hw,
            prev_h,
        }
    }
}

/// What the backward pass's steps leave: the first operand's gradient,
/// the gate gradients of every row and step (`d_hw` empty where they are
/// `d_xw`'s) and the state each step read, batch-major like the layer's
/// input, so the weight gradients are one product each.
#[derive(PartialEq)]
struct StepGradients<T> {
    d_xa: Vec<T>,
    d_xw: Vec<T>,
    d_hw: Vec<T>,
    prev_h: Vec<T>,
}

impl<T> StepGradients<T> {
    /// The gradient of `W_hh`'s products: `d_hw`, or `d_xw` where they are one.
    fn d_gates(&self) -> &[T] {
        match self.d_hw.is_empty() {
            true => &self.d_xw,
            false => &self.d_hw,
        }
    }
}

/// A state as the op's input and output hold it, `S` blocks `[B, H]` (`h` of
/// every row, then `c`), written into `[B, S·H]` rows (`sw = S·H` wide) as
/// the steps run it.
pub(crate) fn blocks_to_rows<T: Copy>(
    blocks: &[T],
    rows: &mut [T],
    (b, h, sw): (usize, usize, usize),
) {
    for (r, row) in rows.chunks_mut(sw).enumerate() {
        for (j, block) in row.chunks_mut(h).enumerate() {
            block.copy_from_slice(&blocks[(j * b + r) * h..(j * b + r + 1) * h]);
        }
    }
}

/// [`blocks_to_rows`] the other way.
pub(crate) fn rows_to_blocks<T: Copy>(
    rows: &[T],
    blocks: &mut [T],
    (b, h, sw): (usize, usize, usize),
) {
    for (r, row) in rows.chunks(sw).enumerate() {
        for (j, block) in row.chunks(h).enumerate() {
            blocks[(j * b + r) * h..(j * b + r + 1) * h].copy_from_slice(block);
        }
    }
}

/// `acc += Σ` of the rows of `rows` (each as long as `acc`): a bias gradient.
pub(crate) fn add_rows<T: Real>(acc: &mut [T], rows: &[T]) {
    for row in rows.chunks(acc.len()) {
        for (a, v) in acc.iter_mut().zip(row) {
            *a += *v;
        }
    }
}

/// The parts of the op's first input (see [`recurrent_sequence`]).
struct Inputs<'a, T> {
    x: &'a [T],
    s0: &'a [T],
    b_ih: &'a [T],
    b_hh: &'a [T],
}

impl<'a, T> Inputs<'a, T> {
    fn of(xa: &'a [T], d: Dims, states: usize, g: usize) -> Self {
        let (x, rest) = xa.split_at(d.b * d.t * d.i);
        let (s0, rest) = rest.split_at(d.b * states * d.h);
        let (b_ih, b_hh) = rest.split_at(g);
        Inputs { x, s0, b_ih, b_hh }
    }
}

impl TracedKernel for RecurrentSequence {
    type Trace<T: Real> = Trace<T>;
    type Dims = Dims;
    const NAME: &'static str = "recurrent kernel";

    fn dims(&self, xa: &Layout, wih: &Layout, whh: &Layout) -> candle_core::Result<Dims> {
        RecurrentSequence::dims(self, xa, wih, whh)
    }

    fn shape(&self, d: Dims) -> Shape {
        Shape::from(self.output_len(d))
    }

    fn forward<T: Real>(
        &self,
        (xa, wih, whh): (&[T], &[T], &[T]),
        d: Dims,
    ) -> (Vec<T>, Option<Trace<T>>) {
        with_cell!(self.cell, forward::<T>(self, xa, wih, whh, d, self.keep))
    }

    fn backward<T: Real>(
        &self,
        inputs: (&[T], &[T], &[T]),
        trace: &Trace<T>,
        grad: &[T],
        d: Dims,
        factored: [bool; 2],
    ) -> (Vec<T>, [WeightGrad<T>; 2]) {
        let steps = self.steps_backward(inputs, trace, grad, d);
        let g = self.gates(d);
        let x = self.input_of(inputs.0, d);
        // dW_ih = Σ d_xwᵀ x, dW_hh = Σ d_hwᵀ h_prev over all rows and steps.
        let wih = WeightGrad::of(factored[0], (&steps.d_xw, g), (x, d.i));
        let whh = WeightGrad::of(factored[1], (steps.d_gates(), g), (&steps.prev_h, d.h));
        (steps.d_xa, [wih, whh])
    }
}

impl RecurrentSequence {
    /// The backward pass's steps (see [`StepGradients`]).
    fn steps_backward<T: Real>(
        &self,
        inputs: (&[T], &[T], &[T]),
        trace: &Trace<T>,
        grad: &[T],
        d: Dims,
    ) -> StepGradients<T> {
        // The product for the input's gradient is skipped where nothing
        // upstream of it asks (the op's other inputs always do: its biases).
        let need_dx = self.input_tracked;
        with_cell!(
            self.cell,
            backward::<T>(self, inputs, trace, grad, d, need_dx)
        )
    }

    /// Gate rows `G·H` of the weights.
    fn gates(&self, d: Dims) -> usize {
        blocks(self.cell).0 * d.h
    }

    /// The layer's input `x`, `[B·T, I]`, inside the flat first operand.
    fn input_of<'a, T>(&self, xa: &'a [T], d: Dims) -> &'a [T] {
        let states = blocks(self.cell).1;
        Inputs::of(xa, d, states, self.gates(d)).x
    }
}

/// One layer direction through the op (see the module docs): `x W_ihᵀ +
/// b_ih` and the steps, over `x.dim(1)` steps of `lengths.len()` rows.
/// Returns a vector of `B·T·H` outputs (`[B, T, H]`, zero past each length)
/// then the final state's `S` blocks of `B·H` (`h`, then an LSTM's `c`).
///
/// x: `[B, T, I]`; s0: the initial state's blocks, each `[B, H]`; the
/// weights in PyTorch's layout: w_ih `[G·H, I]`, w_hh `[G·H, H]`, biases
/// `[G·H]`.
pub fn recurrent_sequence(
    cell: Cell,
    x: &Tensor,
    s0: &[&Tensor],
    [w_ih, b_ih, w_hh, b_hh]: [&Tensor; 4],
    lengths: &[usize],
    reverse: bool,
) -> candle_core::Result<Tensor> {
    let tracked = |t: &Tensor| t.is_variable() || t.track_op();
    let mut parts = vec![x.flatten_all()?];
    for s in s0 {
        parts.push(s.flatten_all()?);
    }
    parts.push(b_ih.clone());
    parts.push(b_hh.clone());
    let xa = Tensor::cat(&parts, 0)?;
    let op = RecurrentSequence {
        cell,
        steps: x.dim(1)?,
        lengths: lengths.to_vec(),
        reverse,
        // Saving for backward only where a gradient can be asked for.
        keep: tracked(&xa) || tracked(w_ih) || tracked(w_hh),
        input_tracked: tracked(x),
    };
    let op = Traced::new(op);
    crate::nn::record::apply_op3(&xa, &w_ih.contiguous()?, &w_hh.contiguous()?, op)
}

#[cfg(test)]
#[path = "recurrent_tests.rs"]
mod tests;
