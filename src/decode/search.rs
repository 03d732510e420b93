//! The one batched left-to-right search loop behind greedy decoding and
//! sampling: they differ only in how the next token is chosen ([`Choose`]).
//!
//! Every row advances together; the chosen token's log-probability and the
//! step's attention row are recorded; a row stops on `<eos>` or when its length
//! budget is spent, and then leaves the batch (its state and memory rows are
//! dropped through [`Batched::select`]), so short outputs stop costing compute.

use candle_core::{DType, Device, Tensor};

use super::{Batched, Hypothesis, LengthLimit, Specials, Step, StepDecoder};
use crate::{Error, Result};

/// How a search picks the next token of every live row.
pub(crate) trait Choose {
    /// `log_probs`: `[N, V]`, row `i` belonging to original batch row
    /// `rows[i]`. Returns, per row, the chosen token and the model's
    /// log-probability of it.
    fn choose(&mut self, log_probs: &Tensor, rows: &[usize]) -> Result<Vec<(u32, f64)>>;
}

/// The step budget of every row (`<eos>` step included), after checking that
/// there is one source length per batch row.
pub(crate) fn budgets<M: StepDecoder>(
    model: &M,
    batch: usize,
    src_lengths: &[usize],
    limit: &LengthLimit,
    what: &str,
) -> Result<Vec<usize>> {
    if src_lengths.len() != batch {
        return Err(Error::Shape(format!(
            "{what}: {} source lengths for a batch of {batch}",
            src_lengths.len()
        )));
    }
    Ok(src_lengths
        .iter()
        .map(|&n| limit.steps(n, model.max_steps()))
        .collect())
}

/// A `u32 [N]` index tensor for [`Batched::select`].
pub(crate) fn index(rows: &[usize], device: &Device) -> Result<Tensor> {
    let idx: Vec<u32> = rows.iter().map(|&i| i as u32).collect();
    Ok(Tensor::from_vec(idx, rows.len(), device)?)
}

/// The step's attention on the host, one `Vec` per batch row, if the model attends.
pub(crate) fn attention_rows<S>(step: &Step<S>) -> Result<Option<Vec<Vec<f32>>>> {
    match &step.attention {
        Some(a) => Ok(Some(a.to_dtype(DType::F32)?.to_vec2::<f32>()?)),
        None => Ok(None),
    }
}

/// Decodes every row of `memory` left to right, picking tokens with `chooser`.
/// Returns one hypothesis per row, in order; `score` equals `log_prob`.
/// `on_token(row, token)` hears every token appended to a hypothesis as soon
/// as it is chosen (the ending `<eos>` is not one), so callers can stream.
pub(crate) fn left_to_right<M: StepDecoder, C: Choose>(
    model: &M,
    memory: &M::Memory,
    src_lengths: &[usize],
    specials: Specials,
    limit: &LengthLimit,
    chooser: &mut C,
    on_token: &mut dyn FnMut(usize, u32),
) -> Result<Vec<Hypothesis>> {
    let b = memory.batch_size();
    let budget = budgets(model, b, src_lengths, limit, "decoding")?;
    let mut hyps = vec![Hypothesis::default(); b];
    // `active[i]` is the original row of the i-th row still decoding.
    let mut active: Vec<usize> = (0..b).collect();
    // Only materialised once a row leaves; until then the caller's memory serves.
    let mut memory_rows = None::<M::Memory>;
    let mut state = model.start(memory)?;
    let device = model.device().clone();
    let mut tokens = Tensor::full(specials.sos, b, &device)?;
    let mut t = 0;
    while !active.is_empty() {
        let mem = memory_rows.as_ref().unwrap_or(memory);
        let step = model.step(&tokens, &state, mem)?;
        let chosen = chooser.choose(&step.log_probs, &active)?;
        let attention = attention_rows(&step)?;
        let mut keep = Vec::with_capacity(active.len());
        for (i, (&row, &(token, lp))) in active.iter().zip(&chosen).enumerate() {
            let h = &mut hyps[row];
            h.log_prob += lp;
            if let Some(a) = &attention {
                h.attention.push(a[i].clone());
            }
            if token == specials.eos {
                h.finished = true;
            } else {
                h.tokens.push(token);
                on_token(row, token);
                if t + 1 < budget[row] {
                    keep.push(i);
                }
            }
        }
        t += 1;
        if keep.is_empty() {
            break;
        }
        let next: Vec<u32> = keep.iter().map(|&i| chosen[i].0).collect();
        tokens = Tensor::from_vec(next, keep.len(), &device)?;
        if keep.len() == active.len() {
            state = step.state;
            continue;
        }
        let idx = index(&keep, &device)?;
        state = step.state.select(&idx)?;
        memory_rows = Some(mem.select(&idx)?);
        active = keep.iter().map(|&i| active[i]).collect();
    }
    for h in &mut hyps {
        h.score = h.log_prob;
    }
    Ok(hyps)
}
