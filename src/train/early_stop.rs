//! Early stopping on a validation metric, as Keras' and PyTorch Lightning's
//! `EarlyStopping(monitor, mode, patience, min_delta)`.
//!
//! A value improves when it beats the best so far by more than `min_delta`
//! (`value < best − min_delta` for `min`, `value > best + min_delta` for
//! `max`); the first finite value always improves. Training stops once
//! `patience` consecutive values have not improved, or at once on a NaN or
//! infinite metric (Lightning's `check_finite`), since training has diverged.

use serde::{Deserialize, Serialize};

use super::metric::Goal;
use crate::{Error, Result};

/// Settings of [`EarlyStopping`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EarlyStoppingConfig {
    /// Name of the monitored metric (e.g. `valid_loss`, `bleu`).
    pub metric: String,
    /// Whether the metric should go down or up.
    pub mode: Goal,
    /// Evaluations without improvement tolerated before stopping.
    pub patience: u64,
    /// The smallest change that counts as an improvement (≥ 0).
    pub min_delta: f64,
}

impl Default for EarlyStoppingConfig {
    fn default() -> Self {
        EarlyStoppingConfig {
            metric: "valid_loss".into(),
            mode: Goal::Min,
            patience: 5,
            min_delta: 0.0,
        }
    }
}

/// What to do after an evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The value is the new best (save the best checkpoint).
    pub improved: bool,
    /// Stop training now.
    pub stop: bool,
}

/// The counters carried between evaluations: what `trainer.json` stores.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarlyStoppingState {
    /// Best value so far (always finite); `None` before the first.
    #[serde(with = "super::metric::any_f64::option")]
    pub best: Option<f64>,
    /// Consecutive evaluations without improvement.
    pub bad_epochs: u64,
}

/// Tracks the best value of one metric and decides when to stop.
#[derive(Clone, Debug, PartialEq)]
pub struct EarlyStopping {
    cfg: EarlyStoppingConfig,
    state: EarlyStoppingState,
}

impl EarlyStopping {
    /// A fresh tracker.
    pub fn new(cfg: &EarlyStoppingConfig) -> Result<Self> {
        if !(cfg.min_delta >= 0.0 && cfg.min_delta.is_finite()) {
            return Err(Error::Config(format!(
                "early stopping: min_delta must be >= 0, got {}",
                cfg.min_delta
            )));
        }
        if cfg.metric.is_empty() {
            return Err(Error::Config("early stopping: metric name is empty".into()));
        }
        Ok(EarlyStopping {
            cfg: cfg.clone(),
            state: EarlyStoppingState::default(),
        })
    }

    /// Records one evaluation's value of the metric.
    pub fn update(&mut self, value: f64) -> Decision {
        if !value.is_finite() {
            self.state.bad_epochs += 1;
            return Decision {
                improved: false,
                stop: true,
            };
        }
        let d = self.cfg.min_delta;
        let improved = match (self.state.best, self.cfg.mode) {
            (None, _) => true,
            (Some(best), Goal::Min) => value < best - d,
            (Some(best), Goal::Max) => value > best + d,
        };
        if improved {
            self.state.best = Some(value);
            self.state.bad_epochs = 0;
        } else {
            self.state.bad_epochs += 1;
        }
        Decision {
            improved,
            stop: self.state.bad_epochs >= self.cfg.patience && !improved,
        }
    }

    /// The monitored metric's name.
    pub fn metric(&self) -> &str {
        &self.cfg.metric
    }

    /// The best value so far.
    pub fn best(&self) -> Option<f64> {
        self.state.best
    }

    /// The counters to save for an exact resume.
    pub fn state(&self) -> EarlyStoppingState {
        self.state.clone()
    }

    /// Restores counters saved by [`EarlyStopping::state`].
    pub fn load_state(&mut self, state: &EarlyStoppingState) {
        self.state = state.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(cfg: &EarlyStoppingConfig, values: &[f64]) -> Vec<(bool, bool)> {
        let mut es = EarlyStopping::new(cfg).unwrap();
        values
            .iter()
            .map(|v| {
                let d = es.update(*v);
                (d.improved, d.stop)
            })
            .collect()
    }

    #[test]
    fn patience_and_min_delta_in_both_modes() {
        let cfg = EarlyStoppingConfig {
            patience: 2,
            min_delta: 0.05,
            ..Default::default()
        };
        let got = trace(&cfg, &[1.0, 0.97, 0.9, 0.88, 0.89]);
        let f = false;
        assert_eq!(got, [(true, f), (f, f), (true, f), (f, f), (f, true)]);
        let cfg = EarlyStoppingConfig {
            mode: Goal::Max,
            patience: 1,
            ..Default::default()
        };
        assert_eq!(
            trace(&cfg, &[10.0, 11.0, 11.0]),
            [(true, f), (true, f), (f, true)]
        );
        assert_eq!(trace(&cfg, &[10.0, f64::NAN]), [(true, f), (f, true)]);
    }

    #[test]
    fn state_round_trips_and_bad_settings_fail() {
        let cfg = EarlyStoppingConfig::default();
        let mut a = EarlyStopping::new(&cfg).unwrap();
        a.update(0.5);
        a.update(0.7);
        let json = serde_json::to_string(&a.state()).unwrap();
        let mut b = EarlyStopping::new(&cfg).unwrap();
        b.load_state(&serde_json::from_str(&json).unwrap());
        assert_eq!(a, b);
        assert_eq!(b.update(0.4), a.update(0.4));
        let bad = EarlyStoppingConfig {
            min_delta: -1.0,
            ..Default::default()
        };
        assert!(matches!(EarlyStopping::new(&bad), Err(Error::Config(_))));
    }
}
