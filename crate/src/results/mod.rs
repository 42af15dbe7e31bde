//! The results file: one JSON document per run, shared by the CLI and the page.

use serde::{Deserialize, Serialize};

use crate::error::{LabError, Result};
use crate::training::{ConfusionMatrix, EpochMetrics, TrainConfig};

/// Bumped whenever a field changes meaning, appears or disappears; readers reject versions they
/// cannot upgrade. Version 2 added the alignment diagnostics (`config.diagnostics_every`,
/// `epochs[].diagnostics`), version 3 the front end (`config.front_end`), version 4 the neuronal noise
/// (`config.neuronal_noise`), version 5 the learning-rate decay (`config.lr_decay`); older
/// files are upgraded on reading.
pub const SCHEMA_VERSION: u32 = 5;

/// Sizes and origin of the data a run used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    pub task: String,
    pub train_images: usize,
    pub test_images: usize,
    /// Where the images came from (a folder, or "shipped" for the page's bundled files).
    pub source: String,
}

/// Everything a run reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResults {
    pub schema_version: u32,
    /// `microlearning <version>`.
    pub created_by: String,
    /// The compute backend, e.g. "cpu (flex)" or "webgpu (<adapter>)".
    pub backend: String,
    pub config: TrainConfig,
    pub data: DataInfo,
    pub epochs: Vec<EpochMetrics>,
    pub final_test_accuracy: f64,
    pub final_confusion: ConfusionMatrix,
}

impl RunResults {
    pub fn new(
        backend: String,
        config: TrainConfig,
        data: DataInfo,
        epochs: Vec<EpochMetrics>,
    ) -> Result<Self> {
        let last = epochs.last().ok_or_else(|| {
            LabError::Results("a run with no finished epoch has no results".into())
        })?;
        Ok(Self {
            schema_version: SCHEMA_VERSION,
            created_by: format!("microlearning {}", env!("CARGO_PKG_VERSION")),
            backend,
            final_test_accuracy: last.test_accuracy,
            final_confusion: last.confusion.clone(),
            config,
            data,
            epochs,
        })
    }

    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| LabError::Results(e.to_string()))
    }

    /// Parses and checks a results file: the schema version, and that its numbers are
    /// consistent (a confusion matrix of the right shape that matches the stated accuracy).
    pub fn from_json(text: &str) -> Result<Self> {
        let mut value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| LabError::Results(format!("not valid JSON ({e})")))?;
        match value.get("schema_version").and_then(|v| v.as_u64()) {
            Some(v) if v == SCHEMA_VERSION as u64 => {}
            Some(v @ (1..=4)) => upgrade(&mut value, v)?,
            Some(v) => {
                return Err(LabError::Results(format!(
                    "schema version {v} is not supported (this lab reads version {SCHEMA_VERSION})"
                )));
            }
            None => {
                return Err(LabError::Results(
                    "no schema_version: not a results file".into(),
                ));
            }
        }
        let results: RunResults = serde_json::from_value(value)
            .map_err(|e| LabError::Results(format!("missing or malformed field ({e})")))?;
        let confusion = &results.final_confusion.0;
        if confusion.len() != 10 || confusion.iter().any(|row| row.len() != 10) {
            return Err(LabError::Results(
                "the confusion matrix is not 10×10".into(),
            ));
        }
        let accuracy = results.final_confusion.accuracy();
        if (accuracy - results.final_test_accuracy).abs() > 1e-9 {
            return Err(LabError::Results(format!(
                "final_test_accuracy {} disagrees with its confusion matrix ({accuracy})",
                results.final_test_accuracy
            )));
        }
        Ok(results)
    }
}

/// Version 1 had no diagnostics (its runs measured none, so `diagnostics_every` is 0); versions
/// 1 and 2 had only the learned front end; versions 1 to 3 had no neuronal noise; versions 1 to 4
/// kept the learning rate constant.
fn upgrade(value: &mut serde_json::Value, from: u64) -> Result<()> {
    let config = value
        .get_mut("config")
        .and_then(|c| c.as_object_mut())
        .ok_or_else(|| LabError::Results("missing or malformed field (config)".into()))?;
    if from < 2 {
        config.insert("diagnostics_every".into(), 0.into());
    }
    if from < 3 {
        config.insert("front_end".into(), "learned".into());
    }
    if from < 4 {
        config.insert("neuronal_noise".into(), 0.0.into());
    }
    config.insert("lr_decay".into(), 1.0.into());
    value["schema_version"] = SCHEMA_VERSION.into();
    Ok(())
}
