//! The human experiment's compute, for the page: the stimulus list and its pixels, the kept
//! models answering the same stimuli, the strict reading of imported trial files, and the
//! human–model comparison. The experiment's timeline, timing and storage are the page's
//! (`www/experiment/`); everything here is the library's `human` module.

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::session::{BusyGuard, WebLab, current_device, js_error};
use crate::human::{
    ModelIdentity, StimulusDesign, StimulusList, TrialRecord, build_list, check_trials, compare,
    model_trials, parse_file, render_list,
};

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, JsValue> {
    serde_json::to_string(value).map_err(js_error)
}

#[wasm_bindgen]
impl WebLab {
    /// The stimulus list of `design_json` (a `StimulusDesign`), drawn from the loaded test split,
    /// as JSON (`{design, stimuli}`).
    pub fn stimulus_list(&self, design_json: &str) -> Result<String, JsValue> {
        let design: StimulusDesign = serde_json::from_str(design_json)
            .map_err(|e| js_error(format!("stimulus design: {e}")))?;
        let test = self.loaded_test(design.task.id())?;
        to_json(&build_list(&design, &test).map_err(js_error)?)
    }

    /// Every stimulus of `list_json` rendered: `stimuli × 784` bytes, in list order.
    pub fn render_stimuli(&self, list_json: &str) -> Result<Vec<u8>, JsValue> {
        let list: StimulusList =
            serde_json::from_str(list_json).map_err(|e| js_error(format!("stimulus list: {e}")))?;
        let test = self.loaded_test(list.design.task.id())?;
        render_list(&list, &test).map_err(js_error)
    }

    /// Every kept model of the trials' task answers each distinct stimulus of `trials_json` (a
    /// JSON array of trial records, e.g. people's). Resolves to JSON: the models' trial records.
    pub fn model_trials(&self, trials_json: String) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let templates: Vec<TrialRecord> =
                serde_json::from_str(&trials_json).map_err(|e| js_error(format!("trials: {e}")))?;
            let Some(first) = templates.first() else {
                return Ok(JsValue::from("[]"));
            };
            let task = crate::data::Task::from_id(&first.task)
                .ok_or_else(|| js_error(format!("unknown task \"{}\"", first.task)))?;
            let _guard = BusyGuard::take(&state).map_err(js_error)?;
            let (test, device, models) = {
                let s = state.borrow();
                let data =
                    s.data.as_ref().filter(|d| d.task == task).ok_or_else(|| {
                        js_error(format!("load the {} data set first", task.id()))
                    })?;
                let models: Vec<_> = s
                    .models
                    .iter()
                    .filter(|m| m.task == task)
                    .map(|m| {
                        let who = ModelIdentity {
                            name: m.name.clone(),
                            rule: m.rule.clone(),
                            front_end: Some(m.model.front_end.id().to_string()),
                        };
                        (who, m.model.clone())
                    })
                    .collect();
                (data.split.test.clone(), current_device(&s), models)
            };
            if models.is_empty() {
                return Err(js_error(format!(
                    "no {} model yet: train one (or load weights) first",
                    task.id()
                )));
            }
            let mut out = Vec::new();
            for (who, model) in &models {
                let trials = model_trials(model, who, task, &test, &templates, &device)
                    .await
                    .map_err(js_error)?;
                out.extend(trials);
            }
            Ok(JsValue::from(to_json(&out)?))
        })
    }

    /// Reads an exported trial file (CSV or JSON) strictly. Returns the trials as JSON, or throws
    /// an error that names the file and the problem (nothing of a bad file is kept).
    pub fn parse_trial_file(name: &str, text: &str) -> Result<String, JsValue> {
        to_json(&parse_file(name, text).map_err(js_error)?)
    }

    /// The human–model comparison of a JSON array of trial records (people's and models').
    pub fn compare_humans(trials_json: &str) -> Result<String, JsValue> {
        let trials: Vec<TrialRecord> =
            serde_json::from_str(trials_json).map_err(|e| js_error(format!("trials: {e}")))?;
        check_trials(&trials).map_err(js_error)?;
        to_json(&compare(&trials))
    }
}

impl WebLab {
    fn loaded_test(&self, task: &str) -> Result<crate::data::ImageSet, JsValue> {
        let s = self
            .state
            .try_borrow()
            .map_err(|_| js_error("the lab is busy; try again"))?;
        s.data
            .as_ref()
            .filter(|d| d.task.id() == task)
            .map(|d| d.split.test.clone())
            .ok_or_else(|| js_error(format!("load the {task} data set first")))
    }
}
