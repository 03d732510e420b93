//! Attention pooling for classifiers: a learned, query-free weighting of RNN
//! outputs, `e_j = w · k_j + b`, `weights = masked softmax(e)`,
//! `context = Σ_j weights_j k_j` (Yang et al. 2016, "Hierarchical Attention
//! Networks", without the hidden projection; the tutorials' `Linear(H, 1)` scorer).
//!
//! It has no query, so it is its own type rather than an [`super::Attention`].
//! Parameters are `w [H]` and `b [1]`, the names the attention fixtures use.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::{Attended, check_keys, linear_init, masked_softmax, weighted_sum};
use crate::{Error, Result};

/// `e_j = w · k_j + b` over the positions of each sequence, pooled by a masked softmax.
#[derive(Clone, Debug)]
pub struct AttentionPooling {
    /// `[H, 1]`: `w` as a column, so the scores are one matrix product.
    w: Tensor,
    /// `[1]`.
    b: Tensor,
    input: usize,
}

impl AttentionPooling {
    /// Builds the layer for inputs of size `input` under `vb` (parameters `w`,
    /// `b`), drawn like PyTorch's `Linear(input, 1)`.
    pub fn new(input: usize, vb: VarBuilder) -> Result<Self> {
        if input == 0 {
            return Err(Error::Config(
                "attention pooling input size must be positive".into(),
            ));
        }
        let init = linear_init(input);
        let w = vb.get_with_hints(input, "w", init)?;
        let b = vb.get_with_hints(1, "b", init)?;
        Ok(AttentionPooling {
            w: w.reshape((input, 1))?,
            b,
            input,
        })
    }

    /// The input size `H`.
    pub fn input(&self) -> usize {
        self.input
    }

    /// Unnormalised scores `e_j = w · k_j + b`.
    ///
    /// keys: `[batch, src_len, H]` → `[batch, src_len]`
    pub fn scores(&self, keys: &Tensor) -> Result<Tensor> {
        check_keys(keys, self.input)?;
        let e = keys.contiguous()?.broadcast_matmul(&self.w)?.squeeze(2)?;
        Ok(e.broadcast_add(&self.b)?)
    }

    /// Pools the keys.
    ///
    /// keys: `[batch, src_len, H]`, mask: `[batch, src_len]` (nonzero = real
    /// token) → context `[batch, H]`, weights `[batch, src_len]`
    pub fn forward(&self, keys: &Tensor, mask: &Tensor) -> Result<Attended> {
        let weights = masked_softmax(&self.scores(keys)?, mask)?;
        let context = weighted_sum(&weights, keys)?;
        Ok(Attended { context, weights })
    }
}
