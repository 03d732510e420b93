//! One writer per model directory.
//!
//! Two trainings into one directory would interleave their configs, weights
//! and checkpoints into a directory that no longer loads. A training run
//! therefore holds `DIR/.lock` for its whole life: an advisory lock taken
//! with `flock`-style file locking ([`File::try_lock`]), with the holder's
//! pid and host written inside so a refused run can say who holds it.
//!
//! The kernel drops the lock when its holder dies, however it dies (kill -9
//! included), so a lock file left by a killed run is simply taken over —
//! with a warning naming the process that left it. A run that ends normally
//! removes the file while it still holds the lock; a waiter that had opened
//! the removed file notices (the path no longer names the file it locked)
//! and locks the new one instead, so two runs can never both hold a lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The lock file's name inside a model directory.
pub const LOCK_FILE: &str = ".lock";

/// A held model-directory lock; dropping it releases the lock and removes
/// the file.
#[derive(Debug)]
pub struct DirLock {
    file: File,
    path: PathBuf,
    taken_over: Option<String>,
    /// Remove the directory on release if nothing else was written to it
    /// (a fresh run that failed before its first file leaves no trace).
    remove_if_empty: bool,
}

impl DirLock {
    /// Takes the lock of `dir` (which must exist), or fails at once with an
    /// error naming the directory and the process that holds it.
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        let path = dir.join(LOCK_FILE);
        // A holder may remove the file between our open and our lock: then
        // lock the file that replaces it. Three rounds are plenty for that
        // race; more would mean something keeps deleting the file.
        for _ in 0..3 {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| Error::io(&path, e))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    let holder = holder(&mut file).unwrap_or_else(|| "another process".into());
                    return Err(Error::Checkpoint {
                        path: dir.to_path_buf(),
                        msg: format!(
                            "another training ({holder}) is writing this model directory; wait for it to end or train into another --out"
                        ),
                    });
                }
                Err(TryLockError::Error(e)) => return Err(Error::io(&path, e)),
            }
            if !names_file(&path, &file) {
                continue;
            }
            let taken_over = holder(&mut file);
            let me = format!("pid {} on {}\n", std::process::id(), hostname());
            let write = |f: &mut File| -> std::io::Result<()> {
                f.set_len(0)?;
                f.rewind()?;
                f.write_all(me.as_bytes())?;
                f.sync_all()
            };
            write(&mut file).map_err(|e| Error::io(&path, e))?;
            return Ok(DirLock {
                file,
                path,
                taken_over,
                remove_if_empty: false,
            });
        }
        Err(Error::Checkpoint {
            path: dir.to_path_buf(),
            msg: format!("{LOCK_FILE} keeps disappearing; cannot lock the directory"),
        })
    }

    /// Removes the directory when the lock is released if the run wrote
    /// nothing into it: for a directory the run itself created.
    pub fn remove_dir_if_empty_on_release(&mut self) {
        self.remove_if_empty = true;
    }

    /// The holder named by a lock file that nobody held any more (a run
    /// that was killed), if this lock took such a file over.
    pub fn taken_over(&self) -> Option<&str> {
        self.taken_over.as_deref()
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Removed while still held, so no other run can lock this file and
        // then lose it; the lock itself goes with the handle.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
        if self.remove_if_empty
            && let Some(dir) = self.path.parent()
        {
            // Fails, as it should, unless the directory is empty.
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// The `pid … on host` line of a lock file, if it has one.
fn holder(file: &mut File) -> Option<String> {
    let mut text = String::new();
    file.rewind().ok()?;
    // A lock file is one short line; read no more than that from a damaged one.
    file.take(256).read_to_string(&mut text).ok()?;
    let line = text.lines().next()?.trim();
    (!line.is_empty()).then(|| line.to_string())
}

/// Whether `path` still names the open `file` (same device and inode).
fn names_file(path: &Path, file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(path), file.metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown host".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_and_the_lock_is_free_after_drop() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::acquire(dir.path()).unwrap();
        assert!(first.taken_over().is_none());
        let err = DirLock::acquire(dir.path()).unwrap_err().to_string();
        let pid = format!("pid {}", std::process::id());
        assert!(err.contains(&pid), "{err}");
        assert!(err.contains(&dir.path().display().to_string()), "{err}");
        drop(first);
        assert!(!dir.path().join(LOCK_FILE).exists());
        let again = DirLock::acquire(dir.path()).unwrap();
        assert!(again.taken_over().is_none());
    }

    #[test]
    fn a_directory_left_empty_can_go_with_its_lock() {
        let root = tempfile::tempdir().unwrap();
        let (empty, used) = (root.path().join("empty"), root.path().join("used"));
        for dir in [&empty, &used] {
            std::fs::create_dir(dir).unwrap();
        }
        let mut lock = DirLock::acquire(&empty).unwrap();
        lock.remove_dir_if_empty_on_release();
        drop(lock);
        assert!(!empty.exists());
        let mut lock = DirLock::acquire(&used).unwrap();
        lock.remove_dir_if_empty_on_release();
        std::fs::write(used.join("config.json"), "{}").unwrap();
        drop(lock);
        assert!(used.join("config.json").is_file());
    }

    #[test]
    fn a_lock_file_nobody_holds_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LOCK_FILE), "pid 999999 on elsewhere\n").unwrap();
        let lock = DirLock::acquire(dir.path()).unwrap();
        assert_eq!(lock.taken_over(), Some("pid 999999 on elsewhere"));
        let text = std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap();
        assert!(text.starts_with(&format!("pid {} on ", std::process::id())));
    }
}
