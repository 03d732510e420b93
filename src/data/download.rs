//! Fetching a dataset file over HTTP(S) into the cache, all or nothing: the
//! body goes to a temporary file beside the destination while its sha256 is
//! computed, and only a file whose digest matches is renamed into place. A
//! failed or mismatched download leaves nothing behind.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Lowercase hex of a byte string.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// sha256 of everything `r` yields, as lowercase hex.
pub fn sha256_hex(mut r: impl Read) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok(hex(&h.finalize()));
        }
        h.update(&buf[..n]);
    }
}

/// Downloads `url` to `dest` if and only if the body's sha256 is `sha256`
/// (lowercase hex). Creates `dest`'s directory when needed.
pub fn fetch_verified(url: &str, sha256: &str, dest: &Path) -> Result<()> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tmp = temp_path(dest);
    let result = download_to(url, sha256, &tmp)
        .and_then(|()| fs::rename(&tmp, dest).map_err(|e| Error::io(dest, e)));
    if result.is_err() {
        // The temporary file may not exist (the request failed first).
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn temp_path(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map_or_else(|| "download".into(), |n| n.to_string_lossy().into_owned());
    dest.with_file_name(format!(".{name}.part-{}", std::process::id()))
}

fn download_to(url: &str, sha256: &str, tmp: &Path) -> Result<()> {
    let failed = |what: String| Error::Dataset(format!("downloading {url}: {what}"));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(900)))
        .build()
        .into();
    let response = agent.get(url).call().map_err(|e| failed(e.to_string()))?;
    let mut body = response.into_body().into_reader();
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(tmp)
        .map_err(|e| Error::io(tmp, e))?;
    let mut out = BufWriter::new(file);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = body.read(&mut buf).map_err(|e| failed(e.to_string()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(|e| Error::io(tmp, e))?;
    }
    let file: File = out
        .into_inner()
        .map_err(|e| Error::io(tmp, e.into_error()))?;
    file.sync_all().map_err(|e| Error::io(tmp, e))?;
    let got = hex(&h.finalize());
    if got != sha256 {
        return Err(failed(format!(
            "sha256 is {got}, expected {sha256}; the file was not kept"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_input() {
        let abc = sha256_hex(&b"abc"[..]).unwrap();
        assert_eq!(
            abc,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
