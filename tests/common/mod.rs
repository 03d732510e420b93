//! Helpers shared by the integration tests: where the fixtures and data are,
//! and tolerant comparison of tensors against PyTorch's float64 oracles.
#![allow(dead_code)]

pub mod cli;
pub mod server;

use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};

/// `ATTEND_FIXTURES`, else `../shared/fixtures` next to the repo.
pub fn fixtures_dir() -> PathBuf {
    std::env::var_os("ATTEND_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures"))
}

/// `ATTEND_DATA_DIR`, else `../shared/data` next to the repo.
pub fn data_dir() -> PathBuf {
    std::env::var_os("ATTEND_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"))
}

/// The text of a gzipped dataset of the shared data directory.
pub fn dataset_text(name: &str) -> String {
    use std::io::Read;
    let path = data_dir().join(name);
    let f = std::fs::File::open(&path)
        .unwrap_or_else(|e| panic!("cannot open dataset {}: {e}", path.display()));
    let mut text = String::new();
    flate2::read::GzDecoder::new(f)
        .read_to_string(&mut text)
        .unwrap_or_else(|e| panic!("cannot read dataset {}: {e}", path.display()));
    text
}

/// Every `every`-th line of a gzipped dataset (after its header line, kept
/// when `header`), written to `dir` as a small plain file the test owns.
pub fn dataset_slice(name: &str, every: usize, header: bool, dir: &std::path::Path) -> PathBuf {
    let text = dataset_text(name);
    let mut lines = text.lines();
    let mut kept: Vec<&str> = Vec::new();
    if header {
        kept.extend(lines.next());
    }
    kept.extend(lines.step_by(every));
    let path = dir.join(name.trim_end_matches(".gz"));
    std::fs::write(&path, kept.join("\n") + "\n").unwrap();
    path
}

/// Every `every`-th line of `data/sentences/NAME` (a `label text` file),
/// written to `dir/sentences/`; its path.
pub fn sentence_slice(name: &str, every: usize, dir: &std::path::Path) -> String {
    std::fs::create_dir_all(dir.join("sentences")).unwrap();
    dataset_slice(&format!("sentences/{name}"), every, false, dir)
        .display()
        .to_string()
}

/// Loads every tensor of a fixture safetensors file onto the CPU.
pub fn load_fixture(name: &str) -> std::collections::HashMap<String, Tensor> {
    let path = fixtures_dir().join(name);
    candle_core::safetensors::load(&path, &Device::Cpu)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}

/// Reads a JSON manifest from the fixtures directory.
pub fn load_manifest(name: &str) -> serde_json::Value {
    let path = fixtures_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read manifest {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad manifest {}: {e}", path.display()))
}

/// Asserts `actual` ≈ `expected` element-wise, like `torch.allclose`:
/// |a − e| ≤ atol + rtol·|e|. Both are compared in f64; shapes must match.
pub fn assert_close(what: &str, actual: &Tensor, expected: &Tensor, rtol: f64, atol: f64) {
    assert_eq!(
        actual.dims(),
        expected.dims(),
        "{what}: shape {:?} != expected {:?}",
        actual.dims(),
        expected.dims()
    );
    let a: Vec<f64> = actual
        .to_dtype(DType::F64)
        .and_then(|t| t.flatten_all())
        .and_then(|t| t.to_vec1())
        .expect("actual to f64");
    let e: Vec<f64> = expected
        .to_dtype(DType::F64)
        .and_then(|t| t.flatten_all())
        .and_then(|t| t.to_vec1())
        .expect("expected to f64");
    let mut worst = (0usize, 0.0f64);
    for (i, (x, y)) in a.iter().zip(&e).enumerate() {
        let excess = (x - y).abs() - (atol + rtol * y.abs());
        if (excess > 0.0 || excess.is_nan()) && (excess > worst.1 || x.is_nan()) {
            worst = (i, excess.max(f64::MIN_POSITIVE));
        }
    }
    assert!(
        worst.1 == 0.0,
        "{what}: element {} is {} but expected {} (rtol {rtol}, atol {atol})",
        worst.0,
        a[worst.0],
        e[worst.0]
    );
}

/// The strings of a fixture's JSON array `v` (field `what` of case `case`,
/// named in the panic when it is not an array of strings).
pub fn json_strings(v: &serde_json::Value, what: &str, case: &str) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("{case}: `{what}` is not an array"))
        .iter()
        .map(|s| {
            s.as_str()
                .unwrap_or_else(|| panic!("{case}: `{what}` holds a non-string"))
                .to_string()
        })
        .collect()
}
