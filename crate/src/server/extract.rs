//! Request extractors that answer every failure as an [`ApiError`]: a JSON body (400 for text
//! that is not JSON — malformed, not UTF-8, nested too deeply —, 422 for JSON of the wrong
//! shape, 413 past the body limit) and the bearer token.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
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
                ApiError::new(
                    status,
                    format!("could not read the request body: {}", rejection.body_text()),
                )
            }
        })?;
        if let Some(depth) = too_deep(&bytes) {
            return Err(ApiError::bad_request(format!(
                "the JSON is nested more than {MAX_DEPTH} levels deep (at least {depth}); the API's bodies are flat"
            )));
        }
        // serde_json checks UTF-8 (and would skip unknown deep values without recursing).
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

/// Path parameters, with a rejection (bad percent-encoding, not UTF-8) answered as JSON, and
/// ids checked before they reach the database: study and session ids are made by the server
/// from `[A-Za-z0-9-]`, so anything else cannot name one (and a NUL byte, which PostgreSQL
/// refuses, never becomes a database error).
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send + IdsChecked,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(value) = Path::<T>::from_request_parts(parts, state)
            .await
            .map_err(|r| {
                ApiError::bad_request(format!("the path is malformed: {}", r.body_text()))
            })?;
        if let Some(id) = value.ids().into_iter().find(|id| !plausible_id(id)) {
            return Err(ApiError::not_found(format!(
                "\"{}\" is not a study or session id",
                id.escape_debug()
            )));
        }
        Ok(ApiPath(value))
    }
}

fn plausible_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The ids in a path's parameters (the stimulus index is checked where it is parsed).
pub trait IdsChecked {
    fn ids(&self) -> Vec<&str>;
}

impl IdsChecked for String {
    fn ids(&self) -> Vec<&str> {
        vec![self]
    }
}

impl IdsChecked for (String, String) {
    fn ids(&self) -> Vec<&str> {
        vec![&self.0]
    }
}

/// No body of the API nests deeper than this (a trial row is one flat object).
pub const MAX_DEPTH: usize = 8;

/// The nesting depth reached, if it passes [`MAX_DEPTH`]; brackets inside strings do not count.
fn too_deep(bytes: &[u8]) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(depth);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// The token of `Authorization: Bearer <token>`.
pub fn bearer(headers: &HeaderMap) -> Result<String, ApiError> {
    let value = headers.get(header::AUTHORIZATION).ok_or_else(|| {
        ApiError::unauthorized("this needs the token: Authorization: Bearer <token>")
    })?;
    value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::unauthorized("the Authorization header is not \"Bearer <token>\""))
}
