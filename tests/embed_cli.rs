//! `attend embed …` end to end through the binary on a slice of text8:
//! train skip-gram vectors and hold them to a quality floor, query them,
//! convert them between formats, reproduce a one-thread run, and the
//! one-line errors for bad input.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use attend::data::{CorpusReader, open};
use common::cli::{attend, ok};
use common::data_dir;

/// The first `n` words of text8 as one line in `dir`.
fn text8_prefix(dir: &Path, n: usize) -> PathBuf {
    let mut words = CorpusReader::new(open(&data_dir().join("text8-wiki2015.gz")).unwrap());
    let path = dir.join(format!("text8-{n}.txt"));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for _ in 0..n {
        let Some(w) = words.next_word().unwrap() else {
            break;
        };
        write!(out, "{w} ").unwrap();
    }
    out.flush().unwrap();
    path
}

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn skipgram_vectors_train_score_and_answer_queries() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = text8_prefix(tmp.path(), 2_000_000);
    let vectors = tmp.path().join("v.txt");
    let (c, v) = (corpus.display().to_string(), vectors.display().to_string());
    let run = attend(&[
        "--threads",
        "2",
        "embed",
        "train",
        "--corpus",
        &c,
        "--model",
        "skipgram",
        "--epochs",
        "3",
        "--out",
        &v,
        "--json",
    ]);
    ok(&run);
    let t = json(&run.stdout);
    assert!(t["vocab_size"].as_u64().unwrap() > 10_000, "{t}");
    assert!(t["effective_words_per_second"].as_f64().unwrap() > 0.0);
    let losses = t["epoch_losses"].as_array().unwrap();
    assert_eq!(losses.len(), 3);
    // Five logistic losses per example start at 6 × ln 2 ≈ 4.16 for
    // untrained vectors; a model that learns ends far below.
    for l in losses {
        assert!(l.as_f64().unwrap() < 3.0, "{t}");
    }

    let run = attend(&["embed", "eval", "--vectors", &v, "--json"]);
    ok(&run);
    let e = json(&run.stdout);
    // Random vectors score ρ ≈ 0 (± 0.05 over 353 pairs) and no analogies.
    // Measured for this corpus slice: WordSim-353 ρ ≈ 0.33, analogies ≈ 0.054.
    let ws = e["wordsim353"]["spearman"].as_f64().unwrap();
    let an = e["analogy_accuracy"].as_f64().unwrap();
    eprintln!("wordsim353 {ws}, analogies {an}");
    assert!(ws >= 0.2, "wordsim353 spearman {ws}");
    assert!(an >= 0.02, "analogy accuracy {an}");
    assert!(
        e["analogy_sections"]["capital-common-countries"]["n"]
            .as_u64()
            .unwrap()
            > 0
    );
    for set in ["simlex999", "men3000"] {
        let pairs = e[set]["pairs"].as_u64().unwrap();
        assert!(pairs >= 999, "{set}: {pairs}");
    }

    let run = attend(&["embed", "similar", "--vectors", &v, "france", "-n", "5"]);
    ok(&run);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{}", run.stdout);
    assert!(
        !run.stdout.contains("france\t"),
        "the query is not its own neighbour"
    );
    let run = attend(&[
        "embed",
        "analogy",
        "--vectors",
        &v,
        "man",
        "king",
        "woman",
        "-n",
        "3",
    ]);
    ok(&run);
    assert_eq!(run.stdout.lines().count(), 3);
    let table = attend(&["embed", "eval", "--vectors", &v]);
    ok(&table);
    assert!(table.stdout.contains("analogy: overall") && table.stdout.contains("men3000"));

    // A classifier starts from these vectors and, frozen, keeps them.
    let model = tmp.path().join("ag");
    let m = model.display().to_string();
    let run = attend(&[
        "--threads",
        "2",
        "classify",
        "train",
        "--data",
        "ag-news-titles",
        "--epochs",
        "1",
        "--hidden",
        "32",
        "--embeddings",
        &v,
        "--freeze-embeddings",
        "--out",
        &m,
    ]);
    ok(&run);
    assert!(
        run.stderr.contains("vocabulary tokens found in"),
        "{}",
        run.stderr
    );
    let vocab = attend::text::Vocab::load(&model.join("vocab.json")).unwrap();
    let vectors = attend::data::vectors::load(&vectors, None).unwrap();
    let weights =
        candle_core::safetensors::load(model.join("model.safetensors"), &candle_core::Device::Cpu)
            .unwrap();
    let table: Vec<Vec<f32>> = weights["embedding.weight"].to_vec2().unwrap();
    assert_eq!(table[0].len(), vectors.dim(), "the width is the file's");
    for word in ["the", "oil", "game"] {
        let id = vocab
            .id(word)
            .unwrap_or_else(|| panic!("{word} not in the vocabulary")) as usize;
        assert_eq!(table[id], vectors.get(word).unwrap(), "{word}");
    }
}

#[test]
fn one_thread_runs_repeat_and_formats_convert_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = text8_prefix(tmp.path(), 200_000);
    let c = corpus.display().to_string();
    let train = |out: &Path, extra: &[&str]| {
        let o = out.display().to_string();
        let mut args = vec![
            "--threads",
            "1",
            "--seed",
            "7",
            "embed",
            "train",
            "--corpus",
            &c,
            "--epochs",
            "1",
            "--size",
            "24",
            "--quiet",
            "--out",
            &o,
        ];
        args.extend_from_slice(extra);
        ok(&attend(&args));
    };
    let (a, b) = (tmp.path().join("a.txt"), tmp.path().join("b.txt"));
    train(&a, &[]);
    train(&b, &[]);
    let text = std::fs::read(&a).unwrap();
    assert_eq!(
        text,
        std::fs::read(&b).unwrap(),
        "same seed, one thread: same vectors"
    );
    // Hierarchical softmax (alone) trains too.
    let hs = tmp.path().join("hs.bin");
    train(
        &hs,
        &["--hs", "--negative", "0", "--binary", "--model", "skipgram"],
    );
    assert!(std::fs::metadata(&hs).unwrap().len() > 0);

    // text → binary → GloVe → text is the same file, byte for byte.
    let bin = tmp.path().join("a.bin");
    let glove = tmp.path().join("a.glove");
    let back = tmp.path().join("back.txt");
    for (from, to, fmt) in [
        (&a, &bin, "binary"),
        (&bin, &glove, "glove"),
        (&glove, &back, "text"),
    ] {
        let (f, t) = (from.display().to_string(), to.display().to_string());
        ok(&attend(&["embed", "convert", &f, &t, "--to", fmt]));
    }
    assert_eq!(std::fs::read(&back).unwrap(), text);
}

#[test]
fn bad_input_is_one_clear_line() {
    let tmp = tempfile::tempdir().unwrap();
    let fail = |args: &[&str], want: &str| {
        let run = attend(args);
        assert_eq!(run.code, Some(2), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(want), "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    };
    let write = |name: &str, body: &[u8]| {
        let p = tmp.path().join(name);
        std::fs::write(&p, body).unwrap();
        p.display().to_string()
    };
    let out = tmp.path().join("v.txt").display().to_string();
    let empty = write("empty.txt", b"");
    fail(
        &["embed", "train", "--corpus", &empty, "--out", &out],
        "empty.txt: file is empty, expected a text corpus",
    );
    let tiny = write("tiny.txt", b"the cat sat on the mat\n");
    fail(
        &["embed", "train", "--corpus", &tiny, "--out", &out],
        "no word occurs at least min_count = 5 times (6 words, 5 distinct",
    );
    assert!(!Path::new(&out).exists(), "nothing written on failure");

    let short = write("short.txt", b"2 3\nthe 0.1 0.2 0.3\ncat 0.1 0.2\n");
    fail(
        &["embed", "similar", "--vectors", &short, "the"],
        "short.txt:3: `cat` has 2 numbers, expected 3",
    );
    let nan = write("nan.txt", b"1 2\nthe 0.1 abc\n");
    fail(
        &["embed", "similar", "--vectors", &nan, "the"],
        "nan.txt:2: `abc` is not a number",
    );
    let count = write("count.txt", b"3 2\nthe 0.1 0.2\ncat 0.3 0.4\n");
    fail(
        &["embed", "eval", "--vectors", &count],
        "count.txt: the header declares 3 vectors, the file has 2",
    );
    let good = write("good.txt", b"2 2\nthe 0.1 0.2\ncat 0.3 0.4\n");
    fail(
        &["embed", "similar", "--vectors", &good, "zebra"],
        "`zebra` is not in the vocabulary (2 words)",
    );
    fail(
        &["embed", "analogy", "--vectors", &good, "the", "cat", "dog"],
        "`dog` is not in the vocabulary",
    );
}
