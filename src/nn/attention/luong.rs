//! Luong multiplicative attention: Luong et al. (2015), eq. 8, the `dot`
//! (`score_j = q · k_j`) and `general` (`score_j = q · (W k_j)`) forms.
//!
//! For `general`, `W k_j` is computed once per source sentence in
//! [`Attention::prepare`], so each step is the same batched dot product as
//! `dot`. `W` is `[Hq, Hk]`, named `W` as in the attention fixtures.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::{Attention, check_keys, check_step, dims2, dims3, linear_init};
use crate::{Error, Result};

/// `score_j = q · k_j` (query and keys of the same size); no parameters.
#[derive(Clone, Copy, Debug, Default)]
pub struct Dot;

impl Dot {
    /// The parameter-free dot score.
    pub fn new() -> Self {
        Dot
    }
}

impl Attention for Dot {
    /// keys: `[batch, src_len, H]` → the keys themselves (contiguous).
    fn prepare(&self, keys: &Tensor) -> Result<Tensor> {
        dims3(keys, "attention keys", "[batch, src_len, key_size]")?;
        Ok(keys.contiguous()?)
    }

    /// query: `[batch, H]`, prepared: `[batch, src_len, H]` → `[batch, src_len]`
    fn scores(&self, query: &Tensor, prepared: &Tensor) -> Result<Tensor> {
        let (_, h) = dims2(query, "attention query", "[batch, query_size]")?;
        check_step(query, h, prepared, h)?;
        dot_scores(query, prepared)
    }

    /// queries: `[batch, steps, H]`, prepared: `[batch, src_len, H]` → `[batch, steps, src_len]`
    fn scores_all(&self, queries: &Tensor, prepared: &Tensor) -> Result<Tensor> {
        let (_, _, h) = dims3(queries, "attention queries", "[batch, steps, query_size]")?;
        all_dot_scores(queries, h, prepared)
    }
}

/// Sizes of a [`General`] attention.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GeneralConfig {
    /// Query (decoder state) size `Hq`.
    pub query: usize,
    /// Key (encoder output) size `Hk`.
    pub key: usize,
}

/// `score_j = q · (W k_j)`, `W: [Hq, Hk]`.
#[derive(Clone, Debug)]
pub struct General {
    w: crate::nn::Linear,
    cfg: GeneralConfig,
}

impl General {
    /// Builds the layer under `vb` (parameter `W [Hq, Hk]`), drawn like
    /// PyTorch's bias-free `Linear(Hk, Hq)`.
    pub fn new(cfg: &GeneralConfig, vb: VarBuilder) -> Result<Self> {
        if cfg.query == 0 || cfg.key == 0 {
            return Err(Error::Config(format!(
                "general attention sizes must be positive, got {cfg:?}"
            )));
        }
        let w = vb.get_with_hints((cfg.query, cfg.key), "W", linear_init(cfg.key))?;
        Ok(General {
            w: crate::nn::Linear::from_parts(w, None),
            cfg: *cfg,
        })
    }

    /// The layer's sizes.
    pub fn config(&self) -> &GeneralConfig {
        &self.cfg
    }
}

impl Attention for General {
    /// keys: `[batch, src_len, Hk]` → `W k_j`: `[batch, src_len, Hq]`
    fn prepare(&self, keys: &Tensor) -> Result<Tensor> {
        check_keys(keys, self.cfg.key)?;
        self.w.forward(keys)
    }

    /// query: `[batch, Hq]`, prepared: `[batch, src_len, Hq]` → `[batch, src_len]`
    fn scores(&self, query: &Tensor, prepared: &Tensor) -> Result<Tensor> {
        check_step(query, self.cfg.query, prepared, self.cfg.query)?;
        dot_scores(query, prepared)
    }

    /// queries: `[batch, steps, Hq]`, prepared: `[batch, src_len, Hq]` → `[batch, steps, src_len]`
    fn scores_all(&self, queries: &Tensor, prepared: &Tensor) -> Result<Tensor> {
        all_dot_scores(queries, self.cfg.query, prepared)
    }
}

/// `prepared_j · q` for every `j`, as one batched matrix product.
///
/// query: `[batch, H]`, prepared: `[batch, src_len, H]` → `[batch, src_len]`
fn dot_scores(query: &Tensor, prepared: &Tensor) -> Result<Tensor> {
    let q = query.unsqueeze(2)?;
    Ok(prepared.contiguous()?.matmul(&q)?.squeeze(2)?)
}

/// `q_t · prepared_j` for every step `t` and position `j`, as one batched product.
///
/// queries: `[batch, steps, H]`, prepared: `[batch, src_len, H]` → `[batch, steps, src_len]`
fn all_dot_scores(queries: &Tensor, size: usize, prepared: &Tensor) -> Result<Tensor> {
    let (b, _, q) = dims3(queries, "attention queries", "[batch, steps, query_size]")?;
    let (pb, _, pw) = dims3(prepared, "prepared keys", "[batch, src_len, width]")?;
    if q != size || pb != b || pw != size {
        return Err(Error::Shape(format!(
            "attention queries [{b}, _, {q}] and prepared keys [{pb}, _, {pw}] \
             do not fit a layer of query size {size}"
        )));
    }
    Ok(queries
        .contiguous()?
        .matmul(&prepared.contiguous()?.transpose(1, 2)?)?)
}
