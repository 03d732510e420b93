//! Mutation fuzzing of every reader of untrusted input, on stable Rust with
//! no fuzzing framework: valid seed inputs (built here, or short slices of
//! the shared datasets read at test time) are mutated by a seeded mutator —
//! bit flips, byte inserts and deletes, chunk duplication, truncation,
//! splices of other seeds and of tokens that break parsers (huge numbers,
//! `-1`, `NaN`, `inf`, quotes, tabs, newlines, invalid UTF-8, nothing) — and
//! each mutant goes through a reader inside `catch_unwind`. A reader may
//! accept or reject a mutant; it may not panic, abort or hang: a panic
//! fails the test with the case's seed and a hex excerpt of the input, a
//! case over 10 seconds fails it, and a watchdog ends the process if a case
//! hangs. An abort (a failed allocation) kills the process: the seed of the
//! case running is kept in `target/tmp/fuzz-<reader>.case` to replay it.
//!
//! Environment:
//! - `ATTEND_FUZZ_CASES` — cases per in-process reader (default 1000, so the
//!   file runs in well under 30 s in release; the long run is 100,000).
//! - `ATTEND_FUZZ_CLI_CASES` — runs of the binary per command in
//!   `binary_exits_0_or_2_on_mutated_files` (default 6; the long run 500).
//! - `ATTEND_FUZZ_SEED` — base seed (default fixed, so CI is reproducible).
//! - `ATTEND_FUZZ_REPLAY` — run only the case with this seed (printed on
//!   failure), e.g. `ATTEND_FUZZ_REPLAY=123 cargo test --release --test
//!   fuzz pairs`.
//! - Sizes in `config.json` and the tutorial vocabulary (`"hidden":
//!   99999999`) are mutants like any other: the memory budget on model
//!   parameters (`attend::memory`) makes them errors, not allocations.
//!
//! The long run is recorded in BENCHMARKS.md (Reliability).

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use attend::data::vectors::{self, VectorFormat};
use attend::data::{BadRows, Column, Delimiter, LabelledFormat, labelled_reader, pair_reader};
use attend::data::{CorpusReader, open};
use attend::text::{Vocab, VocabConfig};
use candle_core::{DType, Device, Tensor};
use common::cli::{self, attend, ok};
use common::data_dir;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The longest a case may take.
const CASE_LIMIT: Duration = Duration::from_secs(10);

/// Mutants are cut to this size: big enough for every structure a seed
/// has, small enough for 100,000 cases a reader.
const MAX_INPUT: usize = 64 << 10;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn cases() -> usize {
    env_usize("ATTEND_FUZZ_CASES", 1000)
}

/// Tokens that break parsers, spliced in whole.
const TOKENS: &[&[u8]] = &[
    b"99999999999",
    b"18446744073709551616",
    b"999999999999999999999999999999",
    b"4294967296",
    b"-1",
    b"-5",
    b"0",
    b"1e39",
    b"-0",
    b"NaN",
    b"nan",
    b"inf",
    b"-inf",
    b"\"",
    b"\"\"",
    b"\t",
    b"\n",
    b"\r\n",
    b"\r",
    b",",
    b" ",
    b"\xff\xfe",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\0",
    b"",
    b"{",
    b"}",
    b"[",
    b"]",
    b"null",
    b"true",
    b":",
    b"\\u0000",
    b"\\ud800",
    b"\\",
    b"<eos>",
    b"<unk>",
    b"\xef\xbb\xbf",
    b"\x1f\x8b",
];

/// Bytes worth writing over another.
const BYTES: &[u8] = b"\0\xff\"\t\n\r ,-.e0123456789{}[]:";

struct Mutator {
    rng: StdRng,
}

impl Mutator {
    fn new(seed: u64) -> Self {
        Mutator {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    fn token(&mut self) -> &'static [u8] {
        TOKENS[self.rng.random_range(0..TOKENS.len())]
    }

    /// A position, often just after a separator (where fields begin).
    fn pos(&mut self, v: &[u8]) -> usize {
        if !v.is_empty() && self.rng.random_bool(0.5) {
            let seps: Vec<usize> = v
                .iter()
                .enumerate()
                .filter(|(_, b)| b" \t\n,:[{\"".contains(b))
                .map(|(i, _)| i + 1)
                .collect();
            if !seps.is_empty() {
                return seps[self.rng.random_range(0..seps.len())];
            }
        }
        self.rng.random_range(0..=v.len())
    }

    /// A run of ASCII digits (a number of the input), if there is one.
    fn number(&mut self, v: &[u8]) -> Option<(usize, usize)> {
        let mut runs = Vec::new();
        let mut i = 0;
        while i < v.len() {
            if v[i].is_ascii_digit() {
                let start = i;
                while i < v.len() && v[i].is_ascii_digit() {
                    i += 1;
                }
                runs.push((start, i));
            } else {
                i += 1;
            }
        }
        (!runs.is_empty()).then(|| runs[self.rng.random_range(0..runs.len())])
    }

    /// A mutant of a JSON seed that is still JSON: 1 to 3 nodes replaced
    /// (by numbers, strings, `null`, empty containers), removed, duplicated
    /// or renamed, so the readers' checks past the parser get exercised.
    fn mutate_json(&mut self, seed: &[u8]) -> Option<Vec<u8>> {
        let mut v: serde_json::Value = serde_json::from_slice(seed).ok()?;
        for _ in 0..self.rng.random_range(1..=3) {
            let mut paths = Vec::new();
            json_paths(&v, String::new(), &mut paths);
            let path = paths[self.rng.random_range(0..paths.len())].clone();
            let op = self.rng.random_range(0..4);
            let (parent, last) = match path.rfind('/') {
                Some(i) if op >= 2 => (path[..i].to_string(), Some(path[i + 1..].to_string())),
                _ => (path.clone(), None),
            };
            let replacement = self.json_value();
            let Some(node) = v.pointer_mut(&parent) else {
                continue;
            };
            match (node, last) {
                (serde_json::Value::Array(a), Some(i)) => {
                    let i: usize = i.parse().unwrap_or(0).min(a.len().saturating_sub(1));
                    if a.is_empty() {
                        continue;
                    }
                    if op == 2 {
                        a.remove(i);
                    } else {
                        let x = a[i].clone();
                        a.insert(i, x);
                    }
                }
                (serde_json::Value::Object(o), Some(k)) => {
                    let k = k.replace("~1", "/").replace("~0", "~");
                    if let Some(x) = o.remove(&k)
                        && op == 3
                    {
                        o.insert(format!("{k}_"), x);
                    }
                }
                (node, _) => *node = replacement,
            }
        }
        serde_json::to_vec(&v).ok()
    }

    fn json_value(&mut self) -> serde_json::Value {
        use serde_json::json;
        let values = [
            json!(0),
            json!(1),
            json!(2),
            json!(3),
            json!(-1),
            json!(0.5),
            json!(-0.0),
            json!(1000),
            json!(99999999999u64),
            json!(1e300),
            json!(""),
            json!("x"),
            json!("<unk>"),
            json!("gru"),
            json!("lstm"),
            json!(null),
            json!(true),
            json!([]),
            json!({}),
            json!(["a", "a"]),
        ];
        values[self.rng.random_range(0..values.len())].clone()
    }

    fn mutate(&mut self, seed: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
        if self.rng.random_range(0..64) == 0 {
            return Vec::new();
        }
        let mut v = seed.to_vec();
        for _ in 0..self.rng.random_range(1..=4) {
            let len = v.len();
            match self.rng.random_range(0..11) {
                0 if len > 0 => {
                    let i = self.rng.random_range(0..len);
                    v[i] ^= 1 << self.rng.random_range(0..8);
                }
                1 => {
                    let i = self.rng.random_range(0..=len);
                    let b = self.rng.random();
                    v.insert(i, b);
                }
                2 if len > 0 => {
                    let i = self.rng.random_range(0..len);
                    let n = self.rng.random_range(1..=16.min(len - i));
                    v.drain(i..i + n);
                }
                3 if len > 0 => {
                    let i = self.rng.random_range(0..len);
                    let n = self.rng.random_range(1..=64.min(len - i));
                    let chunk = v[i..i + n].to_vec();
                    let times = self.rng.random_range(1..=8);
                    let at = i + n;
                    v.splice(at..at, chunk.iter().copied().cycle().take(n * times));
                }
                4 | 5 => {
                    let i = self.pos(&v);
                    let t = self.token();
                    v.splice(i..i, t.iter().copied());
                }
                6 => {
                    let t = self.token();
                    match self.number(&v) {
                        Some((a, b)) => {
                            v.splice(a..b, t.iter().copied());
                        }
                        None => {
                            let i = self.pos(&v);
                            v.splice(i..i, t.iter().copied());
                        }
                    }
                }
                7 if !others.is_empty() => {
                    let o = &others[self.rng.random_range(0..others.len())];
                    if !o.is_empty() {
                        let a = self.rng.random_range(0..o.len());
                        let b = self.rng.random_range(a..=o.len().min(a + 256));
                        let i = self.pos(&v);
                        v.splice(i..i, o[a..b].iter().copied());
                    }
                }
                8 => {
                    let n = self.rng.random_range(0..=len);
                    v.truncate(n);
                }
                9 if len > 0 => {
                    let i = self.rng.random_range(0..len);
                    v[i] = BYTES[self.rng.random_range(0..BYTES.len())];
                }
                10 if len > 1 => {
                    let (i, j) = (self.rng.random_range(0..len), self.rng.random_range(0..len));
                    v.swap(i, j);
                }
                _ => {}
            }
            v.truncate(MAX_INPUT);
        }
        v
    }
}

/// The JSON pointer of every node of `v` (the root is `""`).
fn json_paths(v: &serde_json::Value, at: String, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                json_paths(x, format!("{at}/{i}"), out);
            }
        }
        serde_json::Value::Object(o) => {
            for (k, x) in o {
                let k = k.replace('~', "~0").replace('/', "~1");
                json_paths(x, format!("{at}/{k}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// FNV-1a, to give every reader its own stream of seeds.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn hex_excerpt(input: &[u8]) -> String {
    let shown: String = input.iter().take(512).map(|b| format!("{b:02x}")).collect();
    let more = if input.len() > 512 { "…" } else { "" };
    format!(
        "{} bytes: {shown}{more} (as text: {:?})",
        input.len(),
        String::from_utf8_lossy(&input[..input.len().min(200)])
    )
}

/// Ends the process if a case runs past twice the limit: a hang would
/// otherwise stall the suite, and an unwinding panic cannot end it.
struct Watchdog {
    current: Arc<Mutex<Option<(Instant, u64)>>>,
    done: Arc<AtomicBool>,
}

impl Watchdog {
    fn start(name: &'static str) -> Self {
        let current = Arc::new(Mutex::new(None::<(Instant, u64)>));
        let done = Arc::new(AtomicBool::new(false));
        let (c, d) = (current.clone(), done.clone());
        std::thread::spawn(move || {
            while !d.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                let case = *c.lock().unwrap_or_else(|e| e.into_inner());
                if let Some((start, seed)) = case
                    && start.elapsed() > 2 * CASE_LIMIT
                {
                    eprintln!(
                        "fuzz {name}: case {seed} hangs (over {:?}); replay with ATTEND_FUZZ_REPLAY={seed}",
                        2 * CASE_LIMIT
                    );
                    std::process::exit(3);
                }
            }
        });
        Watchdog { current, done }
    }

    fn begin(&self, seed: u64) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), seed));
    }

    fn end(&self) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
    }
}

/// What a reader made of a mutant.
enum Outcome {
    Accepted,
    Rejected,
}

fn outcome<T, E>(r: Result<T, E>) -> Outcome {
    match r {
        Ok(_) => Outcome::Accepted,
        Err(_) => Outcome::Rejected,
    }
}

/// Runs `cases()` mutants of `seeds` through `run`; fails on any panic or
/// slow case, naming its seed and input.
fn fuzz(name: &'static str, seeds: &[Vec<u8>], run: impl FnMut(&[u8]) -> Outcome) {
    fuzz_with(name, seeds, false, run)
}

/// [`fuzz`]; with `json`, every other mutant is made by [`Mutator::mutate_json`].
fn fuzz_with(
    name: &'static str,
    seeds: &[Vec<u8>],
    json: bool,
    mut run: impl FnMut(&[u8]) -> Outcome,
) {
    assert!(!seeds.is_empty(), "{name}: no seeds");
    let replay: Option<u64> = std::env::var("ATTEND_FUZZ_REPLAY")
        .ok()
        .and_then(|v| v.parse().ok());
    let base = std::env::var("ATTEND_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_u64)
        .wrapping_add(name_hash(name));
    let case_seeds: Vec<u64> = match replay {
        Some(s) => vec![s],
        None => (0..cases() as u64).map(|i| base.wrapping_add(i)).collect(),
    };
    let trace = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz-{name}.case"));
    // Rewritten in place every case (fixed width, no truncation): opening
    // and truncating a file per case cost more than most cases.
    let trace_file = std::fs::File::create(&trace).ok();
    let dog = Watchdog::start(name);
    let (mut accepted, mut rejected) = (0usize, 0usize);
    let mut failures = Vec::new();
    let started = Instant::now();
    for &seed in &case_seeds {
        let mut m = Mutator::new(seed);
        let seed_input = &seeds[(seed % seeds.len() as u64) as usize];
        let structural = json && seed % 2 == 0;
        let input = match structural.then(|| m.mutate_json(seed_input)).flatten() {
            Some(mutant) => mutant,
            None => m.mutate(seed_input, seeds),
        };
        if let Some(f) = &trace_file {
            use std::os::unix::fs::FileExt;
            let _ = f.write_all_at(format!("{seed:>20}\n").as_bytes(), 0);
        }
        dog.begin(seed);
        let t = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| run(&input)));
        let took = t.elapsed();
        dog.end();
        match result {
            Ok(Outcome::Accepted) => accepted += 1,
            Ok(Outcome::Rejected) => rejected += 1,
            Err(_) => failures.push(format!("case {seed}: panic on {}", hex_excerpt(&input))),
        }
        if took > CASE_LIMIT {
            failures.push(format!(
                "case {seed}: took {took:?} on {}",
                hex_excerpt(&input)
            ));
        }
        if failures.len() >= 5 {
            break;
        }
    }
    let _ = std::fs::remove_file(&trace);
    eprintln!(
        "fuzz {name}: {} cases in {:.1?}: {accepted} accepted, {rejected} rejected with an error, {} failed",
        accepted + rejected + failures.len(),
        started.elapsed(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "fuzz {name} (replay with ATTEND_FUZZ_REPLAY=<case>):\n{}",
        failures.join("\n")
    );
}

/// The first `n` lines of a shared dataset (gzip or not).
fn dataset_head(name: &str, n: usize) -> Vec<u8> {
    let mut text = String::new();
    let mut r = open(&data_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut buf = Vec::new();
    for _ in 0..n {
        buf.clear();
        if std::io::BufRead::read_until(&mut r, b'\n', &mut buf).unwrap() == 0 {
            break;
        }
        text.push_str(&String::from_utf8_lossy(&buf));
    }
    text.into_bytes()
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn pairs_tsv() {
    let seeds = vec![
        b"Go.\tVa !\nHi.\tSalut !\tCC-BY\r\n\nRun!\tCours\xc2\xa0!\n".to_vec(),
        dataset_head("eng-fra.txt.gz", 40),
    ];
    fuzz("pairs_tsv", &seeds, |input| {
        outcome(pair_reader(input).collect::<attend::Result<Vec<_>>>())
    });
}

/// A parallel corpus as two files: the input's first part is the source
/// file, the rest (after the first NUL, or its second half) the target.
#[test]
fn parallel_files() {
    let mut seed = dataset_head("multi30k/val.de.gz", 20);
    seed.push(0);
    seed.extend(dataset_head("multi30k/val.en.gz", 20));
    let seeds = vec![seed, b"eins\r\nzwei\x00one\ntwo\nthree\n".to_vec()];
    let tmp = tempfile::tempdir().unwrap();
    let (src, tgt) = (tmp.path().join("src"), tmp.path().join("tgt"));
    fuzz("parallel_files", &seeds, |input| {
        let cut = input
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(input.len() / 2);
        let rest = input.get(cut + 1..).unwrap_or_default();
        std::fs::write(&src, &input[..cut]).unwrap();
        std::fs::write(&tgt, rest).unwrap();
        outcome(attend::data::read_parallel(&src, &tgt))
    });
}

fn labelled_run(input: &[u8], formats: &[LabelledFormat]) -> Outcome {
    let mut any_ok = false;
    for fmt in formats {
        for bad in [BadRows::Error, BadRows::Skip] {
            let read = labelled_reader(input, fmt).and_then(|r| {
                let mut r = r.bad_rows(bad);
                let rows = r.by_ref().collect::<attend::Result<Vec<_>>>()?;
                Ok((rows, r.skipped().len()))
            });
            any_ok |= read.is_ok();
        }
    }
    if any_ok {
        Outcome::Accepted
    } else {
        Outcome::Rejected
    }
}

#[test]
fn labelled_csv() {
    let seeds = vec![
        b"label,text\npos,\"a \"\"quoted\"\" text, with a comma\"\nneg,\"two\nlines\"\npos,plain\n"
            .to_vec(),
        dataset_head("ag_news_test.csv.gz", 30),
        dataset_head("names_train.csv.gz", 30),
    ];
    let formats = [
        LabelledFormat {
            delimiter: Delimiter::Csv,
            header: true,
            text: vec![Column::Name("text".into())],
            label: Column::Name("label".into()),
        },
        LabelledFormat {
            delimiter: Delimiter::Csv,
            header: false,
            text: vec![Column::Index(1), Column::Index(2)],
            label: Column::Index(0),
        },
    ];
    fuzz("labelled_csv", &seeds, |input| {
        labelled_run(input, &formats)
    });
}

#[test]
fn labelled_tsv() {
    let seeds = vec![
        b"split\tlabel\ttext\ntrain\tpos\tA \"great\" film\ntest\tneg\tdull\n".to_vec(),
        dataset_head("names.tsv.gz", 40),
        // IMDB reviews are long: a few rows.
        dataset_head("imdb.tsv.gz", 4),
    ];
    let formats = [
        LabelledFormat {
            delimiter: Delimiter::Tsv,
            header: true,
            text: vec![Column::Index(0)],
            label: Column::Index(1),
        },
        LabelledFormat {
            delimiter: Delimiter::Tsv,
            header: true,
            text: vec![Column::Name("text".into())],
            label: Column::Name("label".into()),
        },
    ];
    fuzz("labelled_tsv", &seeds, |input| {
        labelled_run(input, &formats)
    });
}

#[test]
fn corpus() {
    let mut text8 = vec![0u8; 4000];
    open(&data_dir().join("text8-wiki2015.gz"))
        .unwrap()
        .read_exact(&mut text8)
        .unwrap();
    let seeds = vec![
        text8,
        b"one line\nand \t another\r\n\x0bvt\x0cff\n".to_vec(),
        "d\u{e9}j\u{e0} vu\n".as_bytes().to_vec(),
    ];
    fuzz("corpus", &seeds, |input| {
        let mut r = CorpusReader::new(input);
        let mut words = 0usize;
        loop {
            match r.next_word() {
                Ok(Some(_)) => words += 1,
                Ok(None) => {
                    return if words > 0 {
                        Outcome::Accepted
                    } else {
                        Outcome::Rejected
                    };
                }
                Err(_) => return Outcome::Rejected,
            }
        }
    });
}

#[test]
fn vocab_json() {
    let mut seeds = Vec::new();
    for text in ["le chat le chien <unk>", "a b c d e f g a a b"] {
        let v = Vocab::build(text.split(' '), &VocabConfig::default()).unwrap();
        let mut buf = Vec::new();
        v.write_json(&mut buf).unwrap();
        seeds.push(buf);
    }
    fuzz("vocab_json", &seeds, |input| {
        outcome(Vocab::read_json(input))
    });
}

#[test]
fn vector_files() {
    let words: Vec<String> = ["the", "é", "x1", "of"].map(String::from).to_vec();
    let data: Vec<f32> = (0..12).map(|i| (i as f32 - 5.5) / 3.0).collect();
    let emb = vectors::Embeddings::new(words, 3, data).unwrap();
    let mut seeds = Vec::new();
    for f in [
        VectorFormat::Text,
        VectorFormat::Binary,
        VectorFormat::Glove,
    ] {
        let mut buf = Vec::new();
        vectors::write(&emb, &mut buf, f).unwrap();
        seeds.push(buf);
    }
    fuzz("vector_files", &seeds, |input| {
        let mut any_ok = false;
        let detected = VectorFormat::detect(input);
        for f in [
            detected,
            VectorFormat::Text,
            VectorFormat::Binary,
            VectorFormat::Glove,
        ] {
            if let Ok((v, report)) = vectors::read_report(input, f) {
                // What is accepted holds only finite numbers and no repeated word.
                assert!(
                    v.data().iter().all(|x| x.is_finite()),
                    "{f:?}: non-finite accepted"
                );
                let distinct: std::collections::HashSet<&String> = v.words().iter().collect();
                assert_eq!(distinct.len(), v.len(), "{f:?}: duplicates kept");
                let _ = report.warning(Path::new("v"));
                any_ok = true;
            }
        }
        if any_ok {
            Outcome::Accepted
        } else {
            Outcome::Rejected
        }
    });
}

/// A `[rows, cols]` f32 tensor of small distinct values.
fn tensor(rows: usize, cols: usize) -> Tensor {
    let n = rows * cols;
    let v: Vec<f32> = (0..n).map(|i| ((i % 17) as f32 - 8.0) / 16.0).collect();
    Tensor::from_vec(v, (rows, cols), &Device::Cpu).unwrap()
}

/// Work files for one test, removed at its end.
fn workdir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

#[test]
fn safetensors_header() {
    let tmp = workdir();
    let mut seeds = Vec::new();
    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    tensors.insert("encoder.w".into(), tensor(3, 4));
    tensors.insert("b".into(), tensor(1, 5).squeeze(0).unwrap());
    tensors.insert("h".into(), tensor(2, 2).to_dtype(DType::F16).unwrap());
    tensors.insert("i".into(), tensor(2, 3).to_dtype(DType::I64).unwrap());
    let path = tmp.path().join("seed.safetensors");
    candle_core::safetensors::save(&tensors, &path).unwrap();
    seeds.push(std::fs::read(&path).unwrap());
    let mut one = HashMap::new();
    one.insert("w".to_string(), tensor(2, 2));
    candle_core::safetensors::save(&one, &path).unwrap();
    seeds.push(std::fs::read(&path).unwrap());
    let case = tmp.path().join("case.safetensors");
    fuzz("safetensors_header", &seeds, |input| {
        std::fs::write(&case, input).unwrap();
        outcome(attend::train::read_tensors(&case, &Device::Cpu))
    });
}

/// A tutorial model with 4 source words, 3 target words, hidden size 4 and
/// `max_length` 5: its weights and vocabulary files.
fn tiny_tutorial(dir: &Path) -> (PathBuf, Vec<u8>) {
    let h = 4;
    let (n_in, n_out, max_len) = (6, 5, 5);
    let mut t: HashMap<String, Tensor> = HashMap::new();
    let mut add = |name: &str, rows: usize, cols: usize| {
        let x = tensor(rows, cols);
        let x = if rows == 1 { x.squeeze(0).unwrap() } else { x };
        t.insert(name.to_string(), x);
    };
    add("encoder.embedding.weight", n_in, h);
    add("decoder.embedding.weight", n_out, h);
    for side in ["encoder", "decoder"] {
        add(&format!("{side}.gru.weight_ih_l0"), 3 * h, h);
        add(&format!("{side}.gru.weight_hh_l0"), 3 * h, h);
        add(&format!("{side}.gru.bias_ih_l0"), 1, 3 * h);
        add(&format!("{side}.gru.bias_hh_l0"), 1, 3 * h);
    }
    add("decoder.attn.weight", max_len, 2 * h);
    add("decoder.attn.bias", 1, max_len);
    add("decoder.attn_combine.weight", h, 2 * h);
    add("decoder.attn_combine.bias", 1, h);
    add("decoder.out.weight", n_out, h);
    add("decoder.out.bias", 1, n_out);
    let weights = dir.join("tutorial.safetensors");
    candle_core::safetensors::save(&t, &weights).unwrap();
    let vocab = serde_json::json!({
        "input_lang": ["SOS", "EOS", "je", "suis", "content", "."],
        "output_lang": ["SOS", "EOS", "i", "am", "happy"],
        "hidden_size": h,
        "max_length": max_len,
        "sos": 0,
        "eos": 1,
    });
    (weights, serde_json::to_vec_pretty(&vocab).unwrap())
}

#[test]
fn tutorial_import_json() {
    let tmp = workdir();
    let (weights, vocab) = tiny_tutorial(tmp.path());
    let case = tmp.path().join("tutorial_vocab.json");
    std::fs::write(&case, &vocab).unwrap();
    // The seed itself imports, so mutants start from something that works.
    attend::seq2seq::import_tutorial(&weights, &case).unwrap();
    let seeds = vec![vocab];
    fuzz_with("tutorial_import_json", &seeds, true, |input| {
        std::fs::write(&case, input).unwrap();
        outcome(attend::seq2seq::import_tutorial(&weights, &case))
    });
}

/// Tiny training data for each model kind, and the directory of a model
/// trained on it through the binary (well under a second each).
fn train_tiny(dir: &Path, kind: &str) -> PathBuf {
    let model = dir.join(format!("{kind}-model"));
    let m = s(&model);
    let run = match kind {
        "translate" => {
            let mut pairs = String::new();
            for i in 0..60 {
                let w = ["a b", "b c", "c d a"][i % 3];
                pairs.push_str(&format!("{w}\t{}\n", w.to_uppercase()));
            }
            let data = dir.join("pairs.tsv");
            std::fs::write(&data, pairs).unwrap();
            cli::train_tiny("translate", &s(&data), &m, &[])
        }
        "classify" => {
            let mut rows = String::from("label,text\n");
            for i in 0..60 {
                let (l, w) = [("pos", "good fun"), ("neg", "bad dull")][i % 2];
                rows.push_str(&format!("{l},row {i} {w}\n"));
            }
            let data = dir.join("rows.csv");
            std::fs::write(&data, rows).unwrap();
            cli::train_tiny(
                "classify",
                &s(&data),
                &m,
                &["--text-col", "text", "--label-col", "label"],
            )
        }
        "lm" => {
            let data = dir.join("corpus.txt");
            let mut text = vec![0u8; 60_000];
            open(&data_dir().join("text8-wiki2015.gz"))
                .unwrap()
                .read_exact(&mut text)
                .unwrap();
            std::fs::write(&data, text).unwrap();
            attend(&[
                "--threads",
                "1",
                "lm",
                "train",
                "--data",
                &s(&data),
                "--holdout-chars",
                "5000",
                "--embed",
                "8",
                "--hidden",
                "8",
                "--epochs",
                "1",
                "--bptt",
                "10",
                "--batch-size",
                "8",
                "--out",
                &m,
            ])
        }
        other => panic!("no model kind {other}"),
    };
    ok(&run);
    model
}

/// Mutants of a trained model's `config.json`, loaded by `load`.
fn fuzz_config(name: &'static str, kind: &str, load: impl Fn(&Path) -> bool) {
    let tmp = workdir();
    let model = train_tiny(tmp.path(), kind);
    let config = model.join("config.json");
    let seed = std::fs::read(&config).unwrap();
    assert!(load(&model), "{name}: the trained model does not load");
    // Also a compact form, so mutations meet other spacing.
    let compact =
        serde_json::to_vec(&serde_json::from_slice::<serde_json::Value>(&seed).unwrap()).unwrap();
    fuzz_with(name, &[seed, compact], true, |input| {
        std::fs::write(&config, input).unwrap();
        if load(&model) {
            Outcome::Accepted
        } else {
            Outcome::Rejected
        }
    });
}

#[test]
fn config_json_translate() {
    fuzz_config("config_json_translate", "translate", |dir| {
        attend::seq2seq::Translator::load(dir).is_ok()
    });
}

#[test]
fn config_json_classify() {
    fuzz_config("config_json_classify", "classify", |dir| {
        attend::classify::Predictor::load(dir).is_ok()
    });
}

#[test]
fn config_json_lm() {
    fuzz_config("config_json_lm", "lm", |dir| {
        attend::lm::Generator::load(dir).is_ok()
    });
}

/// Runs the binary with a time limit; `None` if it had to be killed.
fn run_limited(args: &[String]) -> Option<std::process::ExitStatus> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_attend"))
        .args(args)
        .env("ATTEND_DATA_DIR", data_dir())
        .env("ATTEND_OFFLINE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("running the attend binary");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if start.elapsed() > CASE_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A command of the binary fuzz: its name, the seed files, its arguments
/// (the mutant is written to the file they name).
type CliCase<'a> = (&'a str, Vec<Vec<u8>>, Vec<String>);

/// The binary on mutated input files: every run exits 0 or 2 (never 101,
/// a panic; never an abort or another signal) within the time limit.
#[test]
fn binary_exits_0_or_2_on_mutated_files() {
    let tmp = workdir();
    let translate = train_tiny(tmp.path(), "translate");
    let classify = train_tiny(tmp.path(), "classify");
    let pairs = std::fs::read(tmp.path().join("pairs.tsv")).unwrap();
    let rows = std::fs::read(tmp.path().join("rows.csv")).unwrap();
    let mut vecs = Vec::new();
    let emb = vectors::Embeddings::new(
        ["a", "b", "c"].map(String::from).to_vec(),
        2,
        vec![1.0, 0.5, 0.25, -1.0, 2.0, 3.0],
    )
    .unwrap();
    vectors::write(&emb, &mut vecs, VectorFormat::Text).unwrap();
    let mut bin = Vec::new();
    vectors::write(&emb, &mut bin, VectorFormat::Binary).unwrap();
    let per_command = env_usize("ATTEND_FUZZ_CLI_CASES", 6);
    let file = tmp.path().join("case");
    let f = s(&file);
    let commands: Vec<CliCase> = vec![
        (
            "data stats",
            vec![pairs.clone(), rows.clone()],
            ["data", "stats", "--data", &f, "--format", "pairs"]
                .map(String::from)
                .to_vec(),
        ),
        (
            "classify eval",
            vec![rows.clone()],
            [
                "classify",
                "eval",
                "--model",
                &s(&classify),
                "--data",
                &f,
                "--text-col",
                "text",
                "--label-col",
                "label",
            ]
            .map(String::from)
            .to_vec(),
        ),
        (
            "translate eval",
            vec![pairs.clone()],
            [
                "translate",
                "eval",
                "--model",
                &s(&translate),
                "--data",
                &f,
                "--greedy",
            ]
            .map(String::from)
            .to_vec(),
        ),
        (
            "embed similar",
            vec![vecs, bin],
            ["embed", "similar", "--vectors", &f, "a"]
                .map(String::from)
                .to_vec(),
        ),
    ];
    let base = env_usize("ATTEND_FUZZ_SEED", 0x5eed) as u64;
    let mut failures = Vec::new();
    let mut runs = 0;
    let mut codes: HashMap<Option<i32>, usize> = HashMap::new();
    for (name, seeds, args) in &commands {
        for i in 0..per_command as u64 {
            let seed = base.wrapping_add(name_hash(name)).wrapping_add(i);
            let input = Mutator::new(seed).mutate(&seeds[(i as usize) % seeds.len()], seeds);
            let mut w = std::fs::File::create(&file).unwrap();
            w.write_all(&input).unwrap();
            drop(w);
            runs += 1;
            let status = run_limited(args);
            let code = status.and_then(|s| s.code());
            *codes.entry(code).or_default() += 1;
            if !matches!(code, Some(0 | 2)) {
                failures.push(format!(
                    "`attend {name}` case {seed}: {status:?} on {}",
                    hex_excerpt(&input)
                ));
            }
        }
    }
    eprintln!("fuzz binary: {runs} runs, exit codes {codes:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
