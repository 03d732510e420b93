//! `classify train --autotune`: the search keeps to its wall-clock budget
//! and leaves the best trial as an ordinary model directory. Alone in its
//! test binary, so no other test shares the cores while it is timed.

mod common;

use common::cli::{attend, classify_lines, ok};

#[test]
fn autotune_keeps_its_budget_and_the_best_model() {
    let tmp = tempfile::tempdir().unwrap();
    let data = common::sentence_slice("subj.all.txt.gz", 10, tmp.path());
    let out = tmp.path().join("tuned");
    let o = out.display().to_string();
    let budget_s = 18.0;
    let minutes = format!("{}", budget_s / 60.0);
    let started = std::time::Instant::now();
    let extra = ["--encoder", "bag", "--epochs", "20", "--autotune", &minutes];
    let run = classify_lines("train", &data, &extra, &o);
    let took = started.elapsed().as_secs_f64();
    ok(&run);
    assert!(
        (took - budget_s).abs() <= 0.1 * budget_s,
        "took {took:.1} s for a budget of {budget_s} s\n{}",
        run.stderr
    );
    let table = std::fs::read_to_string(out.join("autotune.tsv")).unwrap();
    let trials: Vec<&str> = table.lines().skip(1).collect();
    assert!(trials.len() >= 2, "{table}");
    assert_eq!(
        trials
            .iter()
            .filter(|t| t.split('\t').next().unwrap().ends_with('*'))
            .count(),
        1,
        "{table}"
    );
    assert!(trials[0].ends_with("as given"), "{table}");
    // The best trial's validation score is the best in the table, and is
    // what its model directory recorded as its best.
    let score = |t: &str| {
        t.split('\t')
            .nth(1)
            .unwrap()
            .parse::<f64>()
            .unwrap_or(f64::NAN)
    };
    let best = trials
        .iter()
        .find(|t| t.split('\t').next().unwrap().ends_with('*'))
        .unwrap();
    assert!(
        trials
            .iter()
            .all(|t| score(t).is_nan() || score(t) <= score(best)),
        "{table}"
    );
    // Subjectivity from 800 training sentences: well above the balanced 0.5.
    assert!(score(best) > 0.7, "{table}");
    let eval = attend(&[
        "classify", "eval", "--model", &o, "--split", "valid", "--json",
    ]);
    ok(&eval);
    let r: serde_json::Value = serde_json::from_str(&eval.stdout).unwrap();
    assert!(
        (r["accuracy"].as_f64().unwrap() - score(best)).abs() < 1e-4,
        "{} vs {table}",
        r["accuracy"]
    );
    assert!(!out.join("trials").exists(), "the other trials are removed");
}
