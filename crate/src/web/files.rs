//! The files a page session reads and writes: the data set's IDX files, weights (burnpack) and
//! results (JSON). Files cross the boundary as their bytes or text; a malformed file is refused
//! with a message and changes nothing.

use std::sync::Arc;

use burn::tensor::Device;
use js_sys::{Promise, Uint8Array};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::compare::{KeptModel, keep};
use super::convert::{js_error, to_js};
use super::inspect::{Filters, read_filters};
use super::lab::WebLab;
use super::state::{BusyGuard, CurrentModel, LoadedData};
use super::training::{Misclassified, gallery};
use crate::data::{DataSplit, ImageSet, Task};
use crate::error::LabError;
use crate::model::{
    check_weights_header, copy_to_device, load_weights_any_front_end, weights_to_bytes_async,
};
use crate::results::RunResults;
use crate::training::{ConfusionMatrix, EVAL_BATCH, EpochMetrics, evaluate};

#[derive(Serialize)]
struct DataInfo {
    task: &'static str,
    train_images: usize,
    test_images: usize,
}

#[derive(Serialize)]
struct EvaluationMetrics {
    test_accuracy: f64,
    test_loss: f64,
    confusion: ConfusionMatrix,
}

#[derive(Serialize)]
struct WeightsLoaded {
    metrics: EvaluationMetrics,
    misclassified: Vec<Misclassified>,
    filters: Option<Filters>,
    kept: KeptModel,
}

/// A checked results file: its text as the lab writes it (what the page downloads again, so
/// every number, a seed above 2^53 included, survives), and what the page shows of it.
#[derive(Serialize)]
struct ResultsFile {
    text: String,
    task: &'static str,
    rule: String,
    backend: String,
    epochs: Vec<EpochMetrics>,
    final_test_accuracy: f64,
    final_confusion: ConfusionMatrix,
}

#[wasm_bindgen]
impl WebLab {
    /// Parses a task's four IDX files (raw or gzip'd) and keeps them for training. Returns
    /// `{task, train_images, test_images}`.
    pub fn load_data(
        &self,
        task: &str,
        train_images: &[u8],
        train_labels: &[u8],
        test_images: &[u8],
        test_labels: &[u8],
    ) -> Result<JsValue, JsValue> {
        let info = self
            .with(|s| {
                let task = Task::from_id(task)
                    .ok_or_else(|| LabError::Config(format!("unknown task {task:?}")))?;
                if s.run
                    .as_ref()
                    .is_some_and(|r| r.trainer.config().task != task)
                {
                    return Err(LabError::State(
                        "a run of another data set is in progress; stop it first".into(),
                    ));
                }
                let train = ImageSet::from_idx_bytes(
                    "train-images",
                    train_images,
                    "train-labels",
                    train_labels,
                )?;
                let test = ImageSet::from_idx_bytes(
                    "test-images",
                    test_images,
                    "test-labels",
                    test_labels,
                )?;
                let info = DataInfo {
                    task: task.id(),
                    train_images: train.len(),
                    test_images: test.len(),
                };
                s.data = Some(LoadedData {
                    task,
                    split: Arc::new(DataSplit { train, test }),
                });
                Ok(info)
            })
            .map_err(js_error)?;
        to_js(&info)
    }

    /// The results file of the run in progress or of the last run (finished, stopped or
    /// diverged), once at least one epoch has finished.
    pub fn results_file(&self) -> Result<String, JsValue> {
        self.with(|s| {
            let results = match (&s.run, &s.record) {
                (Some(run), _) => super::state::RunRecord::of(run)
                    .ok_or_else(|| LabError::State("no epoch has finished yet: no results".into()))?
                    .results()?,
                (None, Some(record)) => record.results()?,
                (None, None) => {
                    return Err(LabError::State(
                        "no results yet: a run must finish at least one epoch".into(),
                    ));
                }
            };
            results.to_json()
        })
        .map_err(js_error)
    }

    /// Checks a results file (schema version, shapes, consistency) and returns its normalised
    /// text with what the page shows of it.
    pub fn check_results(text: &str) -> Result<JsValue, JsValue> {
        let r = RunResults::from_json(text).map_err(js_error)?;
        let text = r.to_json().map_err(js_error)?;
        to_js(&ResultsFile {
            text,
            task: r.config.task.id(),
            rule: r.config.rule,
            backend: r.backend,
            epochs: r.epochs,
            final_test_accuracy: r.final_test_accuracy,
            final_confusion: r.final_confusion,
        })
    }

    /// The current model's weights as a burnpack file (resolves to a `Uint8Array`).
    pub fn weights(&self) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let _guard = BusyGuard::take(&state).map_err(js_error)?;
            let model = state.borrow().current_model().map_err(js_error)?;
            let bytes = weights_to_bytes_async(&model).await.map_err(js_error)?;
            Ok(Uint8Array::from(bytes.as_slice()).into())
        })
    }

    /// Loads a burnpack weights file (`name` for the model's name) as a model of `task`,
    /// evaluates it on that task's test set (which must be loaded), makes it the current model
    /// and keeps it for the comparisons; the last run's results stay downloadable. The file's
    /// size and header are checked before it is copied into wasm memory. Refused during a run.
    /// A malformed file rejects with a message and changes nothing. Resolves to `{metrics:
    /// {test_accuracy, test_loss, confusion}, misclassified, filters, kept}`.
    pub fn load_weights(&self, bytes: Uint8Array, name: String, task: String) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let task =
                Task::from_id(&task).ok_or_else(|| js_error(format!("unknown task {task:?}")))?;
            let len = bytes.length() as usize;
            let head = bytes.subarray(0, bytes.length().min(64)).to_vec();
            check_weights_header(&head, len).map_err(js_error)?;
            let guard = BusyGuard::take(&state).map_err(js_error)?;
            let (device, test) = {
                let s = state.borrow();
                if s.run.is_some() {
                    return Err(js_error(LabError::State(
                        "stop the training run before loading weights".into(),
                    )));
                }
                (s.device(), s.test_set_of(task).map_err(js_error)?)
            };
            let bytes = bytes.to_vec();
            let host = load_weights_any_front_end(&bytes, &Device::flex()).map_err(js_error)?;
            drop(bytes);
            let model = copy_to_device(&host, &device).await.map_err(js_error)?;
            let evaluation = evaluate(&model, &test, EVAL_BATCH, &device)
                .await
                .map_err(js_error)?;
            let filters = read_filters(&model).await.ok();
            drop(guard);
            let mut s = state.borrow_mut();
            let label = format!("loaded {name}");
            let kept = keep(&mut s, model.clone(), task, None, &label);
            s.model = Some(CurrentModel {
                net: model,
                task,
                name: kept.name.clone(),
            });
            to_js(&WeightsLoaded {
                metrics: EvaluationMetrics {
                    test_accuracy: evaluation.accuracy,
                    test_loss: evaluation.mean_loss,
                    confusion: evaluation.confusion.clone(),
                },
                misclassified: gallery(&evaluation, &test),
                filters,
                kept,
            })
        })
    }
}
