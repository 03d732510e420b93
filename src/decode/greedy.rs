//! Greedy decoding: at each step take the most probable token.
//!
//! The loop (batched, finished rows leave the batch) is the shared one in
//! `search`; greedy only supplies the choice: an argmax taken on the tensor
//! side, so only `B` ids and log-probabilities travel to the host.

use candle_core::{D, DType, Tensor};

use super::search::{self, Choose};
use super::{Hypothesis, LengthLimit, Specials, StepDecoder};
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
    greedy_each(model, memory, src_lengths, cfg, &mut |_, _| {})
}

/// [`greedy`], calling `on_token(row, token)` for every output token the
/// moment it is chosen, in order (the ending `<eos>` is not one): for
/// printing text as it is generated.
pub fn greedy_each<M: StepDecoder>(
    model: &M,
    memory: &M::Memory,
    src_lengths: &[usize],
    cfg: &GreedyConfig,
    on_token: &mut dyn FnMut(usize, u32),
) -> Result<Vec<Hypothesis>> {
    search::left_to_right(
        model,
        memory,
        src_lengths,
        cfg.specials,
        &cfg.limit,
        &mut Argmax,
        on_token,
    )
}

/// The most probable token of every row.
struct Argmax;

impl Choose for Argmax {
    fn choose(&mut self, log_probs: &Tensor, _rows: &[usize]) -> Result<Vec<(u32, f64)>> {
        let best = log_probs.argmax(D::Minus1)?;
        let best_lp = log_probs
            .gather(&best.unsqueeze(1)?, 1)?
            .squeeze(1)?
            .to_dtype(DType::F64)?
            .to_vec1::<f64>()?;
        Ok(best.to_vec1::<u32>()?.into_iter().zip(best_lp).collect())
    }
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
    fn masked_tokens_are_never_chosen_and_tokens_stream_in_order() -> Result<()> {
        let toy = Toy {
            confidence: 0.9,
            device: Device::Cpu,
        };
        let script = Script(vec![vec![2, 3, 2, 4], vec![5, 2]]);
        let masked = crate::decode::Masked::new(&toy, &[2, 99]);
        let mut heard: Vec<(usize, u32)> = Vec::new();
        let hyps = greedy_each(&masked, &script, &[4, 2], &cfg(2.0, 2), &mut |row, t| {
            heard.push((row, t))
        })?;
        for h in &hyps {
            assert!(!h.tokens.contains(&2), "{:?}", h.tokens);
        }
        // Without the mask the script is followed; with it, each row's
        // tokens were heard one by one, in order, and nothing else.
        assert_eq!(
            greedy(&toy, &script, &[4, 2], &cfg(2.0, 2))?[0].tokens,
            [2, 3, 2, 4]
        );
        for (row, h) in hyps.iter().enumerate() {
            let mine: Vec<u32> = heard.iter().filter(|x| x.0 == row).map(|x| x.1).collect();
            assert_eq!(mine, h.tokens);
        }
        assert_eq!(
            heard.len(),
            hyps.iter().map(|h| h.tokens.len()).sum::<usize>()
        );
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
