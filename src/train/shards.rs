//! Data-parallel gradients: a batch split into shards, each run forward and
//! backward on its own rayon task, and the shards' gradients summed — the
//! whole batch's gradient up to summation order.

use candle_core::backprop::GradStore;
use rand::{SeedableRng, rngs::StdRng};
use rayon::prelude::*;

use super::{BatchStats, Task};
use crate::nn::Mode;
use crate::nn::kernels::inplace;
use crate::nn::record::{GradRecorder, RowGrad, fold_into_dense};
use crate::{Error, Result};

/// The sum of the shards' gradients of `vars` (each shard's already weighted
/// by its share of the batch): the whole batch's gradient up to summation order.
pub fn sum_gradients(
    shards: Vec<GradStore>,
    vars: &[(String, candle_core::Var)],
) -> Result<GradStore> {
    let mut shards = shards.into_iter();
    let mut acc = shards
        .next()
        .ok_or_else(|| Error::Config("a batch split into no shards".into()))?;
    for grads in shards {
        for (_, var) in vars {
            if let Some(g) = grads.get(var.as_tensor()) {
                let sum = match acc.get(var.as_tensor()) {
                    // A stored gradient is a buffer the backward pass made for
                    // it alone: adding into it in place changes nothing else.
                    Some(a) if inplace::update1(a, g, &inplace::AddAssign)? => continue,
                    Some(a) => (a + g)?,
                    None => g.clone(),
                };
                acc.insert(var.as_tensor(), sum);
            }
        }
    }
    Ok(acc)
}

/// The batch's gradient from its shards' (each already weighted), with
/// what `recorder` recorded ([`GradRecorder::collect`]): the tables it
/// records as rows come back as row gradients (those of a table that also
/// has a dense gradient added into it), every other parameter's gradient
/// summed by [`sum_gradients`].
pub fn batch_gradients(
    mut shards: Vec<GradStore>,
    vars: &[(String, candle_core::Var)],
    recorder: Option<&GradRecorder>,
) -> Result<(GradStore, Vec<RowGrad>)> {
    let rows = match recorder {
        Some(r) => r.collect(&mut shards)?,
        None => Vec::new(),
    };
    let mut grads = sum_gradients(shards, vars)?;
    let rows = fold_into_dense(&mut grads, rows)?;
    Ok((grads, rows))
}

/// The loss of `batch` at optimizer step `step` and its gradients, with
/// what the batch reported besides its loss. With `shards` > 1 and a task
/// that splits batches ([`Task::split`]), each shard runs forward and
/// backward on its own rayon task (candle's intra-op parallelism is off: it
/// costs more than it gains at these sizes) and the weighted shard gradients
/// are summed. Tables `recorder` records come back as row gradients. Dropout
/// masks come from `(seed, step)` and the shard's index, so a run is the
/// same for the same seed and shard count.
pub(super) fn gradients<T: Task + Sync>(
    task: &T,
    batch: &T::Batch,
    seed: u64,
    (step, shards): (u64, usize),
    vars: &[(String, candle_core::Var)],
    recorder: &GradRecorder,
) -> Result<(f64, GradStore, Vec<RowGrad>, BatchStats)>
where
    T::Batch: Send + Sync,
{
    let step_seed = mix(seed, step);
    let shards = match shards {
        0 | 1 => Vec::new(),
        n => task.split(batch, n)?,
    };
    if shards.is_empty() {
        let mut rng = StdRng::seed_from_u64(step_seed);
        let (loss, stats) = task.loss_with_stats(batch, &mut Mode::Train(&mut rng))?;
        let value = scalar(&loss)?;
        let (grads, rows) = batch_gradients(vec![loss.backward()?], vars, Some(recorder))?;
        return Ok((value, grads, rows, stats));
    }
    // Rayon tasks, not plain threads: candle's element-wise kernels run
    // `par_iter` on the global pool, and from a plain thread that hands
    // the work to a pool worker and blocks, which serialises the shards.
    let results: Vec<Result<(f64, GradStore, BatchStats)>> = shards
        .par_iter()
        .enumerate()
        .map(|(k, (shard, weight))| {
            let mut rng = StdRng::seed_from_u64(mix(step_seed, k as u64 + 1));
            let (loss, stats) = task.loss_with_stats(shard, &mut Mode::Train(&mut rng))?;
            let value = scalar(&loss)? * weight;
            Ok((value, loss.affine(*weight, 0.0)?.backward()?, stats))
        })
        .collect();
    let mut total = 0.0;
    let mut all = Vec::with_capacity(results.len());
    let mut stats = BatchStats::default();
    for r in results {
        let (value, grads, shard_stats) = r?;
        total += value;
        all.push(grads);
        stats.merge(&shard_stats);
    }
    let (grads, rows) = batch_gradients(all, vars, Some(recorder))?;
    Ok((total, grads, rows, stats))
}

/// A scalar loss as f64.
fn scalar(loss: &candle_core::Tensor) -> Result<f64> {
    Ok(f64::from(
        loss.to_dtype(candle_core::DType::F32)?.to_scalar::<f32>()?,
    ))
}

/// A 64-bit mix (splitmix64) so neighbouring steps get unrelated dropout seeds.
fn mix(seed: u64, step: u64) -> u64 {
    let mut z = seed ^ step.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
