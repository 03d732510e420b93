//! Ensembles of classifiers: `--ensemble N` members trained on one split,
//! and trained models joined into one (`classify ensemble`).

use std::path::{Path, PathBuf};

use super::predictor::{ENSEMBLE, SavedEnsemble};
use crate::train::TRAIN_CONFIG;
use crate::train::{ModelDir, RunOptions, Start};
use crate::{Error, Result};

use super::recipe::{ClassifyConfig, TrainReport, WEIGHTS, train};

/// The plan of an ensemble being trained (its member directories), written
/// before the first member so that a resume knows the ensemble's size.
const ENSEMBLE_PLAN: &str = "ensemble_plan.json";

/// The number of members of the ensemble whose training `out` holds, if it
/// holds one (so `--resume` needs no `--ensemble`).
pub fn planned_ensemble(out: &Path) -> Result<Option<usize>> {
    let path = out.join(ENSEMBLE_PLAN);
    if !path.is_file() {
        return Ok(None);
    }
    let plan: SavedEnsemble = crate::train::read_json(&path)?;
    Ok(Some(plan.members.len()))
}

/// Trains an ensemble of `n` classifiers on the same split into `out`:
/// member `k` (from 1) with seed `cfg.train.seed + k − 1` in `out/member-k`
/// (a complete model directory), then `ensemble.json` and the held-out rows
/// (`valid.tsv`, `test.tsv`) beside them, so `out` loads as one model
/// ([`Predictor::load`](super::Predictor::load)) and `classify eval` scores its test split. With
/// [`Start::Resume`], members whose directory exists resume (a finished one
/// stays as it is) and the rest start fresh, so an interrupted ensemble goes on.
pub fn train_ensemble(
    cfg: &ClassifyConfig,
    n: usize,
    run: &RunOptions,
) -> Result<Vec<TrainReport>> {
    let (out, start, quiet) = (run.out.as_path(), run.start, run.quiet);
    if n == 0 {
        return Err(Error::Config(
            "an ensemble needs at least one member".into(),
        ));
    }
    let (dir, _lock, _) = ModelDir::for_training(run, None)?;
    let names: Vec<String> = (1..=n).map(|k| format!("member-{k}")).collect();
    if start == Start::Fresh {
        if let Some(trained) = names
            .iter()
            .find(|m| out.join(m).join(TRAIN_CONFIG).is_file())
        {
            return Err(Error::Checkpoint {
                path: out.to_path_buf(),
                msg: format!(
                    "already holds an ensemble ({trained} is trained): continue it with --resume, or train into an empty directory"
                ),
            });
        }
        // The plan first, so a resume knows the ensemble and its size.
        dir.write_json(TRAIN_CONFIG, cfg)?;
        dir.write_json(
            ENSEMBLE_PLAN,
            &SavedEnsemble {
                members: names.clone(),
                weights: None,
            },
        )?;
    }
    let mut reports = Vec::with_capacity(n);
    for (k, name) in names.iter().enumerate() {
        let member = out.join(name);
        let member_start = match start {
            Start::Resume if member.join(TRAIN_CONFIG).is_file() => Start::Resume,
            _ => Start::Fresh,
        };
        let mut c = cfg.clone();
        c.train.seed = cfg.train.seed.wrapping_add(k as u64);
        if !quiet {
            eprintln!("ensemble member {}/{n} (seed {})", k + 1, c.train.seed);
        }
        // The data's notes once, from the first member; every member's progress.
        let member_run = RunOptions {
            out: member,
            start: member_start,
            quiet: quiet || k > 0,
            ..run.clone()
        };
        reports.push(train(&c, &member_run)?);
        if reports.last().is_some_and(|r| r.summary.interrupted) {
            // Stopped by a signal: the member has its checkpoint, and the
            // ensemble is finished by a resume.
            return Ok(reports);
        }
    }
    for split in ["valid.tsv", "test.tsv"] {
        let bytes = std::fs::read(out.join(&names[0]).join(split))
            .map_err(|e| Error::io(out.join(&names[0]).join(split), e))?;
        dir.write_bytes(split, &bytes)?;
    }
    dir.write_json(TRAIN_CONFIG, cfg)?;
    dir.write_json(
        ENSEMBLE,
        &SavedEnsemble {
            members: names,
            weights: None,
        },
    )?;
    Ok(reports)
}

/// The files of a member that prediction and evaluation read (checkpoints,
/// which only resume training, and the plots stay behind).
const MEMBER_FILES: [&str; 8] = [
    "config.json",
    "vocab.json",
    "classes.json",
    WEIGHTS,
    "train_config.json",
    "history.csv",
    "valid.tsv",
    "test.tsv",
];

/// Joins trained models — single models or ensembles, of any architectures —
/// into one ensemble in `out` (which must not exist yet): each model (each
/// member of an ensemble) is copied into `out/member-k`. All must classify
/// into the same classes and have been trained on the same split (identical
/// `valid.tsv` and `test.tsv`), since averaging models that saw each other's
/// test rows in training would score the ensemble on data it learned from.
///
/// `weights` (one per model, positive) weigh the models in the mean; an
/// ensemble's weight is shared among its members as they were weighted in
/// it. Without them every member weighs the same, as in `--ensemble N`
/// (an ensemble of five counts five times a single model) — unless a joined
/// ensemble was itself weighted, whose members keep their proportions.
/// Returns the number of members.
pub fn assemble_ensemble(models: &[PathBuf], weights: Option<&[f64]>, out: &Path) -> Result<usize> {
    if models.is_empty() {
        return Err(Error::Config("an ensemble needs at least one model".into()));
    }
    if let Some(w) = weights
        && (w.len() != models.len() || !w.iter().all(|x| x.is_finite() && *x > 0.0))
    {
        return Err(Error::Config(format!(
            "expected {} positive weights, one per model, got {w:?}",
            models.len()
        )));
    }
    if out.exists() {
        return Err(Error::Config(format!(
            "{}: already exists; an ensemble is assembled into a new directory",
            out.display()
        )));
    }
    let mut singles = Vec::new();
    let mut member_weights = Vec::new();
    for (i, m) in models.iter().enumerate() {
        let members = super::Predictor::members_of(m)?.unwrap_or_else(|| vec![m.clone()]);
        let within = super::Predictor::weights_of(m)?;
        let scale = weights.map_or(members.len() as f64, |w| w[i]);
        member_weights.extend(within.iter().map(|u| u * scale));
        singles.extend(members);
    }
    let uniform = member_weights
        .iter()
        .all(|w| (w - member_weights[0]).abs() <= 1e-12 * w.abs());
    let first = &singles[0];
    let classes = super::Predictor::load(first)?.classes().to_vec();
    let split = |dir: &Path| -> Result<[Vec<u8>; 2]> {
        let read = |name: &str| {
            let p = dir.join(name);
            std::fs::read(&p).map_err(|e| Error::io(p, e))
        };
        Ok([read("valid.tsv")?, read("test.tsv")?])
    };
    let held = split(first)?;
    for m in &singles[1..] {
        if super::Predictor::load(m)?.classes() != classes.as_slice() {
            return Err(Error::Config(format!(
                "{}: other classes than {}",
                m.display(),
                first.display()
            )));
        }
        if split(m)? != held {
            return Err(Error::Config(format!(
                "{}: trained on another split than {} (valid.tsv or test.tsv differ)",
                m.display(),
                first.display()
            )));
        }
    }
    let dir = ModelDir::create(out)?;
    let mut names = Vec::with_capacity(singles.len());
    for (k, m) in singles.iter().enumerate() {
        let name = format!("member-{}", k + 1);
        let member = ModelDir::create(out.join(&name))?;
        for file in MEMBER_FILES {
            let from = m.join(file);
            if !from.is_file() {
                continue;
            }
            let bytes = std::fs::read(&from).map_err(|e| Error::io(from, e))?;
            member.write_bytes(file, &bytes)?;
        }
        names.push(name);
    }
    dir.write_bytes("valid.tsv", &held[0])?;
    dir.write_bytes("test.tsv", &held[1])?;
    dir.write_json(
        ENSEMBLE,
        &SavedEnsemble {
            members: names,
            weights: (!uniform).then_some(member_weights),
        },
    )?;
    Ok(singles.len())
}
