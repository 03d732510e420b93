//! Stratified k-fold cross-validation (`attend classify cv`), the protocol
//! of the MR and Subj tables (Kim 2014): the rows are dealt into `k` seeded
//! stratified folds ([`stratified_folds`]); fold `f`'s model trains on the
//! other folds, a stratified tenth of which (`data.split.valid`) is its
//! validation set for keeping the best epoch and early stopping, and is
//! scored once on fold `f`. The report is each fold's accuracy and macro-F1
//! and their mean and standard deviation over the folds.
//!
//! `out/cv.json` is rewritten (atomically) after every fold, so a stopped
//! run resumes (`--resume`) at the first unfinished fold, which goes on
//! from its last checkpoint (a time limit holds for each fold's session).
//! Each fold's model is trained in `out/fold-F` and removed once scored,
//! unless the run keeps them.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::data::{Labelled, Prepared, read_dataset};
use super::predictor::Predictor;
use super::recipe::{ClassifyConfig, train_prepared};
use crate::data::{SplitConfig, python_stratified_split, stratified_folds};
use crate::train::{ModelDir, RunOptions, Start};
use crate::{Error, Result};

/// The report of a cross-validation, as `out/cv.json` holds it.
const CV_REPORT: &str = "cv.json";

/// How to cross-validate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CvOptions {
    /// Number of folds.
    pub folds: usize,
    /// Keep each fold's model directory (`out/fold-F`).
    pub keep_models: bool,
}

/// One fold's scores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FoldScore {
    /// The fold, from 1.
    pub fold: usize,
    /// Training, validation and test rows.
    pub sizes: (usize, usize, usize),
    /// Accuracy on the fold.
    pub accuracy: f64,
    /// Macro-averaged F1 on the fold.
    pub macro_f1: f64,
    /// The epoch whose weights were kept.
    pub best_epoch: Option<usize>,
    /// Training seconds.
    pub seconds: f64,
}

/// A cross-validation's scores, fold by fold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CvReport {
    /// The config every fold trained with.
    pub config: ClassifyConfig,
    /// The options.
    pub options: CvOptions,
    /// The folds done so far, in order.
    pub folds: Vec<FoldScore>,
}

/// Mean and (population, numpy's default) standard deviation.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

impl CvReport {
    /// Whether every fold is done.
    pub fn complete(&self) -> bool {
        self.folds.len() == self.options.folds
    }

    /// Mean and standard deviation of the folds' accuracies.
    pub fn accuracy(&self) -> (f64, f64) {
        mean_std(&self.folds.iter().map(|f| f.accuracy).collect::<Vec<_>>())
    }

    /// Mean and standard deviation of the folds' macro-F1.
    pub fn macro_f1(&self) -> (f64, f64) {
        mean_std(&self.folds.iter().map(|f| f.macro_f1).collect::<Vec<_>>())
    }

    /// The per-fold table and the summary line.
    pub fn table(&self) -> String {
        let mut s = format!(
            "{:>4} {:>7} {:>7} {:>6} {:>9} {:>9} {:>6} {:>8}\n",
            "fold", "train", "valid", "test", "accuracy", "macro F1", "epoch", "seconds"
        );
        for f in &self.folds {
            s += &format!(
                "{:>4} {:>7} {:>7} {:>6} {:>9.4} {:>9.4} {:>6} {:>8.1}\n",
                f.fold,
                f.sizes.0,
                f.sizes.1,
                f.sizes.2,
                f.accuracy,
                f.macro_f1,
                f.best_epoch.map_or("-".into(), |e| e.to_string()),
                f.seconds
            );
        }
        if self.folds.is_empty() {
            return s + "no fold done yet\n";
        }
        let (a, sa) = self.accuracy();
        let (m, sm) = self.macro_f1();
        s += &format!(
            "{}-fold cross-validation: accuracy {:.4} ± {:.4}, macro F1 {:.4} ± {:.4}\n",
            self.folds.len(),
            a,
            sa,
            m,
            sm
        );
        s
    }
}

/// Cross-validates `cfg` on its dataset into `run.out` (see the module
/// docs); `progress` is told of each fold as it ends. A run stopped by a
/// signal or its time limit returns the folds done so far
/// ([`CvReport::complete`] is false).
pub fn cross_validate(
    cfg: &ClassifyConfig,
    options: CvOptions,
    run: &RunOptions,
    mut progress: impl FnMut(&FoldScore),
) -> Result<CvReport> {
    cfg.validate()?;
    if cfg.data.valid.is_some() || cfg.data.test.is_some() {
        return Err(Error::Config(
            "cross-validation makes its own validation and test rows from the folds: leave out --valid and --test".into(),
        ));
    }
    // The directory's lock; whether this is a resume is cv.json's to say.
    let lock_run = run.clone().silent().start(Start::Fresh);
    let (dir, _lock, _) = ModelDir::for_training(&lock_run, None)?;
    let mut report = start_report(&dir, &run.out, cfg, options, run.start)?;
    let read = read_dataset(&cfg.data)?;
    if let (Some(w), false) = (read.warning(), run.quiet) {
        eprintln!("{w}");
    }
    let rows = read.rows;
    let labels: Vec<&str> = rows.iter().map(|r| r.label.as_str()).collect();
    let fold_of = stratified_folds(&labels, options.folds, cfg.data.split_seed)?;
    for fold in report.folds.len()..options.folds {
        let data = fold_rows(
            &rows,
            &fold_of,
            fold,
            cfg.data.split.valid,
            cfg.data.split_seed,
        )?;
        let fold_dir = dir.file(&format!("fold-{}", fold + 1));
        // The unfinished fold of a stopped run goes on from its checkpoint
        // on --resume; anything else in its place starts over.
        let resume_fold =
            run.start == Start::Resume && fold_dir.join(crate::train::TRAIN_CONFIG).is_file();
        if fold_dir.exists() && !resume_fold {
            std::fs::remove_dir_all(&fold_dir).map_err(|e| Error::io(&fold_dir, e))?;
        }
        let fold_start = if resume_fold {
            Start::Resume
        } else {
            Start::Fresh
        };
        let mut fold_run = RunOptions::new(&fold_dir)
            .threads(run.threads)
            .start(fold_start);
        fold_run.quiet = true;
        fold_run.progress = run.progress;
        let trained = train_prepared(cfg, &fold_run, &data)?;
        if trained.summary.interrupted || trained.summary.timed_out {
            // The folds done are saved; the caller sees fewer than asked.
            return Ok(report);
        }
        let (scores, _) = Predictor::load(&fold_dir)?.evaluate(&data.test)?;
        let state = &trained.summary.state;
        let score = FoldScore {
            fold: fold + 1,
            sizes: trained.sizes,
            accuracy: scores.accuracy,
            macro_f1: scores.macro_avg.f1,
            best_epoch: state
                .best
                .and_then(|b| state.history.epoch_with(&cfg.train.select_metric, b)),
            seconds: state.elapsed,
        };
        progress(&score);
        report.folds.push(score);
        dir.write_json(CV_REPORT, &report)?;
        if !options.keep_models {
            std::fs::remove_dir_all(&fold_dir).map_err(|e| Error::io(&fold_dir, e))?;
        }
    }
    Ok(report)
}

/// A fresh report, or on resume the saved one (whose config and options
/// must be these).
fn start_report(
    dir: &ModelDir,
    root: &Path,
    cfg: &ClassifyConfig,
    options: CvOptions,
    start: Start,
) -> Result<CvReport> {
    let path = dir.file(CV_REPORT);
    let fresh = CvReport {
        config: cfg.clone(),
        options,
        folds: Vec::new(),
    };
    match (start, path.is_file()) {
        (Start::Fresh, false) => Ok(fresh),
        (Start::Fresh, true) => Err(already(root)),
        (Start::Resume, false) => Ok(fresh),
        (Start::Resume, true) => {
            let saved: CvReport = dir.read_json(CV_REPORT)?;
            // A time limit bounds one session, not the run.
            let unlimited = |c: &ClassifyConfig| {
                let mut c = c.clone();
                c.train.time_limit_minutes = None;
                c
            };
            if unlimited(&saved.config) != unlimited(cfg) || saved.options != options {
                return Err(Error::Checkpoint {
                    path: path.clone(),
                    msg: "was written with other settings: a resumed cross-validation needs the flags it began with (or a new --out)".into(),
                });
            }
            Ok(saved)
        }
    }
}

fn already(root: &Path) -> Error {
    Error::Checkpoint {
        path: root.to_path_buf(),
        msg: format!(
            "already holds a cross-validation ({CV_REPORT}): continue it with --resume, or use an empty directory"
        ),
    }
}

/// Fold `fold`'s rows: its test rows, and the other folds split into
/// training and a stratified `valid` fraction (seeded).
fn fold_rows(
    rows: &[Labelled],
    fold_of: &[usize],
    fold: usize,
    valid: f64,
    seed: u64,
) -> Result<Prepared> {
    let (rest, test): (Vec<usize>, Vec<usize>) = (0..rows.len()).partition(|&i| fold_of[i] != fold);
    let labels: Vec<&str> = rest.iter().map(|&i| rows[i].label.as_str()).collect();
    let split = python_stratified_split(&labels, &SplitConfig::holding_out(valid, 0.0), seed)?;
    let pick = |idx: &[usize]| {
        idx.iter()
            .map(|&j| rows[rest[j]].clone())
            .collect::<Vec<_>>()
    };
    Ok(Prepared {
        train: pick(&split.train),
        valid: pick(&split.valid),
        test: test.iter().map(|&i| rows[i].clone()).collect(),
        warning: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_std_are_numpys() {
        let (m, s) = mean_std(&[0.5, 0.7, 0.9]);
        assert!((m - 0.7).abs() < 1e-12);
        assert!((s - (0.08f64 / 3.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn a_folds_rows_hold_out_exactly_that_fold() {
        let rows: Vec<Labelled> = (0..30)
            .map(|i| Labelled {
                text: format!("t{i}"),
                label: (i % 3).to_string(),
            })
            .collect();
        let labels: Vec<&str> = rows.iter().map(|r| r.label.as_str()).collect();
        let fold_of = stratified_folds(&labels, 5, 1).unwrap();
        let mut tested = Vec::new();
        for f in 0..5 {
            let p = fold_rows(&rows, &fold_of, f, 0.1, 1).unwrap();
            assert_eq!(p.train.len() + p.valid.len() + p.test.len(), 30);
            assert_eq!(p.test.len(), 6);
            assert!(!p.valid.is_empty());
            for t in &p.test {
                assert!(!p.train.contains(t) && !p.valid.contains(t));
            }
            tested.extend(p.test.into_iter().map(|r| r.text));
        }
        tested.sort();
        tested.dedup();
        assert_eq!(tested.len(), 30, "every row is tested once");
    }
}
