//! The sentence-classification sets through the binary: named sets with
//! their official splits, `--valid`/`--test` files, and `classify cv`.

mod common;

use common::cli::{attend, classify_lines, ok, one_line_error};

/// `attend --threads 2 classify train --data sst2 EXTRA… --out OUT`.
fn train_sst2(extra: &[&str], out: &str) -> common::cli::Run {
    let mut a = vec!["--threads", "2", "classify", "train", "--data", "sst2"];
    a.extend_from_slice(extra);
    a.extend_from_slice(&["--out", out]);
    attend(&a)
}

fn count_rows(tsv: &std::path::Path) -> usize {
    std::fs::read_to_string(tsv).unwrap().lines().count() - 1
}

#[test]
fn named_sets_and_given_files_are_the_held_out_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("sst2");
    let m = model.display().to_string();
    let run = train_sst2(&["--epochs", "2"], &m);
    ok(&run);
    // The official split of Kim (2014): nothing is split off the training file.
    assert!(
        run.stderr.contains("train 6920, valid 872, test 1821"),
        "{}",
        run.stderr
    );
    assert_eq!(count_rows(&model.join("valid.tsv")), 872);
    assert_eq!(count_rows(&model.join("test.tsv")), 1821);
    // Two epochs of a working word-level model are well above chance (the
    // dev set is 444 / 428) on the dev file it was selected on.
    let eval = attend(&[
        "classify", "eval", "--model", &m, "--split", "valid", "--json",
    ]);
    ok(&eval);
    let r: serde_json::Value = serde_json::from_str(&eval.stdout).unwrap();
    let acc = r["accuracy"].as_f64().unwrap();
    assert!(acc > 0.65, "SST-2 dev accuracy {acc}");

    // Files given by path: the validation file replaces the random tenth,
    // the test file the test fraction; the training file is used whole.
    let train = common::sentence_slice("mr.all.txt.gz", 5, tmp.path());
    let test = common::sentence_slice("subj.all.txt.gz", 50, tmp.path());
    let out = |name: &str| tmp.path().join(name).display().to_string();
    let given = ["--valid", "sst2-dev", "--test", &test, "--epochs", "1"];
    let run = classify_lines("train", &train, &given, &out("given"));
    ok(&run);
    // mr.all has 10,662 lines: every fifth is 2,133; subj every fiftieth 200.
    assert!(
        run.stderr.contains("train 2133, valid 872, test 200"),
        "{}",
        run.stderr
    );
    // Only the validation file: the test part is a tenth of the training file.
    let run = classify_lines("train", &train, &given[..2], &out("valid-only"));
    ok(&run);
    assert!(
        run.stderr.contains("train 1919, valid 872, test 214"),
        "{}",
        run.stderr
    );
    // A validation file that is not there is one clear error.
    let bad = classify_lines(
        "train",
        &train,
        &["--valid", "no/such/file.txt"],
        &out("bad"),
    );
    one_line_error(&bad, &["no/such/file.txt", "no such file"]);
}

#[test]
fn cross_validation_trains_a_model_per_fold_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    // 1,000 Subj sentences (every tenth line; the file holds 5,000 of each
    // class in two blocks, so the slice is balanced).
    let data = common::sentence_slice("subj.all.txt.gz", 10, tmp.path());
    let out = tmp.path().join("cv");
    let o = out.display().to_string();
    let extra = [
        "--encoder",
        "bag",
        "--ngrams",
        "2",
        "--lr",
        "1e-2",
        "--epochs",
        "8",
        "--folds",
        "4",
    ];
    let cv = |more: &[&str]| classify_lines("cv", &data, &[&extra[..], more].concat(), &o);
    let run = cv(&[]);
    ok(&run);
    let table = &run.stdout;
    let folds: Vec<&str> = table
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.parse::<u32>().is_ok())
        })
        .collect();
    assert_eq!(folds.len(), 4, "{table}");
    // Every row is tested once: the folds' test sizes add up to the file.
    let tested: usize = folds
        .iter()
        .map(|l| {
            l.split_whitespace()
                .nth(3)
                .unwrap()
                .parse::<usize>()
                .unwrap()
        })
        .sum();
    assert_eq!(tested, 1000, "{table}");
    let summary = table.lines().last().unwrap();
    assert!(
        summary.starts_with("4-fold cross-validation: accuracy"),
        "{summary}"
    );
    let mean: f64 = summary.split_whitespace().nth(3).unwrap().parse().unwrap();
    // Subjectivity from 750 training sentences: a working bag of bigrams
    // reaches about 0.8; a broken model stays at the balanced 0.5.
    assert!(mean > 0.7, "{summary}");
    assert!(out.join("cv.json").is_file());
    assert!(
        !out.join("fold-1").exists(),
        "fold models are removed unless kept"
    );

    // Done is done: a fresh run refuses the directory, a resume has nothing to do.
    let again = cv(&[]);
    one_line_error(&again, &["already holds a cross-validation", "--resume"]);
    let resumed = cv(&["--resume"]);
    ok(&resumed);
    assert_eq!(resumed.stdout, run.stdout);
    // Other settings cannot resume it.
    one_line_error(
        &cv(&["--resume", "--dropout", "0.3"]),
        &["cv.json", "other settings"],
    );

    // A run its time limit stops (in fold 1 here) exits 130, keeps that
    // fold's checkpoint, and --resume finishes it to the same table.
    let stopped_out = tmp.path().join("cv-stopped").display().to_string();
    let stopped =
        |more: &[&str]| classify_lines("cv", &data, &[&extra[..], more].concat(), &stopped_out);
    let run2 = stopped(&["--time-limit", "0.0001"]);
    assert_eq!(run2.code, Some(130), "{}", run2.stderr);
    assert!(run2.stdout.contains("no fold done yet"), "{}", run2.stdout);
    assert!(
        tmp.path()
            .join("cv-stopped/fold-1/train_config.json")
            .is_file()
    );
    let finished = stopped(&["--resume"]);
    ok(&finished);
    let folds = |t: &str| t.lines().filter(|l| l.starts_with("   ")).count();
    assert_eq!(folds(&finished.stdout), 4, "{}", finished.stdout);
}

#[test]
fn a_classifier_starts_from_a_language_models_weights() {
    let tmp = tempfile::tempdir().unwrap();
    // A small word LM on SST-2's training sentences (labels cut off).
    let text: String = common::dataset_text("sentences/sst2.train.txt.gz")
        .lines()
        .step_by(3)
        .map(|l| l.split_once(' ').unwrap().1.to_string() + "\n")
        .collect();
    let corpus = tmp.path().join("sentences.txt");
    std::fs::write(&corpus, text).unwrap();
    let lm = tmp.path().join("lm");
    let lm_dir = lm.display().to_string();
    ok(&attend(&[
        "--threads",
        "2",
        "lm",
        "train",
        "--data",
        &corpus.display().to_string(),
        "--level",
        "word",
        "--lines",
        "--hidden",
        "32",
        "--embed",
        "16",
        "--layers",
        "2",
        "--epochs",
        "1",
        "--out",
        &lm_dir,
    ]));
    let clf = tmp.path().join("clf");
    let run = train_sst2(
        &["--init-from-lm", &lm_dir, "--epochs", "1"],
        &clf.display().to_string(),
    );
    ok(&run);
    assert!(
        run.stderr.contains("init from the language model"),
        "{}",
        run.stderr
    );
    // Its vocabulary begins with the LM's (the training text's other words
    // follow), and after one epoch (all pretrained layers still frozen by
    // gradual unfreezing) its embedding rows of the LM's tokens and its RNN
    // tensors are the LM's, bit for bit, by name.
    let tokens = |dir: &std::path::Path| -> Vec<String> {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("vocab.json")).unwrap())
                .unwrap();
        common::json_strings(&v["tokens"], "tokens", "vocab.json")
    };
    let (lm_tokens, clf_tokens) = (tokens(&lm), tokens(&clf));
    assert!(clf_tokens.len() > lm_tokens.len());
    assert_eq!(clf_tokens[..lm_tokens.len()], lm_tokens[..]);
    let dev = candle_core::Device::Cpu;
    let lm_w = candle_core::safetensors::load(lm.join("model.safetensors"), &dev).unwrap();
    let clf_w = candle_core::safetensors::load(clf.join("model.safetensors"), &dev).unwrap();
    let mut shared = 0;
    for (name, t) in &clf_w {
        if name == "embedding.weight" || name.starts_with("rnn.") {
            let l = &lm_w[name];
            let t = t.narrow(0, 0, l.dims()[0]).unwrap();
            let (a, b): (Vec<f32>, Vec<f32>) = (
                t.flatten_all().unwrap().to_vec1().unwrap(),
                l.flatten_all().unwrap().to_vec1().unwrap(),
            );
            assert_eq!(a, b, "{name}");
            shared += 1;
        }
    }
    // The embeddings and 4 tensors per layer of the 2-layer LM.
    assert_eq!(shared, 9);
    assert!(
        !clf_w.keys().any(|k| k.contains("_reverse")),
        "left to right only"
    );

    // Characters cannot start from a word model.
    let out = |name: &str| tmp.path().join(name).display().to_string();
    let lm_flags = ["--init-from-lm", lm_dir.as_str()];
    let chars = train_sst2(
        &[&["--level", "char"], &lm_flags[..]].concat(),
        &out("chars"),
    );
    one_line_error(&chars, &["the language model reads words", "--level word"]);
    // The LM's vocabulary must be its weights': one token removed is refused.
    let vocab_path = lm.join("vocab.json");
    let mut vocab: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&vocab_path).unwrap()).unwrap();
    for key in ["tokens", "counts"] {
        if let Some(list) = vocab[key].as_array_mut() {
            list.pop();
        }
    }
    std::fs::write(&vocab_path, vocab.to_string()).unwrap();
    let bad = train_sst2(&lm_flags, &out("bad"));
    one_line_error(
        &bad,
        &["vocab.json has", "does not belong to these weights"],
    );
}

#[test]
fn a_run_started_from_vectors_resumes_at_their_width() {
    let tmp = tempfile::tempdir().unwrap();
    let data = common::sentence_slice("sst2.dev.txt.gz", 2, tmp.path());
    // A word2vec text file of 12-wide vectors for a few frequent words.
    let words = ["the", "a", "and", "film", "movie", "good", "bad"];
    let mut text = format!("{} 12\n", words.len());
    for (i, w) in words.iter().enumerate() {
        let v: Vec<String> = (0..12)
            .map(|j| format!("{:.3}", ((i * 12 + j) as f32 * 0.37).sin()))
            .collect();
        text += &format!("{w} {}\n", v.join(" "));
    }
    let vectors = tmp.path().join("vectors.txt");
    std::fs::write(&vectors, text).unwrap();
    let out = tmp.path().join("m").display().to_string();
    let v = vectors.display().to_string();
    ok(&classify_lines(
        "train",
        &data,
        &["--embeddings", &v, "--epochs", "1"],
        &out,
    ));
    // The resumed run is the model its directory describes: 12-wide embeddings.
    let run = attend(&[
        "--threads",
        "2",
        "classify",
        "train",
        "--resume",
        "--epochs",
        "2",
        "--out",
        &out,
    ]);
    ok(&run);
    let history = std::fs::read_to_string(tmp.path().join("m/history.csv")).unwrap();
    assert_eq!(history.lines().count(), 3, "{history}");
}
