//! Pretrained word vectors in a classifier's embedding table
//! (`--embeddings FILE`).

use candle_core::{DType, Tensor};

use crate::data::vectors::Embeddings;
use crate::nn::ParamStore;
use crate::text::Vocab;
use crate::{Error, Result};

/// How many vocabulary tokens a vector file covered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Coverage {
    /// Tokens other than the specials.
    pub tokens: usize,
    /// Of those, tokens the file has a vector for.
    pub found: usize,
}

/// Copies the vectors of `vectors` into the embedding table of `params`
/// for every token of `vocab` they hold (exactly, else lowercased).
pub(super) fn load_pretrained(
    params: &ParamStore,
    vocab: &Vocab,
    vectors: &Embeddings,
) -> Result<Coverage> {
    let var = params
        .get("embedding.weight")
        .ok_or_else(|| Error::Config("the classifier has no embedding table".into()))?;
    let dim = vectors.dim();
    let mut table: Vec<f32> = var
        .as_tensor()
        .to_dtype(DType::F32)?
        .flatten_all()?
        .to_vec1()?;
    let specials = vocab.specials().0.len();
    let mut found = 0;
    for (id, row) in table.chunks_exact_mut(dim).enumerate().skip(specials) {
        let token = vocab.token(id as u32).unwrap_or_default();
        let hit = vectors
            .get(token)
            .or_else(|| vectors.get(&token.to_lowercase()));
        if let Some(v) = hit {
            row.copy_from_slice(v);
            found += 1;
        }
    }
    let t = Tensor::from_vec(table, var.dims(), var.device())?.to_dtype(var.dtype())?;
    var.set(&t)?;
    Ok(Coverage {
        tokens: vocab.len() - specials,
        found,
    })
}
