//! A crashing machine: a small translation run is killed with SIGKILL at
//! random moments (a checkpoint after every step, so many kills land inside
//! a checkpoint write) and resumed each time with `--resume` alone; one more
//! round stops it with Ctrl-C (SIGINT), which must exit 130 after writing a
//! checkpoint. The final weights and optimizer state equal those of the
//! uninterrupted run, bit for bit.
//!
//! `ATTEND_KILL_RUNS` sets the number of kills (default 24); the long run
//! in BENCHMARKS.md uses more.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use rand::{Rng, SeedableRng};

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_attend"))
        .args(args)
        .env("ATTEND_DATA_DIR", common::data_dir())
        .env("ATTEND_OFFLINE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running the attend binary")
}

fn signal(child: &Child, sig: libc::c_int) {
    // SAFETY: kill(2) on our own child's pid; no memory is involved.
    unsafe {
        libc::kill(child.id() as libc::pid_t, sig);
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn final_state(dir: &Path) -> Vec<Vec<u8>> {
    let latest = std::fs::read_to_string(dir.join("checkpoints/LATEST")).unwrap();
    let ckpt = dir.join("checkpoints").join(latest.trim());
    ["model.safetensors", "optimizer.safetensors", "trainer.json"]
        .iter()
        .map(|f| std::fs::read(ckpt.join(f)).unwrap())
        .collect::<Vec<_>>()
}

/// trainer.json holds wall-clock seconds; compare it without them.
fn without_elapsed(state: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut out = state[..2].to_vec();
    let mut trainer: serde_json::Value = serde_json::from_slice(&state[2]).unwrap();
    trainer["elapsed"] = serde_json::Value::Null;
    if let Some(rows) = trainer["history"]["epochs"].as_array_mut() {
        for r in rows {
            r["seconds"] = serde_json::Value::Null;
            r["elapsed"] = serde_json::Value::Null;
        }
    }
    out.push(serde_json::to_vec(&trainer).unwrap());
    out
}

#[test]
fn killed_at_random_moments_and_resumed_equals_the_straight_run() {
    let kills: usize = std::env::var("ATTEND_KILL_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("pairs.tsv");
    let text = {
        use std::io::Read;
        let f = std::fs::File::open(common::data_dir().join("eng-fra.txt.gz")).unwrap();
        let mut s = String::new();
        flate2::read::GzDecoder::new(f)
            .read_to_string(&mut s)
            .unwrap();
        s
    };
    let lines: Vec<&str> = text.lines().step_by(60).take(400).collect();
    std::fs::write(&data, lines.join("\n") + "\n").unwrap();
    let cfg = tmp.path().join("every-step.toml");
    std::fs::write(&cfg, "[train]\ncheckpoint_every = 1\n").unwrap();
    let (d, c) = (data.display().to_string(), cfg.display().to_string());
    let fresh = |out: &str| -> Vec<String> {
        [
            "--threads",
            "1",
            "translate",
            "train",
            "--data",
            &d,
            "--config",
            &c,
            "--hidden",
            "16",
            "--batch-size",
            "16",
            "--epochs",
            "3",
            "--out",
            out,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let resume = |out: &str| -> Vec<String> {
        [
            "--threads",
            "1",
            "translate",
            "train",
            "--resume",
            "--out",
            out,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };

    let straight = tmp.path().join("straight");
    let s = straight.display().to_string();
    let started = Instant::now();
    let run = spawn(&strs(&fresh(&s))).wait_with_output().unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let span = started.elapsed();
    let want = without_elapsed(&final_state(&straight));

    let mut rng = rand::rngs::StdRng::seed_from_u64(27);
    let (mut kills_made, mut mid_write, mut rounds) = (0usize, 0usize, 0usize);
    while kills_made < kills {
        // One round: fresh, then killed and resumed until a run finishes.
        rounds += 1;
        let killed = tmp.path().join(format!("killed-{rounds}"));
        let k = killed.display().to_string();
        loop {
            let args = match killed.join("train_config.json").is_file() {
                true => resume(&k),
                false => fresh(&k),
            };
            let child = spawn(&strs(&args));
            std::thread::sleep(span.mul_f64(rng.random_range(0.0..0.6)));
            signal(&child, libc::SIGKILL);
            let out = child.wait_with_output().unwrap();
            if out.status.success() {
                break;
            }
            assert_eq!(
                out.status.code(),
                None,
                "only the kill may end it: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            kills_made += 1;
            let stray = std::fs::read_dir(killed.join("checkpoints"))
                .map(|d| {
                    d.filter_map(|e| e.ok())
                        .any(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
                })
                .unwrap_or(false);
            mid_write += usize::from(stray);
        }
        assert!(
            !killed.join(".lock").exists(),
            "the last run removed its lock"
        );
        let got = without_elapsed(&final_state(&killed));
        assert!(
            got == want,
            "round {rounds}: the killed-and-resumed run differs from the straight one"
        );
    }
    eprintln!("{rounds} rounds, {kills_made} kills, {mid_write} inside a checkpoint write");

    // A graceful stop: Ctrl-C finishes the step, checkpoints, exits 130.
    let stopped = tmp.path().join("stopped");
    let p = stopped.display().to_string();
    let child = spawn(&strs(&fresh(&p)));
    // Signalled once its first epoch is checkpointed, two of three epochs
    // before its end, rather than after a fixed time: on a loaded machine a
    // timed signal could arrive after the run had finished.
    let first = stopped.join("checkpoints").join("LATEST");
    let waited = Instant::now();
    while !first.exists() && waited.elapsed() < span * 20 {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    signal(&child, libc::SIGINT);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("--resume --out"), "{err}");
    let out = spawn(&strs(&resume(&p))).wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = without_elapsed(&final_state(&stopped));
    assert!(
        got == want,
        "the run stopped by Ctrl-C and resumed differs from the straight one"
    );
}
