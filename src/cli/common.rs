//! Where a training run goes and what it starts from: the model directory,
//! config file and resume switch every `train` command takes, and how a
//! resume holds the flags to the run it continues. The flags that shape the
//! run itself are in [`super::flags`].

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use attend::train::TRAIN_CONFIG;
use attend::train::{ModelDir, RunOptions, Start, Summary};
use clap::Args;
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
        self.config_from(None, flags, apply)
    }

    /// [`config`](Self::config), a fresh run starting from `recipe` (a named
    /// recipe's config) instead of the defaults when one is given.
    pub fn config_from<T: Serialize + DeserializeOwned + Default + Clone>(
        &self,
        recipe: Option<T>,
        flags: &[(&str, &str)],
        apply: impl FnOnce(&mut T) -> Result<()>,
    ) -> Result<T> {
        if !self.resume {
            let mut cfg: T = match (recipe, &self.config) {
                (None, _) => self.load()?,
                (Some(base), Some(file)) => super::config::load_onto(base, file)?,
                (Some(base), None) => base,
            };
            apply(&mut cfg)?;
            return Ok(cfg);
        }
        if recipe.is_some() {
            bail!("--recipe chooses how a run starts: a resumed run keeps its own (drop --recipe)");
        }
        let saved_path = self.out.join(TRAIN_CONFIG);
        let saved = match self.out.is_dir() {
            true => ModelDir::open(&self.out)?.train_config::<serde_json::Value>()?,
            false => None,
        };
        let Some(mut saved) = saved else {
            bail!(
                "--resume: {} has no {TRAIN_CONFIG}, so it holds no run to resume",
                self.out.display()
            );
        };
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

    /// The run's options for the recipe: --out, the start, `threads`.
    pub fn options(&self, threads: usize) -> RunOptions {
        RunOptions::new(&self.out)
            .start(self.start())
            .threads(threads)
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
