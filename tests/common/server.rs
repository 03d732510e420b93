//! Starting `attend serve` on a free loopback port for the API and browser
//! tests, and talking to it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::data_dir;

/// A running server; killed when dropped.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The process.
    pub child: Child,
    /// What the server printed to standard error after it started listening.
    pub log: std::sync::Mutex<mpsc::Receiver<String>>,
}

impl Server {
    /// Starts `attend serve --model NAME=PATH … EXTRA… --port 0` and waits
    /// (at most a minute) for its "listening on" line.
    pub fn start(models: &[(&str, &Path)], extra: &[&str]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_attend"));
        cmd.args(["--threads", "2", "serve", "--port", "0"]);
        for (name, path) in models {
            cmd.arg("--model").arg(format!("{name}={}", path.display()));
        }
        cmd.args(extra)
            .env("ATTEND_DATA_DIR", data_dir())
            .env("ATTEND_OFFLINE", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("starting attend serve");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix("listening on ") {
                        return Server {
                            url: url.trim().to_string(),
                            child,
                            log: std::sync::Mutex::new(rx),
                        };
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("attend serve did not start: {}", seen.join("\n"));
                }
            }
        }
    }

    /// `POST path` with a raw body: (status, body text).
    pub fn post_raw(&self, path: &str, body: &[u8]) -> (u16, String) {
        let mut resp = agent()
            .post(&format!("{}{path}", self.url))
            .header("Content-Type", "application/json")
            .send(body)
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        (status, text)
    }

    /// `POST path` with a JSON body: (status, JSON answer).
    pub fn post(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let (status, text) = self.post_raw(path, body.to_string().as_bytes());
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("POST {path}: answer is not JSON ({e}): {text}"));
        (status, value)
    }

    /// `GET path`: (status, content type, body text).
    pub fn get(&self, path: &str) -> (u16, String, String) {
        let mut resp = agent()
            .get(&format!("{}{path}", self.url))
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = resp.status().as_u16();
        let kind = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        (status, kind, text)
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client that hands back 4xx and 5xx answers instead of failing.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

/// The tutorial's translation model (the PyTorch fixture) imported into `dir/tut`.
pub fn tutorial_model(dir: &Path) -> std::path::PathBuf {
    let fx = super::fixtures_dir().join("tutorial_seq2seq");
    let out = dir.join("tut");
    let run = super::cli::attend(&[
        "translate",
        "import-pytorch",
        "--weights",
        &fx.join("tutorial_model.safetensors").display().to_string(),
        "--vocab",
        &fx.join("tutorial_vocab.json").display().to_string(),
        "--out",
        &out.display().to_string(),
    ]);
    assert_eq!(run.code, Some(0), "import failed: {}", run.stderr);
    out
}

/// A character-level surname classifier with attention pooling, trained
/// for 2 epochs on the names data into `dir/names` (about a second).
pub fn names_model(dir: &Path) -> std::path::PathBuf {
    let out = dir.join("names");
    let run = super::cli::attend(&[
        "--threads",
        "2",
        "classify",
        "train",
        "--data",
        "names",
        "--epochs",
        "2",
        "--hidden",
        "32",
        "--pooling",
        "attention",
        "--out",
        &out.display().to_string(),
    ]);
    assert_eq!(run.code, Some(0), "training failed: {}", run.stderr);
    out
}
