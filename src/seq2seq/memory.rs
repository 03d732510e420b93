//! What the decoder reads and carries: the encoder [`Memory`], computed once
//! per batch by [`Seq2Seq::encode`](super::Seq2Seq::encode), and the
//! [`DecoderState`] that goes into and comes out of every step (DESIGN §6.5).
//!
//! Both are [`Batched`]: greedy decoding drops finished rows and beam search
//! reorders hypotheses by selecting rows, never by touching the modules.

use candle_core::Tensor;

use crate::Result;
use crate::decode::Batched;
use crate::nn::State;

/// The encoded source, read at every decoder step.
#[derive(Clone, Debug)]
pub struct Memory {
    /// What attention sums over, `[B, S, K]`: the encoder outputs (zero past
    /// each length); for `dot` attention over a bidirectional encoder, their
    /// projection to the decoder's size; for the tutorial decoder, padded with
    /// zero rows to its `max_length` slots.
    pub values: Tensor,
    /// The key side of the attention score (`Attention::prepare(values)`),
    /// `[B, S, *]`, computed once per batch; `None` for decoders without a
    /// query-dependent score (`none`, `tutorial`).
    pub keys: Option<Tensor>,
    /// `[B, S]`, 1 on real source tokens, 0 on padding (f32).
    pub mask: Tensor,
    /// The decoder's initial state (the bridged encoder final state),
    /// `[layers, B, H]`.
    pub init: State,
    /// The encoder's final top hidden state, `[B, H]`, concatenated to every
    /// input of a `none` decoder with `feed_context`.
    pub context: Option<Tensor>,
}

impl Batched for Memory {
    fn batch_size(&self) -> usize {
        self.values.dims().first().copied().unwrap_or(0)
    }

    fn select(&self, idx: &Tensor) -> Result<Self> {
        let rows = |t: &Tensor| -> Result<Tensor> { Ok(t.index_select(idx, 0)?) };
        Ok(Memory {
            values: rows(&self.values)?,
            keys: self.keys.as_ref().map(rows).transpose()?,
            mask: rows(&self.mask)?,
            init: self.init.select(idx)?,
            context: self.context.as_ref().map(rows).transpose()?,
        })
    }
}

/// The decoder's state between steps.
#[derive(Clone, Debug)]
pub struct DecoderState {
    /// The recurrent state, `[layers, B, H]`.
    pub rnn: State,
    /// Luong input feeding: the previous attentional hidden state `h̃_{t−1}`,
    /// `[B, H]` (zeros before the first step); `None` for other decoders.
    pub feed: Option<Tensor>,
}

impl DecoderState {
    /// The top layer's hidden state, `[B, H]`.
    pub fn top(&self) -> Result<Tensor> {
        let h = self.rnn.h();
        Ok(h.get(h.dim(0)? - 1)?)
    }
}

impl Batched for DecoderState {
    fn batch_size(&self) -> usize {
        self.rnn.h().dims().get(1).copied().unwrap_or(0)
    }

    fn select(&self, idx: &Tensor) -> Result<Self> {
        Ok(DecoderState {
            rnn: self.rnn.select(idx)?,
            feed: match &self.feed {
                Some(f) => Some(f.index_select(idx, 0)?),
                None => None,
            },
        })
    }
}
