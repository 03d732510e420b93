//! `attend serve`: the HTTP API and web page over trained models.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use attend::serve::{Limits, ServeConfig, serve};
use clap::Args;

/// `attend serve` flags.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A model to serve as NAME=PATH: a translation, classifier or language
    /// model directory, or a word-vector file (repeat for several).
    #[arg(long = "model", value_name = "NAME=PATH", required = true, value_parser = model_spec)]
    models: Vec<(String, PathBuf)>,
    /// Address to listen on (loopback by default; 0.0.0.0 opens the server
    /// to the network).
    #[arg(long, default_value_t = ServeConfig::default().host)]
    host: String,
    /// Port to listen on (0: any free port; the bound address is printed).
    #[arg(long, default_value_t = ServeConfig::default().port)]
    port: u16,
    /// Requests that may wait for one model; past it the server answers 503
    /// with Retry-After.
    #[arg(long, value_name = "N", default_value_t = Limits::default().queue)]
    queue: usize,
    /// Texts one model decodes together (requests waiting together are batched).
    #[arg(long, value_name = "N", default_value_t = Limits::default().batch_size)]
    batch_size: usize,
    /// Milliseconds a model under load waits for more requests to fill a batch.
    #[arg(long, value_name = "MS", default_value_t = default_batch_wait_ms())]
    batch_wait_ms: u64,
    /// Seconds a request may take, queue included (503 past it).
    #[arg(long, value_name = "S", default_value_t = Limits::default().timeout.as_secs_f64())]
    timeout: f64,
    /// Largest request body in bytes (413 past it).
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_body_bytes)]
    max_body_bytes: usize,
    /// Longest text in characters.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_text_chars)]
    max_text_chars: usize,
    /// Most texts in one request.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_texts)]
    max_texts: usize,
    /// Most tokens one generated text may have.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_length)]
    max_length: usize,
    /// Threads answering HTTP (the models compute on their own threads).
    #[arg(long, value_name = "N", default_value_t = ServeConfig::default().http_threads)]
    http_threads: usize,
}

fn default_batch_wait_ms() -> u64 {
    u64::try_from(Limits::default().batch_wait.as_millis()).unwrap_or(u64::MAX)
}

fn model_spec(s: &str) -> Result<(String, PathBuf), String> {
    match s.split_once('=') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => {
            Ok((name.to_string(), PathBuf::from(path)))
        }
        _ => Err(format!("expected NAME=PATH, got {s:?}")),
    }
}

/// Runs `attend serve` until SIGTERM or Ctrl-C.
pub fn run(a: ServeArgs) -> Result<ExitCode> {
    if !(a.timeout.is_finite() && a.timeout > 0.0 && a.timeout <= 86_400.0) {
        bail!(
            "--timeout {}: expected seconds between 0 and 86400",
            a.timeout
        );
    }
    let cfg = ServeConfig {
        models: a.models,
        host: a.host,
        port: a.port,
        limits: Limits {
            max_body_bytes: a.max_body_bytes,
            max_text_chars: a.max_text_chars,
            max_texts: a.max_texts,
            queue: a.queue,
            batch_size: a.batch_size,
            batch_wait: Duration::from_millis(a.batch_wait_ms),
            timeout: Duration::from_secs_f64(a.timeout),
            max_length: a.max_length,
            ..Limits::default()
        },
        http_threads: a.http_threads,
    };
    serve(&cfg, |addr, models| {
        for m in models {
            eprintln!("serving {} `{}` from {}", m.kind, m.name, m.path);
        }
        // Tests and scripts read the bound port from this line.
        eprintln!("listening on http://{addr}");
    })
    .context("attend serve")?;
    eprintln!("stopped: every request in flight was answered");
    Ok(ExitCode::SUCCESS)
}
