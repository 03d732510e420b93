//! Several models decoding as one: at every step each member reads the
//! same previous tokens, and the next-token scores are the mean of the
//! members' log-probabilities (a geometric mean of their distributions, as
//! OpenNMT-py's ensemble decoder and Marian's equal-weight ensembles
//! score). Every search works on an ensemble unchanged: it is one more
//! [`StepDecoder`], whose memory and state hold one per member.

use candle_core::{Device, Tensor};

use super::{Batched, Step, StepDecoder};
use crate::{Error, Result};

/// One value per ensemble member, picked and reordered together.
#[derive(Clone, Debug)]
pub struct Members<T>(pub Vec<T>);

impl<T: Batched> Batched for Members<T> {
    fn batch_size(&self) -> usize {
        self.0.first().map_or(0, Batched::batch_size)
    }

    fn select(&self, idx: &Tensor) -> Result<Self> {
        self.0
            .iter()
            .map(|m| m.select(idx))
            .collect::<Result<_>>()
            .map(Members)
    }
}

/// Models of one vocabulary decoding together.
pub struct Ensemble<'a, M> {
    members: Vec<&'a M>,
}

impl<'a, M: StepDecoder> Ensemble<'a, M> {
    /// An ensemble of `members` (at least one; all over the same target
    /// vocabulary, which the caller checks: only its size is seen here).
    pub fn new(members: Vec<&'a M>) -> Result<Self> {
        if members.is_empty() {
            return Err(Error::Config("an ensemble needs at least one model".into()));
        }
        Ok(Ensemble { members })
    }

    /// The members.
    pub fn members(&self) -> &[&'a M] {
        &self.members
    }
}

/// The mean of same-shaped tensors (the one tensor itself for one).
fn mean(parts: Vec<Tensor>) -> Result<Tensor> {
    let n = parts.len();
    let mut it = parts.into_iter();
    let Some(first) = it.next() else {
        return Err(Error::Shape("the mean of no tensors".into()));
    };
    if n == 1 {
        return Ok(first);
    }
    let mut sum = first;
    for t in it {
        if t.dims() != sum.dims() {
            return Err(Error::Shape(format!(
                "ensemble members disagree on a step's shape: {:?} and {:?} (different target vocabularies?)",
                sum.dims(),
                t.dims()
            )));
        }
        sum = (sum + t)?;
    }
    Ok((sum / n as f64)?)
}

impl<M: StepDecoder> StepDecoder for Ensemble<'_, M> {
    type Memory = Members<M::Memory>;
    type State = Members<M::State>;

    fn start(&self, memory: &Self::Memory) -> Result<Self::State> {
        self.members
            .iter()
            .zip(&memory.0)
            .map(|(m, mem)| m.start(mem))
            .collect::<Result<_>>()
            .map(Members)
    }

    fn step(
        &self,
        tokens: &Tensor,
        state: &Self::State,
        memory: &Self::Memory,
    ) -> Result<Step<Self::State>> {
        let (mut log_probs, mut attention, mut states) = (Vec::new(), Vec::new(), Vec::new());
        for ((m, s), mem) in self.members.iter().zip(&state.0).zip(&memory.0) {
            let step = m.step(tokens, s, mem)?;
            log_probs.push(step.log_probs);
            attention.extend(step.attention);
            states.push(step.state);
        }
        // The members' attention is averaged when every one attends (over
        // the same source positions), as OpenNMT shows an ensemble's.
        let attention = match attention.len() == self.members.len() {
            true => Some(mean(attention)?),
            false => None,
        };
        Ok(Step {
            log_probs: mean(log_probs)?,
            state: Members(states),
            attention,
        })
    }

    fn device(&self) -> &Device {
        self.members[0].device()
    }

    fn max_steps(&self) -> Option<usize> {
        self.members.iter().filter_map(|m| m.max_steps()).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::toy::{SOS, Script, Toy, decoding, toy};
    use crate::decode::{BeamOptions, Search, run};

    #[test]
    fn an_ensemble_of_one_is_the_model() -> Result<()> {
        let model = toy(0.6);
        let script = Script(vec![vec![2, 3, 4], vec![5], vec![6, 7]]);
        let lengths = [3, 1, 2];
        let one = Ensemble::new(vec![&model])?;
        let members = Members(vec![script.clone()]);
        for search in [Search::Greedy, Search::Beam(BeamOptions::default())] {
            let d = decoding(search);
            let alone = run(&model, &script, &lengths, &d, &mut |_, _| {})?;
            let together = run(&one, &members, &lengths, &d, &mut |_, _| {})?;
            assert_eq!(alone, together, "{search:?}");
        }
        Ok(())
    }

    #[test]
    fn members_scores_are_averaged_in_log_space() -> Result<()> {
        let (a, b) = (toy(0.9), toy(0.5));
        let both = Ensemble::new(vec![&a, &b])?;
        let script = Script(vec![vec![2]]);
        let memory = Members(vec![script.clone(), script.clone()]);
        let tokens = Tensor::new(&[SOS], &Device::Cpu)?;
        let state = both.start(&memory)?;
        let step = both.step(&tokens, &state, &memory)?;
        let got = step.log_probs.to_vec2::<f32>()?;
        let want = (0.9f32.ln() + 0.5f32.ln()) / 2.0;
        assert!((got[0][2] - want).abs() < 1e-6, "{} vs {want}", got[0][2]);
        assert_eq!(step.state.0.len(), 2);
        let picked = memory.select(&Tensor::new(&[0u32, 0], &Device::Cpu)?)?;
        assert_eq!(picked.batch_size(), 2);
        let none: Vec<&Toy> = Vec::new();
        assert!(Ensemble::new(none).is_err());
        Ok(())
    }
}
