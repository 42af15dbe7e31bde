//! Hyperparameters of a training run. Saved verbatim in every results file.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::Task;
use crate::error::{LabError, Result};
use crate::frontends::FrontEndKind;

/// The optimizers a run can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerKind {
    Adam,
    /// Stochastic gradient descent with (heavy-ball) momentum.
    Sgd,
}

impl OptimizerKind {
    pub fn id(self) -> &'static str {
        match self {
            Self::Adam => "adam",
            Self::Sgd => "sgd",
        }
    }

    pub fn from_id(id: &str) -> Option<Self> {
        match id {
            "adam" => Some(Self::Adam),
            "sgd" => Some(Self::Sgd),
            _ => None,
        }
    }
}

#[derive(Config, Debug, PartialEq)]
pub struct TrainConfig {
    /// Which data set to learn.
    #[config(default = "Task::Mnist")]
    pub task: Task,
    /// The first layer (see `frontends::FRONT_ENDS`).
    #[config(default = "FrontEndKind::Learned")]
    pub front_end: FrontEndKind,
    /// Learning rule id (see `rules::RULES`).
    #[config(default = "String::from(\"bp\")")]
    pub rule: String,
    #[config(default = "OptimizerKind::Adam")]
    pub optimizer: OptimizerKind,
    #[config(default = 1e-3)]
    pub learning_rate: f64,
    /// Multiplies the learning rate after every epoch (PyTorch's `StepLR` with step 1, as in
    /// its MNIST example): epoch e (1-based) trains at `learning_rate · lr_decay^(e−1)`.
    /// 1 keeps it constant. A decaying rate lets the last epoch settle instead of ending on
    /// whatever the final noisy Adam steps left.
    #[config(default = 1.0)]
    pub lr_decay: f64,
    /// Momentum for SGD (ignored by Adam).
    #[config(default = 0.9)]
    pub momentum: f64,
    #[config(default = 64)]
    pub batch_size: usize,
    #[config(default = 3)]
    pub epochs: usize,
    /// Seeds the initial weights, the shuffling and any random state of the rule.
    #[config(default = 0)]
    pub seed: u64,
    /// Train on a class-balanced N of the training images (a quick run), if set.
    pub train_limit: Option<usize>,
    /// Evaluate on a class-balanced N of the test images, if set.
    pub test_limit: Option<usize>,
    /// Measure the gradient-alignment diagnostics every N batches (0 = never). Each
    /// measurement costs one extra backprop pass on that batch.
    #[config(default = 20)]
    pub diagnostics_every: usize,
    /// Scale s of VOneNet's "neuronal" noise after the Gabor bank, r + s·N(0,1)·√r (see
    /// `frontends/noise.rs`); 0 = off. Only for the `gabor` front end.
    #[config(default = 0.0)]
    pub neuronal_noise: f64,
    /// A batch loss above this (or NaN/∞) stops the run as diverged.
    #[config(default = 1e3)]
    pub max_loss: f32,
}

impl TrainConfig {
    /// The learning rate of 0-based epoch `epoch`.
    pub fn learning_rate_at(&self, epoch: usize) -> f64 {
        self.learning_rate * self.lr_decay.powi(epoch.min(i32::MAX as usize) as i32)
    }

    /// Rejects values no run can use, with a message naming the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(LabError::Config(msg));
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad(format!(
                "learning rate must be > 0, got {}",
                self.learning_rate
            ));
        }
        if !(self.lr_decay.is_finite() && self.lr_decay > 0.0 && self.lr_decay <= 1.0) {
            return bad(format!(
                "learning-rate decay must be in (0, 1], got {}",
                self.lr_decay
            ));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad(format!("momentum must be in [0, 1), got {}", self.momentum));
        }
        if self.batch_size == 0 || self.batch_size > 4096 {
            return bad(format!(
                "batch size must be 1..=4096, got {}",
                self.batch_size
            ));
        }
        if self.epochs == 0 || self.epochs > 1000 {
            return bad(format!("epochs must be 1..=1000, got {}", self.epochs));
        }
        if self.train_limit == Some(0) || self.test_limit == Some(0) {
            return bad("train/test limits must be at least 1".into());
        }
        if !(self.neuronal_noise.is_finite() && (0.0..=10.0).contains(&self.neuronal_noise)) {
            return bad(format!(
                "neuronal noise must be in [0, 10], got {}",
                self.neuronal_noise
            ));
        }
        if self.neuronal_noise > 0.0 && self.front_end != FrontEndKind::Gabor {
            return bad(format!(
                "neuronal noise belongs to the gabor front end, not {}",
                self.front_end.id()
            ));
        }
        if !(self.max_loss.is_finite() && self.max_loss > 0.0) {
            return bad(format!("max loss must be > 0, got {}", self.max_loss));
        }
        Ok(())
    }
}
