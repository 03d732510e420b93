//! One recurrent layer in one direction over a whole padded batch, as one
//! candle op with backpropagation through time, for every cell of
//! [`crate::nn::rnn::cell`] (PyTorch's equations and gate order).
//!
//! `x W_ihᵀ + b_ih` comes precomputed for all steps (one matrix product
//! outside the op). Each step is one product of the state with the recurrent
//! weights of all gates and one fused pass over the gate math ([`CellMath`]:
//! the only part that differs between cells). Rows past their length keep
//! their state (packed-sequence semantics) and cost no gate math. The gates
//! are saved in the output, so the backward pass recomputes nothing: per
//! step one product with `W_hh` for the state gradient, and the weight
//! gradient of all steps in one product at the end.
//!
//! Inputs: `xw [T, B, G·H]`, `s0 [B, S·H]` (the initial state: `h`, then an
//! LSTM's `c`), `whb [G·(H + 1), H]` (`W_hh` in PyTorch's layout, then
//! `b_hh` as `G` more rows, so the op has three inputs: gluing the rows on is
//! one copy, the backward pass multiplies by `W_hh` as it is stored, and its
//! rows keep their aligned length `H` — a bias column made them `H + 1`
//! long, which cost `gemm` a repacking of `W_hh` on every step). Output `[T, B, (S + K)·H]`: for each step and
//! row, the state after the step (`[h | c]`, the carried state on a padded
//! step), then the `K` saved blocks of the cell (zero on padded steps). Only
//! the state columns are meant to be read; theirs are the only gradients used.

use candle_core::{CpuStorage, CustomOp3, Layout, Shape, Tensor};

use super::gemm::{FEW_ROWS, Op, matmul_ld};
use super::packed::Packed;
#[cfg(target_arch = "x86_64")]
use super::vector_isa;
use super::{Real, read_cpu};
#[cfg(target_arch = "x86_64")]
use crate::embed::simd::Isa;
use crate::nn::rnn::{Cell, Nonlinearity};

/// The op: the cell, lengths of the batch rows and the direction.
#[derive(Clone, Debug)]
pub struct RecurrentSequence {
    /// Which cell's math runs.
    pub cell: Cell,
    /// `lengths[b]` in `1..=T`: row `b` runs steps `0..lengths[b]`.
    pub lengths: Vec<usize>,
    /// Run from the last valid step back to step 0.
    pub reverse: bool,
}

/// Sizes of one call.
#[derive(Clone, Copy, Debug)]
struct Dims {
    t: usize,
    b: usize,
    h: usize,
}

/// The element-wise math of one cell for one batch row, forward and backward.
///
/// Slices hold `H`-wide blocks: `x` and `hw` the `G` gate pre-activations
/// (`x W_ihᵀ + b_ih` and `h W_hhᵀ + b_hh`), states `S` blocks (`h`, then `c`),
/// `saved` the `K` blocks the backward pass reads.
trait CellMath: Copy {
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
struct StepIn<'a, T> {
    /// The cell's saved blocks.
    saved: &'a [T],
    /// The state after the step.
    new: &'a [T],
    /// The state before the step.
    prev: &'a [T],
    /// The gradient on `new`.
    d_new: &'a [T],
}

/// What one row's backward step writes: the gradients of `x` and `hw`
/// (`d_hw` empty where [`CellMath::HW_IS_X`]), and the part of `prev`'s
/// gradient that does not go through `hw` (the caller adds `d_hw · W_hh` to
/// its `h` block).
struct StepGrads<'a, T> {
    d_x: &'a mut [T],
    d_hw: &'a mut [T],
    d_prev: &'a mut [T],
}

/// Elman RNN, `h' = act(x + hw)`; `RELU` picks relu over tanh. Nothing is
/// saved: the derivative comes from `h'` itself.
#[derive(Clone, Copy)]
struct Elman<const RELU: bool>;

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
struct Lstm;

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
struct Gru;

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

/// `fn NAME / BODY(args) -> R { … }`: defines `BODY::<C, T>` (inlined
/// wherever it is called) and `NAME::<C, T>`, which runs it compiled for
/// AVX-512 or AVX2 where the CPU has them ([`vector_isa`]). The crate is
/// built for baseline x86-64, so the gate math's loops would otherwise run
/// four lanes wide; compiled inside a `target_feature` function they run
/// eight or sixteen. The results are the
/// same bit for bit: the loops are element-wise IEEE operations, and Rust
/// never fuses a multiply and an add on its own (tested).
macro_rules! widest {
    ($(#[$doc:meta])* fn $name:ident / $body:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $block:block) => {
        #[inline(always)]
        fn $body<C: CellMath, T: Real>($($arg: $ty),*) -> $ret $block

        $(#[$doc])*
        fn $name<C: CellMath, T: Real>($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                /// # Safety
                /// The CPU has AVX-512F, AVX2 and FMA.
                #[target_feature(enable = "avx512f,avx2,fma")]
                unsafe fn avx512<C: CellMath, T: Real>($($arg: $ty),*) -> $ret {
                    $body::<C, T>($($arg),*)
                }
                /// # Safety
                /// The CPU has AVX2 and FMA.
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2<C: CellMath, T: Real>($($arg: $ty),*) -> $ret {
                    $body::<C, T>($($arg),*)
                }
                match vector_isa() {
                    // SAFETY: `vector_isa` found these instruction sets.
                    Isa::Avx512 => return unsafe { avx512::<C, T>($($arg),*) },
                    // SAFETY: as above.
                    Isa::Avx2 => return unsafe { avx2::<C, T>($($arg),*) },
                    Isa::Scalar => {}
                }
            }
            $body::<C, T>($($arg),*)
        }
    };
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
fn blocks(cell: Cell) -> (usize, usize, usize) {
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
    fn step / step_row(h: usize, x: &[T], hw: &[T], state: &mut [T], saved: &mut [T]) -> () {
        C::forward(h, x, hw, state, &mut saved[..C::SAVED * h]);
    }
}

impl RecurrentSequence {
    /// Steps in processing order.
    fn order(&self, t: usize) -> Vec<usize> {
        match self.reverse {
            true => (0..t).rev().collect(),
            false => (0..t).collect(),
        }
    }

    fn dims(&self, xw: &Layout, s0: &Layout, whb: &Layout) -> candle_core::Result<Dims> {
        let (gates, states, _) = blocks(self.cell);
        let (t, b, g) = xw.shape().dims3()?;
        let (sb, sw) = s0.shape().dims2()?;
        let (wr, h) = whb.shape().dims2()?;
        if wr != gates * (h + 1)
            || g != gates * h
            || sb != b
            || sw != states * h
            || self.lengths.len() != b
        {
            candle_core::bail!(
                "recurrent kernel ({:?}): xw {:?}, s0 {:?}, whb {:?} and {} lengths do not fit",
                self.cell,
                xw.shape(),
                s0.shape(),
                whb.shape(),
                self.lengths.len()
            );
        }
        if self.lengths.iter().any(|&l| l == 0 || l > t) {
            candle_core::bail!("recurrent kernel: lengths must be in 1..={t}");
        }
        Ok(Dims { t, b, h })
    }

    /// Width of one output row: state and saved blocks.
    fn row_width(&self, h: usize) -> usize {
        let (_, states, saved) = blocks(self.cell);
        (states + saved) * h
    }
}

widest! {
    /// The op's forward pass (see the module docs), compiled for the widest
    /// vectors this CPU has.
    fn forward / forward_steps(
        op: &RecurrentSequence,
        xw: &[T],
        s0: &[T],
        whb: &[T],
        d: Dims,
    ) -> Vec<T> {
        let Dims { t, b, h } = d;
        let (g, sw) = (C::GATES * h, C::STATES * h);
        let width = (C::STATES + C::SAVED) * h;
        let mut out = vec![T::ZERO; t * b * width];
        let (whh, bias) = whb.split_at(g * h);
        // `h W_hhᵀ` for a few rows runs on `W_hh` as stored (see `matmul_ld`);
        // for more, `W_hhᵀ` is packed once per sequence rather than repacked by
        // `gemm` on every step.
        let packed = (b > FEW_ROWS).then(|| Packed::new(whh, Op::T, h, h, g));
        let mut hw = vec![T::ZERO; b * g];
        let mut state = s0.to_vec();
        for s in op.order(t) {
            for row in hw.chunks_mut(g) {
                row.copy_from_slice(bias);
            }
            // hw += h W_hhᵀ, reading the h block of each [h | c] state row.
            match &packed {
                Some(w) => w.matmul((&mut hw, g), (&state, sw), b, true),
                None => matmul_ld(
                    (&mut hw, g),
                    (&state, Op::N, sw),
                    (whh, Op::T, h),
                    b,
                    h,
                    g,
                    true,
                ),
            }
            let rows = out[s * b * width..(s + 1) * b * width].chunks_mut(width);
            for (r, row) in rows.enumerate() {
                let st = &mut state[r * sw..(r + 1) * sw];
                let (row_state, saved) = row.split_at_mut(sw);
                if s < op.lengths[r] {
                    let x = &xw[(s * b + r) * g..(s * b + r + 1) * g];
                    C::forward(h, x, &hw[r * g..(r + 1) * g], st, saved);
                }
                row_state.copy_from_slice(st);
            }
        }
        out
    }
}

widest! {
    /// Gradients of `xw`, `s0` and `whb` from the gradient of the output,
    /// compiled for the widest vectors this CPU has.
    fn backward / backward_steps(
        op: &RecurrentSequence,
        s0: &[T],
        whb: &[T],
        out: &[T],
        grad: &[T],
        d: Dims,
    ) -> (Vec<T>, Vec<T>, Vec<T>) {
        let Dims { t, b, h } = d;
        let (g, sw) = (C::GATES * h, C::STATES * h);
        let width = (C::STATES + C::SAVED) * h;
        let order = op.order(t);
        // The state each step started from, `[T·B, S·H]` in step order: s0 for
        // the first step processed, else the state after the step before it.
        let mut prev = vec![T::ZERO; t * b * sw];
        for (i, &s) in order.iter().enumerate() {
            let dst = prev[s * b * sw..(s + 1) * b * sw].chunks_mut(sw);
            match i {
                0 => dst
                    .zip(s0.chunks(sw))
                    .for_each(|(d, x)| d.copy_from_slice(x)),
                _ => {
                    let from = &out[order[i - 1] * b * width..(order[i - 1] + 1) * b * width];
                    dst.zip(from.chunks(width))
                        .for_each(|(d, row)| d.copy_from_slice(&row[..sw]));
                }
            }
        }
        // `W_hh` packed once for the steps' products, as in the forward pass.
        let packed = (b > FEW_ROWS).then(|| Packed::new(&whb[..g * h], Op::N, h, g, h));
        let mut d_xw = vec![T::ZERO; t * b * g];
        let mut d_hw = match C::HW_IS_X {
            true => Vec::new(),
            false => vec![T::ZERO; t * b * g],
        };
        let mut d_state = vec![T::ZERO; b * sw];
        let mut d_next = vec![T::ZERO; b * sw];
        for &s in order.iter().rev() {
            for r in 0..b {
                let o = (s * b + r) * width;
                let ds = &mut d_state[r * sw..(r + 1) * sw];
                for (x, gr) in ds.iter_mut().zip(&grad[o..o + sw]) {
                    *x += *gr;
                }
                let next = &mut d_next[r * sw..(r + 1) * sw];
                if s >= op.lengths[r] {
                    // A padded step passes the state, and so its gradient, through.
                    next.copy_from_slice(ds);
                    continue;
                }
                let gi = (s * b + r) * g;
                let step = StepIn {
                    saved: &out[o + sw..o + width],
                    new: &out[o..o + sw],
                    prev: &prev[(s * b + r) * sw..(s * b + r + 1) * sw],
                    d_new: ds,
                };
                let grads = StepGrads {
                    d_x: &mut d_xw[gi..gi + g],
                    d_hw: match C::HW_IS_X {
                        true => &mut [],
                        false => &mut d_hw[gi..gi + g],
                    },
                    d_prev: next,
                };
                C::backward(h, step, grads);
            }
            // dh_prev += d_hw W_hh; padded rows have zero d_hw, so they get nothing.
            let d_hw = if C::HW_IS_X { &d_xw } else { &d_hw };
            let d_step = &d_hw[s * b * g..(s + 1) * b * g];
            match &packed {
                Some(w) => w.matmul((&mut d_next, sw), (d_step, g), b, true),
                None => matmul_ld(
                    (&mut d_next, sw),
                    (d_step, Op::N, g),
                    (&whb[..g * h], Op::N, h),
                    b,
                    g,
                    h,
                    true,
                ),
            }
            std::mem::swap(&mut d_state, &mut d_next);
        }
        // dW = Σ_s h_prevᵀ d_hw over all steps at once; db = Σ rows of d_hw.
        let d_hw = if C::HW_IS_X { &d_xw } else { &d_hw };
        let mut d_whb = vec![T::ZERO; (g + C::GATES) * h];
        let (dw, db) = d_whb.split_at_mut(g * h);
        matmul_ld(
            (dw, h),
            (d_hw, Op::T, g),
            (&prev, Op::N, sw),
            g,
            t * b,
            h,
            false,
        );
        for row in d_hw.chunks(g) {
            for (acc, v) in db.iter_mut().zip(row) {
                *acc += *v;
            }
        }
        (d_xw, d_state, d_whb)
    }
}

fn slice<'a, T>(v: &'a [T], l: &Layout, what: &str) -> candle_core::Result<&'a [T]> {
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&v[a..b]),
        None => candle_core::bail!("recurrent kernel: {what} must be contiguous"),
    }
}

impl CustomOp3 for RecurrentSequence {
    fn name(&self) -> &'static str {
        "recurrent-sequence"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let d = self.dims(l1, l2, l3)?;
        let shape = Shape::from((d.t, d.b, self.row_width(d.h)));
        macro_rules! run {
            ($t:ty, $x:expr, $s0:expr, $w:expr) => {{
                let (x, s0, w) = (
                    slice($x, l1, "xw")?,
                    slice($s0, l2, "s0")?,
                    slice($w, l3, "whb")?,
                );
                with_cell!(self.cell, forward::<$t>(self, x, s0, w, d))
            }};
        }
        let out = match (s1, s2, s3) {
            (CpuStorage::F32(x), CpuStorage::F32(s0), CpuStorage::F32(w)) => {
                CpuStorage::F32(run!(f32, x, s0, w))
            }
            (CpuStorage::F64(x), CpuStorage::F64(s0), CpuStorage::F64(w)) => {
                CpuStorage::F64(run!(f64, x, s0, w))
            }
            _ => candle_core::bail!("recurrent kernel: f32 or f64 inputs of one dtype only"),
        };
        Ok((out, shape))
    }

    fn bwd(
        &self,
        xw: &Tensor,
        s0: &Tensor,
        whb: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let d = self.dims(xw.layout(), s0.layout(), whb.layout())?;
        let dev = xw.device();
        macro_rules! run {
            ($t:ty) => {{
                // Read in place (no copies); only the incoming gradient may
                // need making contiguous.
                let grad = grad_res.contiguous()?;
                let (dx, ds0, dw) = read_cpu::<$t, _>(s0, |s0v| {
                    read_cpu::<$t, _>(whb, |wv| {
                        read_cpu::<$t, _>(res, |out| {
                            read_cpu::<$t, _>(&grad, |g| {
                                Ok(with_cell!(
                                    self.cell,
                                    backward::<$t>(self, s0v, wv, out, g, d)
                                ))
                            })
                        })
                    })
                })?;
                (
                    Tensor::from_vec(dx, xw.shape(), dev)?,
                    Tensor::from_vec(ds0, s0.shape(), dev)?,
                    Tensor::from_vec(dw, whb.shape(), dev)?,
                )
            }};
        }
        let (dx, ds0, dw) = match xw.dtype() {
            candle_core::DType::F32 => run!(f32),
            candle_core::DType::F64 => run!(f64),
            other => candle_core::bail!("recurrent kernel: no backward for {other:?}"),
        };
        Ok((Some(dx), Some(ds0), Some(dw)))
    }
}

/// Runs the op (see the module docs): `[T, B, (S + K)·H]`, the state after
/// every step in the first `S·H` columns.
///
/// xw: `[T, B, G·H]`, s0: `[B, S·H]`, whb: `[G·(H + 1), H]`.
pub fn recurrent_sequence(
    cell: Cell,
    xw: &Tensor,
    s0: &Tensor,
    whb: &Tensor,
    lengths: &[usize],
    reverse: bool,
) -> candle_core::Result<Tensor> {
    let op = RecurrentSequence {
        cell,
        lengths: lengths.to_vec(),
        reverse,
    };
    xw.contiguous()?
        .apply_op3(&s0.contiguous()?, &whb.contiguous()?, op)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: f32) -> Vec<f32> {
        (0..n).map(|i| (i as f32 * seed).sin() * 1.5).collect()
    }

    /// The passes compiled for this CPU's widest vectors give what the
    /// baseline build of the same loops gives, bit for bit, for every cell,
    /// both directions and rows of different lengths (padded steps
    /// included), and so does the decoding step.
    #[test]
    fn widest_build_equals_the_baseline_bit_for_bit() {
        fn case<C: CellMath>(cell: Cell) {
            let (t, b, h) = (5, 19, 37);
            let (g, sw) = (C::GATES * h, C::STATES * h);
            let xw = values(t * b * g, 0.37);
            let s0 = values(b * sw, 0.11);
            let whb = values((g + C::GATES) * h, 0.05)
                .iter()
                .map(|v| v * 0.2)
                .collect::<Vec<_>>();
            let d = Dims { t, b, h };
            for reverse in [false, true] {
                let op = RecurrentSequence {
                    cell,
                    lengths: (0..b).map(|r| 1 + r % t).collect(),
                    reverse,
                };
                let out = forward::<C, f32>(&op, &xw, &s0, &whb, d);
                assert!(
                    out == forward_steps::<C, f32>(&op, &xw, &s0, &whb, d),
                    "{cell:?}"
                );
                let grad = values(out.len(), 0.23);
                let wide = backward::<C, f32>(&op, &s0, &whb, &out, &grad, d);
                let base = backward_steps::<C, f32>(&op, &s0, &whb, &out, &grad, d);
                assert!(wide == base, "{cell:?} reverse {reverse}");
            }
            // The decoding step's single row too.
            let (x, hw) = (&xw[..g], &xw[g..2 * g]);
            let (mut wide, mut base) = (s0[..sw].to_vec(), s0[..sw].to_vec());
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
