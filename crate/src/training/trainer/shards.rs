//! Data-parallel training: a batch split into shards, each shard's update computed by a replica
//! of the run (the page's CPU workers, each its own wasm module on its own core), the updates
//! averaged and applied by every replica alike.
//!
//! Replicas are `Trainer`s built from the same config: the same seed gives them the same weights,
//! feedback matrices and shuffled order, and since every replica applies the same averaged update
//! (and the rule's `after_update`), they stay identical batch after batch. A rule's update is a
//! mean over the batch's images, so the shards' updates weighted by their image counts give the
//! whole batch's update (up to float rounding; for a given number of shards the bits are always
//! the same). The alignment diagnostics are measured on the first shard.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;

use super::{BatchReport, Trainer};
use crate::data::{images_to_tensor, labels_to_tensor};
use crate::error::{LabError, Result};
use crate::model::SeedNet;
use crate::rules::{Backprop, LearningRule};
use crate::training::diagnostics::{DiagnosticSample, measure};
use crate::training::evaluation::read_f32;

/// One shard's update, flattened in the model's parameter order.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardUpdate {
    /// The shard's mean loss.
    pub loss: f32,
    /// Images in the shard: its weight in the batch's average. A shard may be empty when the
    /// batch has fewer images than shards.
    pub images: usize,
    /// Every float parameter's update, in `Module::visit` order, zeros where the rule gives
    /// none; empty for an empty shard.
    pub values: Vec<f32>,
}

/// What a replica remembers of its own shard until the batch's update is applied.
#[derive(Debug, Clone)]
pub(super) struct PendingShard {
    epoch: usize,
    batch: usize,
    /// Which parameters the rule updates (the same on every replica and every batch).
    present: Vec<bool>,
    sample: Option<DiagnosticSample>,
}

/// The model's float parameters in visit order: id and shape.
fn parameters(model: &SeedNet) -> Vec<(burn::module::ParamId, Vec<usize>)> {
    struct Collect(Vec<(burn::module::ParamId, Vec<usize>)>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push((param.id, param.val().dims().to_vec()));
        }
    }
    let mut collect = Collect(Vec::new());
    model.visit(&mut collect);
    collect.0
}

/// The rule's update for each parameter, flattened (`None` where it gives none).
fn flat_updates(model: &SeedNet, grads: &GradientsParams) -> Vec<Option<Tensor<1>>> {
    struct Flatten<'a>(&'a GradientsParams, Vec<Option<Tensor<1>>>);
    impl ModuleVisitor for Flatten<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let update = self.0.get::<D>(param.id).map(|g| g.reshape([-1]));
            self.1.push(update);
        }
    }
    let mut flatten = Flatten(grads, Vec::new());
    model.visit(&mut flatten);
    flatten.1
}

/// `[start, end)` of shard `part` of `parts` within the batch `[start, end)`: equal chunks of
/// ⌈len/parts⌉, the first never empty.
fn shard_range(start: usize, end: usize, part: usize, parts: usize) -> (usize, usize) {
    let chunk = (end - start).div_ceil(parts);
    let lo = (start + part * chunk).min(end);
    (lo, (lo + chunk).min(end))
}

impl Trainer {
    /// Total float parameters, the length of a non-empty [`ShardUpdate::values`].
    pub fn parameter_count(&self) -> usize {
        parameters(self.model())
            .iter()
            .map(|(_, shape)| shape.iter().product::<usize>())
            .sum()
    }

    /// Computes this replica's shard (`part` of `parts`) of the next batch, without applying
    /// it: call [`Trainer::apply_shards`] with every shard's update next.
    pub async fn shard_update(&mut self, part: usize, parts: usize) -> Result<ShardUpdate> {
        self.check_batch_ready()?;
        if parts == 0 || part >= parts {
            return Err(LabError::Config(format!(
                "shard {part} of {parts} does not exist"
            )));
        }
        if self.batch == 0 {
            self.rule.begin_epoch(self.epoch);
        }
        let (start, end) = self.batch_range();
        let (lo, hi) = shard_range(start, end, part, parts);
        let model = self.model.clone();
        if lo == hi {
            // A batch with fewer images than shards (an epoch's last, say) leaves this one
            // empty. Its replica still applies the average, so it needs to know which
            // parameters the rule updates: the same as on its earlier shards.
            let present = self.update_mask.clone().ok_or_else(|| {
                LabError::State(
                    "an empty shard before any other: split the batch in fewer shards".into(),
                )
            })?;
            self.pending = Some(PendingShard {
                epoch: self.epoch,
                batch: self.batch,
                present,
                sample: None,
            });
            return Ok(ShardUpdate {
                loss: 0.0,
                images: 0,
                values: Vec::new(),
            });
        }
        let indices = &self.order[lo..hi];
        let images = images_to_tensor(&self.data.train, indices, &self.device);
        let labels = labels_to_tensor(&self.data.train, indices, &self.device);
        let every = self.config.diagnostics_every;
        let diagnose = part == 0 && every > 0 && self.batch % every == 0;
        let probe = diagnose.then(|| (images.clone(), labels.clone()));
        let step = self.rule.step(&model, images, labels);
        let loss = read_f32(step.loss)
            .await?
            .first()
            .copied()
            .unwrap_or(f32::NAN);
        let sample = match probe {
            Some((images, labels)) => {
                let bp = Backprop.step(&model, images, labels);
                let feedback = self.rule.feedback_weights();
                let layers = measure(&model, &step.grads, &bp.grads, feedback.as_ref()).await?;
                Some(DiagnosticSample {
                    epoch: self.epoch + 1,
                    batch: self.batch + 1,
                    layers,
                })
            }
            None => None,
        };
        let updates = flat_updates(&model, &step.grads);
        let present: Vec<bool> = updates.iter().map(Option::is_some).collect();
        self.update_mask = Some(present.clone());
        let shapes = parameters(&model);
        let given: Vec<Tensor<1>> = updates.into_iter().flatten().collect();
        let read = if given.is_empty() {
            Vec::new()
        } else {
            read_f32(Tensor::cat(given, 0)).await?
        };
        let mut values = Vec::with_capacity(self.parameter_count());
        let mut read = read.into_iter();
        for ((_, shape), &here) in shapes.iter().zip(&present) {
            let n: usize = shape.iter().product();
            if here {
                values.extend(read.by_ref().take(n));
            } else {
                values.extend(std::iter::repeat_n(0.0, n));
            }
        }
        self.pending = Some(PendingShard {
            epoch: self.epoch,
            batch: self.batch,
            present,
            sample,
        });
        Ok(ShardUpdate {
            loss,
            images: hi - lo,
            values,
        })
    }

    /// The batch's update: the shards' updates averaged by image count (in the order given; a
    /// single update is returned as it is), after the same divergence check as
    /// [`Trainer::train_batch`]. Changes nothing: the first worker hands the average round
    /// before applying it, so the replicas apply it while it does.
    pub fn average_shards(&self, shards: &[ShardUpdate]) -> Result<ShardUpdate> {
        let total = self.parameter_count();
        let images: usize = shards.iter().map(|s| s.images).sum();
        if images == 0 {
            return Err(LabError::Config("the shards hold no images".into()));
        }
        if let Some(bad) = shards
            .iter()
            .find(|s| s.images > 0 && s.values.len() != total)
        {
            return Err(LabError::Config(format!(
                "a shard's update has {} values, the model has {total} parameters",
                bad.values.len()
            )));
        }
        let filled: Vec<&ShardUpdate> = shards.iter().filter(|s| s.images > 0).collect();
        let loss = (filled
            .iter()
            .map(|s| s.loss as f64 * s.images as f64)
            .sum::<f64>()
            / images as f64) as f32;
        if !loss.is_finite() || loss > self.config.max_loss {
            return Err(LabError::Diverged {
                epoch: self.epoch + 1,
                batch: self.batch + 1,
                loss,
                limit: self.config.max_loss,
            });
        }
        let values = if let [only] = filled.as_slice() {
            only.values.clone()
        } else {
            let mut sum = vec![0f32; total];
            for shard in &filled {
                let weight = shard.images as f32 / images as f32;
                for (s, v) in sum.iter_mut().zip(&shard.values) {
                    *s += weight * v;
                }
            }
            sum
        };
        Ok(ShardUpdate {
            loss,
            images,
            values,
        })
    }

    /// Applies the batch's update, [`Trainer::average_shards`] of `shards`. Every replica calls
    /// it with the same updates (or their average alone), having computed its own shard of the
    /// same batch first. Returns the batch's report and the average. A refused update changes
    /// no weight; the shard must then be computed again.
    pub async fn apply_shards(
        &mut self,
        shards: &[ShardUpdate],
    ) -> Result<(BatchReport, ShardUpdate)> {
        let pending = self.pending.take().ok_or_else(|| {
            LabError::State("compute this replica's shard of the batch first".into())
        })?;
        if (pending.epoch, pending.batch) != (self.epoch, self.batch) {
            return Err(LabError::State("the shard belongs to another batch".into()));
        }
        let average = self.average_shards(shards)?;
        let grads = unflatten(
            &self.model,
            &average.values,
            &pending.present,
            &self.device.clone().inner(),
        );
        if let Some(sample) = pending.sample {
            self.samples.push(sample);
        }
        let report = self.apply_update(grads, average.loss, average.images);
        Ok((report, average))
    }
}

/// The averaged update as `GradientsParams` for the optimizer.
fn unflatten(
    model: &SeedNet,
    values: &[f32],
    present: &[bool],
    device: &Device,
) -> GradientsParams {
    struct Register<'a> {
        values: &'a [f32],
        present: &'a [bool],
        offset: usize,
        index: usize,
        device: &'a Device,
        grads: GradientsParams,
    }
    impl ModuleVisitor for Register<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let dims = param.val().dims();
            let n: usize = dims.iter().product();
            if self.present.get(self.index).copied().unwrap_or(false) {
                let slice = self.values[self.offset..self.offset + n].to_vec();
                let tensor = Tensor::<D>::from_data(TensorData::new(slice, dims), self.device);
                self.grads.register(param.id, tensor);
            }
            self.offset += n;
            self.index += 1;
        }
    }
    let mut register = Register {
        values,
        present,
        offset: 0,
        index: 0,
        device,
        grads: GradientsParams::new(),
    };
    model.visit(&mut register);
    register.grads
}
