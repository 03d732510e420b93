//! The recurrent language model of the lessons (and of PyTorch's
//! `word_language_model` example): Embedding → dropout → `Rnn` → dropout →
//! a linear decoder to next-token logits, optionally tied to the embedding
//! table (Press & Wolf 2017, Inan et al. 2017).
//!
//! Conditioning ("generate a surname for a language", the PyTorch
//! char-RNN generation lesson): a learned vector per condition (the lesson's
//! one-hot category times a weight matrix) is concatenated to the input of
//! every step.
//!
//! Parameter paths follow the PyTorch example: `embedding.weight`,
//! `condition.weight`, `rnn.weight_ih_l0`…, `decoder.weight` (absent when
//! tied), `decoder.bias`.

use candle_core::{Device, Tensor};
use candle_nn::{Init, VarBuilder};
use serde::{Deserialize, Serialize};

use crate::decode::{Batched, Step, StepDecoder};
use crate::nn::{
    Cell, Dropout, Embedding, EmbeddingConfig, Linear, LinearConfig, Mode, Rnn, RnnConfig, State,
};
use crate::{Error, Result};

/// The language model's architecture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LmConfig {
    /// Vocabulary size (filled in from the data).
    pub vocab: usize,
    /// The `<pad>` id: its embedding row stays zero.
    pub pad_id: Option<u32>,
    /// Embedding width.
    pub embed: usize,
    /// Recurrent cell.
    pub cell: Cell,
    /// Hidden units.
    pub hidden: usize,
    /// Stacked recurrent layers.
    pub layers: usize,
    /// Dropout on the embeddings, between layers and on the top layer's outputs.
    pub dropout: f32,
    /// Share the embedding table with the output layer (needs `embed == hidden`).
    pub tie_weights: bool,
    /// Number of conditions (0: unconditioned; filled in from the data).
    pub conditions: usize,
    /// Width of a condition's vector.
    pub condition_embed: usize,
}

impl Default for LmConfig {
    /// A one-layer LSTM of 512 units over 64-wide embeddings, dropout 0.1.
    fn default() -> Self {
        LmConfig {
            vocab: 0,
            pad_id: Some(0),
            embed: 64,
            cell: Cell::Lstm,
            hidden: 512,
            layers: 1,
            dropout: 0.1,
            tie_weights: false,
            conditions: 0,
            condition_embed: 16,
        }
    }
}

impl LmConfig {
    /// Checks sizes.
    pub fn validate(&self) -> Result<()> {
        if self.vocab < 2 {
            return Err(Error::Config(format!(
                "a language model needs at least 2 tokens in its vocabulary, got {}",
                self.vocab
            )));
        }
        if self.embed == 0 || self.hidden == 0 || self.layers == 0 {
            return Err(Error::Config(
                "embed, hidden and layers must be at least 1".into(),
            ));
        }
        if self.conditions > 0 && self.condition_embed == 0 {
            return Err(Error::Config("condition_embed must be at least 1".into()));
        }
        if self.tie_weights && self.embed != self.hidden {
            return Err(Error::Config(format!(
                "tied weights need embed = hidden (got embed {} and hidden {}), as in PyTorch's example",
                self.embed, self.hidden
            )));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::Config(format!(
                "dropout must be in [0, 1), got {}",
                self.dropout
            )));
        }
        Ok(())
    }

    fn rnn(&self) -> RnnConfig {
        let cond = if self.conditions > 0 {
            self.condition_embed
        } else {
            0
        };
        RnnConfig {
            cell: self.cell,
            input: self.embed + cond,
            hidden: self.hidden,
            layers: self.layers,
            bidirectional: false,
            dropout: if self.layers > 1 { self.dropout } else { 0.0 },
        }
    }
}

/// An RNN language model.
#[derive(Clone, Debug)]
pub struct LanguageModel {
    cfg: LmConfig,
    embedding: Embedding,
    condition: Option<Embedding>,
    rnn: Rnn,
    dropout: Dropout,
    /// The output layer's weight `[V, H]` (the embedding table when tied) and bias.
    out_weight: Tensor,
    out_bias: Tensor,
    device: Device,
}

impl crate::nn::Rebuild for LanguageModel {
    type Config = LmConfig;
    fn build(cfg: &LmConfig, vb: VarBuilder<'static>) -> Result<Self> {
        LanguageModel::new(cfg, vb)
    }
    fn rebuild_config(&self) -> &LmConfig {
        self.config()
    }
}

impl LanguageModel {
    /// Builds the model under `vb`.
    pub fn new(cfg: &LmConfig, vb: VarBuilder) -> Result<Self> {
        cfg.validate()?;
        let embedding = Embedding::new(
            &EmbeddingConfig {
                padding_idx: cfg.pad_id.map(|p| p as usize),
                ..EmbeddingConfig::new(cfg.vocab, cfg.embed)
            },
            vb.pp("embedding"),
        )?;
        let condition = match cfg.conditions {
            0 => None,
            n => Some(Embedding::new(
                &EmbeddingConfig::new(n, cfg.condition_embed),
                vb.pp("condition"),
            )?),
        };
        let rnn = Rnn::new(&cfg.rnn(), vb.pp("rnn"))?;
        let (out_weight, out_bias) = if cfg.tie_weights {
            let bound = 1.0 / (cfg.hidden as f64).sqrt();
            let bias = vb.pp("decoder").get_with_hints(
                cfg.vocab,
                "bias",
                Init::Uniform {
                    lo: -bound,
                    up: bound,
                },
            )?;
            (embedding.weight().clone(), bias)
        } else {
            let lin = Linear::new(
                &LinearConfig {
                    input: cfg.hidden,
                    output: cfg.vocab,
                    bias: true,
                },
                vb.pp("decoder"),
            )?;
            let bias = lin
                .bias()
                .cloned()
                .ok_or_else(|| Error::Config("the decoder has no bias".into()))?;
            (lin.weight().clone(), bias)
        };
        Ok(LanguageModel {
            cfg: cfg.clone(),
            device: embedding.weight().device().clone(),
            embedding,
            condition,
            rnn,
            dropout: Dropout::new(cfg.dropout)?,
            out_weight,
            out_bias,
        })
    }

    /// The architecture.
    pub fn config(&self) -> &LmConfig {
        &self.cfg
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The recurrent stack's configuration (for zero states).
    pub fn rnn_config(&self) -> &RnnConfig {
        self.rnn.config()
    }

    /// The output layer: weight `[V, H]` and bias `[V]`, for fused losses.
    pub fn output_layer(&self) -> (&Tensor, &Tensor) {
        (&self.out_weight, &self.out_bias)
    }

    /// The top layer's outputs (after dropout) for every step.
    ///
    /// ids: `u32 [B, T]`; `lengths[b]` in `1..=T`; `conditions`: `u32 [B]`
    /// for a conditioned model; `init`: `[layers, B, H]` (zeros when `None`)
    /// → (`[B, T, H]`, the state after each row's last real step).
    pub fn hidden(
        &self,
        ids: &Tensor,
        lengths: &[usize],
        conditions: Option<&Tensor>,
        init: Option<&State>,
        mode: &mut Mode<'_>,
    ) -> Result<(Tensor, State)> {
        let (b, t) = ids.dims2()?;
        let x = self.dropout.forward(&self.embedding.forward(ids)?, mode)?;
        let x = match (&self.condition, conditions) {
            (Some(table), Some(c)) => {
                let v = table.forward(&c.unsqueeze(1)?)?; // [B, 1, C]
                let v = v.broadcast_as((b, t, self.cfg.condition_embed))?;
                Tensor::cat(&[&x, &v.contiguous()?], 2)?
            }
            (None, None) => x,
            (Some(_), None) => {
                return Err(Error::Config(
                    "this model is conditioned: give a condition (a label it was trained with)"
                        .into(),
                ));
            }
            (None, Some(_)) => {
                return Err(Error::Config(
                    "this model was trained without conditions".into(),
                ));
            }
        };
        let (out, state) = self.rnn.forward(&x, lengths, init, mode)?;
        Ok((self.dropout.forward(&out, mode)?, state))
    }

    /// Next-token logits of hidden states `[..., H]` → `[..., V]`.
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        let dims = hidden.dims().to_vec();
        let h = dims.last().copied().unwrap_or(0);
        let flat = hidden.reshape(((), h))?;
        let logits = flat
            .matmul(&self.out_weight.t()?)?
            .broadcast_add(&self.out_bias)?;
        let mut out = dims;
        if let Some(last) = out.last_mut() {
            *last = self.cfg.vocab;
        }
        Ok(logits.reshape(out)?)
    }

    /// The all-zero state for `batch` rows.
    pub fn zero_state(&self, batch: usize) -> Result<State> {
        State::zeros(
            self.rnn.config(),
            batch,
            self.embedding.dtype(),
            &self.device,
        )
    }
}

/// What generation reads at every step: the state after the prime and each
/// row's condition.
#[derive(Clone, Debug)]
pub struct LmMemory {
    /// The state to start from, `[layers, B, H]`.
    pub start: State,
    /// Conditions `u32 [B]` of a conditioned model.
    pub conditions: Option<Tensor>,
}

impl Batched for LmMemory {
    fn batch_size(&self) -> usize {
        self.start.h().dims().get(1).copied().unwrap_or(0)
    }

    fn select(&self, idx: &Tensor) -> Result<Self> {
        Ok(LmMemory {
            start: self.start.select(idx)?,
            conditions: self
                .conditions
                .as_ref()
                .map(|c| c.index_select(idx, 0))
                .transpose()?,
        })
    }
}

/// The recurrent state carried from step to step while generating.
#[derive(Clone, Debug)]
pub struct LmState(pub State);

impl Batched for LmState {
    fn batch_size(&self) -> usize {
        self.0.h().dims().get(1).copied().unwrap_or(0)
    }

    fn select(&self, idx: &Tensor) -> Result<Self> {
        Ok(LmState(self.0.select(idx)?))
    }
}

impl StepDecoder for LanguageModel {
    type Memory = LmMemory;
    type State = LmState;

    fn start(&self, memory: &LmMemory) -> Result<LmState> {
        Ok(LmState(memory.start.clone()))
    }

    fn step(&self, tokens: &Tensor, state: &LmState, memory: &LmMemory) -> Result<Step<LmState>> {
        let b = tokens.dims1()?;
        let ids = tokens.unsqueeze(1)?;
        let (out, next) = self.hidden(
            &ids,
            &vec![1; b],
            memory.conditions.as_ref(),
            Some(&state.0),
            &mut Mode::Eval,
        )?;
        let logits = self.logits(&out.squeeze(1)?)?;
        Ok(Step {
            // Detached: decoding differentiates nothing, and a trainable
            // model then takes the same kernel as a loaded one.
            log_probs: crate::nn::kernels::log_softmax::log_softmax(&logits.detach())?,
            state: LmState(next),
            attention: None,
        })
    }

    fn device(&self) -> &Device {
        &self.device
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{D, DType, Device, Tensor};

    use super::*;
    use crate::decode::{
        BeamConfig, BeamOptions, GreedyConfig, LengthLimit, SampleConfig, SampleOptions, Specials,
        beam_search, greedy, sample,
    };
    use crate::nn::ParamStore;

    fn model(conditions: usize, cell: Cell) -> Result<LanguageModel> {
        let cfg = LmConfig {
            vocab: 12,
            embed: 8,
            hidden: 16,
            layers: 2,
            cell,
            conditions,
            condition_embed: 4,
            ..LmConfig::default()
        };
        let store = ParamStore::new(3);
        LanguageModel::new(&cfg, store.var_builder(DType::F32, &Device::Cpu))
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> Result<f32> {
        Ok((a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?)
    }

    #[test]
    fn stepping_one_token_at_a_time_equals_the_sequence_forward() -> Result<()> {
        for cell in [Cell::Lstm, Cell::Gru] {
            let m = model(3, cell)?;
            let ids = Tensor::new(&[[4u32, 7, 2, 9, 5], [6, 6, 1, 0, 11]], &Device::Cpu)?;
            let cond = Tensor::new(&[2u32, 0], &Device::Cpu)?;
            let (h, _) = m.hidden(&ids, &[5, 5], Some(&cond), None, &mut Mode::Eval)?;
            let full = candle_nn::ops::log_softmax(&m.logits(&h)?, D::Minus1)?;
            let memory = LmMemory {
                start: m.zero_state(2)?,
                conditions: Some(cond),
            };
            let mut state = m.start(&memory)?;
            for t in 0..5 {
                let tokens = ids.narrow(1, t, 1)?.squeeze(1)?.contiguous()?;
                let step = m.step(&tokens, &state, &memory)?;
                let want = full.narrow(1, t, 1)?.squeeze(1)?;
                assert!(
                    max_diff(&step.log_probs, &want)? < 1e-5,
                    "{cell:?} step {t}"
                );
                state = step.state;
            }
        }
        Ok(())
    }

    #[test]
    fn tied_weights_share_the_embedding_table() -> Result<()> {
        let cfg = LmConfig {
            vocab: 10,
            embed: 16,
            hidden: 16,
            tie_weights: true,
            ..LmConfig::default()
        };
        let store = ParamStore::new(1);
        let m = LanguageModel::new(&cfg, store.var_builder(DType::F32, &Device::Cpu))?;
        assert!(store.get("decoder.weight").is_none());
        assert!(store.get("decoder.bias").is_some());
        let (w, _) = m.output_layer();
        let table = store.get("embedding.weight").map(|v| v.as_tensor().clone());
        assert_eq!(
            w.to_vec2::<f32>()?,
            table
                .map(|t| t.to_vec2::<f32>())
                .transpose()?
                .unwrap_or_default()
        );
        let untied = LmConfig { embed: 8, ..cfg };
        assert!(untied.validate().is_err(), "tying needs embed = hidden");
        Ok(())
    }

    #[test]
    fn a_conditioned_model_needs_its_condition() -> Result<()> {
        let m = model(3, Cell::Gru)?;
        let ids = Tensor::new(&[[4u32, 7]], &Device::Cpu)?;
        assert!(m.hidden(&ids, &[2], None, None, &mut Mode::Eval).is_err());
        let plain = model(0, Cell::Gru)?;
        let c = Tensor::new(&[0u32], &Device::Cpu)?;
        assert!(
            plain
                .hidden(&ids, &[2], Some(&c), None, &mut Mode::Eval)
                .is_err()
        );
        Ok(())
    }

    /// The searches' limiting cases on an untrained model (peaked by a low
    /// temperature only where the test says so): top-k = 1, beam 1 and a
    /// near-zero temperature all pick what greedy picks; a seed fixes samples.
    #[test]
    fn limiting_searches_equal_greedy_and_seeds_fix_samples() -> Result<()> {
        let m = model(0, Cell::Lstm)?;
        let rows = 3;
        let memory = LmMemory {
            start: m.zero_state(rows)?,
            conditions: None,
        };
        let specials = Specials { sos: 4, eos: 3 };
        let limit = LengthLimit {
            ratio: 0.0,
            extra: 12,
        };
        let lengths = vec![0; rows];
        let g = greedy(&m, &memory, &lengths, &GreedyConfig { specials, limit })?;
        let sampled = |options: SampleOptions, seed: u64| {
            sample(
                &m,
                &memory,
                &lengths,
                &SampleConfig {
                    specials,
                    limit,
                    options,
                    seed,
                },
            )
        };
        let top1 = sampled(
            SampleOptions {
                top_k: Some(1),
                ..SampleOptions::default()
            },
            9,
        )?;
        let cold = sampled(
            SampleOptions {
                temperature: 1e-6,
                ..SampleOptions::default()
            },
            9,
        )?;
        let beam = beam_search(
            &m,
            &memory,
            &lengths,
            &BeamConfig {
                specials,
                limit,
                options: BeamOptions {
                    size: 1,
                    alpha: 0.0,
                    n_best: 1,
                },
            },
        )?;
        for r in 0..rows {
            assert_eq!(top1[r].tokens, g[r].tokens, "top-k 1, row {r}");
            assert_eq!(cold[r].tokens, g[r].tokens, "temperature → 0, row {r}");
            assert_eq!(beam[r][0].tokens, g[r].tokens, "beam 1, row {r}");
        }
        let a = sampled(SampleOptions::default(), 5)?;
        let b = sampled(SampleOptions::default(), 5)?;
        let c = sampled(SampleOptions::default(), 6)?;
        let toks = |h: &[crate::decode::Hypothesis]| {
            h.iter().map(|x| x.tokens.clone()).collect::<Vec<_>>()
        };
        assert_eq!(toks(&a), toks(&b), "same seed, same samples");
        assert_ne!(toks(&a), toks(&c), "another seed, other samples");
        Ok(())
    }
}
