//! The attention of the PyTorch seq2seq tutorial's `AttnDecoderRNN`
//! ("NLP From Scratch: Translation with a Sequence to Sequence Network and
//! Attention"): location-based scores over a fixed `MAX_LENGTH` of encoder
//! slots, computed from the decoder input and state alone.
//!
//! `weights = softmax(attn([e; h]))` (`[B, L]`, not masked: the tutorial's
//! padding slots are zero vectors that still take weight),
//! `applied = weights @ encoder_outputs`, `x = relu(attn_combine([e; applied]))`.
//! `x` feeds the decoder's GRU step, which, with the `out` projection, belongs
//! to the decoder. Parameters keep the tutorial's names (`attn.weight`,
//! `attn.bias`, `attn_combine.weight`, `attn_combine.bias`), so its state dict
//! loads under the decoder's prefix. Kept only for faithful tutorial imports;
//! new models use [`super::Attention`] over the real source length.

use candle_core::{D, Tensor};
use candle_nn::VarBuilder;

use super::{dims2, dims3, weighted_sum};
use crate::nn::{Linear, LinearConfig};
use crate::{Error, Result};

/// Sizes of a [`TutorialAttention`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TutorialAttentionConfig {
    /// Hidden (and embedding) size `H`.
    pub hidden: usize,
    /// Number of encoder slots `L` (the tutorial's `MAX_LENGTH`).
    pub max_length: usize,
}

/// What [`TutorialAttention::forward`] returns.
#[derive(Clone, Debug)]
pub struct TutorialAttended {
    /// `[batch, H]`: `relu(attn_combine([e; applied]))`, the GRU step's input.
    pub gru_input: Tensor,
    /// `[batch, L]`: the attention weights over the encoder slots.
    pub weights: Tensor,
}

/// The tutorial's `attn` / `attn_combine` pair.
#[derive(Clone, Debug)]
pub struct TutorialAttention {
    attn: Linear,
    attn_combine: Linear,
    cfg: TutorialAttentionConfig,
}

impl TutorialAttention {
    /// Builds `attn = Linear(2H, L)` and `attn_combine = Linear(2H, H)` under `vb`.
    pub fn new(cfg: &TutorialAttentionConfig, vb: VarBuilder) -> Result<Self> {
        if cfg.hidden == 0 || cfg.max_length == 0 {
            return Err(Error::Config(format!(
                "tutorial attention sizes must be positive, got {cfg:?}"
            )));
        }
        let attn = Linear::new(
            &LinearConfig {
                input: 2 * cfg.hidden,
                output: cfg.max_length,
                bias: true,
            },
            vb.pp("attn"),
        )?;
        let attn_combine = Linear::new(
            &LinearConfig {
                input: 2 * cfg.hidden,
                output: cfg.hidden,
                bias: true,
            },
            vb.pp("attn_combine"),
        )?;
        Ok(TutorialAttention {
            attn,
            attn_combine,
            cfg: *cfg,
        })
    }

    /// `attn`: `Linear(2H, max_length)`, the slot scores.
    pub fn attn(&self) -> &Linear {
        &self.attn
    }

    /// `attn_combine`: `Linear(2H, H)`.
    pub fn attn_combine(&self) -> &Linear {
        &self.attn_combine
    }

    /// The sizes.
    pub fn config(&self) -> &TutorialAttentionConfig {
        &self.cfg
    }

    /// One decoder step's attention.
    ///
    /// embedded: `[batch, H]` (the embedded input token, after dropout),
    /// hidden: `[batch, H]` (the previous GRU state), encoder_outputs:
    /// `[batch, L, H]` (zero rows past the input) → gru_input `[batch, H]`,
    /// weights `[batch, L]`
    pub fn forward(
        &self,
        embedded: &Tensor,
        hidden: &Tensor,
        encoder_outputs: &Tensor,
    ) -> Result<TutorialAttended> {
        let h = self.cfg.hidden;
        let (b, eh) = dims2(embedded, "embedded input", "[batch, hidden]")?;
        let (hb, hh) = dims2(hidden, "decoder hidden state", "[batch, hidden]")?;
        let (ob, ol, oh) = dims3(
            encoder_outputs,
            "encoder outputs",
            "[batch, max_length, hidden]",
        )?;
        if (eh, hb, hh) != (h, b, h) || (ob, ol, oh) != (b, self.cfg.max_length, h) {
            return Err(Error::Shape(format!(
                "tutorial attention expects embedded [{b}, {h}], hidden [{b}, {h}] and \
                 encoder outputs [{b}, {}, {h}], got [{b}, {eh}], [{hb}, {hh}] and [{ob}, {ol}, {oh}]",
                self.cfg.max_length
            )));
        }
        let scores = self.attn.forward(&Tensor::cat(&[embedded, hidden], 1)?)?;
        // Unmasked on purpose: the tutorial lets padding slots take weight.
        let weights = candle_nn::ops::softmax(&scores, D::Minus1)?;
        let applied = weighted_sum(&weights, encoder_outputs)?;
        let combined = self
            .attn_combine
            .forward(&Tensor::cat(&[embedded, &applied], 1)?)?;
        Ok(TutorialAttended {
            gru_input: combined.relu()?,
            weights,
        })
    }
}
