//! The participant API (`/api/v1/studies/{study}`, `/api/v1/sessions/…`): what the page in
//! participant mode calls. Every trial is checked against the study's stimulus list before it
//! is stored, so a row cannot claim another image, another condition or another person.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::events::StudyEvent;
use super::extract::{ApiPath as Path, JsonBody, bearer};
use super::store::{
    CompleteOutcome, PutOutcome, Session, SessionStatus, StartOutcome, Study, TrialWrite,
};
use super::token;
use crate::human::{ObserverKind, TrialRecord};

/// The link parameters that name the participant, in the order they are looked for.
const PARTICIPANT_PARAMS: [&str; 2] = ["PROLIFIC_PID", "participant"];
const MAX_ID_CHARS: usize = 128;
const MAX_PARAMS: usize = 32;
const MAX_PARAM_CHARS: usize = 512;

/// `GET /studies/{study}`: what the page needs to run the study (no secrets, no counts).
pub async fn get_study(
    State(state): State<AppState>,
    Path(study): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let s = state
        .store
        .study(&study)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("there is no study \"{study}\"")))?;
    Ok(Json(json!({
        "study": s.id,
        "name": s.name,
        "open": s.open && !s.is_full(),
        "closed": !s.open,
        "full": s.is_full(),
        "design": s.design,
        "trials": s.stimuli.len(),
        "required_trials": s.required_indices().len(),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSession {
    #[serde(default)]
    participant: Option<String>,
    #[serde(default)]
    url_params: BTreeMap<String, String>,
    consent: bool,
    /// A secret the browser made and kept before asking: if this reply is lost, asking again
    /// with it returns the same session instead of "already taken part".
    #[serde(default)]
    resume_key: Option<String>,
}

fn check_participant_id(id: &str) -> Result<(), ApiError> {
    if id.trim().is_empty() || id.chars().count() > MAX_ID_CHARS {
        return Err(ApiError::invalid(format!(
            "a participant id has 1 to {MAX_ID_CHARS} characters"
        )));
    }
    if id.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "a participant id cannot hold control characters",
        ));
    }
    Ok(())
}

/// `POST /studies/{study}/sessions`: a new session and its token.
pub async fn start_session(
    State(state): State<AppState>,
    Path(study): Path<String>,
    JsonBody(body): JsonBody<NewSession>,
) -> Result<impl IntoResponse, ApiError> {
    if !body.consent {
        return Err(ApiError::invalid(
            "a session starts only with the participant's consent",
        ));
    }
    if body.url_params.len() > MAX_PARAMS
        || body
            .url_params
            .iter()
            .any(|(k, v)| k.len() + v.len() > MAX_PARAM_CHARS)
    {
        return Err(ApiError::invalid(format!(
            "url_params: at most {MAX_PARAMS} parameters of at most {MAX_PARAM_CHARS} characters"
        )));
    }
    if let Some(key) = &body.resume_key
        && !(16..=128).contains(&key.len())
    {
        return Err(ApiError::invalid("resume_key has 16 to 128 characters"));
    }
    let named = PARTICIPANT_PARAMS
        .iter()
        .find_map(|k| body.url_params.get(*k).filter(|v| !v.trim().is_empty()))
        .cloned()
        .or(body.participant.filter(|p| !p.trim().is_empty()));
    // No id in the link: a browser asking again with its key gets the id the server made then.
    let remembered = match (&named, &body.resume_key) {
        (None, Some(key)) => state.store.participant_by_resume_key(&study, key).await?,
        _ => None,
    };
    let participant = named
        .or(remembered)
        .map_or_else(
            || token::random_hex(5).map(|h| format!("P-{}", h.to_uppercase())),
            Ok,
        )
        .map_err(|e| ApiError::from(super::store::StoreError::from(e)))?;
    check_participant_id(&participant)?;
    let outcome = state
        .store
        .start_session(
            &study,
            &participant,
            &body.url_params,
            body.resume_key.as_deref(),
        )
        .await?;
    match outcome {
        StartOutcome::Resumed { session, token } => Ok((
            StatusCode::OK,
            Json(json!({
                "session": session,
                "token": token,
                "participant": participant,
                "study": study,
                "resumed": true,
            })),
        )),
        StartOutcome::Started { session, token } => {
            state.publish(StudyEvent::session(
                &study,
                "session-started",
                &session,
                &participant,
            ));
            Ok((
                StatusCode::CREATED,
                Json(json!({
                    "session": session,
                    "token": token,
                    "participant": participant,
                    "study": study,
                })),
            ))
        }
        StartOutcome::NoSuchStudy => Err(ApiError::not_found(format!(
            "there is no study \"{study}\""
        ))),
        StartOutcome::Closed => Err(ApiError::forbidden(
            "this study is closed and takes no new participants",
        )),
        StartOutcome::Full => Err(ApiError::forbidden(
            "this study has all the participants it needs",
        )),
        StartOutcome::AlreadyTookPart => Err(ApiError::conflict(format!(
            "participant {participant} has already taken part in this study"
        ))),
    }
}

/// The session named in the path, if the request carries its token.
async fn authorised_session(
    state: &AppState,
    session: &str,
    headers: &HeaderMap,
) -> Result<Session, ApiError> {
    let token = bearer(headers)?;
    let found = state
        .store
        .session(session)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("there is no session \"{session}\"")))?;
    if !token::matches(&token, &found.token_hash) {
        return Err(ApiError::forbidden(
            "this token does not belong to this session",
        ));
    }
    Ok(found)
}

/// Checks a trial row against the session and the study's stimulus list.
pub fn check_trial(
    study: &Study,
    session: &Session,
    index: u64,
    t: &TrialRecord,
) -> Result<(), String> {
    t.check()?;
    let stimulus = study.stimuli.get(index as usize).ok_or_else(|| {
        format!(
            "the study has no trial {index} (it has {})",
            study.stimuli.len()
        )
    })?;
    let mismatch = |field: &str, got: String, want: String| {
        Err(format!(
            "{field} is {got}, but trial {index} of this study has {want}"
        ))
    };
    if t.stimulus_index as u64 != index {
        return mismatch(
            "stimulus_index",
            t.stimulus_index.to_string(),
            index.to_string(),
        );
    }
    if t.session_id != session.id {
        return Err(format!(
            "the row names session {}, not this session",
            t.session_id
        ));
    }
    if t.participant_id != session.participant_id {
        return Err(format!(
            "the row names participant {}, but this session is {}'s",
            t.participant_id, session.participant_id
        ));
    }
    if t.observer_kind != ObserverKind::Human {
        return Err("a participant's row has observer_kind \"human\"".into());
    }
    if t.task != study.design.task.id() {
        return mismatch("task", t.task.clone(), study.design.task.id().into());
    }
    if t.list_seed != study.design.seed {
        return mismatch(
            "list_seed",
            t.list_seed.to_string(),
            study.design.seed.to_string(),
        );
    }
    if t.phase != stimulus.phase {
        return mismatch(
            "phase",
            format!("{:?}", t.phase),
            format!("{:?}", stimulus.phase),
        );
    }
    if t.test_index != stimulus.test_index || t.label != stimulus.label {
        return mismatch(
            "the image",
            format!("test image {} (label {})", t.test_index, t.label),
            format!(
                "test image {} (label {})",
                stimulus.test_index, stimulus.label
            ),
        );
    }
    if t.noise_sigma.to_bits() != stimulus.noise_sigma.to_bits()
        || t.noise_seed != stimulus.noise_seed
    {
        return mismatch(
            "the noise",
            format!("σ {} seed {}", t.noise_sigma, t.noise_seed),
            format!("σ {} seed {}", stimulus.noise_sigma, stimulus.noise_seed),
        );
    }
    if t.requested_duration_ms != stimulus.duration_ms.map(f64::from) {
        return mismatch(
            "requested_duration_ms",
            format!("{:?}", t.requested_duration_ms),
            format!("{:?}", stimulus.duration_ms),
        );
    }
    Ok(())
}

fn parse_index(text: &str) -> Result<u64, ApiError> {
    text.parse::<u64>().map_err(|_| {
        ApiError::bad_request(format!(
            "stimulus index \"{text}\" is not a whole number from 0"
        ))
    })
}

/// `PUT /sessions/{session}/trials/{stimulus_index}`: one trial row. 201 stored, 200 an
/// identical repeat, 409 a different row for the same trial.
pub async fn put_trial(
    State(state): State<AppState>,
    Path((session, index)): Path<(String, String)>,
    headers: HeaderMap,
    JsonBody(record): JsonBody<TrialRecord>,
) -> Result<impl IntoResponse, ApiError> {
    let index = parse_index(&index)?;
    let session = authorised_session(&state, &session, &headers).await?;
    if session.status == SessionStatus::Withdrawn {
        return Err(withdrawn());
    }
    let study = state.study(&session.study_id).await?;
    check_trial(&study, &session, index, &record).map_err(ApiError::invalid)?;
    let write = TrialWrite {
        stimulus_index: index,
        phase: record.phase,
        condition_label: record.condition().label(),
        correct: record.correct,
        record: serde_json::to_string(&record)
            .map_err(|e| ApiError::invalid(format!("the row cannot be stored: {e}")))?,
    };
    match state.store.put_trial(&session, &write).await? {
        PutOutcome::Stored => {
            state.publish(StudyEvent::trial(&session, &record));
            Ok((StatusCode::CREATED, Json(json!({ "stored": index }))))
        }
        PutOutcome::IdenticalRepeat => Ok((StatusCode::OK, Json(json!({ "stored": index })))),
        PutOutcome::Conflict => Err(ApiError::conflict(format!(
            "trial {index} is already stored with a different answer"
        ))),
        PutOutcome::SessionComplete => Err(ApiError::conflict(
            "this session is complete and takes no new trials",
        )),
        PutOutcome::Withdrawn => Err(withdrawn()),
    }
}

fn withdrawn() -> ApiError {
    ApiError::new(
        StatusCode::GONE,
        "this session was withdrawn; its answers were deleted",
    )
}

/// `GET /sessions/{session}`: the stored indices, so a reopened page knows what to resend.
pub async fn get_session(
    State(state): State<AppState>,
    Path(session): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let session = authorised_session(&state, &session, &headers).await?;
    let stored = state.store.stored_indices(&session.id).await?;
    Ok(Json(json!({
        "session": session.id,
        "study": session.study_id,
        "participant": session.participant_id,
        "status": session.status.name(),
        "stored": stored,
    })))
}

/// `POST /sessions/{session}/complete`: 200 with the completion link once every measured
/// trial is stored, else 409 with the missing indices.
pub async fn complete(
    State(state): State<AppState>,
    Path(session): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let session = authorised_session(&state, &session, &headers).await?;
    let study = state.study(&session.study_id).await?;
    match state
        .store
        .complete(&session, &study.required_indices())
        .await?
    {
        outcome @ (CompleteOutcome::Completed | CompleteOutcome::AlreadyComplete) => {
            if outcome == CompleteOutcome::Completed {
                state.publish(StudyEvent::session(
                    &session.study_id,
                    "session-completed",
                    &session.id,
                    &session.participant_id,
                ));
            }
            Ok(Json(json!({
                "status": "complete",
                "completion_url": study.completion_url,
            })))
        }
        CompleteOutcome::Missing(missing) => Err(ApiError::conflict(format!(
            "{} trials are not stored yet",
            missing.len()
        ))
        .with("missing", json!(missing))),
        CompleteOutcome::Withdrawn => Err(withdrawn()),
    }
}

/// `DELETE /sessions/{session}`: withdrawal. The session's trials are deleted.
pub async fn withdraw(
    State(state): State<AppState>,
    Path(session): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let session = authorised_session(&state, &session, &headers).await?;
    let deleted = state.store.withdraw(&session.id).await?;
    state.publish(StudyEvent::session(
        &session.study_id,
        "session-withdrawn",
        &session.id,
        &session.participant_id,
    ));
    Ok(Json(
        json!({ "withdrawn": true, "deleted_trials": deleted }),
    ))
}
