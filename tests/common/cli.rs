//! Running the `attend` binary from integration tests.

use std::process::Command;

use super::data_dir;

/// What a run of the binary printed and returned.
#[derive(Debug)]
pub struct Run {
    /// Exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs `attend ARGS…` with the shared data directory and downloads off, so
/// a test never reaches the network.
pub fn attend(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_attend"))
        .args(args)
        .env("ATTEND_DATA_DIR", data_dir())
        .env("ATTEND_OFFLINE", "1")
        .output()
        .expect("running the attend binary");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
