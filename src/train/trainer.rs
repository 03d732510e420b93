//! The generic training loop, shared by every task.
//!
//! One `Trainer` runs epochs of batches from a [`Task`]: forward, backward,
//! global-norm clipping, an optimizer step, progress, periodic validation, LR
//! schedules, early stopping, the best model, history and curves, and atomic
//! checkpoints. Randomness is derived, not carried: epoch `e`'s batch order is
//! the task's pure function of `(seed, e)`, and step `s`'s dropout RNG is seeded
//! from `(seed, s)`. A checkpoint therefore only needs counters, weights and
//! optimizer moments to resume bit for bit.

use std::time::Instant;

use candle_core::backprop::GradStore;
use rand::{SeedableRng, rngs::StdRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::nn::Mode;
use crate::viz::{Chart, Series, plot_lines};
use crate::{Error, Result};

use super::clip::clip_grad_norm_rows;
use super::early_stop::{EarlyStopping, EarlyStoppingConfig, EarlyStoppingState};
use super::metric::Goal;
use super::optim::{OptimizerConfig, build as build_optimizer};
use super::schedule::{ScheduleConfig, ScheduleState, Scheduler};
use super::{BatchStats, EpochRecord, History, Metrics, ModelDir, Progress, Start, Task};
use crate::nn::kernels::inplace;
use crate::nn::record::{GradRecorder, RowGrad, fold_into_dense};

/// The sum of the shards' gradients of `vars` (each shard's already weighted
/// by its share of the batch): the whole batch's gradient up to summation order.
pub fn sum_gradients(
    shards: Vec<GradStore>,
    vars: &[(String, candle_core::Var)],
) -> Result<GradStore> {
    let mut shards = shards.into_iter();
    let mut acc = shards
        .next()
        .ok_or_else(|| Error::Config("a batch split into no shards".into()))?;
    for grads in shards {
        for (_, var) in vars {
            if let Some(g) = grads.get(var.as_tensor()) {
                let sum = match acc.get(var.as_tensor()) {
                    // A stored gradient is a buffer the backward pass made for
                    // it alone: adding into it in place changes nothing else.
                    Some(a) if inplace::update1(a, g, &inplace::AddAssign)? => continue,
                    Some(a) => (a + g)?,
                    None => g.clone(),
                };
                acc.insert(var.as_tensor(), sum);
            }
        }
    }
    Ok(acc)
}

/// The batch's gradient from its shards' (each already weighted), with
/// what `recorder` recorded ([`GradRecorder::collect`]): the tables it
/// records as rows come back as row gradients (those of a table that also
/// has a dense gradient added into it), every other parameter's gradient
/// summed by [`sum_gradients`].
pub fn batch_gradients(
    mut shards: Vec<GradStore>,
    vars: &[(String, candle_core::Var)],
    recorder: Option<&GradRecorder>,
) -> Result<(GradStore, Vec<RowGrad>)> {
    let rows = match recorder {
        Some(r) => r.collect(&mut shards)?,
        None => Vec::new(),
    };
    let mut grads = sum_gradients(shards, vars)?;
    let rows = fold_into_dense(&mut grads, rows)?;
    Ok((grads, rows))
}

fn improves(goal: Goal, new: f64, old: f64) -> bool {
    match goal {
        Goal::Min => new < old,
        Goal::Max => new > old,
    }
}

/// How to train: the `train` section of every task's config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Total epochs (a resumed run continues up to this many).
    pub epochs: usize,
    /// The optimizer and its hyper-parameters.
    pub optimizer: OptimizerConfig,
    /// Clip the global gradient norm to this value before each step.
    pub clip_norm: Option<f64>,
    /// Learning-rate schedule, stepped once per epoch (a plateau schedule on
    /// the validation metric, so only on epochs that validate).
    pub schedule: ScheduleConfig,
    /// Stop when the validation metric stops improving.
    pub early_stopping: Option<EarlyStoppingConfig>,
    /// Validate every this many epochs (0 = never).
    pub validate_every: usize,
    /// The validation metric that picks the best model (and feeds plateau schedules).
    pub select_metric: String,
    /// Whether `select_metric` should go down or up.
    pub select_goal: Goal,
    /// Also checkpoint every this many steps inside an epoch (0 = at epoch ends only).
    pub checkpoint_every: u64,
    /// Also validate every this many optimizer steps inside an epoch (0 = at
    /// epoch ends only), like fairseq's `--validate-interval-updates`: for
    /// corpora whose epoch is longer than a run (a language model on text8).
    /// Each validation records a history row, may save a new best model and
    /// counts for early stopping and plateau schedules.
    #[serde(default)]
    pub validate_every_steps: u64,
    /// Stop gracefully after this many minutes of training (validation
    /// included): validate, keep the best model, checkpoint, return. A resumed
    /// run gets the limit afresh.
    #[serde(default)]
    pub time_limit_minutes: Option<f64>,
    /// Seed for dropout masks (batch order is the task's).
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 10,
            optimizer: OptimizerConfig::default(),
            clip_norm: None,
            schedule: ScheduleConfig::Constant,
            early_stopping: None,
            validate_every: 1,
            select_metric: "loss".into(),
            select_goal: Goal::Min,
            checkpoint_every: 0,
            validate_every_steps: 0,
            time_limit_minutes: None,
            seed: 42,
        }
    }
}

impl TrainConfig {
    /// Checks cross-field rules.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(Error::Config("train.epochs must be at least 1".into()));
        }
        if let Some(c) = self.clip_norm
            && !(c > 0.0 && c.is_finite())
        {
            return Err(Error::Config(format!(
                "train.clip_norm must be a positive number, got {c}"
            )));
        }
        if let Some(m) = self.time_limit_minutes
            && !(m > 0.0 && m.is_finite())
        {
            return Err(Error::Config(format!(
                "train.time_limit_minutes must be a positive number, got {m}"
            )));
        }
        if (self.early_stopping.is_some() || self.schedule.needs_metric())
            && self.validate_every == 0
            && self.validate_every_steps == 0
        {
            return Err(Error::Config(
                "early stopping and plateau schedules need validation: set train.validate_every ≥ 1"
                    .into(),
            ));
        }
        self.optimizer.validate()?;
        self.schedule.validate()?;
        if let ScheduleConfig::Cosine { min_lr, .. } = self.schedule
            && min_lr >= self.optimizer.lr()
        {
            return Err(Error::Config(format!(
                "the cosine schedule anneals from the learning rate down to min_lr, but min_lr (--min-lr) {min_lr} is not below the rate (--lr) {}",
                self.optimizer.lr()
            )));
        }
        Ok(())
    }
}

/// Counters and small state saved in `trainer.json` with every checkpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// Epochs fully done.
    pub epochs_done: usize,
    /// Batches done in the current (unfinished) epoch.
    pub batches_done: usize,
    /// Sum of the current epoch's batch losses so far.
    pub epoch_loss_sum: f64,
    /// Sum of the batch losses since the last history record, and their
    /// count (a record's training loss is the mean over its own batches).
    #[serde(default)]
    pub period_loss_sum: f64,
    /// Batches since the last history record.
    #[serde(default)]
    pub period_batches: usize,
    /// What the batches since the last history record reported besides
    /// their loss ([`Task::loss_with_stats`]).
    #[serde(default)]
    pub period_stats: BatchStats,
    /// Wall-clock seconds of training so far, over all sessions of the run.
    #[serde(default)]
    pub elapsed: f64,
    /// Optimizer steps taken.
    pub step: u64,
    /// Current learning rate.
    pub lr: f64,
    /// Best value of the selection metric so far.
    pub best: Option<f64>,
    /// The LR schedule's state (none before the first epoch ends).
    pub schedule: Option<ScheduleState>,
    /// Early stopping's state.
    pub early_stopping: Option<EarlyStoppingState>,
    /// Set when early stopping ended the run.
    pub stopped_early: bool,
    /// Shards each batch was split into (the thread count the run started
    /// with); a resume keeps it, so the run stays bit-for-bit reproducible.
    #[serde(default = "one")]
    pub shards: usize,
    /// Epoch records.
    pub history: History,
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
}

/// Checkpoint file names.
const MODEL: &str = "model.safetensors";
const OPTIMIZER: &str = "optimizer.safetensors";
const TRAINER: &str = "trainer.json";
/// The task's carried state (see [`Task::carry`]).
const CARRY: &str = "carry.safetensors";

fn one() -> usize {
    1
}

/// A scalar loss as f64.
fn scalar(loss: &candle_core::Tensor) -> Result<f64> {
    Ok(f64::from(
        loss.to_dtype(candle_core::DType::F32)?.to_scalar::<f32>()?,
    ))
}

/// A 64-bit mix (splitmix64) so neighbouring steps get unrelated dropout seeds.
fn mix(seed: u64, step: u64) -> u64 {
    let mut z = seed ^ step.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
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
        })
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
            Start::Fresh => {
                if self.dir.latest_checkpoint()?.is_some() {
                    return Err(Error::Checkpoint {
                        path: self.dir.path().to_path_buf(),
                        msg: "already holds a training run: resume it, or train into an empty directory"
                            .into(),
                    });
                }
                TrainerState {
                    lr: optimizer.lr(),
                    shards: self.threads,
                    ..TrainerState::default()
                }
            }
            Start::Resume => {
                let ckpt = self
                    .dir
                    .latest_checkpoint()?
                    .ok_or_else(|| Error::Checkpoint {
                        path: self.dir.path().to_path_buf(),
                        msg: "has no checkpoint to resume from".into(),
                    })?;
                let device = vars
                    .first()
                    .map(|(_, v)| v.device().clone())
                    .unwrap_or(candle_core::Device::Cpu);
                let weights = super::model_dir::read_tensors(&ckpt.join(MODEL), &device)?;
                task.params()
                    .assign(&weights)
                    .map_err(|e| Error::Checkpoint {
                        path: ckpt.join(MODEL),
                        msg: format!("does not fit the model: {e}"),
                    })?;
                let opt_state = super::model_dir::read_tensors(&ckpt.join(OPTIMIZER), &device)?;
                optimizer.load_state(&opt_state)?;
                let state: TrainerState = super::model_dir::read_json(&ckpt.join(TRAINER))?;
                if ckpt.join(CARRY).exists() {
                    task.restore_carry(super::model_dir::read_tensors(
                        &ckpt.join(CARRY),
                        &device,
                    )?)?;
                }
                optimizer.set_lr(state.lr);
                if let Some(saved) = state.schedule.as_ref() {
                    scheduler.load_state(saved);
                }
                if let (Some(es), Some(saved)) = (early.as_mut(), state.early_stopping.as_ref()) {
                    es.load_state(saved);
                }
                state
            }
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
                let (value, mut grads, rows, stats) =
                    self.gradients(task, batch, (state.step, state.shards), &vars, &recorder)?;
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
                    self.checkpoint(task, &state, params, run.optimizer.state()?)?;
                    progress.finish();
                    interrupted = true;
                    break 'epochs;
                }
                let late = out_of_time();
                let validate_now = self.cfg.validate_every_steps > 0
                    && state.step.is_multiple_of(self.cfg.validate_every_steps);
                if validate_now || late {
                    state.elapsed = elapsed_before + clock.elapsed().as_secs_f64();
                    let validate = validate_now || self.validates();
                    self.record(task, &mut state, &mut run, epoch, validate, false, started)?;
                    self.checkpoint(task, &state, params, run.optimizer.state()?)?;
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
                    self.checkpoint(task, &state, params, run.optimizer.state()?)?;
                }
            }
            progress.finish();

            let validate =
                self.cfg.validate_every > 0 && (epoch + 1) % self.cfg.validate_every == 0;
            state.elapsed = elapsed_before + clock.elapsed().as_secs_f64();
            self.record(task, &mut state, &mut run, epoch, validate, true, started)?;
            state.epochs_done += 1;
            state.batches_done = 0;
            state.epoch_loss_sum = 0.0;
            self.checkpoint(task, &state, params, run.optimizer.state()?)?;
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
    /// early stopping, appends the record and rewrites history and curves.
    /// Schedules without a metric step only at epoch ends (`epoch_end`), so
    /// mid-epoch validation does not change their pace.
    #[allow(clippy::too_many_arguments)]
    fn record<T: Task>(
        &self,
        task: &T,
        state: &mut TrainerState,
        run: &mut Run<'_>,
        epoch: usize,
        validate: bool,
        epoch_end: bool,
        started: Instant,
    ) -> Result<()> {
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
        self.write_history(&state.history)
    }

    /// The loss of `batch` and its gradients. With several threads and a task
    /// that splits batches, each shard runs forward and backward on its own
    /// thread (candle's intra-op parallelism is off: it costs more than it
    /// gains at these sizes) and the weighted shard gradients are summed,
    /// which is the whole batch's gradient up to summation order. Tables
    /// `recorder` records come back as row gradients.
    fn gradients<T: Task + Sync>(
        &self,
        task: &T,
        batch: &T::Batch,
        (step, shards): (u64, usize),
        vars: &[(String, candle_core::Var)],
        recorder: &GradRecorder,
    ) -> Result<(f64, GradStore, Vec<RowGrad>, BatchStats)>
    where
        T::Batch: Send + Sync,
    {
        let step_seed = mix(self.cfg.seed, step);
        let shards = match shards {
            0 | 1 => Vec::new(),
            n => task.split(batch, n)?,
        };
        if shards.is_empty() {
            let mut rng = StdRng::seed_from_u64(step_seed);
            let (loss, stats) = task.loss_with_stats(batch, &mut Mode::Train(&mut rng))?;
            let value = scalar(&loss)?;
            let (grads, rows) = batch_gradients(vec![loss.backward()?], vars, Some(recorder))?;
            return Ok((value, grads, rows, stats));
        }
        // Rayon tasks, not plain threads: candle's element-wise kernels run
        // `par_iter` on the global pool, and from a plain thread that hands
        // the work to a pool worker and blocks, which serialises the shards.
        let results: Vec<Result<(f64, GradStore, BatchStats)>> = shards
            .par_iter()
            .enumerate()
            .map(|(k, (shard, weight))| {
                let mut rng = StdRng::seed_from_u64(mix(step_seed, k as u64 + 1));
                let (loss, stats) = task.loss_with_stats(shard, &mut Mode::Train(&mut rng))?;
                let value = scalar(&loss)? * weight;
                Ok((value, loss.affine(*weight, 0.0)?.backward()?, stats))
            })
            .collect();
        let mut total = 0.0;
        let mut all = Vec::with_capacity(results.len());
        let mut stats = BatchStats::default();
        for r in results {
            let (value, grads, shard_stats) = r?;
            total += value;
            all.push(grads);
            stats.merge(&shard_stats);
        }
        let (grads, rows) = batch_gradients(all, vars, Some(recorder))?;
        Ok((total, grads, rows, stats))
    }

    fn checkpoint<T: Task>(
        &self,
        task: &T,
        state: &TrainerState,
        params: &crate::nn::ParamStore,
        optimizer: std::collections::HashMap<String, candle_core::Tensor>,
    ) -> Result<()> {
        let model = params.tensors();
        let carry = task.carry()?;
        let mut files = vec![(MODEL, &model), (OPTIMIZER, &optimizer)];
        if !carry.is_empty() {
            files.push((CARRY, &carry));
        }
        self.dir.save_checkpoint(state.step, &files, state)?;
        Ok(())
    }

    fn write_history(&self, history: &History) -> Result<()> {
        let mut csv = Vec::new();
        history.write_csv(&mut csv)?;
        self.dir.write_bytes("history.csv", &csv)?;
        let epochs = &history.epochs;
        // Several records in one epoch (validation inside epochs): plot
        // against steps, which keep their spacing.
        let by_step = epochs.windows(2).any(|w| w[0].epoch == w[1].epoch);
        let x = |r: &EpochRecord| {
            if by_step {
                r.step as f64
            } else {
                r.epoch as f64
            }
        };
        let x_label = if by_step { "step" } else { "epoch" };
        // One metric's points over the records that hold it.
        let points = |of: fn(&EpochRecord) -> &Metrics, name: &str| -> Vec<(f64, f64)> {
            epochs
                .iter()
                .filter_map(|r| of(r).get(name).map(|v| (x(r), *v)))
                .collect()
        };
        let mut series = vec![Series {
            name: "train loss".into(),
            points: epochs.iter().map(|r| (x(r), r.train_loss)).collect(),
        }];
        let valid = points(|r| &r.valid, "loss");
        if !valid.is_empty() {
            series.push(Series {
                name: "valid loss".into(),
                points: valid,
            });
        }
        let chart = Chart {
            title: "loss".into(),
            x_label: x_label.into(),
            y_label: "loss".into(),
        };
        plot_lines(&self.dir.file("loss"), &chart, &series)?;
        // Every other validation metric (BLEU, accuracy, F1, …) on its own
        // axes, since their scales differ: `<metric>.png` and `.svg`.
        for name in history.valid_names() {
            if name == "loss" || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let chart = Chart {
                title: name.clone(),
                x_label: x_label.into(),
                y_label: name.clone(),
            };
            let series: Vec<Series> = [
                ("train", points(|r| &r.train, &name)),
                ("valid", points(|r| &r.valid, &name)),
            ]
            .into_iter()
            .filter(|(_, p)| !p.is_empty())
            .map(|(set, points)| Series {
                name: format!("{set} {name}"),
                points,
            })
            .collect();
            plot_lines(&self.dir.file(&name), &chart, &series)?;
        }
        Ok(())
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
