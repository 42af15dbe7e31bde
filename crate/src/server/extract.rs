//! Request extractors that answer every failure as an [`ApiError`]: a JSON body (400 for text
//! that is not JSON — malformed, not UTF-8, nested too deeply —, 422 for JSON of the wrong
//! shape, 413 past the body limit) and the bearer token.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

use super::error::ApiError;

pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            let status = rejection.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(status, "the request body is too large")
            } else {
                ApiError::new(status, format!("could not read the request body: {}", rejection.body_text()))
            }
        })?;
        // serde_json checks UTF-8 and limits nesting to 128 levels.
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            use serde_json::error::Category;
            match e.classify() {
                Category::Data => ApiError::invalid(format!("the JSON does not fit: {e}")),
                Category::Syntax | Category::Eof | Category::Io => {
                    ApiError::bad_request(format!("the body is not valid JSON: {e}"))
                }
            }
        })
    }
}

/// The token of `Authorization: Bearer <token>`.
pub fn bearer(headers: &HeaderMap) -> Result<String, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("this needs the token: Authorization: Bearer <token>"))?;
    value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::unauthorized("the Authorization header is not \"Bearer <token>\""))
}
