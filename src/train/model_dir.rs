//! The model directory: everything a trained model needs, written atomically.
//!
//! Layout (DESIGN §3):
//! ```text
//! model_dir/
//!   config.json, vocab/labels JSON   written by the task
//!   model.safetensors                 the weights to use (best by validation, else last)
//!   history.csv, loss.png, loss.svg   the run so far
//!   <metric>.png, <metric>.svg        each other validation metric (bleu, accuracy, …)
//!   checkpoints/
//!     LATEST                          names the newest complete checkpoint
//!     step-00001234/                  model.safetensors, optimizer.safetensors, trainer.json
//! ```
//! A checkpoint is several files that must agree, so it is written into a fresh
//! temporary directory, synced, renamed into place, and only then published by
//! atomically replacing `LATEST`. A crash or Ctrl-C at any moment therefore
//! leaves `LATEST` naming a complete checkpoint (or none yet); stray temporary
//! directories are ignored and cleaned up by the next save.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;
use serde::{Serialize, de::DeserializeOwned};

use super::lock::DirLock;
use super::run_options::RunOptions;
use crate::data::atomic::{sync_dir, write_atomic};
use crate::nn::ParamStore;
use crate::nn::weights::load_checked;
use crate::{Error, Result};

/// How many complete checkpoints are kept; older ones are removed after a save.
const KEEP_CHECKPOINTS: usize = 2;

/// The resolved configuration of a training run, which `--resume` continues.
pub const TRAIN_CONFIG: &str = "train_config.json";

/// The fingerprint of the data file a run trains on (see [`ModelDir::check_data`]).
const DATA_SOURCE: &str = "data_source.json";
/// The trainer's counters inside a checkpoint directory.
pub(crate) const CHECKPOINT_STATE: &str = "trainer.json";

/// What [`DATA_SOURCE`] holds.
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DataSource {
    /// The file as it was resolved when the run began.
    path: PathBuf,
    /// Its size in bytes.
    bytes: u64,
    /// Its sha256, as lowercase hex.
    sha256: String,
}

/// Whether to start a new run or continue the one in the model directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// A new run; the model directory must not hold a run yet.
    Fresh,
    /// Continue from the directory's latest checkpoint.
    Resume,
}

/// A model directory on disk.
#[derive(Clone, Debug)]
pub struct ModelDir {
    root: PathBuf,
}

impl ModelDir {
    /// Opens `root`, creating it (and parents) if needed.
    pub fn create(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref().to_path_buf();
        fs::create_dir_all(&root).map_err(|e| Error::io(&root, e))?;
        Ok(ModelDir { root })
    }

    /// The directory a training run writes: created for a fresh run (which
    /// must not find a run there already: it is refused before anything is
    /// written), opened for a resume, and locked either way, so that a
    /// second training into it fails at once. Hold the lock for the run.
    ///
    /// Returns the start to make: a resume of a run that was stopped before
    /// its first checkpoint starts that run afresh (its saved config and
    /// data give the same run again). A resume also checks that `data`, the
    /// run's data file, is the one it began on ([`check_data`](Self::check_data)).
    /// Unless the run is quiet, it says when it took over the lock of a
    /// killed run.
    pub fn for_training(run: &RunOptions, data: Option<&Path>) -> Result<(Self, DirLock, Start)> {
        let (root, start, quiet) = (run.out.as_path(), run.start, run.quiet);
        if root.exists() && !root.is_dir() {
            return Err(Error::Checkpoint {
                path: root.to_path_buf(),
                msg: "exists and is not a directory; --out names the model directory to write"
                    .into(),
            });
        }
        let existed = root.exists();
        let dir = match start {
            Start::Fresh => ModelDir::create(root)?,
            Start::Resume => ModelDir::open(root)?,
        };
        let mut lock = DirLock::acquire(root)?;
        if !existed {
            lock.remove_dir_if_empty_on_release();
        }
        let start = match start {
            Start::Fresh if dir.latest_checkpoint()?.is_some() => {
                return Err(Error::Checkpoint {
                    path: root.to_path_buf(),
                    msg: "already holds a training run: continue it with --resume, or train into an empty directory"
                        .into(),
                });
            }
            Start::Resume if !dir.file(TRAIN_CONFIG).is_file() => {
                return Err(Error::Checkpoint {
                    path: root.to_path_buf(),
                    msg: format!("has no {TRAIN_CONFIG}: not a training run to resume"),
                });
            }
            Start::Resume if dir.latest_checkpoint()?.is_none() => Start::Fresh,
            other => other,
        };
        if let (Some(holder), false) = (lock.taken_over(), quiet) {
            eprintln!(
                "warning: took over the lock of a run that is no longer running ({holder}); the model directory holds what it last saved"
            );
        }
        if let (Start::Resume, Some(data)) = (start, data) {
            dir.check_data(data)?;
        }
        Ok((dir, lock, start))
    }

    /// Records the size and sha256 of the data file `path` a fresh run
    /// trains on, for [`check_data`](Self::check_data) on resume.
    pub fn record_data(&self, path: &Path) -> Result<()> {
        self.write_json(DATA_SOURCE, &fingerprint(path)?)
    }

    /// Checks, on resume, that the data file `path` is the one the run
    /// began on: a resumed run re-derives its training split from the file,
    /// and another file's split would mix test rows into training. Runs
    /// saved before the fingerprint existed resume unchecked.
    pub fn check_data(&self, path: &Path) -> Result<()> {
        if !self.file(DATA_SOURCE).is_file() {
            return Ok(());
        }
        let saved: DataSource = self.read_json(DATA_SOURCE)?;
        let now = fingerprint(path)?;
        if saved.sha256 == now.sha256 {
            return Ok(());
        }
        Err(Error::Checkpoint {
            path: self.root.clone(),
            msg: format!(
                "the run was trained on {} ({} bytes, sha256 {}), but {} now has {} bytes, sha256 {}: a resume needs the same data",
                saved.path.display(),
                saved.bytes,
                saved.sha256,
                path.display(),
                now.bytes,
                now.sha256
            ),
        })
    }

    /// Opens an existing model directory.
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref().to_path_buf();
        if !root.is_dir() {
            return Err(Error::Checkpoint {
                path: root,
                msg: "not a model directory (it does not exist or is not a directory)".into(),
            });
        }
        Ok(ModelDir { root })
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// The path of a file `name` inside the directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Writes `value` as pretty JSON to `name`, atomically.
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<()> {
        write_json(&self.file(name), value)
    }

    /// Reads JSON file `name`.
    pub fn read_json<T: DeserializeOwned>(&self, name: &str) -> Result<T> {
        read_json(&self.file(name))
    }

    /// The resolved config of the training run that wrote this directory
    /// ([`TRAIN_CONFIG`]), or `None` where there is none (an imported model).
    pub fn train_config<T: DeserializeOwned>(&self) -> Result<Option<T>> {
        let path = self.file(TRAIN_CONFIG);
        match path.is_file() {
            true => read_json(&path).map(Some),
            false => Ok(None),
        }
    }

    /// Writes named tensors to `name` as safetensors, atomically.
    pub fn write_tensors(&self, name: &str, tensors: &HashMap<String, Tensor>) -> Result<()> {
        write_tensors(&self.file(name), tensors)
    }

    /// Reads safetensors file `name` onto `device`.
    pub fn read_tensors(&self, name: &str, device: &Device) -> Result<HashMap<String, Tensor>> {
        read_tensors(&self.file(name), device)
    }

    /// Builds a model with `build` from weights file `name` on `device`,
    /// after checking that the file holds exactly the model's parameters
    /// with the model's shapes ([`load_checked`]); errors name the file and
    /// our tensor names.
    pub fn load_weights<M>(
        &self,
        name: &str,
        device: &Device,
        build: impl Fn(VarBuilder) -> Result<M>,
    ) -> Result<(M, ParamStore)> {
        let tensors = self.read_tensors(name, device)?;
        load_checked(build, tensors, device, &self.file(name), &|n: &str| {
            n.to_string()
        })
    }

    /// Writes `vocab` as JSON to `name`, atomically.
    pub fn write_vocab(&self, name: &str, vocab: &crate::text::Vocab) -> Result<()> {
        let mut bytes = Vec::new();
        vocab.write_json(&mut bytes)?;
        self.write_bytes(name, &bytes)
    }

    /// Writes raw bytes to `name`, atomically.
    pub fn write_bytes(&self, name: &str, bytes: &[u8]) -> Result<()> {
        write_atomic(&self.file(name), |f| f.write_all(bytes))
    }

    fn checkpoints_dir(&self) -> PathBuf {
        self.root.join("checkpoints")
    }

    /// Saves a checkpoint for `step`: each `(file name, tensors)` as safetensors
    /// plus `trainer.json`, then publishes it as the latest. Returns its path.
    pub fn save_checkpoint<T: Serialize>(
        &self,
        step: u64,
        tensors: &[(&str, &HashMap<String, Tensor>)],
        trainer: &T,
    ) -> Result<PathBuf> {
        let dir = self.checkpoints_dir();
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let name = format!("step-{step:08}");
        let tmp = dir.join(format!(".{name}.tmp"));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        }
        fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
        for (file, t) in tensors {
            write_tensors(&tmp.join(file), t)?;
        }
        write_json(&tmp.join(CHECKPOINT_STATE), trainer)?;
        let fin = dir.join(&name);
        if fin.exists() {
            // The same step again (a resume that saves before stepping): the
            // published copy already holds this state, and replacing it would
            // briefly leave LATEST naming nothing, so keep it.
            if self.latest_name()?.as_deref() == Some(name.as_str()) {
                fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
                return Ok(fin);
            }
            fs::remove_dir_all(&fin).map_err(|e| Error::io(&fin, e))?;
        }
        fs::rename(&tmp, &fin).map_err(|e| Error::io(&fin, e))?;
        sync_dir(&dir);
        write_atomic(&dir.join("LATEST"), |f| f.write_all(name.as_bytes()))?;
        self.prune(&name)?;
        Ok(fin)
    }

    fn latest_name(&self) -> Result<Option<String>> {
        let latest = self.checkpoints_dir().join("LATEST");
        match fs::read_to_string(&latest) {
            Ok(s) => Ok(Some(s.trim().to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&latest, e)),
        }
    }

    /// The directory of the latest complete checkpoint, if any.
    pub fn latest_checkpoint(&self) -> Result<Option<PathBuf>> {
        let Some(name) = self.latest_name()? else {
            return Ok(None);
        };
        let path = self.checkpoints_dir().join(&name);
        if name.is_empty() || name.contains(['/', '\\']) || !path.is_dir() {
            return Err(Error::Checkpoint {
                path: self.checkpoints_dir().join("LATEST"),
                msg: format!("names checkpoint `{name}`, which does not exist"),
            });
        }
        Ok(Some(path))
    }

    /// Removes complete checkpoints beyond the newest few, and stray temporaries.
    fn prune(&self, keep_latest: &str) -> Result<()> {
        let dir = self.checkpoints_dir();
        let mut steps: Vec<String> = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(".step-") {
                let _ = fs::remove_dir_all(entry.path());
            } else if name.starts_with("step-") && entry.path().is_dir() {
                steps.push(name);
            }
        }
        steps.sort();
        let excess = steps.len().saturating_sub(KEEP_CHECKPOINTS);
        for old in steps
            .iter()
            .take(excess)
            .filter(|n| n.as_str() != keep_latest)
        {
            let p = dir.join(old);
            fs::remove_dir_all(&p).map_err(|e| Error::io(&p, e))?;
        }
        Ok(())
    }
}

/// The size and sha256 of the file at `path`.
fn fingerprint(path: &Path) -> Result<DataSource> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let bytes = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let sha256 = crate::data::download::sha256_hex(std::io::BufReader::new(file))
        .map_err(|e| Error::io(path, e))?;
    Ok(DataSource {
        path: path.to_path_buf(),
        bytes,
        sha256,
    })
}

/// Writes `value` as pretty JSON to `path`, atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let json =
        serde_json::to_vec_pretty(value).map_err(|e| Error::io(path, std::io::Error::other(e)))?;
    write_atomic(path, |f| f.write_all(&json))
}

/// Reads a JSON file, with the file named in any error.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    // serde quotes what it did not expect (a key, a string) whole: cut it.
    serde_json::from_str(&text).map_err(|e| {
        Error::format(
            path,
            Some(e.line()),
            format!(
                "not the expected JSON: {}",
                crate::error::first_chars(&e.to_string(), 300)
            ),
        )
    })
}

/// The metadata key of a weights file's checksum: the sha256 of its tensor
/// data, as lowercase hex.
///
/// The checksum lives in the file's own safetensors header rather than in a
/// separate manifest: a file and a manifest are two writes, and a crash
/// between them would leave a sound file that fails its check (or a damaged
/// one that passes). Inside the header, every atomic write of the file
/// carries the checksum of exactly its data.
const CHECKSUM_KEY: &str = "attend.sha256";

/// Writes named tensors as safetensors, atomically, with the sha256 of their
/// data in the header's metadata ([`CHECKSUM_KEY`]), which
/// [`read_tensors`] verifies.
pub fn write_tensors(path: &Path, tensors: &HashMap<String, Tensor>) -> Result<()> {
    // Serialised once with a placeholder of the checksum's length, which is
    // then overwritten in place: the header keeps its length, and the data
    // it describes does not move.
    let placeholder = "0".repeat(64);
    let metadata = HashMap::from([(CHECKSUM_KEY.to_string(), placeholder.clone())]);
    let mut bytes = safetensors::tensor::serialize(
        tensors.iter().map(|(k, v)| (k.as_str(), v)),
        Some(metadata),
    )
    .map_err(|e| Error::io(path, std::io::Error::other(e)))?;
    let broken = || Error::Checkpoint {
        path: path.to_path_buf(),
        msg: "serialised an unreadable safetensors header".into(),
    };
    let sum = data_sha256(&bytes).ok_or_else(broken)?;
    let entry = format!("\"{CHECKSUM_KEY}\":\"{placeholder}\"");
    let header_len = bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(broken)?;
    let header = bytes.get(8..8 + header_len).ok_or_else(broken)?;
    // The value starts after the entry's `…":"`, and ends before its `"`.
    let at = 8
        + header
            .windows(entry.len())
            .position(|w| w == entry.as_bytes())
            .ok_or_else(broken)?
        + entry.len()
        - 1
        - placeholder.len();
    bytes[at..at + sum.len()].copy_from_slice(sum.as_bytes());
    write_atomic(path, |f| f.write_all(&bytes))
}

/// The sha256 of a safetensors buffer's data section (after the 8-byte
/// header length and the header), or `None` if the length is damaged.
fn data_sha256(bytes: &[u8]) -> Option<String> {
    let n = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    let start = usize::try_from(n).ok()?.checked_add(8)?;
    let data = bytes.get(start..)?;
    crate::data::download::sha256_hex(data).ok()
}

/// Reads a safetensors file onto `device`. A file written by attend carries
/// its checksum (`attend.sha256` in its header); one whose data no longer matches it is
/// an error naming the file. Files from elsewhere (PyTorch exports) have
/// none and are read as they are.
pub fn read_tensors(path: &Path, device: &Device) -> Result<HashMap<String, Tensor>> {
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    let unreadable = |e: &dyn std::fmt::Display| Error::Checkpoint {
        path: path.to_path_buf(),
        msg: format!("not a readable safetensors file: {e}"),
    };
    let (_, header) =
        safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| unreadable(&e))?;
    if let Some(want) = header.metadata().as_ref().and_then(|m| m.get(CHECKSUM_KEY)) {
        let got = data_sha256(&bytes).unwrap_or_default();
        if &got != want {
            return Err(Error::Checkpoint {
                path: path.to_path_buf(),
                msg: format!(
                    "is damaged: its tensor data has sha256 {got}, but the file was written with {want}; restore it from a checkpoint or a backup"
                ),
            });
        }
    }
    candle_core::safetensors::load_buffer(&bytes, device).map_err(|e| unreadable(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::DType;

    fn tensors(v: f32) -> HashMap<String, Tensor> {
        let t = Tensor::full(v, (2, 3), &Device::Cpu).and_then(|t| t.to_dtype(DType::F32));
        HashMap::from([("w".to_string(), t.unwrap())])
    }

    #[test]
    fn checkpoints_publish_atomically_and_prune() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| Error::io("tmp", e))?;
        let dir = ModelDir::create(tmp.path().join("m"))?;
        assert!(dir.latest_checkpoint()?.is_none());
        for step in 1..=4u64 {
            dir.save_checkpoint(step, &[("model.safetensors", &tensors(step as f32))], &step)?;
        }
        let latest = dir.latest_checkpoint()?.unwrap();
        assert!(latest.ends_with("step-00000004"));
        let w = read_tensors(&latest.join("model.safetensors"), &Device::Cpu)?;
        assert_eq!(w["w"].sum_all()?.to_scalar::<f32>()?, 24.0);
        let step: u64 = read_json(&latest.join("trainer.json"))?;
        assert_eq!(step, 4);
        let kept = fs::read_dir(dir.path().join("checkpoints"))
            .unwrap()
            .count();
        assert_eq!(kept, KEEP_CHECKPOINTS + 1, "two checkpoints + LATEST");
        Ok(())
    }

    #[test]
    fn a_half_written_checkpoint_is_ignored() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| Error::io("tmp", e))?;
        let dir = ModelDir::create(tmp.path())?;
        dir.save_checkpoint(1, &[("model.safetensors", &tensors(1.0))], &1u64)?;
        // A crash while writing step 2: its temporary directory exists, LATEST does not name it.
        let stray = dir.path().join("checkpoints/.step-00000002.tmp");
        fs::create_dir_all(&stray).unwrap();
        fs::write(stray.join("model.safetensors"), b"partial").unwrap();
        assert!(dir.latest_checkpoint()?.unwrap().ends_with("step-00000001"));
        dir.save_checkpoint(2, &[("model.safetensors", &tensors(2.0))], &2u64)?;
        assert!(dir.latest_checkpoint()?.unwrap().ends_with("step-00000002"));
        Ok(())
    }

    #[test]
    fn damaged_tensor_data_is_detected() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| Error::io("tmp", e))?;
        let p = tmp.path().join("w.safetensors");
        write_tensors(&p, &tensors(3.0))?;
        let w = read_tensors(&p, &Device::Cpu)?;
        assert_eq!(w["w"].sum_all()?.to_scalar::<f32>()?, 18.0);
        let mut bytes = fs::read(&p).unwrap();
        let last = bytes.len() - 3;
        bytes[last] ^= 0x10;
        fs::write(&p, &bytes).unwrap();
        let e = read_tensors(&p, &Device::Cpu).unwrap_err().to_string();
        assert!(e.contains("w.safetensors") && e.contains("damaged"), "{e}");
        Ok(())
    }

    #[test]
    fn bad_json_names_file_and_line() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("x.json");
        fs::write(&p, "{\n  \"a\": }").unwrap();
        let e = read_json::<serde_json::Value>(&p).unwrap_err().to_string();
        assert!(e.contains("x.json:2"), "{e}");
    }
}
