//! Flags every `train` command shares: the recurrent cell, the optimizer,
//! the learning rate, epochs and seed.

use attend::nn::{Cell, Nonlinearity};
use attend::train::{AdamConfig, OptimizerConfig, SgdConfig, TrainConfig};
use clap::ValueEnum;

/// Recurrent cells.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum CellArg {
    /// Gated recurrent unit.
    Gru,
    /// Long short-term memory.
    Lstm,
    /// Elman RNN with tanh.
    Rnn,
}

impl From<CellArg> for Cell {
    fn from(c: CellArg) -> Self {
        match c {
            CellArg::Gru => Cell::Gru,
            CellArg::Lstm => Cell::Lstm,
            CellArg::Rnn => Cell::Rnn(Nonlinearity::Tanh),
        }
    }
}

/// Optimizers.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum OptimizerArg {
    /// Stochastic gradient descent.
    Sgd,
    /// Adam.
    Adam,
}

/// `--epochs`, `--optimizer`, `--lr` onto the `train` section (a new
/// optimizer keeps the configured learning rate unless `--lr` is given) and
/// the global `--seed`.
pub fn apply_train_flags(
    t: &mut TrainConfig,
    epochs: Option<usize>,
    optimizer: Option<OptimizerArg>,
    lr: Option<f64>,
    seed: u64,
) {
    if let Some(e) = epochs {
        t.epochs = e;
    }
    t.seed = seed;
    if let Some(o) = optimizer {
        let lr = lr.unwrap_or(t.optimizer.lr());
        t.optimizer = match o {
            OptimizerArg::Sgd => OptimizerConfig::Sgd(SgdConfig {
                lr,
                ..SgdConfig::default()
            }),
            OptimizerArg::Adam => OptimizerConfig::Adam(AdamConfig {
                lr,
                ..AdamConfig::default()
            }),
        };
    } else if let Some(lr) = lr {
        t.optimizer.set_lr(lr);
    }
}
