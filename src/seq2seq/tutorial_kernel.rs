//! The PyTorch tutorial's attention decoder (`AttnDecoderRNN`) over a whole
//! teacher-forced target sequence, as one candle op with backpropagation
//! through time, for one recurrent layer of any cell.
//!
//! Step `s` of every row reads the embedded gold input `e_s` and the state
//! before the step `h`:
//! `a = softmax(attn([e_s; h]))` over the `L` slots, `c = Σ_j a_j v_j`,
//! `x = relu(attn_combine([e_s; c]))`, then one cell step on `x`.
//!
//! Through the graph each of those is a node per step, and every step's
//! use of `attn`, `attn_combine`, `W_ih` and `W_hh` costs the backward pass a
//! weight-sized zero-fill and addition (eight steps: eight of each). Here
//! the embedding halves of `attn` and `attn_combine` run for all steps in
//! one product each; a step is four few-row products (`h` with `attn`'s
//! state half and with `W_hh`, `c` with `attn_combine`'s context half, `x`
//! with `W_ih`) and row passes for the softmax, the weighted sum, the relu
//! and the cell. The backward pass walks the steps back with the matching
//! products and then forms every weight gradient of all steps in one
//! product each, so each weight's gradient is written once.
//!
//! Every row runs every step: the loss masks padded target steps out, as
//! the step-by-step decoder it replaces does. `relu`'s derivative at 0 is 0,
//! PyTorch's (candle's graph takes 1 there; an exact 0 pre-activation is
//! the only case where the two paths differ).
//!
//! Inputs: `W_ih` and `W_hh` as they are (the largest weights, kept out of
//! any copy), and everything else in one flat vector: the embedded inputs
//! `[B, T, E]`, the initial state's `S` blocks `[B, H]` (`h`, then an LSTM's
//! `c`), the slots `[B, L, H]`, `attn`'s weight `[L, E + H]` and bias `[L]`,
//! `attn_combine`'s weight `[H, E + H]` and bias `[H]`, `b_ih`, `b_hh`. The
//! output is every step's `h`, `[B, T, H]`.

use candle_core::{Layout, Shape, Tensor};

use crate::nn::kernels::Real;
use crate::nn::kernels::cell_math::{CellMath, Elman, Gru, Lstm, backward_rows, blocks, with_cell};
use crate::nn::kernels::gemm::{Op, matmul_ld, matmul_new};
use crate::nn::kernels::linear::bias_rows;
use crate::nn::kernels::packed::StepProduct;
use crate::nn::kernels::recurrent::{add_rows, blocks_to_rows, rows_to_blocks};
use crate::nn::kernels::rows::{exp_shifted, sum_and_max};
use crate::nn::kernels::traced::{Traced, TracedKernel, WeightGrad};
use crate::nn::kernels::widest;
use crate::nn::{Cell, Nonlinearity};

/// The op's kernel: the cell and the sizes the weights do not tell (the
/// trace between the passes is held by the shared op, `kernels::traced`).
#[derive(Debug)]
pub struct TutorialDecoderSequence {
    cell: Cell,
    /// Batch rows `B`.
    rows: usize,
    /// Target steps `T`.
    steps: usize,
    /// Embedding width `E`.
    embed: usize,
    /// Attention slots `L` (the tutorial's `max_length`).
    slots: usize,
    /// Keep the trace: some input tracks gradients.
    keep: bool,
}

/// Sizes of one call.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dims {
    b: usize,
    t: usize,
    e: usize,
    h: usize,
    l: usize,
}

impl Dims {
    /// Lengths of the flat input's parts, in order (see [`Parts`]).
    fn parts(self, states: usize, g: usize) -> [usize; 9] {
        let Dims { b, t, e, h, l } = self;
        let w = e + h;
        [
            b * t * e,
            states * b * h,
            b * l * h,
            l * w,
            l,
            h * w,
            h,
            g,
            g,
        ]
    }
}

/// The flat input's parts (see the module docs).
struct Parts<'a, T> {
    emb: &'a [T],
    s0: &'a [T],
    values: &'a [T],
    attn_w: &'a [T],
    attn_b: &'a [T],
    comb_w: &'a [T],
    comb_b: &'a [T],
    b_ih: &'a [T],
    b_hh: &'a [T],
}

/// Splits `flat` into consecutive slices of the given lengths.
fn split<T, const N: usize>(mut flat: &[T], lens: [usize; N]) -> [&[T]; N] {
    lens.map(|n| {
        let (head, tail) = flat.split_at(n);
        flat = tail;
        head
    })
}

/// [`split`] of a mutable buffer.
fn split_mut<T, const N: usize>(mut flat: &mut [T], lens: [usize; N]) -> [&mut [T]; N] {
    lens.map(|n| {
        let (head, tail) = std::mem::take(&mut flat).split_at_mut(n);
        flat = tail;
        head
    })
}

impl<'a, T> Parts<'a, T> {
    fn of(flat: &'a [T], d: Dims, states: usize, g: usize) -> Self {
        let [emb, s0, values, attn_w, attn_b, comb_w, comb_b, b_ih, b_hh] =
            split(flat, d.parts(states, g));
        Parts {
            emb,
            s0,
            values,
            attn_w,
            attn_b,
            comb_w,
            comb_b,
            b_ih,
            b_hh,
        }
    }
}

/// What the forward pass keeps for the backward pass, batch-major (row
/// `r`, step `s` at `r·T + s`) except `states` and `saved`, which are in
/// step order like the recurrent op's: `states` `[T + 1, B, S·H]` (before
/// the first step, then after each), `saved` `[T, B, K·H]` (the cell's
/// blocks), `weights` `[B·T, L]` (attention), `context` `[B·T, H]`, `input`
/// `[B·T, H]` (the cell's input `x`, after the relu).
pub(crate) struct Trace<T> {
    states: Vec<T>,
    saved: Vec<T>,
    weights: Vec<T>,
    context: Vec<T>,
    input: Vec<T>,
}

/// `row ← softmax(row)`, shifted by its maximum as candle's and PyTorch's are.
#[inline(always)]
fn softmax<T: Real>(row: &mut [T]) {
    let (_, max) = sum_and_max(row);
    let sum = exp_shifted(row, max);
    for v in row.iter_mut() {
        *v = *v / sum;
    }
}

widest! {
    /// The op's forward pass (see the module docs), compiled for the widest
    /// vectors this CPU has: every step's `h`, and the trace when `keep`.
    fn forward / forward_steps<C: CellMath, T: Real>(
        flat: &[T],
        wih: &[T],
        whh: &[T],
        d: Dims,
        keep: bool,
    ) -> (Vec<T>, Option<Trace<T>>) {
        let Dims { b, t, e, h, l } = d;
        let (g, sw, k, w) = (C::GATES * h, C::STATES * h, C::SAVED * h, e + h);
        let p = Parts::of(flat, d, C::STATES, g);
        // The embedding halves of `attn` and `attn_combine`, with their
        // biases, for every step in one product each.
        let mut scores_e = bias_rows(p.attn_b, b * t);
        matmul_ld((&mut scores_e, l), (p.emb, Op::N, e), (p.attn_w, Op::T, w), b * t, e, l, true);
        let mut combined_e = bias_rows(p.comb_b, b * t);
        matmul_ld((&mut combined_e, h), (p.emb, Op::N, e), (p.comb_w, Op::T, w), b * t, e, h, true);
        // The state and context halves, applied step by step.
        let attn_h = StepProduct::new(&p.attn_w[e..], Op::T, w, (h, l), b);
        let comb_c = StepProduct::new(&p.comb_w[e..], Op::T, w, (h, h), b);
        let w_ih = StepProduct::new(wih, Op::T, h, (h, g), b);
        let w_hh = StepProduct::new(whh, Op::T, h, (h, g), b);
        let mut out = vec![T::ZERO; b * t * h];
        let mut states = Vec::with_capacity((t + 1) * b * sw);
        states.resize(b * sw, T::ZERO);
        blocks_to_rows(p.s0, &mut states, (b, h, sw));
        let mut saved = Vec::with_capacity(if keep { t * b * k } else { k });
        if !keep {
            saved.resize(k, T::ZERO);
        }
        let mut weights = vec![T::ZERO; b * t * l];
        let mut context = vec![T::ZERO; b * t * h];
        let mut input = vec![T::ZERO; b * t * h];
        let (mut scores, mut pre) = (vec![T::ZERO; b * l], vec![T::ZERO; b * h]);
        let (mut xw, mut hw) = (vec![T::ZERO; b * g], vec![T::ZERO; b * g]);
        for s in 0..t {
            states.extend_from_within(s * b * sw..(s + 1) * b * sw);
            if keep {
                saved.resize((s + 1) * b * k, T::ZERO);
            }
            let (before, after) = states.split_at_mut((s + 1) * b * sw);
            let prev = &before[s * b * sw..];
            for r in 0..b {
                let at = r * t + s;
                scores[r * l..(r + 1) * l].copy_from_slice(&scores_e[at * l..(at + 1) * l]);
            }
            attn_h.apply((&mut scores, l), (prev, sw), b, true);
            for r in 0..b {
                let at = r * t + s;
                let a = &mut weights[at * l..(at + 1) * l];
                a.copy_from_slice(&scores[r * l..(r + 1) * l]);
                softmax(a);
                let c = &mut context[at * h..(at + 1) * h];
                for (j, &aj) in a.iter().enumerate() {
                    let v = &p.values[(r * l + j) * h..(r * l + j + 1) * h];
                    for (ci, &vi) in c.iter_mut().zip(v) {
                        *ci += aj * vi;
                    }
                }
                pre[r * h..(r + 1) * h].copy_from_slice(&combined_e[at * h..(at + 1) * h]);
            }
            comb_c.apply((&mut pre, h), (&context[s * h..], t * h), b, true);
            for r in 0..b {
                let at = r * t + s;
                let x = &mut input[at * h..(at + 1) * h];
                for (xi, &u) in x.iter_mut().zip(&pre[r * h..(r + 1) * h]) {
                    *xi = if u > T::ZERO { u } else { T::ZERO };
                }
                xw[r * g..(r + 1) * g].copy_from_slice(p.b_ih);
                hw[r * g..(r + 1) * g].copy_from_slice(p.b_hh);
            }
            w_ih.apply((&mut xw, g), (&input[s * h..], t * h), b, true);
            w_hh.apply((&mut hw, g), (prev, sw), b, true);
            for (r, st) in after.chunks_mut(sw).enumerate() {
                let sv = match keep {
                    true => &mut saved[(s * b + r) * k..(s * b + r + 1) * k],
                    false => &mut saved[..],
                };
                C::forward(h, &xw[r * g..(r + 1) * g], &hw[r * g..(r + 1) * g], st, sv);
                let at = r * t + s;
                out[at * h..(at + 1) * h].copy_from_slice(&st[..h]);
            }
        }
        let trace = keep.then_some(Trace {
            states,
            saved,
            weights,
            context,
            input,
        });
        (out, trace)
    }
}

widest! {
    /// Gradients of the op's inputs (the flat vector, `W_ih`, `W_hh`) from
    /// the gradient of its output, compiled for the widest vectors this
    /// CPU has.
    fn backward / backward_steps<C: CellMath, T: Real>(
        inputs: (&[T], &[T], &[T]),
        trace: &Trace<T>,
        grad: &[T],
        d: Dims,
    ) -> (Vec<T>, Vec<T>, Vec<T>) {
        let (flat, wih, whh) = inputs;
        let Dims { b, t, e, h, l } = d;
        let (g, sw, w) = (C::GATES * h, C::STATES * h, e + h);
        let p = Parts::of(flat, d, C::STATES, g);
        let Trace { states, saved, weights, context, input } = trace;
        let mut d_flat = vec![T::ZERO; flat.len()];
        let [d_emb, d_s0, d_values, d_attn_w, d_attn_b, d_comb_w, d_comb_b, d_b_ih, d_b_hh] =
            split_mut(&mut d_flat, d.parts(C::STATES, g));
        // Batch-major per-step gradients, lined up with the trace's rows for
        // the weight gradients after the loop.
        let mut d_xw = vec![T::ZERO; b * t * g];
        let mut d_hw = match C::HW_IS_X {
            true => Vec::new(),
            false => vec![T::ZERO; b * t * g],
        };
        let mut d_pre = vec![T::ZERO; b * t * h];
        let mut d_scores = vec![T::ZERO; b * t * l];
        let mut prev_h = vec![T::ZERO; b * t * h];
        let mut d_state = vec![T::ZERO; b * sw];
        let mut d_next = vec![T::ZERO; b * sw];
        let (mut d_x, mut d_c) = (vec![T::ZERO; b * h], vec![T::ZERO; b * h]);
        let w_ih = StepProduct::new(wih, Op::N, h, (g, h), b);
        let comb_c = StepProduct::new(&p.comb_w[e..], Op::N, w, (h, h), b);
        let w_hh = StepProduct::new(whh, Op::N, h, (g, h), b);
        let attn_h = StepProduct::new(&p.attn_w[e..], Op::N, w, (l, h), b);
        for s in (0..t).rev() {
            backward_rows::<C, T>(
                (b, t, h),
                (s, s),
                (states, saved),
                (grad, None),
                (&mut d_state, &mut d_next),
                &mut prev_h,
                (&mut d_xw, &mut d_hw),
            );
            // Back through `x W_ihᵀ`, the relu, and `attn_combine`'s context half.
            w_ih.apply((&mut d_x, h), (&d_xw[s * g..], t * g), b, false);
            for r in 0..b {
                let at = r * t + s;
                let x = &input[at * h..(at + 1) * h];
                let dp = &mut d_pre[at * h..(at + 1) * h];
                for ((dp, &dx), &x) in dp.iter_mut().zip(&d_x[r * h..(r + 1) * h]).zip(x) {
                    *dp = if x > T::ZERO { dx } else { T::ZERO };
                }
            }
            comb_c.apply((&mut d_c, h), (&d_pre[s * h..], t * h), b, false);
            // Back through the weighted sum and the softmax.
            for r in 0..b {
                let at = r * t + s;
                let a = &weights[at * l..(at + 1) * l];
                let dc = &d_c[r * h..(r + 1) * h];
                let ds = &mut d_scores[at * l..(at + 1) * l];
                let mut dot = T::ZERO;
                for (j, (&aj, dsj)) in a.iter().zip(ds.iter_mut()).enumerate() {
                    let row = (r * l + j) * h..(r * l + j + 1) * h;
                    let mut da = T::ZERO;
                    for (&ci, &vi) in dc.iter().zip(&p.values[row.clone()]) {
                        da += ci * vi;
                    }
                    for (dv, &ci) in d_values[row].iter_mut().zip(dc) {
                        *dv += aj * ci;
                    }
                    *dsj = da;
                    dot += aj * da;
                }
                for (dsj, &aj) in ds.iter_mut().zip(a) {
                    *dsj = aj * (*dsj - dot);
                }
            }
            // The state before the step: through `W_hh` and `attn`'s state half.
            let d_gates = if C::HW_IS_X { &d_xw } else { &d_hw };
            w_hh.apply((&mut d_next, sw), (&d_gates[s * g..], t * g), b, true);
            attn_h.apply((&mut d_next, sw), (&d_scores[s * l..], t * l), b, true);
            std::mem::swap(&mut d_state, &mut d_next);
        }
        let n = b * t;
        // Every weight gradient over all steps at once.
        let d_wih = matmul_new(&d_xw, Op::T, input, Op::N, g, n, h);
        let d_gates = if C::HW_IS_X { &d_xw } else { &d_hw };
        let d_whh = matmul_new(d_gates, Op::T, &prev_h, Op::N, g, n, h);
        matmul_ld((d_attn_w, w), (&d_scores, Op::T, l), (p.emb, Op::N, e), l, n, e, false);
        matmul_ld((&mut d_attn_w[e..], w), (&d_scores, Op::T, l), (&prev_h, Op::N, h), l, n, h, false);
        matmul_ld((d_comb_w, w), (&d_pre, Op::T, h), (p.emb, Op::N, e), h, n, e, false);
        matmul_ld((&mut d_comb_w[e..], w), (&d_pre, Op::T, h), (context, Op::N, h), h, n, h, false);
        // The embedded inputs reach both layers' embedding halves.
        matmul_ld((d_emb, e), (&d_pre, Op::N, h), (p.comb_w, Op::N, w), n, h, e, false);
        matmul_ld((d_emb, e), (&d_scores, Op::N, l), (p.attn_w, Op::N, w), n, l, e, true);
        add_rows(d_attn_b, &d_scores);
        add_rows(d_comb_b, &d_pre);
        add_rows(d_b_ih, &d_xw);
        match C::HW_IS_X {
            true => d_b_hh.copy_from_slice(d_b_ih),
            false => add_rows(d_b_hh, &d_hw),
        }
        rows_to_blocks(&d_state, d_s0, (b, h, sw));
        (d_flat, d_wih, d_whh)
    }
}

impl TutorialDecoderSequence {
    fn dims(&self, flat: &Layout, wih: &Layout, whh: &Layout) -> candle_core::Result<Dims> {
        let (gates, states, _) = blocks(self.cell);
        let (gi, i) = wih.shape().dims2()?;
        let (gh, h) = whh.shape().dims2()?;
        let d = Dims {
            b: self.rows,
            t: self.steps,
            e: self.embed,
            h,
            l: self.slots,
        };
        let g = gates * h;
        let len: usize = d.parts(states, g).iter().sum();
        if d.b == 0 || d.t == 0 || d.l == 0 || gi != g || gh != g || i != h {
            candle_core::bail!(
                "tutorial decoder kernel ({:?}): w_ih {:?} and w_hh {:?} do not fit a cell of \
                 {h} units reading its own width, over {} rows, {} steps and {} slots",
                self.cell,
                wih.shape(),
                whh.shape(),
                d.b,
                d.t,
                d.l
            );
        }
        if flat.shape().elem_count() != len {
            candle_core::bail!(
                "tutorial decoder kernel: the flat input holds {} values, its parts {len}",
                flat.shape().elem_count()
            );
        }
        Ok(d)
    }
}

impl TracedKernel for TutorialDecoderSequence {
    type Trace<T: Real> = Trace<T>;
    type Dims = Dims;
    const NAME: &'static str = "tutorial decoder kernel";

    fn dims(&self, flat: &Layout, wih: &Layout, whh: &Layout) -> candle_core::Result<Dims> {
        TutorialDecoderSequence::dims(self, flat, wih, whh)
    }

    fn shape(&self, d: Dims) -> Shape {
        Shape::from((d.b, d.t, d.h))
    }

    fn forward<T: Real>(
        &self,
        (flat, wih, whh): (&[T], &[T], &[T]),
        d: Dims,
    ) -> (Vec<T>, Option<Trace<T>>) {
        with_cell!(self.cell, forward::<T>(flat, wih, whh, d, self.keep))
    }

    fn backward<T: Real>(
        &self,
        inputs: (&[T], &[T], &[T]),
        trace: &Trace<T>,
        grad: &[T],
        d: Dims,
        _factored: [bool; 2],
    ) -> (Vec<T>, [WeightGrad<T>; 2]) {
        // Used once a batch: its weights' gradients stay dense.
        let (d_flat, d_wih, d_whh) = with_cell!(self.cell, backward::<T>(inputs, trace, grad, d));
        (d_flat, [WeightGrad::Dense(d_wih), WeightGrad::Dense(d_whh)])
    }
}

/// The tutorial decoder's weights as the op reads them: `attn` and
/// `attn_combine` (weight, bias), and the cell's `[W_ih, b_ih, W_hh, b_hh]`
/// in PyTorch's layout.
pub struct TutorialDecoderWeights<'a> {
    /// `attn`: `[L, E + H]`, `[L]`.
    pub attn: (&'a Tensor, &'a Tensor),
    /// `attn_combine`: `[H, E + H]`, `[H]`.
    pub combine: (&'a Tensor, &'a Tensor),
    /// The cell's weights: `W_ih` `[G·H, H]`, `b_ih`, `W_hh` `[G·H, H]`, `b_hh`.
    pub cell: [&'a Tensor; 4],
}

/// Every teacher-forced step of the tutorial decoder through the op (see
/// the module docs).
///
/// emb: `[B, T, E]` embedded gold inputs (after dropout); s0: the initial
/// state's blocks, each `[B, H]`; values: the slots `[B, L, H]` →
/// every step's `h`, `[B, T, H]`.
pub fn tutorial_decoder_sequence(
    cell: Cell,
    emb: &Tensor,
    s0: &[&Tensor],
    values: &Tensor,
    weights: &TutorialDecoderWeights<'_>,
) -> candle_core::Result<Tensor> {
    let tracked = |t: &Tensor| t.is_variable() || t.track_op();
    let (b, t, e) = emb.dims3()?;
    let (_, l, _) = values.dims3()?;
    let [w_ih, b_ih, w_hh, b_hh] = weights.cell;
    let mut parts = vec![emb.flatten_all()?];
    for s in s0 {
        parts.push(s.flatten_all()?);
    }
    parts.push(values.flatten_all()?);
    for p in [
        weights.attn.0,
        weights.attn.1,
        weights.combine.0,
        weights.combine.1,
    ] {
        parts.push(p.flatten_all()?);
    }
    parts.push(b_ih.clone());
    parts.push(b_hh.clone());
    let flat = Tensor::cat(&parts, 0)?;
    let op = TutorialDecoderSequence {
        cell,
        rows: b,
        steps: t,
        embed: e,
        slots: l,
        keep: tracked(&flat) || tracked(w_ih) || tracked(w_hh),
    };
    let op = Traced::new(op);
    crate::nn::record::apply_op3(&flat, &w_ih.contiguous()?, &w_hh.contiguous()?, op)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::kernels::gemm::FEW_ROWS;

    fn values(n: usize, seed: f32) -> Vec<f32> {
        (0..n).map(|i| (i as f32 * seed).sin()).collect()
    }

    /// The passes compiled for this CPU's widest vectors give what the
    /// baseline build of the same loops gives, bit for bit, for every cell,
    /// with few rows and with packed many.
    #[test]
    fn widest_build_equals_the_baseline_bit_for_bit() {
        fn case<C: CellMath>(cell: Cell, b: usize) {
            let d = Dims {
                b,
                t: 4,
                e: 11,
                h: 13,
                l: 6,
            };
            let g = C::GATES * d.h;
            let len: usize = d.parts(C::STATES, g).iter().sum();
            let flat: Vec<f32> = values(len, 0.37).iter().map(|v| v * 0.5).collect();
            let (wih, whh) = (values(g * d.h, 0.13), values(g * d.h, 0.05));
            let (out, trace) = forward::<C, f32>(&flat, &wih, &whh, d, true);
            let (base_out, base_trace) = forward_steps::<C, f32>(&flat, &wih, &whh, d, true);
            let (Some(trace), Some(base_trace)) = (trace, base_trace) else {
                panic!("{cell:?}: no trace kept");
            };
            assert!(
                out == base_out
                    && trace.states == base_trace.states
                    && trace.weights == base_trace.weights
                    && trace.input == base_trace.input,
                "{cell:?}"
            );
            let grad = values(out.len(), 0.23);
            let inputs = (&flat[..], &wih[..], &whh[..]);
            let wide = backward::<C, f32>(inputs, &trace, &grad, d);
            let base = backward_steps::<C, f32>(inputs, &trace, &grad, d);
            assert!(wide == base, "{cell:?} with {b} rows");
        }
        for b in [3, FEW_ROWS + 5] {
            case::<Elman<false>>(Cell::Rnn(Nonlinearity::Tanh), b);
            case::<Lstm>(Cell::Lstm, b);
            case::<Gru>(Cell::Gru, b);
        }
    }
}
