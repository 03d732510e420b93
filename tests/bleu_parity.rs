//! Every case of `shared/fixtures/bleu_cases.json` (sacreBLEU 2.6.0's
//! `corpus_bleu` / `sentence_bleu`, and the d2l.ai teaching BLEU) reproduced:
//! scores to 1e-9 absolute, n-gram statistics and lengths exactly.

mod common;

use attend::metrics::teaching_bleu;
use attend::metrics::{BleuConfig, BleuScore, Smooth, corpus_bleu, sentence_bleu};
use common::json_strings as strings;
use serde_json::Value;

const TOL: f64 = 1e-9;

fn floats(v: &Value, what: &str, case: &str) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("{case}: `{what}` is not an array"))
        .iter()
        .map(|x| {
            x.as_f64()
                .unwrap_or_else(|| panic!("{case}: `{what}` holds a non-number"))
        })
        .collect()
}

fn num(c: &Value, key: &str, case: &str) -> f64 {
    c[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{case}: missing number `{key}`"))
}

/// The fixture's sacreBLEU keyword arguments as a config on top of `base`.
fn config(opts: &Value, base: BleuConfig, case: &str) -> BleuConfig {
    let obj = opts
        .as_object()
        .unwrap_or_else(|| panic!("{case}: options is not an object"));
    for key in obj.keys() {
        assert!(
            ["tokenize", "lowercase", "smooth_method", "smooth_value"].contains(&key.as_str()),
            "{case}: option `{key}` is not understood by this test"
        );
    }
    let mut cfg = base;
    if let Some(t) = opts.get("tokenize") {
        cfg.tokenize = t
            .as_str()
            .unwrap_or_else(|| panic!("{case}: tokenize is not a string"))
            .parse()
            .unwrap_or_else(|e| panic!("{case}: {e}"));
    }
    if let Some(l) = opts.get("lowercase") {
        cfg.lowercase = l
            .as_bool()
            .unwrap_or_else(|| panic!("{case}: lowercase is not a bool"));
    }
    if let Some(m) = opts.get("smooth_method") {
        let method = m
            .as_str()
            .unwrap_or_else(|| panic!("{case}: smooth_method is not a string"));
        let value = opts.get("smooth_value").and_then(Value::as_f64);
        cfg.smooth = Smooth::from_method(method, value).unwrap_or_else(|e| panic!("{case}: {e}"));
    }
    cfg
}

fn check_close(case: &str, what: &str, got: f64, want: f64) -> Option<String> {
    let ok = (got - want).abs() <= TOL;
    (!ok).then(|| {
        format!(
            "{case}: {what} = {got:?}, sacreBLEU {want:?} (|Δ| = {:e})",
            (got - want).abs()
        )
    })
}

/// Every field sacreBLEU reported; returns the mismatches.
fn compare(case: &str, s: &BleuScore, c: &Value) -> Vec<String> {
    let mut bad = Vec::new();
    bad.extend(check_close(case, "score", s.score, num(c, "score", case)));
    bad.extend(check_close(case, "bp", s.bp, num(c, "bp", case)));
    for (what, got) in [
        ("counts", &s.counts),
        ("totals", &s.totals),
        ("precisions", &s.precisions),
    ] {
        let want = floats(&c[what], what, case);
        if got.len() != want.len() {
            bad.push(format!(
                "{case}: {what} has {} orders, sacreBLEU {}",
                got.len(),
                want.len()
            ));
            continue;
        }
        for (n, (g, w)) in got.iter().zip(&want).enumerate() {
            bad.extend(check_close(case, &format!("{what}[{n}]"), *g, *w));
        }
    }
    for (what, got) in [("sys_len", s.sys_len), ("ref_len", s.ref_len)] {
        let want = c[what]
            .as_u64()
            .unwrap_or_else(|| panic!("{case}: missing `{what}`"));
        if got != want {
            bad.push(format!("{case}: {what} = {got}, sacreBLEU {want}"));
        }
    }
    if let Some(sig) = c.get("signature").and_then(Value::as_str)
        && s.signature().to_string() != sig
    {
        bad.push(format!(
            "{case}: signature {} != sacreBLEU {sig}",
            s.signature()
        ));
    }
    bad
}

#[test]
fn every_fixture_case_is_reproduced() {
    let manifest = common::load_manifest("bleu_cases.json");
    let cases = manifest["cases"]
        .as_array()
        .expect("bleu_cases.json has no `cases` array");
    assert!(!cases.is_empty(), "bleu_cases.json has no cases");
    let mut failures = Vec::new();
    let mut seen = [0usize; 3];
    for (i, c) in cases.iter().enumerate() {
        let name = c["name"].as_str().unwrap_or("?");
        let level = c["level"].as_str().unwrap_or("?");
        let case = format!("case #{i} `{name}` ({level}, options {})", c["options"]);
        match level {
            "corpus" => {
                seen[0] += 1;
                let cfg = config(&c["options"], BleuConfig::default(), &case);
                let hyps = strings(&c["hypotheses"], "hypotheses", &case);
                let refs: Vec<Vec<String>> = c["references"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{case}: references is not an array"))
                    .iter()
                    .map(|stream| strings(stream, "references", &case))
                    .collect();
                match corpus_bleu(&hyps, &refs, &cfg) {
                    Ok(s) => failures.extend(compare(&case, &s, c)),
                    Err(e) => failures.push(format!("{case}: error {e}")),
                }
            }
            "sentence" => {
                seen[1] += 1;
                let cfg = config(&c["options"], BleuConfig::sentence(), &case);
                let hyp = c["hypothesis"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{case}: no hypothesis"));
                let refs = strings(&c["references"], "references", &case);
                match sentence_bleu(hyp, &refs, &cfg) {
                    Ok(s) => failures.extend(compare(&case, &s, c)),
                    Err(e) => failures.push(format!("{case}: error {e}")),
                }
            }
            "d2l" => {
                seen[2] += 1;
                let k = c["options"]["k"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("{case}: no k")) as usize;
                let pred = c["hypothesis"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{case}: no hypothesis"));
                let label = c["reference"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{case}: no reference"));
                // d2l splits on single spaces, not on whitespace runs.
                let got = teaching_bleu(
                    &pred.split(' ').collect::<Vec<_>>(),
                    &label.split(' ').collect::<Vec<_>>(),
                    k,
                );
                failures.extend(check_close(&case, "d2l score", got, num(c, "score", &case)));
            }
            other => failures.push(format!("{case}: unknown level `{other}`")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatch(es) against sacreBLEU/d2l:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        seen.iter().all(|&n| n > 0),
        "fixture lacks a level: {seen:?} (corpus, sentence, d2l)"
    );
    eprintln!(
        "bleu_cases.json: {} corpus, {} sentence, {} d2l cases reproduced",
        seen[0], seen[1], seen[2]
    );
}
