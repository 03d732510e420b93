//! The endpoints: each reads its JSON body (bounded, every field checked),
//! picks its model, queues the work and answers JSON.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use tower_http::catch_panic::CatchPanicLayer;

use super::answers::{
    ClassifyResponse, GenerateResponse, ModelsResponse, NeighboursResponse, TranslateResponse,
};
use super::api::{
    AnalogyRequest, ClassifyRequest, GenerateRequest, SimilarRequest, TranslateRequest, texts,
};
use super::batcher::Queue;
use super::engines::{TranslateJob, VectorQuery, VectorsEngine};
use super::error::ApiError;
use super::limits::Limits;
use super::metrics::Metrics;
use super::models::{ModelKind, Models, Served};
use super::{openapi, page};
use crate::data::vectors::AnalogyMethod;
use crate::lm::GenerateConfig;
use crate::seq2seq::DecodeConfig;
use crate::train::DEFAULT_SEED;

/// What every handler shares.
pub struct AppState {
    /// The served models.
    pub models: Models,
    /// The request bounds.
    pub limits: Limits,
    /// The counters behind `/metrics`.
    pub metrics: Arc<Metrics>,
}

type Shared = State<Arc<AppState>>;

/// The whole API and the page, with request accounting and panics turned
/// into 500 answers.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(page::index))
        .route("/app.js", get(page::script))
        .route("/style.css", get(page::style))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi::document))
        .route("/v1/models", get(models))
        .route("/v1/translate", post(translate))
        .route("/v1/classify", post(classify))
        .route("/v1/generate", post(generate))
        .route("/v1/similar", post(similar))
        .route("/v1/analogy", post(analogy))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), account))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal("the server failed on this request").into_response()
        }))
        .with_state(state)
}

async fn account(State(s): Shared, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let endpoint = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_string(), |p| p.as_str().to_string());
    let response = next.run(req).await;
    s.metrics.answered(
        &endpoint,
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such endpoint: see /openapi.json for the API",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed on this endpoint: see /openapi.json",
    )
}

/// Reads a JSON body of at most `limits.max_body_bytes` into `T`, naming
/// the field at fault when it does not fit.
async fn read<T: DeserializeOwned>(body: Body, limits: &Limits) -> Result<T, ApiError> {
    // A client that sends its body slowly is cut off at the timeout too.
    let bytes = tokio::time::timeout(
        limits.timeout,
        axum::body::to_bytes(body, limits.max_body_bytes),
    )
    .await
    .map_err(|_| {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive within {:.1} s",
                limits.timeout.as_secs_f64()
            ),
        )
    })?
    .map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the request body is over {} bytes (or was cut off)",
                limits.max_body_bytes
            ),
        )
    })?;
    parse(&bytes)
}

/// Parses a JSON body; a wrong type or an unknown field names its path
/// (`texts[2]`, `beam`), bad JSON is a 400.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(de).map_err(|e| {
        let inner = e.inner();
        let message = inner.to_string();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::bad_request(format!("the body is not valid JSON: {message}"));
        }
        let path = e.path().to_string();
        let field = if path == "." {
            // serde names an unknown or missing field in its message only.
            message
                .split('`')
                .nth(1)
                .map_or_else(|| "body".to_string(), str::to_string)
        } else {
            path
        };
        ApiError::field(field, message)
    })?;
    Ok(value)
}

async fn health(State(s): Shared) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok", "models": s.models.infos().len() }))
}

async fn metrics(State(s): Shared) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.render(),
    )
        .into_response()
}

/// Lists the served models.
#[utoipa::path(get, path = "/v1/models", responses((status = 200, body = ModelsResponse)))]
pub async fn models(State(s): Shared) -> Json<ModelsResponse> {
    Json(ModelsResponse {
        models: s.models.infos().to_vec(),
    })
}

/// Translates one text or several.
#[utoipa::path(post, path = "/v1/translate", request_body = TranslateRequest,
    responses((status = 200, body = TranslateResponse), (status = 422, description = "a field cannot be used"),
              (status = 503, description = "busy: retry after the Retry-After seconds")))]
pub async fn translate(State(s): Shared, body: Body) -> Result<Json<TranslateResponse>, ApiError> {
    let mut req: TranslateRequest = read(body, &s.limits).await?;
    let (name, (queue, saved)) =
        s.models
            .get(req.model.as_deref(), ModelKind::Translator, |m| match m {
                Served::Translator(q, saved) => Some((q, saved)),
                _ => None,
            })?;
    let texts = texts(req.text.take(), req.texts.take(), &s.limits)?;
    let search = req.overrides()?.apply(saved.search, DEFAULT_SEED);
    search.validate().map_err(search_error)?;
    let decode = DecodeConfig { search, ..*saved };
    let job = TranslateJob {
        texts,
        decode,
        attention: req.attention.unwrap_or(true),
    };
    let translations = queue.call(job).await?;
    Ok(Json(TranslateResponse {
        model: name.to_string(),
        translations,
    }))
}

/// A search knob's error, named by the field it came from.
fn search_error(e: crate::Error) -> ApiError {
    let message = e.to_string();
    let field = [
        ("n_best", "n_best"),
        ("beam size", "beam"),
        ("alpha", "alpha"),
        ("temperature", "temperature"),
        ("top_k", "top_k"),
        ("top_p", "top_p"),
    ]
    .into_iter()
    .find(|(needle, _)| message.contains(needle))
    .map_or("body", |(_, f)| f);
    ApiError::field(field, message)
}

/// Classifies one text or several.
#[utoipa::path(post, path = "/v1/classify", request_body = ClassifyRequest,
    responses((status = 200, body = ClassifyResponse), (status = 422, description = "a field cannot be used"),
              (status = 503, description = "busy: retry after the Retry-After seconds")))]
pub async fn classify(State(s): Shared, body: Body) -> Result<Json<ClassifyResponse>, ApiError> {
    let mut req: ClassifyRequest = read(body, &s.limits).await?;
    let (name, queue) = s
        .models
        .get(req.model.as_deref(), ModelKind::Classifier, |m| match m {
            Served::Classifier(q) => Some(q),
            _ => None,
        })?;
    let texts = texts(req.text.take(), req.texts.take(), &s.limits)?;
    let predictions = queue.call(texts).await?;
    Ok(Json(ClassifyResponse {
        model: name.to_string(),
        predictions,
    }))
}

/// Generates text with a language model.
#[utoipa::path(post, path = "/v1/generate", request_body = GenerateRequest,
    responses((status = 200, body = GenerateResponse), (status = 422, description = "a field cannot be used"),
              (status = 503, description = "busy: retry after the Retry-After seconds")))]
pub async fn generate(State(s): Shared, body: Body) -> Result<Json<GenerateResponse>, ApiError> {
    let req: GenerateRequest = read(body, &s.limits).await?;
    let (name, (queue, saved, default_length)) = s.models.get(
        req.model.as_deref(),
        ModelKind::LanguageModel,
        |m| match m {
            Served::LanguageModel(q, saved, length) => Some((q, saved, *length)),
            _ => None,
        },
    )?;
    let l = &s.limits;
    let count = bounded("count", req.count.unwrap_or(1), l.max_n.min(l.max_texts))?;
    let length = bounded("length", req.length.unwrap_or(default_length), l.max_length)?;
    let prime = req.prime.clone().unwrap_or_default();
    if prime.chars().count() > l.max_text_chars {
        return Err(ApiError::field(
            "prime",
            format!("expected at most {} characters", l.max_text_chars),
        ));
    }
    let search = saved.search_for(&req.overrides()?, count, DEFAULT_SEED);
    search.validate().map_err(search_error)?;
    let cfg = GenerateConfig {
        prime,
        condition: req.condition.clone(),
        search,
        length,
        count,
    };
    let texts = queue.call(cfg).await?;
    Ok(Json(GenerateResponse {
        model: name.to_string(),
        texts,
    }))
}

fn vectors(m: &Served) -> Option<&Queue<VectorsEngine>> {
    match m {
        Served::Vectors(q) => Some(q),
        _ => None,
    }
}

fn bounded(field: &str, n: usize, max: usize) -> Result<usize, ApiError> {
    if n == 0 || n > max {
        return Err(ApiError::field(
            field,
            format!("expected 1 to {max}, got {n}"),
        ));
    }
    Ok(n)
}

/// The nearest words to a word, or to `positive − negative`.
#[utoipa::path(post, path = "/v1/similar", request_body = SimilarRequest,
    responses((status = 200, body = NeighboursResponse), (status = 422, description = "a field cannot be used")))]
pub async fn similar(State(s): Shared, body: Body) -> Result<Json<NeighboursResponse>, ApiError> {
    let req: SimilarRequest = read(body, &s.limits).await?;
    let (name, queue) = s
        .models
        .get(req.model.as_deref(), ModelKind::Vectors, vectors)?;
    let n = bounded("n", req.n.unwrap_or(10), s.limits.max_n)?;
    let named = |field: &str, words: Option<Vec<String>>| -> Vec<(String, String)> {
        let words = words.unwrap_or_default();
        words
            .into_iter()
            .enumerate()
            .map(|(i, w)| (format!("{field}[{i}]"), w))
            .collect()
    };
    let mut positive = named("positive", req.positive);
    if let Some(w) = req.word {
        positive.insert(0, ("word".to_string(), w));
    }
    let negative = named("negative", req.negative);
    if positive.is_empty() && negative.is_empty() {
        return Err(ApiError::field(
            "word",
            "expected `word` or `positive` words",
        ));
    }
    if positive.len() + negative.len() > s.limits.max_texts {
        return Err(ApiError::field(
            "positive",
            format!("expected at most {} words", s.limits.max_texts),
        ));
    }
    let neighbours = queue
        .call(VectorQuery::Similar {
            positive,
            negative,
            n,
        })
        .await?;
    Ok(Json(NeighboursResponse {
        model: name.to_string(),
        neighbours,
    }))
}

/// `a : b :: c : ?`.
#[utoipa::path(post, path = "/v1/analogy", request_body = AnalogyRequest,
    responses((status = 200, body = NeighboursResponse), (status = 422, description = "a field cannot be used")))]
pub async fn analogy(State(s): Shared, body: Body) -> Result<Json<NeighboursResponse>, ApiError> {
    let req: AnalogyRequest = read(body, &s.limits).await?;
    let (name, queue) = s
        .models
        .get(req.model.as_deref(), ModelKind::Vectors, vectors)?;
    let n = bounded("n", req.n.unwrap_or(10), s.limits.max_n)?;
    let method = match req.method.as_deref() {
        None | Some("cosadd") => AnalogyMethod::CosAdd,
        Some("cosmul") => AnalogyMethod::CosMul,
        Some(_) => {
            return Err(ApiError::field("method", "expected `cosadd` or `cosmul`"));
        }
    };
    let neighbours = queue
        .call(VectorQuery::Analogy {
            words: [req.a, req.b, req.c],
            method,
            n,
        })
        .await?;
    Ok(Json(NeighboursResponse {
        model: name.to_string(),
        neighbours,
    }))
}
