//! The training loop, one batch at a time, so the CLI can draw a progress bar and the web worker
//! can pause, report and stay responsive between batches.

use std::sync::Arc;

use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::config::TrainConfig;
use super::diagnostics::{DiagnosticSample, EpochDiagnostics, measure};
use super::evaluation::{ConfusionMatrix, Evaluation, evaluate_scored, read_f32};
use super::optimizer::build_optimizer;
use crate::data::{DataSplit, ImageSet, images_to_tensor, labels_to_tensor};
use crate::error::{LabError, Result};
use crate::frontends::NeuronalNoise;
use crate::model::SeedNet;
use crate::rng::LabRng;
use crate::rules::{Backprop, LearningRule, build_rule};

mod shards;
pub use shards::ShardUpdate;

/// Evaluation batch size: large batches are faster and need no gradients.
pub const EVAL_BATCH: usize = 256;

/// What one epoch measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based.
    pub epoch: usize,
    /// Mean of the batch losses over the epoch.
    pub train_loss: f64,
    pub test_loss: f64,
    pub test_accuracy: f64,
    pub confusion: ConfusionMatrix,
    /// Training time for the epoch (evaluation excluded): the sum of the batch times the caller
    /// measured (see [`Trainer::add_train_seconds`]), diagnostics batches included.
    pub train_seconds: f64,
    /// Training images over `train_seconds`; 0 when no time was recorded.
    pub images_per_second: f64,
    /// Gradient-alignment diagnostics (absent in files written before they existed).
    #[serde(default)]
    pub diagnostics: EpochDiagnostics,
}

/// What one batch measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchReport {
    /// 0-based epoch and batch index within it.
    pub epoch: usize,
    pub batch: usize,
    pub loss: f32,
    pub images: usize,
}

/// A training run in progress.
pub struct Trainer {
    config: TrainConfig,
    device: Device,
    data: Arc<DataSplit>,
    model: SeedNet,
    optimizer: ModuleOptimizer,
    rule: Box<dyn LearningRule>,
    shuffle_rng: LabRng,
    order: Vec<usize>,
    epoch: usize,
    batch: usize,
    loss_sum: f64,
    epoch_seconds: f64,
    history: Vec<EpochMetrics>,
    last_evaluation: Option<Evaluation>,
    samples: Vec<DiagnosticSample>,
    /// This replica's shard of the batch in progress, in data-parallel training (`shards`).
    pending: Option<shards::PendingShard>,
    /// Which parameters the rule updates, from the last shard computed.
    update_mask: Option<Vec<bool>>,
}

/// Applies the config's train/test limits to a data split.
pub fn limit_data(data: &DataSplit, config: &TrainConfig) -> DataSplit {
    DataSplit {
        train: match config.train_limit {
            Some(n) => data.train.balanced_subset(n),
            None => data.train.clone(),
        },
        test: match config.test_limit {
            Some(n) => data.test.balanced_subset(n),
            None => data.test.clone(),
        },
    }
}

impl Trainer {
    /// Starts a run from freshly initialised weights. `device` should have autodiff enabled;
    /// it is enabled here if not.
    pub fn new(config: TrainConfig, data: Arc<DataSplit>, device: Device) -> Result<Self> {
        let model =
            SeedNet::with_front_end(config.seed, config.front_end, &device.clone().autodiff());
        Self::with_model(config, data, device, model)
    }

    /// Starts a run from the given weights, which must live on `device.autodiff()`.
    pub fn with_model(
        config: TrainConfig,
        data: Arc<DataSplit>,
        device: Device,
        model: SeedNet,
    ) -> Result<Self> {
        config.validate()?;
        if data.train.is_empty() || data.test.is_empty() {
            return Err(LabError::Config(
                "the data set has no train or no test images".into(),
            ));
        }
        // The model must have been built on this autodiff device (`SeedNet::init` or
        // `load_weights` with `device.autodiff()`): burn cannot re-track moved parameters.
        let device = device.autodiff();
        let model = model.with_noise(NeuronalNoise::new(
            config.neuronal_noise as f32,
            config.seed,
        ));
        let rule = build_rule(&config.rule, config.seed, &model)?;
        let mut trainer = Self {
            optimizer: build_optimizer(&config),
            shuffle_rng: LabRng::derive(config.seed, "shuffle"),
            order: (0..data.train.len()).collect(),
            config,
            device,
            data,
            model,
            rule,
            epoch: 0,
            batch: 0,
            loss_sum: 0.0,
            epoch_seconds: 0.0,
            history: Vec::new(),
            last_evaluation: None,
            samples: Vec::new(),
            pending: None,
            update_mask: None,
        };
        trainer.shuffle_rng.shuffle(&mut trainer.order);
        Ok(trainer)
    }

    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    pub fn model(&self) -> &SeedNet {
        &self.model
    }

    pub fn data(&self) -> &DataSplit {
        &self.data
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn history(&self) -> &[EpochMetrics] {
        &self.history
    }

    /// The test-set evaluation of the last finished epoch (predictions included, with the rule's
    /// own inference where it has one); `None` until an epoch has finished.
    pub fn last_evaluation(&self) -> Option<&Evaluation> {
        self.last_evaluation.as_ref()
    }

    pub fn batches_per_epoch(&self) -> usize {
        self.data.train.len().div_ceil(self.config.batch_size)
    }

    /// 0-based index of the epoch in progress (equals `epochs` once finished).
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    pub fn batch_in_epoch(&self) -> usize {
        self.batch
    }

    /// The learning rate of the epoch in progress (the config's schedule).
    pub fn learning_rate(&self) -> f64 {
        self.config.learning_rate_at(self.epoch)
    }

    /// True when every batch of the current epoch has run and it awaits `finish_epoch`.
    pub fn epoch_complete(&self) -> bool {
        self.batch >= self.batches_per_epoch()
    }

    pub fn finished(&self) -> bool {
        self.epoch >= self.config.epochs
    }

    /// Runs one batch: the rule computes an update, the optimizer applies it (every
    /// `diagnostics_every` batches the alignment diagnostics are measured too). A loss that is
    /// not finite or above `max_loss` ends it with [`LabError::Diverged`] before the update
    /// reaches the weights. It does not time itself (wasm has no `std` clock): the caller times
    /// the call and hands the seconds to [`Trainer::add_train_seconds`].
    pub async fn train_batch(&mut self) -> Result<BatchReport> {
        self.check_batch_ready()?;
        if self.batch == 0 {
            self.rule.begin_epoch(self.epoch);
        }
        let (start, end) = self.batch_range();
        let indices = &self.order[start..end];
        let images = images_to_tensor(&self.data.train, indices, &self.device);
        let labels = labels_to_tensor(&self.data.train, indices, &self.device);

        let every = self.config.diagnostics_every;
        let diagnose = every > 0 && self.batch % every == 0;
        let probe = diagnose.then(|| (images.clone(), labels.clone()));
        let step = self.rule.step(&self.model, images, labels);
        let loss = read_f32(step.loss)
            .await?
            .first()
            .copied()
            .unwrap_or(f32::NAN);
        // Check before applying the update, so a diverged run never reaches the weights.
        if !loss.is_finite() || loss > self.config.max_loss {
            return Err(LabError::Diverged {
                epoch: self.epoch + 1,
                batch: self.batch + 1,
                loss,
                limit: self.config.max_loss,
            });
        }
        if let Some((images, labels)) = probe {
            // The true gradient on the same batch, for the update–gradient angle.
            let bp = Backprop.step(&self.model, images, labels);
            let feedback = self.rule.feedback_weights();
            let layers = measure(&self.model, &step.grads, &bp.grads, feedback.as_ref()).await?;
            self.samples.push(DiagnosticSample {
                epoch: self.epoch + 1,
                batch: self.batch + 1,
                layers,
            });
        }
        Ok(self.apply_update(step.grads, loss, end - start))
    }

    /// An error unless a batch can run now.
    fn check_batch_ready(&self) -> Result<()> {
        if self.finished() {
            return Err(LabError::Config("the run has already finished".into()));
        }
        if self.epoch_complete() {
            return Err(LabError::Config(
                "finish the epoch before the next batch".into(),
            ));
        }
        Ok(())
    }

    /// `[start, end)` of the batch in progress within the shuffled order.
    fn batch_range(&self) -> (usize, usize) {
        let start = self.batch * self.config.batch_size;
        (
            start,
            (start + self.config.batch_size).min(self.order.len()),
        )
    }

    /// The optimizer applies `update`, the rule adjusts after it, and the batch is done.
    fn apply_update(
        &mut self,
        update: burn::optim::GradientsParams,
        loss: f32,
        images: usize,
    ) -> BatchReport {
        let before = self.model.clone();
        let updated = self
            .optimizer
            .step(self.learning_rate(), self.model.clone(), update);
        self.model = self.rule.after_update(&before, updated);

        self.loss_sum += loss as f64;
        let report = BatchReport {
            epoch: self.epoch,
            batch: self.batch,
            loss,
            images,
        };
        self.batch += 1;
        report
    }

    /// Adds a batch's wall-clock time, as the caller measured it around
    /// [`Trainer::train_batch`] (the CLI with `Instant`, the page with `performance.now()`), to
    /// the current epoch's `train_seconds`, from which its `images_per_second` is computed.
    pub fn add_train_seconds(&mut self, seconds: f64) {
        self.epoch_seconds += seconds;
    }

    /// Evaluates on the test set, records the epoch's metrics and reshuffles for the next one.
    pub async fn finish_epoch(&mut self) -> Result<EpochMetrics> {
        if !self.epoch_complete() {
            return Err(LabError::Config(
                "the epoch still has batches to run".into(),
            ));
        }
        let evaluation = self.evaluate_on(&self.data.test).await?;
        let images = self.data.train.len() as f64;
        let metrics = EpochMetrics {
            epoch: self.epoch + 1,
            train_loss: self.loss_sum / self.batches_per_epoch() as f64,
            test_loss: evaluation.mean_loss,
            test_accuracy: evaluation.accuracy,
            confusion: evaluation.confusion.clone(),
            train_seconds: self.epoch_seconds,
            images_per_second: if self.epoch_seconds > 0.0 {
                images / self.epoch_seconds
            } else {
                0.0
            },
            diagnostics: EpochDiagnostics::from_samples(std::mem::take(&mut self.samples)),
        };
        self.history.push(metrics.clone());
        self.last_evaluation = Some(evaluation);
        self.next_epoch();
        Ok(metrics)
    }

    /// A replica's end of epoch in data-parallel training (`shards`): the next epoch begins,
    /// reshuffled as [`Trainer::finish_epoch`] would, without evaluating (the first replica
    /// evaluates and records the epoch).
    pub fn advance_epoch(&mut self) -> Result<()> {
        if !self.epoch_complete() {
            return Err(LabError::Config(
                "the epoch still has batches to run".into(),
            ));
        }
        self.samples.clear();
        self.next_epoch();
        Ok(())
    }

    fn next_epoch(&mut self) {
        self.epoch += 1;
        self.batch = 0;
        self.loss_sum = 0.0;
        self.epoch_seconds = 0.0;
        self.shuffle_rng.shuffle(&mut self.order);
    }

    /// Evaluates the current model on any labelled set, with the rule's own inference where it
    /// has one (forward-forward's goodness), else the forward pass.
    pub async fn evaluate_on(&self, set: &ImageSet) -> Result<Evaluation> {
        let rule = &self.rule;
        evaluate_scored(&self.model, set, EVAL_BATCH, &self.device, |model, x| {
            rule.classify(model, x.clone())
                .unwrap_or_else(|| model.forward(x))
        })
        .await
    }
}
