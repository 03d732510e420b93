//! Bounded memory, through the binary: sizes from flags and files are checked
//! against the memory budget before allocation (one-line errors, exit 2, no
//! abort), and runaway inputs — a training pair with a million-token
//! source, a 5 MB CSV row, a million-token sentence to translate — are
//! skipped or cut with a warning instead of setting the size of a batch.
//! Peak memory is read from the kernel's accounting of the children this
//! test process waited for (`getrusage(RUSAGE_CHILDREN)`): an upper bound
//! for each child, since it is their maximum.

mod common;

use std::path::{Path, PathBuf};

use common::cli::{attend, attend_stdin, ok, one_line_error, train_tiny};

/// The largest peak resident size of any child waited for so far, in bytes.
fn children_peak_rss() -> u64 {
    // SAFETY: getrusage fills the zeroed struct we own.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut u);
        u
    };
    usage.ru_maxrss as u64 * 1024
}

const GB: u64 = 1_000_000_000;

fn lines_of(name: &str, every: usize, take: usize) -> Vec<String> {
    common::dataset_text(name)
        .lines()
        .step_by(every)
        .take(take)
        .map(String::from)
        .collect()
}

fn words(n: usize) -> String {
    let w = ["le", "chat", "est", "grand", "petit", "."];
    (0..n).map(|i| w[i % w.len()]).collect::<Vec<_>>().join(" ")
}

fn small_translator(tmp: &Path) -> PathBuf {
    let mut pairs = lines_of("eng-fra.txt.gz", 40, 600);
    // One runaway pair: a source of a million tokens.
    pairs.insert(300, format!("the cat is big .\t{}", words(1_000_000)));
    let data = tmp.join("pairs.tsv");
    std::fs::write(&data, pairs.join("\n") + "\n").unwrap();
    let model = tmp.join("m");
    let run = attend(&[
        "--threads",
        "1",
        "translate",
        "train",
        "--data",
        data.to_str().unwrap(),
        "--hidden",
        "16",
        "--epochs",
        "1",
        "--out",
        model.to_str().unwrap(),
    ]);
    ok(&run);
    assert!(
        run.stderr
            .contains("1 pairs with a side longer than max_len = 100 words skipped"),
        "{}",
        run.stderr
    );
    model
}

#[test]
fn runaway_inputs_are_skipped_or_cut_in_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let model = small_translator(tmp.path());
    let m = model.to_str().unwrap();
    // Translating a million-token sentence reads its start, with a warning.
    let run = attend_stdin(
        &["translate", "run", "--model", m, "--greedy"],
        format!("{}\n", words(1_000_000)).as_bytes(),
    );
    ok(&run);
    assert!(run.stderr.contains("cut to their first"), "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 1);
    // Training beside the million-token pair, and translating that much.
    let peak = children_peak_rss();
    assert!(
        peak < GB,
        "a translate child peaked at {:.2} GB",
        peak as f64 / GB as f64
    );

    // A labelled CSV with one 5 MB row: truncated to the default limit.
    let mut rows = vec!["text,label".to_string()];
    for (i, name) in lines_of("names.tsv.gz", 25, 800).iter().skip(1).enumerate() {
        let (text, label) = name.split_once('\t').unwrap();
        rows.push(format!("{text},{label}"));
        if i == 100 {
            rows.push(format!("{},English", "x".repeat(5_000_000)));
        }
    }
    let csv = tmp.path().join("rows.csv");
    std::fs::write(&csv, rows.join("\n") + "\n").unwrap();
    let c = csv.to_str().unwrap();
    let clf = tmp.path().join("clf");
    let run = train_tiny(
        "classify",
        c,
        clf.to_str().unwrap(),
        &["--text-col", "text", "--label-col", "label"],
    );
    ok(&run);
    assert!(run.stderr.contains("truncated"), "{}", run.stderr);
    let run = attend(&[
        "classify",
        "eval",
        "--model",
        clf.to_str().unwrap(),
        "--data",
        c,
        "--text-col",
        "text",
        "--label-col",
        "label",
    ]);
    ok(&run);
    // The 5 MB row is cut to 5,000 characters, and the batch it trains in
    // is padded to that (1.6 GB of activations at this size); evaluation
    // runs it alone.
    let peak = children_peak_rss();
    assert!(
        peak < 2 * GB,
        "a classify child peaked at {:.2} GB",
        peak as f64 / GB as f64
    );
}

#[test]
fn sizes_past_the_budget_are_one_line_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("pairs.tsv");
    std::fs::write(&data, lines_of("eng-fra.txt.gz", 40, 300).join("\n") + "\n").unwrap();
    let d = data.to_str().unwrap();
    let out = tmp.path().join("huge");
    let run = attend(&[
        "translate",
        "train",
        "--data",
        d,
        "--hidden",
        "100000000",
        "--out",
        out.to_str().unwrap(),
    ]);
    one_line_error(&run, &["parameter", "memory budget", "would need"]);

    // A model directory whose config.json asks for an enormous layer.
    let model = tmp.path().join("m");
    ok(&train_tiny("translate", d, model.to_str().unwrap(), &[]));
    let cfg = model.join("config.json");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        text.replace("\"hidden\": 8", "\"hidden\": 99999999")
            .replace("\"embed\": 8", "\"embed\": 99999999"),
    )
    .unwrap();
    // Refused before it allocates more than the weights file backs.
    let run = attend(&["translate", "run", "--model", model.to_str().unwrap(), "a"]);
    one_line_error(&run, &["model.safetensors", "does not fit its weights"]);

    // The tutorial's vocabulary file claiming a billion attention slots.
    let fixtures = common::fixtures_dir().join("tutorial_seq2seq");
    let mut vocab: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures.join("tutorial_vocab.json")).unwrap(),
    )
    .unwrap();
    vocab["max_length"] = serde_json::json!(999_999_999u64);
    let bad = tmp.path().join("vocab.json");
    std::fs::write(&bad, vocab.to_string()).unwrap();
    let run = attend(&[
        "translate",
        "import-pytorch",
        "--weights",
        fixtures
            .join("tutorial_model.safetensors")
            .to_str()
            .unwrap(),
        "--vocab",
        bad.to_str().unwrap(),
        "--out",
        tmp.path().join("imp").to_str().unwrap(),
    ]);
    one_line_error(
        &run,
        &["decoder.attn", "tutorial_model.safetensors", "does not fit"],
    );

    // word2vec tables of 100 million dimensions.
    let corpus = tmp.path().join("corpus.txt");
    let distinct: Vec<String> = (0..20_000).map(|i| format!("w{i}")).collect();
    std::fs::write(&corpus, distinct.join(" ")).unwrap();
    let run = attend(&[
        "embed",
        "train",
        "--corpus",
        corpus.to_str().unwrap(),
        "--size",
        "100000000",
        "--min-count",
        "1",
        "--out",
        tmp.path().join("v.txt").to_str().unwrap(),
    ]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("memory budget"), "{}", run.stderr);
}

#[test]
fn a_runaway_line_is_cut_for_a_line_model() {
    let tmp = tempfile::tempdir().unwrap();
    let mut names: Vec<String> = lines_of("names.tsv.gz", 20, 1000)
        .iter()
        .skip(1)
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect();
    names.insert(100, "x".repeat(1_000_000));
    let data = tmp.path().join("names.txt");
    std::fs::write(&data, names.join("\n") + "\n").unwrap();
    let run = attend(&[
        "--threads",
        "1",
        "lm",
        "train",
        "--data",
        data.to_str().unwrap(),
        "--lines",
        "--hidden",
        "16",
        "--epochs",
        "1",
        "--out",
        tmp.path().join("lm").to_str().unwrap(),
    ]);
    ok(&run);
    assert!(
        run.stderr
            .contains("1 lines longer than max_len = 1000 tokens cut"),
        "{}",
        run.stderr
    );
}
