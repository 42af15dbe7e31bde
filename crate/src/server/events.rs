//! Live events for the dashboard: one broadcast channel in the server process, filtered per
//! study. Events are a notice, not a record: a dashboard that misses some (it lagged, or
//! another server process stored the trial) re-reads the summary.

use serde_json::{Value, json};

use super::store::{Session, now_ms, phase_name};
use crate::human::TrialRecord;

#[derive(Debug, Clone)]
pub struct StudyEvent {
    pub study: String,
    pub kind: &'static str,
    pub data: Value,
}

impl StudyEvent {
    pub fn trial(session: &Session, t: &TrialRecord) -> Self {
        Self {
            study: session.study_id.clone(),
            kind: "trial",
            data: json!({
                "session": session.id,
                "participant": session.participant_id,
                "stimulus_index": t.stimulus_index,
                "phase": phase_name(t.phase),
                "condition": t.condition().label(),
                "correct": t.correct,
                "at_ms": now_ms(),
            }),
        }
    }

    pub fn session(study: &str, kind: &'static str, session: &str, participant: &str) -> Self {
        Self {
            study: study.to_string(),
            kind,
            data: json!({ "session": session, "participant": participant, "at_ms": now_ms() }),
        }
    }
}
