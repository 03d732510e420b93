//! Gradual unfreezing (Howard & Ruder 2018, ULMFiT §3.3): pretrained
//! parameters in groups, the top group first, held fixed at the start and
//! released one group an epoch. At (0-based) epoch `e` the groups `e..` are
//! frozen, so epoch 0 trains only the parameters in no group (a new head),
//! epoch 1 also the top group, and from epoch `groups` on everything trains.
//!
//! A frozen parameter simply gets no gradient for the step: the optimizer
//! leaves it (and its moments) as they are, gradient clipping sees only the
//! rest, and the schedule depends on the epoch alone, so a resumed run
//! freezes exactly what the uninterrupted one would.

use candle_core::Var;
use candle_core::backprop::GradStore;

use crate::nn::record::RowGrad;
use crate::{Error, Result};

/// An error naming the first parameter of `groups` the model lacks.
pub(super) fn check_names(groups: &[Vec<String>], vars: &[(String, Var)]) -> Result<()> {
    let unknown = groups
        .iter()
        .flatten()
        .find(|n| !vars.iter().any(|(name, _)| name == *n));
    match unknown {
        Some(n) => Err(Error::Config(format!(
            "train.gradual_unfreezing names `{n}`, which is not a parameter of the model"
        ))),
        None => Ok(()),
    }
}

/// Drops the gradients of the parameters frozen at `epoch` from `grads`
/// and `rows`. `groups` lists parameter names, the top group first.
pub(super) fn drop_frozen(
    groups: &[Vec<String>],
    epoch: usize,
    vars: &[(String, Var)],
    grads: &mut GradStore,
    rows: &mut Vec<RowGrad>,
) {
    let Some(frozen) = groups.get(epoch..).filter(|g| !g.is_empty()) else {
        return;
    };
    let is_frozen = |name: &str| frozen.iter().any(|g| g.iter().any(|n| n == name));
    for (name, var) in vars {
        if is_frozen(name) {
            grads.remove(var.as_tensor());
            rows.retain(|r| r.var.as_tensor().id() != var.as_tensor().id());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn groups_thaw_one_an_epoch_from_the_top() {
        let dev = Device::Cpu;
        let names = ["emb", "rnn0", "rnn1", "head"];
        let vars: Vec<(String, Var)> = names
            .iter()
            .map(|n| (n.to_string(), Var::new(&[1f32, 2.0], &dev).unwrap()))
            .collect();
        let groups = vec![vec!["rnn1".to_string()], vec!["rnn0".into(), "emb".into()]];
        let trained = |epoch: usize| {
            let loss = vars
                .iter()
                .map(|(_, v)| v.as_tensor().sum_all().unwrap())
                .reduce(|a, b| (a + b).unwrap())
                .unwrap();
            let mut grads = loss.backward().unwrap();
            drop_frozen(&groups, epoch, &vars, &mut grads, &mut Vec::new());
            vars.iter()
                .filter(|(_, v)| grads.get(v.as_tensor()).is_some())
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(trained(0), ["head"]);
        assert_eq!(trained(1), ["rnn1", "head"]);
        assert_eq!(trained(2), names);
        assert_eq!(trained(9), names);
    }
}
