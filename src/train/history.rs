//! The run's history: one record per epoch (or validation), saved as CSV.
//!
//! Records keep metrics in a map so every task can log what it measures
//! (loss, BLEU, accuracy …); the CSV's columns are the union, in a stable order.

use std::collections::BTreeMap;
use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::Result;

/// Metrics by name (e.g. `loss`, `bleu`, `accuracy`).
pub type Metrics = BTreeMap<String, f64>;

/// What happened in one epoch.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Optimizer steps taken so far in the whole run.
    pub step: u64,
    /// Mean training loss over the epoch's batches.
    pub train_loss: f64,
    /// Learning rate at the end of the epoch.
    pub lr: f64,
    /// Validation metrics, when validation ran this epoch.
    pub valid: Metrics,
    /// Training metrics besides the loss, over the period's batches as the
    /// model saw them (dropout on, weights moving), as Keras reports them:
    /// e.g. a classifier's `accuracy` (empty for tasks that report none, and
    /// in histories written before they were recorded).
    #[serde(default)]
    pub train: Metrics,
    /// Wall-clock seconds the epoch took (so far, for a record inside an epoch).
    pub seconds: f64,
    /// Wall-clock seconds of training since the run began, over all its
    /// sessions (0 in histories written before it was recorded).
    #[serde(default)]
    pub elapsed: f64,
}

/// All epochs so far.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Records in epoch order.
    pub epochs: Vec<EpochRecord>,
}

impl History {
    /// Appends a record.
    pub fn push(&mut self, record: EpochRecord) {
        self.epochs.push(record);
    }

    /// Validation metric names seen in any record, sorted.
    pub fn valid_names(&self) -> Vec<String> {
        self.names(|r| &r.valid)
    }

    /// The first epoch whose validation `metric` was `value` (the epoch of
    /// a run's best value, whose weights it kept).
    pub fn epoch_with(&self, metric: &str, value: f64) -> Option<usize> {
        self.epochs
            .iter()
            .find(|r| r.valid.get(metric) == Some(&value))
            .map(|r| r.epoch)
    }

    /// Training metric names (besides the loss) seen in any record, sorted.
    pub fn train_names(&self) -> Vec<String> {
        self.names(|r| &r.train)
    }

    fn names(&self, of: impl Fn(&EpochRecord) -> &Metrics) -> Vec<String> {
        let mut names: Vec<String> = self
            .epochs
            .iter()
            .flat_map(|r| of(r).keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Writes the history as CSV:
    /// `epoch,step,train_loss,lr,seconds,elapsed,train_<m>…,valid_<m>…`; a
    /// metric missing from an epoch is an empty cell.
    pub fn write_csv(&self, mut w: impl Write) -> Result<()> {
        let train = self.train_names();
        let names = self.valid_names();
        let io = |e| crate::Error::io("history.csv", e);
        write!(w, "epoch,step,train_loss,lr,seconds,elapsed").map_err(io)?;
        for n in &train {
            write!(w, ",train_{n}").map_err(io)?;
        }
        for n in &names {
            write!(w, ",valid_{n}").map_err(io)?;
        }
        writeln!(w).map_err(io)?;
        for r in &self.epochs {
            write!(
                w,
                "{},{},{},{},{:.3},{:.3}",
                r.epoch, r.step, r.train_loss, r.lr, r.seconds, r.elapsed
            )
            .map_err(io)?;
            let cells = train
                .iter()
                .map(|n| r.train.get(n))
                .chain(names.iter().map(|n| r.valid.get(n)));
            for cell in cells {
                match cell {
                    Some(v) => write!(w, ",{v}").map_err(io)?,
                    None => write!(w, ",").map_err(io)?,
                }
            }
            writeln!(w).map_err(io)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_union_of_metrics() -> Result<()> {
        let mut h = History::default();
        h.push(EpochRecord {
            epoch: 1,
            step: 10,
            train_loss: 2.5,
            lr: 0.1,
            valid: Metrics::from([("loss".into(), 2.0)]),
            seconds: 1.0,
            elapsed: 1.0,
            ..EpochRecord::default()
        });
        h.push(EpochRecord {
            epoch: 2,
            step: 20,
            train_loss: 1.5,
            lr: 0.1,
            valid: Metrics::from([("loss".into(), 1.0), ("bleu".into(), 12.5)]),
            train: Metrics::from([("accuracy".into(), 0.75)]),
            seconds: 1.0,
            elapsed: 1.0,
        });
        let mut out = Vec::new();
        h.write_csv(&mut out)?;
        let text = String::from_utf8(out).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "epoch,step,train_loss,lr,seconds,elapsed,train_accuracy,valid_bleu,valid_loss"
        );
        assert_eq!(lines[1], "1,10,2.5,0.1,1.000,1.000,,,2");
        assert_eq!(lines[2], "2,20,1.5,0.1,1.000,1.000,0.75,12.5,1");
        Ok(())
    }
}
