//! Predictive coding (Whittington & Bogacz 2017, "An approximation of the error backpropagation
//! algorithm in a predictive coding network with local Hebbian synaptic plasticity"), in the
//! fixed-prediction form of Millidge, Tschantz & Buckley (2022).
//!
//! The network's layers f₁…f₄ (front end; conv2+ReLU; pool+fc1+ReLU; fc2) predict each other:
//! μ_l = f_l(μ_{l−1}), computed once per batch by a forward pass and then held fixed. Each layer
//! has value nodes v_l and prediction errors ε_l = v_l − μ_l. The output is clamped to the
//! target, giving the output error ε₄ = (onehot(y) − softmax(μ₄)) / B. The energy is
//! F = Σ_l π_l ‖ε_l‖² / 2 (π_l: precisions), and inference relaxes the hidden value nodes for T
//! steps of size γ:
//!
//! ```text
//! ε_l ← ε_l + γ · (−π_l ε_l + J_{l+1}ᵀ (π_{l+1} ε_{l+1}))      J_{l+1} = ∂f_{l+1}/∂μ_l (fixed)
//! ```
//!
//! Each term is local: a layer's own error and the error of the layer it predicts, sent back
//! through that connection. Then each layer's weights move by its own error times its input:
//! ΔW_l ∝ (π_l ε_l)ᵀ ∂f_l/∂W_l (computed as the gradient of ⟨f_l(μ_{l−1}), π_l ε_l⟩ with the
//! input detached, so nothing crosses layers). With π = 1 the fixed point is ε_l = J_{l+1}ᵀ ε_{l+1},
//! exactly backprop's error, so for enough steps the updates equal BP's gradients.
//!
//! The defaults below (T = 20, γ = 0.5, unit precisions) are chosen so that inference reaches
//! its fixed point: the local rule then computes backprop's gradient (update–BP angles under
//! 0.03°) and matches its accuracy, a baseline from which fewer steps, a smaller γ or unequal
//! precisions depart.
//!
//! Measurements behind these choices: docs/research-log.md#predictive-coding-matches-backprop

use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, softmax};

use super::{LearningRule, RuleStep, nll_loss};
use crate::data::{NUM_CLASSES, one_hot};
use crate::model::{PoolRouting, SeedNet};

/// Hyperparameters of predictive coding.
#[derive(Config, Debug)]
pub struct PredictiveCodingConfig {
    /// Inference steps T per batch. Each costs one transposed conv2 and one fc1-sized matmul, so
    /// at 20 a batch costs several backprop steps (docs/research-log.md#predictive-coding-cost).
    #[config(default = 20)]
    pub inference_steps: usize,
    /// Inference rate γ. With γ = 1 and unit precisions the errors reach backprop's after as
    /// many steps as there are layers; smaller γ relaxes more gently, as a neural circuit would.
    #[config(default = 0.5)]
    pub inference_rate: f32,
    /// Precisions π₁…π₄ (inverse variances) of the four layers' prediction errors.
    #[config(default = "[1.0, 1.0, 1.0, 1.0]")]
    pub precisions: [f32; 4],
}

pub struct PredictiveCoding {
    pub config: PredictiveCodingConfig,
}

impl PredictiveCoding {
    pub fn new(config: PredictiveCodingConfig) -> Self {
        Self { config }
    }
}

/// Layer `l` (1-based as in the equations) applied to its input: the network's stages, with the
/// pool folded into layer 3.
fn layer_1(model: &SeedNet, x: Tensor<4>) -> Tensor<4> {
    model.front_end_stage(x).post // [B, 1, 28, 28] → [B, 32, 26, 26]
}
fn layer_2(model: &SeedNet, x: Tensor<4>) -> Tensor<4> {
    model.conv2_stage(x, None).post // [B, 32, 26, 26] → [B, 64, 24, 24]
}
fn layer_3(model: &SeedNet, x: Tensor<4>) -> Tensor<2> {
    model.fc1_stage(model.pool_stage(x), None).post // → [B, 9216] → [B, 128]
}
fn layer_4(model: &SeedNet, x: Tensor<2>) -> Tensor<2> {
    model.readout_stage(x, None) // [B, 128] → [B, 10]
}

/// The transposed Jacobians of layers 2–4 at the fixed predictions, as the linear maps that
/// carry an error one layer down (what backprop's backward pass does, one connection at a time).
struct FixedJacobians {
    /// The network on the inner (non-autodiff) backend, whose transposed stages carry errors.
    net: SeedNet,
    /// ReLU′ of conv2 at μ₁ (1 where its pre-activation is positive), `[B, 64, 24, 24]`.
    conv2_active: Tensor<4>,
    /// Where each 2×2 pool took its maximum in μ₂, for routing errors back through the pool.
    pool: PoolRouting,
    /// ReLU′ of fc1 at the pooled μ₂, `[B, 128]`.
    fc1_active: Tensor<2>,
}

impl FixedJacobians {
    /// From the (detached) predictions μ₁…μ₃; every tensor lives on the inner (non-autodiff)
    /// backend.
    fn new(model: &SeedNet, mu1: &Tensor<4>, mu2: &Tensor<4>, mu3: &Tensor<2>) -> Self {
        let net = model.valid();
        let pre2 = net.conv2_stage(mu1.clone().inner(), None).pre; // [B, 64, 24, 24]
        let pool = net.pool_routing(mu2.clone().inner());
        Self {
            conv2_active: pre2.greater_elem(0.0).float(),
            pool,
            // μ₃ = ReLU(fc1(·)) is positive exactly where its pre-activation is.
            fc1_active: mu3.clone().inner().greater_elem(0.0).float(),
            net,
        }
    }

    /// J₂ᵀ v: through ReLU′ and conv2 transposed. `[B, 64, 24, 24]` → `[B, 32, 26, 26]`.
    fn through_conv2(&self, v: Tensor<4>) -> Tensor<4> {
        self.net.conv2_transpose(v * self.conv2_active.clone())
    }

    /// J₃ᵀ v: through ReLU′, fc1 transposed, and back through the max pool.
    /// `[B, 128]` → `[B, 64, 24, 24]`.
    fn through_pool_fc1(&self, v: Tensor<2>) -> Tensor<4> {
        let pooled = self.net.fc1_transpose(v * self.fc1_active.clone()); // [B, 9216]
        self.pool.transpose(pooled)
    }

    /// J₄ᵀ v: fc2 transposed. `[B, 10]` → `[B, 128]`.
    fn through_fc2(&self, v: Tensor<2>) -> Tensor<2> {
        self.net.readout_transpose(v)
    }
}

impl LearningRule for PredictiveCoding {
    fn id(&self) -> &'static str {
        "pc"
    }

    fn step(&mut self, model: &SeedNet, images: Tensor<4>, labels: Tensor<1, Int>) -> RuleStep {
        let batch = images.dims()[0];
        let [p1, p2, p3, p4] = self.config.precisions;
        let gamma = self.config.inference_rate;
        // Fixed predictions: one forward pass.
        let mu1 = layer_1(model, images.clone()).detach(); // [B, 32, 26, 26]
        let mu2 = layer_2(model, mu1.clone()).detach(); // [B, 64, 24, 24]
        let mu3 = layer_3(model, mu2.clone()).detach(); // [B, 128]
        let mu4 = layer_4(model, mu3.clone()); // [B, 10]
        let loss = nll_loss(log_softmax(mu4.clone(), 1), labels.clone()); // [1]
        let onehot = one_hot(labels.inner(), NUM_CLASSES); // [B, 10]
        let e4 = (onehot - softmax(mu4.detach().inner(), 1)) / batch as f32; // clamped output error

        // The Jacobians J_l are fixed (the predictions are), so each message J_{l+1}ᵀ(π ε) is a
        // fixed linear map of an error: ReLU masks and pooling indices are taken once here, and
        // a step costs one transposed convolution and one small matmul, with no autodiff graph.
        let jacobians = FixedJacobians::new(model, &mu1, &mu2, &mu3);
        let j3 = jacobians.through_fc2(e4.clone() * p4); // constant: ε₄ is clamped
        let mut e1 = mu1.clone().inner().zeros_like();
        let mut e2 = mu2.clone().inner().zeros_like();
        let mut e3 = mu3.clone().inner().zeros_like();
        for _ in 0..self.config.inference_steps {
            let j1 = jacobians.through_conv2(e2.clone() * p2); // [B, 32, 26, 26]
            let j2 = jacobians.through_pool_fc1(e3.clone() * p3); // [B, 64, 24, 24]
            e1 = e1.clone() + (j1 - e1 * p1) * gamma;
            e2 = e2.clone() + (j2 - e2 * p2) * gamma;
            e3 = e3.clone() + (j3.clone() - e3 * p3) * gamma;
        }

        // Local weight updates: −(π_l ε_l)ᵀ ∂f_l/∂W_l, inputs detached.
        let surrogate = (layer_1(model, images) * Tensor::from_inner(e1 * (-p1))).sum()
            + (layer_2(model, mu1) * Tensor::from_inner(e2 * (-p2))).sum()
            + (layer_3(model, mu2) * Tensor::from_inner(e3 * (-p3))).sum()
            + (layer_4(model, mu3) * Tensor::from_inner(e4 * (-p4))).sum(); // [1]
        let grads = GradientsParams::from_grads(surrogate.backward(), model);
        RuleStep {
            loss: loss.detach(),
            grads,
        }
    }
}
