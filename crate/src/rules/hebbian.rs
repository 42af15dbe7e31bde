//! Competitive Hebbian learning: the hidden layers learn without labels and without any feedback
//! from above; only the readout layer sees the labels. Two forms of competition are offered
//! ([`Competition`]): SoftHebb's soft winner-take-all (Journé, Rodriguez, Guo & Moraitis 2022,
//! "Hebbian deep learning without feedback") and Krotov & Hopfield's ranked competing units
//! (2019, "Unsupervised learning by competing hidden units").
//!
//! For a hidden layer with K neurons, input x (for a conv layer: every input patch, centred)
//! and weights w_k, with pre-activation u_k = w_k · x (no bias):
//!
//! ```text
//! soft:    y_k = softmax_k(u / τ)                 every neuron learns, the best matches most
//! ranked:  y_k = 1 for the top u_k, −Δ for the runner-up, 0 for the rest
//! Δw_k = η · y_k · (x − u_k · w_k)                Hebbian growth y_k·x, Oja-like decay y_k·u_k·w_k
//! ```
//!
//! averaged over the batch (and over positions for conv layers). The ranked form's anti-Hebbian
//! runner-up is pushed away from inputs it nearly won, so the K neurons spread over the data
//! instead of crowding onto the same prototypes. The decay term makes ‖w_k‖ → 1
//! for a neuron that keeps winning, so the weights stay bounded without any normalisation step.
//! The readout fc2 learns by the supervised delta rule on the frozen features,
//! Δ W₂ = η · fc1ᵀ (onehot(y) − softmax(z)) / B, and nothing flows back into the hidden layers.
//! The updates go to the run's optimizer like any rule's (as ascent directions, negated into
//! gradient convention). The conv layers' biases are left as initialised.
//!
//! **fc1's threshold is homeostatic** (intrinsic plasticity, as in Turrigiano's homeostatic
//! neurons): each unit's bias follows minus its mean drive ū_k, the batch mean of w_k · x on the
//! uncentred input x the forward pass sees:
//!
//! ```text
//! θ_k ← θ_k + ρ · (ū_k − θ_k),   b_k = −θ_k
//! ```
//!
//! with ρ = [`HebbianConfig::threshold_rate`] while the hidden layers learn; once they are frozen
//! the threshold restarts as the running mean over every batch since (ρ = 1/n at the n-th), so it
//! settles on the training set's mean drive and stops moving under the readout. The Hebbian
//! update itself does not use the bias (it centres x instead): the threshold only sets where each
//! unit's ReLU cuts its input distribution. Without it the cut sits wherever the initial bias
//! left it, far from the data once the weights have grown to unit norm.
//!
//! **Two phases**, as in SoftHebb's and Krotov & Hopfield's own protocols (Hebbian layers first,
//! then a linear classifier on their frozen output): the hidden layers are plastic only during
//! the first [`HebbianConfig::hidden_epochs`] epochs; from then on only the readout learns.
//! Learning both at once leaves the readout chasing features whose scale keeps changing: a neuron
//! that aligns with its input responds with O(‖x‖) rather than O(‖x‖/√d). The readout-only
//! epochs are also several times cheaper.
//!
//! **The defaults** (ranked competition, Δ 0.4, one Hebbian epoch, fc1 threshold ρ 0.1, run for
//! 20 epochs) did best of the variants tried on MNIST-10k: ranked competition leaves the
//! readout more linearly separable features than the soft form, a second Hebbian epoch costs
//! accuracy, and the threshold adds about a point (on Fashion-MNIST it costs about two). The
//! 3-seed results are in the README.
//!
//! Measurements behind these choices: docs/research-log.md#hebbian-experiments

use burn::module::{Module, Param};
use burn::nn::conv::Conv2d;
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::module::conv2d;
use serde::{Deserialize, Serialize};

use super::{LearningRule, RuleStep, nll_loss};
use crate::model::{SeedNet, conv_options};

/// How a hidden layer's neurons compete for each input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Competition {
    /// SoftHebb: y = softmax(u / τ).
    Soft,
    /// Krotov & Hopfield: the best-matching neuron +1, the runner-up −Δ.
    Ranked,
}

/// Hyperparameters of the Hebbian rule.
#[derive(Config, Debug)]
pub struct HebbianConfig {
    /// Which competition decides each neuron's share of the update.
    #[config(default = "Competition::Ranked")]
    pub competition: Competition,
    /// Strength Δ of the runner-up's anti-Hebbian update ([`Competition::Ranked`]); Krotov &
    /// Hopfield's MNIST setting.
    #[config(default = 0.4)]
    pub anti_hebbian: f32,
    /// Softmax temperature τ of the soft winner-take-all ([`Competition::Soft`]); smaller is
    /// harder competition. At τ = 1 the pre-activations (|u| ≲ 1 at the seed's initial weight
    /// scale) barely compete: every neuron gets nearly the same update and the features collapse
    /// onto one direction. 0.1 did best of 1, 0.1 and 0.02
    /// (docs/research-log.md#hebbian-temperature).
    #[config(default = 0.1)]
    pub temperature: f32,
    /// How many epochs the hidden layers learn for; after them only the readout learns.
    #[config(default = 1)]
    pub hidden_epochs: usize,
    /// ρ: how fast fc1's homeostatic threshold follows its mean drive while the hidden layers
    /// learn (the weight of each batch in a moving average); 0 leaves fc1's bias as
    /// initialised.
    #[config(default = 0.1)]
    pub threshold_rate: f32,
}

pub struct Hebbian {
    pub config: HebbianConfig,
    /// The epoch in progress (0-based), from [`LearningRule::begin_epoch`].
    epoch: usize,
    /// fc1's threshold θ `[128]`, on the inner (non-autodiff) device; `None` before the first
    /// batch.
    threshold: Option<Tensor<1>>,
    /// fc1's mean drive ū `[128]` on the last step's batch, waiting for
    /// [`LearningRule::after_update`].
    drive: Option<Tensor<1>>,
    /// Batches seen since the hidden layers froze.
    frozen_batches: usize,
}

impl Hebbian {
    pub fn new(config: HebbianConfig) -> Self {
        Self {
            config,
            epoch: 0,
            threshold: None,
            drive: None,
            frozen_batches: 0,
        }
    }

    /// Whether the hidden layers are still in their unsupervised phase.
    pub fn hidden_layers_learn(&self) -> bool {
        self.epoch < self.config.hidden_epochs
    }
}

/// Each neuron's share y of the update, competing across dim 1 (channels of a conv layer's
/// `[B, K, H, W]`, units of a linear layer's `[B, K]`).
fn compete<const D: usize>(u: Tensor<D>, config: &HebbianConfig) -> Tensor<D> {
    match config.competition {
        Competition::Soft => softmax(u / config.temperature, 1),
        Competition::Ranked => {
            let first = u.clone().equal(u.clone().max_dim(1)); // the winner
            let rest = u.mask_fill(first.clone(), f32::MIN);
            let second = rest.clone().equal(rest.max_dim(1)); // the runner-up
            first.float() - second.float() * config.anti_hebbian
        }
    }
}

/// The Hebbian update for a conv layer, in gradient convention: −(Hebb − decay)/N.
fn conv_update(layer: &Conv2d, x: Tensor<4>, config: &HebbianConfig) -> Tensor<4> {
    let w = layer.weight.val().detach().inner(); // [K, C, k, k]
    let x = x.inner(); // [B, C, H, W]
    let x = x.clone() - x.mean_dim(0).mean_dim(2).mean_dim(3); // centred per input channel
    let [b, _, _, _] = x.dims();
    let options = conv_options(layer);
    let u = conv2d(x.clone(), w.clone(), None, options.clone()); // [B, K, H', W']
    let [_, k, h, wd] = u.dims();
    let y = compete(u.clone(), config); // competition across the K channels
    let n = (b * h * wd) as f32;
    // Σ y_k · patch: the gradient of ⟨conv(x, W), y⟩ with respect to W.
    let leaf = Tensor::<4>::from_inner(w.clone()).require_grad();
    let s = (conv2d(Tensor::from_inner(x), leaf.clone(), None, options)
        * Tensor::from_inner(y.clone()))
    .sum();
    let hebb = leaf.grad(&s.backward()).unwrap_or_else(|| w.zeros_like()); // [K, C, k, k]
    let yu = (y * u)
        .sum_dim(0)
        .sum_dim(2)
        .sum_dim(3)
        .reshape([k, 1, 1, 1]); // Σ y_k u_k
    (w * yu - hebb) / n
}

/// The Hebbian update for a linear layer (burn layout W: [d_in, d_out]).
fn linear_update(weight: &Param<Tensor<2>>, x: Tensor<2>, config: &HebbianConfig) -> Tensor<2> {
    let w = weight.val().detach().inner(); // [D, K]
    let x = x.inner(); // [B, D]
    let x = x.clone() - x.mean_dim(0); // centred over the batch
    let b = x.dims()[0] as f32;
    let u = x.clone().matmul(w.clone()); // [B, K]
    let y = compete(u.clone(), config); // [B, K]
    let hebb = x.transpose().matmul(y.clone()); // [D, K]
    let yu = (y * u).sum_dim(0); // [1, K]
    (w * yu - hebb) / b
}

impl LearningRule for Hebbian {
    fn id(&self) -> &'static str {
        "hebbian"
    }

    fn begin_epoch(&mut self, epoch: usize) {
        self.epoch = epoch;
    }

    fn after_update(&mut self, _before: &SeedNet, after: SeedNet) -> SeedNet {
        let Some(drive) = self.drive.take() else {
            return after;
        };
        let rate = if self.hidden_layers_learn() {
            self.config.threshold_rate
        } else {
            self.frozen_batches += 1;
            1.0 / self.frozen_batches as f32
        };
        let threshold = match self.threshold.take() {
            Some(old) => old.clone() + (drive - old) * rate,
            None => drive,
        };
        self.threshold = Some(threshold.clone());
        let mut after = after;
        // A fresh leaf on the autodiff device, like every parameter.
        after.fc1.bias = after
            .fc1
            .bias
            .map(|b| b.map(|_| Tensor::from_inner(threshold.neg()).require_grad()));
        after
    }

    fn step(&mut self, model: &SeedNet, images: Tensor<4>, labels: Tensor<1, Int>) -> RuleStep {
        // The hidden layers' forward pass runs without autodiff: nothing flows back through it,
        // and a graph that no backward pass consumes is kept alive by autodiff (it grew by
        // ~24 MB a batch until the process ran out of memory).
        let hidden = model.valid();
        let images = images.inner();
        let a1 = hidden.front_end_stage(images.clone()).post; // [B, 1, 28, 28] → [B, 32, 26, 26]
        let a2 = hidden.conv2_stage(a1.clone(), None).post; // → [B, 64, 24, 24]
        let pool = hidden.pool_stage(a2); // → [B, 9216]
        let a3 = hidden.fc1_stage(pool.clone(), None).post; // → [B, 128]
        if self.config.threshold_rate > 0.0 {
            let drive = pool.clone().matmul(hidden.fc1.weight.val()); // [B, 128], w · x
            self.drive = Some(drive.mean_dim(0).flatten::<1>(0, 1)); // [128]
        }
        // The readout: the delta rule on the frozen features is the NLL gradient of fc2 alone.
        let logits = model.readout_stage(Tensor::from_inner(a3), None); // [B, 10]
        let loss = nll_loss(log_softmax(logits, 1), labels); // [1]
        let mut grads = GradientsParams::from_grads(loss.backward(), model);
        if !self.hidden_layers_learn() {
            return RuleStep {
                loss: loss.detach(),
                grads,
            };
        }

        if !model.front_end.is_frozen() {
            grads.register(
                model.conv1.weight.id,
                conv_update(&model.conv1, images, &self.config),
            );
        }
        grads.register(
            model.conv2.weight.id,
            conv_update(&model.conv2, a1, &self.config),
        );
        grads.register(
            model.fc1.weight.id,
            linear_update(&model.fc1.weight, pool, &self.config),
        );
        RuleStep {
            loss: loss.detach(),
            grads,
        }
    }
}
