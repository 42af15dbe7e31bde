//! Direct feedback alignment (Nøkland 2016, "Direct Feedback Alignment Provides Learning in Deep
//! Neural Networks").
//!
//! The output error e = softmax(z) − onehot(y) (divided by the batch size, as the mean NLL's
//! gradient is) goes straight to every hidden layer through a fixed random matrix B_l, skipping
//! the layers above:
//!
//! ```text
//! δ_out = e                                  (fc2: the output layer gets e itself)
//! δ_l   = (e · B_l) ∘ relu'(z_l)              (fc1: B is 10×128; conv2: 10×(64·24·24); conv1: 10×(32·26·26))
//! ΔW_l  = δ_lᵀ · x_l                          (x_l: the layer's input; for conv layers the usual
//!                                              kernel gradient of δ_l with respect to x_l)
//! ```
//!
//! Mechanism: each layer runs on a detached copy of its input, so nothing flows between layers,
//! and the rule backpropagates the local surrogate Σ_l ⟨z_l, δ_l⟩ (δ_l detached). Its gradient
//! with respect to W_l is exactly δ_lᵀ · x_l, on any backend, with burn's own conv kernels.

use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, softmax};

use super::{LearningRule, RuleStep, nll_loss};
use crate::data::{NUM_CLASSES, one_hot};
use crate::model::{CONV2_UNITS, FRONT_END_UNITS, HIDDEN, SeedNet};
use crate::rng::LabRng;

/// The fixed random feedback matrices, each `[10, units]`, on the plain (non-autodiff) device.
#[derive(Debug, Clone)]
pub struct DirectFeedback {
    pub conv1: Tensor<2>,
    pub conv2: Tensor<2>,
    pub fc1: Tensor<2>,
}

pub struct DirectFeedbackAlignment {
    pub feedback: DirectFeedback,
}

impl DirectFeedbackAlignment {
    /// B_l ~ U(±1/√10): the scale of a layer with fan-in 10, the error's width. Adam normalises
    /// each layer's update, so the scale matters little; the directions are what DFA aligns to.
    pub fn new(seed: u64, model: &SeedNet) -> Self {
        let mut rng = LabRng::derive(seed, "dfa-feedback");
        let device = model.fc1.weight.val().device().inner();
        let bound = 1.0 / (10f32).sqrt();
        let mut draw = |units: usize| {
            Tensor::<2>::from_data(
                TensorData::new(rng.uniform_vec(10 * units, bound), [10, units]),
                &device,
            )
        };
        Self {
            feedback: DirectFeedback {
                conv1: draw(FRONT_END_UNITS),
                conv2: draw(CONV2_UNITS),
                fc1: draw(HIDDEN),
            },
        }
    }
}

/// `(e · B)` reshaped to a layer's pre-activation shape, gated by relu'(z). `e` and `b` live on
/// the plain device; the result is a constant (no gradient) on `z`'s autodiff device.
fn hidden_error<const D: usize>(e: &Tensor<2>, b: &Tensor<2>, z: &Tensor<D>) -> Tensor<D> {
    let signal = e.clone().matmul(b.clone()).reshape(z.dims()); // [B, 10]·[10, units] → z's shape
    let gate = z.clone().detach().inner().greater_elem(0.0).float(); // relu'(z)
    Tensor::from_inner(signal * gate)
}

impl LearningRule for DirectFeedbackAlignment {
    fn id(&self) -> &'static str {
        "dfa"
    }

    fn step(&mut self, model: &SeedNet, images: Tensor<4>, labels: Tensor<1, Int>) -> RuleStep {
        let batch = images.dims()[0];
        let first = model.front_end_stage(images); // [B, 1, 28, 28] → [B, 32, 26, 26]
        let a1 = first.post.detach();
        // A fixed front end has no weights to train: its output is just conv2's input.
        let z1 = (!model.front_end.is_frozen()).then_some(first.pre);
        let conv2 = model.conv2_stage(a1, None); // → [B, 64, 24, 24]
        let z2 = conv2.pre;
        let pooled = model.pool_stage(conv2.post); // → [B, 9216]
        let fc1 = model.fc1_stage(pooled.detach(), None); // → [B, 128]
        let z3 = fc1.pre;
        let z4 = model.readout_stage(fc1.post.detach(), None); // → [B, 10]
        let loss = nll_loss(log_softmax(z4.clone(), 1), labels.clone()); // [1]

        let onehot = one_hot(labels.inner(), NUM_CLASSES); // [B, 10]
        let probs = softmax(z4.clone().detach().inner(), 1); // [B, 10]
        let e = (probs - onehot) / batch as f32; // [B, 10], on the plain device
        let d3 = hidden_error(&e, &self.feedback.fc1, &z3); // [B, 128]
        let d2 = hidden_error(&e, &self.feedback.conv2, &z2); // [B, 64, 24, 24]
        let mut surrogate =
            (z4 * Tensor::from_inner(e.clone())).sum() + (z3 * d3).sum() + (z2 * d2).sum(); // [1]
        if let Some(z1) = z1 {
            let d1 = hidden_error(&e, &self.feedback.conv1, &z1); // [B, 32, 26, 26]
            surrogate = surrogate + (z1 * d1).sum();
        }
        let grads = GradientsParams::from_grads(surrogate.backward(), model);
        RuleStep {
            loss: loss.detach(),
            grads,
        }
    }
}
