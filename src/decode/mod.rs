//! Decoding: greedy, sampling and beam search, written once over the
//! [`StepDecoder`] trait and used by every generating model (seq2seq, LMs)
//! through one [`Search`] and one dispatch, [`run`].
//!
//! A model exposes one step — previous tokens in, next-token log-probabilities
//! out — and its state and memory say how to pick batch rows
//! ([`Batched::select`]). Everything else (stopping at `<eos>`, length limits,
//! dropping finished rows from the batch, beams) lives here, so no model writes
//! its own search loop.

mod beam;
mod ensemble;
mod greedy;
mod overrides;
mod sampling;
mod search;
mod strategy;

use candle_core::Tensor;

use crate::Result;

pub use beam::{BeamConfig, beam_search};
pub use ensemble::{Ensemble, Members};
pub use greedy::{GreedyConfig, greedy, greedy_each};
pub use overrides::SearchOverrides;
pub use sampling::{SampleConfig, sample, sample_each};
pub use strategy::{BeamOptions, Decoding, MAX_BEAM, SampleOptions, Search, run};

/// Something with a batch dimension whose rows can be picked and reordered:
/// decoder states and encoder memories. Beam search expands, reorders and
/// prunes rows through this, never through hidden fields on a module.
pub trait Batched: Sized {
    /// Rows in the batch.
    fn batch_size(&self) -> usize;
    /// The rows `idx` (`u32 [N]`, repeats allowed) in that order.
    fn select(&self, idx: &Tensor) -> Result<Self>;
}

/// The output of one decoding step.
#[derive(Clone, Debug)]
pub struct Step<S> {
    /// Next-token log-probabilities, `[B, V]` (outside any graph: searches
    /// differentiate nothing).
    pub log_probs: Tensor,
    /// The state after this step.
    pub state: S,
    /// Attention over the source, `[B, S]`, for models that attend.
    pub attention: Option<Tensor>,
}

/// A model that generates one token at a time.
pub trait StepDecoder {
    /// What the decoder reads at every step (encoder outputs, masks…), computed once.
    type Memory: Batched;
    /// What the decoder carries from step to step.
    type State: Batched;

    /// The state before the first step.
    fn start(&self, memory: &Self::Memory) -> Result<Self::State>;

    /// One step: `tokens` (`u32 [B]`) are the previous outputs (`<sos>` first).
    fn step(
        &self,
        tokens: &Tensor,
        state: &Self::State,
        memory: &Self::Memory,
    ) -> Result<Step<Self::State>>;

    /// The device the model's tensors live on.
    fn device(&self) -> &candle_core::Device;

    /// A hard cap on output length that the model itself imposes (the
    /// tutorial decoder attends over a fixed `max_length`), if any.
    fn max_steps(&self) -> Option<usize> {
        None
    }
}

/// A model whose steps never offer the `banned` tokens: their
/// log-probabilities are −∞ before any search sees them, so greedy, sampling
/// and beam search all skip them (a language model's `<pad>`, `<unk>`,
/// `<sos>`). The log-probabilities of the other tokens are left as the model
/// gives them, not renormalised, so a hypothesis's `log_prob` stays the
/// model's own.
pub struct Masked<'a, M> {
    inner: &'a M,
    banned: Vec<u32>,
}

impl<'a, M: StepDecoder> Masked<'a, M> {
    /// `inner` with `banned` token ids masked out (ids past the vocabulary are ignored).
    pub fn new(inner: &'a M, banned: &[u32]) -> Self {
        Masked {
            inner,
            banned: banned.to_vec(),
        }
    }
}

impl<M: StepDecoder> StepDecoder for Masked<'_, M> {
    type Memory = M::Memory;
    type State = M::State;

    fn start(&self, memory: &Self::Memory) -> Result<Self::State> {
        self.inner.start(memory)
    }

    fn step(
        &self,
        tokens: &Tensor,
        state: &Self::State,
        memory: &Self::Memory,
    ) -> Result<Step<Self::State>> {
        let mut step = self.inner.step(tokens, state, memory)?;
        if self.banned.is_empty() {
            return Ok(step);
        }
        let v = step.log_probs.dim(candle_core::D::Minus1)?;
        let mut mask = vec![0f32; v];
        for &t in &self.banned {
            if let Some(m) = mask.get_mut(t as usize) {
                *m = f32::NEG_INFINITY;
            }
        }
        let mask =
            Tensor::from_vec(mask, v, step.log_probs.device())?.to_dtype(step.log_probs.dtype())?;
        step.log_probs = step.log_probs.broadcast_add(&mask)?;
        Ok(step)
    }

    fn device(&self) -> &candle_core::Device {
        self.inner.device()
    }

    fn max_steps(&self) -> Option<usize> {
        self.inner.max_steps()
    }
}

/// The token ids decoding needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Specials {
    /// Fed as the first input.
    pub sos: u32,
    /// Ends a hypothesis.
    pub eos: u32,
}

/// How long an output may get: `ratio · source length + extra` steps (the
/// `<eos>` step included), like fairseq's `max_len_a`/`max_len_b`, so a source
/// longer than anything seen in training still gets room.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LengthLimit {
    /// Steps per source token.
    pub ratio: f64,
    /// Steps added to every source.
    pub extra: usize,
}

impl Default for LengthLimit {
    fn default() -> Self {
        LengthLimit {
            ratio: 2.0,
            extra: 10,
        }
    }
}

impl LengthLimit {
    /// The step budget for a source of `src_len` tokens, within the model's cap.
    pub fn steps(&self, src_len: usize, cap: Option<usize>) -> usize {
        let own = (self.ratio * src_len as f64).ceil().max(0.0) as usize + self.extra;
        cap.map_or(own, |c| own.min(c)).max(1)
    }
}

/// One decoded output.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Hypothesis {
    /// Output token ids, without `<sos>` and without the final `<eos>`.
    pub tokens: Vec<u32>,
    /// Sum of the chosen tokens' log-probabilities (`<eos>` included when emitted).
    pub log_prob: f64,
    /// The search's ranking score (equals `log_prob` unless a length penalty applies).
    pub score: f64,
    /// Whether `<eos>` was produced (false: stopped by the length limit).
    pub finished: bool,
    /// One attention row per step taken (the `<eos>` step included), when the model attends.
    pub attention: Vec<Vec<f32>>,
}

/// A toy decoder for testing searches: row `b` "wants" to emit `script[b]`
/// then `<eos>`, with probability `confidence` on the wanted token and the
/// rest spread evenly. Its state is the step count; its memory is the script.
#[cfg(test)]
pub(crate) mod toy {
    use candle_core::{Device, Tensor};

    use super::{Batched, Step, StepDecoder};
    use crate::Result;

    pub const VOCAB: usize = 8;
    pub const SOS: u32 = 0;
    pub const EOS: u32 = 1;

    #[derive(Clone, Debug)]
    pub struct Script(pub Vec<Vec<u32>>);

    #[derive(Clone, Debug)]
    pub struct Count(pub Vec<usize>);

    /// The rows of `rows` that `idx` names, in its order (a `select`).
    pub fn pick<T: Clone>(rows: &[T], idx: &Tensor) -> Result<Vec<T>> {
        Ok(idx
            .to_vec1::<u32>()?
            .into_iter()
            .map(|i| rows[i as usize].clone())
            .collect())
    }

    impl Batched for Script {
        fn batch_size(&self) -> usize {
            self.0.len()
        }
        fn select(&self, idx: &Tensor) -> Result<Self> {
            Ok(Script(pick(&self.0, idx)?))
        }
    }

    impl Batched for Count {
        fn batch_size(&self) -> usize {
            self.0.len()
        }
        fn select(&self, idx: &Tensor) -> Result<Self> {
            Ok(Count(pick(&self.0, idx)?))
        }
    }

    pub struct Toy {
        pub confidence: f32,
        pub device: Device,
    }

    /// A toy on the CPU.
    pub fn toy(confidence: f32) -> Toy {
        Toy {
            confidence,
            device: Device::Cpu,
        }
    }

    /// The toy's specials, an output budget of the source length + 3, `search`.
    pub fn decoding(search: super::Search) -> super::Decoding {
        super::Decoding {
            specials: super::Specials { sos: SOS, eos: EOS },
            limit: super::LengthLimit {
                ratio: 1.0,
                extra: 3,
            },
            search,
        }
    }

    impl StepDecoder for Toy {
        type Memory = Script;
        type State = Count;

        fn start(&self, memory: &Script) -> Result<Count> {
            Ok(Count(vec![0; memory.0.len()]))
        }

        fn step(&self, _tokens: &Tensor, state: &Count, memory: &Script) -> Result<Step<Count>> {
            let b = state.0.len();
            let rest = (1.0 - self.confidence) / (VOCAB - 1) as f32;
            let mut probs = vec![rest; b * VOCAB];
            let mut attn = vec![0.0f32; b * 4];
            for (i, (&t, script)) in state.0.iter().zip(&memory.0).enumerate() {
                let want = script.get(t).copied().unwrap_or(EOS) as usize;
                probs[i * VOCAB + want] = self.confidence;
                attn[i * 4 + t.min(3)] = 1.0;
            }
            let log_probs = Tensor::from_vec(probs, (b, VOCAB), &self.device)?.log()?;
            let attention = Some(Tensor::from_vec(attn, (b, 4), &self.device)?);
            let state = Count(state.0.iter().map(|t| t + 1).collect());
            Ok(Step {
                log_probs,
                state,
                attention,
            })
        }

        fn device(&self) -> &Device {
            &self.device
        }
    }
}
