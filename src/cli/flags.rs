//! The flag groups the `train` commands share, each applied by one function,
//! the value enums and parsers several commands take.
//!
//! A group is flattened into each command's `TrainArgs` and writes through
//! [`TrainTarget`], so a new shared flag is one field and a few lines here.
//! Where a command has more to say about a flag (which datasets `--data`
//! names, what one batch holds), its `TrainArgs` overrides the help with
//! `mut_arg`; the flag itself stays the same.

use attend::classify::{ClassifierConfig, ClassifyConfig};
use attend::decode::BeamOptions;
use attend::lm::LmConfig;
use attend::lm::LmRunConfig;
use attend::nn::{Cell, Nonlinearity};
use attend::seq2seq::{Seq2SeqConfig, TranslateConfig};
use attend::text::Level;
use attend::train::{AdamConfig, OptimizerConfig, ScheduleConfig, SgdConfig, TrainConfig};
use clap::{Args, ValueEnum};

/// A command's training config as the shared flags see it: where its
/// dataset, model, loop and batch size live.
pub trait TrainTarget {
    /// The model section's type.
    type Model: ModelSection;
    /// Dataset name or path.
    fn dataset(&mut self) -> &mut String;
    /// The model section.
    fn model(&mut self) -> &mut Self::Model;
    /// The `train` section.
    fn train(&mut self) -> &mut TrainConfig;
    /// Examples per batch, wherever the command's task keeps them.
    fn batch_size(&mut self) -> &mut usize;
}

/// A recurrent model's architecture as the shared flags see it.
pub trait ModelSection {
    /// Recurrent cell.
    fn cell(&mut self) -> &mut Cell;
    /// Stacked recurrent layers.
    fn layers(&mut self) -> &mut usize;
    /// Embedding width.
    fn embed(&mut self) -> &mut usize;
    /// Dropout.
    fn dropout(&mut self) -> &mut f32;
}

/// The model configs name these fields alike; only the batch size sits in a
/// different place per task.
macro_rules! train_target {
    ($($config:ty: $model:ty, task.$($batch:ident).+;)*) => {$(
        impl TrainTarget for $config {
            type Model = $model;
            fn dataset(&mut self) -> &mut String {
                &mut self.data.dataset
            }
            fn model(&mut self) -> &mut $model {
                &mut self.model
            }
            fn train(&mut self) -> &mut TrainConfig {
                &mut self.train
            }
            fn batch_size(&mut self) -> &mut usize {
                &mut self.task.$($batch).+
            }
        }

        impl ModelSection for $model {
            fn cell(&mut self) -> &mut Cell {
                &mut self.cell
            }
            fn layers(&mut self) -> &mut usize {
                &mut self.layers
            }
            fn embed(&mut self) -> &mut usize {
                &mut self.embed
            }
            fn dropout(&mut self) -> &mut f32 {
                &mut self.dropout
            }
        }
    )*};
}

train_target! {
    TranslateConfig: Seq2SeqConfig, task.batch.batch_size;
    ClassifyConfig: ClassifierConfig, task.batch.batch_size;
    LmRunConfig: LmConfig, task.batch_size;
}

/// Where the training data comes from.
#[derive(Debug, Args)]
pub struct DataFlags {
    /// Dataset name or path of a data file.
    #[arg(long, value_name = "NAME|PATH")]
    pub data: Option<String>,
}

impl DataFlags {
    /// The flags onto the config.
    pub fn apply(&self, cfg: &mut impl TrainTarget) {
        if let Some(v) = &self.data {
            *cfg.dataset() = v.clone();
        }
    }
}

/// The recurrent stack every model has.
#[derive(Debug, Args)]
pub struct RnnFlags {
    /// Recurrent cell.
    #[arg(long, value_enum)]
    pub cell: Option<CellArg>,
    /// Recurrent layers.
    #[arg(long, value_name = "N")]
    pub layers: Option<usize>,
}

impl RnnFlags {
    /// The flags onto the config's model section.
    pub fn apply(&self, cfg: &mut impl TrainTarget) {
        let m = cfg.model();
        if let Some(c) = self.cell {
            *m.cell() = c.into();
        }
        if let Some(l) = self.layers {
            *m.layers() = l;
        }
    }
}

/// The architecture flags of the models that set their embedding width and
/// dropout apart from the rest (classify, lm): translation ties its
/// embedding width to `--hidden` and leaves dropout to the config file.
#[derive(Debug, Args)]
pub struct ModelFlags {
    #[command(flatten)]
    pub rnn: RnnFlags,
    /// Embedding width.
    #[arg(long, value_name = "N")]
    pub embed: Option<usize>,
    /// Dropout.
    #[arg(long, value_name = "P")]
    pub dropout: Option<f32>,
}

impl ModelFlags {
    /// The flags onto the config's model section.
    pub fn apply(&self, cfg: &mut impl TrainTarget) {
        self.rnn.apply(cfg);
        let m = cfg.model();
        if let Some(e) = self.embed {
            *m.embed() = e;
        }
        if let Some(p) = self.dropout {
            *m.dropout() = p;
        }
    }
}

/// How long and how fast to train, and when to validate.
#[derive(Debug, Args)]
pub struct TrainFlags {
    /// Training epochs (at most, with early stopping).
    #[arg(long, value_name = "N")]
    pub epochs: Option<usize>,
    /// Examples per batch.
    #[arg(long, value_name = "N")]
    pub batch_size: Option<usize>,
    /// Optimizer.
    #[arg(long, value_enum)]
    pub optimizer: Option<OptimizerArg>,
    /// Learning rate.
    #[arg(long, value_name = "LR")]
    pub lr: Option<f64>,
    #[command(flatten)]
    pub loop_flags: LoopFlags,
}

impl TrainFlags {
    /// The flags onto the config, and the global `--seed` when it was given
    /// (`seed`). A new optimizer keeps the configured learning rate unless
    /// `--lr` is given.
    pub fn apply(&self, cfg: &mut impl TrainTarget, seed: Option<u64>) {
        if let Some(b) = self.batch_size {
            *cfg.batch_size() = b;
        }
        let t = cfg.train();
        if let Some(e) = self.epochs {
            t.epochs = e;
        }
        if let Some(s) = seed {
            t.seed = s;
        }
        if let Some(o) = self.optimizer {
            let lr = self.lr.unwrap_or(t.optimizer.lr());
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
        } else if let Some(lr) = self.lr {
            t.optimizer.set_lr(lr);
        }
        self.loop_flags.apply(t);
    }
}

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

/// A flag whose values are a library table's `(value, name, help)` rows
/// (`DecoderKind::ALL`, `Tokenization::ALL`): a new row needs no CLI change.
pub fn table_values<T: Copy + Send + Sync + 'static>(
    table: &'static [(T, &'static str, &'static str)],
) -> impl clap::builder::TypedValueParser<Value = T> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    let values = table
        .iter()
        .map(|(_, name, help)| PossibleValue::new(*name).help(*help));
    PossibleValuesParser::new(values).try_map(move |name| {
        table
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(v, _, _)| *v)
            .ok_or("not one of the listed values")
    })
}

/// `--beam N` of `translate eval|run` and `lm generate`: a width, checked by
/// the search's own rule ([`BeamOptions::validate`]), so a flag and a config
/// file refuse the same widths in the same words, and the refusal is a usage
/// error before anything is loaded.
pub fn beam_width(arg: &str) -> Result<usize, String> {
    let size: usize = arg
        .parse()
        .map_err(|_| format!("expected a number of beams, got `{arg}`"))?;
    let beam = BeamOptions {
        size,
        // One hypothesis fits every width, so only the width is judged.
        n_best: 1,
        ..BeamOptions::default()
    };
    match beam.validate() {
        Ok(()) => Ok(size),
        Err(attend::Error::Config(msg)) => Err(msg),
        Err(e) => Err(e.to_string()),
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

    #[test]
    fn beam_widths_are_the_searchs_own() {
        assert_eq!(beam_width("1"), Ok(1));
        assert_eq!(beam_width("256"), Ok(256));
        for bad in ["0", "257", "100000", "-1", "five", ""] {
            let err = beam_width(bad).unwrap_err();
            assert!(err.contains("beam"), "{bad}: {err}");
        }
        assert!(beam_width("0").unwrap_err().contains("between 1 and 256"));
    }
}
