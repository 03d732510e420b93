//! Bahdanau additive ("concat") attention: Bahdanau et al. (2015), eq. 6 and
//! appendix A.1.2: `score_j = v · tanh(W_q q + W_k k_j)`.
//!
//! `W_k k_j` does not depend on the decoder step, so it is computed once per
//! source sentence in [`Attention::prepare`]; each step adds `W_q q` to it.
//! Parameters are `W_q [A, Hq]`, `W_k [A, Hk]`, `w_v [A]` with no biases, the
//! names the attention fixtures use.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::{Attention, check_keys, check_step, linear_init};
use crate::nn::kernels::activation::tanh;
use crate::{Error, Result};

/// Sizes of an [`Additive`] attention.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdditiveConfig {
    /// Query (decoder state) size `Hq`.
    pub query: usize,
    /// Key (encoder output) size `Hk`.
    pub key: usize,
    /// Attention hidden size `A`.
    pub hidden: usize,
}

/// `score_j = w_v · tanh(W_q q + W_k k_j)`.
#[derive(Clone, Debug)]
pub struct Additive {
    w_q: crate::nn::Linear,
    w_k: crate::nn::Linear,
    /// `[A, 1]`: `w_v` as a column, so the score is one matrix product.
    w_v: Tensor,
    cfg: AdditiveConfig,
}

impl Additive {
    /// Builds the layer under `vb` (parameters `W_q`, `W_k`, `w_v`), drawn like
    /// PyTorch's bias-free `Linear(Hq, A)`, `Linear(Hk, A)` and `Linear(A, 1)`.
    pub fn new(cfg: &AdditiveConfig, vb: VarBuilder) -> Result<Self> {
        if cfg.query == 0 || cfg.key == 0 || cfg.hidden == 0 {
            return Err(Error::Config(format!(
                "additive attention sizes must be positive, got {cfg:?}"
            )));
        }
        let w_q = vb.get_with_hints((cfg.hidden, cfg.query), "W_q", linear_init(cfg.query))?;
        let w_k = vb.get_with_hints((cfg.hidden, cfg.key), "W_k", linear_init(cfg.key))?;
        let w_v = vb.get_with_hints(cfg.hidden, "w_v", linear_init(cfg.hidden))?;
        Ok(Additive {
            w_q: crate::nn::Linear::from_parts(w_q, None),
            w_k: crate::nn::Linear::from_parts(w_k, None),
            w_v: w_v.reshape((cfg.hidden, 1))?,
            cfg: *cfg,
        })
    }

    /// The layer's sizes.
    pub fn config(&self) -> &AdditiveConfig {
        &self.cfg
    }

    /// `W_q`, `[A, Hq]`: what a fused decoding step reads.
    pub fn query_weight(&self) -> &Tensor {
        self.w_q.weight()
    }

    /// `w_v` as a column, `[A, 1]`.
    pub fn score_vector(&self) -> &Tensor {
        &self.w_v
    }
}

impl Attention for Additive {
    /// keys: `[batch, src_len, Hk]` → `W_k k_j`: `[batch, src_len, A]`
    fn prepare(&self, keys: &Tensor) -> Result<Tensor> {
        check_keys(keys, self.cfg.key)?;
        self.w_k.forward(keys)
    }

    /// query: `[batch, Hq]`, prepared: `[batch, src_len, A]` → `[batch, src_len]`
    fn scores(&self, query: &Tensor, prepared: &Tensor) -> Result<Tensor> {
        check_step(query, self.cfg.query, prepared, self.cfg.hidden)?;
        let q = self.w_q.forward(query)?.unsqueeze(1)?;
        let energy = tanh(&prepared.broadcast_add(&q)?, self.w_q.kernel())?;
        Ok(energy.broadcast_matmul(&self.w_v)?.squeeze(2)?)
    }
}
