//! `GET /openapi.json`: the OpenAPI 3.1 description, made by `utoipa` from
//! the handlers and the request and answer types themselves.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;

use super::routes;
use super::{answers, api};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "attend",
        description = "Translation with attention, classification, generation and word vectors over HTTP."
    ),
    paths(
        routes::models,
        routes::translate,
        routes::classify,
        routes::generate,
        routes::similar,
        routes::analogy
    ),
    components(schemas(
        api::TranslateRequest,
        answers::TranslateResponse,
        answers::TranslationResult,
        answers::Hypothesis,
        api::ClassifyRequest,
        answers::ClassifyResponse,
        answers::Classification,
        answers::ClassProbability,
        api::GenerateRequest,
        answers::GenerateResponse,
        answers::GeneratedText,
        api::SimilarRequest,
        api::AnalogyRequest,
        answers::NeighboursResponse,
        answers::Neighbour,
        answers::ModelsResponse,
        answers::ModelInfo
    ))
)]
struct Doc;

/// The description as JSON text.
pub fn json() -> String {
    Doc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

pub(super) async fn document() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], json()).into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_description_lists_every_endpoint_and_request_field() {
        let doc: serde_json::Value = serde_json::from_str(&super::json()).unwrap();
        for path in [
            "/v1/models",
            "/v1/translate",
            "/v1/classify",
            "/v1/generate",
            "/v1/similar",
            "/v1/analogy",
        ] {
            assert!(doc["paths"][path].is_object(), "{path} missing");
        }
        let fields = &doc["components"]["schemas"]["TranslateRequest"]["properties"];
        for f in [
            "model",
            "text",
            "texts",
            "beam",
            "n_best",
            "greedy",
            "sample",
            "attention",
        ] {
            assert!(fields[f].is_object(), "TranslateRequest.{f} missing");
        }
    }
}
