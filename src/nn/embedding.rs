//! A lookup table of token vectors with PyTorch's `nn.Embedding` semantics.
//!
//! `weight [vocab, dim]` is drawn from N(0, 1) like PyTorch's. With a
//! `padding_idx`, that row is zeroed when freshly initialised and never
//! receives a gradient: the lookup returns the row's actual value (a loaded
//! checkpoint may hold a non-zero padding row) but the gradient flowing back to
//! it is exactly zero, as in PyTorch. A frozen table (`freeze`, PyTorch's
//! `from_pretrained(freeze=True)`) is detached and receives no gradient at all.

use candle_core::{DType, Tensor, Var};
use candle_nn::{Init, VarBuilder};

use crate::{Error, Result};

/// Sizes and options of an [`Embedding`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EmbeddingConfig {
    /// Number of rows (vocabulary size).
    pub vocab: usize,
    /// Width of each vector.
    pub dim: usize,
    /// A row (usually `<pad>`) that is zero at init and never gets a gradient.
    pub padding_idx: Option<usize>,
    /// Whether the table is frozen (no gradient for any row).
    pub freeze: bool,
}

impl EmbeddingConfig {
    /// A trainable table without padding row.
    pub fn new(vocab: usize, dim: usize) -> Self {
        EmbeddingConfig {
            vocab,
            dim,
            padding_idx: None,
            freeze: false,
        }
    }

    fn validate(&self) -> Result<()> {
        if self.vocab == 0 || self.dim == 0 {
            return Err(Error::Config(format!(
                "embedding needs vocab > 0 and dim > 0, got {}×{}",
                self.vocab, self.dim
            )));
        }
        match self.padding_idx {
            Some(p) if p >= self.vocab => Err(Error::Config(format!(
                "padding_idx {p} is outside the vocabulary of {}",
                self.vocab
            ))),
            _ => Ok(()),
        }
    }
}

/// Token ids → vectors.
#[derive(Clone, Debug)]
pub struct Embedding {
    /// `[vocab, dim]`; detached when frozen.
    weight: Tensor,
    cfg: EmbeddingConfig,
}

impl Embedding {
    /// Builds the table under `vb` (parameter `weight [vocab, dim]`, N(0, 1)).
    ///
    /// Pre-trained vectors load through the same constructor: put them in the
    /// `ParamStore` under this name (`ParamStore::from_tensors`) and they are
    /// used as they are, padding row included.
    pub fn new(cfg: &EmbeddingConfig, vb: VarBuilder) -> Result<Self> {
        cfg.validate()?;
        let fresh = !vb.contains_tensor("weight");
        let init = Init::Randn {
            mean: 0.0,
            stdev: 1.0,
        };
        let weight = vb.get_with_hints((cfg.vocab, cfg.dim), "weight", init)?;
        if let (true, Some(p)) = (fresh, cfg.padding_idx) {
            // PyTorch zeroes the padding row at init only; the returned tensor
            // shares its storage with the stored parameter, so this writes it.
            let zeros = Tensor::zeros((1, cfg.dim), weight.dtype(), weight.device())?;
            weight.slice_set(&zeros, 0, p)?;
        }
        Ok(Self::wrap(weight, *cfg))
    }

    /// A table holding `weights [vocab, dim]` as they are (PyTorch's
    /// `Embedding.from_pretrained`). Unless frozen the weight is a fresh
    /// trainable variable; recover it with `Var::from_tensor(emb.weight())`.
    pub fn from_pretrained(
        weights: &Tensor,
        freeze: bool,
        padding_idx: Option<usize>,
    ) -> Result<Self> {
        let (vocab, dim) = weights.dims2()?;
        let cfg = EmbeddingConfig {
            vocab,
            dim,
            padding_idx,
            freeze,
        };
        cfg.validate()?;
        let weight = Var::from_tensor(&weights.detach())?.as_tensor().clone();
        Ok(Self::wrap(weight, cfg))
    }

    fn wrap(weight: Tensor, cfg: EmbeddingConfig) -> Self {
        let weight = if cfg.freeze { weight.detach() } else { weight };
        Embedding { weight, cfg }
    }

    /// ids: [batch, seq] (u32) → [batch, seq, dim]
    pub fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let flat = ids.flatten_all()?;
        if let Some(rows) = super::record::lookup(&self.weight, &flat, self.cfg.padding_idx)? {
            return Ok(rows.reshape((b, t, self.cfg.dim))?);
        }
        let rows = self.weight.embedding(&flat)?;
        let rows = match self.cfg.padding_idx {
            Some(p) if !self.cfg.freeze => {
                // Positions holding the padding id take the detached row: same
                // value, zero gradient. Masking the [b*t, dim] lookup rather
                // than the [vocab, dim] table keeps the cost per token.
                let keep = flat.ne(p as u32)?.to_dtype(rows.dtype())?.unsqueeze(1)?;
                let pad = keep.affine(-1.0, 1.0)?;
                (rows.broadcast_mul(&keep)? + rows.detach().broadcast_mul(&pad)?)?
            }
            _ => rows,
        };
        Ok(rows.reshape((b, t, self.cfg.dim))?)
    }

    /// The table, `[vocab, dim]`.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The configuration.
    pub fn config(&self) -> &EmbeddingConfig {
        &self.cfg
    }

    /// The vector width.
    pub fn dim(&self) -> usize {
        self.cfg.dim
    }

    /// The dtype of the table.
    pub fn dtype(&self) -> DType {
        self.weight.dtype()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::ParamStore;
    use candle_core::Device;
    use std::collections::HashMap;

    fn ids() -> Result<Tensor> {
        Ok(Tensor::new(&[[3u32, 0, 1], [1, 1, 0]], &Device::Cpu)?)
    }

    fn row_grad_sums(emb: &Embedding, loss: &Tensor) -> Result<Option<Vec<f32>>> {
        let grads = loss.backward()?;
        match grads.get(emb.weight()) {
            None => Ok(None),
            Some(g) => Ok(Some(g.abs()?.sum(1)?.to_vec1()?)),
        }
    }

    #[test]
    fn padding_row_zero_at_init_and_gets_no_gradient() -> Result<()> {
        let store = ParamStore::new(5);
        let vb = store.var_builder(DType::F32, &Device::Cpu);
        let cfg = EmbeddingConfig {
            padding_idx: Some(0),
            ..EmbeddingConfig::new(4, 6)
        };
        let emb = Embedding::new(&cfg, vb.pp("emb"))?;
        let stored = store.get("emb.weight").map(|v| v.as_tensor().clone());
        let row0: Vec<f32> = stored
            .as_ref()
            .map_or(Ok(vec![]), |w| w.get(0)?.to_vec1())?;
        assert_eq!(row0, vec![0.0; 6], "padding row zeroed in the store");
        let out = emb.forward(&ids()?)?;
        assert_eq!(out.dims(), [2, 3, 6]);
        let w: Vec<f32> = emb.weight().get(3)?.to_vec1()?;
        assert_eq!(out.get(0)?.get(0)?.to_vec1::<f32>()?, w);
        let g = row_grad_sums(&emb, &(out.sqr()?.sum_all()? + out.sum_all()?)?)?;
        let g = g.unwrap_or_default();
        assert_eq!(g[0], 0.0, "padding row gets exactly zero gradient");
        assert!(g[1] > 0.0 && g[3] > 0.0, "used rows get gradient: {g:?}");
        assert_eq!(g[2], 0.0, "unused row");
        Ok(())
    }

    #[test]
    fn loaded_padding_row_keeps_its_value_but_no_gradient() -> Result<()> {
        let w = Tensor::arange(0f32, 12.0, &Device::Cpu)?.reshape((4, 3))?;
        let store = ParamStore::from_tensors(0, HashMap::from([("weight".to_string(), w)]))?;
        let cfg = EmbeddingConfig {
            padding_idx: Some(0),
            ..EmbeddingConfig::new(4, 3)
        };
        let emb = Embedding::new(&cfg, store.var_builder(DType::F32, &Device::Cpu))?;
        let out = emb.forward(&ids()?)?;
        assert_eq!(out.get(0)?.get(1)?.to_vec1::<f32>()?, [0.0, 1.0, 2.0]);
        let out2 = emb.forward(&Tensor::new(&[[0u32]], &Device::Cpu)?)?;
        assert_eq!(out2.flatten_all()?.to_vec1::<f32>()?, [0.0, 1.0, 2.0]);
        let g = row_grad_sums(&emb, &out.sum_all()?)?.unwrap_or_default();
        assert_eq!(g[0], 0.0);
        assert!(g[1] > 0.0);
        Ok(())
    }

    #[test]
    fn frozen_gets_no_gradient_and_pretrained_trains() -> Result<()> {
        let w = Tensor::ones((4, 2), DType::F32, &Device::Cpu)?;
        let frozen = Embedding::from_pretrained(&w, true, None)?;
        let out = frozen.forward(&ids()?)?;
        assert_eq!(out.sum_all()?.to_scalar::<f32>()?, 12.0);
        assert!(row_grad_sums(&frozen, &out.sum_all()?)?.is_none());
        let live = Embedding::from_pretrained(&w, false, Some(1))?;
        let g = row_grad_sums(&live, &live.forward(&ids()?)?.sum_all()?)?.unwrap_or_default();
        assert_eq!(g, [4.0, 0.0, 0.0, 2.0]);
        let store = ParamStore::new(1);
        let cfg = EmbeddingConfig {
            freeze: true,
            ..EmbeddingConfig::new(4, 2)
        };
        let emb = Embedding::new(&cfg, store.var_builder(DType::F32, &Device::Cpu))?;
        assert!(row_grad_sums(&emb, &emb.forward(&ids()?)?.sum_all()?)?.is_none());
        assert!(Embedding::from_pretrained(&w, false, Some(4)).is_err());
        Ok(())
    }
}
