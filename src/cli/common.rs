//! Flags every `train` command shares: the model directory, config file and
//! resume switch; the recurrent cell, the optimizer, the learning rate,
//! epochs and seed.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use attend::nn::{Cell, Nonlinearity};
use attend::train::model_dir::TRAIN_CONFIG;
use attend::train::{
    AdamConfig, ModelDir, OptimizerConfig, ScheduleConfig, SgdConfig, Start, Summary, TrainConfig,
};
use clap::{Args, ValueEnum};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Where a training run goes and what it starts from.
#[derive(Debug, Args)]
pub struct TrainRun {
    /// Model directory to write (or resume, with --resume).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// A TOML file with the command's config sections (flags win over it).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Continue the run in --out from its last checkpoint.
    #[arg(long)]
    pub resume: bool,
}

impl TrainRun {
    /// The config: defaults overlaid with the --config file.
    pub fn load<T: Serialize + DeserializeOwned + Default>(&self) -> Result<T> {
        super::config::load(self.config.as_deref())
    }

    /// The run's config with the flags applied by `apply`. A fresh run
    /// starts from the defaults and the --config file; `--resume` starts
    /// from the run's saved `train_config.json` (and the --config file, if
    /// given, over it), so it needs no other flag — and any flag or file
    /// value that disagrees with the saved run, other than those a resume
    /// may change ([`RESUMABLE`]), is an error naming it. `flags` names the
    /// flag of a config field where it is not the field's own name.
    pub fn config<T: Serialize + DeserializeOwned + Default + Clone>(
        &self,
        flags: &[(&str, &str)],
        apply: impl FnOnce(&mut T) -> Result<()>,
    ) -> Result<T> {
        if !self.resume {
            let mut cfg: T = self.load()?;
            apply(&mut cfg)?;
            return Ok(cfg);
        }
        let saved_path = self.out.join(TRAIN_CONFIG);
        if !saved_path.is_file() {
            bail!(
                "--resume: {} has no {TRAIN_CONFIG}, so it holds no run to resume",
                self.out.display()
            );
        }
        let mut saved: serde_json::Value = ModelDir::open(&self.out)?.read_json(TRAIN_CONFIG)?;
        // A time limit bounds one session, not the run: a resume gets only
        // the one it is given.
        if let Some(t) = saved.get_mut("train").and_then(|t| t.as_object_mut()) {
            t.remove("time_limit_minutes");
        }
        let saved: T = serde_json::from_value(saved).map_err(|e| {
            anyhow::anyhow!(
                "{}: not this command's config: {}",
                saved_path.display(),
                attend::error::first_chars(&e.to_string(), 300)
            )
        })?;
        let mut cfg = match &self.config {
            Some(file) => super::config::load_onto(saved.clone(), file)?,
            None => saved.clone(),
        };
        apply(&mut cfg)?;
        let changed = changed_fields(&saved, &cfg)?;
        if changed.is_empty() {
            return Ok(cfg);
        }
        let mut named: Vec<String> = Vec::new();
        let mut seen = Vec::new();
        for (field, was, now) in &changed {
            // One flag may set several fields (--hidden: the widths of
            // both the embeddings and the recurrent layers): name it once.
            let flag = flag_of(field, flags);
            if !seen.contains(&(flag.clone(), was, now)) {
                named.push(format!("{flag} ({field}) was {was}, now {now}"));
                seen.push((flag, was, now));
            }
        }
        bail!(
            "--resume continues the run saved in {} as it was, but {}: leave those flags out (a resume may change only --epochs, --time-limit, --validate-every-steps and --threads; a time limit holds for one session), or train into a new --out",
            saved_path.display(),
            named.join("; ")
        )
    }

    /// Fresh, or resumed with --resume.
    pub fn start(&self) -> Start {
        match self.resume {
            true => Start::Resume,
            false => Start::Fresh,
        }
    }

    /// The closing lines of a training run of `group` (`translate`, …) and
    /// its exit code: 0, or 130 when a signal stopped it (with how to go on).
    pub fn finish(&self, summary: &Summary, metric: &str, group: &str) -> ExitCode {
        if let Some(best) = summary.state.best {
            eprintln!(
                "best validation {metric} {best:.4}; model in {}",
                self.out.display()
            );
        }
        if !summary.interrupted {
            return ExitCode::SUCCESS;
        }
        eprintln!(
            "interrupted: checkpoint at step {} saved; `attend {group} train --resume --out {}` goes on",
            summary.state.step,
            self.out.display()
        );
        ExitCode::from(130)
    }

    /// Makes the first Ctrl-C (SIGINT), SIGTERM or SIGHUP stop training
    /// after the step in progress, with a checkpoint (the run then exits
    /// 130); a second one exits at once, which the atomic checkpoints make
    /// safe too.
    pub fn stop_gracefully_on_signals(&self) -> Result<()> {
        ctrlc::set_handler(|| {
            if attend::train::interrupt::request_stop() {
                eprintln!("\nstopped at once; the last checkpoint is intact");
                std::process::exit(130);
            }
            eprintln!("\nstopping after this step with a checkpoint (again: stop at once)");
        })
        .context("installing the Ctrl-C handler")
    }
}

/// Config fields a resumed run may change: when it stops and how often it
/// validates or checkpoints. None of them changes the weights a step makes.
pub const RESUMABLE: [&str; 5] = [
    "train.epochs",
    "train.time_limit_minutes",
    "train.validate_every",
    "train.validate_every_steps",
    "train.checkpoint_every",
];

/// The flag that sets config field `field` (dotted path): from `flags`, else
/// the shared ones, else the field's last part as a flag (`model.hidden` →
/// `--hidden`).
fn flag_of(field: &str, flags: &[(&str, &str)]) -> String {
    const SHARED: [(&str, &str); 5] = [
        ("data.dataset", "--data"),
        ("train.seed", "--seed"),
        ("train.optimizer.type", "--optimizer"),
        ("train.optimizer.lr", "--lr"),
        ("train.schedule", "--cosine"),
    ];
    flags
        .iter()
        .chain(SHARED.iter())
        .find(|(f, _)| field == *f || field.starts_with(&format!("{f}.")))
        .map(|(_, flag)| flag.to_string())
        .unwrap_or_else(|| {
            let last = field.rsplit('.').next().unwrap_or(field);
            format!("--{}", last.replace('_', "-"))
        })
}

/// The fields (dotted paths, with the saved and the new value) where `new`
/// differs from `saved`, leaving out [`RESUMABLE`] ones.
fn changed_fields<T: Serialize>(saved: &T, new: &T) -> Result<Vec<(String, String, String)>> {
    fn walk(
        path: &str,
        a: &serde_json::Value,
        b: &serde_json::Value,
        out: &mut Vec<(String, String, String)>,
    ) {
        use serde_json::Value::Object;
        if RESUMABLE.contains(&path) || a == b {
            return;
        }
        match (a, b) {
            (Object(x), Object(y)) if x.get("type") == y.get("type") => {
                let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                let null = serde_json::Value::Null;
                for k in keys {
                    let sub = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(
                        &sub,
                        x.get(k).unwrap_or(&null),
                        y.get(k).unwrap_or(&null),
                        out,
                    );
                }
            }
            _ => {
                let quote =
                    |v: &serde_json::Value| attend::error::excerpt(&v.to_string()).into_owned();
                out.push((path.to_string(), quote(a), quote(b)))
            }
        }
    }
    let mut out = Vec::new();
    walk(
        "",
        &serde_json::to_value(saved)?,
        &serde_json::to_value(new)?,
        &mut out,
    );
    Ok(out)
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
