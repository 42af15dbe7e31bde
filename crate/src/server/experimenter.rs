//! The experimenter API (`Authorization: Bearer <experimenter token>`): the study's trials as
//! CSV or NDJSON, streamed from the database, a summary, and live server-sent events.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiPath as Path, bearer};
use crate::human::{TrialRecord, csv_header, csv_row};

async fn authorise(state: &AppState, study: &str, headers: &HeaderMap) -> Result<(), ApiError> {
    let token = bearer(headers)?;
    match state.store.check_experimenter(study, &token).await? {
        None => Err(ApiError::not_found(format!(
            "there is no study \"{study}\""
        ))),
        Some(false) => Err(ApiError::forbidden(
            "this is not the study's experimenter token",
        )),
        Some(true) => Ok(()),
    }
}

fn download(body: Body, content_type: &'static str, name: String) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// A stored record turned into an export line; a row that no longer parses ends the stream
/// with an error (the client sees a broken download, never a silently short file).
fn lines(
    state: &AppState,
    study: &str,
    line: fn(&str) -> Result<String, String>,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    state.store.trial_records(study).map(move |row| {
        let text = row.map_err(|e| std::io::Error::other(e.to_string()))?;
        line(&text).map(Bytes::from).map_err(std::io::Error::other)
    })
}

/// A stored trial row as a line of the CSV export (the page's columns and number format).
pub fn csv_line(record: &str) -> Result<String, String> {
    let t: TrialRecord =
        serde_json::from_str(record).map_err(|e| format!("a stored row does not parse: {e}"))?;
    Ok(csv_row(&t))
}

/// A stored trial row as a line of the NDJSON export.
pub fn ndjson_line(record: &str) -> Result<String, String> {
    Ok(format!("{record}\n"))
}

/// `GET /studies/{study}/trials.csv`: the page's export columns, one row per trial.
pub async fn trials_csv(
    State(state): State<AppState>,
    Path(study): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorise(&state, &study, &headers).await?;
    let header = futures_util::stream::once(async { Ok(Bytes::from(csv_header())) });
    let body = Body::from_stream(header.chain(lines(&state, &study, csv_line)));
    Ok(download(
        body,
        "text/csv; charset=utf-8",
        format!("{study}-trials.csv"),
    ))
}

/// `GET /studies/{study}/trials.ndjson`: one JSON trial row per line.
pub async fn trials_ndjson(
    State(state): State<AppState>,
    Path(study): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorise(&state, &study, &headers).await?;
    let body = Body::from_stream(lines(&state, &study, ndjson_line));
    Ok(download(
        body,
        "application/x-ndjson",
        format!("{study}-trials.ndjson"),
    ))
}

/// `GET /studies/{study}/summary`: sessions started, completed, withdrawn; trials; test
/// accuracy per condition.
pub async fn summary(
    State(state): State<AppState>,
    Path(study): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    authorise(&state, &study, &headers).await?;
    // Fresh from the store: `open` changes when `study close` runs.
    let s = state
        .store
        .study(&study)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("there is no study \"{study}\"")))?;
    let counts = state.store.summary(&study).await?;
    Ok(Json(json!({
        "study": s.id,
        "name": s.name,
        "open": s.open,
        "max_participants": s.max_participants,
        "trials_per_session": s.stimuli.len(),
        "required_trials": s.required_indices().len(),
        "counts": counts,
    })))
}

/// `GET /studies/{study}/events`: server-sent events as sessions start and trials arrive.
pub async fn events(
    State(state): State<AppState>,
    Path(study): Path<String>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    authorise(&state, &study, &headers).await?;
    let receiver = state.events.subscribe();
    let shutdown = state.shutdown.clone();
    let hello = futures_util::stream::once(async {
        Ok::<_, Infallible>(Event::default().event("hello").data("{}"))
    });
    // The stream ends when the server shuts down, so a dashboard never holds the shutdown up.
    let stream = futures_util::stream::unfold(
        (receiver, study, shutdown),
        |(mut rx, study, mut stop)| async move {
            loop {
                let received = tokio::select! {
                    r = rx.recv() => r,
                    _ = stop.wait_for(|stopping| *stopping) => return None,
                };
                match received {
                    Ok(e) if e.study == study => {
                        let event = Event::default().event(e.kind).data(e.data.to_string());
                        return Some((Ok::<_, Infallible>(event), (rx, study, stop)));
                    }
                    Ok(_) => continue,
                    Err(RecvError::Lagged(n)) => {
                        let event = Event::default()
                            .event("lagged")
                            .data(json!({ "missed": n }).to_string());
                        return Some((Ok(event), (rx, study, stop)));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        },
    );
    Ok(
        Sse::new(hello.chain(stream))
            .keep_alive(KeepAlive::new().interval(Duration::from_secs(15))),
    )
}
