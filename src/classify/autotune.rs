//! `--autotune MINUTES`: a random search over the classifier's architecture
//! and training settings, scored on the validation split only, within a
//! wall-clock budget — fastText's `-autotune-validation` for these models.
//!
//! Trial 1 is the configuration as given (so the search never ends worse
//! on validation than not searching). Later trials come from a seeded
//! generator, two ways, as fastText's search goes from exploring to
//! refining: trials 2 and 3, and a third of the rest, draw a configuration
//! anew around the given one ([`draw`]: an encoder, RNN or the bag of
//! n-grams, and its sizes — cell, hidden, layers, pooling, embedding width,
//! head, n-grams —, the tokens' level, and the training settings — learning
//! rate, dropout, weight decay, batch size); the others change a few
//! settings of the best trial so far by a step each ([`mutate`]). Epochs run
//! up to the given count with early stopping on the validation metric
//! (patience 3 unless one is set).
//!
//! Each trial trains in `out/trials/NN` with a time limit of what is left of
//! the budget, less the most time a trial has spent outside training so
//! far (and at most a third of the whole budget after the first, so one
//! slow draw cannot take it all): the search ends near its budget, over it
//! by at most one validation and an unusually slow trial set-up. Then the
//! best trial's files move into `out`, which is an ordinary model
//! directory, and the other trials are removed; the trials table stays as
//! `out/autotune.tsv`. A trial that cannot train (a diverging rate) is a
//! failed row of the table.

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::model::{Encoder, Pooling};
use super::recipe::{ClassifyConfig, train_prepared};
use crate::data::atomic::write_atomic;
use crate::nn::Cell;
use crate::text::{Level, NormalizeConfig};
use crate::train::{ModelDir, OptimizerConfig, RunOptions};
use crate::{Error, Result};

/// The trials table a search leaves in its output directory.
pub const AUTOTUNE_TABLE: &str = "autotune.tsv";

/// One trial of a search.
#[derive(Clone, Debug, PartialEq)]
pub struct Trial {
    /// From 1.
    pub number: usize,
    /// What was drawn, as `key=value` pairs.
    pub settings: String,
    /// The best validation value of the selection metric, if it validated.
    pub valid: Option<f64>,
    /// Epochs trained.
    pub epochs: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// What a search did.
#[derive(Clone, Debug)]
pub struct AutotuneReport {
    /// Every trial, in order.
    pub trials: Vec<Trial>,
    /// The index in `trials` of the best one.
    pub best: usize,
    /// The best trial's configuration (what `out` now holds).
    pub config: ClassifyConfig,
    /// Wall-clock seconds of the whole search.
    pub seconds: f64,
}

impl AutotuneReport {
    /// The trials as a table (tab-separated), the best marked with `*`.
    pub fn table(&self, metric: &str) -> String {
        let mut s = format!("trial\tvalid {metric}\tepochs\tseconds\tsettings\n");
        for (i, t) in self.trials.iter().enumerate() {
            s += &format!(
                "{}{}\t{}\t{}\t{:.1}\t{}\n",
                t.number,
                if i == self.best { "*" } else { "" },
                t.valid.map_or("-".into(), |v| format!("{v:.4}")),
                t.epochs,
                t.seconds,
                t.settings
            );
        }
        s
    }
}

/// Searches for `minutes` (see the module docs) and leaves the best model
/// in `run.out`; `progress` is told of each trial as it ends.
pub fn autotune(
    base: &ClassifyConfig,
    minutes: f64,
    run: &RunOptions,
    mut progress: impl FnMut(&Trial),
) -> Result<AutotuneReport> {
    if !(minutes > 0.0 && minutes.is_finite()) {
        return Err(Error::Config(format!(
            "--autotune takes a budget in minutes above 0, got {minutes}"
        )));
    }
    base.validate()?;
    let began = Instant::now();
    let budget = minutes * 60.0;
    let (dir, lock, _) = ModelDir::for_training(&run.clone().silent(), None)?;
    let trials_dir = dir.file("trials");
    let data = super::data::prepare(&base.data)?;
    if let (Some(w), false) = (&data.warning, run.quiet) {
        eprintln!("{w}");
    }
    let mut rng = StdRng::seed_from_u64(base.train.seed);
    let mut trials: Vec<Trial> = Vec::new();
    // The index of the best trial so far, and its configuration.
    let mut best: Option<(usize, ClassifyConfig)> = None;
    let trial_dir = |index: usize| trials_dir.join(format!("{:02}", index + 1));
    let goal = base.train.select_goal;
    // Seconds a trial spends outside its time-limited training (vocabulary,
    // model, files), the most seen so far: a trial's limit leaves room for it.
    let mut overhead: f64 = 0.0;
    loop {
        let left = budget - began.elapsed().as_secs_f64() - overhead;
        // A trial needs time to train an epoch at least; a sliver is not one.
        if left < (budget * 0.03).max(1.0) {
            break;
        }
        let number = trials.len() + 1;
        let (mut cfg, mut settings) = match number {
            1 => (base.clone(), "as given".to_string()),
            2 | 3 => draw(base, &mut rng),
            _ => match &best {
                Some((_, best_cfg)) if !rng.random_bool(1.0 / 3.0) => mutate(best_cfg, &mut rng),
                _ => draw(base, &mut rng),
            },
        };
        let cap = if number == 1 {
            left
        } else {
            left.min(budget / 3.0)
        };
        cfg.train.time_limit_minutes = Some(cap / 60.0);
        if cfg.train.early_stopping.is_none() {
            cfg.train.early_stopping = Some(cfg.train.stop_on_selection(3));
        }
        let out = trial_dir(trials.len());
        let started = Instant::now();
        let trial_run = RunOptions::new(&out).threads(run.threads).silent();
        let summary = match train_prepared(&cfg, &trial_run, &data) {
            Ok(report) => Some(report.summary),
            // A draw that cannot train (a rate at which the loss diverges,
            // sizes the data cannot fill) is a failed trial, not the end of
            // the search; a file or disk error still ends it.
            Err(Error::Config(why)) => {
                settings = format!("{settings} (failed: {why})");
                None
            }
            Err(e) => return Err(e),
        };
        let trial = Trial {
            number,
            settings,
            valid: summary.as_ref().and_then(|s| s.state.best),
            epochs: summary.as_ref().map_or(0, |s| s.state.epochs_done),
            seconds: started.elapsed().as_secs_f64(),
        };
        if let Some(s) = &summary {
            overhead = overhead.max(trial.seconds - s.state.elapsed);
        }
        progress(&trial);
        let best_valid = best.as_ref().and_then(|(i, _)| trials[*i].valid);
        let better = match (trial.valid, best_valid) {
            (Some(v), Some(b)) => goal.better(v, b),
            (Some(_), None) => true,
            (None, _) => false,
        };
        if better {
            if let Some((old, _)) = &best {
                remove_trial(&trial_dir(*old))?;
            }
            best = Some((trials.len(), cfg));
        } else {
            remove_trial(&out)?;
        }
        trials.push(trial);
        if summary.is_some_and(|s| s.interrupted) {
            break;
        }
    }
    let Some((best, config)) = best else {
        return Err(Error::Config(format!(
            "--autotune {minutes}: no trial validated within the budget; give it more minutes"
        )));
    };
    let report = AutotuneReport {
        trials,
        best,
        config,
        seconds: began.elapsed().as_secs_f64(),
    };
    adopt(&trial_dir(best), &dir)?;
    remove_trial(&trials_dir)?;
    let table = report.table(&base.train.select_metric);
    write_atomic(&dir.file(AUTOTUNE_TABLE), |f| {
        std::io::Write::write_all(f, table.as_bytes())
    })?;
    drop(lock);
    Ok(report)
}

/// Moves every file of the trial directory `from` into `to` (one rename
/// each, so each file arrives whole).
fn adopt(from: &std::path::Path, to: &ModelDir) -> Result<()> {
    let entries = std::fs::read_dir(from).map_err(|e| Error::io(from, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(from, e))?;
        let dest = to.file(&entry.file_name().to_string_lossy());
        if dest.is_dir() {
            std::fs::remove_dir_all(&dest).map_err(|e| Error::io(&dest, e))?;
        }
        std::fs::rename(entry.path(), &dest).map_err(|e| Error::io(&dest, e))?;
    }
    Ok(())
}

fn remove_trial(path: &std::path::Path) -> Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path, e)),
        _ => Ok(()),
    }
}

fn pick<T: Copy>(rng: &mut StdRng, options: &[T]) -> T {
    options[rng.random_range(0..options.len())]
}

/// A configuration drawn around `base` (its data and selection stay), and
/// what was drawn.
fn draw(base: &ClassifyConfig, rng: &mut StdRng) -> (ClassifyConfig, String) {
    let mut c = base.clone();
    let mut said: Vec<String> = Vec::new();
    let m = &mut c.model;
    // Characters only where the base reads characters or now and then.
    let chars = base.text.level == Level::Char || rng.random_bool(0.1);
    if chars {
        c.text.level = Level::Char;
        c.text.normalize = NormalizeConfig {
            lowercase: false,
            split_punctuation: false,
        };
        c.data.min_freq = 1;
    } else {
        c.text.level = Level::Word;
        c.text.normalize = NormalizeConfig::default();
        c.data.min_freq = pick(rng, &[1, 2]);
        said.push(format!("min_freq={}", c.data.min_freq));
    }
    said.push(format!("level={:?}", c.text.level).to_lowercase());
    if rng.random_bool(0.3) {
        m.encoder = Encoder::Bag;
        m.pooling = Pooling::Mean;
        c.text.ngrams = pick(rng, &[1, 2, 3]);
        m.embed = pick(rng, &[50, 100, 200]);
        m.head_hidden = pick(rng, &[0, 64]);
        said.push(format!(
            "encoder=bag ngrams={} embed={} head={}",
            c.text.ngrams, m.embed, m.head_hidden
        ));
    } else {
        m.encoder = Encoder::Rnn;
        c.text.ngrams = 1;
        m.cell = pick(rng, &[Cell::Gru, Cell::Lstm]);
        m.hidden = pick(rng, &[64, 128, 256]);
        m.layers = pick(rng, &[1, 1, 2]);
        m.pooling = pick(
            rng,
            &[
                Pooling::Attention,
                Pooling::Max,
                Pooling::Mean,
                Pooling::Last,
            ],
        );
        m.embed = pick(rng, &[64, 128, 300]);
        m.head_hidden = pick(rng, &[0, m.hidden]);
        said.push(
            format!(
                "encoder=rnn cell={:?} hidden={} layers={} pooling={:?} embed={} head={}",
                m.cell, m.hidden, m.layers, m.pooling, m.embed, m.head_hidden
            )
            .to_lowercase(),
        );
    }
    m.dropout = pick(rng, &[0.2, 0.3, 0.4, 0.5, 0.6]);
    let lr = match m.encoder {
        Encoder::Bag => pick(rng, &[2e-3, 5e-3, 1e-2, 2e-2]),
        Encoder::Rnn => pick(rng, &[5e-4, 1e-3, 2e-3, 4e-3]),
    };
    let wd = pick(rng, &[0.0, 0.0, 1e-6, 1e-5]);
    c.train.optimizer = match &base.train.optimizer {
        OptimizerConfig::Adam(a) => {
            let mut a = a.clone();
            a.lr = lr;
            a.weight_decay = wd;
            OptimizerConfig::Adam(a)
        }
        other => {
            let mut o = other.clone();
            o.set_lr(lr);
            o
        }
    };
    c.task.batch.batch_size = pick(rng, &[32, 64, 128]);
    said.push(format!(
        "dropout={} lr={lr} weight_decay={wd} batch={}",
        m.dropout, c.task.batch.batch_size
    ));
    (c, said.join(" "))
}

/// `best` with a few settings moved one step each (each with probability
/// 0.3, at least one), and what moved.
fn mutate(best: &ClassifyConfig, rng: &mut StdRng) -> (ClassifyConfig, String) {
    let mut c = best.clone();
    let mut said: Vec<String> = Vec::new();
    while said.is_empty() {
        let m = &mut c.model;
        let step = |rng: &mut StdRng, v: usize, lo: usize, hi: usize| {
            let v = if rng.random_bool(0.5) { v / 2 } else { v * 2 };
            v.clamp(lo, hi)
        };
        if rng.random_bool(0.3) {
            let lr = c.train.optimizer.lr() * pick(rng, &[0.5, 2.0]);
            c.train.optimizer.set_lr(lr);
            said.push(format!("lr={lr}"));
        }
        if rng.random_bool(0.3) {
            let d: f32 = m.dropout + pick(rng, &[-0.1, 0.1]);
            m.dropout = (d.clamp(0.0, 0.7) * 10.0).round() / 10.0;
            said.push(format!("dropout={}", m.dropout));
        }
        if rng.random_bool(0.3) {
            m.embed = step(rng, m.embed, 16, 512);
            said.push(format!("embed={}", m.embed));
        }
        if rng.random_bool(0.3) {
            let b = step(rng, c.task.batch.batch_size, 16, 256);
            c.task.batch.batch_size = b;
            said.push(format!("batch={b}"));
        }
        match m.encoder {
            Encoder::Rnn => {
                if rng.random_bool(0.3) {
                    m.hidden = step(rng, m.hidden, 16, 512);
                    if m.head_hidden > 0 {
                        m.head_hidden = m.hidden;
                    }
                    said.push(format!("hidden={}", m.hidden));
                }
                if rng.random_bool(0.2) {
                    m.layers = if m.layers == 1 { 2 } else { 1 };
                    said.push(format!("layers={}", m.layers));
                }
                if rng.random_bool(0.2) {
                    m.cell = if m.cell == Cell::Gru {
                        Cell::Lstm
                    } else {
                        Cell::Gru
                    };
                    said.push(format!("cell={:?}", m.cell).to_lowercase());
                }
                if rng.random_bool(0.2) {
                    let all = [
                        Pooling::Attention,
                        Pooling::Max,
                        Pooling::Mean,
                        Pooling::Last,
                    ];
                    m.pooling = pick(rng, &all);
                    said.push(format!("pooling={:?}", m.pooling).to_lowercase());
                }
            }
            Encoder::Bag => {
                if rng.random_bool(0.3) {
                    let n = c.text.ngrams;
                    c.text.ngrams = if rng.random_bool(0.5) {
                        (n + 1).min(4)
                    } else {
                        n.saturating_sub(1).max(1)
                    };
                    said.push(format!("ngrams={}", c.text.ngrams));
                }
            }
        }
    }
    (c, format!("best so far with {}", said.join(" ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_seeded_valid_and_vary() {
        let base = ClassifyConfig::default();
        let mut a = StdRng::seed_from_u64(1);
        let mut b = StdRng::seed_from_u64(1);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..40 {
            let (ca, sa) = draw(&base, &mut a);
            let (cb, sb) = draw(&base, &mut b);
            assert_eq!((&ca, &sa), (&cb, &sb));
            ca.validate().unwrap();
            assert_eq!(
                ca.data,
                ClassifyConfig {
                    data: ca.data.clone(),
                    ..base.clone()
                }
                .data
            );
            seen.insert(sa);
        }
        assert!(seen.len() > 30, "{} distinct draws of 40", seen.len());
    }

    #[test]
    fn mutations_move_a_few_settings_of_the_best_and_stay_valid() {
        let best = ClassifyConfig::default();
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..40 {
            let (m, said) = mutate(&best, &mut rng);
            m.validate().unwrap();
            assert!(said.starts_with("best so far with "), "{said}");
            assert_ne!(m, best, "{said}");
            assert_eq!(m.data, best.data);
            assert!((0.0..=0.7).contains(&m.model.dropout));
        }
    }
}
