//! Tests of `record` (kept beside it, in their own file; whole translation
//! models trained with it: `seq2seq/record_tests.rs`).

use candle_core::{DType, Device};

use super::*;
use crate::nn::ParamStore;

/// Without a recorder a lookup goes through the graph; with one the
/// rows' gradients (the padding row's excepted) come back summed per
/// row; a recorder forgets its tables when dropped, and lookups outside
/// a backward pass leave nothing behind after a collect.
#[test]
fn recording_starts_and_stops_with_the_recorder() -> Result<()> {
    let store = ParamStore::new(3);
    let vb = store.var_builder(DType::F32, &Device::Cpu);
    let cfg = crate::nn::EmbeddingConfig {
        padding_idx: Some(0),
        ..crate::nn::EmbeddingConfig::new(5, 4)
    };
    let emb = crate::nn::Embedding::new(&cfg, vb.pp("e"))?;
    let ids = Tensor::new(&[[1u32, 2, 0, 1]], &Device::Cpu)?;
    let dense = emb.forward(&ids)?.sum_all()?.backward()?;
    assert!(dense.get(emb.weight()).is_some());
    let recorder = GradRecorder::start(&store.vars(), true);
    let out = emb.forward(&ids)?;
    assert_eq!(out.to_vec3::<f32>()?, emb.forward(&ids)?.to_vec3::<f32>()?);
    let mut grads = vec![out.affine(2.0, 0.0)?.sum_all()?.backward()?];
    assert!(grads[0].get(emb.weight()).is_none());
    let rows = recorder.collect(&mut grads)?;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].ids, [1, 2]);
    assert_eq!(rows[0].rows.to_vec2::<f32>()?, [[4.0; 4], [2.0; 4]]);
    // Looked up (above, for the comparison) without a backward pass.
    assert!(recorder.collect(&mut grads)?.is_empty());
    drop(recorder);
    let after = emb.forward(&ids)?.sum_all()?.backward()?;
    assert!(after.get(emb.weight()).is_some());
    assert!(!registry().contains_key(&emb.weight().id()));
    Ok(())
}
