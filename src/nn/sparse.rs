//! Row (sparse) gradients for embedding tables, PyTorch's
//! `nn.Embedding(sparse=True)`: the gradient of a table is its looked-up
//! rows' gradients alone, for optimizers that update only those rows
//! exactly as the dense gradient would (plain SGD: rows without a gradient
//! do not move).
//!
//! Through the graph a lookup's backward pass zero-fills a gradient the
//! size of the table and adds the rows into it, and the optimizer then
//! passes over the whole table: at batch 1 the tutorial model's two tables
//! (1.8 M values for 16 looked-up rows) cost more than the rest of its step.
//!
//! While a [`RowRecorder`] is alive for a table, a lookup takes its rows
//! from the detached table and adds a fresh *row variable*, `[n, D]` of
//! −0.0 (adding −0.0 leaves every value as it is, bit for bit). The backward
//! pass then delivers the rows' gradients to the row variable, `n·D` values,
//! and none to the table. The lookup notes (row variable, ids) with the
//! table; after backward, [`RowRecorder::collect`] reads each shard's row
//! gradients from its `GradStore` and merges them per table into a
//! [`RowGrad`]: per shard in lookup order from zero, then across shards in
//! shard order, as `index_add` and the shard sum add them into the dense
//! gradient, so a row holds the dense gradient's bits (for one lookup of a
//! table per shard; several are added in forward order where the graph
//! takes backward order). The padding row never gets a gradient.
//!
//! Lookups note themselves in a process-wide table keyed by the table's
//! tensor id, so the layers need no extra argument; only tables a recorder
//! was started for are recorded, and the recorder forgets them when dropped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex, MutexGuard};

use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor, TensorId, Var, WithDType};

use crate::nn::kernels::read_cpu;
use crate::{Error, Result};

/// One lookup's row variable and ids.
struct Lookup {
    rows: Tensor,
    ids: Vec<u32>,
    padding: Option<u32>,
}

/// Recorded tables (by id) and their lookups since the last collect.
fn registry() -> MutexGuard<'static, HashMap<TensorId, Vec<Lookup>>> {
    static REGISTRY: LazyLock<Mutex<HashMap<TensorId, Vec<Lookup>>>> =
        LazyLock::new(Mutex::default);
    // A panic while holding the lock leaves plain data behind: keep using it.
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Live recorders: lookups skip the lock while there are none.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// A table's gradient as rows: `rows[i]` is the gradient of row `ids[i]`
/// (ascending, distinct); every other row's is zero.
#[derive(Clone, Debug)]
pub struct RowGrad {
    /// The table.
    pub var: Var,
    /// The rows with a gradient, ascending.
    pub ids: Vec<u32>,
    /// `[ids.len(), D]`, in the table's dtype.
    pub rows: Tensor,
}

/// Records the lookups of some tables as row gradients (see the module
/// docs) for as long as it lives.
#[derive(Debug)]
pub struct RowRecorder {
    tables: Vec<Var>,
}

impl RowRecorder {
    /// Starts recording every two-dimensional parameter of `vars` that a
    /// lookup reads (others are never looked up, so recording them costs
    /// nothing).
    pub fn start(vars: &[(String, Var)]) -> Self {
        let tables: Vec<Var> = vars
            .iter()
            .filter(|(_, v)| v.rank() == 2)
            .map(|(_, v)| v.clone())
            .collect();
        let mut reg = registry();
        for t in &tables {
            reg.insert(t.id(), Vec::new());
        }
        LIVE.fetch_add(1, Ordering::SeqCst);
        RowRecorder { tables }
    }

    /// The row gradients of the recorded tables from the shards' gradient
    /// stores (in shard order; each shard's loss already weighted), and
    /// forgets every lookup noted so far, with a gradient or not (a lookup
    /// outside training, say).
    pub fn collect(&self, shards: &[&GradStore]) -> Result<Vec<RowGrad>> {
        let pending: Vec<(Var, Vec<Lookup>)> = {
            let mut reg = registry();
            self.tables
                .iter()
                .filter_map(|t| {
                    let lookups = std::mem::take(reg.get_mut(&t.id())?);
                    (!lookups.is_empty()).then(|| (t.clone(), lookups))
                })
                .collect()
        };
        let mut out = Vec::new();
        for (var, lookups) in pending {
            let merged = match var.dtype() {
                DType::F32 => merge::<f32>(&var, &lookups, shards)?,
                DType::F64 => merge::<f64>(&var, &lookups, shards)?,
                other => {
                    return Err(Error::Config(format!(
                        "row gradients need an f32 or f64 table, not {other:?}"
                    )));
                }
            };
            out.extend(merged);
        }
        Ok(out)
    }
}

impl Drop for RowRecorder {
    fn drop(&mut self) {
        let mut reg = registry();
        for t in &self.tables {
            reg.remove(&t.id());
        }
        LIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Adds the row gradients of tables that also have a dense gradient in
/// `grads` (a table tied to an output layer) into that gradient, and
/// returns the others. Equal to the dense path up to summation order.
pub fn fold_into_dense(grads: &mut GradStore, rows: Vec<RowGrad>) -> Result<Vec<RowGrad>> {
    let mut rest = Vec::with_capacity(rows.len());
    for r in rows {
        match grads.get(r.var.as_tensor()) {
            Some(dense) => {
                let ids = Tensor::new(r.ids.as_slice(), dense.device())?;
                let sum = dense.index_add(&ids, &r.rows, 0)?;
                grads.insert(r.var.as_tensor(), sum);
            }
            None => rest.push(r),
        }
    }
    Ok(rest)
}

/// One table's lookups merged into a [`RowGrad`] (`None` when no lookup
/// got a gradient).
fn merge<T: WithDType + std::ops::AddAssign>(
    var: &Var,
    lookups: &[Lookup],
    shards: &[&GradStore],
) -> Result<Option<RowGrad>> {
    let d = var.dim(1)?;
    let mut total: HashMap<u32, Vec<T>> = HashMap::new();
    for grads in shards {
        // This shard's rows, each from zero in lookup order.
        let mut shard: HashMap<u32, Vec<T>> = HashMap::new();
        let mut order = Vec::new();
        for lk in lookups {
            let Some(g) = grads.get(&lk.rows) else {
                continue;
            };
            read_cpu::<T, _>(&g.contiguous()?, |g| {
                for (&id, row) in lk.ids.iter().zip(g.chunks(d)) {
                    if Some(id) == lk.padding {
                        continue;
                    }
                    let acc = shard.entry(id).or_insert_with(|| {
                        order.push(id);
                        vec![T::zero(); d]
                    });
                    for (a, &v) in acc.iter_mut().zip(row) {
                        *a += v;
                    }
                }
                Ok(())
            })?;
        }
        for id in order {
            let Some(row) = shard.remove(&id) else {
                continue;
            };
            let acc = total.entry(id).or_insert_with(|| vec![T::zero(); d]);
            for (a, v) in acc.iter_mut().zip(row) {
                *a += v;
            }
        }
    }
    if total.is_empty() {
        return Ok(None);
    }
    let mut ids: Vec<u32> = total.keys().copied().collect();
    ids.sort_unstable();
    let mut rows = Vec::with_capacity(ids.len() * d);
    for id in &ids {
        if let Some(r) = total.get(id) {
            rows.extend_from_slice(r);
        }
    }
    let rows = Tensor::from_vec(rows, (ids.len(), d), var.device())?;
    Ok(Some(RowGrad {
        var: var.clone(),
        ids,
        rows,
    }))
}

/// The rows `ids` (`[N]`, u32) of `table` with their gradient recorded as
/// rows, when a [`RowRecorder`] is recording `table` and it is f32 or f64
/// on the CPU: `[N, D]`; `None` otherwise (the caller looks up through the
/// graph). Ids equal to `padding` get no gradient.
pub(crate) fn lookup(
    table: &Tensor,
    ids: &Tensor,
    padding: Option<usize>,
) -> Result<Option<Tensor>> {
    if LIVE.load(Ordering::SeqCst) == 0
        || !table.device().is_cpu()
        || !matches!(table.dtype(), DType::F32 | DType::F64)
        || !registry().contains_key(&table.id())
    {
        return Ok(None);
    }
    let rows = table.detach().embedding(ids)?;
    // −0.0, not 0.0: `x + (−0.0)` is `x` for every `x`, −0.0 included.
    let var = Var::from_tensor(&rows.zeros_like()?.neg()?)?;
    let out = (rows + var.as_tensor())?;
    let lookup = Lookup {
        rows: var.as_tensor().clone(),
        ids: ids.to_vec1::<u32>()?,
        padding: padding.map(|p| p as u32),
    };
    // The recorder may have stopped since the check: then it is not noted.
    if let Some(list) = registry().get_mut(&table.id()) {
        list.push(lookup);
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device};
    use rand::{SeedableRng, rngs::StdRng};

    use super::*;
    use crate::data::{PairBatch, PairSpecials};
    use crate::nn::{Cell, Mode, ParamStore};
    use crate::seq2seq::{DecoderKind, Seq2Seq, Seq2SeqConfig};
    use crate::train::{Optimizer, Sgd, SgdConfig, batch_gradients, clip_grad_norm_rows};

    const SP: PairSpecials = PairSpecials {
        pad: 0,
        sos: 2,
        eos: 3,
    };

    fn config(decoder: DecoderKind, tie_embeddings: bool) -> Seq2SeqConfig {
        Seq2SeqConfig {
            src_vocab: 17,
            tgt_vocab: 19,
            embed: 8,
            hidden: 8,
            cell: Cell::Gru,
            layers: 1,
            bidirectional: false,
            dropout: 0.1,
            out_dropout: 0.0,
            decoder,
            feed_context: false,
            input_feeding: false,
            max_length: (decoder == DecoderKind::Tutorial).then_some(6),
            tie_embeddings,
            pad_id: Some(0),
        }
    }

    /// Two shards of a batch whose rows repeat tokens within and across
    /// shards and hold padding, different at every step.
    fn shards(step: u32) -> Result<Vec<PairBatch>> {
        let s = |k: u32| -> Vec<Vec<u32>> {
            vec![vec![4 + k, 5, 4 + k, 3], vec![6 + (k + step) % 9, 3]]
        };
        let t = |k: u32| -> Vec<Vec<u32>> { vec![vec![4, 7 + k, 4], vec![8 + (k * step) % 9]] };
        (0..2)
            .map(|k| PairBatch::new(&s(k), &t(k), &SP, &Device::Cpu))
            .collect()
    }

    /// Trains `steps` SGD steps on two shards (clipped when `clip`), with
    /// the tables' gradients as rows or dense; returns every parameter's
    /// values and whether rows were used.
    fn train(cfg: &Seq2SeqConfig, rows: bool, clip: Option<f64>) -> Result<(Vec<Vec<f32>>, bool)> {
        let store = ParamStore::new(11);
        let model = Seq2Seq::new(cfg, store.var_builder(DType::F32, &Device::Cpu))?;
        let vars = store.vars();
        let sgd_cfg = SgdConfig {
            lr: 0.5,
            ..SgdConfig::default()
        };
        let mut sgd = Sgd::new(&sgd_cfg, vars.clone())?;
        let recorder = (rows && sgd.takes_rows()).then(|| RowRecorder::start(&vars));
        let mut used = false;
        for step in 0..4 {
            let grads = shards(step)?
                .iter()
                .enumerate()
                .map(|(k, shard)| {
                    let mut rng = StdRng::seed_from_u64(k as u64 + 10 * step as u64);
                    let loss = model.loss(shard, 1.0, 0.1, &mut Mode::Train(&mut rng))?;
                    Ok((loss * 0.5)?.backward()?)
                })
                .collect::<Result<Vec<_>>>()?;
            let (mut total, row_grads) = batch_gradients(grads, &vars, recorder.as_ref())?;
            for r in &row_grads {
                // A recorded table has its gradient as rows only.
                assert!(total.get(r.var.as_tensor()).is_none());
                used = true;
            }
            if let Some(max) = clip {
                clip_grad_norm_rows(&vars, &mut total, &row_grads, max)?;
            }
            sgd.step(&total)?;
            sgd.step_rows(&row_grads)?;
        }
        let values = vars
            .iter()
            .map(|(_, v)| Ok(v.as_tensor().flatten_all()?.to_vec1::<f32>()?))
            .collect::<Result<_>>()?;
        Ok((values, used))
    }

    /// Plain SGD from row gradients gives the dense path's weights bit for
    /// bit (padding, tokens repeated within and across shards, and global
    /// norm clipping included), for the tutorial decoder and a Luong one;
    /// with the output layer tied to the target table (rows folded into its
    /// dense gradient) equal to rounding.
    #[test]
    fn row_gradients_train_like_dense_ones() -> Result<()> {
        for decoder in [DecoderKind::Tutorial, DecoderKind::General] {
            for clip in [None, Some(0.05)] {
                let cfg = config(decoder, false);
                let (dense, dense_rows) = train(&cfg, false, clip)?;
                let (sparse, used) = train(&cfg, true, clip)?;
                assert!(!dense_rows && used, "{decoder:?}: rows were not recorded");
                assert!(dense == sparse, "{decoder:?} clip {clip:?}: weights differ");
            }
        }
        let cfg = config(DecoderKind::General, true);
        let (dense, _) = train(&cfg, false, Some(0.05))?;
        let (sparse, used) = train(&cfg, true, Some(0.05))?;
        assert!(used, "the source table is still recorded");
        for (d, s) in dense.iter().zip(&sparse) {
            for (a, b) in d.iter().zip(s) {
                assert!((a - b).abs() <= 1e-5 * a.abs().max(1.0), "{a} vs {b}");
            }
        }
        Ok(())
    }

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
        let recorder = RowRecorder::start(&store.vars());
        let out = emb.forward(&ids)?;
        assert_eq!(out.to_vec3::<f32>()?, emb.forward(&ids)?.to_vec3::<f32>()?);
        let grads = out.affine(2.0, 0.0)?.sum_all()?.backward()?;
        assert!(grads.get(emb.weight()).is_none());
        let rows = recorder.collect(&[&grads])?;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].ids, [1, 2]);
        assert_eq!(rows[0].rows.to_vec2::<f32>()?, [[4.0; 4], [2.0; 4]]);
        // Looked up (above, for the comparison) without a backward pass.
        assert!(recorder.collect(&[&grads])?.is_empty());
        drop(recorder);
        let after = emb.forward(&ids)?.sum_all()?.backward()?;
        assert!(after.get(emb.weight()).is_some());
        assert!(!registry().contains_key(&emb.weight().id()));
        Ok(())
    }
}
