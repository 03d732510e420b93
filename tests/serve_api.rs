//! `attend serve` end to end: a server on a free loopback port, real models
//! (the PyTorch tutorial's translator, a surname classifier and language
//! model trained here, a small vector file), every endpoint, the errors,
//! batching under concurrency, a full queue, random bodies and SIGTERM.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::cli::attend;
use common::server::{Server, names_model, tutorial_model};
use serde_json::{Value, json};

const SENTENCES: [&str; 4] = [
    "je suis content .",
    "il est plus grand que moi .",
    "nous sommes fatigues .",
    "elle est tres intelligente .",
];

fn lm_model(dir: &Path) -> std::path::PathBuf {
    let out = dir.join("lm");
    let run = attend(&[
        "--threads",
        "2",
        "lm",
        "train",
        "--data",
        "names",
        "--condition-col",
        "language",
        "--embed",
        "16",
        "--hidden",
        "32",
        "--epochs",
        "1",
        "--out",
        &out.display().to_string(),
    ]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    out
}

fn vectors(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("vectors.txt");
    std::fs::write(
        &path,
        "5 3\nking 0.9 0.8 0.1\nqueen 0.9 0.1 0.8\nman 0.1 0.9 0.1\nwoman 0.1 0.1 0.9\napple -0.9 0.2 0.2\n",
    )
    .unwrap();
    path
}

fn translations(v: &Value) -> Vec<String> {
    v["translations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["text"].as_str().unwrap().to_string())
        .collect()
}

fn same_translations(a: &Value, b: &Value, what: &str) {
    let (a, b) = (&a["translations"], &b["translations"]);
    assert_eq!(translations_of(a), translations_of(b), "{what}");
    let numbers = |v: &Value| -> Vec<f64> {
        let mut out = Vec::new();
        for t in v.as_array().unwrap() {
            for h in t["hypotheses"].as_array().unwrap() {
                out.push(h["score"].as_f64().unwrap());
                for row in h["attention"].as_array().unwrap() {
                    out.extend(row.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()));
                }
            }
        }
        out
    };
    let (x, y) = (numbers(a), numbers(b));
    assert_eq!(x.len(), y.len(), "{what}");
    for (p, q) in x.iter().zip(&y) {
        assert!((p - q).abs() < 1e-4, "{what}: {p} vs {q}");
    }
}

fn translations_of(v: &Value) -> Vec<(String, Value, Value)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["text"].as_str().unwrap().to_string(),
                t["source_tokens"].clone(),
                t["hypotheses"][0]["tokens"].clone(),
            )
        })
        .collect()
}

fn error_field(v: &Value) -> &str {
    v["error"]["field"].as_str().unwrap_or("")
}

#[test]
fn every_endpoint_answers_like_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let tut = tutorial_model(tmp.path());
    let names = names_model(tmp.path());
    let lm = lm_model(tmp.path());
    let vec = vectors(tmp.path());
    let server = Server::start(
        &[
            ("fr-en", &tut),
            ("names", &names),
            ("lm", &lm),
            ("vec", &vec),
        ],
        &[],
    );
    let tut_s = tut.display().to_string();

    // Translation: the model's default search (beam 5) and greedy give the
    // texts `translate run` gives.
    let mut args = vec!["translate", "run", "--model", &tut_s];
    args.extend(SENTENCES);
    let cli = attend(&args);
    assert_eq!(cli.code, Some(0), "{}", cli.stderr);
    let (status, v) = server.post("/v1/translate", &json!({"texts": SENTENCES}));
    assert_eq!(status, 200, "{v}");
    assert_eq!(translations(&v), cli.stdout.lines().collect::<Vec<_>>());
    let mut greedy_args = args.clone();
    greedy_args.push("--greedy");
    let cli_greedy = attend(&greedy_args);
    let (_, v) = server.post(
        "/v1/translate",
        &json!({"model": "fr-en", "texts": SENTENCES, "greedy": true}),
    );
    assert_eq!(
        translations(&v),
        cli_greedy.stdout.lines().collect::<Vec<_>>()
    );

    // One text: the attention matrix has a row per output token (and
    // <eos>) over the source tokens, the first rows almost all on the source.
    let (status, v) = server.post(
        "/v1/translate",
        &json!({"text": "je suis content .", "beam": 5, "n_best": 3}),
    );
    assert_eq!(status, 200, "{v}");
    let t = &v["translations"][0];
    assert_eq!(t["hypotheses"].as_array().unwrap().len(), 3);
    let best = &t["hypotheses"][0];
    assert_eq!(t["text"], best["text"]);
    let src = t["source_tokens"].as_array().unwrap().len();
    let rows = best["attention"].as_array().unwrap();
    let out = best["tokens"].as_array().unwrap().len() + usize::from(best["finished"] == true);
    assert_eq!(rows.len(), out);
    for row in rows {
        let row = row.as_array().unwrap();
        assert_eq!(row.len(), src);
        // The tutorial decoder attends over all its `max_length` slots, the
        // empty ones past the source too (its last step mostly there): the
        // shown part of a row is a distribution's part.
        let sum: f64 = row.iter().map(|x| x.as_f64().unwrap()).sum();
        assert!(sum > 0.0 && sum < 1.0 + 1e-4, "row sums to {sum}");
    }
    let first: f64 = rows[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .sum();
    assert!(first > 0.99, "first row sums to {first}");
    let (_, v) = server.post(
        "/v1/translate",
        &json!({"text": "je suis content .", "attention": false}),
    );
    assert!(
        v["translations"][0]["hypotheses"][0]
            .get("attention")
            .is_none()
    );

    // Classification: probabilities and attention weights over the tokens.
    let (status, v) = server.post("/v1/classify", &json!({"texts": ["Nakamura", "Schmidt"]}));
    assert_eq!(status, 200, "{v}");
    let p = &v["predictions"][0];
    assert_eq!(p["classes"].as_array().unwrap().len(), 18);
    assert_eq!(p["label"], p["classes"][0]["label"]);
    let total: f64 = p["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["probability"].as_f64().unwrap())
        .sum();
    assert!((total - 1.0).abs() < 1e-4);
    let weights = p["attention"].as_array().unwrap();
    assert_eq!(weights.len(), p["tokens"].as_array().unwrap().len());
    let cli = attend(&[
        "classify",
        "predict",
        "--model",
        &names.display().to_string(),
        "Nakamura",
    ]);
    assert_eq!(cli.code, Some(0), "{}", cli.stderr);
    // `classify predict` prints the text, then "  0.6131  Japanese" lines.
    let top: Vec<&str> = cli
        .stdout
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(top[1], p["label"].as_str().unwrap(), "{}", cli.stdout);
    let prob = p["classes"][0]["probability"].as_f64().unwrap();
    assert_eq!(top[0], format!("{prob:.4}"));

    // Generation with a seed is reproducible; beam search gives `count` texts.
    let ask = json!({"model": "lm", "prime": "A", "condition": "Russian", "seed": 7, "length": 12});
    let (status, a) = server.post("/v1/generate", &ask);
    assert_eq!(status, 200, "{a}");
    let (_, b) = server.post("/v1/generate", &ask);
    assert_eq!(a["texts"], b["texts"]);
    assert!(a["texts"][0]["text"].as_str().unwrap().starts_with('A'));
    let (_, v) = server.post(
        "/v1/generate",
        &json!({"condition": "Russian", "beam": 4, "count": 3}),
    );
    assert_eq!(v["texts"].as_array().unwrap().len(), 3, "{v}");

    // Word vectors.
    let (status, v) = server.post("/v1/similar", &json!({"word": "king", "n": 2}));
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["neighbours"].as_array().unwrap().len(), 2);
    let (_, v) = server.post(
        "/v1/analogy",
        &json!({"a": "man", "b": "king", "c": "woman", "n": 1}),
    );
    assert_eq!(v["neighbours"][0]["word"], "queen", "{v}");
    let (status, v) = server.post("/v1/similar", &json!({"positive": ["king", "pear"]}));
    assert_eq!((status, error_field(&v)), (422, "positive[1]"), "{v}");
    let (status, v) = server.post("/v1/generate", &json!({"condition": "Martian"}));
    assert_eq!((status, error_field(&v)), (422, "condition"), "{v}");

    // The catalogue, health, metrics and the OpenAPI description.
    let (status, _, text) = server.get("/v1/models");
    assert_eq!(status, 200);
    let models: Value = serde_json::from_str(&text).unwrap();
    let kinds: Vec<&str> = models["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["translator", "classifier", "language-model", "vectors"]
    );
    assert_eq!(server.get("/health").0, 200);
    let (_, _, metrics) = server.get("/metrics");
    assert!(
        metrics.contains("attend_http_requests_total{endpoint=\"/v1/translate\",status=\"200\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("attend_batch_texts_count{model=\"fr-en\"}"));
    let (status, kind, doc) = server.get("/openapi.json");
    assert_eq!((status, kind.as_str()), (200, "application/json"));
    let doc: Value = serde_json::from_str(&doc).unwrap();
    assert!(doc["paths"]["/v1/translate"]["post"].is_object());
    let (status, kind, page) = server.get("/");
    assert_eq!(status, 200);
    assert!(kind.starts_with("text/html"));
    assert!(page.contains("app.js"));
}

#[test]
fn bad_requests_get_4xx_naming_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let tut = tutorial_model(tmp.path());
    let names = names_model(tmp.path());
    let mut server = Server::start(
        &[("fr-en", &tut), ("names", &names)],
        &["--max-texts", "4", "--max-body-bytes", "4096"],
    );
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({"text": "je", "beam": "five"}), 422, "beam"),
        (json!({"text": "je", "bogus": 1}), 422, "bogus"),
        (json!({"texts": ["je", 3]}), 422, "texts[1]"),
        (json!({"text": "   "}), 422, "text"),
        (json!({"texts": []}), 422, "texts"),
        (json!({}), 422, "text"),
        (json!({"texts": ["a", "b", "c", "d", "e"]}), 422, "texts"),
        (json!({"text": "je", "model": "nope"}), 404, "model"),
        (json!({"text": "je", "model": "names"}), 422, "model"),
        (
            json!({"text": "je", "greedy": true, "beam": 2}),
            422,
            "greedy",
        ),
        (json!({"text": "je", "beam": 0}), 422, "beam"),
        (json!({"text": "je", "beam": 2, "n_best": 3}), 422, "n_best"),
        (json!({"text": "je", "top_k": 3}), 422, "top_k"),
        (
            json!({"text": "je", "sample": true, "temperature": -1.0}),
            422,
            "temperature",
        ),
        (json!(["je"]), 422, "body"),
    ];
    for (body, status, field) in cases {
        let (got, v) = server.post("/v1/translate", &body);
        assert_eq!(got, status, "{body} → {v}");
        assert_eq!(error_field(&v), field, "{body} → {v}");
        assert!(!v["error"]["message"].as_str().unwrap().is_empty());
    }
    let (status, text) = server.post_raw("/v1/translate", b"{\"text\": ");
    assert_eq!(status, 400, "{text}");
    let (status, text) = server.post_raw("/v1/translate", &vec![b' '; 10_000]);
    assert_eq!(status, 413, "{text}");
    let (status, v) = server.post("/v1/classify", &json!({"text": "x", "model": "fr-en"}));
    assert_eq!((status, error_field(&v)), (422, "model"));
    let (status, v) = server.post("/v1/similar", &json!({"word": "king"}));
    assert_eq!((status, error_field(&v)), (422, "model"), "{v}");
    let (status, _, text) = server.get("/v2/nothing");
    assert_eq!(status, 404, "{text}");
    let (status, _, _) = server.get("/v1/translate");
    assert_eq!(status, 405);
    assert!(server.alive());
}

/// Concurrent clients get the answers they would get alone, and the
/// server computes their texts in shared batches.
#[test]
fn concurrent_requests_are_batched_and_answered_alike() {
    let tmp = tempfile::tempdir().unwrap();
    let tut = tutorial_model(tmp.path());
    let server = Arc::new(Server::start(&[("fr-en", &tut)], &[]));
    let alone: Vec<Value> = SENTENCES
        .iter()
        .map(|s| {
            server
                .post("/v1/translate", &json!({"text": s, "greedy": true}))
                .1
        })
        .collect();
    let clients: Vec<_> = (0..32)
        .map(|i| {
            let server = Arc::clone(&server);
            std::thread::spawn(move || {
                let s = SENTENCES[i % SENTENCES.len()];
                (
                    i,
                    server.post("/v1/translate", &json!({"text": s, "greedy": true})),
                )
            })
        })
        .collect();
    for c in clients {
        let (i, (status, v)) = c.join().unwrap();
        assert_eq!(status, 200, "{v}");
        // The same words; scores and weights equal up to the rounding of
        // a batch's matrix products.
        same_translations(&v, &alone[i % SENTENCES.len()], &format!("client {i}"));
    }
    let (_, _, metrics) = server.get("/metrics");
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|x| x.parse().ok())
            .unwrap_or_else(|| panic!("{name} not in {metrics}"))
    };
    // Every text was computed once, in fewer batches than requests.
    assert_eq!(value("attend_batch_texts_sum{model=\"fr-en\"}"), 36.0);
    let batches = value("attend_batch_texts_count{model=\"fr-en\"}");
    assert!(batches < 36.0, "no batching: {batches} batches");
}

/// A queue of 2 against 64 clients: only 200s and 503s with Retry-After,
/// and the server is alive afterwards.
#[test]
fn a_full_queue_sheds_load_with_503() {
    let tmp = tempfile::tempdir().unwrap();
    let tut = tutorial_model(tmp.path());
    let mut server = Server::start(&[("fr-en", &tut)], &["--queue", "2", "--batch-size", "1"]);
    let url = Arc::new(server.url.clone());
    let clients: Vec<_> = (0..64)
        .map(|_| {
            let url = Arc::clone(&url);
            std::thread::spawn(move || {
                let resp = common::server::agent()
                    .post(&format!("{url}/v1/translate"))
                    .send(json!({"texts": SENTENCES, "beam": 10}).to_string())
                    .unwrap();
                let retry = resp.headers().get("retry-after").is_some();
                (resp.status().as_u16(), retry)
            })
        })
        .collect();
    let answers: Vec<(u16, bool)> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    assert!(
        answers.iter().all(|&(s, r)| s == 200 || (s == 503 && r)),
        "{answers:?}"
    );
    assert!(
        answers.iter().any(|&(s, _)| s == 503),
        "never full: {answers:?}"
    );
    assert!(answers.iter().any(|&(s, _)| s == 200));
    assert!(server.alive());
    let (status, _) = server.post("/v1/translate", &json!({"text": "je suis content ."}));
    assert_eq!(status, 200);
}

/// Random and malformed bodies (400 by default: flipped, cut, random and
/// inserted bytes, bodies past the size limit, values of the wrong type):
/// only 4xx, never a panic, the server alive.
#[test]
fn random_requests_get_4xx_and_the_server_survives() {
    let tmp = tempfile::tempdir().unwrap();
    let tut = tutorial_model(tmp.path());
    let names = names_model(tmp.path());
    let mut server = Server::start(&[("fr-en", &tut), ("names", &names)], &[]);
    let seeds = [
        r#"{"text": "je suis"}"#,
        r#"{"texts": ["a", "b"], "beam": 3, "n_best": 2}"#,
        r#"{"text": "x", "sample": true, "top_p": 0.5, "seed": 3}"#,
        r#"{"model": "names", "text": "Smith"}"#,
    ];
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut counts = std::collections::BTreeMap::new();
    // `ATTEND_FUZZ_REQUESTS=10000` for the long run (BENCHMARKS.md, "Serving").
    let total: usize = std::env::var("ATTEND_FUZZ_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(400);
    for i in 0..total {
        let seed = seeds[i % seeds.len()].as_bytes();
        let mut body = seed.to_vec();
        match next() % 6 {
            0 => {
                // Flip bytes.
                for _ in 0..1 + next() % 4 {
                    let at = (next() as usize) % body.len();
                    body[at] = (next() % 256) as u8;
                }
            }
            1 => body.truncate((next() as usize) % body.len()),
            2 => body = (0..next() % 64).map(|_| (next() % 256) as u8).collect(),
            // A body past the 1 MiB limit.
            3 => body = vec![b'['; (1 << 20) + (next() % 4096) as usize],
            // A well-formed body with a value of the wrong type.
            4 => {
                const FIELDS: [&str; 8] = [
                    "text",
                    "texts",
                    "beam",
                    "n_best",
                    "greedy",
                    "model",
                    "seed",
                    "temperature",
                ];
                const VALUES: [&str; 9] = [
                    "1",
                    "\"x\"",
                    "[]",
                    "{}",
                    "null",
                    "true",
                    "-1",
                    "1e400",
                    "[\"a\", 1]",
                ];
                let field = FIELDS[(next() % 8) as usize];
                let value = VALUES[(next() % 9) as usize];
                body = format!("{{\"text\": \"je\", \"{field}\": {value}}}").into_bytes();
            }
            _ => {
                let at = (next() as usize) % body.len();
                body.insert(at, b"\"-1e999[]{}:,0\\"[(next() % 15) as usize]);
            }
        }
        let path = if i % 2 == 0 {
            "/v1/translate"
        } else {
            "/v1/classify"
        };
        let (status, text) = server.post_raw(path, &body);
        assert!(
            status == 200 || (400..500).contains(&status),
            "{} → {status} {text}",
            String::from_utf8_lossy(&body)
        );
        if status != 200 {
            let v: Value =
                serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
            assert!(v["error"]["message"].is_string(), "{text}");
        }
        *counts.entry(status).or_insert(0) += 1;
    }
    eprintln!("{total} random requests, answers by status: {counts:?}");
    assert!(counts.keys().any(|&s| s >= 400), "{counts:?}");
    assert!(server.alive());
    let log: Vec<String> = server.log.lock().unwrap().try_iter().collect();
    assert!(!log.iter().any(|l| l.contains("panicked")), "{log:?}");
}

/// SIGTERM lets the request in flight finish, then the server exits 0.
#[cfg(unix)]
#[test]
fn sigterm_drains_requests_in_flight() {
    let tmp = tempfile::tempdir().unwrap();
    let tut = tutorial_model(tmp.path());
    let mut server = Server::start(&[("fr-en", &tut)], &["--batch-size", "64"]);
    let url = server.url.clone();
    let texts: Vec<&str> = SENTENCES.iter().copied().cycle().take(64).collect();
    let slow = std::thread::spawn(move || {
        let mut resp = common::server::agent()
            .post(&format!("{url}/v1/translate"))
            .send(json!({"texts": texts, "beam": 64}).to_string())
            .unwrap();
        (
            resp.status().as_u16(),
            resp.body_mut().read_to_string().unwrap(),
        )
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    let pid = server.child.id().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    let (status, body) = slow.join().unwrap();
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["translations"].as_array().unwrap().len(), 64);
    let code = server.child.wait().unwrap();
    assert_eq!(code.code(), Some(0));
}
