//! The training recipe's arguments, shared by `train` and `grid` (flattened into each). Every
//! default is `TrainConfig`'s own, so a default changes in one place.

use std::path::PathBuf;

use crate::data::Task;
use crate::error::Result;
use crate::frontends::FrontEndKind;
use crate::rules::learning_rate_for;
use crate::training::{OptimizerKind, TrainConfig};

/// The defaults every argument below shows and takes.
fn defaults() -> TrainConfig {
    TrainConfig::new()
}

/// How to train: everything but which task, rule, front end and seed.
#[derive(Debug, clap::Args)]
pub struct RecipeArgs {
    /// Optimizer: adam or sgd (with momentum).
    #[arg(long, default_value = defaults().optimizer.id(), value_parser = parse_optimizer)]
    pub optimizer: OptimizerKind,
    /// Learning rate [default: the rule's own: 1e-3, or 2e-4 for ff].
    #[arg(long)]
    pub lr: Option<f64>,
    /// Multiply the learning rate by this after every epoch (1 = constant).
    #[arg(long, default_value_t = defaults().lr_decay)]
    pub lr_decay: f64,
    /// SGD momentum (Adam ignores it).
    #[arg(long, default_value_t = defaults().momentum)]
    pub momentum: f64,
    #[arg(long, default_value_t = defaults().batch_size)]
    pub batch_size: usize,
    #[arg(long, default_value_t = defaults().epochs)]
    pub epochs: usize,
    /// Train on a class-balanced subset of N training images (per task).
    #[arg(long)]
    pub train_limit: Option<usize>,
    /// Test on a class-balanced subset of N test images.
    #[arg(long)]
    pub test_limit: Option<usize>,
    /// Measure the gradient-alignment diagnostics every N batches (0 = never).
    #[arg(long, default_value_t = defaults().diagnostics_every)]
    pub diagnostics_every: usize,
    /// VOneNet's neuronal noise after the Gabor cells, r + s·N(0,1)·√r (gabor front end only).
    #[arg(long, default_value_t = defaults().neuronal_noise)]
    pub neuronal_noise: f64,
    /// A batch loss above this (or NaN/∞) stops the run as diverged.
    #[arg(long, default_value_t = defaults().max_loss)]
    pub max_loss: f32,
    /// The repository's data folder.
    #[arg(long, default_value = "data", env = "MICROLEARNING_DATA")]
    pub data_root: PathBuf,
}

impl RecipeArgs {
    /// The run of `rule` with `front_end` on `task` from `seed`, validated.
    pub fn config(
        &self,
        task: Task,
        rule: &str,
        front_end: FrontEndKind,
        seed: u64,
    ) -> Result<TrainConfig> {
        let config = TrainConfig::new()
            .with_task(task)
            .with_rule(rule.to_string())
            .with_front_end(front_end)
            .with_optimizer(self.optimizer)
            .with_learning_rate(learning_rate_for(rule, self.lr)?)
            .with_lr_decay(self.lr_decay)
            .with_momentum(self.momentum)
            .with_batch_size(self.batch_size)
            .with_epochs(self.epochs)
            .with_seed(seed)
            .with_train_limit(self.train_limit)
            .with_test_limit(self.test_limit)
            .with_diagnostics_every(self.diagnostics_every)
            .with_neuronal_noise(self.neuronal_noise)
            .with_max_loss(self.max_loss);
        config.validate()?;
        Ok(config)
    }
}

pub(crate) fn parse_task(s: &str) -> std::result::Result<Task, String> {
    Task::from_id(s).ok_or_else(|| format!("unknown task '{s}' (mnist, fashion)"))
}

pub(crate) fn parse_front_end(s: &str) -> std::result::Result<FrontEndKind, String> {
    FrontEndKind::from_id(s)
        .ok_or_else(|| format!("unknown front end '{s}' (learned, gabor, dog, random)"))
}

fn parse_optimizer(s: &str) -> std::result::Result<OptimizerKind, String> {
    OptimizerKind::from_id(s).ok_or_else(|| format!("unknown optimizer '{s}' (adam, sgd)"))
}
