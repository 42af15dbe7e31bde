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
        results.check()?;
        Ok(results)
    }
}

impl RunResults {
    /// What a results file must satisfy beyond its schema: a valid run configuration, at least
    /// one epoch, epochs numbered 1, 2, … up to the configured count, 10×10 confusion matrices
    /// of the test set's size whose accuracy is the one reported, and the final figures equal
    /// to the last epoch's. A file that fails any of these was not written by the lab.
    fn check(&self) -> Result<()> {
        let bad = |msg: String| Err(LabError::Results(msg));
        self.config
            .validate()
            .map_err(|e| LabError::Results(format!("its run configuration is invalid ({e})")))?;
        if self.data.task != self.config.task.id() {
            return bad(format!(
                "data.task {:?} disagrees with config.task {:?}",
                self.data.task,
                self.config.task.id()
            ));
        }
        let Some(last) = self.epochs.last() else {
            return bad("it has no epochs".into());
        };
        if self.epochs.len() > self.config.epochs {
            return bad(format!(
                "it has {} epochs, its configuration asks for {}",
                self.epochs.len(),
                self.config.epochs
            ));
        }
        let check_confusion = |what: &str, c: &ConfusionMatrix, accuracy: f64| -> Result<()> {
            if c.0.len() != 10 || c.0.iter().any(|row| row.len() != 10) {
                return bad(format!("the {what} confusion matrix is not 10×10"));
            }
            let total: u64 = c.0.iter().flatten().map(|&n| u64::from(n)).sum();
            if total != self.data.test_images as u64 {
                return bad(format!(
                    "the {what} confusion matrix counts {total} test images, data.test_images \
                     says {}",
                    self.data.test_images
                ));
            }
            if !accuracy.is_finite() || (c.accuracy() - accuracy).abs() > 1e-9 {
                return bad(format!(
                    "the {what} test accuracy {accuracy} disagrees with its confusion matrix ({})",
                    c.accuracy()
                ));
            }
            Ok(())
        };
        for (i, e) in self.epochs.iter().enumerate() {
            if e.epoch != i + 1 {
                return bad(format!("epoch {} is numbered {}", i + 1, e.epoch));
            }
            check_confusion(&format!("epoch {}", e.epoch), &e.confusion, e.test_accuracy)?;
        }
        check_confusion("final", &self.final_confusion, self.final_test_accuracy)?;
        if self.final_confusion != last.confusion {
            return bad("the final confusion matrix is not the last epoch's".into());
        }
        Ok(())
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
