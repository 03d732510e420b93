//! `--resume` continues the saved run, through the binary: for translate,
//! classify and lm, a run trained k epochs with non-default architecture and
//! data flags, then resumed with nothing but `--epochs n`, ends with the
//! weights and optimizer state of n straight epochs, bit for bit. A flag that
//! disagrees with the saved run is an error naming it; a changed data file,
//! a second writer, a fresh run over a finished one and an `--out` that is a
//! file are refused before anything is written.

mod common;

use std::path::{Path, PathBuf};

use common::cli::{Run, attend, ok, one_line_error};

fn train(group: &str, args: &[&str], extra: &[&str]) -> Run {
    let mut a = vec!["--threads", "1", group, "train"];
    a.extend_from_slice(args);
    a.extend_from_slice(extra);
    attend(&a)
}

/// The newest checkpoint's files, as bytes.
fn final_state(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let latest = std::fs::read_to_string(dir.join("checkpoints/LATEST")).unwrap();
    let ckpt = dir.join("checkpoints").join(latest.trim());
    ["model.safetensors", "optimizer.safetensors"]
        .iter()
        .map(|f| (f.to_string(), std::fs::read(ckpt.join(f)).unwrap()))
        .collect()
}

/// k = 2 epochs, `--resume --epochs 3` (no other flag), against 3 straight.
fn resumed_equals_straight(group: &str, args: &[&str], tmp: &Path) -> PathBuf {
    let resumed = tmp.join(format!("{group}-resumed"));
    let straight = tmp.join(format!("{group}-straight"));
    let r = resumed.display().to_string();
    let s = straight.display().to_string();
    ok(&train(group, args, &["--epochs", "2", "--out", &r]));
    ok(&attend(&[
        "--threads",
        "1",
        group,
        "train",
        "--resume",
        "--out",
        &r,
        "--epochs",
        "3",
    ]));
    ok(&train(group, args, &["--epochs", "3", "--out", &s]));
    let (a, b) = (final_state(&resumed), final_state(&straight));
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(x == y, "{group}: {name} differs from the straight run's");
    }
    let history = std::fs::read_to_string(resumed.join("history.csv")).unwrap();
    assert_eq!(history.lines().count(), 4, "{history}");
    // The resume recorded its epochs: `--resume` alone now has nothing to do.
    let again = attend(&["--threads", "1", group, "train", "--resume", "--out", &r]);
    ok(&again);
    assert_eq!(final_state(&resumed), a);
    resumed
}

#[test]
fn translate_resume_is_the_saved_run() {
    let tmp = tempfile::tempdir().unwrap();
    let data = common::dataset_slice("eng-fra.txt.gz", 40, false, tmp.path());
    let d = data.display().to_string();
    let args = [
        "--data",
        &d,
        "--cell",
        "lstm",
        "--attention",
        "additive",
        "--hidden",
        "24",
        "--unidirectional",
        "--batch-size",
        "16",
        "--lr",
        "0.003",
        "--seed",
        "7",
    ];
    let model = resumed_equals_straight("translate", &args, tmp.path());
    let m = model.display().to_string();
    let before = std::fs::read(model.join("train_config.json")).unwrap();

    // Flags that disagree with the saved run name themselves and both values.
    let run = attend(&[
        "translate",
        "train",
        "--resume",
        "--out",
        &m,
        "--hidden",
        "32",
        "--batch-size",
        "32",
    ]);
    one_line_error(
        &run,
        &["--hidden", "--batch-size", "was 24, now 32", "was 16"],
    );
    let run = attend(&["translate", "train", "--resume", "--out", &m, "--seed", "8"]);
    one_line_error(&run, &["--seed", "was 7, now 8"]);
    // A fresh run over a trained one is refused before it writes anything.
    let run = attend(&["translate", "train", "--data", &d, "--out", &m]);
    one_line_error(&run, &["already holds a training run", "--resume"]);
    assert_eq!(
        std::fs::read(model.join("train_config.json")).unwrap(),
        before
    );
    // A second writer is refused at once, naming the holder.
    {
        let _held = attend::train::DirLock::acquire(&model).unwrap();
        let run = attend(&[
            "translate",
            "train",
            "--resume",
            "--out",
            &m,
            "--epochs",
            "4",
        ]);
        one_line_error(&run, &[&m, &format!("pid {}", std::process::id())]);
    }
    // The data changed under the run: resuming would mix the splits.
    let mut text = std::fs::read_to_string(&data).unwrap();
    text.push_str("un de plus .\tone more .\n");
    std::fs::write(&data, text).unwrap();
    let run = attend(&[
        "translate",
        "train",
        "--resume",
        "--out",
        &m,
        "--epochs",
        "4",
    ]);
    one_line_error(&run, &["needs the same data", "sha256"]);
    // --out naming a file.
    let run = attend(&["translate", "train", "--data", &d, "--out", &d]);
    one_line_error(&run, &["is not a directory", "--out"]);
}

#[test]
fn classify_resume_is_the_saved_run() {
    let tmp = tempfile::tempdir().unwrap();
    let data = common::dataset_slice("names.tsv.gz", 8, true, tmp.path());
    let d = data.display().to_string();
    let args = [
        "--data",
        &d,
        "--text-col",
        "name",
        "--label-col",
        "language",
        "--cell",
        "gru",
        "--pooling",
        "mean",
        "--hidden",
        "16",
        "--batch-size",
        "32",
        "--optimizer",
        "sgd",
        "--lr",
        "0.1",
    ];
    let model = resumed_equals_straight("classify", &args, tmp.path());
    let m = model.display().to_string();
    let run = attend(&[
        "classify",
        "train",
        "--resume",
        "--out",
        &m,
        "--pooling",
        "max",
    ]);
    one_line_error(&run, &["--pooling", "mean", "max"]);
}

#[test]
fn lm_resume_is_the_saved_run() {
    let tmp = tempfile::tempdir().unwrap();
    let data = common::dataset_slice("names.tsv.gz", 8, true, tmp.path());
    let d = data.display().to_string();
    let args = [
        "--data",
        &d,
        "--text-col",
        "name",
        "--condition-col",
        "language",
        "--cell",
        "lstm",
        "--embed",
        "12",
        "--hidden",
        "20",
        "--batch-size",
        "16",
    ];
    let model = resumed_equals_straight("lm", &args, tmp.path());
    let m = model.display().to_string();
    let run = attend(&["lm", "train", "--resume", "--out", &m, "--cell", "gru"]);
    one_line_error(&run, &["--cell", "lstm", "gru"]);
}
