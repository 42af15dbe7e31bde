//! [`WebLab`]: one browser session's data, device, training run and trained model.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use burn::prelude::*;
use burn::tensor::activation::softmax;
use js_sys::Promise;
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::backend::{self, Backend, BackendKind};
use super::compare::SessionModel;
use crate::data::{DataSplit, ImageSet, Task, normalize_pixel};
use crate::error::{LabError, Result};
use crate::model::{SeedNet, copy_to_device, load_weights_any_front_end, weights_to_bytes_async};
use crate::results::{DataInfo, RunResults};
use crate::rules::RULES;
use crate::training::{
    EVAL_BATCH, Evaluation, TrainConfig, Trainer, evaluate, limit_data, read_f32,
};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(message: &str);
}

/// The most misclassified test images sent to the page's gallery.
const GALLERY_LIMIT: usize = 60;

pub(super) struct LoadedData {
    pub(super) task: Task,
    pub(super) split: Arc<DataSplit>,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) backend: Option<Backend>,
    webgpu: Option<Backend>,
    pub(super) data: Option<LoadedData>,
    /// The run in progress (taken out of the cell while a batch runs).
    pub(super) trainer: Option<Trainer>,
    /// True while an async call has taken state out of the cell.
    busy: bool,
    /// A model loaded from a weights file, for inference (on the current device, no autodiff).
    pub(super) loaded: Option<SeedNet>,
    last_evaluation: Option<Evaluation>,
    /// Models finished in this session, for the representation comparison (`compare.rs`).
    pub(super) models: Vec<SessionModel>,
}

pub(super) fn js_error(e: impl std::fmt::Display) -> JsValue {
    JsError::new(&e.to_string()).into()
}

fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| LabError::Results(e.to_string()))
}

#[derive(Serialize)]
struct Misclassified {
    index: usize,
    label: u8,
    predicted: u8,
    pixels: Vec<u8>,
}

#[derive(Serialize)]
struct EpochReport<'a> {
    metrics: &'a crate::training::EpochMetrics,
    misclassified: Vec<Misclassified>,
}

fn gallery(evaluation: &Evaluation, test: &ImageSet) -> Vec<Misclassified> {
    evaluation
        .predictions
        .iter()
        .enumerate()
        .filter(|&(i, &p)| test.labels()[i] != p)
        .take(GALLERY_LIMIT)
        .map(|(i, &p)| Misclassified {
            index: i,
            label: test.labels()[i],
            predicted: p,
            pixels: test.image(i).to_vec(),
        })
        .collect()
}

/// One browser session of the lab. Created by the worker; see the module docs for the rules
/// every method follows.
#[wasm_bindgen]
pub struct WebLab {
    pub(super) state: Rc<RefCell<State>>,
}

impl WebLab {
    /// Runs `f` with the state borrowed, failing cleanly if an async call holds it.
    pub(super) fn with<T>(&self, f: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
        let mut state = self
            .state
            .try_borrow_mut()
            .map_err(|_| LabError::Config("the lab is busy; try again".into()))?;
        if state.busy {
            return Err(LabError::Config(
                "the lab is busy with another request".into(),
            ));
        }
        f(&mut state)
    }
}

/// Marks the state busy for the lifetime of an async call, and clears the mark on every exit path.
pub(super) struct BusyGuard(Rc<RefCell<State>>);

impl BusyGuard {
    pub(super) fn take(state: &Rc<RefCell<State>>) -> Result<Self> {
        let mut s = state
            .try_borrow_mut()
            .map_err(|_| LabError::Config("the lab is busy; try again".into()))?;
        if s.busy {
            return Err(LabError::Config(
                "the lab is busy with another request".into(),
            ));
        }
        s.busy = true;
        Ok(Self(state.clone()))
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        if let Ok(mut s) = self.0.try_borrow_mut() {
            s.busy = false;
        }
    }
}

pub(super) fn current_device(state: &State) -> Device {
    state
        .backend
        .as_ref()
        .map(|b| b.device.clone())
        .unwrap_or_else(Device::flex)
}

#[wasm_bindgen]
impl WebLab {
    #[wasm_bindgen(constructor)]
    pub fn new() -> WebLab {
        // A panic should never happen; if one does, say where before the module dies.
        std::panic::set_hook(Box::new(|info| {
            console_error(&format!("microlearning panic: {info}"))
        }));
        WebLab {
            state: Rc::new(RefCell::new(State {
                backend: Some(backend::cpu()),
                ..State::default()
            })),
        }
    }

    /// The learning rules as JSON `[{id, name, summary, learning_rate}]`, for the page's menu.
    pub fn rules() -> String {
        let list: Vec<_> = RULES
            .iter()
            .map(|r| serde_json::json!({"id": r.id, "name": r.name, "summary": r.summary, "learning_rate": r.learning_rate}))
            .collect();
        serde_json::Value::Array(list).to_string()
    }

    /// `{kind, description}` of the backend in use.
    pub fn backend_info(&self) -> std::result::Result<String, JsValue> {
        self.with(|s| {
            let b = s.backend.clone().unwrap_or_else(backend::cpu);
            Ok(serde_json::json!({"kind": b.kind.id(), "description": b.description}).to_string())
        })
        .map_err(js_error)
    }

    /// Switches to "cpu" or "webgpu" (resolving to the backend info JSON). WebGPU is initialised
    /// on first use; a failure rejects and leaves the session on its current backend. A loaded
    /// model follows to the new device; a run in progress must be stopped first.
    pub fn set_backend(&self, kind: String) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let guard = BusyGuard::take(&state).map_err(js_error)?;
            let (has_run, cached_gpu, loaded) = {
                let mut s = state.borrow_mut();
                (s.trainer.is_some(), s.webgpu.clone(), s.loaded.take())
            };
            let result: Result<Backend> = async {
                if has_run {
                    return Err(LabError::Config(
                        "stop the training run before switching backends".into(),
                    ));
                }
                match kind.as_str() {
                    "cpu" => Ok(backend::cpu()),
                    "webgpu" => match cached_gpu {
                        Some(b) => Ok(b),
                        None => backend::webgpu().await.map_err(LabError::Device),
                    },
                    other => Err(LabError::Config(format!("unknown backend {other:?}"))),
                }
            }
            .await;
            let outcome = match result {
                Ok(new_backend) => {
                    let moved = match &loaded {
                        Some(m) => copy_to_device(m, &new_backend.device).await.map(Some),
                        None => Ok(None),
                    };
                    match moved {
                        Ok(model) => {
                            let mut s = state.borrow_mut();
                            if new_backend.kind == BackendKind::WebGpu {
                                s.webgpu = Some(new_backend.clone());
                            }
                            s.loaded = model;
                            s.backend = Some(new_backend.clone());
                            Ok(serde_json::json!({"kind": new_backend.kind.id(), "description": new_backend.description}).to_string())
                        }
                        Err(e) => {
                            state.borrow_mut().loaded = loaded;
                            Err(e)
                        }
                    }
                }
                Err(e) => {
                    state.borrow_mut().loaded = loaded;
                    Err(e)
                }
            };
            drop(guard);
            outcome.map(JsValue::from).map_err(js_error)
        })
    }

    /// Parses a task's four IDX files (raw or gzip'd) and keeps them for training. Returns
    /// `{task, train_images, test_images}`.
    pub fn load_data(
        &self,
        task: &str,
        train_images: &[u8],
        train_labels: &[u8],
        test_images: &[u8],
        test_labels: &[u8],
    ) -> std::result::Result<String, JsValue> {
        let parsed: Result<String> = (|| {
            let task = Task::from_id(task)
                .ok_or_else(|| LabError::Config(format!("unknown task {task:?}")))?;
            let train = ImageSet::from_idx_bytes(
                "train-images",
                train_images,
                "train-labels",
                train_labels,
            )?;
            let test =
                ImageSet::from_idx_bytes("test-images", test_images, "test-labels", test_labels)?;
            let info = serde_json::json!({
                "task": task.id(), "train_images": train.len(), "test_images": test.len()
            });
            self.with(|s| {
                s.data = Some(LoadedData {
                    task,
                    split: Arc::new(DataSplit { train, test }),
                });
                Ok(())
            })?;
            Ok(info.to_string())
        })();
        parsed.map_err(js_error)
    }

    /// Starts a run from a `TrainConfig` JSON (the CLI's schema). Returns
    /// `{batches_per_epoch, train_images, test_images}`.
    pub fn start(&self, config_json: &str) -> std::result::Result<String, JsValue> {
        self.with(|s| {
            let config: TrainConfig = serde_json::from_str(config_json)
                .map_err(|e| LabError::Config(format!("config: {e}")))?;
            let data = s
                .data
                .as_ref()
                .ok_or_else(|| LabError::Config("load a data set first".into()))?;
            if data.task != config.task {
                return Err(LabError::Config(format!(
                    "the loaded data set is {}, the config asks for {}",
                    data.task.id(),
                    config.task.id()
                )));
            }
            let split = Arc::new(limit_data(&data.split, &config));
            let trainer = Trainer::new(config, split.clone(), current_device(s))?;
            let info = serde_json::json!({
                "batches_per_epoch": trainer.batches_per_epoch(),
                "train_images": split.train.len(),
                "test_images": split.test.len(),
            });
            s.trainer = Some(trainer);
            s.loaded = None;
            s.last_evaluation = None;
            Ok(info.to_string())
        })
        .map_err(js_error)
    }

    /// Abandons the run in progress (its finished epochs are lost unless saved).
    pub fn stop(&self) -> std::result::Result<(), JsValue> {
        self.with(|s| {
            if let Some(trainer) = s.trainer.take() {
                // Keep the partly trained model usable for drawing and download.
                s.loaded = Some(trainer.model().valid());
            }
            Ok(())
        })
        .map_err(js_error)
    }

    /// Adds the worker's wall-clock measure of a batch to the epoch's training time (the
    /// library has no clock of its own in wasm).
    pub fn add_train_seconds(&self, seconds: f64) -> std::result::Result<(), JsValue> {
        self.with(|s| {
            if let Some(trainer) = s.trainer.as_mut() {
                trainer.add_train_seconds(seconds);
            }
            Ok(())
        })
        .map_err(js_error)
    }

    /// Runs one batch. Resolves to `{epoch, batch, loss, images, epoch_complete}` (0-based).
    pub fn train_batch(&self) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let guard = BusyGuard::take(&state).map_err(js_error)?;
            let mut trainer = state
                .borrow_mut()
                .trainer
                .take()
                .ok_or_else(|| js_error("no training run; press Start"))?;
            let result = trainer.train_batch().await;
            let complete = trainer.epoch_complete();
            let failed = result.is_err();
            if !failed {
                state.borrow_mut().trainer = Some(trainer);
            }
            drop(guard);
            let report = result.map_err(js_error)?;
            Ok(JsValue::from(
                serde_json::json!({
                    "epoch": report.epoch, "batch": report.batch, "loss": report.loss,
                    "images": report.images, "epoch_complete": complete,
                })
                .to_string(),
            ))
        })
    }

    /// Evaluates on the test set and closes the epoch. Resolves to
    /// `{metrics, misclassified: [{index, label, predicted, pixels}]}`.
    pub fn finish_epoch(&self) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let guard = BusyGuard::take(&state).map_err(js_error)?;
            let mut trainer = state
                .borrow_mut()
                .trainer
                .take()
                .ok_or_else(|| js_error("no training run"))?;
            let result = trainer.finish_epoch().await;
            let out = result.and_then(|metrics| {
                let evaluation = trainer
                    .last_evaluation()
                    .cloned()
                    .ok_or_else(|| LabError::Results("no evaluation".into()))?;
                let json = to_json(&EpochReport {
                    metrics: &metrics,
                    misclassified: gallery(&evaluation, &trainer.data().test),
                })?;
                Ok((json, evaluation))
            });
            let mut s = state.borrow_mut();
            s.trainer = Some(trainer);
            drop(s);
            drop(guard);
            let (json, evaluation) = out.map_err(js_error)?;
            state.borrow_mut().last_evaluation = Some(evaluation);
            Ok(JsValue::from(json))
        })
    }

    /// The run's results file (the CLI's schema), once at least one epoch has finished.
    pub fn results_json(&self, backend_label: &str) -> std::result::Result<String, JsValue> {
        self.with(|s| {
            let trainer = s
                .trainer
                .as_ref()
                .ok_or_else(|| LabError::Results("no training run".into()))?;
            let data = trainer.data();
            RunResults::new(
                backend_label.to_string(),
                trainer.config().clone(),
                DataInfo {
                    task: trainer.config().task.id().into(),
                    train_images: data.train.len(),
                    test_images: data.test.len(),
                    source: "shipped with the page (data/)".into(),
                },
                trainer.history().to_vec(),
            )?
            .to_json()
        })
        .map_err(js_error)
    }

    /// Checks a results file (schema version, shapes, consistency) and returns it normalised.
    pub fn check_results(text: &str) -> std::result::Result<String, JsValue> {
        RunResults::from_json(text)
            .and_then(|r| r.to_json())
            .map_err(js_error)
    }

    /// The current model's weights as a burnpack file (resolves to a `Uint8Array`).
    pub fn weights(&self) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let model = {
                let s = state.borrow();
                current_model(&s).map_err(js_error)?
            };
            let bytes = weights_to_bytes_async(&model).await.map_err(js_error)?;
            Ok(js_sys::Uint8Array::from(bytes.as_slice()).into())
        })
    }

    /// Loads a burnpack weights file for drawing and evaluation; ends any run in progress.
    /// A malformed file rejects with a message and changes nothing.
    pub fn load_weights(&self, bytes: Vec<u8>) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let guard = BusyGuard::take(&state).map_err(js_error)?;
            let device = current_device(&state.borrow());
            let result = async {
                let host = load_weights_any_front_end(&bytes, &Device::flex())?;
                copy_to_device(&host, &device).await
            }
            .await;
            let model = result.map_err(js_error)?;
            let mut s = state.borrow_mut();
            s.trainer = None;
            s.loaded = Some(model);
            s.last_evaluation = None;
            drop(s);
            drop(guard);
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Evaluates the current model on the loaded test set; resolves like `finish_epoch` with
    /// `metrics` holding `{test_accuracy, test_loss, confusion}`.
    pub fn evaluate(&self) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let (model, test, device) = model_and_test_set(&state.borrow())?;
            let evaluation = evaluate(&model, &test, EVAL_BATCH, &device)
                .await
                .map_err(js_error)?;
            let json = serde_json::json!({
                "metrics": {
                    "test_accuracy": evaluation.accuracy,
                    "test_loss": evaluation.mean_loss,
                    "confusion": evaluation.confusion,
                },
                "misclassified": gallery(&evaluation, &test),
            });
            state.borrow_mut().last_evaluation = Some(evaluation);
            Ok(JsValue::from(json.to_string()))
        })
    }

    /// The first layer's kernels as JSON `{front_end, channels, size, values}` (`values`
    /// row-major, `channels × size × size`). The Gabor bank has 48: 16 simple cells, then the
    /// complex cells' even and odd filters.
    pub fn filters(&self) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let model = current_model(&state.borrow()).map_err(js_error)?;
            let [channels, _, size, _] = model.conv1.weight.val().dims();
            let values = read_f32(model.conv1.weight.val()).await.map_err(js_error)?;
            let json = serde_json::json!({
                "front_end": model.front_end.id(), "channels": channels, "size": size, "values": values,
            });
            Ok(JsValue::from(json.to_string()))
        })
    }

    /// The front ends as JSON `[{id, name, summary}]`, for the page's menu.
    pub fn front_ends() -> String {
        let list: Vec<_> = crate::frontends::FRONT_ENDS
            .iter()
            .map(|f| serde_json::json!({"id": f.id, "name": f.name, "summary": f.summary}))
            .collect();
        serde_json::Value::Array(list).to_string()
    }

    /// Class probabilities for one 28×28 image of raw intensities 0..=255 (784 values, row-major,
    /// white digit on black as in MNIST). Resolves to a `Float32Array` of 10.
    pub fn predict(&self, pixels: Vec<f32>) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            if pixels.len() != 784 || pixels.iter().any(|v| !v.is_finite()) {
                return Err(js_error("predict needs 784 finite pixel values"));
            }
            let (model, device) = {
                let s = state.borrow();
                (current_model(&s).map_err(js_error)?, current_device(&s))
            };
            let input: Vec<f32> = pixels
                .iter()
                .map(|&p| normalize_pixel(p.clamp(0.0, 255.0)))
                .collect();
            let x = Tensor::<4>::from_data(TensorData::new(input, [1, 1, 28, 28]), &device); // [1, 1, 28, 28]
            let probs = softmax(model.logits(x), 1); // [1, 10]
            let values = read_f32(probs).await.map_err(js_error)?;
            Ok(js_sys::Float32Array::from(values.as_slice()).into())
        })
    }
}

impl Default for WebLab {
    fn default() -> Self {
        Self::new()
    }
}

/// The model to show, draw on and save: the run's, else a loaded one. Without autodiff.
/// The current model, the loaded test set and the device they run on: what every look at the
/// model (evaluation, response maps, robustness) starts from. Errors name what is missing.
pub(super) fn model_and_test_set(
    state: &State,
) -> std::result::Result<(SeedNet, ImageSet, Device), JsValue> {
    let model = current_model(state).map_err(js_error)?;
    let test = state
        .data
        .as_ref()
        .map(|d| d.split.test.clone())
        .ok_or_else(|| js_error("load a data set first"))?;
    Ok((model, test, current_device(state)))
}

pub(super) fn current_model(state: &State) -> Result<SeedNet> {
    if let Some(trainer) = &state.trainer {
        return Ok(trainer.model().valid());
    }
    state
        .loaded
        .clone()
        .ok_or_else(|| LabError::Config("no model yet: train one or load weights".into()))
}
