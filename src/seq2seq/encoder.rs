//! The encoder of an RNN encoder–decoder (Sutskever et al., 2014; Cho et al.,
//! 2014; bidirectional as in Bahdanau et al., 2015): embed the source, run a
//! recurrent stack over it with packed-sequence semantics, and return every
//! step's output (the attention memory) and the final state (the decoder's
//! starting point, through the [`Bridge`](super::Bridge)).

use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::Seq2SeqConfig;
use crate::Result;
use crate::nn::{Dropout, Embedding, EmbeddingConfig, Mode, Rnn, State};

/// Embedding → dropout → RNN. Parameters: `embedding.weight`, `rnn.*`.
#[derive(Clone, Debug)]
pub struct Encoder {
    embedding: Embedding,
    dropout: Dropout,
    rnn: Rnn,
}

impl Encoder {
    /// Builds the encoder `cfg` describes under `vb` (usually
    /// `vb.pp("encoder")`), its embedding table under `embedding` (usually
    /// `vb.pp("embedding")`; the decoder's for shared embeddings).
    pub fn new(cfg: &Seq2SeqConfig, vb: VarBuilder, embedding: VarBuilder) -> Result<Self> {
        let embedding = Embedding::new(
            &EmbeddingConfig {
                padding_idx: cfg.pad_id.map(|p| p as usize),
                ..EmbeddingConfig::new(cfg.src_vocab, cfg.embed)
            },
            embedding,
        )?;
        Ok(Encoder {
            embedding,
            dropout: Dropout::new(cfg.encoder_dropout())?,
            rnn: Rnn::new(&cfg.encoder_rnn(), vb.pp("rnn"))?,
        })
    }

    /// src: `[B, S]` (u32), `lengths[b]` in `1..=S` → (outputs `[B, S, D·H]`,
    /// zero past each length; final state `[layers·D, B, H]`, each row's state
    /// at its own last token).
    pub fn forward(
        &self,
        src: &Tensor,
        lengths: &[usize],
        mode: &mut Mode<'_>,
    ) -> Result<(Tensor, State)> {
        let (_b, _s) = src.dims2()?;
        let x = self.dropout.forward(&self.embedding.forward(src)?, mode)?;
        self.rnn.forward(&x, lengths, None, mode)
    }

    /// The recurrent stack.
    pub fn rnn(&self) -> &Rnn {
        &self.rnn
    }
}
