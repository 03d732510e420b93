//! Every case of `tests/fixtures/sacrebleu_cases.json`, written by
//! `scripts/sacrebleu_cases.py` with sacreBLEU 2.6.0, reproduced: the `13a`,
//! `intl` and `char` tokenizers' output; BLEU with each tokenizer, casing,
//! smoothing and one or two references; chrF and chrF++ at corpus and
//! sentence level. Scores to 1e-9 relative, counts, lengths, signatures and
//! printed score lines exactly.

mod common;

use std::collections::BTreeMap;

use attend::metrics::{
    BleuConfig, BleuScore, ChrfConfig, ChrfScore, Smooth, Tokenize, corpus_bleu, corpus_chrf,
    sentence_bleu, sentence_chrf,
};
use common::json_strings as strings;
use serde_json::Value;

const REL_TOL: f64 = 1e-9;

fn load() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sacrebleu_cases.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad JSON in {}: {e}", path.display()))
}

fn text<'a>(v: &'a Value, key: &str, case: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{case}: `{key}` is not a string"))
}

fn streams(v: &Value, case: &str) -> Vec<Vec<String>> {
    v.as_array()
        .unwrap_or_else(|| panic!("{case}: references is not an array"))
        .iter()
        .map(|stream| strings(stream, "references", case))
        .collect()
}

fn num(c: &Value, key: &str, case: &str) -> f64 {
    c[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{case}: missing number `{key}`"))
}

fn uint(c: &Value, key: &str, case: &str) -> u64 {
    c[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{case}: missing unsigned integer `{key}`"))
}

fn flag(c: &Value, key: &str, case: &str) -> bool {
    c[key]
        .as_bool()
        .unwrap_or_else(|| panic!("{case}: missing bool `{key}`"))
}

/// Checks that `options` has exactly the keys this test turns into a config,
/// so an option sacreBLEU was given cannot be silently ignored.
fn expect_keys(opts: &Value, keys: &[&str], case: &str) {
    let obj = opts
        .as_object()
        .unwrap_or_else(|| panic!("{case}: options is not an object"));
    let mut got: Vec<&str> = obj.keys().map(String::as_str).collect();
    let mut want = keys.to_vec();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want, "{case}: unexpected option keys");
}

fn check_close(bad: &mut Vec<String>, case: &str, what: &str, got: f64, want: f64) {
    if (got - want).abs() > REL_TOL * want.abs() {
        bad.push(format!(
            "{case}: {what} = {got:?}, sacreBLEU {want:?} (|Δ| = {:e})",
            (got - want).abs()
        ));
    }
}

fn check_eq<T: PartialEq + std::fmt::Debug>(
    bad: &mut Vec<String>,
    case: &str,
    what: &str,
    got: T,
    want: T,
) {
    if got != want {
        bad.push(format!("{case}: {what} = {got:?}, sacreBLEU {want:?}"));
    }
}

fn report(kind: &str, failures: &[String], seen: &BTreeMap<String, usize>) {
    assert!(
        failures.is_empty(),
        "{} {kind} mismatch(es) against sacreBLEU:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("sacrebleu_cases.json: {kind} cases reproduced: {seen:?}");
}

#[test]
fn tokenizers_match_sacrebleu() {
    let doc = load();
    let cases = doc["tokenizers"]
        .as_array()
        .expect("fixture has no `tokenizers` array");
    let (mut failures, mut seen) = (Vec::new(), BTreeMap::new());
    for (i, c) in cases.iter().enumerate() {
        let case = format!("tokenizer case #{i}");
        let name = text(c, "tokenize", &case);
        let tok: Tokenize = name.parse().unwrap_or_else(|e| panic!("{case}: {e}"));
        let input = text(c, "input", &case);
        let got = tok.apply(input);
        check_eq(
            &mut failures,
            &format!("{case} ({name}, {input:?})"),
            "output",
            got.as_str(),
            text(c, "output", &case),
        );
        *seen.entry(name.to_string()).or_insert(0) += 1;
    }
    for name in ["13a", "intl", "char"] {
        assert!(seen.contains_key(name), "no `{name}` tokenizer case");
    }
    report("tokenizer", &failures, &seen);
}

fn bleu_config(opts: &Value, case: &str) -> BleuConfig {
    expect_keys(
        opts,
        &[
            "tokenize",
            "lowercase",
            "smooth_method",
            "smooth_value",
            "max_ngram_order",
            "effective_order",
        ],
        case,
    );
    let method = text(opts, "smooth_method", case);
    BleuConfig {
        tokenize: text(opts, "tokenize", case)
            .parse()
            .unwrap_or_else(|e| panic!("{case}: {e}")),
        lowercase: flag(opts, "lowercase", case),
        smooth: Smooth::from_method(method, opts["smooth_value"].as_f64())
            .unwrap_or_else(|e| panic!("{case}: {e}")),
        max_ngram_order: uint(opts, "max_ngram_order", case) as usize,
        effective_order: flag(opts, "effective_order", case),
    }
}

fn compare_bleu(bad: &mut Vec<String>, case: &str, s: &BleuScore, c: &Value) {
    check_close(bad, case, "score", s.score, num(c, "score", case));
    check_close(bad, case, "bp", s.bp, num(c, "bp", case));
    for (what, got) in [
        ("counts", &s.counts),
        ("totals", &s.totals),
        ("precisions", &s.precisions),
    ] {
        let want: Vec<f64> = c[what]
            .as_array()
            .unwrap_or_else(|| panic!("{case}: `{what}` is not an array"))
            .iter()
            .map(|x| x.as_f64().unwrap_or_else(|| panic!("{case}: bad `{what}`")))
            .collect();
        check_eq(bad, case, &format!("{what} orders"), got.len(), want.len());
        for (n, (g, w)) in got.iter().zip(&want).enumerate() {
            check_close(bad, case, &format!("{what}[{n}]"), *g, *w);
        }
    }
    check_eq(bad, case, "sys_len", s.sys_len, uint(c, "sys_len", case));
    check_eq(bad, case, "ref_len", s.ref_len, uint(c, "ref_len", case));
    let sig = s.signature().to_string();
    check_eq(
        bad,
        case,
        "signature",
        sig.as_str(),
        text(c, "signature", case),
    );
    let line = s.to_string();
    check_eq(bad, case, "line", line.as_str(), text(c, "line", case));
    let full = s.format_with_signature();
    let want = text(c, "line_with_signature", case);
    check_eq(bad, case, "line with signature", full.as_str(), want);
}

fn chrf_config(opts: &Value, case: &str) -> ChrfConfig {
    let keys = [
        "char_order",
        "word_order",
        "beta",
        "lowercase",
        "whitespace",
        "eps_smoothing",
    ];
    expect_keys(opts, &keys, case);
    ChrfConfig {
        char_order: uint(opts, "char_order", case) as usize,
        word_order: uint(opts, "word_order", case) as usize,
        beta: u32::try_from(uint(opts, "beta", case))
            .unwrap_or_else(|e| panic!("{case}: beta: {e}")),
        lowercase: flag(opts, "lowercase", case),
        whitespace: flag(opts, "whitespace", case),
        eps_smoothing: flag(opts, "eps_smoothing", case),
    }
}

fn compare_chrf(bad: &mut Vec<String>, case: &str, s: &ChrfScore, c: &Value) {
    check_close(bad, case, "score", s.score, num(c, "score", case));
    let want: Vec<u64> = c["stats"]
        .as_array()
        .unwrap_or_else(|| panic!("{case}: `stats` is not an array"))
        .iter()
        .map(|x| x.as_u64().unwrap_or_else(|| panic!("{case}: bad `stats`")))
        .collect();
    check_eq(bad, case, "stats", &s.stats, &want);
    let sig = s.signature().to_string();
    check_eq(
        bad,
        case,
        "signature",
        sig.as_str(),
        text(c, "signature", case),
    );
    let line = s.to_string();
    check_eq(bad, case, "line", line.as_str(), text(c, "line", case));
    let full = s.format_with_signature();
    let want = text(c, "line_with_signature", case);
    check_eq(bad, case, "line with signature", full.as_str(), want);
}

/// Runs every case of `metric` through `corpus` / `sentence` and compares.
fn run_cases(
    metric: &str,
    corpus: impl Fn(&Value, &[String], &[Vec<String>], &str, &mut Vec<String>),
    sentence: impl Fn(&Value, &str, &[String], &str, &mut Vec<String>),
) {
    let doc = load();
    let cases = doc["cases"]
        .as_array()
        .expect("fixture has no `cases` array");
    let (mut failures, mut seen) = (Vec::new(), BTreeMap::new());
    for (i, c) in cases.iter().enumerate() {
        let name = c["name"].as_str().unwrap_or("?");
        let level = c["level"].as_str().unwrap_or("?");
        if c["metric"].as_str() != Some(metric) {
            continue;
        }
        let case = format!(
            "case #{i} `{name}` ({metric} {level}, options {})",
            c["options"]
        );
        match level {
            "corpus" => {
                let hyps = strings(&c["hypotheses"], "hypotheses", &case);
                let refs = streams(&c["references"], &case);
                corpus(c, &hyps, &refs, &case, &mut failures);
            }
            "sentence" => {
                let hyp = text(c, "hypothesis", &case);
                let refs = strings(&c["references"], "references", &case);
                sentence(c, hyp, &refs, &case, &mut failures);
            }
            other => failures.push(format!("{case}: unknown level `{other}`")),
        }
        *seen.entry(level.to_string()).or_insert(0) += 1;
    }
    for level in ["corpus", "sentence"] {
        assert!(seen.contains_key(level), "no {metric} {level} case");
    }
    report(metric, &failures, &seen);
}

#[test]
fn bleu_matches_sacrebleu() {
    run_cases(
        "bleu",
        |c, hyps, refs, case, bad| {
            let cfg = bleu_config(&c["options"], case);
            match corpus_bleu(hyps, refs, &cfg) {
                Ok(s) => compare_bleu(bad, case, &s, c),
                Err(e) => bad.push(format!("{case}: error {e}")),
            }
        },
        |c, hyp, refs, case, bad| {
            let cfg = bleu_config(&c["options"], case);
            match sentence_bleu(hyp, refs, &cfg) {
                Ok(s) => compare_bleu(bad, case, &s, c),
                Err(e) => bad.push(format!("{case}: error {e}")),
            }
        },
    );
}

#[test]
fn chrf_matches_sacrebleu() {
    run_cases(
        "chrf",
        |c, hyps, refs, case, bad| {
            let cfg = chrf_config(&c["options"], case);
            match corpus_chrf(hyps, refs, &cfg) {
                Ok(s) => compare_chrf(bad, case, &s, c),
                Err(e) => bad.push(format!("{case}: error {e}")),
            }
        },
        |c, hyp, refs, case, bad| {
            let cfg = chrf_config(&c["options"], case);
            match sentence_chrf(hyp, refs, &cfg) {
                Ok(s) => compare_chrf(bad, case, &s, c),
                Err(e) => bad.push(format!("{case}: error {e}")),
            }
        },
    );
}
