//! The many-to-one classifier of the lessons: Embedding → `Rnn` → pooling →
//! MLP head (Linear, ReLU, dropout, Linear) → class logits.
//!
//! Pooling turns the RNN's outputs `[B, T, D]` (`D` = directions × hidden)
//! into one vector per sequence:
//! - `last`: the final state of the top layer, all directions concatenated
//!   (each sequence's state at its own last step: the lessons' `h_n`);
//! - `mean` / `max`: over the real (unpadded) steps;
//! - `attention`: `Linear(D, 1)` scores, a masked softmax, the weighted sum
//!   (the Made-With-ML lesson); its weights explain a prediction;
//! - `dot`: dot-product attention of the final state over the steps (Luong
//!   et al., 2015, with the sequence's own summary as the query), the
//!   context concatenated with the final state (`[B, 2D]`, the Neuromatch
//!   bonus); its weights explain a prediction too;
//! - `mask`: the lecture's attender/predictor (`AttentionClassifier`): an
//!   attender RNN reads the embeddings and gives each token a gate
//!   `σ(Linear(D, 1))` in (0, 1); the predictor (the main RNN) reads the
//!   gated embeddings and its final state is classified; training adds
//!   `mask_sparsity ×` the mean gate over real tokens to the loss, so the
//!   model learns to keep few tokens. The gates explain a prediction (they
//!   do not sum to 1).
//!
//! The `bag` encoder reads no sequence at all: the mean of the token
//! embeddings goes straight to the head — fastText's classifier (Joulin et
//! al., 2017) when the tokens include n-grams (`TextConfig::ngrams`). It
//! trains in a fraction of an RNN's time and errs on other names than the
//! RNN does, so the two ensemble well (`classify ensemble --weights`).
//!
//! Parameter paths are PyTorch-like: `embedding.weight`, `rnn.weight_ih_l0`…,
//! `pool.w`/`pool.b`, `head.0.*`, `head.1.*`.

use candle_core::{D, DType, Device, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

use crate::nn::masked_softmax;
use crate::nn::{
    AttentionPooling, Cell, Dropout, Embedding, EmbeddingConfig, Linear, LinearConfig, Mode, Rnn,
    RnnConfig,
};
use crate::{Error, Result};

/// How the RNN's outputs become one vector per sequence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// The final state of the top layer, all directions (the lessons).
    Last,
    /// The mean over real steps.
    Mean,
    /// The element-wise max over real steps.
    Max,
    /// Learned attention weights over the steps (explains predictions).
    #[default]
    Attention,
    /// Dot attention with the final state as query, concatenated with it.
    Dot,
    /// A sigmoid gate per token from an attender RNN; a sparsity penalty.
    Mask,
}

/// What reads the embedded tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoder {
    /// The recurrent network, then the pooling.
    #[default]
    Rnn,
    /// No network: the mean of the token embeddings (pooling must be
    /// `mean`; the RNN settings are unused).
    Bag,
}

/// The classifier's architecture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassifierConfig {
    /// Vocabulary size (filled in from the data).
    pub vocab: usize,
    /// Number of classes (filled in from the data).
    pub classes: usize,
    /// The `<pad>` id: its embedding row stays zero.
    pub pad_id: Option<u32>,
    /// Embedding width.
    pub embed: usize,
    /// The recurrent network, or a bag of tokens.
    pub encoder: Encoder,
    /// Recurrent cell.
    pub cell: Cell,
    /// Hidden units per direction.
    pub hidden: usize,
    /// Stacked recurrent layers.
    pub layers: usize,
    /// Whether the RNN also reads right to left.
    pub bidirectional: bool,
    /// Dropout on the embeddings, between RNN layers and in the head.
    pub dropout: f32,
    /// Pooling over the steps.
    pub pooling: Pooling,
    /// Width of the head's hidden layer; 0: no hidden layer, the head is one
    /// linear map (fastText's).
    pub head_hidden: usize,
    /// Keep the embedding table fixed (pretrained vectors, PyTorch's
    /// `from_pretrained(freeze=True)`).
    pub freeze_embeddings: bool,
    /// Weight λ of the gates' mean in the loss (`mask` pooling only).
    pub mask_sparsity: f32,
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        ClassifierConfig {
            vocab: 0,
            classes: 0,
            pad_id: Some(0),
            embed: 64,
            encoder: Encoder::Rnn,
            cell: Cell::Gru,
            hidden: 128,
            layers: 1,
            bidirectional: true,
            dropout: 0.2,
            pooling: Pooling::Attention,
            head_hidden: 128,
            freeze_embeddings: false,
            mask_sparsity: 0.05,
        }
    }
}

impl ClassifierConfig {
    /// Checks sizes.
    pub fn validate(&self) -> Result<()> {
        if self.vocab == 0 || self.classes < 2 {
            return Err(Error::Config(format!(
                "a classifier needs a vocabulary and at least 2 classes (got {} tokens, {} classes)",
                self.vocab, self.classes
            )));
        }
        if self.embed == 0 || self.hidden == 0 || self.layers == 0 {
            return Err(Error::Config(
                "embed, hidden and layers must be at least 1".into(),
            ));
        }
        if !(self.mask_sparsity >= 0.0 && self.mask_sparsity.is_finite()) {
            return Err(Error::Config(format!(
                "mask_sparsity must be ≥ 0, got {}",
                self.mask_sparsity
            )));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::Config(format!(
                "dropout must be in [0, 1), got {}",
                self.dropout
            )));
        }
        if self.encoder == Encoder::Bag && self.pooling != Pooling::Mean {
            return Err(Error::Config(format!(
                "the bag encoder averages its token vectors: its pooling is `mean`, not `{}`",
                format!("{:?}", self.pooling).to_lowercase()
            )));
        }
        Ok(())
    }

    fn rnn(&self) -> RnnConfig {
        RnnConfig {
            cell: self.cell,
            input: self.embed,
            hidden: self.hidden,
            layers: self.layers,
            bidirectional: self.bidirectional,
            dropout: if self.layers > 1 { self.dropout } else { 0.0 },
        }
    }
}

/// What a forward pass returns.
#[derive(Clone, Debug)]
pub struct Classified {
    /// `[B, classes]`.
    pub logits: Tensor,
    /// `[B, T]` attention weights (attention and dot pooling: each row sums
    /// to 1 over the sequence's real steps; mask pooling: the gates, each in
    /// (0, 1), 0 on padding).
    pub attention: Option<Tensor>,
    /// A scalar to add to the training loss (mask pooling's sparsity term).
    pub penalty: Option<Tensor>,
}

/// An RNN sequence classifier.
#[derive(Clone, Debug)]
pub struct Classifier {
    cfg: ClassifierConfig,
    embedding: Embedding,
    /// `None` for the bag encoder.
    rnn: Option<Rnn>,
    pool: Option<AttentionPooling>,
    /// Mask pooling's attender: its RNN and gate scores.
    attender: Option<(Rnn, Linear)>,
    dropout: Dropout,
    /// The head's hidden layer (`None` when `head_hidden` is 0).
    hidden: Option<Linear>,
    out: Linear,
    device: Device,
}

impl crate::nn::Rebuild for Classifier {
    type Config = ClassifierConfig;
    fn build(cfg: &ClassifierConfig, vb: VarBuilder<'static>) -> Result<Self> {
        Classifier::new(cfg, vb)
    }
    fn rebuild_config(&self) -> &ClassifierConfig {
        self.config()
    }
}

impl Classifier {
    /// Builds the model under `vb`.
    pub fn new(cfg: &ClassifierConfig, vb: VarBuilder) -> Result<Self> {
        cfg.validate()?;
        let rnn_cfg = cfg.rnn();
        let width = match cfg.encoder {
            Encoder::Rnn => rnn_cfg.output_size(),
            Encoder::Bag => cfg.embed,
        };
        let pooled = match cfg.pooling {
            Pooling::Dot => 2 * width,
            _ => width,
        };
        let embedding = Embedding::new(
            &EmbeddingConfig {
                padding_idx: cfg.pad_id.map(|p| p as usize),
                freeze: cfg.freeze_embeddings,
                ..EmbeddingConfig::new(cfg.vocab, cfg.embed)
            },
            vb.pp("embedding"),
        )?;
        let pool = match cfg.pooling {
            Pooling::Attention => Some(AttentionPooling::new(width, vb.pp("pool"))?),
            _ => None,
        };
        let lin = |i: usize, o: usize| LinearConfig {
            input: i,
            output: o,
            bias: true,
        };
        let attender = match cfg.pooling {
            Pooling::Mask => Some((
                Rnn::new(&rnn_cfg, vb.pp("attender").pp("rnn"))?,
                Linear::new(&lin(width, 1), vb.pp("attender").pp("score"))?,
            )),
            _ => None,
        };
        Ok(Classifier {
            cfg: cfg.clone(),
            embedding,
            rnn: match cfg.encoder {
                Encoder::Rnn => Some(Rnn::new(&rnn_cfg, vb.pp("rnn"))?),
                Encoder::Bag => None,
            },
            pool,
            attender,
            dropout: Dropout::new(cfg.dropout)?,
            hidden: match cfg.head_hidden {
                0 => None,
                h => Some(Linear::new(&lin(pooled, h), vb.pp("head").pp("0"))?),
            },
            // PyTorch's `nn.Sequential` numbering: the output layer follows
            // the hidden one (its ReLU and dropout hold no parameters).
            out: match cfg.head_hidden {
                0 => Linear::new(&lin(pooled, cfg.classes), vb.pp("head").pp("0"))?,
                h => Linear::new(&lin(h, cfg.classes), vb.pp("head").pp("1"))?,
            },
            device: vb.device().clone(),
        })
    }

    /// The architecture.
    pub fn config(&self) -> &ClassifierConfig {
        &self.cfg
    }

    /// The device the parameters live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Class logits of a padded batch: ids `[B, T]` (u32), `lengths[b]` in
    /// `1..=T`.
    pub fn forward(
        &self,
        ids: &Tensor,
        lengths: &[usize],
        mode: &mut Mode<'_>,
    ) -> Result<Classified> {
        let (b, t) = ids.dims2()?;
        let emb = self.dropout.forward(&self.embedding.forward(ids)?, mode)?;
        let mask: Vec<f32> = lengths
            .iter()
            .flat_map(|&l| (0..t).map(move |j| if j < l { 1.0 } else { 0.0 }))
            .collect();
        let mask = Tensor::from_vec(mask, (b, t), &self.device)?.to_dtype(emb.dtype())?;
        let (emb, gates) = match &self.attender {
            Some((rnn, score)) => {
                let (h, _) = rnn.forward(&emb, lengths, None, mode)?;
                let z = score.forward(&h)?.squeeze(2)?;
                // σ(z) from differentiable ops (1 / (1 + e^{−z})), zero on padding.
                let g = ((z.neg()?.exp()? + 1.0)?.recip()? * &mask)?;
                (emb.broadcast_mul(&g.unsqueeze(2)?)?, Some(g))
            }
            None => (emb, None),
        };
        let len = || -> Result<Tensor> {
            let len: Vec<f32> = lengths.iter().map(|&l| l as f32).collect();
            Ok(Tensor::from_vec(len, (b, 1), &self.device)?.to_dtype(emb.dtype())?)
        };
        let Some(rnn) = &self.rnn else {
            let sum = emb.broadcast_mul(&mask.unsqueeze(2)?)?.sum(1)?;
            return self.head(&sum.broadcast_div(&len()?)?, None, None, mode);
        };
        let (outputs, last) = rnn.forward(&emb, lengths, None, mode)?;
        let final_state = || -> Result<Tensor> {
            let dirs = self.cfg.rnn().directions();
            let h = last.h();
            let top = h.narrow(0, h.dim(0)? - dirs, dirs)?;
            // [dirs, B, H] → [B, dirs·H], forward direction first.
            Ok(top.transpose(0, 1)?.contiguous()?.reshape((b, ()))?)
        };
        let (pooled, attention) = match self.cfg.pooling {
            Pooling::Last => (final_state()?, None),
            Pooling::Mask => (final_state()?, gates.clone()),
            Pooling::Dot => {
                let q = final_state()?;
                // scores[b, t] = outputs[b, t, :] · q[b, :]
                let scores = outputs.matmul(&q.unsqueeze(2)?)?.squeeze(2)?;
                let weights = masked_softmax(&scores, &mask)?;
                let context = weights.unsqueeze(1)?.matmul(&outputs)?.squeeze(1)?;
                (Tensor::cat(&[&context, &q], 1)?, Some(weights))
            }
            Pooling::Mean => {
                // Outputs are zero past each length, so the sum is over real steps.
                (outputs.sum(1)?.broadcast_div(&len()?)?, None)
            }
            Pooling::Max => {
                let fill = ((mask.ones_like()? - &mask)? * -1e30)?;
                (outputs.broadcast_add(&fill.unsqueeze(2)?)?.max(1)?, None)
            }
            Pooling::Attention => {
                let pool = self
                    .pool
                    .as_ref()
                    .ok_or_else(|| Error::Config("attention pooling without its layer".into()))?;
                let att = pool.forward(&outputs, &mask)?;
                (att.context, Some(att.weights))
            }
        };
        let penalty = match &gates {
            Some(g) if self.cfg.mask_sparsity > 0.0 => {
                let real = lengths.iter().sum::<usize>().max(1) as f64;
                Some((g.sum_all()? * (f64::from(self.cfg.mask_sparsity) / real))?)
            }
            _ => None,
        };
        self.head(&pooled, attention, penalty, mode)
    }

    /// The MLP head over the pooled vectors.
    fn head(
        &self,
        pooled: &Tensor,
        attention: Option<Tensor>,
        penalty: Option<Tensor>,
        mode: &mut Mode<'_>,
    ) -> Result<Classified> {
        let mut x = self.dropout.forward(pooled, mode)?;
        if let Some(hidden) = &self.hidden {
            x = self.dropout.forward(&hidden.forward(&x)?.relu()?, mode)?;
        }
        Ok(Classified {
            logits: self.out.forward(&x)?,
            attention,
            penalty,
        })
    }

    /// Class probabilities `[B, classes]` (softmax of the logits).
    pub fn probabilities(&self, logits: &Tensor) -> Result<Tensor> {
        Ok(candle_nn::ops::softmax(
            &logits.to_dtype(DType::F32)?,
            D::Minus1,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::ParamStore;

    #[test]
    fn every_pooling_gives_logits_and_attention_sums_to_one() -> Result<()> {
        for pooling in [
            Pooling::Last,
            Pooling::Mean,
            Pooling::Max,
            Pooling::Attention,
            Pooling::Dot,
            Pooling::Mask,
        ] {
            let cfg = ClassifierConfig {
                vocab: 11,
                classes: 3,
                embed: 8,
                hidden: 6,
                layers: 2,
                head_hidden: 5,
                pooling,
                ..ClassifierConfig::default()
            };
            let store = ParamStore::new(1);
            let m = Classifier::new(&cfg, store.var_builder(DType::F32, &Device::Cpu))?;
            let ids = Tensor::new(&[[4u32, 5, 6, 7], [8, 9, 0, 0]], &Device::Cpu)?;
            let out = m.forward(&ids, &[4, 2], &mut Mode::Eval)?;
            assert_eq!(out.logits.dims(), [2, 3], "{pooling:?}");
            // Padding must not change a sequence's logits.
            let short = Tensor::new(&[[8u32, 9]], &Device::Cpu)?;
            let alone = m.forward(&short, &[2], &mut Mode::Eval)?;
            let a: Vec<f32> = out.logits.get(1)?.to_vec1()?;
            let b: Vec<f32> = alone.logits.get(0)?.to_vec1()?;
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() < 1e-5, "{pooling:?}: {a:?} vs {b:?}");
            }
            match (pooling, out.attention) {
                (Pooling::Attention | Pooling::Dot, Some(w)) => {
                    let w: Vec<Vec<f32>> = w.to_vec2()?;
                    assert!((w[0].iter().sum::<f32>() - 1.0).abs() < 1e-6);
                    assert!((w[1][0] + w[1][1] - 1.0).abs() < 1e-6);
                    assert_eq!((w[1][2], w[1][3]), (0.0, 0.0));
                }
                (Pooling::Mask, Some(g)) => {
                    let g: Vec<Vec<f32>> = g.to_vec2()?;
                    assert!(g[0].iter().all(|&x| x > 0.0 && x < 1.0), "{g:?}");
                    assert_eq!((g[1][2], g[1][3]), (0.0, 0.0));
                    let p = out.penalty.expect("mask pooling adds a penalty");
                    let p = p.to_scalar::<f32>()?;
                    // λ × mean gate: within (0, λ).
                    assert!(p > 0.0 && p < cfg.mask_sparsity, "{p}");
                }
                (Pooling::Attention | Pooling::Dot | Pooling::Mask, None) => {
                    panic!("no attention weights")
                }
                (_, w) => assert!(w.is_none()),
            }
        }
        Ok(())
    }

    /// The bag encoder with a linear head: logits are `W · mean(embeddings)
    /// + b` over the real tokens, and only `mean` pooling is accepted.
    #[test]
    fn a_bag_is_a_linear_map_of_the_mean_embedding() -> Result<()> {
        let cfg = ClassifierConfig {
            vocab: 11,
            classes: 3,
            embed: 4,
            encoder: Encoder::Bag,
            pooling: Pooling::Mean,
            head_hidden: 0,
            ..ClassifierConfig::default()
        };
        let store = ParamStore::new(3);
        let m = Classifier::new(&cfg, store.var_builder(DType::F32, &Device::Cpu))?;
        let mut names: Vec<String> = store.tensors().keys().cloned().collect();
        names.sort();
        assert_eq!(
            names,
            ["embedding.weight", "head.0.bias", "head.0.weight"],
            "no RNN, no hidden layer"
        );
        let ids = Tensor::new(&[[4u32, 5, 6], [8, 9, 0]], &Device::Cpu)?;
        let out = m.forward(&ids, &[3, 2], &mut Mode::Eval)?;
        assert!(out.attention.is_none());
        let table: Vec<Vec<f32>> = store.tensors()["embedding.weight"].to_vec2()?;
        let w: Vec<Vec<f32>> = store.tensors()["head.0.weight"].to_vec2()?;
        let bias: Vec<f32> = store.tensors()["head.0.bias"].to_vec1()?;
        let logits: Vec<Vec<f32>> = out.logits.to_vec2()?;
        for (row, toks) in [vec![4usize, 5, 6], vec![8, 9]].iter().enumerate() {
            let mean: Vec<f32> = (0..4)
                .map(|j| toks.iter().map(|&t| table[t][j]).sum::<f32>() / toks.len() as f32)
                .collect();
            for c in 0..3 {
                let want = bias[c] + (0..4).map(|j| w[c][j] * mean[j]).sum::<f32>();
                assert!((logits[row][c] - want).abs() < 1e-5, "{row} {c}");
            }
        }
        let attention = ClassifierConfig {
            pooling: Pooling::Attention,
            ..cfg
        };
        assert!(attention.validate().is_err());
        Ok(())
    }
}
