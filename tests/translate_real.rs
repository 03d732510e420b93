//! Translation on real text through the binary: parallel files per split,
//! learnt pieces put back into cased, punctuated text (a copy task whose
//! translations must equal their sources), the tokenizers saved in and read
//! from the model directory, checkpoint averaging and ensembles.

mod common;

use std::path::{Path, PathBuf};

use common::cli::{attend, ok, one_line_error};

/// Short Multi30k English captions (cased, punctuated), as one file.
fn captions(dir: &Path, name: &str, skip: usize, n: usize) -> PathBuf {
    let text = common::dataset_text("multi30k/train.en.gz");
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.split_whitespace().count() <= 7)
        .skip(skip)
        .take(n)
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `translate train` on a copy task: `train` as both sides of the training
/// pairs, `valid` as both sides of the validation and test pairs.
fn copy_task<'a>(train: &'a Path, valid: &'a Path, threads: &'a str) -> Vec<&'a str> {
    let mut args = vec!["--threads", threads, "translate", "train"];
    for (flag, file) in [
        ("--src", train),
        ("--tgt", train),
        ("--valid-src", valid),
        ("--valid-tgt", valid),
        ("--test-src", valid),
        ("--test-tgt", valid),
    ] {
        args.extend([flag, s(file)]);
    }
    args
}

/// Trains a copy model (source = target) with `tokenizer` into `out`.
fn train_copy(tmp: &Path, tokenizer: &str, out: &Path, extra: &[&str]) {
    let train = captions(tmp, "train.en", 0, 1500);
    let valid = captions(tmp, "valid.en", 1500, 100);
    let mut args = copy_task(&train, &valid, "2");
    args.extend([
        "--tokenizer",
        tokenizer,
        "--hidden",
        "64",
        "--epochs",
        "6",
        "--lr",
        "0.005",
    ]);
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--out", s(out)]);
    ok(&attend(&args));
}

#[test]
fn a_copy_model_gives_back_its_input_text_cased_and_detokenized() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("copy");
    train_copy(tmp.path(), "word", &model, &["--joint-vocab"]);
    for file in ["src_tokenizer.json", "tgt_tokenizer.json", "test.tsv"] {
        assert!(model.join(file).is_file(), "{file} missing");
    }
    // The training sentences come back as they are: case, punctuation
    // attached to its word, nothing lowercased or spaced apart.
    let train = std::fs::read_to_string(tmp.path().join("train.en")).unwrap();
    let sources: Vec<&str> = train.lines().take(40).collect();
    let mut args = vec!["translate", "run", "--model", s(&model), "--greedy"];
    args.extend(sources.iter().copied());
    let run = attend(&args);
    ok(&run);
    let outputs: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(outputs.len(), sources.len(), "{}", run.stdout);
    let same = outputs.iter().zip(&sources).filter(|(o, s)| o == s).count();
    assert!(
        same >= 36,
        "{same}/40 copied exactly:\n{}",
        outputs
            .iter()
            .zip(&sources)
            .map(|(o, s)| format!("{s} → {o}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        outputs
            .iter()
            .any(|o| o.ends_with('.') && !o.ends_with(" .")),
        "{outputs:?}"
    );
    // Attention is shown over pieces, or over whole words on request.
    let show = |merge: bool| {
        let mut args = vec!["translate", "run", "--model", s(&model), "--show-attention"];
        if merge {
            args.push("--merge-subwords");
        }
        args.push(sources[0]);
        let run = attend(&args);
        ok(&run);
        run.stdout
    };
    assert!(show(false).contains('▁'));
    let merged = show(true);
    assert!(!merged.contains('▁'), "{merged}");
    let last_word = sources[0].split_whitespace().last().unwrap_or_default();
    assert!(merged.contains(last_word), "{last_word} not in {merged}");
    // Scored as papers do: 13a on detokenized text, with chrF.
    let eval = attend(&["translate", "eval", "--model", s(&model), "--greedy"]);
    ok(&eval);
    assert!(eval.stdout.contains("tok:13a"), "{}", eval.stdout);
    assert!(eval.stdout.contains("chrF2 = "), "{}", eval.stdout);
    let bleu: f64 = eval
        .stdout
        .split_whitespace()
        .nth(2)
        .and_then(|b| b.parse().ok())
        .unwrap_or(0.0);
    assert!(bleu > 60.0, "held-out copy BLEU {bleu}: {}", eval.stdout);
}

#[test]
fn averaged_snapshots_and_ensembles_translate_and_one_model_is_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("bpe");
    train_copy(tmp.path(), "bpe", &model, &["--vocab-size", "600"]);
    let avg = tmp.path().join("avg");
    ok(&attend(&[
        "translate",
        "average",
        "--model",
        s(&model),
        "--last",
        "3",
        "--out",
        s(&avg),
    ]));
    let eval = |models: &[&Path]| -> String {
        let mut args = vec!["translate", "eval", "--greedy"];
        for m in models {
            args.extend(["--model", s(m)]);
        }
        let run = attend(&args);
        ok(&run);
        run.stdout.lines().next().unwrap_or_default().to_string()
    };
    let alone = eval(&[&model]);
    assert!(alone.starts_with("BLEU = "), "{alone}");
    // Two copies of one model decode exactly as the model.
    assert_eq!(eval(&[&model, &model]), alone);
    let averaged = eval(&[&avg]);
    let score = |line: &str| -> f64 {
        line.split_whitespace()
            .nth(2)
            .and_then(|b| b.parse().ok())
            .unwrap_or(0.0)
    };
    assert!(score(&averaged) > 40.0, "{averaged}");
    assert!(score(&eval(&[&model, &avg])) > 40.0);
    // Averaging asks for snapshots that exist, into a new directory.
    let err = attend(&[
        "translate",
        "average",
        "--model",
        s(&model),
        "--best",
        "99",
        "--out",
        s(&tmp.path().join("x")),
    ]);
    one_line_error(&err, &["99 snapshots asked for"]);
    let again = attend(&[
        "translate",
        "average",
        "--model",
        s(&model),
        "--last",
        "1",
        "--out",
        s(&avg),
    ]);
    one_line_error(&again, &["already holds a model"]);
}

#[test]
fn parallel_files_of_different_lengths_and_half_given_pairs_are_one_line_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let src = captions(tmp.path(), "a.en", 0, 50);
    let tgt = captions(tmp.path(), "b.en", 0, 49);
    let out = tmp.path().join("m");
    let run = attend(&[
        "translate",
        "train",
        "--src",
        s(&src),
        "--tgt",
        s(&tgt),
        "--out",
        s(&out),
    ]);
    one_line_error(&run, &["b.en", "50"]);
    let run = attend(&[
        "translate",
        "train",
        "--data",
        "multi30k",
        "--src-lang",
        "de",
        "--tgt-lang",
        "cs",
        "--out",
        s(&out),
    ]);
    one_line_error(&run, &["--tgt-lang", "de, en and fr"]);
}

#[test]
fn a_subword_run_resumes_and_a_broken_tokenizer_file_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let train = captions(tmp.path(), "t.en", 0, 300);
    let valid = captions(tmp.path(), "v.en", 300, 30);
    let model = tmp.path().join("m");
    let run = |epochs: &str, resume: bool| {
        let mut args = copy_task(&train, &valid, "1");
        args.extend([
            "--tokenizer",
            "unigram",
            "--vocab-size",
            "300",
            "--hidden",
            "16",
            "--epochs",
            epochs,
            "--out",
            s(&model),
        ]);
        if resume {
            args.push("--resume");
        }
        attend(&args)
    };
    ok(&run("1", false));
    let tokenizer = std::fs::read(model.join("tgt_tokenizer.json")).unwrap();
    let resumed = run("2", true);
    ok(&resumed);
    assert!(resumed.stderr.contains("epoch 2/2"), "{}", resumed.stderr);
    // The resumed run cut text with the tokenizer it saved, not a new one.
    assert_eq!(
        std::fs::read(model.join("tgt_tokenizer.json")).unwrap(),
        tokenizer
    );
    std::fs::write(model.join("src_tokenizer.json"), "{\"version\": ").unwrap();
    let broken = attend(&["translate", "run", "--model", s(&model), "A dog."]);
    one_line_error(&broken, &["src_tokenizer.json"]);
}
