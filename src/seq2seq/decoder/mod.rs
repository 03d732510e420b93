//! The decoders, one skeleton for all kinds: embed `y_{t−1}` → form the RNN
//! input → one RNN step → form the output vector → `log_softmax(out(·))`.
//! Only the two "form" steps differ, and they live in one `match`:
//!
//! - `none` (Sutskever et al., 2014): input `emb` (or `[emb; s_enc]` with
//!   `feed_context`, Cho et al., 2014), output `h_t`.
//! - `additive` (Bahdanau et al., 2015): `c_t = attend(h_{t−1}, memory)`,
//!   input `[emb; c_t]`, output `h_t` — the shape of `seq2seq_batched.py`'s
//!   `AttnDecoder`.
//! - `dot` / `general` (Luong et al., 2015, §3.1 and input feeding §3.3):
//!   input `[emb; h̃_{t−1}]`, `c_t = attend(h_t, memory)`,
//!   output `h̃_t = tanh(W_c [c_t; h_t])`. Without input feeding the input
//!   is `emb` alone. `dot` needs keys of the decoder's
//!   size: over a bidirectional encoder (outputs `2H`) the memory is first
//!   projected by a bias-free `key_proj: Linear(2H, H)`, once per batch, and
//!   attention scores and sums the projected outputs.
//! - `tutorial` (the PyTorch tutorial's `AttnDecoderRNN`): input
//!   `relu(attn_combine([emb; weights @ slots]))` with `weights =
//!   softmax(attn([emb; h_{t−1}]))` over `max_length` slots, output `h_t`
//!   (`h_{t−1}` is the top layer's state when stacked; the tutorial has one).
//!
//! When no input depends on an earlier step's output (`none`, and `dot` /
//! `general` without input feeding), teacher-forced training runs the whole
//! target sequence at once ([`Decoder::advance_all`]): one RNN pass over all
//! steps and one batched attention, instead of a Python-style loop of steps.
//!
//! Parameters (under `decoder.`): `embedding.weight`, `rnn.*`, `attention.*`
//! (additive `W_q`, `W_k`, `w_v`; general `W`), `key_proj.weight`,
//! `combine.weight` (Luong's `W_c`), the tutorial's `attn.*` and
//! `attn_combine.*`, and `out.weight`/`out.bias` (`out.weight` absent when
//! tied to `embedding.weight`).

mod fused;

use std::sync::{Arc, OnceLock};

use candle_core::Tensor;
use candle_nn::{Init, VarBuilder};

use super::fused_step::FusedStep;
use super::{DecoderKind, DecoderState, Memory, Seq2SeqConfig};
use crate::nn::kernels::log_softmax::log_softmax;
use crate::nn::{Attention, TutorialAttentionConfig};
use crate::nn::{
    AttentionConfig, AttentionKind, AttentionLayer, Dropout, Embedding, EmbeddingConfig, Linear,
    LinearConfig, Mode, Rnn, RnnConfig, State, TutorialAttention,
};
use crate::train::CrossEntropy;
use crate::{Error, Result};

/// What forms the RNN input and the output vector, per decoder kind.
#[derive(Clone, Debug)]
enum Context {
    Plain {
        feed_context: bool,
    },
    Bahdanau {
        attention: AttentionLayer,
    },
    Luong {
        attention: AttentionLayer,
        key_proj: Option<Linear>,
        combine: Linear,
        input_feeding: bool,
    },
    Tutorial {
        attention: TutorialAttention,
        max_length: usize,
    },
}

/// The result of one step before the output layer.
#[derive(Clone, Debug)]
pub struct Advance {
    /// The vector the output layer reads, `[B, H]` (`h_t`, or Luong's `h̃_t`).
    pub hidden: Tensor,
    /// The state after the step.
    pub state: DecoderState,
    /// Attention weights of this step, `[B, S]`, for decoders that attend.
    pub attention: Option<Tensor>,
}

/// An RNN decoder of any [`DecoderKind`].
#[derive(Clone, Debug)]
pub struct Decoder {
    kind: DecoderKind,
    hidden: usize,
    embedding: Embedding,
    dropout: Dropout,
    rnn: Rnn,
    context: Context,
    out_dropout: Dropout,
    out: crate::nn::Linear,
    /// The fused decoding step, where one applies ([`FusedStep`]): built
    /// on first use, shared by clones.
    fused: Arc<OnceLock<Option<FusedStep>>>,
}

fn no_bias(input: usize, output: usize) -> LinearConfig {
    LinearConfig {
        input,
        output,
        bias: false,
    }
}

impl Decoder {
    /// Builds the decoder `cfg` describes under `vb` (usually `vb.pp("decoder")`).
    pub fn new(cfg: &Seq2SeqConfig, vb: VarBuilder) -> Result<Self> {
        cfg.validate()?;
        let (h, e, k) = (cfg.hidden, cfg.embed, cfg.encoder_output());
        let embedding = Embedding::new(
            &EmbeddingConfig {
                padding_idx: cfg.pad_id.map(|p| p as usize),
                ..EmbeddingConfig::new(cfg.tgt_vocab, e)
            },
            vb.pp("embedding"),
        )?;
        let attention = |kind| {
            AttentionLayer::new(
                &AttentionConfig {
                    kind,
                    query: h,
                    key: if kind.needs_matching_sizes() { h } else { k },
                    hidden: None,
                },
                vb.pp("attention"),
            )
        };
        let (context, input) = match cfg.decoder {
            DecoderKind::None => (
                Context::Plain {
                    feed_context: cfg.feed_context,
                },
                e + if cfg.feed_context { h } else { 0 },
            ),
            DecoderKind::Additive => (
                Context::Bahdanau {
                    attention: attention(AttentionKind::Additive)?,
                },
                e + k,
            ),
            DecoderKind::Tutorial => {
                let max_length = cfg.max_length.unwrap_or(0);
                let tcfg = TutorialAttentionConfig {
                    hidden: h,
                    max_length,
                };
                // The tutorial's own names, `attn.*` and `attn_combine.*`, right under `decoder.`.
                let attention = TutorialAttention::new(&tcfg, vb.clone())?;
                (
                    Context::Tutorial {
                        attention,
                        max_length,
                    },
                    h,
                )
            }
            // Every other decoder is Luong's, with its score.
            other => {
                let kind = other.luong_score().ok_or_else(|| {
                    Error::Config(format!("decoder {other:?} has no attention score"))
                })?;
                // A score that needs keys of the query's size reads the
                // encoder outputs projected to it (a bidirectional encoder's
                // are twice as wide), and sums the projected ones.
                let same = kind.needs_matching_sizes();
                let key_proj = match same && k != h {
                    true => Some(Linear::new(&no_bias(k, h), vb.pp("key_proj"))?),
                    false => None,
                };
                let value = if same { h } else { k };
                let context = Context::Luong {
                    attention: attention(kind)?,
                    key_proj,
                    combine: Linear::new(&no_bias(value + h, h), vb.pp("combine"))?,
                    input_feeding: cfg.input_feeding,
                };
                (context, e + if cfg.input_feeding { h } else { 0 })
            }
        };
        let rnn = Rnn::new(
            &RnnConfig {
                cell: cfg.cell,
                input,
                hidden: h,
                layers: cfg.layers,
                bidirectional: false,
                dropout: cfg.dropout,
            },
            vb.pp("rnn"),
        )?;
        // PyTorch's Linear(H, V) init, U(−1/√H, 1/√H).
        let bound = 1.0 / (h as f64).sqrt();
        let init = Init::Uniform {
            lo: -bound,
            up: bound,
        };
        let weight = if cfg.tie_embeddings {
            embedding.weight().clone()
        } else {
            vb.pp("out")
                .get_with_hints((cfg.tgt_vocab, h), "weight", init)?
        };
        let bias = vb.pp("out").get_with_hints(cfg.tgt_vocab, "bias", init)?;
        Ok(Decoder {
            kind: cfg.decoder,
            hidden: h,
            embedding,
            dropout: Dropout::new(cfg.dropout)?,
            rnn,
            context,
            out_dropout: Dropout::new(cfg.out_dropout)?,
            out: crate::nn::Linear::from_parts(weight, Some(bias)),
            fused: Arc::default(),
        })
    }

    /// The decoder kind.
    pub fn kind(&self) -> DecoderKind {
        self.kind
    }

    /// The tutorial decoder's `max_length`, the most steps it can take.
    pub fn max_steps(&self) -> Option<usize> {
        match &self.context {
            Context::Tutorial { max_length, .. } => Some(*max_length),
            _ => None,
        }
    }

    /// Embeds target tokens with dropout: tokens `[B, T]` (u32) → `[B, T, E]`.
    pub fn embed(&self, tokens: &Tensor, mode: &mut Mode<'_>) -> Result<Tensor> {
        self.dropout.forward(&self.embedding.forward(tokens)?, mode)
    }

    /// Builds the memory the steps read, doing the key-side work once.
    ///
    /// outputs: `[B, S, K]` encoder outputs, mask: `[B, S]` (f32), init: the
    /// decoder's initial state `[layers, B, H]`.
    pub fn memory(&self, outputs: &Tensor, mask: &Tensor, init: State) -> Result<Memory> {
        let (b, s, k) = outputs.dims3()?;
        let top = init.h().get(init.h().dim(0)? - 1)?;
        let (values, keys, mask, context) = match &self.context {
            Context::Plain { feed_context } => (
                outputs.clone(),
                None,
                mask.clone(),
                feed_context.then_some(top),
            ),
            Context::Bahdanau { attention } => {
                let keys = attention.prepare(outputs)?;
                (outputs.clone(), Some(keys), mask.clone(), None)
            }
            Context::Luong {
                attention,
                key_proj,
                ..
            } => {
                let values = match key_proj {
                    Some(p) => p.forward(outputs)?,
                    None => outputs.clone(),
                };
                let keys = attention.prepare(&values)?;
                (values, Some(keys), mask.clone(), None)
            }
            Context::Tutorial { max_length, .. } => {
                let l = *max_length;
                if s > l {
                    return Err(Error::Shape(format!(
                        "the tutorial decoder attends over {l} encoder slots, \
                         but the source has {s} positions"
                    )));
                }
                // The tutorial's `encoder_outputs`: zero rows past the input.
                let pad = |t: &Tensor, shape: &[usize]| -> Result<Tensor> {
                    if s == l {
                        return Ok(t.clone());
                    }
                    let zeros = Tensor::zeros(shape, t.dtype(), t.device())?;
                    Ok(Tensor::cat(&[t, &zeros], 1)?)
                };
                let values = pad(outputs, &[b, l - s, k])?;
                (values, None, pad(mask, &[b, l - s])?, None)
            }
        };
        Ok(Memory {
            values,
            keys,
            mask,
            init,
            context,
        })
    }

    /// The state before the first step.
    pub fn start(&self, memory: &Memory) -> Result<DecoderState> {
        let feed = match &self.context {
            Context::Luong {
                input_feeding: true,
                ..
            } => {
                let b = memory.values.dim(0)?;
                let dtype = memory.values.dtype();
                Some(Tensor::zeros(
                    (b, self.hidden),
                    dtype,
                    memory.values.device(),
                )?)
            }
            _ => None,
        };
        Ok(DecoderState {
            rnn: memory.init.clone(),
            feed,
        })
    }

    /// One step up to the output layer. emb: `[B, E]`, the embedded previous
    /// token (after dropout).
    pub fn advance(
        &self,
        emb: &Tensor,
        state: &DecoderState,
        memory: &Memory,
        mode: &mut Mode<'_>,
    ) -> Result<Advance> {
        let missing = || Error::Shape("the memory lacks what this decoder needs".into());
        match &self.context {
            Context::Plain { feed_context } => {
                let input = match (feed_context, &memory.context) {
                    (true, Some(c)) => Tensor::cat(&[emb, c], 1)?,
                    (true, None) => return Err(missing()),
                    (false, _) => emb.clone(),
                };
                let (h, rnn) = self.run(&input, state, mode)?;
                Ok(Advance {
                    hidden: h,
                    state: DecoderState { rnn, feed: None },
                    attention: None,
                })
            }
            Context::Bahdanau { attention } => {
                let keys = memory.keys.as_ref().ok_or_else(missing)?;
                let att = attention.attend(&state.top()?, &memory.values, keys, &memory.mask)?;
                let input = Tensor::cat(&[emb, &att.context], 1)?;
                let (h, rnn) = self.run(&input, state, mode)?;
                Ok(Advance {
                    hidden: h,
                    state: DecoderState { rnn, feed: None },
                    attention: Some(att.weights),
                })
            }
            Context::Luong {
                attention,
                combine,
                input_feeding,
                ..
            } => {
                let keys = memory.keys.as_ref().ok_or_else(missing)?;
                let input = match input_feeding {
                    true => Tensor::cat(&[emb, state.feed.as_ref().ok_or_else(missing)?], 1)?,
                    false => emb.clone(),
                };
                let (h, rnn) = self.run(&input, state, mode)?;
                let att = attention.attend(&h, &memory.values, keys, &memory.mask)?;
                let h_tilde = combine.forward_tanh(&Tensor::cat(&[&att.context, &h], 1)?)?;
                Ok(Advance {
                    hidden: h_tilde.clone(),
                    state: DecoderState {
                        rnn,
                        feed: input_feeding.then_some(h_tilde),
                    },
                    attention: Some(att.weights),
                })
            }
            Context::Tutorial { attention, .. } => {
                let att = attention.forward(emb, &state.top()?, &memory.values)?;
                let (h, rnn) = self.run(&att.gru_input, state, mode)?;
                Ok(Advance {
                    hidden: h,
                    state: DecoderState { rnn, feed: None },
                    attention: Some(att.weights),
                })
            }
        }
    }

    /// Every step at once, when the decoder's inputs are all known up front
    /// (teacher forcing): the same vectors as calling [`Decoder::advance`]
    /// step by step, from the start state, in one RNN pass and one batched
    /// attention, or, for the one-layer `tutorial` decoder on the fused
    /// kernel, one op over all steps. `None` for decoders whose input needs
    /// the previous step's output (`additive`, Luong with input feeding,
    /// a stacked `tutorial`).
    ///
    /// emb: `[B, T, E]` embedded gold inputs (after dropout) → hidden `[B, T, H]`.
    pub fn advance_all(
        &self,
        emb: &Tensor,
        memory: &Memory,
        mode: &mut Mode<'_>,
    ) -> Option<Result<Tensor>> {
        let run = |input: &Tensor, mode: &mut Mode<'_>| -> Result<Tensor> {
            let (b, t, _) = input.dims3()?;
            // Steps past a target's length produce outputs the loss masks
            // out, so every row simply runs all `t` steps.
            let (out, _) = self
                .rnn
                .forward(input, &vec![t; b], Some(&memory.init), mode)?;
            Ok(out)
        };
        match &self.context {
            Context::Plain { feed_context } => Some((|| {
                let input = match (feed_context, &memory.context) {
                    (true, Some(c)) => {
                        let (b, t, _) = emb.dims3()?;
                        let c = c.unsqueeze(1)?.broadcast_as((b, t, c.dim(1)?))?;
                        Tensor::cat(&[emb, &c.contiguous()?], 2)?
                    }
                    (true, None) => {
                        return Err(Error::Shape(
                            "the memory lacks the encoder context this decoder feeds".into(),
                        ));
                    }
                    (false, _) => emb.clone(),
                };
                run(&input, mode)
            })()),
            Context::Luong {
                attention,
                combine,
                input_feeding: false,
                ..
            } => Some((|| {
                let keys = memory
                    .keys
                    .as_ref()
                    .ok_or_else(|| Error::Shape("the memory lacks the attention keys".into()))?;
                let h = run(emb, mode)?;
                let att = attention.attend_all(&h, &memory.values, keys, &memory.mask)?;
                combine.forward_tanh(&Tensor::cat(&[&att.context, &h], 2)?)
            })()),
            Context::Tutorial { attention, .. } => self.tutorial_all(attention, emb, memory),
            _ => None,
        }
    }

    /// One RNN step: input `[B, I]` → (top output `[B, H]`, new state).
    fn run(
        &self,
        input: &Tensor,
        state: &DecoderState,
        mode: &mut Mode<'_>,
    ) -> Result<(Tensor, State)> {
        let b = input.dim(0)?;
        let (out, state) =
            self.rnn
                .forward(&input.unsqueeze(1)?, &vec![1; b], Some(&state.rnn), mode)?;
        Ok((out.squeeze(1)?, state))
    }

    /// Output-layer logits (with the output dropout): hidden `[.., H]` → `[.., V]`.
    pub fn logits(&self, hidden: &Tensor, mode: &mut Mode<'_>) -> Result<Tensor> {
        let x = self.out_dropout.forward(hidden, mode)?;
        self.out.forward(&x)
    }

    /// What the output layer reads: `hidden` after the output dropout.
    pub fn output_input(&self, hidden: &Tensor, mode: &mut Mode<'_>) -> Result<Tensor> {
        self.out_dropout.forward(hidden, mode)
    }

    /// Per-token losses of the output layer (`loss` of its logits, fused
    /// with the layer where `loss` allows) for inputs already through the
    /// output dropout ([`Decoder::output_input`]): `[N, H]`, targets `[N]` →
    /// `[N]`.
    pub fn input_losses(
        &self,
        x: &Tensor,
        targets: &Tensor,
        loss: &CrossEntropy,
    ) -> Result<Tensor> {
        loss.forward_linear(x, self.out.weight(), self.out.bias(), targets)
    }

    /// The highest-scoring token for each row of output-layer inputs
    /// ([`Decoder::output_input`], `[B, H]` → `[B]`, u32), outside the graph.
    pub fn best_tokens(&self, x: &Tensor) -> Result<Tensor> {
        let detached = |t: &Tensor| t.detach();
        let out = crate::nn::Linear::from_parts(
            detached(self.out.weight()),
            self.out.bias().map(detached),
        );
        Ok(out.forward(&x.detach())?.argmax(candle_core::D::Minus1)?)
    }

    /// Output-layer log-probabilities: hidden `[.., H]` → `[.., V]`.
    pub fn project(&self, hidden: &Tensor, mode: &mut Mode<'_>) -> Result<Tensor> {
        let logits = self.logits(hidden, mode)?;
        // Tracked logits take candle's `log_softmax`, which has a backward
        // pass (DESIGN §5 traps); constant ones the host kernel.
        log_softmax(&logits)
    }

    /// [`Decoder::project`] for decoding, where nothing is differentiated:
    /// the logits are detached, so a trainable model (validation during
    /// training) and a loaded one take the same kernel and agree bit for bit.
    pub fn step_log_probs(&self, hidden: &Tensor, mode: &mut Mode<'_>) -> Result<Tensor> {
        log_softmax(&self.logits(hidden, mode)?.detach())
    }
}
