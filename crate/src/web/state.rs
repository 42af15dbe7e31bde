//! What one browser session holds, and the guard that keeps async calls from overlapping.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use burn::module::Module;
use burn::tensor::Device;

use super::backend::{self, Backend};
use super::compare::SessionModel;
use crate::data::{DataSplit, ImageSet, Task};
use crate::error::{LabError, Result};
use crate::model::SeedNet;
use crate::results::{DataInfo, RunResults};
use crate::training::{EpochMetrics, TrainConfig, Trainer};

pub(super) struct LoadedData {
    pub(super) task: Task,
    pub(super) split: Arc<DataSplit>,
}

/// A run in progress.
pub(super) struct Run {
    pub(super) trainer: Trainer,
    /// The backend it trains on, as its results file names it.
    pub(super) backend: String,
    /// The model as it was at the end of the last finished epoch: what a diverged run leaves.
    pub(super) at_last_epoch: Option<SeedNet>,
}

/// A run's finished epochs, kept after it ends (finished, stopped or diverged), so its results
/// file can still be downloaded.
pub(super) struct RunRecord {
    config: TrainConfig,
    backend: String,
    train_images: usize,
    test_images: usize,
    history: Vec<EpochMetrics>,
}

impl RunRecord {
    /// `None` for a run that finished no epoch: it has no results.
    pub(super) fn of(run: &Run) -> Option<Self> {
        let t = &run.trainer;
        (!t.history().is_empty()).then(|| RunRecord {
            config: t.config().clone(),
            backend: run.backend.clone(),
            train_images: t.data().train.len(),
            test_images: t.data().test.len(),
            history: t.history().to_vec(),
        })
    }

    pub(super) fn epochs(&self) -> usize {
        self.history.len()
    }

    pub(super) fn results(&self) -> Result<RunResults> {
        RunResults::new(
            self.backend.clone(),
            self.config.clone(),
            DataInfo {
                task: self.config.task.id().into(),
                train_images: self.train_images,
                test_images: self.test_images,
                source: "shipped with the page (data/)".into(),
            },
            self.history.clone(),
        )
    }
}

/// The model the page shows, draws on and saves when no run is in progress.
pub(super) struct CurrentModel {
    pub(super) net: SeedNet,
    /// The data set it was trained (or loaded) for: what it is evaluated and inspected on.
    pub(super) task: Task,
    pub(super) name: String,
}

pub(super) struct State {
    pub(super) backend: Backend,
    /// The WebGPU device once made: burn's runtime can be initialised once per page.
    pub(super) webgpu: Option<Backend>,
    pub(super) data: Option<LoadedData>,
    /// Taken out of the cell while a batch runs.
    pub(super) run: Option<Run>,
    pub(super) model: Option<CurrentModel>,
    /// The last run's finished epochs.
    pub(super) record: Option<RunRecord>,
    /// Models finished or loaded in this session, for the comparisons (`compare.rs`,
    /// `human.rs`), on the current backend's device.
    pub(super) models: Vec<SessionModel>,
    /// How many models were ever kept: the number in each one's name.
    pub(super) models_made: usize,
    /// People's and models' trials of the last human comparison, for its download.
    pub(super) group: Vec<crate::human::TrialRecord>,
    /// True while an async call has taken state out of the cell. Its own cell, so the guard
    /// clears it without borrowing the state.
    busy: Rc<Cell<bool>>,
}

impl State {
    pub(super) fn new() -> Self {
        State {
            backend: backend::cpu(),
            webgpu: None,
            data: None,
            run: None,
            model: None,
            record: None,
            models: Vec::new(),
            models_made: 0,
            group: Vec::new(),
            busy: Rc::new(Cell::new(false)),
        }
    }

    pub(super) fn device(&self) -> Device {
        self.backend.device.clone()
    }

    /// The model in use, without autodiff: the run's while one is in progress, else `self.model`
    /// (what the last run left, see `training::end_run`, or loaded weights). An error when
    /// there is neither.
    pub(super) fn current_model(&self) -> Result<SeedNet> {
        if let Some(run) = &self.run {
            return Ok(run.trainer.model().valid());
        }
        self.model
            .as_ref()
            .map(|m| m.net.clone())
            .ok_or_else(|| LabError::State("no model yet: train one or load weights".into()))
    }

    /// The name the page shows for the model in use ("the run in progress" during a run).
    pub(super) fn current_name(&self) -> String {
        match (&self.run, &self.model) {
            (Some(_), _) => "the run in progress".into(),
            (None, Some(m)) => m.name.clone(),
            (None, None) => "no model".into(),
        }
    }

    /// The data set of the model in use (the run's, else the current model's).
    pub(super) fn model_task(&self) -> Option<Task> {
        match (&self.run, &self.model) {
            (Some(run), _) => Some(run.trainer.config().task),
            (None, Some(m)) => Some(m.task),
            (None, None) => None,
        }
    }

    /// The current model with the test set of its data set, which must be the loaded one.
    pub(super) fn model_and_test_set(&self) -> Result<(SeedNet, ImageSet)> {
        let model = self.current_model()?;
        let task = self
            .model_task()
            .ok_or_else(|| LabError::State("no model yet: train one or load weights".into()))?;
        Ok((model, self.test_set_of(task)?))
    }

    /// The test set of `task`, which must be the loaded one.
    pub(super) fn test_set_of(&self, task: Task) -> Result<ImageSet> {
        self.data
            .as_ref()
            .filter(|d| d.task == task)
            .map(|d| d.split.test.clone())
            .ok_or_else(|| LabError::State(format!("load the {} data set first", task.id())))
    }

    /// Fails while an async call holds the state.
    fn check_free(&self) -> Result<()> {
        if self.busy.get() {
            return Err(LabError::State(
                "the lab is busy with another request; try again".into(),
            ));
        }
        Ok(())
    }
}

fn busy() -> LabError {
    LabError::State("the lab is busy with another request; try again".into())
}

/// Runs `f` with the state borrowed, failing cleanly if an async call holds it.
pub(super) fn with<T>(
    state: &Rc<RefCell<State>>,
    f: impl FnOnce(&mut State) -> Result<T>,
) -> Result<T> {
    let mut s = state.try_borrow_mut().map_err(|_| busy())?;
    s.check_free()?;
    f(&mut s)
}

/// Marks the state busy for the lifetime of an async call, and clears the mark on every exit
/// path (a dropped future included).
pub(super) struct BusyGuard(Rc<Cell<bool>>);

impl BusyGuard {
    pub(super) fn take(state: &Rc<RefCell<State>>) -> Result<Self> {
        let s = state.try_borrow().map_err(|_| busy())?;
        s.check_free()?;
        s.busy.set(true);
        Ok(Self(s.busy.clone()))
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.set(false);
    }
}
