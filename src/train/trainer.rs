//! The generic training loop, shared by every task.
//!
//! One `Trainer` runs epochs of batches from a [`Task`]: forward, backward
//! ([`shards`](super::shards)), global-norm clipping, an optimizer step,
//! progress, periodic validation, LR schedules, early stopping, the best
//! model, the history, and atomic checkpoints ([`checkpoint`](super::checkpoint)).
//! Randomness is derived, not carried: epoch `e`'s batch order is the task's
//! pure function of `(seed, e)`, and step `s`'s dropout RNG is seeded from
//! `(seed, s)`. A checkpoint therefore only needs counters, weights and
//! optimizer moments to resume bit for bit. Curves are not drawn here: a
//! caller that wants them passes [`Trainer::on_record`] a function that draws
//! the history (the recipes pass `viz::curves::plot_history`).

use std::time::Instant;

use super::checkpoint::{self, MODEL, TrainerState};
use super::clip::clip_grad_norm_rows;
use super::config::TrainConfig;
use super::early_stop::EarlyStopping;
use super::metric::Goal;
use super::optim::build as build_optimizer;
use super::schedule::Scheduler;
use super::shards::gradients;
use super::snapshots::Snapshot;
use super::{BatchStats, EpochRecord, History, Metrics, ModelDir, Progress, Start, Task};
use crate::nn::record::GradRecorder;
use crate::{Error, Result};

fn improves(goal: Goal, new: f64, old: f64) -> bool {
    match goal {
        Goal::Min => new < old,
        Goal::Max => new > old,
    }
}

/// What a finished `fit` reports.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// The state at the end.
    pub state: TrainerState,
    /// Whether the time limit ended this session (resume to go on).
    pub timed_out: bool,
    /// Whether a stop request ([`interrupt`](super::interrupt)) ended this
    /// session after a step, with a checkpoint (resume to go on).
    pub interrupted: bool,
}

/// The mutable parts of a run that a history record updates.
struct Run<'a> {
    optimizer: &'a mut Box<dyn super::Optimizer>,
    scheduler: &'a mut Scheduler,
    early: &'a mut Option<EarlyStopping>,
}

/// Runs training for any [`Task`], saving into a [`ModelDir`].
pub struct Trainer {
    cfg: TrainConfig,
    dir: ModelDir,
    quiet: bool,
    threads: usize,
    on_record: Option<RecordHook>,
}

/// What runs after every history record, with the whole history so far.
type RecordHook = Box<dyn Fn(&ModelDir, &History) -> Result<()> + Send + Sync>;

/// One history period to close ([`Trainer::record`]).
struct Period {
    /// The epoch it belongs to (0-based).
    epoch: usize,
    /// Whether to validate now.
    validate: bool,
    /// Whether the epoch ends with it (schedules without a metric step then).
    epoch_end: bool,
    /// When its epoch started.
    started: Instant,
}

/// The validation metric `name`, or an error listing the ones there are.
fn metric(valid: &Metrics, name: &str) -> Result<f64> {
    valid.get(name).copied().ok_or_else(|| {
        Error::Config(format!(
            "validation did not report `{name}` (it reported: {})",
            valid.keys().cloned().collect::<Vec<_>>().join(", ")
        ))
    })
}

impl Trainer {
    /// A trainer writing into `dir`.
    pub fn new(cfg: TrainConfig, dir: ModelDir) -> Result<Self> {
        cfg.validate()?;
        Ok(Trainer {
            cfg,
            dir,
            quiet: false,
            threads: 1,
            on_record: None,
        })
    }

    /// Runs `hook` after every history record (each epoch, and each
    /// validation inside one) with the run's directory and whole history: to
    /// draw curves as the run goes. An error from it stops the run.
    pub fn on_record(
        mut self,
        hook: impl Fn(&ModelDir, &History) -> Result<()> + Send + Sync + 'static,
    ) -> Self {
        self.on_record = Some(Box::new(hook));
        self
    }

    /// Trains on `n` threads, splitting each batch into `n` shards when the
    /// task can ([`Task::split`]). The same seed and thread count give the
    /// same model; a resumed run must use the thread count it started with.
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n.max(1);
        self
    }

    /// Silences progress output (tests, library use).
    pub fn quiet(mut self, quiet: bool) -> Self {
        self.quiet = quiet;
        self
    }

    /// Trains `task` until `epochs` are done or early stopping says stop.
    pub fn fit<T: Task + Sync>(&self, task: &T, start: Start) -> Result<Summary>
    where
        T::Batch: Send + Sync,
    {
        let vars = task.params().vars();
        super::unfreeze::check_names(&self.cfg.gradual_unfreezing, &vars)?;
        let mut optimizer = build_optimizer(&self.cfg.optimizer, vars.clone())?;
        // The fused ops' weight gradients beside the graph, and embedding
        // tables as row gradients where the optimizer updates from them
        // exactly (plain SGD): the same weights, far less work.
        let recorder = GradRecorder::start(&vars, optimizer.takes_rows());
        let mut scheduler = Scheduler::new(&self.cfg.schedule)?;
        let mut early = self
            .cfg
            .early_stopping
            .as_ref()
            .map(EarlyStopping::new)
            .transpose()?;
        let mut state = match start {
            Start::Fresh => checkpoint::fresh(&self.dir, optimizer.lr(), self.threads)?,
            Start::Resume => checkpoint::restore(
                &self.dir,
                task,
                &mut optimizer,
                &mut scheduler,
                early.as_mut(),
            )?,
        };

        scheduler.start(optimizer.lr());
        let params = task.params();
        let clock = Instant::now();
        let elapsed_before = state.elapsed;
        let deadline = self.cfg.time_limit_minutes.map(|m| m * 60.0);
        let out_of_time = || deadline.is_some_and(|d| clock.elapsed().as_secs_f64() >= d);
        let mut timed_out = false;
        let mut interrupted = false;
        let mut run = Run {
            optimizer: &mut optimizer,
            scheduler: &mut scheduler,
            early: &mut early,
        };
        'epochs: while state.epochs_done < self.cfg.epochs && !state.stopped_early {
            let epoch = state.epochs_done;
            let started = Instant::now();
            let batches = task.train_batches(epoch)?;
            let mut progress = Progress::new(epoch + 1, self.cfg.epochs, batches.len(), self.quiet);
            for batch in batches.iter().skip(state.batches_done) {
                let (value, mut grads, mut rows, stats) = gradients(
                    task,
                    batch,
                    self.cfg.seed,
                    (state.step, state.shards),
                    &vars,
                    &recorder,
                )?;
                let thaw = &self.cfg.gradual_unfreezing;
                super::unfreeze::drop_frozen(thaw, epoch, &vars, &mut grads, &mut rows);
                if !value.is_finite() {
                    return Err(Error::Config(format!(
                        "the training loss became {value} at step {}: lower the learning rate or clip gradients (the last checkpoint is intact)",
                        state.step + 1
                    )));
                }
                let finite = match self.cfg.clip_norm {
                    Some(max) => clip_grad_norm_rows(&vars, &mut grads, &rows, max)?.is_finite(),
                    None => true,
                };
                // This step's rate, set before it as PyTorch's per-step schedulers do.
                if run.scheduler.config().per_step() {
                    // The budget is the planned steps (as if every epoch had
                    // this one's batches) or the time limit, whichever ends first.
                    let planned = (self.cfg.epochs * batches.len()).max(1) as f64;
                    let by_time = deadline.map_or(0.0, |d| {
                        (elapsed_before + clock.elapsed().as_secs_f64()) / d
                    });
                    let progress = (state.step as f64 / planned).max(by_time);
                    let lr = run
                        .scheduler
                        .lr_at(run.optimizer.lr(), state.step + 1, progress);
                    run.optimizer.set_lr(lr);
                }
                // An overflowing gradient would poison every weight; skip the
                // step (as PyTorch's AMP scaler does) and say so.
                if finite {
                    run.optimizer.step(&grads)?;
                    run.optimizer.step_rows(&rows)?;
                } else if !self.quiet {
                    progress.note(&format!(
                        "warning: non-finite gradient norm at step {}; step skipped",
                        state.step + 1
                    ));
                }
                state.step += 1;
                state.batches_done += 1;
                state.epoch_loss_sum += value;
                state.period_loss_sum += value;
                state.period_batches += 1;
                state.period_stats.merge(&stats);
                progress.batch(value, task.batch_tokens(batch));
                if state.batches_done == batches.len() {
                    break;
                }
                if super::interrupt::stop_requested() {
                    state.elapsed = elapsed_before + clock.elapsed().as_secs_f64();
                    checkpoint::save(&self.dir, task, &state, params, run.optimizer.state()?)?;
                    progress.finish();
                    interrupted = true;
                    break 'epochs;
                }
                let late = out_of_time();
                let validate_now = self.cfg.validate_every_steps > 0
                    && state.step.is_multiple_of(self.cfg.validate_every_steps);
                if validate_now || late {
                    state.elapsed = elapsed_before + clock.elapsed().as_secs_f64();
                    let period = Period {
                        epoch,
                        validate: validate_now || self.validates(),
                        epoch_end: false,
                        started,
                    };
                    self.record(task, &mut state, &mut run, period)?;
                    checkpoint::save(&self.dir, task, &state, params, run.optimizer.state()?)?;
                    if !self.quiet {
                        progress.note(&self.describe(&state));
                    }
                    if late {
                        timed_out = true;
                        progress.finish();
                        break 'epochs;
                    }
                    if state.stopped_early {
                        progress.finish();
                        break 'epochs;
                    }
                } else if self.cfg.checkpoint_every > 0
                    && state.step.is_multiple_of(self.cfg.checkpoint_every)
                {
                    state.elapsed = elapsed_before + clock.elapsed().as_secs_f64();
                    checkpoint::save(&self.dir, task, &state, params, run.optimizer.state()?)?;
                }
            }
            progress.finish();

            let validate =
                self.cfg.validate_every > 0 && (epoch + 1) % self.cfg.validate_every == 0;
            state.elapsed = elapsed_before + clock.elapsed().as_secs_f64();
            let period = Period {
                epoch,
                validate,
                epoch_end: true,
                started,
            };
            self.record(task, &mut state, &mut run, period)?;
            state.epochs_done += 1;
            state.batches_done = 0;
            state.epoch_loss_sum = 0.0;
            checkpoint::save(&self.dir, task, &state, params, run.optimizer.state()?)?;
            if !self.quiet {
                eprintln!("{}", self.describe(&state));
            }
            let more = state.epochs_done < self.cfg.epochs && !state.stopped_early;
            if more && super::interrupt::stop_requested() {
                interrupted = true;
                break;
            }
            if more && out_of_time() {
                timed_out = true;
                break;
            }
        }
        if timed_out && !self.quiet {
            eprintln!(
                "time limit of {} minutes reached: stopped after {} steps; the best model is kept, --resume goes on",
                self.cfg.time_limit_minutes.unwrap_or_default(),
                state.step
            );
        }
        Ok(Summary {
            state,
            timed_out,
            interrupted,
        })
    }

    /// Whether this run validates at all.
    fn validates(&self) -> bool {
        self.cfg.validate_every > 0 || self.cfg.validate_every_steps > 0
    }

    /// Closes a history period (an epoch, or a stretch of steps inside one):
    /// validates if asked, keeps the best weights, steps the schedule and
    /// early stopping, appends the record, rewrites `history.csv` and runs the
    /// record hook.
    /// Schedules without a metric step only at epoch ends (`epoch_end`), so
    /// mid-epoch validation does not change their pace.
    fn record<T: Task>(
        &self,
        task: &T,
        state: &mut TrainerState,
        run: &mut Run<'_>,
        period: Period,
    ) -> Result<()> {
        let Period {
            epoch,
            validate,
            epoch_end,
            started,
        } = period;
        let train_loss = state.period_loss_sum / state.period_batches.max(1) as f64;
        let valid = if validate {
            task.evaluate()?
        } else {
            Metrics::new()
        };
        let selected = if validate {
            Some(metric(&valid, &self.cfg.select_metric)?)
        } else {
            None
        };
        // The weights to use: the best by validation, or the latest without it.
        let improved = match (selected, state.best) {
            (Some(v), Some(b)) => improves(self.cfg.select_goal, v, b),
            (Some(_), None) => true,
            (None, _) => state.best.is_none(),
        };
        if improved {
            state.best = selected.or(state.best);
            self.dir.write_tensors(MODEL, &task.params().tensors())?;
        }
        if let (Some(value), true) = (selected, self.cfg.keep_snapshots > 0) {
            let snap = Snapshot {
                file: format!("step-{:08}.safetensors", state.step),
                step: state.step,
                epoch: epoch + 1,
                metric: value,
            };
            let selection = (self.cfg.select_metric.as_str(), self.cfg.select_goal);
            let weights = task.params().tensors();
            self.dir
                .save_snapshot(self.cfg.keep_snapshots, selection, snap, &weights)?;
        }
        let metric_schedule = run.scheduler.config().needs_metric();
        if (metric_schedule && validate) || (!metric_schedule && epoch_end) {
            let lr = run.scheduler.next_lr(run.optimizer.lr(), selected)?;
            run.optimizer.set_lr(lr);
        }
        state.lr = run.optimizer.lr();
        state.schedule = Some(run.scheduler.state());
        if let (Some(es), true) = (run.early.as_mut(), validate) {
            let v = metric(&valid, es.metric())?;
            state.stopped_early = es.update(v).stop;
            state.early_stopping = Some(es.state());
        }
        state.history.push(EpochRecord {
            epoch: epoch + 1,
            step: state.step,
            train_loss,
            lr: state.lr,
            valid,
            train: state.period_stats.means(),
            seconds: started.elapsed().as_secs_f64(),
            elapsed: state.elapsed,
        });
        state.period_loss_sum = 0.0;
        state.period_batches = 0;
        state.period_stats = BatchStats::default();
        let mut csv = Vec::new();
        state.history.write_csv(&mut csv)?;
        self.dir.write_bytes("history.csv", &csv)?;
        match &self.on_record {
            Some(hook) => hook(&self.dir, &state.history),
            None => Ok(()),
        }
    }

    /// The log line of the latest history record.
    fn describe(&self, state: &TrainerState) -> String {
        let Some(r) = state.history.epochs.last() else {
            return String::new();
        };
        let valid: Vec<String> = r
            .train
            .iter()
            .map(|(k, v)| format!("train {k} {v:.4}"))
            .chain(r.valid.iter().map(|(k, v)| format!("valid {k} {v:.4}")))
            .collect();
        let at = if state.batches_done > 0 {
            format!(" step {}", r.step)
        } else {
            String::new()
        };
        format!(
            "epoch {}/{}{at} train loss {:.4} {} lr {:.3e} ({:.1}s){}",
            r.epoch,
            self.cfg.epochs,
            r.train_loss,
            valid.join(" "),
            r.lr,
            r.seconds,
            if state.stopped_early {
                " — early stop"
            } else {
                ""
            }
        )
    }
}
