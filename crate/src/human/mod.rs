//! Research question 3: people and models on the same image-recognition task.
//!
//! `stimuli.rs` builds the seeded stimulus list (test images × noise × presentation duration)
//! and renders each stimulus's exact pixels; `records.rs` is the trial table (CSV and JSON,
//! strict import, group data sets); `observers.rs` runs trained models as participants on the
//! same stimuli; `consistency.rs` is error consistency (Cohen's κ on trial-by-trial
//! correctness); `comparison.rs` puts it together: accuracy per condition with bootstrap CIs,
//! confusion matrices, κ model–human and human–human, and the ranking of models.
//! The experiment itself (timeline, timing, storage) runs in the page: `www/experiment/`.

mod comparison;
mod consistency;
mod observers;
mod records;
mod stimuli;

pub use comparison::{
    BOOTSTRAP_RESAMPLES, ConditionRow, Estimate, FRAME_MS, HumanComparison, MIN_COMMON_TRIALS,
    ModelRow, ParticipantSummary, compare, format_report, mistimed,
};
pub use consistency::{ErrorConsistency, error_consistency};
pub use observers::{ModelIdentity, model_trials, templates_from_list};
pub use records::{
    Condition, ConditionKey, GroupData, ImportOutcome, ObserverKind, SESSION_FILE_FORMAT,
    SessionFile, StimulusKey, TRIAL_COLUMNS, TrialRecord, check_trials, csv_header, csv_row,
    js_number, parse_file, to_csv,
};
pub use stimuli::{
    MAX_SEED, Phase, Stimulus, StimulusDesign, StimulusList, build_list, render, render_list,
};

/// What can be wrong with a stimulus design or a file of trials.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HumanDataError {
    #[error("stimulus design: {0}")]
    Design(String),
    #[error("stimulus: {0}")]
    Stimulus(String),
    /// The file is not a valid trial table; nothing of it was imported.
    #[error("{file}: {reason}; the file was not imported")]
    Malformed { file: String, reason: String },
    /// The file's session is already in the group data set.
    #[error("{file}: session {session} was already imported (from {first}); the file was skipped")]
    Duplicate {
        file: String,
        session: String,
        first: String,
    },
    #[error("export: {0}")]
    Export(String),
}
