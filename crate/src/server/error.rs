//! The API's error: a status and a message, answered as `{"error": "..."}` (plus any detail,
//! such as the missing trial indices). Every rejection — a malformed body, a bad path, a wrong
//! token — becomes one of these, so a client always gets JSON it can show.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub detail: Option<(&'static str, Value)>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            detail: None,
        }
    }

    pub fn with(mut self, key: &'static str, value: Value) -> Self {
        self.detail = Some((key, value));
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        // The client cannot fix these; the operator must see them.
        eprintln!("collection server: {e}");
        match e {
            StoreError::Random(_) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the server could not make a secure token just now; try again",
            ),
            StoreError::Corrupt { .. } => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the server's stored data is damaged; the experimenter has been told in the log",
            ),
            _ => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is not available just now; keep the answers and try again",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.message });
        if let Some((key, value)) = self.detail {
            body[key] = value;
        }
        (self.status, Json(body)).into_response()
    }
}
