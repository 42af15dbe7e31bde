//! A training run in the page, one batch per call, so the worker can pause, stop and answer the
//! drawing pad in between. A run that ends in any way (finished, stopped, diverged, a device
//! error) leaves its finished epochs downloadable and a model to use.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use burn::module::Module;

use js_sys::{Float32Array, Promise, Uint8Array};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::compare::{KeptModel, keep};
use super::convert::{from_js, js_error, to_js};
use super::inspect::{Filters, read_filters};
use super::lab::{WebLab, status};
use super::state::{BusyGuard, CurrentModel, Run, RunRecord, State};
use crate::data::ImageSet;
use crate::error::LabError;
use crate::training::{
    BatchReport, EpochMetrics, Evaluation, ShardUpdate, TrainConfig, Trainer, limit_data,
};

/// The most misclassified test images sent to the page's gallery.
const GALLERY_LIMIT: usize = 60;

#[derive(Serialize)]
struct StartInfo {
    batches_per_epoch: usize,
    epochs: usize,
    train_images: usize,
    test_images: usize,
}

#[derive(Serialize)]
struct BatchInfo {
    /// 0-based.
    epoch: usize,
    batch: usize,
    loss: f32,
    images: usize,
    /// Wall-clock time of `Trainer::train_batch`, timed here with `performance.now()` (the
    /// page sends none) and added to the epoch's training time: the rule's step, the loss read
    /// back, the diagnostics on a batch that takes them, and the update (on WebGPU its queued
    /// work may finish inside the next batch's read-back).
    seconds: f64,
    epoch_complete: bool,
}

/// One shard's update across the boundary, between the page's CPU workers (see
/// `training::shards`): its mean loss, its images and the flattened update.
#[derive(Serialize, Deserialize)]
struct ShardJs {
    loss: f32,
    images: usize,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    values: Float32Array,
}

impl ShardJs {
    fn of(update: &ShardUpdate) -> Self {
        Self {
            loss: update.loss,
            images: update.images,
            values: Float32Array::from(update.values.as_slice()),
        }
    }

    fn update(&self) -> ShardUpdate {
        ShardUpdate {
            loss: self.loss,
            images: self.images,
            values: self.values.to_vec(),
        }
    }
}

fn batch_info(report: &BatchReport, seconds: f64, epoch_complete: bool) -> BatchInfo {
    BatchInfo {
        epoch: report.epoch,
        batch: report.batch,
        loss: report.loss,
        images: report.images,
        seconds,
        epoch_complete,
    }
}

#[derive(Serialize)]
pub(super) struct Misclassified {
    index: usize,
    label: u8,
    predicted: u8,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    pixels: Uint8Array,
}

pub(super) fn gallery(evaluation: &Evaluation, test: &ImageSet) -> Vec<Misclassified> {
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
            pixels: Uint8Array::from(test.image(i)),
        })
        .collect()
}

#[derive(Serialize)]
struct EpochReport {
    metrics: EpochMetrics,
    misclassified: Vec<Misclassified>,
    filters: Option<Filters>,
    /// The last epoch: the run is over, its model kept for the comparisons.
    run_finished: bool,
    kept: Option<KeptModel>,
}

/// How a run ended.
pub(super) enum Ending {
    Finished,
    Stopped,
    Failed,
}

/// Ends `run`: its finished epochs become the downloadable record, and the model to use is the
/// finished one, the stopped one as it is, or, for a failed run, the one at its last finished
/// epoch (none if it finished none). A finished run's model is kept for the comparisons.
pub(super) fn end_run(s: &mut State, run: Run, ending: Ending) -> Option<KeptModel> {
    s.record = RunRecord::of(&run);
    let c = run.trainer.config();
    let label = format!("{} · {} · seed {}", c.rule, c.front_end.id(), c.seed);
    let (task, rule) = (c.task, Some(c.rule.clone()));
    let net = match ending {
        Ending::Finished | Ending::Stopped => Some(run.trainer.model().valid()),
        Ending::Failed => run.at_last_epoch,
    };
    s.model = None;
    let net = net?;
    match ending {
        Ending::Finished => {
            let kept = keep(s, net.clone(), task, rule, &label);
            s.model = Some(CurrentModel {
                net,
                task,
                name: kept.name.clone(),
            });
            Some(kept)
        }
        Ending::Stopped => {
            s.model = Some(CurrentModel {
                net,
                task,
                name: format!("{label} (stopped)"),
            });
            None
        }
        Ending::Failed => {
            s.model = Some(CurrentModel {
                net,
                task,
                name: format!("{label} (as of its last finished epoch)"),
            });
            None
        }
    }
}

/// What the page says when a batch or an evaluation fails: the cause, and what was kept.
fn failure_message(e: &LabError, s: &State) -> String {
    let cause = match e {
        LabError::Diverged {
            epoch,
            batch,
            loss,
            limit,
        } => format!(
            "training diverged at epoch {epoch}, batch {batch}: loss = {loss} (limit {limit}). \
             Try a smaller learning rate"
        ),
        other => other.to_string(),
    };
    match &s.record {
        Some(r) => format!(
            "{cause}. The run's {} finished epoch(s) are kept: download their results, and the \
             model as of the last one is in use",
            r.epochs()
        ),
        None => format!("{cause}. No epoch had finished, so there are no results"),
    }
}

/// Marks the lab busy and takes the run out of the state for an async step; the caller puts it
/// back or ends it.
fn take_run(state: &Rc<RefCell<State>>) -> Result<(BusyGuard, Run), JsValue> {
    let guard = BusyGuard::take(state).map_err(js_error)?;
    let run = state
        .borrow_mut()
        .run
        .take()
        .ok_or_else(|| js_error(LabError::State("no training run; press Start".into())))?;
    Ok((guard, run))
}

/// Milliseconds on the page's clock (`performance.now()`, the worker's or the window's).
fn now_ms() -> f64 {
    js_sys::global()
        .unchecked_into::<web_sys::WorkerGlobalScope>()
        .performance()
        .map_or(0.0, |p| p.now())
}

#[wasm_bindgen]
impl WebLab {
    /// Starts a run from a `TrainConfig` (the CLI's schema; `seed` may be a BigInt). Resolves
    /// to `{batches_per_epoch, epochs, train_images, test_images}`.
    pub fn start(&self, config: JsValue) -> Result<JsValue, JsValue> {
        let config: TrainConfig = from_js("config", config)?;
        let info = self
            .with(|s| {
                if s.run.is_some() {
                    return Err(LabError::State("a run is already in progress".into()));
                }
                config.validate()?;
                s.backend.check_batch_size(config.batch_size)?;
                let data = s
                    .data
                    .as_ref()
                    .ok_or_else(|| LabError::State("load a data set first".into()))?;
                if data.task != config.task {
                    return Err(LabError::State(format!(
                        "the loaded data set is {}, the config asks for {}",
                        data.task.id(),
                        config.task.id()
                    )));
                }
                let split = Arc::new(limit_data(&data.split, &config));
                let epochs = config.epochs;
                let trainer = Trainer::new(config, split.clone(), s.device())?;
                let info = StartInfo {
                    batches_per_epoch: trainer.batches_per_epoch(),
                    epochs,
                    train_images: split.train.len(),
                    test_images: split.test.len(),
                };
                s.run = Some(Run {
                    trainer,
                    backend: s.backend.description.clone(),
                    at_last_epoch: None,
                });
                s.model = None;
                s.record = None;
                Ok(info)
            })
            .map_err(js_error)?;
        to_js(&info)
    }

    /// Ends the run in progress: the model so far stays in use, its finished epochs stay
    /// downloadable. Returns the status.
    pub fn stop(&self) -> Result<JsValue, JsValue> {
        let status = self
            .with(|s| {
                if let Some(run) = s.run.take() {
                    end_run(s, run, Ending::Stopped);
                }
                Ok(status(s))
            })
            .map_err(js_error)?;
        to_js(&status)
    }

    /// Runs one batch and times it. Resolves to `{epoch, batch, loss, images, seconds,
    /// epoch_complete}` (0-based; `seconds` as `BatchInfo` says). A failure ends the run (see
    /// `end_run`) and rejects with what was kept.
    pub fn train_batch(&self) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let (guard, mut run) = take_run(&state)?;
            let t0 = now_ms();
            let result = run.trainer.train_batch().await;
            let seconds = (now_ms() - t0) / 1000.0;
            drop(guard);
            let mut s = state.borrow_mut();
            match result {
                Ok(report) => {
                    run.trainer.add_train_seconds(seconds);
                    let epoch_complete = run.trainer.epoch_complete();
                    s.run = Some(run);
                    to_js(&batch_info(&report, seconds, epoch_complete))
                }
                Err(e) => {
                    end_run(&mut s, run, Ending::Failed);
                    Err(js_error(failure_message(&e, &s)))
                }
            }
        })
    }

    /// Evaluates on the test set and closes the epoch. Resolves to `{metrics, misclassified:
    /// [{index, label, predicted, pixels}], filters, run_finished, kept}`; after the last epoch
    /// the run is over and its model kept (`kept: {count, name}`).
    pub fn finish_epoch(&self) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let (guard, mut run) = take_run(&state)?;
            let metrics = match run.trainer.finish_epoch().await {
                Ok(m) => m,
                Err(e) => {
                    drop(guard);
                    let mut s = state.borrow_mut();
                    end_run(&mut s, run, Ending::Failed);
                    return Err(js_error(failure_message(&e, &s)));
                }
            };
            let model = run.trainer.model().valid();
            let filters = read_filters(&model).await.ok();
            let misclassified = run
                .trainer
                .last_evaluation()
                .map(|e| gallery(e, &run.trainer.data().test))
                .unwrap_or_default();
            run.at_last_epoch = Some(model);
            let run_finished = run.trainer.finished();
            drop(guard);
            let mut s = state.borrow_mut();
            let kept = if run_finished {
                end_run(&mut s, run, Ending::Finished)
            } else {
                s.run = Some(run);
                None
            };
            to_js(&EpochReport {
                metrics,
                misclassified,
                filters,
                run_finished,
                kept,
            })
        })
    }
}

/// Data-parallel training (the page's CPU workers; see `training::shards` and www/shards.js):
/// every worker runs a replica of the same run, computes its shard of each batch, and applies
/// the average that the first worker (the one the page talks to) hands round.
#[wasm_bindgen]
impl WebLab {
    /// Computes this replica's shard `part` of `parts` of batch `batch` of epoch `epoch`
    /// (0-based; a replica that is elsewhere is out of step and refuses). Resolves to
    /// `{loss, images, values: Float32Array}`. A failure ends the run like `train_batch`'s.
    pub fn shard_update(&self, part: usize, parts: usize, epoch: usize, batch: usize) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let (guard, mut run) = take_run(&state)?;
            let at = (run.trainer.epoch(), run.trainer.batch_in_epoch());
            let result = if at != (epoch, batch) {
                Err(LabError::State(format!(
                    "this replica is at epoch {} batch {}, asked for epoch {} batch {}",
                    at.0 + 1,
                    at.1 + 1,
                    epoch + 1,
                    batch + 1
                )))
            } else {
                run.trainer.shard_update(part, parts).await
            };
            drop(guard);
            let mut s = state.borrow_mut();
            match result {
                Ok(update) => {
                    s.run = Some(run);
                    to_js(&ShardJs::of(&update))
                }
                Err(e) => {
                    end_run(&mut s, run, Ending::Failed);
                    Err(js_error(failure_message(&e, &s)))
                }
            }
        })
    }

    /// Applies the batch: `shards` (`[{loss, images, values}]`, every shard's update, this
    /// replica's included, in shard order, or their average alone, applied as it is).
    /// `seconds` is the batch's wall-clock time before this call, to which this call's own is
    /// added. Resolves to `train_batch`'s report.
    pub fn apply_shards(&self, shards: JsValue, seconds: f64) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let t0 = now_ms();
            let shards: Vec<ShardJs> = from_js("shards", shards)?;
            let shards: Vec<ShardUpdate> = shards.iter().map(ShardJs::update).collect();
            let (guard, mut run) = take_run(&state)?;
            let result = run.trainer.apply_shards(&shards).await;
            drop(guard);
            let mut s = state.borrow_mut();
            match result {
                Ok((report, _average)) => {
                    let seconds = seconds + (now_ms() - t0) / 1000.0;
                    run.trainer.add_train_seconds(seconds);
                    let epoch_complete = run.trainer.epoch_complete();
                    s.run = Some(run);
                    to_js(&batch_info(&report, seconds, epoch_complete))
                }
                Err(e) => {
                    end_run(&mut s, run, Ending::Failed);
                    Err(js_error(failure_message(&e, &s)))
                }
            }
        })
    }

    /// The batch's update from every shard's (`[{loss, images, values}]`, in shard order):
    /// their average by image count, which the first worker hands round and then applies with
    /// `apply_shards([average])`. Changes nothing, except that a diverged loss ends the run as
    /// `train_batch` would.
    pub fn average_shards(&self, shards: JsValue) -> Result<JsValue, JsValue> {
        let shards: Vec<ShardJs> = from_js("shards", shards)?;
        let shards: Vec<ShardUpdate> = shards.iter().map(ShardJs::update).collect();
        let mut s = self.state.borrow_mut();
        let run = s
            .run
            .take()
            .ok_or_else(|| js_error(LabError::State("no training run; press Start".into())))?;
        match run.trainer.average_shards(&shards) {
            Ok(average) => {
                s.run = Some(run);
                to_js(&ShardJs::of(&average))
            }
            Err(e) => {
                end_run(&mut s, run, Ending::Failed);
                Err(js_error(failure_message(&e, &s)))
            }
        }
    }

    /// A replica's end of epoch: the next epoch begins (reshuffled like the first worker's)
    /// without the test-set evaluation, which the first worker does.
    pub fn advance_epoch(&self) -> Result<(), JsValue> {
        self.with(|s| {
            let run = s
                .run
                .as_mut()
                .ok_or_else(|| LabError::State("no training run".into()))?;
            run.trainer.advance_epoch()
        })
        .map_err(js_error)
    }
}
