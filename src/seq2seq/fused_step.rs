//! A decoder's step fused on the host, for decoding (issue 7's single-step
//! path): one function from the previous tokens, the hidden state and the
//! encoder memory to the next log-probabilities, the attention row and the
//! new state — the matrix products over the batch's rows and the
//! element-wise work between them in plain loops, where the graph path
//! makes some twenty small tensors a step.
//!
//! Taken only where it computes exactly what [`Decoder::advance`] then
//! [`Decoder::step_log_probs`] do: the `tutorial` decoder, Luong `dot` /
//! `general` with or without input feeding (the default recipe's has none),
//! or Bahdanau `additive`, with any cell and number of layers, in f32 on the
//! CPU, with constant weights (a loaded model, or the validation twin) on
//! the fused kernel. Anything else (the plain decoder without attention, a
//! trainable model) takes the graph. The
//! two agree to float rounding (tests in `seq2seq/tests.rs`; the imported
//! tutorial model reproduces PyTorch's 300 translations either way).
//!
//! [`Decoder::advance`]: super::Decoder::advance
//! [`Decoder::step_log_probs`]: super::Decoder::step_log_probs

use candle_core::{DType, Device, Tensor};

use super::Memory;
use crate::Result;
use crate::nn::Cell;
use crate::nn::kernels::cell_math::cell_step;
use crate::nn::kernels::log_softmax::log_softmax_rows;
use crate::nn::kernels::{Real, linear, read_cpu};

/// A weight `[out, in]` and its bias `[out]`, row-major on the host.
#[derive(Clone, Debug)]
pub struct Affine {
    w: Vec<f32>,
    b: Vec<f32>,
    out: usize,
    input: usize,
}

impl Affine {
    /// Copies `w` (`[out, in]`) and `b` (`[out]`; zeros when `None`, as the
    /// linear kernel takes a bias-free layer).
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

    /// `x Wᵀ + b` for `rows` rows of `x` → `[rows, out]`: the linear
    /// kernel's own forward pass, so the sums round as the graph path's.
    fn apply(&self, x: &[f32], rows: usize) -> Vec<f32> {
        linear::forward(x, &self.w, &self.b, (rows, self.input, self.out))
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
    /// Luong: `emb` as input (with input feeding `[emb; h̃_{t−1}]`), then
    /// attention of `h'` over the memory's prepared keys (masked), output
    /// `h̃ = tanh(combine [context; h'])`.
    Luong {
        /// `combine.weight`, `[H, value + H]` (no bias).
        combine: Affine,
        /// The input carries the previous step's `h̃`.
        input_feeding: bool,
    },
    /// Bahdanau: attention of the top layer's `h` before the step over the
    /// prepared keys `W_k k_j`, scores `w_vᵀ tanh(W_q h + W_k k_j)` (masked),
    /// input `[emb; context]`, output `h'`.
    Additive {
        /// `W_q`, `[A, H]` (no bias).
        w_q: Affine,
        /// `w_v`, `[A]`.
        w_v: Vec<f32>,
    },
}

/// A decoder's weights for the fused step, copied to the host once.
#[derive(Clone, Debug)]
pub struct FusedStep {
    hidden: usize,
    embed: usize,
    embedding: Vec<f32>,
    context: FusedContext,
    cell: Cell,
    /// `(W_ih, W_hh)` with their biases, bottom layer first.
    layers: Vec<(Affine, Affine)>,
    out: Affine,
}

/// What one fused step returns, as tensors on the model's device.
pub struct FusedOutput {
    /// `[B, V]` log-probabilities.
    pub log_probs: Tensor,
    /// `[B, slots]` attention weights.
    pub attention: Tensor,
    /// `[layers, B, H]` new hidden state.
    pub h: Tensor,
    /// `[layers, B, H]` new memory cell (LSTM).
    pub c: Option<Tensor>,
    /// `[B, H]` the step's `h̃`, for Luong input feeding.
    pub feed: Option<Tensor>,
}

/// The tensors every fused step reads (PyTorch names in comments).
pub struct FusedWeights<'a> {
    /// `embedding.weight`, `[V_tgt, E]`.
    pub embedding: &'a Tensor,
    /// The recurrent cell.
    pub cell: Cell,
    /// Per layer `rnn.{weight_ih, bias_ih, weight_hh, bias_hh}_l{k}`:
    /// `[G·H, in]`, `[G·H]`, `[G·H, H]`, `[G·H]`.
    pub layers: Vec<[&'a Tensor; 4]>,
    /// `out.weight`, `out.bias`: `[V, H]`, `[V]`.
    pub out: (&'a Tensor, &'a Tensor),
}

impl FusedStep {
    /// Copies the weights (f32 tensors) to the host.
    pub fn new(w: &FusedWeights<'_>, context: FusedContext) -> Result<Self> {
        let (_, embed) = w.embedding.dims2()?;
        let (_, hidden) = w.out.0.dims2()?;
        let layers = w
            .layers
            .iter()
            .map(|[w_ih, b_ih, w_hh, b_hh]| {
                Ok((
                    Affine::new(w_ih, Some(b_ih))?,
                    Affine::new(w_hh, Some(b_hh))?,
                ))
            })
            .collect::<Result<_>>()?;
        Ok(FusedStep {
            hidden,
            embed,
            embedding: w.embedding.flatten_all()?.to_vec1()?,
            context,
            cell: w.cell,
            layers,
            out: Affine::new(w.out.0, Some(w.out.1))?,
        })
    }

    /// One step: `tokens` `[B]` (u32), the state `h` (and `c` for an LSTM)
    /// `[layers, B, H]` and, for Luong input feeding, the previous `h̃`
    /// `[B, H]`, and the memory the graph step reads, all f32 on `device`.
    pub fn step(
        &self,
        tokens: &Tensor,
        (h, c, feed): (&Tensor, Option<&Tensor>, Option<&Tensor>),
        memory: &Memory,
        device: &Device,
    ) -> Result<FusedOutput> {
        let (hd, e) = (self.hidden, self.embed);
        let tokens: Vec<u32> = tokens.to_dtype(DType::U32)?.to_vec1()?;
        let b = tokens.len();
        let h: Vec<f32> = h.flatten_all()?.to_vec1()?;
        let c: Option<Vec<f32>> = c.map(|c| c.flatten_all()?.to_vec1()).transpose()?;
        // The top layer's state before the step (the tutorial attends with it).
        let top = &h[(self.layers.len() - 1) * b * hd..];
        let (_, slots, width) = memory.values.dims3()?;
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
        // The memory is read in place, under its lock: it is the same for
        // every step of a batch, and copying it was a step's largest copy.
        let values = memory.values.contiguous()?;
        let (next, output, weights) = match &self.context {
            FusedContext::Tutorial { attn, combine } => {
                // softmax(attn([emb; h])) over the slots, then their weighted sum.
                let mut weights = attn.apply(&join(&emb, e, top, hd, b), b);
                let mut applied = vec![0f32; b * width];
                read_cpu::<f32, _>(&values, |values| {
                    for (r, row) in weights.chunks_exact_mut(slots).enumerate() {
                        softmax(row, None);
                        let out = &mut applied[r * width..(r + 1) * width];
                        mix(row, &values[r * per_row..(r + 1) * per_row], out);
                    }
                    Ok(())
                })?;
                let mut x = combine.apply(&join(&emb, e, &applied, width, b), b);
                x.iter_mut().for_each(|v| *v = v.max(0.0));
                let next = self.recur(x, &h, c.as_deref(), b);
                let output = next.top(hd * b).to_vec();
                (next, output, weights)
            }
            FusedContext::Luong {
                combine,
                input_feeding,
            } => {
                let input = match (input_feeding, feed) {
                    (false, _) => emb,
                    (true, Some(feed)) => {
                        let feed: Vec<f32> = feed.flatten_all()?.to_vec1()?;
                        join(&emb, e, &feed, hd, b)
                    }
                    (true, None) => {
                        return Err(crate::Error::Shape(
                            "input feeding needs the previous attentional state".into(),
                        ));
                    }
                };
                let next = self.recur(input, &h, c.as_deref(), b);
                let query = next.top(hd * b);
                let (weights, context) = attend(memory, &values, b, |r, key| {
                    query[r * hd..(r + 1) * hd]
                        .iter()
                        .zip(key)
                        .map(|(a, b)| a * b)
                        .sum()
                })?;
                let mut out = combine.apply(&join(&context, width, query, hd, b), b);
                out.iter_mut().for_each(|v| *v = Real::tanh(*v));
                (next, out, weights)
            }
            FusedContext::Additive { w_q, w_v } => {
                let q = w_q.apply(top, b);
                let a = w_v.len();
                let (weights, context) = attend(memory, &values, b, |r, key| {
                    let q = &q[r * a..(r + 1) * a];
                    let mut score = 0f32;
                    for ((&k, &q), &v) in key.iter().zip(q).zip(w_v) {
                        score += Real::tanh(k + q) * v;
                    }
                    score
                })?;
                let next = self.recur(join(&emb, e, &context, width, b), &h, c.as_deref(), b);
                let output = next.top(hd * b).to_vec();
                (next, output, weights)
            }
        };
        let mut log_probs = self.out.apply(&output, b);
        log_softmax_rows(&mut log_probs, self.out.out);
        let shape = (self.layers.len(), b, hd);
        let feed = match &self.context {
            FusedContext::Luong {
                input_feeding: true,
                ..
            } => Some(Tensor::from_slice(&output, (b, hd), device)?),
            _ => None,
        };
        Ok(FusedOutput {
            log_probs: Tensor::from_vec(log_probs, (b, self.out.out), device)?,
            attention: Tensor::from_vec(weights, (b, slots), device)?,
            h: Tensor::from_vec(next.h, shape, device)?,
            c: next
                .c
                .map(|c| Tensor::from_vec(c, shape, device))
                .transpose()?,
            feed,
        })
    }

    /// One step of the stack: input `[B, in]` to the bottom layer, each
    /// layer's new `h` the next one's input (no dropout: decoding), with
    /// the fused op's own cell math.
    fn recur(&self, mut x: Vec<f32>, h: &[f32], c: Option<&[f32]>, b: usize) -> Next {
        let hd = self.hidden;
        let lstm = c.is_some();
        let (mut hs, mut cs) = (Vec::with_capacity(h.len()), Vec::new());
        let mut state = vec![0f32; if lstm { 2 * hd } else { hd }];
        let mut scratch = Vec::new();
        for (l, (w_ih, w_hh)) in self.layers.iter().enumerate() {
            let layer = l * b * hd..(l + 1) * b * hd;
            let gi = w_ih.apply(&x, b);
            let gh = w_hh.apply(&h[layer.clone()], b);
            let g = gi.len() / b;
            let start = hs.len();
            for r in 0..b {
                let row = l * b * hd + r * hd..l * b * hd + (r + 1) * hd;
                state[..hd].copy_from_slice(&h[row.clone()]);
                if let Some(c) = c {
                    state[hd..].copy_from_slice(&c[row]);
                }
                let (gi, gh) = (&gi[r * g..(r + 1) * g], &gh[r * g..(r + 1) * g]);
                cell_step(self.cell, hd, (gi, gh), &mut state, &mut scratch);
                hs.extend_from_slice(&state[..hd]);
                if lstm {
                    cs.extend_from_slice(&state[hd..]);
                }
            }
            x = hs[start..].to_vec();
        }
        Next {
            h: hs,
            c: lstm.then_some(cs),
        }
    }
}

/// The stack's state after a step, `[layers, B, H]` row-major.
struct Next {
    h: Vec<f32>,
    c: Option<Vec<f32>>,
}

impl Next {
    /// The top layer's `h`, the last `len` values.
    fn top(&self, len: usize) -> &[f32] {
        &self.h[self.h.len() - len..]
    }
}

/// Masked attention of each row over the memory's prepared keys, read in
/// place: `score(r, key)` scores row `r`'s query against one key row; the
/// weights are the masked softmax of the scores, the context their sum of
/// `values` → weights `[B, slots]`, contexts `[B, width]`.
fn attend(
    memory: &Memory,
    values: &Tensor,
    b: usize,
    score: impl Fn(usize, &[f32]) -> f32,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let (_, slots, width) = values.dims3()?;
    let keys = memory
        .keys
        .as_ref()
        .ok_or_else(|| crate::Error::Shape("the memory lacks the attention keys".into()))?;
    let (keys, mask) = (keys.contiguous()?, memory.mask.contiguous()?);
    let kw = keys.dim(2)?;
    let mut weights = vec![0f32; b * slots];
    let mut context = vec![0f32; b * width];
    read_cpu::<f32, _>(&keys, |keys| {
        read_cpu::<f32, _>(values, |values| {
            read_cpu::<f32, _>(&mask, |mask| {
                for r in 0..b {
                    let row = &mut weights[r * slots..(r + 1) * slots];
                    for (s, w) in row.iter_mut().enumerate() {
                        *w = score(r, &keys[(r * slots + s) * kw..(r * slots + s + 1) * kw]);
                    }
                    softmax(row, Some(&mask[r * slots..(r + 1) * slots]));
                    let per_row = slots * width;
                    let out = &mut context[r * width..(r + 1) * width];
                    mix(row, &values[r * per_row..(r + 1) * per_row], out);
                }
                Ok(())
            })
        })
    })?;
    Ok((weights, context))
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
