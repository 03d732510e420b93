//! Attention over a source sequence: scores, masked softmax, weighted sum.
//!
//! Every form computes `weights = softmax(score(q, k_j))` over the valid
//! positions `j` and `context = Σ_j weights_j · k_j` (keys double as values):
//! Bahdanau et al. (2015), "Neural Machine Translation by Jointly Learning to
//! Align and Translate", eq. 5–6 ([`Additive`]); Luong et al. (2015),
//! "Effective Approaches to Attention-based Neural Machine Translation", eq. 8
//! ([`Dot`], [`General`]). [`AttentionPooling`] is the query-free variant used
//! by classifiers, [`TutorialAttention`] the PyTorch tutorial's location-based
//! `AttnDecoderRNN` attention.
//!
//! Scoring is split in two so the key side is computed once per source
//! sentence ([`Attention::prepare`], stored as `Memory.keys_proj`) and only the
//! query side at every decoder step ([`Attention::scores`]).
//!
//! Masking: scores at padded positions are replaced by the dtype's lowest
//! finite value before the softmax and the weights are multiplied by the mask
//! after it, so padded positions get weight exactly 0 and gradient exactly 0.
//! A row with no valid position (never produced by the batcher) yields all-zero
//! weights and a zero context with zero, finite gradients, where PyTorch's
//! `masked_fill(-inf)` would give NaN.

mod additive;
mod config;
mod luong;
mod pooling;
mod tutorial;

pub use additive::{Additive, AdditiveConfig};
pub use config::{AttentionConfig, AttentionKind, AttentionLayer};
// Every Luong score, so a new one is one type in `luong.rs` and its kind.
pub use luong::*;
pub use pooling::AttentionPooling;
pub use tutorial::{TutorialAttended, TutorialAttention, TutorialAttentionConfig};

use candle_core::{D, DType, Tensor};
use candle_nn::Init;

use crate::{Error, Result};

/// What attention returns: the weighted sum of the keys and the weights.
#[derive(Clone, Debug)]
pub struct Attended {
    /// `[batch, key_size]`: `Σ_j weights_j · k_j`.
    pub context: Tensor,
    /// `[batch, src_len]`: a distribution over the valid positions (0 elsewhere).
    pub weights: Tensor,
}

/// A query-dependent attention score, `score(q, k_j)`, split so the key side is
/// computed once per source sentence.
pub trait Attention: std::fmt::Debug + Send + Sync {
    /// The key side of the score, computed once per source sentence.
    ///
    /// keys: `[batch, src_len, key_size]` → prepared: `[batch, src_len, *]`
    fn prepare(&self, keys: &Tensor) -> Result<Tensor>;

    /// Unnormalised scores of every position for one decoder step.
    ///
    /// query: `[batch, query_size]`, prepared: `[batch, src_len, *]` (from
    /// [`Attention::prepare`]) → scores: `[batch, src_len]`
    fn scores(&self, query: &Tensor, prepared: &Tensor) -> Result<Tensor>;

    /// Masked softmax over the scores and the weighted sum of the keys.
    ///
    /// query: `[batch, query_size]`, keys: `[batch, src_len, key_size]`,
    /// prepared: `[batch, src_len, *]`, mask: `[batch, src_len]` (any dtype,
    /// nonzero = real token) → context `[batch, key_size]`, weights `[batch, src_len]`
    fn attend(
        &self,
        query: &Tensor,
        keys: &Tensor,
        prepared: &Tensor,
        mask: &Tensor,
    ) -> Result<Attended> {
        let scores = self.scores(query, prepared)?;
        let weights = masked_softmax(&scores, mask)?;
        let context = weighted_sum(&weights, keys)?;
        Ok(Attended { context, weights })
    }

    /// Scores of many decoder steps at once, for a decoder whose queries are
    /// all known up front (teacher forcing without input feeding).
    ///
    /// queries: `[batch, steps, query_size]`, prepared: `[batch, src_len, *]`
    /// → scores: `[batch, steps, src_len]`. The default scores step by step;
    /// the multiplicative forms override it with one batched product.
    fn scores_all(&self, queries: &Tensor, prepared: &Tensor) -> Result<Tensor> {
        let (_, t, _) = dims3(queries, "attention queries", "[batch, steps, query_size]")?;
        let rows = (0..t)
            .map(|i| self.scores(&queries.narrow(1, i, 1)?.squeeze(1)?, prepared))
            .collect::<Result<Vec<_>>>()?;
        Ok(Tensor::stack(&rows, 1)?)
    }

    /// [`Attention::attend`] for every step of `queries` at once: the same
    /// numbers as calling it once per step.
    ///
    /// queries: `[batch, steps, query_size]`, keys: `[batch, src_len, key_size]`,
    /// prepared: `[batch, src_len, *]`, mask: `[batch, src_len]` → context
    /// `[batch, steps, key_size]`, weights `[batch, steps, src_len]`
    fn attend_all(
        &self,
        queries: &Tensor,
        keys: &Tensor,
        prepared: &Tensor,
        mask: &Tensor,
    ) -> Result<Attended> {
        let scores = self.scores_all(queries, prepared)?;
        let (b, t, s) = dims3(&scores, "attention scores", "[batch, steps, src_len]")?;
        let (mb, ms) = dims2(mask, "attention mask", "[batch, src_len]")?;
        if (mb, ms) != (b, s) {
            return Err(Error::Shape(format!(
                "attention mask is [{mb}, {ms}] but the scores are [{b}, {t}, {s}]"
            )));
        }
        // Each step is a row of its own for the masked softmax.
        let step_mask = mask
            .unsqueeze(1)?
            .broadcast_as((b, t, s))?
            .reshape((b * t, s))?;
        let weights =
            masked_softmax(&scores.reshape((b * t, s))?, &step_mask)?.reshape((b, t, s))?;
        let context = weights.matmul(&keys.contiguous()?)?;
        Ok(Attended { context, weights })
    }
}

/// Softmax over the last dimension restricted to positions where `mask` is
/// nonzero; masked positions get exactly 0 (see the module docs for rows with
/// no valid position).
///
/// scores: `[batch, src_len]`, mask: `[batch, src_len]` → `[batch, src_len]`
pub fn masked_softmax(scores: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let (b, s) = dims2(scores, "attention scores", "[batch, src_len]")?;
    let (mb, ms) = dims2(mask, "attention mask", "[batch, src_len]")?;
    if (mb, ms) != (b, s) {
        return Err(Error::Shape(format!(
            "attention mask is [{mb}, {ms}] but the scores are [{b}, {s}]"
        )));
    }
    let keep = mask.ne(0.0)?;
    let fill = Tensor::new(lowest(scores.dtype())?, scores.device())?
        .to_dtype(scores.dtype())?
        .broadcast_as(scores.shape())?;
    // `softmax`, not `softmax_last_dim`: the latter has no backward pass.
    let weights = candle_nn::ops::softmax(&keep.where_cond(scores, &fill)?, D::Minus1)?;
    // Identity where a row has a valid position (masked weights are already
    // 0); zeroes the uniform weights a fully masked row would otherwise get.
    Ok(weights.mul(&keep.to_dtype(weights.dtype())?)?)
}

/// `Σ_j weights_j · values_j` for each batch row.
///
/// weights: `[batch, src_len]`, values: `[batch, src_len, size]` → `[batch, size]`
pub fn weighted_sum(weights: &Tensor, values: &Tensor) -> Result<Tensor> {
    let (b, s) = dims2(weights, "attention weights", "[batch, src_len]")?;
    let (vb, vs, _) = dims3(values, "attention keys", "[batch, src_len, size]")?;
    if (vb, vs) != (b, s) {
        return Err(Error::Shape(format!(
            "attention weights are [{b}, {s}] but the keys are [{vb}, {vs}, _]"
        )));
    }
    let context = weights.unsqueeze(1)?.matmul(&values.contiguous()?)?;
    Ok(context.squeeze(1)?)
}

/// The lowest finite value of a float dtype: a masked score that cannot win
/// the softmax's max yet keeps the arithmetic finite.
fn lowest(dtype: DType) -> Result<f64> {
    match dtype {
        DType::F64 => Ok(f64::MIN),
        DType::F32 => Ok(f64::from(f32::MIN)),
        DType::F16 => Ok(-65504.0),
        DType::BF16 => Ok(-3.3895313892515355e38),
        other => Err(Error::Shape(format!(
            "attention scores must be floating point, got {other:?}"
        ))),
    }
}

/// PyTorch's `Linear(fan_in, _)` init, U(−1/√fan_in, 1/√fan_in), for
/// parameters stored as bare matrices and vectors.
fn linear_init(fan_in: usize) -> Init {
    let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
    Init::Uniform {
        lo: -bound,
        up: bound,
    }
}

/// The two dims of a rank-2 tensor, or an [`Error::Shape`] naming `what`.
fn dims2(t: &Tensor, what: &str, expected: &str) -> Result<(usize, usize)> {
    match t.dims() {
        &[a, b] => Ok((a, b)),
        d => Err(Error::Shape(format!(
            "{what} must be {expected}, got shape {d:?}"
        ))),
    }
}

/// The three dims of a rank-3 tensor, or an [`Error::Shape`] naming `what`.
fn dims3(t: &Tensor, what: &str, expected: &str) -> Result<(usize, usize, usize)> {
    match t.dims() {
        &[a, b, c] => Ok((a, b, c)),
        d => Err(Error::Shape(format!(
            "{what} must be {expected}, got shape {d:?}"
        ))),
    }
}

/// Checks that `query` is `[batch, size]` and `prepared` is `[batch, src_len, width]`.
fn check_step(query: &Tensor, size: usize, prepared: &Tensor, width: usize) -> Result<()> {
    let (b, q) = dims2(query, "attention query", "[batch, query_size]")?;
    let (pb, _, pw) = dims3(prepared, "prepared keys", "[batch, src_len, width]")?;
    if q != size {
        return Err(Error::Shape(format!(
            "attention query has size {q}, the layer expects {size}"
        )));
    }
    if pb != b || pw != width {
        return Err(Error::Shape(format!(
            "prepared keys are [{pb}, _, {pw}], expected [{b}, _, {width}] for this query"
        )));
    }
    Ok(())
}

/// Checks that `keys` is `[batch, src_len, size]`.
fn check_keys(keys: &Tensor, size: usize) -> Result<()> {
    let (_, _, k) = dims3(keys, "attention keys", "[batch, src_len, key_size]")?;
    if k != size {
        return Err(Error::Shape(format!(
            "attention keys have size {k}, the layer expects {size}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
