//! `attend serve`: an HTTP API and a web page for trained models —
//! translation with attention matrices, classification with token weights,
//! generation, nearest words and analogies.
//!
//! Built on `axum` over `tokio` and `hyper` (the async stack most Rust web
//! services use; `tower-http` catches panics), never a hand-written HTTP
//! parser. Requests for one model wait in that model's bounded queue and are
//! computed in batches by its worker thread ([`Queue`]), so concurrent
//! clients share the fused batch kernels; the HTTP side only parses, checks
//! and waits. Every bound is in [`Limits`]; every error is JSON naming the
//! field at fault ([`ApiError`]). SIGTERM or Ctrl-C stop accepting
//! connections, let the requests in flight finish, and return.
//!
//! The server sits beside the command line, above the task modules: it
//! loads models through their own loaders (`Translator`, `Predictor`,
//! `Generator`, `data::vectors`) and decodes through their public calls.

mod answers;
mod api;
mod batcher;
mod engines;
mod error;
mod limits;
mod metrics;
mod models;
mod openapi;
mod page;
mod routes;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use answers::{
    ClassProbability, Classification, ClassifyResponse, GenerateResponse, GeneratedText,
    Hypothesis, ModelInfo, ModelsResponse, Neighbour, NeighboursResponse, TranslateResponse,
    TranslationResult,
};
pub use api::{AnalogyRequest, ClassifyRequest, GenerateRequest, SimilarRequest, TranslateRequest};
pub use batcher::{Engine, Queue};
pub use error::ApiError;
pub use limits::Limits;
pub use metrics::{Metrics, ModelMetrics};
pub use models::{ModelKind, Models};
pub use openapi::json as openapi_json;

use crate::{Error, Result};

/// What `attend serve` serves and where.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// `(name, path)` of every model: a model directory or a vector file.
    pub models: Vec<(String, PathBuf)>,
    /// Address to bind (loopback by default: opening the server to the
    /// network is the caller's explicit choice).
    pub host: String,
    /// Port (0: any free port, printed when bound).
    pub port: u16,
    /// Request and queue bounds.
    pub limits: Limits,
    /// Threads for the HTTP side (model work runs on the models' own threads).
    pub http_threads: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            models: Vec::new(),
            host: "127.0.0.1".into(),
            port: 8080,
            limits: Limits::default(),
            http_threads: 2,
        }
    }
}

/// Loads the models, binds, calls `on_listening` with the bound address and
/// serves until SIGTERM or Ctrl-C, then drains the requests in flight.
pub fn serve(cfg: &ServeConfig, on_listening: impl FnOnce(SocketAddr, &[ModelInfo])) -> Result<()> {
    cfg.limits.validate()?;
    let metrics = Arc::new(Metrics::default());
    let models = Models::load(&cfg.models, &cfg.limits, &metrics)?;
    let state = Arc::new(routes::AppState {
        models,
        limits: cfg.limits,
        metrics,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.http_threads.max(1))
        .thread_name("http")
        .enable_all()
        .build()
        .map_err(|e| Error::Config(format!("cannot start the HTTP runtime: {e}")))?;
    runtime.block_on(async {
        let addr = format!("{}:{}", cfg.host, cfg.port);
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|e| Error::Config(format!("cannot listen on {addr}: {e}")))?;
        let bound = listener
            .local_addr()
            .map_err(|e| Error::Config(format!("cannot read the bound address: {e}")))?;
        on_listening(bound, state.models.infos());
        axum::serve(listener, routes::router(Arc::clone(&state)))
            .with_graceful_shutdown(stop_requested())
            .await
            .map_err(|e| Error::Config(format!("the server stopped: {e}")))
    })
}

/// Resolves on SIGTERM (how service managers stop a server) or Ctrl-C.
async fn stop_requested() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
