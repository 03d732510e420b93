//! A decoder's step fused on the host, for decoding (issue 7's single-step
//! path): one function from the previous tokens, the hidden state and the
//! encoder memory to the next log-probabilities, the attention row and the
//! new state — the matrix products over the batch's rows and the
//! element-wise work between them in plain loops, where the graph path
//! makes some twenty small tensors a step.
//!
//! Taken only where it computes exactly what [`Decoder::advance`] then
//! [`Decoder::step_log_probs`] do: the `tutorial` decoder, or Luong `dot` /
//! `general` without input feeding (the default recipe's), with one GRU
//! layer, in f32 on the CPU, with constant weights (a loaded model, or the
//! validation twin) on the fused kernel. Anything else takes the graph. The
//! two agree to float rounding (tests in `seq2seq/tests.rs`; the imported
//! tutorial model reproduces PyTorch's 300 translations either way).
//!
//! [`Decoder::advance`]: super::Decoder::advance
//! [`Decoder::step_log_probs`]: super::Decoder::step_log_probs

use candle_core::{DType, Device, Tensor};

use super::Memory;
use crate::Result;
use crate::nn::kernels::Real;
use crate::nn::kernels::gemm::{Op, matmul};

/// A weight `[out, in]` and its bias `[out]`, row-major on the host.
#[derive(Clone, Debug)]
pub struct Affine {
    w: Vec<f32>,
    b: Vec<f32>,
    out: usize,
    input: usize,
}

impl Affine {
    /// Copies `w` (`[out, in]`) and `b` (`[out]`; zeros when `None`).
    pub fn new(w: &Tensor, b: Option<&Tensor>) -> Result<Self> {
        let (out, input) = w.dims2()?;
        Ok(Affine {
            w: w.flatten_all()?.to_vec1()?,
            b: match b {
                Some(b) => b.to_vec1()?,
                None => vec![0.0; out],
            },
            out,
            input,
        })
    }

    /// `x W_ᵀ + b` for `rows` rows of `x` → `[rows, out]`.
    fn apply(&self, x: &[f32], rows: usize) -> Vec<f32> {
        let mut y = vec![0f32; rows * self.out];
        matmul(
            &mut y,
            x,
            Op::N,
            &self.w,
            Op::T,
            rows,
            self.input,
            self.out,
            false,
        );
        for row in y.chunks_exact_mut(self.out) {
            for (v, &b) in row.iter_mut().zip(&self.b) {
                *v += b;
            }
        }
        y
    }
}

/// How the step forms the GRU's input and the output layer's input.
#[derive(Clone, Debug)]
pub enum FusedContext {
    /// The tutorial's `relu(attn_combine([emb; softmax(attn([emb; h])) @ slots]))`
    /// as input, `h'` as output.
    Tutorial {
        /// `attn`: `[slots, 2H]` and bias.
        attn: Affine,
        /// `attn_combine`: `[H, 2H]` and bias.
        combine: Affine,
    },
    /// Luong without input feeding: `emb` as input, then attention of `h'`
    /// over the memory's prepared keys (masked), output
    /// `tanh(combine [context; h'])`.
    Luong {
        /// `combine.weight`, `[H, value + H]` (no bias).
        combine: Affine,
    },
}

/// A decoder's weights for the fused step, copied to the host once.
#[derive(Clone, Debug)]
pub struct FusedStep {
    hidden: usize,
    embed: usize,
    embedding: Vec<f32>,
    context: FusedContext,
    w_ih: Affine,
    w_hh: Affine,
    out: Affine,
}

/// What one fused step returns, as tensors on the model's device.
pub struct FusedOutput {
    /// `[B, V]` log-probabilities.
    pub log_probs: Tensor,
    /// `[B, slots]` attention weights.
    pub attention: Tensor,
    /// `[1, B, H]` new GRU state.
    pub h: Tensor,
}

/// The tensors every fused step reads (PyTorch names in comments).
pub struct FusedWeights<'a> {
    /// `embedding.weight`, `[V_tgt, E]`.
    pub embedding: &'a Tensor,
    /// `rnn.weight_ih_l0`, `rnn.bias_ih_l0`: `[3H, in]`, `[3H]`.
    pub w_ih: (&'a Tensor, &'a Tensor),
    /// `rnn.weight_hh_l0`, `rnn.bias_hh_l0`: `[3H, H]`, `[3H]`.
    pub w_hh: (&'a Tensor, &'a Tensor),
    /// `out.weight`, `out.bias`: `[V, H]`, `[V]`.
    pub out: (&'a Tensor, &'a Tensor),
}

impl FusedStep {
    /// Copies the weights (f32 tensors) to the host.
    pub fn new(w: &FusedWeights<'_>, context: FusedContext) -> Result<Self> {
        let (_, embed) = w.embedding.dims2()?;
        let (_, hidden) = w.w_hh.0.dims2()?;
        Ok(FusedStep {
            hidden,
            embed,
            embedding: w.embedding.flatten_all()?.to_vec1()?,
            context,
            w_ih: Affine::new(w.w_ih.0, Some(w.w_ih.1))?,
            w_hh: Affine::new(w.w_hh.0, Some(w.w_hh.1))?,
            out: Affine::new(w.out.0, Some(w.out.1))?,
        })
    }

    /// One step: `tokens` `[B]` (u32), `h` `[1, B, H]`, and the memory the
    /// graph step reads, all f32 on `device`.
    pub fn step(
        &self,
        tokens: &Tensor,
        h: &Tensor,
        memory: &Memory,
        device: &Device,
    ) -> Result<FusedOutput> {
        let (hd, e) = (self.hidden, self.embed);
        let tokens: Vec<u32> = tokens.to_dtype(DType::U32)?.to_vec1()?;
        let b = tokens.len();
        let h: Vec<f32> = h.flatten_all()?.to_vec1()?;
        let (_, slots, width) = memory.values.dims3()?;
        let values: Vec<f32> = memory.values.flatten_all()?.to_vec1()?;
        let vocab = self.embedding.len() / e;
        let mut emb = vec![0f32; b * e];
        for (r, &t) in tokens.iter().enumerate() {
            // An id past the vocabulary is the graph path's error too.
            let t = t as usize;
            if t >= vocab {
                return Err(crate::Error::Shape(format!(
                    "token id {t} outside the target vocabulary of {vocab}"
                )));
            }
            emb[r * e..(r + 1) * e].copy_from_slice(&self.embedding[t * e..(t + 1) * e]);
        }
        let per_row = slots * width;
        let (next, output, weights) = match &self.context {
            FusedContext::Tutorial { attn, combine } => {
                // softmax(attn([emb; h])) over the slots, then their weighted sum.
                let mut weights = attn.apply(&join(&emb, e, &h, hd, b), b);
                let mut applied = vec![0f32; b * width];
                for (r, row) in weights.chunks_exact_mut(slots).enumerate() {
                    softmax(row, None);
                    let out = &mut applied[r * width..(r + 1) * width];
                    mix(row, &values[r * per_row..(r + 1) * per_row], out);
                }
                let mut x = combine.apply(&join(&emb, e, &applied, width, b), b);
                x.iter_mut().for_each(|v| *v = v.max(0.0));
                let next = self.gru(&x, &h, b);
                (next.clone(), next, weights)
            }
            FusedContext::Luong { combine } => {
                let next = self.gru(&emb, &h, b);
                let keys = memory.keys.as_ref().ok_or_else(|| {
                    crate::Error::Shape("the memory lacks the attention keys".into())
                })?;
                let kw = keys.dim(2)?;
                let keys: Vec<f32> = keys.flatten_all()?.to_vec1()?;
                let mask: Vec<f32> = memory.mask.flatten_all()?.to_vec1()?;
                let mut weights = vec![0f32; b * slots];
                let mut context = vec![0f32; b * width];
                for r in 0..b {
                    let q = &next[r * hd..(r + 1) * hd];
                    let row = &mut weights[r * slots..(r + 1) * slots];
                    for (s, w) in row.iter_mut().enumerate() {
                        let k = &keys[(r * slots + s) * kw..(r * slots + s + 1) * kw];
                        *w = q.iter().zip(k).map(|(a, b)| a * b).sum();
                    }
                    softmax(row, Some(&mask[r * slots..(r + 1) * slots]));
                    let out = &mut context[r * width..(r + 1) * width];
                    mix(row, &values[r * per_row..(r + 1) * per_row], out);
                }
                let mut out = combine.apply(&join(&context, width, &next, hd, b), b);
                out.iter_mut().for_each(|v| *v = Real::tanh(*v));
                (next, out, weights)
            }
        };
        let logits = Tensor::from_vec(self.out.apply(&output, b), (b, self.out.out), device)?;
        Ok(FusedOutput {
            log_probs: crate::nn::kernels::log_softmax::log_softmax(&logits)?,
            attention: Tensor::from_vec(weights, (b, slots), device)?,
            h: Tensor::from_vec(next, (1, b, hd), device)?,
        })
    }

    /// One GRU step, PyTorch's gate order r, z, n: input `[B, in]`, state
    /// `[B, H]` → new state.
    fn gru(&self, x: &[f32], h: &[f32], b: usize) -> Vec<f32> {
        let hd = self.hidden;
        let gi = self.w_ih.apply(x, b);
        let gh = self.w_hh.apply(h, b);
        let mut next = vec![0f32; b * hd];
        for r in 0..b {
            let (gi, gh) = (
                &gi[r * 3 * hd..(r + 1) * 3 * hd],
                &gh[r * 3 * hd..(r + 1) * 3 * hd],
            );
            for j in 0..hd {
                let reset = (gi[j] + gh[j]).sigmoid();
                let update = (gi[hd + j] + gh[hd + j]).sigmoid();
                let new = Real::tanh(gi[2 * hd + j] + reset * gh[2 * hd + j]);
                // The recurrent kernel's form of (1 − z) n + z h.
                next[r * hd + j] = new + update * (h[r * hd + j] - new);
            }
        }
        next
    }
}

/// Rows `[a_r; b_r]` of two row-major matrices with `wa` and `wb` columns.
fn join(a: &[f32], wa: usize, b: &[f32], wb: usize, rows: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(rows * (wa + wb));
    for r in 0..rows {
        out.extend_from_slice(&a[r * wa..(r + 1) * wa]);
        out.extend_from_slice(&b[r * wb..(r + 1) * wb]);
    }
    out
}

/// Softmax of a row in place; with a mask, as `masked_softmax` does it:
/// masked positions score the lowest float and end at weight 0.
fn softmax(row: &mut [f32], mask: Option<&[f32]>) {
    let masked = |s: usize| mask.is_some_and(|m| m[s] == 0.0);
    for (s, w) in row.iter_mut().enumerate() {
        if masked(s) {
            *w = f32::MIN;
        }
    }
    let top = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0f32;
    for w in row.iter_mut() {
        *w = (*w - top).exp();
        sum += *w;
    }
    for (s, w) in row.iter_mut().enumerate() {
        *w = if masked(s) { 0.0 } else { *w / sum };
    }
}

/// `out += Σ_s weights_s · values_s` (values `[slots, width]`).
fn mix(weights: &[f32], values: &[f32], out: &mut [f32]) {
    let width = out.len();
    for (s, &w) in weights.iter().enumerate() {
        for (o, &v) in out.iter_mut().zip(&values[s * width..(s + 1) * width]) {
            *o += w * v;
        }
    }
}
