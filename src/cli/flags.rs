//! Flags and value enums several `train` commands share.

use attend::nn::{Cell, Nonlinearity};
use attend::text::tokenize::Level;
use attend::train::{AdamConfig, OptimizerConfig, ScheduleConfig, SgdConfig, TrainConfig};
use clap::{Args, ValueEnum};

/// When to validate and when to stop: the loop flags of every `train` command.
#[derive(Debug, Args)]
pub struct LoopFlags {
    /// Also validate every N optimizer steps inside epochs (long epochs:
    /// IMDB, text8); each validation may keep a new best model.
    #[arg(long, value_name = "N")]
    pub validate_every_steps: Option<u64>,
    /// Stop gracefully after this many minutes: validate, keep the best
    /// model, checkpoint, exit 0 (`--resume` goes on).
    #[arg(long, value_name = "MINUTES")]
    pub time_limit: Option<f64>,
    /// Anneal the learning rate per step along a cosine down to --min-lr
    /// over the run (its epochs, or --time-limit if that ends first).
    #[arg(long)]
    pub cosine: bool,
    /// Linear warm-up steps before the cosine (with --cosine; default: the
    /// recipe's own when its schedule is a cosine already, else 0).
    #[arg(long, value_name = "N", requires = "cosine")]
    pub warmup_steps: Option<u64>,
    /// The rate the cosine ends at (with --cosine; default: the recipe's own
    /// when its schedule is a cosine already, else 0).
    #[arg(long, value_name = "LR", requires = "cosine")]
    pub min_lr: Option<f64>,
}

impl LoopFlags {
    /// The flags onto the `train` section.
    pub fn apply(&self, t: &mut TrainConfig) {
        if let Some(n) = self.validate_every_steps {
            t.validate_every_steps = n;
        }
        if self.time_limit.is_some() {
            t.time_limit_minutes = self.time_limit;
        }
        if self.cosine {
            // `--cosine` on a recipe that anneals already (the translation
            // default) changes only what its other flags name.
            let (warmup, min_lr) = match t.schedule {
                ScheduleConfig::Cosine {
                    warmup_steps,
                    min_lr,
                } => (warmup_steps, min_lr),
                _ => (0, 0.0),
            };
            t.schedule = ScheduleConfig::Cosine {
                warmup_steps: self.warmup_steps.unwrap_or(warmup),
                min_lr: self.min_lr.unwrap_or(min_lr),
            };
        }
    }
}

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

/// Token level.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LevelArg {
    /// Characters.
    Char,
    /// Words.
    Word,
}

impl From<LevelArg> for Level {
    fn from(l: LevelArg) -> Self {
        match l {
            LevelArg::Char => Level::Char,
            LevelArg::Word => Level::Word,
        }
    }
}

/// `--epochs`, `--optimizer`, `--lr` onto the `train` section (a new
/// optimizer keeps the configured learning rate unless `--lr` is given) and
/// the global `--seed` when given.
pub fn apply_train_flags(
    t: &mut TrainConfig,
    epochs: Option<usize>,
    optimizer: Option<OptimizerArg>,
    lr: Option<f64>,
    seed: Option<u64>,
) {
    if let Some(e) = epochs {
        t.epochs = e;
    }
    if let Some(s) = seed {
        t.seed = s;
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(warmup_steps: Option<u64>) -> LoopFlags {
        LoopFlags {
            validate_every_steps: None,
            time_limit: None,
            cosine: true,
            warmup_steps,
            min_lr: None,
        }
    }

    #[test]
    fn cosine_flag_keeps_what_a_cosine_recipe_set_unless_named() {
        let cosine = |warmup_steps, min_lr| ScheduleConfig::Cosine {
            warmup_steps,
            min_lr,
        };
        let mut t = TrainConfig {
            schedule: cosine(50, 1e-5),
            ..TrainConfig::default()
        };
        flags(None).apply(&mut t);
        assert_eq!(t.schedule, cosine(50, 1e-5));
        flags(Some(7)).apply(&mut t);
        assert_eq!(t.schedule, cosine(7, 1e-5));
        let mut t = TrainConfig {
            schedule: ScheduleConfig::Exponential { gamma: 0.9 },
            ..TrainConfig::default()
        };
        flags(None).apply(&mut t);
        assert_eq!(t.schedule, cosine(0, 0.0));
    }
}
