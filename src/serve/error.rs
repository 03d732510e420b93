//! The API's errors: an HTTP status and a JSON body naming the field at
//! fault, `{"error": {"status": 422, "field": "beam", "message": "…"}}`, the
//! shape of the 4xx answers of OpenNMT's and most JSON APIs.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One failed request: what the client is told.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// The HTTP status (4xx for the client's mistakes, 503 when busy).
    pub status: StatusCode,
    /// The request field at fault (`texts[2]`, `beam`), if one is.
    pub field: Option<String>,
    /// One line saying what was expected.
    pub message: String,
    /// Seconds to wait before retrying (503 answers).
    pub retry_after: Option<u64>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    message: &'a str,
}

impl ApiError {
    /// An error with `status` about no field in particular.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            field: None,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 422: `field` has a value the API cannot use.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            field: Some(field.into()),
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
        }
    }

    /// 400: the body is not what the endpoint reads.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 503 with `Retry-After`: the server cannot take the request now.
    pub fn busy(message: impl Into<String>, retry_after: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
        }
    }

    /// 500: the server failed; the message is the library's.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// The JSON body alone.
    pub fn body(&self) -> String {
        serde_json::to_string(&Body {
            error: Detail {
                status: self.status.as_u16(),
                field: self.field.as_deref(),
                message: &self.message,
            },
        })
        .unwrap_or_else(|_| String::from("{\"error\":{}}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            self.body(),
        )
            .into_response();
        if let Some(s) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        response
    }
}

impl From<crate::Error> for ApiError {
    /// A library error on a request's input: the input cannot be used (422);
    /// what is not about the input is the server's failure (500).
    fn from(e: crate::Error) -> Self {
        match e {
            crate::Error::Config(_) | crate::Error::Vocab(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
            }
            other => ApiError::internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_names_the_field_and_status() {
        let e = ApiError::field("texts[1]", "expected a non-empty text");
        let v: serde_json::Value = serde_json::from_str(&e.body()).unwrap();
        assert_eq!(v["error"]["status"], 422);
        assert_eq!(v["error"]["field"], "texts[1]");
        assert_eq!(v["error"]["message"], "expected a non-empty text");
        let busy = ApiError::busy("queue full", 1).into_response();
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.headers()[header::RETRY_AFTER], "1");
    }
}
