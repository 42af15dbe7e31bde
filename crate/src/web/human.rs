//! The human experiment's compute, for the page: the stimulus list with its pixels, the strict
//! reading of imported trial files, and the human–model comparison, in which the kept models
//! answer the people's stimuli here, on this side (their trials reach the page only inside the
//! group's download). The experiment's timeline, timing and storage are the page's
//! (`www/experiment/`); everything here is the library's `human` module.

use js_sys::{Function, Promise, Uint8Array};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::convert::{from_js, js_error, report, to_js};
use super::lab::WebLab;
use super::state::BusyGuard;
use crate::data::Task;
use crate::error::LabError;
use crate::human::{
    HumanComparison, ModelIdentity, ObserverKind, StimulusDesign, StimulusList, TrialRecord,
    build_list, check_trials, compare, csv_header, csv_row, model_trials, parse_file, render_list,
};

#[derive(Serialize)]
struct Stimuli {
    list: StimulusList,
    /// `stimuli × 784` bytes, in list order.
    #[serde(with = "serde_wasm_bindgen::preserve")]
    pixels: Uint8Array,
}

#[derive(Serialize)]
struct PeopleComparison {
    comparison: HumanComparison,
    /// Trials the kept models answered.
    model_trials: usize,
    /// Why no model joined, if none did.
    models_note: Option<String>,
}

#[wasm_bindgen]
impl WebLab {
    /// The stimulus list of `design` (a `StimulusDesign`), drawn from the loaded test split,
    /// with every stimulus rendered: `{list: {design, stimuli}, pixels}`.
    pub fn stimuli(&self, design: JsValue) -> Result<JsValue, JsValue> {
        let design: StimulusDesign = from_js("stimulus design", design)?;
        let (list, pixels) = self
            .with(|s| {
                let test = s.test_set_of(design.task)?;
                let list = build_list(&design, &test)?;
                let pixels = render_list(&list, &test)?;
                Ok((list, pixels))
            })
            .map_err(js_error)?;
        to_js(&Stimuli {
            list,
            pixels: Uint8Array::from(pixels.as_slice()),
        })
    }

    /// Reads an exported trial file (CSV or JSON) strictly. Returns its trials, or throws an
    /// error that names the file and the problem (nothing of a bad file is kept).
    pub fn parse_trial_file(name: &str, text: &str) -> Result<JsValue, JsValue> {
        to_js(&parse_file(name, text).map_err(js_error)?)
    }

    /// The human–model comparison of people's trials (an array of trial records, one data
    /// set): every kept model of that data set answers each distinct stimulus first. Resolves
    /// to `{comparison, model_trials, models_note}`. `on_progress(done, total)` follows the
    /// models' answers.
    pub fn compare_people(&self, trials: JsValue, on_progress: Option<Function>) -> Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let people: Vec<TrialRecord> = from_js("trials", trials)?;
            check_trials(&people).map_err(js_error)?;
            if people
                .iter()
                .any(|t| t.observer_kind != ObserverKind::Human)
            {
                return Err(js_error(
                    "only people's trials go in; the models answer here",
                ));
            }
            let Some(first) = people.first() else {
                return Err(js_error("no trials of people yet"));
            };
            let task = Task::from_id(&first.task)
                .ok_or_else(|| js_error(format!("unknown task \"{}\"", first.task)))?;
            if let Some(other) = people.iter().find(|t| t.task != first.task) {
                return Err(js_error(format!(
                    "the group mixes data sets ({}, {}); compare one data set at a time",
                    first.task, other.task
                )));
            }
            let guard = BusyGuard::take(&state).map_err(js_error)?;
            let (test, device, models) = {
                let s = state.borrow();
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
                let test = if models.is_empty() {
                    None
                } else {
                    Some(s.test_set_of(task).map_err(js_error)?)
                };
                (test, s.device(), models)
            };
            let mut all = people;
            let humans = all.len();
            if let Some(test) = &test {
                for (done, (who, model)) in models.iter().enumerate() {
                    report(&on_progress, done, models.len());
                    let trials = model_trials(model, who, task, test, &all[..humans], &device)
                        .await
                        .map_err(js_error)?;
                    all.extend(trials);
                }
                report(&on_progress, models.len(), models.len());
            }
            drop(guard);
            let comparison = compare(&all);
            let reply = PeopleComparison {
                comparison,
                model_trials: all.len() - humans,
                models_note: models.is_empty().then(|| {
                    format!(
                        "no kept model of {} yet: train one (or load weights) to add models",
                        task.id()
                    )
                }),
            };
            state.borrow_mut().group = all;
            to_js(&reply)
        })
    }

    /// The last comparison's trials, people's and models', as the page's CSV export.
    pub fn group_csv(&self) -> Result<String, JsValue> {
        self.with(|s| {
            if s.group.is_empty() {
                return Err(LabError::State("compare people and models first".into()));
            }
            let mut out = csv_header();
            for t in &s.group {
                out.push_str(&csv_row(t));
            }
            Ok(out)
        })
        .map_err(js_error)
    }
}
