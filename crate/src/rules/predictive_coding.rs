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

use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, relu, softmax};
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;

use super::{LearningRule, RuleStep, nll_loss};
use crate::data::{NUM_CLASSES, one_hot};
use crate::model::SeedNet;

/// Hyperparameters of predictive coding.
#[derive(Config, Debug)]
pub struct PredictiveCodingConfig {
    /// Inference steps T per batch. Each costs about one forward and one backward pass.
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

/// Layer `l` (1-based as in the equations) applied to its input.
fn layer_1(model: &SeedNet, x: Tensor<4>) -> Tensor<4> {
    model.first_layer(x) // [B, 1, 28, 28] → [B, 32, 26, 26]
}
fn layer_2(model: &SeedNet, x: Tensor<4>) -> Tensor<4> {
    relu(model.conv2.forward(x)) // [B, 32, 26, 26] → [B, 64, 24, 24]
}
fn layer_3(model: &SeedNet, x: Tensor<4>) -> Tensor<2> {
    let pooled = max_pool2d(x, MaxPoolOptions::new([2, 2])); // → [B, 64, 12, 12]
    relu(model.fc1.forward(pooled.flatten::<2>(1, 3))) // → [B, 9216] → [B, 128]
}
fn layer_4(model: &SeedNet, x: Tensor<2>) -> Tensor<2> {
    model.fc2.forward(x) // [B, 128] → [B, 10]
}

/// A detached copy on the autodiff device that tracks its own gradient.
fn leaf<const D: usize>(x: &Tensor<D>) -> Tensor<D> {
    Tensor::from_inner(x.clone().detach().inner()).require_grad()
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

        let mut e1 = mu1.clone().inner().zeros_like();
        let mut e2 = mu2.clone().inner().zeros_like();
        let mut e3 = mu3.clone().inner().zeros_like();
        // The Jacobian-transposed messages depend only on the fixed predictions: build the
        // three VJPs once as one backward pass per step of the fixed linear maps.
        for _ in 0..self.config.inference_steps {
            let (m1, m2, m3) = (leaf(&mu1), leaf(&mu2), leaf(&mu3));
            let messages = (layer_2(model, m1.clone()) * Tensor::from_inner(e2.clone() * p2)).sum()
                + (layer_3(model, m2.clone()) * Tensor::from_inner(e3.clone() * p3)).sum()
                + (layer_4(model, m3.clone()) * Tensor::from_inner(e4.clone() * p4)).sum();
            let grads = messages.backward();
            let (Some(j1), Some(j2), Some(j3)) =
                (m1.grad(&grads), m2.grad(&grads), m3.grad(&grads))
            else {
                break; // cannot happen: each leaf feeds the sum
            };
            e1 = e1.clone() + (j1 - e1 * p1) * gamma;
            e2 = e2.clone() + (j2 - e2 * p2) * gamma;
            e3 = e3.clone() + (j3 - e3 * p3) * gamma;
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
