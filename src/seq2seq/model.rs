//! The encoder–decoder model (Sutskever et al., 2014; Bahdanau et al., 2015;
//! Luong et al., 2015): encoder → bridge → decoder, trained with (scheduled)
//! teacher forcing (Bengio et al., 2015) on the masked NLL of the real target
//! tokens, and decoded through [`decode::StepDecoder`](crate::decode::StepDecoder).
//!
//! Parameter paths are PyTorch-like: `encoder.embedding.weight`,
//! `encoder.rnn.weight_ih_l0`, `bridge.h.0.weight`, `decoder.embedding.weight`,
//! `decoder.rnn.*`, `decoder.attention.*`, `decoder.out.*` (see
//! [`Decoder`] for the rest).

use candle_core::{D, DType, Device, Tensor};
use candle_nn::VarBuilder;
use rand::Rng;

use super::Seq2SeqConfig;
use super::{Bridge, BridgeConfig, Decoder, DecoderKind, DecoderState, Encoder, Memory};
use crate::data::PairBatch;
use crate::decode::{Step, StepDecoder};
use crate::nn::kernels::{Kernel, default_kernel};
use crate::nn::{Mode, Rebuild, State};
use crate::train::{CrossEntropy, Reduction};
use crate::{Error, Result};

impl Rebuild for Seq2Seq {
    type Config = Seq2SeqConfig;
    fn build(cfg: &Seq2SeqConfig, vb: VarBuilder<'static>) -> Result<Self> {
        Seq2Seq::new(cfg, vb)
    }
    fn rebuild_config(&self) -> &Seq2SeqConfig {
        &self.cfg
    }
}

/// An RNN encoder–decoder.
#[derive(Clone, Debug)]
pub struct Seq2Seq {
    cfg: Seq2SeqConfig,
    encoder: Encoder,
    bridge: Bridge,
    decoder: Decoder,
    device: Device,
    kernel: Kernel,
}

impl Seq2Seq {
    /// Builds the model `cfg` describes under `vb` (the root: parameters are
    /// `encoder.*`, `bridge.*`, `decoder.*`).
    pub fn new(cfg: &Seq2SeqConfig, vb: VarBuilder) -> Result<Self> {
        cfg.validate()?;
        let bridge = BridgeConfig {
            cell: cfg.cell,
            layers: cfg.layers,
            directions: cfg.encoder_rnn().directions(),
            encoder_hidden: cfg.hidden,
            decoder_hidden: cfg.hidden,
        };
        // Asking twice for one name hands out the same variable.
        let embedding = match cfg.share_embeddings {
            true => vb.pp("decoder").pp("embedding"),
            false => vb.pp("encoder").pp("embedding"),
        };
        Ok(Seq2Seq {
            cfg: cfg.clone(),
            encoder: Encoder::new(cfg, vb.pp("encoder"), embedding)?,
            bridge: Bridge::new(&bridge, vb.pp("bridge"))?,
            decoder: Decoder::new(cfg, vb.pp("decoder"))?,
            device: vb.device().clone(),
            kernel: default_kernel(),
        })
    }

    /// The same model computing its training loss on `kernel` (see
    /// [`CrossEntropy::kernel`]); the recurrent layers keep the kernel they
    /// were built with.
    pub fn with_kernel(mut self, kernel: Kernel) -> Self {
        self.kernel = kernel;
        self
    }

    /// The architecture.
    pub fn config(&self) -> &Seq2SeqConfig {
        &self.cfg
    }

    /// The decoder.
    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    /// Encodes a padded source batch into the decoder's memory (attention keys
    /// computed here, once).
    ///
    /// src: `[B, S]` (u32), `lengths[b]` in `1..=S` → memory with values
    /// `[B, S, K]`, mask `[B, S]`, initial decoder state `[layers, B, H]`.
    pub fn encode(&self, src: &Tensor, lengths: &[usize], mode: &mut Mode<'_>) -> Result<Memory> {
        let (b, s) = src.dims2()?;
        let (outputs, last) = self.encoder.forward(src, lengths, mode)?;
        let init = self.bridge.forward(&last)?;
        let mask: Vec<f32> = lengths
            .iter()
            .flat_map(|&l| (0..s).map(move |j| if j < l { 1.0 } else { 0.0 }))
            .collect();
        let mask = Tensor::from_vec(mask, (b, s), &self.device)?.to_dtype(outputs.dtype())?;
        self.decoder.memory(&outputs, &mask, init)
    }

    /// Log-probabilities of every target step under (scheduled) teacher forcing.
    ///
    /// At step `t > 0` row `b` reads the gold token `tgt_in[b, t]` with
    /// probability `teacher_forcing` (coins drawn from `mode`'s RNG, before any
    /// dropout mask), else its own previous argmax. `1.0` is plain teacher
    /// forcing, `0.0` free running; both are deterministic and allowed in
    /// eval mode, anything between needs [`Mode::Train`].
    ///
    /// batch: src `[B, S]`, tgt_in `[B, T]` → log_probs `[B, T, V]`.
    pub fn forward_teacher(
        &self,
        batch: &PairBatch,
        teacher_forcing: f64,
        mode: &mut Mode<'_>,
    ) -> Result<Tensor> {
        if teacher_forcing >= 1.0 {
            check_ratio(teacher_forcing)?;
            let hidden = self.forced_hidden(batch, mode)?;
            return self.decoder.project(&hidden, mode);
        }
        let steps = self.sampled_steps(batch, teacher_forcing, mode, |h, mode| {
            let lp = self.decoder.project(h, mode)?;
            let own = lp.detach().argmax(D::Minus1)?;
            Ok((lp, own))
        })?;
        Ok(Tensor::stack(&steps, 1)?)
    }

    /// The steps of scheduled sampling (see [`Seq2Seq::forward_teacher`];
    /// `teacher_forcing < 1`, the step-by-step path): `per_step` turns each
    /// step's decoder output into what is kept and the row's own next
    /// token; the kept tensors, one a step.
    fn sampled_steps(
        &self,
        batch: &PairBatch,
        teacher_forcing: f64,
        mode: &mut Mode<'_>,
        mut per_step: impl FnMut(&Tensor, &mut Mode<'_>) -> Result<(Tensor, Tensor)>,
    ) -> Result<Vec<Tensor>> {
        check_ratio(teacher_forcing)?;
        if teacher_forcing >= 1.0 {
            return Err(Error::Config(
                "full teacher forcing runs all steps at once, not step by step".into(),
            ));
        }
        let (b, t) = batch.tgt_in.dims2()?;
        // Coins first (none when free running), so the dropout masks drawn later do not depend on them.
        let coins = match teacher_forcing {
            r if r <= 0.0 => None,
            r => {
                let rng = mode.rng().ok_or_else(|| {
                    Error::Config(format!(
                        "teacher forcing ratio {r} draws coins and needs training mode"
                    ))
                })?;
                let c: Vec<u8> = (0..t * b)
                    .map(|_| u8::from(rng.random::<f64>() < r))
                    .collect();
                Some(Tensor::from_vec(c, (t, b), &self.device)?)
            }
        };
        let memory = self.encode(&batch.src, &batch.src_lengths, mode)?;
        let mut state = self.decoder.start(&memory)?;
        let gold = batch.tgt_in.t()?.contiguous()?;
        let mut tokens = gold.get(0)?;
        let mut kept = Vec::with_capacity(t);
        for i in 0..t {
            let emb = self
                .decoder
                .embed(&tokens.unsqueeze(1)?, mode)?
                .squeeze(1)?;
            let step = self.decoder.advance(&emb, &state, &memory, mode)?;
            let (keep, own) = per_step(&step.hidden, mode)?;
            if i + 1 < t {
                tokens = match &coins {
                    Some(c) => c.get(i + 1)?.where_cond(&gold.get(i + 1)?, &own)?,
                    None => own,
                };
            }
            kept.push(keep);
            state = step.state;
        }
        Ok(kept)
    }

    /// The decoder's output vectors under full teacher forcing: every gold
    /// input is known up front, so they are embedded in one lookup, and
    /// decoders that allow it run all steps at once.
    ///
    /// batch: src `[B, S]`, tgt_in `[B, T]` → hidden `[B, T, H]`.
    fn forced_hidden(&self, batch: &PairBatch, mode: &mut Mode<'_>) -> Result<Tensor> {
        let t = batch.tgt_in.dim(1)?;
        let memory = self.encode(&batch.src, &batch.src_lengths, mode)?;
        let mut state = self.decoder.start(&memory)?;
        let emb = self.decoder.embed(&batch.tgt_in, mode)?;
        if let Some(hidden) = self.decoder.advance_all(&emb, &memory, mode) {
            return hidden;
        }
        let mut hidden = Vec::with_capacity(t);
        for i in 0..t {
            let step =
                self.decoder
                    .advance(&emb.narrow(1, i, 1)?.squeeze(1)?, &state, &memory, mode)?;
            hidden.push(step.hidden);
            state = step.state;
        }
        Ok(Tensor::stack(&hidden, 1)?)
    }

    /// The training loss: mean NLL (with label smoothing `ε`) over the real
    /// target tokens (`tgt_mask`), under [`Seq2Seq::forward_teacher`].
    pub fn loss(
        &self,
        batch: &PairBatch,
        teacher_forcing: f64,
        label_smoothing: f64,
        mode: &mut Mode<'_>,
    ) -> Result<Tensor> {
        // What the output layer reads at every step (after its dropout), so
        // the layer and the loss of all steps run as one fused op.
        let x = if teacher_forcing >= 1.0 {
            let hidden = self.forced_hidden(batch, mode)?;
            self.decoder.output_input(&hidden, mode)?
        } else {
            // Each step's own token comes from its logits outside the graph,
            // so the layer's weight gradient is still formed once, not once
            // a step.
            let inputs = self.sampled_steps(batch, teacher_forcing, mode, |h, mode| {
                let x = self.decoder.output_input(h, mode)?;
                let own = self.decoder.best_tokens(&x)?;
                Ok((x, own))
            })?;
            Tensor::stack(&inputs, 1)?
        };
        let (b, t, h) = x.dims3()?;
        let per = self.decoder.input_losses(
            &x.reshape((b * t, h))?,
            &batch.tgt_out.flatten_all()?,
            &self.cross_entropy(label_smoothing),
        )?;
        masked_mean_of(&per, &batch.tgt_mask)
    }

    /// The per-token loss with smoothing `ε` on this model's kernel.
    fn cross_entropy(&self, label_smoothing: f64) -> CrossEntropy {
        CrossEntropy {
            label_smoothing,
            reduction: Reduction::None,
            kernel: self.kernel,
            ..CrossEntropy::default()
        }
    }
}

/// A teacher forcing ratio must lie in `[0, 1]`.
fn check_ratio(teacher_forcing: f64) -> Result<()> {
    match (0.0..=1.0).contains(&teacher_forcing) {
        true => Ok(()),
        false => Err(Error::Config(format!(
            "teacher forcing ratio must be in [0, 1], got {teacher_forcing}"
        ))),
    }
}

/// `Σ loss_bt · mask_bt / Σ mask_bt` with PyTorch's label-smoothed NLL per
/// token; padded steps contribute nothing, whatever id they hold.
///
/// log_probs: `[B, T, V]`, targets: `[B, T]` (u32), mask: `[B, T]` → scalar.
pub fn masked_loss(
    log_probs: &Tensor,
    targets: &Tensor,
    mask: &Tensor,
    label_smoothing: f64,
) -> Result<Tensor> {
    masked_mean(log_probs, targets, mask, |x, y| {
        CrossEntropy {
            label_smoothing,
            reduction: Reduction::None,
            ..CrossEntropy::default()
        }
        .forward_log_probs(x, y)
    })
}

/// `Σ per_bt · mask_bt / Σ mask_bt` for the per-token losses `per` computes
/// from `[B·T, V]` inputs (log-probabilities or logits) and `[B·T]` targets.
///
/// inputs: `[B, T, V]`, targets: `[B, T]` (u32), mask: `[B, T]` → scalar.
fn masked_mean(
    inputs: &Tensor,
    targets: &Tensor,
    mask: &Tensor,
    per: impl Fn(&Tensor, &Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    let (b, t, v) = inputs.dims3()?;
    if targets.dims() != [b, t] || mask.dims() != [b, t] {
        return Err(Error::Shape(format!(
            "targets {:?} and mask {:?} must be [{b}, {t}] for inputs [{b}, {t}, {v}]",
            targets.dims(),
            mask.dims()
        )));
    }
    let per = per(&inputs.reshape((b * t, v))?, &targets.flatten_all()?)?;
    masked_mean_of(&per, mask)
}

/// `Σ per_i · mask_i / Σ mask_i`: per-token losses `[B·T]`, mask `[B, T]` → scalar.
fn masked_mean_of(per: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let mask = mask.to_dtype(per.dtype())?.flatten_all()?;
    Ok((per * &mask)?.sum_all()?.div(&mask.sum_all()?)?)
}

impl StepDecoder for Seq2Seq {
    type Memory = Memory;
    type State = DecoderState;

    fn start(&self, memory: &Memory) -> Result<DecoderState> {
        self.decoder.start(memory)
    }

    /// tokens: `[B]` (u32) → log_probs `[B, V]`, attention `[B, S]`
    /// (`[B, max_length]` for the tutorial decoder).
    fn step(
        &self,
        tokens: &Tensor,
        state: &DecoderState,
        memory: &Memory,
    ) -> Result<Step<DecoderState>> {
        if let Some(fused) = self.decoder.fused_step() {
            let prev = (state.rnn.h(), state.rnn.c(), state.feed.as_ref());
            let out = fused.step(tokens, prev, memory, &self.device)?;
            let rnn = match out.c {
                Some(c) => State::HC { h: out.h, c },
                None => State::H(out.h),
            };
            return Ok(Step {
                log_probs: out.log_probs,
                state: DecoderState {
                    rnn,
                    feed: out.feed,
                },
                attention: Some(out.attention),
            });
        }
        let mode = &mut Mode::Eval;
        let tokens = tokens.to_dtype(DType::U32)?.unsqueeze(1)?;
        let emb = self.decoder.embed(&tokens, mode)?.squeeze(1)?;
        let adv = self.decoder.advance(&emb, state, memory, mode)?;
        Ok(Step {
            log_probs: self.decoder.step_log_probs(&adv.hidden, mode)?,
            state: adv.state,
            attention: adv.attention,
        })
    }

    fn device(&self) -> &Device {
        &self.device
    }

    fn max_steps(&self) -> Option<usize> {
        match self.cfg.decoder {
            DecoderKind::Tutorial => self.decoder.max_steps(),
            _ => None,
        }
    }
}
