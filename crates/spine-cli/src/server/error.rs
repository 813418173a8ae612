//! The server's one error type and its JSON form, `{"error": "...", "status": N}`.
//!
//! Every failure a client can see goes through here, so the body is JSON for each of them (bad
//! parameters, unknown domains, unknown routes, wrong methods, database failures) and a client
//! needs one error decoder. Internal failures are logged in full on the server and answered
//! with a generic message: a database error can name the database URL or SQL, which are the
//! operator's business, not the caller's.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use spine_store::StoreError;

use spine_engine::PipelineError;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A parameter is missing, unknown or malformed: the message names it and what is accepted.
    #[error("{0}")]
    BadRequest(String),
    /// The domain (or route) does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The route exists but not for this method (the API is read-only: GET and HEAD only).
    #[error("{0}")]
    MethodNotAllowed(String),
    /// A pipeline step failed while answering (a database or stored-data problem).
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The store failed while answering.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ApiError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Pipeline(_) | ApiError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The JSON error body every non-2xx answer (except readiness/doctor verdicts) carries.
pub fn error_body(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({ "error": message, "status": status.as_u16() })),
    )
        .into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            // The full chain goes to the operator's log (store errors redact passwords); the
            // caller learns only that it was not their fault.
            let mut chain = self.to_string();
            let mut source = std::error::Error::source(&self);
            while let Some(cause) = source {
                chain.push_str(": ");
                chain.push_str(&cause.to_string());
                source = cause.source();
            }
            tracing::error!("request failed: {chain}");
            return error_body(
                status,
                "internal error: the database could not answer this request; the server log has the details",
            );
        }
        error_body(status, &self.to_string())
    }
}
