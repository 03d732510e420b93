//! The PyTorch tutorial decoder's step fused on the host, for decoding
//! (issue 7's single-step path): one function from the previous tokens, the
//! hidden state and the encoder slots to the next log-probabilities, the
//! attention row and the new state — four matrix products over the batch's
//! rows and the element-wise work between them in plain loops, where the
//! graph path makes some twenty small tensors a step.
//!
//! Taken only where it computes exactly what [`Decoder::advance`] then
//! [`Decoder::step_log_probs`] do: the `tutorial` decoder with one GRU
//! layer, in f32 on the CPU, with constant weights (a loaded model, or the
//! validation twin) on the fused kernel. Anything else takes the graph. The
//! two agree to float rounding (tests here; the imported tutorial model
//! reproduces PyTorch's 300 translations either way).
//!
//! [`Decoder::advance`]: super::Decoder::advance
//! [`Decoder::step_log_probs`]: super::Decoder::step_log_probs

use candle_core::{DType, Device, Tensor};

use crate::Result;
use crate::nn::kernels::Real;
use crate::nn::kernels::gemm::{Op, matmul};

/// A weight `[out, in]` and its bias `[out]`, row-major on the host.
#[derive(Clone, Debug)]
struct Affine {
    w: Vec<f32>,
    b: Vec<f32>,
    out: usize,
    input: usize,
}

impl Affine {
    fn new(w: &Tensor, b: &Tensor) -> Result<Self> {
        let (out, input) = w.dims2()?;
        Ok(Affine {
            w: w.flatten_all()?.to_vec1()?,
            b: b.to_vec1()?,
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

/// The tutorial decoder's weights, copied to the host once.
#[derive(Clone, Debug)]
pub struct TutorialStep {
    hidden: usize,
    slots: usize,
    embedding: Vec<f32>,
    attn: Affine,
    combine: Affine,
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

/// The tensors a [`TutorialStep`] is built from (PyTorch names in comments).
pub struct TutorialWeights<'a> {
    /// `embedding.weight`, `[V_tgt, H]`.
    pub embedding: &'a Tensor,
    /// `attn.weight`, `attn.bias`: `[slots, 2H]`, `[slots]`.
    pub attn: (&'a Tensor, &'a Tensor),
    /// `attn_combine.weight`, `.bias`: `[H, 2H]`, `[H]`.
    pub combine: (&'a Tensor, &'a Tensor),
    /// `rnn.weight_ih_l0`, `rnn.bias_ih_l0`: `[3H, H]`, `[3H]`.
    pub w_ih: (&'a Tensor, &'a Tensor),
    /// `rnn.weight_hh_l0`, `rnn.bias_hh_l0`: `[3H, H]`, `[3H]`.
    pub w_hh: (&'a Tensor, &'a Tensor),
    /// `out.weight`, `out.bias`: `[V, H]`, `[V]`.
    pub out: (&'a Tensor, &'a Tensor),
}

impl TutorialStep {
    /// Copies the weights (f32 tensors) to the host.
    pub fn new(w: &TutorialWeights<'_>) -> Result<Self> {
        let (_, hidden) = w.embedding.dims2()?;
        let attn = Affine::new(w.attn.0, w.attn.1)?;
        Ok(TutorialStep {
            hidden,
            slots: attn.out,
            embedding: w.embedding.flatten_all()?.to_vec1()?,
            attn,
            combine: Affine::new(w.combine.0, w.combine.1)?,
            w_ih: Affine::new(w.w_ih.0, w.w_ih.1)?,
            w_hh: Affine::new(w.w_hh.0, w.w_hh.1)?,
            out: Affine::new(w.out.0, w.out.1)?,
        })
    }

    /// One step: `tokens` `[B]` (u32), `h` `[1, B, H]`, `values` (the
    /// memory's slots) `[B, slots, H]`, all f32 on `device`.
    pub fn step(
        &self,
        tokens: &Tensor,
        h: &Tensor,
        values: &Tensor,
        device: &Device,
    ) -> Result<FusedOutput> {
        let (hd, l) = (self.hidden, self.slots);
        let tokens: Vec<u32> = tokens.to_dtype(DType::U32)?.to_vec1()?;
        let b = tokens.len();
        let h: Vec<f32> = h.flatten_all()?.to_vec1()?;
        let values: Vec<f32> = values.flatten_all()?.to_vec1()?;
        let vocab = self.embedding.len() / hd;
        let (mut emb_h, mut emb_applied) = (vec![0f32; b * 2 * hd], vec![0f32; b * 2 * hd]);
        for (r, &t) in tokens.iter().enumerate() {
            // An id past the vocabulary is the graph path's error too.
            let t = t as usize;
            if t >= vocab {
                return Err(crate::Error::Shape(format!(
                    "token id {t} outside the target vocabulary of {vocab}"
                )));
            }
            let e = &self.embedding[t * hd..(t + 1) * hd];
            emb_h[r * 2 * hd..r * 2 * hd + hd].copy_from_slice(e);
            emb_h[r * 2 * hd + hd..(r + 1) * 2 * hd].copy_from_slice(&h[r * hd..(r + 1) * hd]);
            emb_applied[r * 2 * hd..r * 2 * hd + hd].copy_from_slice(e);
        }
        // softmax(attn([emb; h])) over the slots, then their weighted sum.
        let mut weights = self.attn.apply(&emb_h, b);
        for (r, row) in weights.chunks_exact_mut(l).enumerate() {
            let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0f32;
            for w in row.iter_mut() {
                *w = (*w - m).exp();
                sum += *w;
            }
            let applied = &mut emb_applied[r * 2 * hd + hd..(r + 1) * 2 * hd];
            for (s, w) in row.iter_mut().enumerate() {
                *w /= sum;
                let slot = &values[(r * l + s) * hd..(r * l + s + 1) * hd];
                for (a, &v) in applied.iter_mut().zip(slot) {
                    *a += *w * v;
                }
            }
        }
        let mut x = self.combine.apply(&emb_applied, b);
        x.iter_mut().for_each(|v| *v = v.max(0.0));
        // The GRU cell, PyTorch's gate order r, z, n.
        let gi = self.w_ih.apply(&x, b);
        let gh = self.w_hh.apply(&h, b);
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
        let logits = Tensor::from_vec(self.out.apply(&next, b), (b, self.out.out), device)?;
        Ok(FusedOutput {
            log_probs: crate::nn::kernels::log_softmax::log_softmax(&logits)?,
            attention: Tensor::from_vec(weights, (b, l), device)?,
            h: Tensor::from_vec(next, (1, b, hd), device)?,
        })
    }
}
