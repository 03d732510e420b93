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

/// Runs `attend ARGS…` like [`attend`], feeding `stdin` to standard input.
pub fn attend_stdin(args: &[&str], stdin: &[u8]) -> Run {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_attend"))
        .args(args)
        .env("ATTEND_DATA_DIR", data_dir())
        .env("ATTEND_OFFLINE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running the attend binary");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin)
        .expect("writing stdin");
    let out = child.wait_with_output().expect("waiting for attend");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Asserts that the run exited with code 0, showing its output otherwise.
pub fn ok(run: &Run) {
    assert_eq!(
        run.code,
        Some(0),
        "stdout: {}\nstderr: {}",
        run.stdout,
        run.stderr
    );
}

/// Asserts a bad-input failure: exit code 2, no panic, one line on standard
/// error that starts with `error: ` and holds every one of `wanted`.
pub fn one_line_error(run: &Run, wanted: &[&str]) {
    assert_eq!(
        run.code,
        Some(2),
        "stdout: {}\nstderr: {}",
        run.stdout,
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "not one line: {}", run.stderr);
    assert!(lines[0].starts_with("error: "), "{}", run.stderr);
    for w in wanted {
        assert!(lines[0].contains(w), "`{w}` missing from: {}", lines[0]);
    }
}

/// Trains a tiny model of `group` (`translate`, `classify`, `lm`) into
/// `out`: one epoch, hidden size 8, one thread, on `data`, with `extra`
/// flags (which must not repeat those).
pub fn train_tiny(group: &str, data: &str, out: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "--threads",
        "1",
        group,
        "train",
        "--data",
        data,
        "--hidden",
        "8",
        "--epochs",
        "1",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--out", out]);
    attend(&args)
}

/// `attend --threads 2 classify CMD --data DATA --format label-first
/// --level word EXTRA… --out OUT`: a word-level run on `label text` lines.
pub fn classify_lines(cmd: &str, data: &str, extra: &[&str], out: &str) -> Run {
    let mut a = vec!["--threads", "2", "classify", cmd, "--data", data];
    a.extend_from_slice(&["--format", "label-first", "--level", "word"]);
    a.extend_from_slice(extra);
    a.extend_from_slice(&["--out", out]);
    attend(&a)
}
