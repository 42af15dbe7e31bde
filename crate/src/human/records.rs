//! Trial records: one row per trial, the same shape for a human participant and for a model
//! run as a participant. The page exports them as CSV (long format: jsPsych's own columns plus
//! ours) and as JSON with the session's metadata; both read back here, strictly. A file that
//! fails any check is rejected whole, so a group data set is never half-imported.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::HumanDataError;
use super::stimuli::{MAX_SEED, Phase};
use crate::data::NUM_CLASSES;

/// Who answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObserverKind {
    Human,
    Model,
}

/// One trial. Column names follow jsPsych where it has one (`trial_index`, `trial_type`,
/// `time_elapsed`, `rt`, `response`); the rest are the lab's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    /// The participant's id (for a model, the model's name).
    pub participant_id: String,
    /// One run of the experiment; a participant who comes back gets a new session.
    pub session_id: String,
    pub observer_kind: ObserverKind,
    /// For models: the learning rule and front end, for the ranking table.
    #[serde(default)]
    pub rule: Option<String>,
    #[serde(default)]
    pub front_end: Option<String>,
    pub task: String,
    /// The stimulus list's seed.
    pub list_seed: u64,
    /// jsPsych's running trial counter (includes instruction screens); informative only.
    #[serde(default)]
    pub trial_index: Option<u64>,
    #[serde(default)]
    pub trial_type: Option<String>,
    /// ms since the session started (jsPsych's `time_elapsed`).
    #[serde(default)]
    pub time_elapsed: Option<f64>,
    pub phase: Phase,
    pub stimulus_index: usize,
    pub test_index: usize,
    pub label: u8,
    pub noise_sigma: f64,
    pub noise_seed: u64,
    /// Empty: unlimited.
    #[serde(default)]
    pub requested_duration_ms: Option<f64>,
    /// The presentation's duration as measured from animation-frame timestamps (humans only).
    #[serde(default)]
    pub measured_duration_ms: Option<f64>,
    pub response: u8,
    /// Reaction time from stimulus onset, ms (humans only).
    #[serde(default)]
    pub rt: Option<f64>,
    pub correct: bool,
}

impl TrialRecord {
    /// The identity of the image shown: two trials with the same key showed the same pixels.
    pub fn stimulus_key(&self) -> StimulusKey {
        StimulusKey {
            task: self.task.clone(),
            test_index: self.test_index,
            noise_bits: self.noise_sigma.to_bits(),
            noise_seed: self.noise_seed,
            duration_bits: self.requested_duration_ms.map(f64::to_bits),
        }
    }

    /// The condition, for per-condition accuracy: (noise σ, requested duration).
    pub fn condition(&self) -> Condition {
        Condition {
            noise_sigma: self.noise_sigma,
            duration_ms: self.requested_duration_ms,
        }
    }

    /// Every field in range (classes 0–9, σ in [0, 1], seeds a browser keeps exactly, …).
    pub fn check(&self) -> Result<(), String> {
        if self.session_id.trim().is_empty() {
            return Err("empty session_id".into());
        }
        if self.label as usize >= NUM_CLASSES {
            return Err(format!("label {} is not a class (0–9)", self.label));
        }
        if self.response as usize >= NUM_CLASSES {
            return Err(format!("response {} is not a class (0–9)", self.response));
        }
        if self.correct != (self.response == self.label) {
            return Err(format!(
                "correct = {} but response {} vs label {}",
                self.correct, self.response, self.label
            ));
        }
        if !self.noise_sigma.is_finite() || !(0.0..=1.0).contains(&self.noise_sigma) {
            return Err(format!(
                "noise_sigma {} is outside [0, 1]",
                self.noise_sigma
            ));
        }
        for (name, seed) in [
            ("list_seed", self.list_seed),
            ("noise_seed", self.noise_seed),
        ] {
            if seed > MAX_SEED {
                return Err(format!(
                    "{name} {seed} is above 2^53 − 1, which no exported file holds"
                ));
            }
        }
        for (name, v) in [
            ("rt", self.rt),
            ("measured_duration_ms", self.measured_duration_ms),
            ("requested_duration_ms", self.requested_duration_ms),
        ] {
            if let Some(v) = v
                && (!v.is_finite() || v < 0.0)
            {
                return Err(format!("{name} {v} is not a duration"));
            }
        }
        Ok(())
    }
}

/// See [`TrialRecord::stimulus_key`]: the image (test index, exact σ, noise seed) and the
/// requested duration. Floats are compared by their bits, so keys compare exactly.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StimulusKey {
    pub task: String,
    pub test_index: usize,
    pub noise_bits: u64,
    pub noise_seed: u64,
    pub duration_bits: Option<u64>,
}

/// See [`Condition::sort_key`]. Equal only when the bits are; ordered by the values
/// (`f64::total_cmp`, which is equal exactly when the bits are, so the order agrees with `Eq`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConditionKey {
    noise_bits: u64,
    duration_bits: Option<u64>,
}

impl Ord for ConditionKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let value = f64::from_bits;
        value(self.noise_bits)
            .total_cmp(&value(other.noise_bits))
            .then_with(|| match (self.duration_bits, other.duration_bits) {
                (Some(a), Some(b)) => value(a).total_cmp(&value(b)),
                // Unlimited last.
                (a, b) => b.is_some().cmp(&a.is_some()),
            })
    }
}

impl PartialOrd for ConditionKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// A degradation condition.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    pub noise_sigma: f64,
    /// `None`: unlimited.
    pub duration_ms: Option<f64>,
}

impl Condition {
    /// The condition's identity, for grouping trials: the exact bits of σ and of the duration
    /// (as [`StimulusKey`] keys the image), so two designs whose σ differ by less than any
    /// rounding stay two conditions. It orders by noise, then duration with unlimited last.
    pub fn sort_key(&self) -> ConditionKey {
        ConditionKey {
            noise_bits: self.noise_sigma.to_bits(),
            duration_bits: self.duration_ms.map(f64::to_bits),
        }
    }

    pub fn label(&self) -> String {
        match self.duration_ms {
            Some(d) => format!("σ {} · {} ms", self.noise_sigma, d),
            None => format!("σ {} · unlimited", self.noise_sigma),
        }
    }
}

/// The JSON export: the session's metadata and its trials.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionFile {
    /// Always [`SESSION_FILE_FORMAT`].
    pub format: String,
    /// Stimulus-list seed, condition design, browser, refresh estimate, … as the page wrote
    /// them; kept as given.
    pub session: serde_json::Value,
    pub trials: Vec<TrialRecord>,
}

pub const SESSION_FILE_FORMAT: &str = "microlearning-human-session/1";

/// Reads one exported file (CSV, or the JSON export) into its trials, checking every row.
/// `name` names the file in errors.
pub fn parse_file(name: &str, text: &str) -> Result<Vec<TrialRecord>, HumanDataError> {
    let malformed = |reason: String| HumanDataError::Malformed {
        file: name.to_string(),
        reason,
    };
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let trials = if trimmed.starts_with('{') {
        parse_json_values(trimmed).map_err(malformed)?
    } else {
        parse_csv(trimmed).map_err(malformed)?
    };
    if trials.is_empty() {
        return Err(malformed("no trials".into()));
    }
    let mut seen = BTreeSet::new();
    for (row, t) in trials.iter().enumerate() {
        t.check()
            .map_err(|reason| malformed(format!("trial {}: {reason}", row + 1)))?;
        if !seen.insert((
            t.session_id.clone(),
            t.participant_id.clone(),
            t.stimulus_index,
        )) {
            return Err(malformed(format!(
                "trial {}: stimulus {} of session {} appears twice",
                row + 1,
                t.stimulus_index,
                t.session_id
            )));
        }
    }
    Ok(trials)
}

/// Checks every trial of a table built elsewhere (e.g. sent by the page) like an import does.
pub fn check_trials(trials: &[TrialRecord]) -> Result<(), HumanDataError> {
    for (row, t) in trials.iter().enumerate() {
        t.check().map_err(|reason| HumanDataError::Malformed {
            file: "trial table".into(),
            reason: format!("trial {}: {reason}", row + 1),
        })?;
    }
    Ok(())
}

/// JSON text: one session file (the page's JSON export), or a sequence of JSON values — the
/// collection server's NDJSON export (one trial row per line) and a JATOS result file (one
/// session file per participant, or the trial rows a participant appended before leaving) —
/// each a session file or a trial row.
fn parse_json_values(text: &str) -> Result<Vec<TrialRecord>, String> {
    let mut trials = Vec::new();
    let values = serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>();
    for (k, value) in values.enumerate() {
        let at = |e: &dyn std::fmt::Display| format!("JSON value {}: {e}", k + 1);
        let value = value.map_err(|e| at(&e))?;
        if value.get("format").is_some() || value.get("trials").is_some() {
            let file: SessionFile = serde_json::from_value(value)
                .map_err(|e| at(&format!("not a session file: {e}")))?;
            if file.format != SESSION_FILE_FORMAT {
                return Err(at(&format!(
                    "format \"{}\" is not {SESSION_FILE_FORMAT}",
                    file.format
                )));
            }
            trials.extend(file.trials);
        } else {
            trials.push(
                serde_json::from_value(value).map_err(|e| at(&format!("not a trial row: {e}")))?,
            );
        }
    }
    Ok(trials)
}

fn parse_csv(text: &str) -> Result<Vec<TrialRecord>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    for column in REQUIRED_COLUMNS {
        if !headers.iter().any(|h| h == *column) {
            return Err(format!(
                "not a trial table: the column \"{column}\" is missing"
            ));
        }
    }
    let text_columns: Vec<bool> = headers.iter().map(|h| TEXT_COLUMNS.contains(&h)).collect();
    let mut trials = Vec::new();
    for (row, record) in reader.records().enumerate() {
        // Row 1 is the header, so data row k is line k + 1.
        let line = |e: csv::Error| format!("line {}: {e}", row + 2);
        let record = record.map_err(line)?;
        let cells: csv::StringRecord = record
            .iter()
            .zip(&text_columns)
            .map(|(cell, &is_text)| {
                if is_text {
                    unescape_formula(cell)
                } else {
                    cell
                }
            })
            .collect();
        trials.push(
            cells
                .deserialize::<TrialRecord>(Some(&headers))
                .map_err(line)?,
        );
    }
    Ok(trials)
}

const REQUIRED_COLUMNS: &[&str] = &[
    "participant_id",
    "session_id",
    "observer_kind",
    "task",
    "list_seed",
    "phase",
    "stimulus_index",
    "test_index",
    "label",
    "noise_sigma",
    "noise_seed",
    "response",
    "correct",
];

/// The trial table's columns, in order: the page's `TRIAL_COLUMNS` (`www/experiment/export.js`).
pub const TRIAL_COLUMNS: [&str; 21] = [
    "participant_id",
    "session_id",
    "observer_kind",
    "rule",
    "front_end",
    "task",
    "list_seed",
    "trial_index",
    "trial_type",
    "time_elapsed",
    "phase",
    "stimulus_index",
    "test_index",
    "label",
    "noise_sigma",
    "noise_seed",
    "requested_duration_ms",
    "measured_duration_ms",
    "response",
    "rt",
    "correct",
];

/// The columns whose text is free-form (and so is escaped against spreadsheet formulas).
const TEXT_COLUMNS: [&str; 8] = [
    "participant_id",
    "session_id",
    "observer_kind",
    "rule",
    "front_end",
    "task",
    "trial_type",
    "phase",
];

/// A cell that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR) gets a leading
/// `'`; so does a cell that already starts with `'`, so reading strips exactly one and every
/// value comes back as it was.
fn escape_formula(text: &str) -> std::borrow::Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '\'') => format!("'{text}").into(),
        _ => text.into(),
    }
}

fn unescape_formula(text: &str) -> &str {
    text.strip_prefix('\'').unwrap_or(text)
}

/// A number as JavaScript's `String(x)` writes it (shortest round-trip digits; exponent form
/// below 1e-6 and from 1e21), so the server's export and the page's are the same text.
pub fn js_number(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    if !x.is_finite() {
        return if x.is_nan() {
            "NaN".into()
        } else if x > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let a = x.abs();
    if (1e-6..1e21).contains(&a) {
        format!("{x}")
    } else {
        let e = format!("{x:e}");
        match e.split_once('e') {
            Some((m, exp)) if !exp.starts_with('-') => format!("{m}e+{exp}"),
            _ => e,
        }
    }
}

/// JavaScript's `Math.round(x * 1000) / 1000`: the page rounds timings to µs in its CSV.
fn js_round_micros(x: f64) -> f64 {
    let v = x * 1000.0;
    let f = v.floor();
    (if v - f >= 0.5 { f + 1.0 } else { f }) / 1000.0
}

fn csv_cell(out: &mut String, text: &str) {
    if text.contains(['"', ',', '\n', '\r']) {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

/// The CSV header line (with its newline).
pub fn csv_header() -> String {
    format!("{}\n", TRIAL_COLUMNS.join(","))
}

/// One trial as a CSV line (with its newline), byte for byte what the page's export writes.
pub fn csv_row(t: &TrialRecord) -> String {
    let number = |v: Option<f64>| v.map(js_number).unwrap_or_default();
    let timing = |v: Option<f64>| v.map(|v| js_number(js_round_micros(v))).unwrap_or_default();
    let text = |v: &str| escape_formula(v).into_owned();
    let cells: [String; 21] = [
        text(&t.participant_id),
        text(&t.session_id),
        text(match t.observer_kind {
            ObserverKind::Human => "human",
            ObserverKind::Model => "model",
        }),
        t.rule.as_deref().map(text).unwrap_or_default(),
        t.front_end.as_deref().map(text).unwrap_or_default(),
        text(&t.task),
        t.list_seed.to_string(),
        t.trial_index.map(|v| v.to_string()).unwrap_or_default(),
        t.trial_type.as_deref().map(text).unwrap_or_default(),
        timing(t.time_elapsed),
        text(match t.phase {
            Phase::Practice => "practice",
            Phase::Test => "test",
            Phase::Attention => "attention",
        }),
        t.stimulus_index.to_string(),
        t.test_index.to_string(),
        t.label.to_string(),
        js_number(t.noise_sigma),
        t.noise_seed.to_string(),
        number(t.requested_duration_ms),
        timing(t.measured_duration_ms),
        t.response.to_string(),
        timing(t.rt),
        t.correct.to_string(),
    ];
    let mut line = String::with_capacity(256);
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        csv_cell(&mut line, cell);
    }
    line.push('\n');
    line
}

/// Writes trials as CSV in the page's format (see [`csv_row`]).
pub fn to_csv(trials: &[TrialRecord]) -> Result<String, HumanDataError> {
    let mut out = csv_header();
    for t in trials {
        out.push_str(&csv_row(t));
    }
    Ok(out)
}

/// Outcome of adding one file to a [`GroupData`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum ImportOutcome {
    Added {
        file: String,
        sessions: Vec<String>,
        trials: usize,
    },
    Skipped {
        file: String,
        reason: String,
    },
}

/// Many participants' trials, built file by file. A file is added whole or not at all: a
/// malformed file, or one whose sessions are already in the group, is skipped with a reason.
#[derive(Debug, Clone, Default)]
pub struct GroupData {
    trials: Vec<TrialRecord>,
    sessions: BTreeMap<String, String>, // session id → the file it came from
}

impl GroupData {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn trials(&self) -> &[TrialRecord] {
        &self.trials
    }

    /// Adds the file's trials if it parses and holds only new sessions.
    pub fn import(&mut self, name: &str, text: &str) -> ImportOutcome {
        let skipped = |reason: String| ImportOutcome::Skipped {
            file: name.to_string(),
            reason,
        };
        let trials = match parse_file(name, text) {
            Ok(t) => t,
            Err(e) => return skipped(e.to_string()),
        };
        self.add(name, trials)
            .unwrap_or_else(|e| skipped(e.to_string()))
    }

    /// Adds already-parsed trials (e.g. the page's own session) under the name `source`.
    pub fn add(
        &mut self,
        source: &str,
        trials: Vec<TrialRecord>,
    ) -> Result<ImportOutcome, HumanDataError> {
        let sessions: BTreeSet<String> = trials.iter().map(|t| t.session_id.clone()).collect();
        if let Some((id, from)) = sessions
            .iter()
            .find_map(|id| self.sessions.get(id).map(|from| (id, from)))
        {
            return Err(HumanDataError::Duplicate {
                file: source.to_string(),
                session: id.clone(),
                first: from.clone(),
            });
        }
        for id in &sessions {
            self.sessions.insert(id.clone(), source.to_string());
        }
        let count = trials.len();
        self.trials.extend(trials);
        Ok(ImportOutcome::Added {
            file: source.to_string(),
            sessions: sessions.into_iter().collect(),
            trials: count,
        })
    }
}
