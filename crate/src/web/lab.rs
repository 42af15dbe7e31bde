//! [`WebLab`]: one browser session of the lab, its status, the menus, and the panic report.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::backend::BackendInfo;
use super::convert::{js_error, to_js};
use super::state::{self, State};
use crate::error::Result;
use crate::model::MAX_WEIGHTS_BYTES;
use crate::rules::RULES;
use crate::training::TrainConfig;

thread_local! {
    /// The worker's callback for a panic (see [`WebLab::new`]).
    static ON_PANIC: RefCell<Option<Function>> = const { RefCell::new(None) };
}

/// One browser session of the lab. Created by the worker; see the module docs for the rules
/// every method follows.
#[wasm_bindgen]
pub struct WebLab {
    pub(super) state: Rc<RefCell<State>>,
}

impl WebLab {
    pub(super) fn with<T>(&self, f: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
        state::with(&self.state, f)
    }
}

#[derive(Serialize)]
struct RuleInfo {
    id: &'static str,
    name: &'static str,
    summary: &'static str,
    learning_rate: f64,
}

#[derive(Serialize)]
struct FrontEndInfo {
    id: &'static str,
    name: &'static str,
    summary: &'static str,
}

#[derive(Serialize)]
struct Menus {
    rules: Vec<RuleInfo>,
    front_ends: Vec<FrontEndInfo>,
    /// The largest weights file the lab reads, for the page to check before reading one.
    max_weights_bytes: usize,
    /// The run form's starting values and the settings it does not show (momentum,
    /// diagnostics interval, loss limit): `TrainConfig`'s defaults, with the page's epochs.
    defaults: TrainConfig,
}

/// Epochs the page's form starts with: one epoch of MNIST-10k takes about two minutes in the
/// page, which a classroom can wait for; the CLI's three would take six.
const PAGE_EPOCHS: usize = 1;

/// Where the session stands, for the page's buttons: sent after every request that changes it.
#[derive(Serialize)]
pub(super) struct LabStatus {
    backend: BackendInfo,
    /// The loaded data set.
    task: Option<&'static str>,
    /// The data set of the model in use (the run's or the current model's).
    model_task: Option<&'static str>,
    running: bool,
    /// Finished epochs of the run in progress, or of the last run.
    epochs_finished: usize,
    /// A results file can be downloaded.
    has_results: bool,
    /// A model can be drawn on, inspected and saved.
    has_model: bool,
    model_name: String,
    kept_models: usize,
}

pub(super) fn status(s: &State) -> LabStatus {
    let epochs_finished = match (&s.run, &s.record) {
        (Some(run), _) => run.trainer.history().len(),
        (None, Some(r)) => r.epochs(),
        (None, None) => 0,
    };
    LabStatus {
        backend: s.backend.info(),
        task: s.data.as_ref().map(|d| d.task.id()),
        model_task: s.model_task().map(|t| t.id()),
        running: s.run.is_some(),
        epochs_finished,
        has_results: epochs_finished > 0,
        has_model: s.run.is_some() || s.model.is_some(),
        model_name: s.current_name(),
        kept_models: s.models.len(),
    }
}

#[wasm_bindgen]
impl WebLab {
    /// `on_panic(message)` is called if the module ever panics, just before it dies (the panic
    /// becomes a trap that leaves a pending Promise unsettled): the worker then reports it and
    /// restarts the module instead of waiting forever.
    #[wasm_bindgen(constructor)]
    pub fn new(on_panic: Option<Function>) -> WebLab {
        ON_PANIC.with(|slot| *slot.borrow_mut() = on_panic);
        std::panic::set_hook(Box::new(|info| {
            let text = format!("microlearning panic: {info}");
            gloo_console::error!(text.clone());
            ON_PANIC.with(|slot| {
                if let Ok(slot) = slot.try_borrow()
                    && let Some(f) = slot.as_ref()
                {
                    let _ = f.call1(&JsValue::NULL, &JsValue::from_str(&text));
                }
            });
        }));
        WebLab {
            state: Rc::new(RefCell::new(State::new())),
        }
    }

    /// The page's menus: `{rules: [{id, name, summary, learning_rate}], front_ends: [{id, name,
    /// summary}], max_weights_bytes, defaults}` (`defaults`: a `TrainConfig`).
    pub fn menus() -> std::result::Result<JsValue, JsValue> {
        to_js(&Menus {
            rules: RULES
                .iter()
                .map(|r| RuleInfo {
                    id: r.id,
                    name: r.name,
                    summary: r.summary,
                    learning_rate: r.learning_rate,
                })
                .collect(),
            front_ends: crate::frontends::FRONT_ENDS
                .iter()
                .map(|f| FrontEndInfo {
                    id: f.id,
                    name: f.name,
                    summary: f.summary,
                })
                .collect(),
            max_weights_bytes: MAX_WEIGHTS_BYTES,
            defaults: TrainConfig::new().with_epochs(PAGE_EPOCHS),
        })
    }

    /// Where the session stands (see `LabStatus`).
    pub fn status(&self) -> std::result::Result<JsValue, JsValue> {
        let status = self.with(|s| Ok(status(s))).map_err(js_error)?;
        to_js(&status)
    }

    /// The browser test of the crash path: panics inside a Promise, as a bug would. The worker
    /// only calls it when the page was opened with `?selftest=panic`.
    pub fn self_test_panic(&self) -> Promise {
        future_to_promise(async move { panic!("self-test: a deliberate panic inside a Promise") })
    }
}

impl Default for WebLab {
    fn default() -> Self {
        Self::new(None)
    }
}
