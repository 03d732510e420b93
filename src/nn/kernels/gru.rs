//! One GRU layer in one direction over a whole padded batch, as one candle
//! op with backpropagation through time (PyTorch's GRU equations, gates r, z, n):
//!
//! `r = σ(x_r + W_hr h + b_hr)`, `z = σ(x_z + W_hz h + b_hz)`,
//! `n = tanh(x_n + r ⊙ (W_hn h + b_hn))`, `h' = n + z ⊙ (h − n)`,
//!
//! where `x = W_ih x_t + b_ih` comes precomputed for all steps (one matrix
//! product outside the op). Each step is one product with the recurrent
//! weights for all three gates and one fused pass over the gate math. Rows
//! past their length keep their state (packed-sequence semantics) and cost no
//! gate math. The gates are saved as extra output slots, so the backward pass
//! needs no recomputation: per step one product with `W_hh` for the state
//! gradient, and the weight gradient of all steps in one product at the end.
//!
//! Inputs: `xw [T, B, 3H]`, `h0 [B, H]`, `whb [H + 1, 3H]` (`W_hhᵀ` with
//! `b_hh` as its last row, so the op has three inputs). Output
//! `[5, T, B, H]`: slot 0 the state after each step (`h_t`, or the carried
//! state on a padded step), then r, z, n and `W_hn h + b_hn`, zero on padded
//! steps. Only slot 0 is meant to be read; its gradient is the only one used.

use candle_core::{CpuStorage, CustomOp3, Layout, Shape, Tensor};

use super::Real;
use super::gemm::{Op, matmul};

/// The op: lengths of the batch rows and the direction.
#[derive(Clone, Debug)]
pub struct GruSequence {
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

impl GruSequence {
    /// Steps in processing order.
    fn order(&self, t: usize) -> Vec<usize> {
        match self.reverse {
            true => (0..t).rev().collect(),
            false => (0..t).collect(),
        }
    }

    fn dims(&self, xw: &Layout, h0: &Layout, whb: &Layout) -> candle_core::Result<Dims> {
        let (t, b, g) = xw.shape().dims3()?;
        let (hb, h) = h0.shape().dims2()?;
        let (wr, wc) = whb.shape().dims2()?;
        if g != 3 * h || hb != b || wr != h + 1 || wc != 3 * h || self.lengths.len() != b {
            candle_core::bail!(
                "gru kernel: xw {:?}, h0 {:?}, whb {:?} and {} lengths do not fit",
                xw.shape(),
                h0.shape(),
                whb.shape(),
                self.lengths.len()
            );
        }
        if self.lengths.iter().any(|&l| l == 0 || l > t) {
            candle_core::bail!("gru kernel: lengths must be in 1..={t}");
        }
        Ok(Dims { t, b, h })
    }

    fn forward<T: Real>(&self, xw: &[T], h0: &[T], whb: &[T], d: Dims) -> Vec<T> {
        let Dims { t, b, h } = d;
        let slot = t * b * h;
        let mut out = vec![T::ZERO; 5 * slot];
        let (w, bias) = whb.split_at(h * 3 * h);
        let mut hw = vec![T::ZERO; b * 3 * h];
        let mut prev = h0.to_vec();
        for s in self.order(t) {
            for row in hw.chunks_mut(3 * h) {
                row.copy_from_slice(bias);
            }
            matmul(&mut hw, &prev, Op::N, w, Op::N, b, h, 3 * h, true);
            let (hs, rest) = out.split_at_mut(slot);
            let (rs, rest) = rest.split_at_mut(slot);
            let (zs, rest) = rest.split_at_mut(slot);
            let (ns, hns) = rest.split_at_mut(slot);
            for r in 0..b {
                let o = (s * b + r) * h;
                let hp = &mut prev[r * h..(r + 1) * h];
                if s >= self.lengths[r] {
                    hs[o..o + h].copy_from_slice(hp);
                    continue;
                }
                let x = &xw[(s * b + r) * 3 * h..(s * b + r + 1) * 3 * h];
                let g = &hw[r * 3 * h..(r + 1) * 3 * h];
                for j in 0..h {
                    let rg = (x[j] + g[j]).sigmoid();
                    let zg = (x[h + j] + g[h + j]).sigmoid();
                    let hn = g[2 * h + j];
                    let n = (x[2 * h + j] + rg * hn).tanh();
                    let new = n + zg * (hp[j] - n);
                    hp[j] = new;
                    hs[o + j] = new;
                    rs[o + j] = rg;
                    zs[o + j] = zg;
                    ns[o + j] = n;
                    hns[o + j] = hn;
                }
            }
        }
        out
    }

    /// Gradients of `xw`, `h0` and `whb` from the gradient of slot 0.
    fn backward<T: Real>(
        &self,
        h0: &[T],
        whb: &[T],
        out: &[T],
        grad: &[T],
        d: Dims,
    ) -> (Vec<T>, Vec<T>, Vec<T>) {
        let Dims { t, b, h } = d;
        let slot = t * b * h;
        let (hs, rest) = out.split_at(slot);
        let (rs, rest) = rest.split_at(slot);
        let (zs, rest) = rest.split_at(slot);
        let (ns, rest) = rest.split_at(slot);
        let hns = &rest[..slot];
        let w = &whb[..h * 3 * h];
        let order = self.order(t);
        // The state each step started from, in step order: h0 for the first
        // step processed, else the state after the step processed before it.
        let mut h_prev = vec![T::ZERO; slot];
        for (i, &s) in order.iter().enumerate() {
            let src = match i {
                0 => h0,
                _ => &hs[order[i - 1] * b * h..(order[i - 1] + 1) * b * h],
            };
            h_prev[s * b * h..(s + 1) * b * h].copy_from_slice(src);
        }
        let mut d_xw = vec![T::ZERO; slot * 3];
        let mut d_hw = vec![T::ZERO; slot * 3];
        let mut dh = vec![T::ZERO; b * h];
        let mut dh_next = vec![T::ZERO; b * h];
        for &s in order.iter().rev() {
            let base = s * b * h;
            for (x, g) in dh.iter_mut().zip(&grad[base..base + b * h]) {
                *x += *g;
            }
            for r in 0..b {
                let o = base + r * h;
                let dhr = &dh[r * h..(r + 1) * h];
                let next = &mut dh_next[r * h..(r + 1) * h];
                if s >= self.lengths[r] {
                    // A padded step passes the state, and so its gradient, through.
                    next.copy_from_slice(dhr);
                    continue;
                }
                let g3 = (s * b + r) * 3 * h;
                for j in 0..h {
                    let (rg, zg, n, hn) = (rs[o + j], zs[o + j], ns[o + j], hns[o + j]);
                    let dhj = dhr[j];
                    let dn = dhj * (T::ONE - zg);
                    let dz = dhj * (h_prev[o + j] - n);
                    let dn_pre = dn * (T::ONE - n * n);
                    let dr_pre = dn_pre * hn * rg * (T::ONE - rg);
                    let dz_pre = dz * zg * (T::ONE - zg);
                    d_xw[g3 + j] = dr_pre;
                    d_xw[g3 + h + j] = dz_pre;
                    d_xw[g3 + 2 * h + j] = dn_pre;
                    d_hw[g3 + j] = dr_pre;
                    d_hw[g3 + h + j] = dz_pre;
                    d_hw[g3 + 2 * h + j] = dn_pre * rg;
                    next[j] = dhj * zg;
                }
            }
            // Padded rows have zero `d_hw`, so the product adds nothing to them.
            matmul(
                &mut dh_next,
                &d_hw[s * b * 3 * h..(s + 1) * b * 3 * h],
                Op::N,
                w,
                Op::T,
                b,
                3 * h,
                h,
                true,
            );
            std::mem::swap(&mut dh, &mut dh_next);
        }
        // dW = Σ_s h_prevᵀ d_hw over all steps at once; db = Σ rows of d_hw.
        let mut d_whb = vec![T::ZERO; (h + 1) * 3 * h];
        let (dw, db) = d_whb.split_at_mut(h * 3 * h);
        matmul(dw, &h_prev, Op::T, &d_hw, Op::N, h, t * b, 3 * h, false);
        for row in d_hw.chunks(3 * h) {
            for (acc, v) in db.iter_mut().zip(row) {
                *acc += *v;
            }
        }
        (d_xw, dh, d_whb)
    }
}

fn slice<'a, T>(v: &'a [T], l: &Layout, what: &str) -> candle_core::Result<&'a [T]> {
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&v[a..b]),
        None => candle_core::bail!("gru kernel: {what} must be contiguous"),
    }
}

impl CustomOp3 for GruSequence {
    fn name(&self) -> &'static str {
        "gru-sequence"
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
        let shape = Shape::from((5, d.t, d.b, d.h));
        macro_rules! run {
            ($x:expr, $h0:expr, $w:expr) => {
                self.forward(
                    slice($x, l1, "xw")?,
                    slice($h0, l2, "h0")?,
                    slice($w, l3, "whb")?,
                    d,
                )
            };
        }
        let out = match (s1, s2, s3) {
            (CpuStorage::F32(x), CpuStorage::F32(h0), CpuStorage::F32(w)) => {
                CpuStorage::F32(run!(x, h0, w))
            }
            (CpuStorage::F64(x), CpuStorage::F64(h0), CpuStorage::F64(w)) => {
                CpuStorage::F64(run!(x, h0, w))
            }
            _ => candle_core::bail!("gru kernel: f32 or f64 inputs of one dtype only"),
        };
        Ok((out, shape))
    }

    fn bwd(
        &self,
        xw: &Tensor,
        h0: &Tensor,
        whb: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let d = self.dims(xw.layout(), h0.layout(), whb.layout())?;
        let dev = xw.device();
        // Only slot 0 (the states) feeds the rest of the graph.
        let grad = grad_res.get(0)?.contiguous()?;
        macro_rules! run {
            ($t:ty) => {{
                let flat = |x: &Tensor| x.flatten_all()?.to_vec1::<$t>();
                let (dx, dh0, dw) =
                    self.backward(&flat(h0)?, &flat(whb)?, &flat(res)?, &flat(&grad)?, d);
                (
                    Tensor::from_vec(dx, xw.shape(), dev)?,
                    Tensor::from_vec(dh0, h0.shape(), dev)?,
                    Tensor::from_vec(dw, whb.shape(), dev)?,
                )
            }};
        }
        let (dx, dh0, dw) = match xw.dtype() {
            candle_core::DType::F32 => run!(f32),
            candle_core::DType::F64 => run!(f64),
            other => candle_core::bail!("gru kernel: no backward for {other:?}"),
        };
        Ok((Some(dx), Some(dh0), Some(dw)))
    }
}

/// Runs the op: the states after every step, `[T, B, H]` (see the module docs).
///
/// xw: `[T, B, 3H]`, h0: `[B, H]`, whb: `[H + 1, 3H]`.
pub fn gru_sequence(
    xw: &Tensor,
    h0: &Tensor,
    whb: &Tensor,
    lengths: &[usize],
    reverse: bool,
) -> candle_core::Result<Tensor> {
    let op = GruSequence {
        lengths: lengths.to_vec(),
        reverse,
    };
    xw.contiguous()?
        .apply_op3(&h0.contiguous()?, &whb.contiguous()?, op)?
        .get(0)
}
