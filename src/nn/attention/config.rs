//! Choosing an attention score by configuration: Bahdanau et al. (2015)
//! additive, or Luong et al. (2015) dot / general, as an enum rather than a
//! string, so an unknown kind is a parse error, not a silent fallback.

use candle_core::Tensor;
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

use super::{Additive, AdditiveConfig, Attention, Dot, General, GeneralConfig};
use crate::{Error, Result};

/// Which score function an attention layer uses (`"additive"`, `"dot"`, `"general"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttentionKind {
    /// Bahdanau: `v · tanh(W_q q + W_k k_j)`.
    Additive,
    /// Luong dot: `q · k_j`.
    Dot,
    /// Luong general: `q · (W k_j)`.
    General,
}

impl AttentionKind {
    /// Whether the score needs queries and keys of one size (the dot
    /// product does; the others project one onto the other).
    pub fn needs_matching_sizes(self) -> bool {
        matches!(self, AttentionKind::Dot)
    }
}

/// The configuration of a query-dependent attention layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttentionConfig {
    /// The score function.
    pub kind: AttentionKind,
    /// Query (decoder state) size `Hq`.
    pub query: usize,
    /// Key (encoder output) size `Hk`.
    pub key: usize,
    /// Additive attention's hidden size `A`; `None` means `Hq`. Only additive
    /// attention has one, so setting it for another kind is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden: Option<usize>,
}

impl AttentionConfig {
    /// Checks the sizes fit the kind.
    pub fn validate(&self) -> Result<()> {
        if self.query == 0 || self.key == 0 || self.hidden == Some(0) {
            return Err(Error::Config(format!(
                "attention sizes must be positive, got {self:?}"
            )));
        }
        match self.kind {
            AttentionKind::Additive => Ok(()),
            _ if self.hidden.is_some() => Err(Error::Config(format!(
                "attention `hidden` size is only used by additive attention, not {:?}",
                self.kind
            ))),
            kind if kind.needs_matching_sizes() && self.query != self.key => {
                Err(Error::Config(format!(
                    "{} attention needs query and key sizes to match, got {} and {}",
                    format!("{kind:?}").to_lowercase(),
                    self.query,
                    self.key
                )))
            }
            _ => Ok(()),
        }
    }
}

/// Any configured attention score; implements [`Attention`] by delegation.
#[derive(Clone, Debug)]
pub enum AttentionLayer {
    /// Bahdanau additive attention.
    Additive(Additive),
    /// Luong dot attention.
    Dot(Dot),
    /// Luong general attention.
    General(General),
}

impl AttentionLayer {
    /// Builds the layer `cfg` describes under `vb` (after [`AttentionConfig::validate`]).
    pub fn new(cfg: &AttentionConfig, vb: VarBuilder) -> Result<Self> {
        cfg.validate()?;
        Ok(match cfg.kind {
            AttentionKind::Additive => AttentionLayer::Additive(Additive::new(
                &AdditiveConfig {
                    query: cfg.query,
                    key: cfg.key,
                    hidden: cfg.hidden.unwrap_or(cfg.query),
                },
                vb,
            )?),
            AttentionKind::Dot => AttentionLayer::Dot(Dot::new()),
            AttentionKind::General => AttentionLayer::General(General::new(
                &GeneralConfig {
                    query: cfg.query,
                    key: cfg.key,
                },
                vb,
            )?),
        })
    }

    /// The kind of score this layer computes.
    pub fn kind(&self) -> AttentionKind {
        match self {
            AttentionLayer::Additive(_) => AttentionKind::Additive,
            AttentionLayer::Dot(_) => AttentionKind::Dot,
            AttentionLayer::General(_) => AttentionKind::General,
        }
    }

    fn inner(&self) -> &dyn Attention {
        match self {
            AttentionLayer::Additive(a) => a,
            AttentionLayer::Dot(a) => a,
            AttentionLayer::General(a) => a,
        }
    }
}

impl Attention for AttentionLayer {
    fn prepare(&self, keys: &Tensor) -> Result<Tensor> {
        self.inner().prepare(keys)
    }

    fn scores(&self, query: &Tensor, prepared: &Tensor) -> Result<Tensor> {
        self.inner().scores(query, prepared)
    }

    fn scores_all(&self, queries: &Tensor, prepared: &Tensor) -> Result<Tensor> {
        self.inner().scores_all(queries, prepared)
    }
}
