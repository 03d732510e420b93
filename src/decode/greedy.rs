//! Greedy decoding: at each step take the most probable token.
//!
//! Batched: every row advances together; rows that have produced `<eos>` or
//! reached their length budget leave the batch (their state and memory rows are
//! dropped through [`Batched::select`]), so short outputs stop costing compute.

use candle_core::{D, DType, Tensor};

use super::{Batched, Hypothesis, LengthLimit, Specials, StepDecoder};
use crate::Result;

/// Settings for [`greedy`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GreedyConfig {
    /// `<sos>` and `<eos>` ids.
    pub specials: Specials,
    /// Output length budget.
    pub limit: LengthLimit,
}

/// Decodes each row of `memory` greedily. `src_lengths[b]` is row `b`'s source
/// length (for the length budget). Returns one hypothesis per row, in order.
pub fn greedy<M: StepDecoder>(
    model: &M,
    memory: &M::Memory,
    src_lengths: &[usize],
    cfg: &GreedyConfig,
) -> Result<Vec<Hypothesis>> {
    let b = memory.batch_size();
    if src_lengths.len() != b {
        return Err(crate::Error::Shape(format!(
            "greedy decoding: {} source lengths for a batch of {b}",
            src_lengths.len()
        )));
    }
    let budget: Vec<usize> = src_lengths
        .iter()
        .map(|&n| cfg.limit.steps(n, model.max_steps()))
        .collect();
    let mut hyps = vec![Hypothesis::default(); b];
    // `active[i]` is the original row of the i-th row still decoding.
    let mut active: Vec<usize> = (0..b).collect();
    let mut memory_rows = None::<M::Memory>;
    let mut state = model.start(memory)?;
    let device = model.device().clone();
    let mut tokens = Tensor::full(cfg.specials.sos, b, &device)?;
    let mut t = 0;
    while !active.is_empty() {
        let mem = memory_rows.as_ref().unwrap_or(memory);
        let step = model.step(&tokens, &state, mem)?;
        let best = step.log_probs.argmax(D::Minus1)?;
        let best_lp = step
            .log_probs
            .gather(&best.unsqueeze(1)?, 1)?
            .squeeze(1)?
            .to_dtype(DType::F64)?
            .to_vec1::<f64>()?;
        let best_ids = best.to_vec1::<u32>()?;
        let attention = match &step.attention {
            Some(a) => Some(a.to_dtype(DType::F32)?.to_vec2::<f32>()?),
            None => None,
        };
        let mut keep = Vec::with_capacity(active.len());
        for (i, &row) in active.iter().enumerate() {
            let h = &mut hyps[row];
            h.log_prob += best_lp[i];
            if let Some(a) = &attention {
                h.attention.push(a[i].clone());
            }
            if best_ids[i] == cfg.specials.eos {
                h.finished = true;
            } else {
                h.tokens.push(best_ids[i]);
                if t + 1 < budget[row] {
                    keep.push(i);
                }
            }
        }
        t += 1;
        if keep.len() == active.len() {
            state = step.state;
            tokens = best;
            continue;
        }
        if keep.is_empty() {
            break;
        }
        let idx = Tensor::from_vec(
            keep.iter().map(|&i| i as u32).collect::<Vec<_>>(),
            keep.len(),
            &device,
        )?;
        state = step.state.select(&idx)?;
        memory_rows = Some(mem.select(&idx)?);
        tokens = best.index_select(&idx, 0)?;
        active = keep.iter().map(|&i| active[i]).collect();
    }
    for h in &mut hyps {
        h.score = h.log_prob;
    }
    Ok(hyps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::toy::{EOS, SOS, Script, Toy};
    use candle_core::Device;

    fn cfg(ratio: f64, extra: usize) -> GreedyConfig {
        GreedyConfig {
            specials: Specials { sos: SOS, eos: EOS },
            limit: LengthLimit { ratio, extra },
        }
    }

    #[test]
    fn follows_each_row_and_drops_finished_rows() -> Result<()> {
        let toy = Toy {
            confidence: 0.9,
            device: Device::Cpu,
        };
        // Rows of different lengths, so rows leave the batch at different steps.
        let script = Script(vec![vec![2, 3, 4], vec![5], vec![], vec![6, 7, 2, 3]]);
        let hyps = greedy(&toy, &script, &[3, 1, 1, 4], &cfg(2.0, 2))?;
        for (h, want) in hyps.iter().zip(&script.0) {
            assert_eq!(&h.tokens, want);
            assert!(h.finished);
            // One attention row per step, `<eos>` included.
            assert_eq!(h.attention.len(), want.len() + 1);
            let lp = (want.len() + 1) as f64 * 0.9f64.ln();
            assert!((h.log_prob - lp).abs() < 1e-5, "{} vs {lp}", h.log_prob);
        }
        Ok(())
    }

    #[test]
    fn length_budget_stops_unfinished_rows() -> Result<()> {
        let toy = Toy {
            confidence: 0.9,
            device: Device::Cpu,
        };
        let script = Script(vec![vec![2, 3, 4, 5, 6, 7], vec![2]]);
        let hyps = greedy(&toy, &script, &[1, 1], &cfg(1.0, 2))?;
        assert_eq!(hyps[0].tokens, [2, 3, 4]);
        assert!(!hyps[0].finished);
        assert_eq!(hyps[1].tokens, [2]);
        assert!(hyps[1].finished);
        assert!(greedy(&toy, &script, &[1], &cfg(1.0, 2)).is_err());
        Ok(())
    }

    #[test]
    fn limit_respects_the_model_cap() {
        let l = LengthLimit {
            ratio: 1.5,
            extra: 5,
        };
        assert_eq!(l.steps(4, None), 11);
        assert_eq!(l.steps(4, Some(10)), 10);
        assert_eq!(l.steps(0, Some(0)), 1);
    }
}
