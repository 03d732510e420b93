//! The weights of a run's latest and best validations, kept in
//! `snapshots/` for checkpoint averaging (Junczys-Dowmunt et al., 2016;
//! OpenNMT's `average_models.py`, JoeyNMT's `keep_best_ckpts`, Marian's
//! exponential smoothing serve the same end): the mean of the weights of
//! the last few, or the best few, validations usually translates better
//! than any one of them.
//!
//! `snapshots/index.json` lists the kept files with their step, epoch and
//! selection metric; a snapshot is written before the index names it, and
//! the ones neither among the `keep` latest nor among the `keep` best are
//! removed after.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};

use super::Goal;
use super::model_dir::{ModelDir, read_json, read_tensors};
use crate::{Error, Result};

const DIR: &str = "snapshots";
const INDEX: &str = "index.json";

/// One kept snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// File name inside `snapshots/`.
    pub file: String,
    /// Optimizer steps taken when it was written.
    pub step: u64,
    /// The epoch it was written in (1-based).
    pub epoch: usize,
    /// The selection metric of its validation.
    pub metric: f64,
}

/// `snapshots/index.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SnapshotIndex {
    /// The selection metric's name.
    pub metric: String,
    /// Whether it should go down or up.
    pub goal: Goal,
    /// Kept snapshots, oldest first.
    pub snapshots: Vec<Snapshot>,
}

/// Which snapshots to average.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pick {
    /// The `n` latest.
    Last(usize),
    /// The `n` best by the selection metric.
    Best(usize),
}

impl SnapshotIndex {
    /// The snapshots `pick` names, oldest first; an error when fewer are kept.
    pub fn pick(&self, pick: Pick) -> Result<Vec<&Snapshot>> {
        let n = match pick {
            Pick::Last(n) | Pick::Best(n) => n,
        };
        if n == 0 || n > self.snapshots.len() {
            return Err(Error::Config(format!(
                "{n} snapshots asked for, {} kept (training's train.keep_snapshots sets how many)",
                self.snapshots.len()
            )));
        }
        let mut chosen: Vec<&Snapshot> = match pick {
            Pick::Last(_) => self.snapshots.iter().rev().take(n).collect(),
            Pick::Best(_) => best_first(&self.snapshots, self.goal)
                .into_iter()
                .take(n)
                .collect(),
        };
        chosen.sort_by_key(|s| s.step);
        Ok(chosen)
    }
}

/// Snapshots best first (ties: the later first).
fn best_first(snaps: &[Snapshot], goal: Goal) -> Vec<&Snapshot> {
    let mut v: Vec<&Snapshot> = snaps.iter().collect();
    v.sort_by(|a, b| {
        let by_metric = match goal {
            Goal::Min => a.metric.total_cmp(&b.metric),
            Goal::Max => b.metric.total_cmp(&a.metric),
        };
        by_metric.then(b.step.cmp(&a.step))
    });
    v
}

impl ModelDir {
    /// The snapshot index (empty when the run kept none).
    pub fn snapshots(&self) -> Result<SnapshotIndex> {
        let path = self.file(DIR).join(INDEX);
        match path.is_file() {
            true => read_json(&path),
            false => Ok(SnapshotIndex::default()),
        }
    }

    /// The path of a snapshot file.
    pub fn snapshot_path(&self, snap: &Snapshot) -> PathBuf {
        self.file(DIR).join(&snap.file)
    }

    /// Writes `tensors` as the snapshot of a validation, then keeps the
    /// `keep` latest and the `keep` best (a snapshot of the same step
    /// replaces the old one: a resumed run validating again).
    pub fn save_snapshot(
        &self,
        keep: usize,
        (metric, goal): (&str, Goal),
        snap: Snapshot,
        tensors: &HashMap<String, Tensor>,
    ) -> Result<()> {
        let dir = self.file(DIR);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        super::model_dir::write_tensors(&dir.join(&snap.file), tensors)?;
        let mut index = self.snapshots()?;
        index.metric = metric.to_string();
        index.goal = goal;
        index.snapshots.retain(|s| s.step != snap.step);
        index.snapshots.push(snap);
        index.snapshots.sort_by_key(|s| s.step);
        let kept: Vec<String> = {
            let mut names: Vec<&str> = index
                .snapshots
                .iter()
                .rev()
                .take(keep)
                .map(|s| s.file.as_str())
                .collect();
            names.extend(
                best_first(&index.snapshots, goal)
                    .into_iter()
                    .take(keep)
                    .map(|s| s.file.as_str()),
            );
            names.into_iter().map(String::from).collect()
        };
        let dropped: Vec<Snapshot> = index
            .snapshots
            .iter()
            .filter(|s| !kept.contains(&s.file))
            .cloned()
            .collect();
        index.snapshots.retain(|s| kept.contains(&s.file));
        super::model_dir::write_json(&dir.join(INDEX), &index)?;
        for s in dropped {
            let p = dir.join(&s.file);
            std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
        }
        Ok(())
    }
}

/// The element-wise mean of the weights in `files`, which must hold the same
/// names with the same shapes. Summed in f64, so the mean of N copies of
/// one file is that file, bit for bit.
pub fn average_weights(files: &[PathBuf]) -> Result<HashMap<String, Tensor>> {
    let Some((first, rest)) = files.split_first() else {
        return Err(Error::Config("nothing to average: no weight files".into()));
    };
    let load = |p: &Path| read_tensors(p, &Device::Cpu);
    let base = load(first)?;
    let mut sums: HashMap<String, (DType, Tensor)> = HashMap::new();
    for (name, t) in &base {
        sums.insert(name.clone(), (t.dtype(), t.to_dtype(DType::F64)?));
    }
    for path in rest {
        let next = load(path)?;
        if next.len() != base.len() || next.keys().any(|k| !base.contains_key(k)) {
            return Err(Error::Checkpoint {
                path: path.clone(),
                msg: format!(
                    "holds other weights than {} (another model?)",
                    first.display()
                ),
            });
        }
        for (name, t) in next {
            let Some((_, sum)) = sums.get_mut(&name) else {
                continue;
            };
            if t.dims() != sum.dims() {
                return Err(Error::Checkpoint {
                    path: path.clone(),
                    msg: format!(
                        "`{name}` is {:?} here but {:?} in {}",
                        t.dims(),
                        sum.dims(),
                        first.display()
                    ),
                });
            }
            *sum = (&*sum + t.to_dtype(DType::F64)?)?;
        }
    }
    let n = files.len() as f64;
    sums.into_iter()
        .map(|(name, (dtype, sum))| Ok((name, (sum / n)?.to_dtype(dtype)?)))
        .collect()
}

/// Writes a model directory `out` whose weights are the mean of the
/// snapshots of `src` that `pick` names: every other top-level file of
/// `src` (config, vocabularies, held-out splits) is copied, atomically;
/// subdirectories (checkpoints, snapshots) are not. `out` must not hold a
/// model yet. Returns the snapshots averaged.
pub fn average_into(
    src: &ModelDir,
    pick: Pick,
    out: &Path,
    weights: &str,
) -> Result<Vec<Snapshot>> {
    if out.join(weights).exists() {
        return Err(Error::Checkpoint {
            path: out.to_path_buf(),
            msg: "already holds a model: average into a new directory".into(),
        });
    }
    let index = src.snapshots()?;
    let chosen: Vec<Snapshot> = index.pick(pick)?.into_iter().cloned().collect();
    let files: Vec<PathBuf> = chosen.iter().map(|s| src.snapshot_path(s)).collect();
    let mean = average_weights(&files)?;
    let dst = ModelDir::create(out)?;
    let entries = std::fs::read_dir(src.path()).map_err(|e| Error::io(src.path(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(src.path(), e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_file = entry
            .file_type()
            .map_err(|e| Error::io(entry.path(), e))?
            .is_file();
        // The lock file belongs to the source run.
        if !is_file || name == weights || name.starts_with('.') {
            continue;
        }
        let bytes = std::fs::read(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
        dst.write_bytes(&name, &bytes)?;
    }
    dst.write_tensors(weights, &mean)?;
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weights(v: f32) -> Result<HashMap<String, Tensor>> {
        let a = Tensor::new(&[v, 0.1 * v, 1.0 / 3.0], &Device::Cpu)?;
        Ok(HashMap::from([("a".to_string(), a)]))
    }

    fn snap(step: u64, metric: f64) -> Snapshot {
        Snapshot {
            file: format!("step-{step:08}.safetensors"),
            step,
            epoch: step as usize,
            metric,
        }
    }

    #[test]
    fn the_latest_and_the_best_are_kept_and_picked() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| Error::io("tmp", e))?;
        let dir = ModelDir::create(tmp.path().join("m"))?;
        for (step, bleu) in [(1, 10.0), (2, 30.0), (3, 20.0), (4, 25.0), (5, 15.0)] {
            dir.save_snapshot(
                2,
                ("bleu", Goal::Max),
                snap(step, bleu),
                &weights(step as f32)?,
            )?;
        }
        let index = dir.snapshots()?;
        let steps = |v: Vec<&Snapshot>| v.iter().map(|s| s.step).collect::<Vec<_>>();
        assert_eq!(steps(index.snapshots.iter().collect()), [2, 4, 5]);
        assert_eq!(steps(index.pick(Pick::Last(2))?), [4, 5]);
        assert_eq!(steps(index.pick(Pick::Best(2))?), [2, 4]);
        assert!(index.pick(Pick::Last(4)).is_err());
        let files = std::fs::read_dir(tmp.path().join("m").join(DIR))
            .map_err(|e| Error::io("snapshots", e))?
            .count();
        assert_eq!(files, 4, "three snapshots and the index");
        let mean = average_weights(
            &index
                .pick(Pick::Last(2))?
                .iter()
                .map(|s| dir.snapshot_path(s))
                .collect::<Vec<_>>(),
        )?;
        let got = mean["a"].to_vec1::<f32>()?;
        assert!((got[0] - 4.5).abs() < 1e-6, "{got:?}");
        Ok(())
    }

    #[test]
    fn averaging_copies_of_one_file_gives_that_file() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| Error::io("tmp", e))?;
        let dir = ModelDir::create(tmp.path().join("m"))?;
        dir.write_tensors("w.safetensors", &weights(0.7)?)?;
        let path = dir.file("w.safetensors");
        for n in [1, 3, 7] {
            let mean = average_weights(&vec![path.clone(); n])?;
            let want = weights(0.7)?["a"].to_vec1::<f32>()?;
            let got = mean["a"].to_vec1::<f32>()?;
            assert_eq!(
                got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                want.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                "{n} copies"
            );
        }
        let other = HashMap::from([("b".to_string(), Tensor::new(&[1f32], &Device::Cpu)?)]);
        dir.write_tensors("o.safetensors", &other)?;
        assert!(average_weights(&[path, dir.file("o.safetensors")]).is_err());
        assert!(average_weights(&[]).is_err());
        Ok(())
    }
}
