//! `attend translate …` end to end through the binary: import the PyTorch
//! tutorial's model and translate with it, train a small model and evaluate
//! and run it, and the promised one-line errors for bad input.

mod common;

use std::path::Path;

use common::cli::{attend, attend_stdin, ok, one_line_error};

fn fixture(name: &str) -> String {
    common::fixtures_dir()
        .join("tutorial_seq2seq")
        .join(name)
        .display()
        .to_string()
}

fn import(out: &Path) {
    ok(&attend(&[
        "translate",
        "import-pytorch",
        "--weights",
        &fixture("tutorial_model.safetensors"),
        "--vocab",
        &fixture("tutorial_vocab.json"),
        "--out",
        &out.display().to_string(),
    ]));
}

#[test]
fn imported_tutorial_model_translates_like_pytorch() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tutorial");
    import(&model);
    let text = {
        use std::io::Read;
        let f = std::fs::File::open(fixture("tutorial_decodes.json.gz")).unwrap();
        let mut s = String::new();
        flate2::read::GzDecoder::new(f)
            .read_to_string(&mut s)
            .unwrap();
        s
    };
    let decodes: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cases: Vec<(String, String)> = decodes["decodes"]
        .as_array()
        .unwrap()
        .iter()
        .take(5)
        .map(|d| {
            let words: Vec<&str> = d["output"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|w| w.as_str())
                .filter(|w| *w != "<EOS>")
                .collect();
            (d["source"].as_str().unwrap().to_string(), words.join(" "))
        })
        .collect();
    // Through standard input, one line each, an empty line in the middle.
    let mut input = String::new();
    for (i, (src, _)) in cases.iter().enumerate() {
        input.push_str(src);
        input.push('\n');
        if i == 1 {
            input.push('\n');
        }
    }
    let run = attend_stdin(
        &[
            "translate",
            "run",
            "--model",
            &model.display().to_string(),
            "--greedy",
        ],
        input.as_bytes(),
    );
    ok(&run);
    let mut want: Vec<&str> = cases.iter().map(|(_, o)| o.as_str()).collect();
    want.insert(2, "");
    assert_eq!(run.stdout.lines().collect::<Vec<_>>(), want);

    // A heatmap and the terminal matrix for one sentence.
    let png = tmp.path().join("attn.png");
    let run = attend(&[
        "translate",
        "run",
        "--model",
        &model.display().to_string(),
        "--heatmap",
        &png.display().to_string(),
        "--show-attention",
        &cases[0].0,
    ]);
    ok(&run);
    assert!(run.stdout.contains("<eos>"), "{}", run.stdout);
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
}

#[test]
fn train_eval_and_run_a_small_model() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("m");
    let cfg = tmp.path().join("small.toml");
    std::fs::write(
        &cfg,
        "[model]\nembed = 32\n[data]\nvalid_fraction = 0.05\n[train.optimizer]\ntype = \"adam\"\nlr = 0.005\n",
    )
    .unwrap();
    let m = model.display().to_string();
    ok(&attend(&[
        "translate",
        "train",
        "--data",
        "eng-fra",
        "--tutorial-filter",
        "--reverse",
        "--max-len",
        "5",
        "--hidden",
        "32",
        "--epochs",
        "2",
        "--batch-size",
        "64",
        "--config",
        &cfg.display().to_string(),
        "--out",
        &m,
    ]));
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("train_config.json")).unwrap())
            .unwrap();
    assert_eq!(saved["model"]["hidden"], 32);
    assert_eq!(saved["model"]["embed"], 32);
    assert_eq!(saved["data"]["max_len"], 5);

    let out = tmp.path().join("hyps.txt");
    let run = attend(&[
        "translate",
        "eval",
        "--model",
        &m,
        "--json",
        "--output",
        &out.display().to_string(),
    ]);
    ok(&run);
    let report: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    for key in [
        "bleu",
        "exact_match",
        "signature",
        "sentences",
        "tokens_per_second",
    ] {
        assert!(report.get(key).is_some(), "{key} missing: {report}");
    }
    let test_pairs = std::fs::read_to_string(model.join("test.tsv")).unwrap();
    let n = test_pairs.lines().count();
    assert_eq!(report["sentences"], n);
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), n);
    assert!(report["signature"].as_str().unwrap().contains("tok:none"));
    // The default search is beam 5; --greedy cannot be combined with a beam.
    let out5 = tmp.path().join("hyps5.txt");
    let m5 = [
        "translate",
        "eval",
        "--model",
        &m,
        "--beam",
        "5",
        "--output",
    ];
    ok(&attend(&[&m5[..], &[out5.to_str().unwrap()]].concat()));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        std::fs::read_to_string(&out5).unwrap()
    );
    let both = attend(&[
        "translate",
        "eval",
        "--model",
        &m,
        "--greedy",
        "--beam",
        "3",
    ]);
    assert_ne!(both.code, Some(0), "{}", both.stderr);

    // Beam search with n-best lists: K lines per sentence, ranked.
    let run = attend(&[
        "translate",
        "run",
        "--model",
        &m,
        "--beam",
        "3",
        "--n-best",
        "2",
        "je suis ici .",
        "il est grand .",
    ]);
    ok(&run);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", run.stdout);
    assert!(lines[0].starts_with("1\t1\t") && lines[3].starts_with("2\t2\t"));

    // Resuming a finished run to more epochs continues it.
    ok(&attend(&[
        "translate",
        "train",
        "--resume",
        "--config",
        &cfg.display().to_string(),
        "--data",
        "eng-fra",
        "--tutorial-filter",
        "--reverse",
        "--max-len",
        "5",
        "--hidden",
        "32",
        "--epochs",
        "3",
        "--batch-size",
        "64",
        "--out",
        &m,
    ]));
    let history = std::fs::read_to_string(model.join("history.csv")).unwrap();
    assert_eq!(history.lines().count(), 4, "{history}");
}

#[test]
fn bad_input_gives_one_clear_line() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tutorial");
    import(&model);
    let m = model.display().to_string();

    // Non-UTF-8 input names its line.
    let run = attend_stdin(
        &["translate", "run", "--model", &m],
        b"je suis ici .\n\xff\xfe\n",
    );
    one_line_error(&run, &["<stdin>:2", "UTF-8"]);

    // A model directory with a missing file, and one with a corrupt file.
    let broken = tmp.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    for f in [
        "config.json",
        "src_vocab.json",
        "tgt_vocab.json",
        "model.safetensors",
    ] {
        std::fs::copy(model.join(f), broken.join(f)).unwrap();
    }
    std::fs::remove_file(broken.join("tgt_vocab.json")).unwrap();
    let b = broken.display().to_string();
    let run = attend(&["translate", "run", "--model", &b, "bonjour ."]);
    one_line_error(&run, &["tgt_vocab.json"]);
    std::fs::copy(model.join("tgt_vocab.json"), broken.join("tgt_vocab.json")).unwrap();
    std::fs::write(broken.join("model.safetensors"), b"not safetensors").unwrap();
    let run = attend(&["translate", "run", "--model", &b, "bonjour ."]);
    one_line_error(&run, &["model.safetensors"]);

    // Import from a file without the expected tensors names what is missing.
    let empty = tmp.path().join("empty.safetensors");
    let t =
        candle_core::Tensor::zeros(2, candle_core::DType::F32, &candle_core::Device::Cpu).unwrap();
    candle_core::safetensors::save(&std::collections::HashMap::from([("x", t)]), &empty).unwrap();
    let run = attend(&[
        "translate",
        "import-pytorch",
        "--weights",
        &empty.display().to_string(),
        "--vocab",
        &fixture("tutorial_vocab.json"),
        "--out",
        &tmp.path().join("x").display().to_string(),
    ]);
    one_line_error(&run, &["encoder.embedding.weight", "missing"]);

    // A config file with an unknown key names the file and the key.
    let cfg = tmp.path().join("bad.toml");
    std::fs::write(&cfg, "[model]\nhiden = 3\n").unwrap();
    let run = attend(&[
        "translate",
        "train",
        "--config",
        &cfg.display().to_string(),
        "--out",
        &tmp.path().join("y").display().to_string(),
    ]);
    one_line_error(&run, &["bad.toml", "hiden"]);
}
