//! Issue 27, through the binary: damaged weights are detected wherever a
//! model is loaded (eval, run, predict, generate, resume), contradictory
//! flags are refused with one line naming them, and the unclear messages of
//! the issue now say what is wrong and where.

mod common;

use std::path::{Path, PathBuf};

use common::cli::{attend, ok, one_line_error, train_tiny};

/// Writes 16 bytes of noise into the tensor data of a safetensors file
/// (past its header), as a bad disk or a stray write would.
fn damage(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let start = 8 + n + (bytes.len() - 8 - n) / 3;
    for (i, b) in bytes[start..start + 16].iter_mut().enumerate() {
        *b ^= 0x5a ^ (i as u8);
    }
    std::fs::write(path, bytes).unwrap();
}

fn latest_checkpoint(dir: &Path) -> PathBuf {
    let name = std::fs::read_to_string(dir.join("checkpoints/LATEST")).unwrap();
    dir.join("checkpoints").join(name.trim())
}

#[test]
fn damaged_weights_are_found_wherever_a_model_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let pairs = common::dataset_slice("eng-fra.txt.gz", 40, false, tmp.path());
    let names = common::dataset_slice("names.tsv.gz", 10, true, tmp.path());
    let (p, n) = (pairs.to_str().unwrap(), names.to_str().unwrap());
    let dir = |name: &str| tmp.path().join(name).display().to_string();
    let (tr, clf, lm) = (dir("tr"), dir("clf"), dir("lm"));
    let small = ["--threads", "1", "--seed", "3"];
    let train = |group: &str, extra: &[&str]| {
        ok(&attend(
            &[&small[..], &[group, "train", "--epochs", "1"], extra].concat(),
        ))
    };
    train("translate", &["--data", p, "--hidden", "16", "--out", &tr]);
    train(
        "classify",
        &[
            "--data",
            n,
            "--text-col",
            "name",
            "--label-col",
            "language",
            "--hidden",
            "8",
            "--out",
            &clf,
        ],
    );
    train(
        "lm",
        &[
            "--data",
            n,
            "--text-col",
            "name",
            "--hidden",
            "16",
            "--out",
            &lm,
        ],
    );
    // Sound models load.
    ok(&attend(&["translate", "run", "--model", &tr, "je suis ."]));
    for model in [&tr, &clf, &lm] {
        damage(&Path::new(model).join("model.safetensors"));
    }
    let uses: [(&[&str], &str); 5] = [
        (&["translate", "eval", "--model", &tr], &tr),
        (&["translate", "run", "--model", &tr, "je suis ."], &tr),
        (&["classify", "predict", "--model", &clf, "Smith"], &clf),
        (&["classify", "eval", "--model", &clf], &clf),
        (&["lm", "generate", "--model", &lm, "--length", "5"], &lm),
    ];
    for (args, model) in uses {
        let run = attend(args);
        let file = format!("{model}/model.safetensors");
        one_line_error(&run, &[&file, "damaged", "sha256"]);
    }
    // A damaged checkpoint is found by --resume.
    let ckpt = latest_checkpoint(Path::new(&tr)).join("model.safetensors");
    damage(&ckpt);
    let run = attend(&[
        "translate",
        "train",
        "--resume",
        "--out",
        &tr,
        "--epochs",
        "2",
    ]);
    one_line_error(&run, &[&ckpt.display().to_string(), "damaged"]);
}

#[test]
fn contradictory_flags_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let pairs = common::dataset_slice("eng-fra.txt.gz", 40, false, tmp.path());
    let p = pairs.to_str().unwrap();
    let out = tmp.path().join("never").display().to_string();
    let translate = |extra: &[&str]| {
        attend(
            &[
                &["translate", "train", "--data", p, "--out", &out][..],
                extra,
            ]
            .concat(),
        )
    };
    one_line_error(
        &translate(&["--attention", "none", "--input-feeding"]),
        &["--input-feeding", "dot or general"],
    );
    one_line_error(
        &translate(&["--cosine", "--min-lr", "5", "--lr", "0.001"]),
        &["min_lr", "--min-lr", "5", "0.001"],
    );
    assert!(!Path::new(&out).exists(), "a refused run writes nothing");
    // Nor does one whose data is missing: the directory it made goes again.
    let run = attend(&["translate", "train", "--data", "no-such.tsv", "--out", &out]);
    one_line_error(&run, &["no-such.tsv"]);
    assert!(
        !Path::new(&out).exists(),
        "a failed fresh run leaves no --out"
    );

    let classify = |extra: &[&str]| {
        attend(
            &[
                &["classify", "train", "--data", "names", "--out", &out][..],
                extra,
            ]
            .concat(),
        )
    };
    one_line_error(&classify(&["--max-len", "0"]), &["max_len", "--max-len"]);
    one_line_error(
        &classify(&["--mask-sparsity", "0.1", "--pooling", "max"]),
        &["--mask-sparsity", "--pooling mask"],
    );
    let cfg = tmp.path().join("freeze.toml");
    std::fs::write(&cfg, "[model]\nfreeze_embeddings = true\n").unwrap();
    one_line_error(
        &classify(&["--config", cfg.to_str().unwrap()]),
        &["freeze", "--embeddings"],
    );
    let run = attend(&[
        "lm",
        "train",
        "--data",
        "names",
        "--tie-weights",
        "--embed",
        "8",
        "--hidden",
        "16",
        "--out",
        &out,
    ]);
    one_line_error(&run, &["--tie-weights", "--embed 8", "--hidden 16"]);
    // Out-of-range counts are clap's one-line usage errors (exit 2).
    for args in [
        &["embed", "similar", "--vectors", "v.txt", "cat", "-n", "0"][..],
        &["translate", "run", "--model", "m", "--beam", "100000", "x"][..],
    ] {
        let run = attend(args);
        assert_eq!(run.code, Some(2), "{}", run.stderr);
        assert!(run.stderr.starts_with("error:"), "{}", run.stderr);
    }
}

#[test]
fn unclear_messages_now_say_what_and_where() {
    let tmp = tempfile::tempdir().unwrap();
    let pairs = common::dataset_slice("eng-fra.txt.gz", 40, false, tmp.path());
    let p = pairs.to_str().unwrap();
    // Two pairs: too few for a test and a validation split.
    let two = tmp.path().join("two.tsv");
    let text = std::fs::read_to_string(&pairs).unwrap();
    std::fs::write(&two, text.lines().take(2).collect::<Vec<_>>().join("\n")).unwrap();
    let out = tmp.path().join("m").display().to_string();
    let run = attend(&[
        "translate",
        "train",
        "--data",
        two.to_str().unwrap(),
        "--out",
        &out,
    ]);
    one_line_error(&run, &["two.tsv", "2 of 2 pairs", "too few"]);
    // --out naming a file.
    let run = attend(&["translate", "train", "--data", p, "--out", p]);
    one_line_error(&run, &["is not a directory", "--out"]);
    // A heatmap into a folder that does not exist.
    ok(&train_tiny("translate", p, &out, &["--attention", "dot"]));
    let heatmap = tmp.path().join("no/such/folder/a.png");
    let run = attend(&[
        "translate",
        "run",
        "--model",
        &out,
        "--heatmap",
        heatmap.to_str().unwrap(),
        "je suis .",
    ]);
    one_line_error(&run, &["a.png", "folder", "does not exist"]);
    // A 5 MB value in config.json is not quoted whole.
    let cfg = Path::new(&out).join("config.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    json["model"]["hidden"] = serde_json::json!("x".repeat(5_000_000));
    std::fs::write(&cfg, json.to_string()).unwrap();
    let run = attend(&["translate", "run", "--model", &out, "je suis ."]);
    one_line_error(&run, &["config.json", "invalid type"]);
    assert!(run.stderr.len() < 1_000, "{} bytes", run.stderr.len());
}
