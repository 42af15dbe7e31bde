//! Comparing the representations of the models kept in one browser session: the page's view
//! of `analysis` (linear CKA between models and between layers, class RDMs, PCA).

use std::rc::Rc;

use js_sys::{Function, Promise};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::convert::{js_error, report, to_js};
use super::lab::WebLab;
use super::state::{BusyGuard, State, with};
use crate::analysis::{
    ComparisonOptions, LayerCapture, ProbeInfo, capture_layers, compare, probe_indices,
};
use crate::data::Task;
use crate::error::LabError;
use crate::model::SeedNet;

/// A finished or loaded model kept for comparison, with its capture once computed.
pub(super) struct SessionModel {
    pub(super) name: String,
    pub(super) task: Task,
    /// The learning rule that trained it; unknown for a loaded weights file.
    pub(super) rule: Option<String>,
    pub(super) model: SeedNet,
    /// Host matrices: they stay valid when the model moves to another device.
    capture: Option<Rc<Vec<LayerCapture>>>,
}

/// Probe images for the page's comparisons (the CLI uses 1,000): 400 keeps the widest layer's
/// features under ~120 MB while capturing and each model's matrices at ~13 MB.
const PAGE_PROBE_SIZE: usize = 400;
/// The probe set's seed: the CLI's default, so the page and `compare` see the same images.
const PROBE_SEED: u64 = 0;
/// The most models the page keeps for comparison; the oldest is dropped beyond it.
const MAX_SESSION_MODELS: usize = 6;

/// What the page is told of a newly kept model.
#[derive(Serialize)]
pub(super) struct KeptModel {
    pub(super) count: usize,
    pub(super) name: String,
}

fn kept_index(s: &State, name: &str) -> crate::error::Result<usize> {
    s.models
        .iter()
        .position(|m| m.name == name)
        .ok_or_else(|| LabError::State(format!("no kept model is called {name:?}")))
}

/// Keeps `model` for the comparisons as "#n label", with the first n that no kept model's name
/// has (a reload restores saved models under their own names, whose numbers may be ahead of
/// this session's count); beyond [`MAX_SESSION_MODELS`] the oldest is dropped.
pub(super) fn keep(
    s: &mut State,
    model: SeedNet,
    task: Task,
    rule: Option<String>,
    label: &str,
) -> KeptModel {
    let name = loop {
        s.models_made += 1;
        let name = format!("#{} {label}", s.models_made);
        if !s.models.iter().any(|m| m.name == name) {
            break name;
        }
    };
    s.models.push(SessionModel {
        name: name.clone(),
        task,
        rule,
        model,
        capture: None,
    });
    if s.models.len() > MAX_SESSION_MODELS {
        s.models.remove(0);
    }
    KeptModel {
        count: s.models.len(),
        name,
    }
}

#[wasm_bindgen]
impl WebLab {
    /// Drops the kept model `name` from the comparisons (the page's model list deleted it).
    /// Returns the number of models still kept; an unknown name is refused.
    pub fn forget_model(&self, name: &str) -> Result<usize, JsValue> {
        with(&self.state, |s| {
            let at = kept_index(s, name)?;
            s.models.remove(at);
            Ok(s.models.len())
        })
        .map_err(js_error)
    }

    /// Renames the kept model `name` to `new_name` (what the comparisons call it). Refuses an
    /// empty name, one over 80 characters, and one another kept model has.
    pub fn rename_model(&self, name: &str, new_name: &str) -> Result<(), JsValue> {
        let new_name = new_name.trim();
        with(&self.state, |s| {
            if new_name.is_empty() || new_name.chars().count() > 80 {
                return Err(LabError::State(
                    "a model's name has 1 to 80 characters".into(),
                ));
            }
            let at = kept_index(s, name)?;
            if s.models
                .iter()
                .enumerate()
                .any(|(i, m)| i != at && m.name == new_name)
            {
                return Err(LabError::State(format!(
                    "another kept model is called {new_name:?}"
                )));
            }
            s.models[at].name = new_name.to_string();
            Ok(())
        })
        .map_err(js_error)
    }

    /// Compares the kept models of the data set in use (the current model's, else the loaded
    /// one) on a seeded probe set of its test split. Resolves to the library's one comparison
    /// (`analysis::Comparison`: every layer's CKA kinds, RSA, class RDMs and each model's PCA),
    /// the same value `microlearning compare` writes. `on_progress(done, total)` follows the
    /// models' captures, which are the long part.
    pub fn compare_models(&self, on_progress: Option<Function>) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let guard = BusyGuard::take(&state).map_err(js_error)?;
            // The models of the data set in use: the current model's, else the loaded one.
            let (task, test, device) = {
                let s = state.borrow();
                let task = s
                    .model_task()
                    .or(s.data.as_ref().map(|d| d.task))
                    .ok_or_else(|| js_error("load a data set first"))?;
                (task, s.test_set_of(task).map_err(js_error)?, s.device())
            };
            let indices = probe_indices(&test, PAGE_PROBE_SIZE, PROBE_SEED);
            // Capture the models that lack it, one at a time, without holding a borrow.
            let pending: Vec<(usize, SeedNet)> = state
                .borrow()
                .models
                .iter()
                .enumerate()
                .filter(|(_, m)| m.task == task && m.capture.is_none())
                .map(|(i, m)| (i, m.model.clone()))
                .collect();
            let total = pending.len();
            for (done, (i, model)) in pending.into_iter().enumerate() {
                report(&on_progress, done, total);
                let capture = capture_layers(&model, &test, &indices, &device)
                    .await
                    .map_err(js_error)?;
                if let Some(m) = state.borrow_mut().models.get_mut(i) {
                    m.capture = Some(Rc::new(capture));
                }
            }
            report(&on_progress, total, total);
            let kept: Vec<(String, Rc<Vec<LayerCapture>>)> = state
                .borrow()
                .models
                .iter()
                .filter(|m| m.task == task)
                .filter_map(|m| Some((m.name.clone(), m.capture.clone()?)))
                .collect();
            drop(guard);
            if kept.is_empty() {
                return Err(js_error(
                    "no finished models for this data set yet: train or load one first",
                ));
            }
            let probe = ProbeInfo {
                task: task.id().into(),
                size: indices.len(),
                seed: PROBE_SEED,
                labels: indices.iter().map(|&i| test.labels()[i]).collect(),
                indices,
            };
            let named: Vec<(String, &[LayerCapture])> = kept
                .iter()
                .map(|(name, capture)| (name.clone(), capture.as_slice()))
                .collect();
            let comparison =
                compare(&named, probe, &ComparisonOptions::default()).map_err(js_error)?;
            to_js(&comparison)
        })
    }
}
