//! Learning-rate schedules with PyTorch's semantics: `torch.optim.lr_scheduler.StepLR`,
//! `ExponentialLR` and `ReduceLROnPlateau`, plus cosine annealing per step
//! over the run's budget (`CosineAnnealingLR` with `T_max` = the run, after
//! an optional linear warm-up, as nanoGPT and fairseq train).
//!
//! A schedule is stepped once per epoch (or per validation), after the
//! optimizer, and sets the optimizer's learning rate. Step and exponential
//! decay use PyTorch's chainable form (multiply the *current* rate by γ), so
//! resuming from a checkpoint reproduces the same floating-point values.
//! `ReduceLROnPlateau` follows PyTorch line by line: a bad epoch is one whose
//! metric does not beat the best by `threshold` (relative or absolute); after
//! more than `patience` of them the rate is multiplied by `factor` (not below
//! `min_lr`, and not at all when the change would be `≤ eps`), and `cooldown`
//! epochs follow during which bad epochs are not counted.

use serde::{Deserialize, Serialize};

use super::metric::{Goal, any_f64};
use super::optim::Optimizer;
use crate::{Error, Result};

/// Whether the plateau threshold is a fraction of the best value or an amount.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThresholdMode {
    /// Better means beyond `best · (1 ∓ threshold)`.
    #[default]
    Rel,
    /// Better means beyond `best ∓ threshold`.
    Abs,
}

/// Settings of `ReduceLROnPlateau`; defaults are PyTorch's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlateauConfig {
    /// Whether the monitored metric should go down or up.
    pub mode: Goal,
    /// Multiplier applied to the rate on a plateau, in [0, 1).
    pub factor: f64,
    /// Bad epochs tolerated before reducing.
    pub patience: u64,
    /// How much better than the best a metric must be to count as better.
    pub threshold: f64,
    /// Whether `threshold` is relative or absolute.
    pub threshold_mode: ThresholdMode,
    /// Epochs after a reduction during which bad epochs are not counted.
    pub cooldown: u64,
    /// The rate never goes below this.
    pub min_lr: f64,
    /// Reductions smaller than this are skipped.
    pub eps: f64,
}

impl Default for PlateauConfig {
    fn default() -> Self {
        PlateauConfig {
            mode: Goal::Min,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lr: 0.0,
            eps: 1e-8,
        }
    }
}

/// Which schedule to train with. In TOML: `schedule = { type = "plateau", patience = 2 }`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum ScheduleConfig {
    /// The rate stays as the optimizer set it.
    #[default]
    Constant,
    /// `StepLR`: multiply by `gamma` every `step_size` epochs.
    Step {
        /// Epochs between decays (≥ 1).
        step_size: u64,
        /// Multiplier per decay.
        gamma: f64,
    },
    /// `ExponentialLR`: multiply by `gamma` every epoch.
    Exponential {
        /// Multiplier per epoch.
        gamma: f64,
    },
    /// `ReduceLROnPlateau` on a validation metric.
    Plateau(PlateauConfig),
    /// Per optimizer step: a linear warm-up from 0 over `warmup_steps`, then
    /// `CosineAnnealingLR` from the optimizer's rate down to `min_lr` over the
    /// run's budget — its steps (epochs × batches per epoch) or its time
    /// limit, whichever ends first. The time horizon counts all the run's
    /// training time (a resumed run goes on annealing where it stopped), so
    /// a time-limited run is not bit-for-bit reproducible; a step-limited one is.
    Cosine {
        /// Steps of linear warm-up (0: start at the full rate).
        #[serde(default)]
        warmup_steps: u64,
        /// The rate at the end of the budget.
        #[serde(default)]
        min_lr: f64,
    },
}

impl ScheduleConfig {
    /// Checks the settings (PyTorch's `factor < 1`, plus signs and ranges).
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::Config(format!("schedule: {msg}")));
        match self {
            ScheduleConfig::Constant => Ok(()),
            ScheduleConfig::Step { step_size, gamma } => {
                if *step_size == 0 {
                    bad("step_size must be at least 1".into())
                } else if !(*gamma > 0.0 && gamma.is_finite()) {
                    bad(format!("gamma must be positive, got {gamma}"))
                } else {
                    Ok(())
                }
            }
            ScheduleConfig::Exponential { gamma } if !(*gamma > 0.0 && gamma.is_finite()) => {
                bad(format!("gamma must be positive, got {gamma}"))
            }
            ScheduleConfig::Exponential { .. } => Ok(()),
            ScheduleConfig::Cosine { min_lr, .. } if !(*min_lr >= 0.0 && min_lr.is_finite()) => {
                bad(format!("min_lr must be >= 0, got {min_lr}"))
            }
            ScheduleConfig::Cosine { .. } => Ok(()),
            ScheduleConfig::Plateau(p) => {
                if !(0.0..1.0).contains(&p.factor) {
                    bad(format!("factor should be in [0, 1), got {}", p.factor))
                } else if !(p.threshold >= 0.0 && p.threshold.is_finite()) {
                    bad(format!("threshold must be >= 0, got {}", p.threshold))
                } else if !(p.min_lr >= 0.0 && p.min_lr.is_finite()) {
                    bad(format!("min_lr must be >= 0, got {}", p.min_lr))
                } else if !(p.eps >= 0.0 && p.eps.is_finite()) {
                    bad(format!("eps must be >= 0, got {}", p.eps))
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Whether stepping this schedule needs a validation metric.
    pub fn needs_metric(&self) -> bool {
        matches!(self, ScheduleConfig::Plateau(_))
    }

    /// Whether the rate changes after every optimizer step (rather than
    /// once per epoch or validation).
    pub fn per_step(&self) -> bool {
        matches!(self, ScheduleConfig::Cosine { .. })
    }
}

/// The counters a schedule carries between epochs: what `trainer.json` stores
/// for an exact resume.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleState {
    /// Epochs stepped so far (PyTorch's `last_epoch`).
    pub last_epoch: u64,
    /// Best metric so far (±∞ before the first; plateau only).
    #[serde(with = "any_f64")]
    pub best: f64,
    /// Consecutive epochs without improvement (plateau only).
    pub num_bad_epochs: u64,
    /// Epochs of cooldown left (plateau only).
    pub cooldown_counter: u64,
    /// The optimizer's rate when training started, which a per-step
    /// schedule scales (absent in states saved before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_lr: Option<f64>,
}

/// A learning-rate schedule built from a [`ScheduleConfig`].
#[derive(Clone, Debug, PartialEq)]
pub struct Scheduler {
    cfg: ScheduleConfig,
    state: ScheduleState,
}

impl Scheduler {
    /// A fresh schedule (PyTorch's state right after construction).
    pub fn new(cfg: &ScheduleConfig) -> Result<Self> {
        cfg.validate()?;
        let best = match cfg {
            ScheduleConfig::Plateau(p) => p.mode.worst(),
            _ => f64::INFINITY,
        };
        Ok(Scheduler {
            cfg: cfg.clone(),
            state: ScheduleState {
                last_epoch: 0,
                best,
                num_bad_epochs: 0,
                cooldown_counter: 0,
                base_lr: None,
            },
        })
    }

    /// Ends an epoch: updates the counters and returns the new rate given the
    /// current one. `metric` is required by `Plateau` and ignored otherwise.
    pub fn next_lr(&mut self, lr: f64, metric: Option<f64>) -> Result<f64> {
        let s = &mut self.state;
        match &self.cfg {
            ScheduleConfig::Constant => {
                s.last_epoch += 1;
                Ok(lr)
            }
            ScheduleConfig::Step { step_size, gamma } => {
                s.last_epoch += 1;
                Ok(if s.last_epoch.is_multiple_of(*step_size) {
                    lr * gamma
                } else {
                    lr
                })
            }
            ScheduleConfig::Exponential { gamma } => {
                s.last_epoch += 1;
                Ok(lr * gamma)
            }
            // Set per step by `lr_at`; an epoch's end changes nothing.
            ScheduleConfig::Cosine { .. } => {
                s.last_epoch += 1;
                Ok(lr)
            }
            ScheduleConfig::Plateau(p) => {
                let current = metric.ok_or_else(|| {
                    Error::Config("ReduceLROnPlateau needs a validation metric each step".into())
                })?;
                s.last_epoch += 1;
                if is_better(p, current, s.best) {
                    s.best = current;
                    s.num_bad_epochs = 0;
                } else {
                    s.num_bad_epochs += 1;
                }
                if s.cooldown_counter > 0 {
                    s.cooldown_counter -= 1;
                    s.num_bad_epochs = 0; // bad epochs in cooldown do not count
                }
                if s.num_bad_epochs > p.patience {
                    s.cooldown_counter = p.cooldown;
                    s.num_bad_epochs = 0;
                    let new_lr = (lr * p.factor).max(p.min_lr);
                    if lr - new_lr > p.eps {
                        return Ok(new_lr);
                    }
                }
                Ok(lr)
            }
        }
    }

    /// Remembers the rate a per-step schedule scales, unless a resumed state
    /// already holds it.
    pub fn start(&mut self, lr: f64) {
        self.state.base_lr.get_or_insert(lr);
    }

    /// A per-step schedule's rate for optimizer step `step` (1-based), with
    /// `progress` the fraction of the run's budget spent before it (clamped
    /// to [0, 1]);
    /// other schedules return `lr`, the current rate, unchanged.
    pub fn lr_at(&self, lr: f64, step: u64, progress: f64) -> f64 {
        let ScheduleConfig::Cosine {
            warmup_steps,
            min_lr,
        } = self.cfg
        else {
            return lr;
        };
        let base = self.state.base_lr.unwrap_or(lr);
        if step < warmup_steps {
            return base * step as f64 / warmup_steps as f64;
        }
        let p = if progress.is_finite() {
            progress.clamp(0.0, 1.0)
        } else {
            1.0
        };
        min_lr + (base - min_lr) * 0.5 * (1.0 + (std::f64::consts::PI * p).cos())
    }

    /// Ends an epoch and sets `opt`'s learning rate (PyTorch's `scheduler.step()`).
    pub fn step(&mut self, opt: &mut dyn Optimizer, metric: Option<f64>) -> Result<()> {
        let lr = self.next_lr(opt.lr(), metric)?;
        opt.set_lr(lr);
        Ok(())
    }

    /// The schedule's settings.
    pub fn config(&self) -> &ScheduleConfig {
        &self.cfg
    }

    /// The counters to save for an exact resume.
    pub fn state(&self) -> ScheduleState {
        self.state.clone()
    }

    /// Restores counters saved by [`Scheduler::state`].
    pub fn load_state(&mut self, state: &ScheduleState) {
        self.state = state.clone();
    }
}

/// PyTorch's `_is_better`: `a` beats `best` by more than the threshold.
fn is_better(p: &PlateauConfig, a: f64, best: f64) -> bool {
    match (p.mode, p.threshold_mode) {
        (Goal::Min, ThresholdMode::Rel) => a < best * (1.0 - p.threshold),
        (Goal::Min, ThresholdMode::Abs) => a < best - p.threshold,
        (Goal::Max, ThresholdMode::Rel) => a > best * (p.threshold + 1.0),
        (Goal::Max, ThresholdMode::Abs) => a > best + p.threshold,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cfg: &ScheduleConfig, lr: f64, metrics: &[f64]) -> Vec<f64> {
        let mut s = Scheduler::new(cfg).unwrap();
        let mut lr = lr;
        metrics
            .iter()
            .map(|m| {
                lr = s.next_lr(lr, Some(*m)).unwrap();
                lr
            })
            .collect()
    }

    #[test]
    fn step_and_exponential_decay_like_pytorch() {
        let step = ScheduleConfig::Step {
            step_size: 2,
            gamma: 0.5,
        };
        assert_eq!(run(&step, 1.0, &[0.0; 5]), [1.0, 0.5, 0.5, 0.25, 0.25]);
        let exp = ScheduleConfig::Exponential { gamma: 0.1 };
        assert_eq!(run(&exp, 1.0, &[0.0; 2]), [0.1, 0.1 * 0.1]);
        assert_eq!(run(&ScheduleConfig::Constant, 0.3, &[0.0; 2]), [0.3, 0.3]);
    }

    #[test]
    fn cosine_warms_up_then_anneals_to_min_lr_and_resumes() {
        let cfg = ScheduleConfig::Cosine {
            warmup_steps: 4,
            min_lr: 0.1,
        };
        let mut s = Scheduler::new(&cfg).unwrap();
        s.start(1.0);
        s.start(5.0); // a second start keeps the first rate
        assert_eq!(s.lr_at(0.0, 1, 0.0), 0.25);
        assert_eq!(s.lr_at(0.0, 3, 0.0), 0.75);
        assert_eq!(s.lr_at(0.0, 4, 0.0), 1.0);
        assert!((s.lr_at(0.0, 50, 0.5) - 0.55).abs() < 1e-12);
        assert!((s.lr_at(0.0, 99, 1.0) - 0.1).abs() < 1e-12);
        assert!((s.lr_at(0.0, 99, 7.0) - 0.1).abs() < 1e-12, "clamped");
        assert!((s.lr_at(0.0, 99, f64::NAN) - 0.1).abs() < 1e-12);
        // The epoch step leaves the rate alone; the base survives a resume.
        assert_eq!(s.next_lr(0.3, None).unwrap(), 0.3);
        let json = serde_json::to_string(&s.state()).unwrap();
        let mut resumed = Scheduler::new(&cfg).unwrap();
        resumed.load_state(&serde_json::from_str(&json).unwrap());
        resumed.start(0.3);
        assert_eq!(resumed.lr_at(0.0, 50, 0.5), s.lr_at(0.0, 50, 0.5));
        // Other schedules do not move per step; states without a base load.
        let step = Scheduler::new(&ScheduleConfig::Exponential { gamma: 0.5 }).unwrap();
        assert_eq!(step.lr_at(0.7, 10, 0.5), 0.7);
        let old = r#"{"last_epoch":1,"best":"inf","num_bad_epochs":0,"cooldown_counter":0}"#;
        assert!(serde_json::from_str::<ScheduleState>(old).is_ok());
        let bad = ScheduleConfig::Cosine {
            warmup_steps: 0,
            min_lr: -1.0,
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn plateau_cooldown_min_lr_and_max_mode() {
        let cfg = ScheduleConfig::Plateau(PlateauConfig {
            mode: Goal::Max,
            factor: 0.5,
            patience: 0,
            threshold: 0.1,
            threshold_mode: ThresholdMode::Abs,
            cooldown: 1,
            min_lr: 0.3,
            ..Default::default()
        });
        // 1 best; 1.05 not better by 0.1 → reduce; cooldown swallows the next
        // bad epoch; then reduce to min_lr; then the change would be 0: kept.
        let got = run(&cfg, 1.0, &[1.0, 1.05, 1.0, 1.0, 1.0, 1.0, 1.0]);
        assert_eq!(got, [1.0, 0.5, 0.5, 0.3, 0.3, 0.3, 0.3]);
    }

    #[test]
    fn state_round_trips_through_json_including_infinite_best() {
        let cfg = ScheduleConfig::Plateau(PlateauConfig::default());
        let fresh = Scheduler::new(&cfg).unwrap();
        let json = serde_json::to_string(&fresh.state()).unwrap();
        let mut other = Scheduler::new(&cfg).unwrap();
        other.load_state(&serde_json::from_str(&json).unwrap());
        assert_eq!(other, fresh);
        assert!(Scheduler::new(&cfg).unwrap().next_lr(1.0, None).is_err());
    }

    #[test]
    fn config_parses_and_validates() {
        let c: ScheduleConfig =
            serde_json::from_str(r#"{"type":"plateau","patience":2,"mode":"max"}"#).unwrap();
        assert!(c.needs_metric());
        assert!(
            serde_json::from_str::<ScheduleConfig>(r#"{"type":"plateau","patient":2}"#).is_err()
        );
        assert!(serde_json::from_str::<ScheduleConfig>(r#"{"type":"step","gamma":0.5}"#).is_err());
        let extra = r#"{"type":"step","step_size":2,"gamma":0.5,"size":3}"#;
        assert!(serde_json::from_str::<ScheduleConfig>(extra).is_err());
        let c: ScheduleConfig = serde_json::from_str(r#"{"type":"constant"}"#).unwrap();
        assert_eq!(c, ScheduleConfig::Constant);
        let bad = [
            ScheduleConfig::Step {
                step_size: 0,
                gamma: 0.5,
            },
            ScheduleConfig::Exponential { gamma: 0.0 },
            ScheduleConfig::Plateau(PlateauConfig {
                factor: 1.0,
                ..Default::default()
            }),
        ];
        for cfg in bad {
            assert!(
                matches!(Scheduler::new(&cfg), Err(Error::Config(_))),
                "{cfg:?}"
            );
        }
    }
}
