//! The lab's error type. Library code returns `Result<_, LabError>`; nothing reachable from the
//! page or the CLI may panic on user input, because a panic in wasm kills the whole module.

use crate::data::IdxError;

/// Everything that can go wrong in the lab, named so a user can act on it.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// A data file is not a valid IDX file, or its images and labels disagree.
    #[error("data: {0}")]
    Data(#[from] IdxError),

    /// Training produced a non-finite or exploding loss; the run was stopped before it could
    /// write results or weights.
    #[error(
        "training diverged at epoch {epoch}, batch {batch}: loss = {loss} (limit {limit}). \
         Try a smaller learning rate; no results or weights were written."
    )]
    Diverged {
        epoch: usize,
        batch: usize,
        loss: f32,
        limit: f32,
    },

    /// A configuration value is out of range or unknown.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// A request that does not fit the session's state: the lab is busy with another request,
    /// a run is in progress, or there is no model or data yet. Nothing was changed.
    #[error("{0}")]
    State(String),

    /// The compute device failed (for example a lost WebGPU device or a failed readback).
    #[error("device error: {0}")]
    Device(String),

    /// A weights file could not be read or does not fit the seed network.
    #[error("weights file: {0}")]
    Weights(String),

    /// A results file is not valid JSON of a supported schema.
    #[error("results file: {0}")]
    Results(String),

    /// A stimulus design or a file of human trials is invalid.
    #[error("{0}")]
    Human(#[from] crate::human::HumanDataError),

    /// The collection server or its database failed (`serve`, `study`).
    #[error("collection server: {0}")]
    Collection(String),

    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl LabError {
    #[cfg_attr(not(feature = "cli"), allow(dead_code))]
    pub(crate) fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        LabError::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

/// Shorthand used across the crate.
pub type Result<T, E = LabError> = std::result::Result<T, E>;
