//! The shared mechanism of the rules that change only the backward pathway (FA, sign symmetry,
//! Kolen-Pollack): a [`FeedbackPathway`] chooses the feedback weights B for each layer, and
//! [`FeedbackRule`] trains with them through `SeedNet::logits_with_feedback`. A new rule of this
//! family is one new pathway.

use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::activation::log_softmax;

use super::{LearningRule, RuleStep, nll_loss};
use crate::model::{FeedbackWeights, SeedNet};
use crate::rng::LabRng;

/// Chooses the feedback weights of each layer.
pub trait FeedbackPathway {
    fn id(&self) -> &'static str;

    /// The feedback weights for the next batch, given the current forward weights.
    fn feedback(&mut self, model: &SeedNet) -> FeedbackWeights;

    /// Follows the optimizer's update of the forward weights and may adjust them (Kolen-Pollack
    /// updates B and decays W and B).
    fn after_update(&mut self, _before: &SeedNet, after: SeedNet) -> SeedNet {
        after
    }
}

/// A learning rule that is backprop with another backward pathway.
pub struct FeedbackRule<P: FeedbackPathway> {
    pub pathway: P,
    /// The feedback weights of the last step (for diagnostics).
    pub last_feedback: Option<FeedbackWeights>,
}

impl<P: FeedbackPathway> FeedbackRule<P> {
    pub fn new(pathway: P) -> Self {
        Self {
            pathway,
            last_feedback: None,
        }
    }
}

impl<P: FeedbackPathway> LearningRule for FeedbackRule<P> {
    fn id(&self) -> &'static str {
        self.pathway.id()
    }

    fn step(&mut self, model: &SeedNet, images: Tensor<4>, labels: Tensor<1, Int>) -> RuleStep {
        let feedback = self.pathway.feedback(model);
        let logits = model.logits_with_feedback(images, &feedback); // [B, 10]
        self.last_feedback = Some(feedback);
        let loss = nll_loss(log_softmax(logits, 1), labels); // [1]
        let grads = GradientsParams::from_grads(loss.backward(), model);
        RuleStep {
            loss: loss.detach(),
            grads,
        }
    }

    fn after_update(&mut self, before: &SeedNet, after: SeedNet) -> SeedNet {
        self.pathway.after_update(before, after)
    }

    fn feedback_weights(&self) -> Option<FeedbackWeights> {
        self.last_feedback.clone()
    }
}

/// Random feedback weights drawn like the forward weights' initialisation, U(±1/√fan_in), so B
/// has W's initial scale. The same seed always gives the same B.
pub fn random_feedback(seed: u64, purpose: &str, model: &SeedNet) -> FeedbackWeights {
    let mut rng = LabRng::derive(seed, purpose);
    let device = model.fc1.weight.val().device();
    let conv2_dims = model.conv2.weight.val().dims();
    let fc1_dims = model.fc1.weight.val().dims();
    let fc2_dims = model.fc2.weight.val().dims();
    let draw = |rng: &mut LabRng, n: usize, fan_in: usize| {
        rng.uniform_vec(n, 1.0 / (fan_in as f32).sqrt())
    };
    let conv2_fan_in = conv2_dims[1] * conv2_dims[2] * conv2_dims[3];
    let conv2 = draw(&mut rng, conv2_dims.iter().product(), conv2_fan_in);
    let fc1 = draw(&mut rng, fc1_dims.iter().product(), fc1_dims[0]);
    let fc2 = draw(&mut rng, fc2_dims.iter().product(), fc2_dims[0]);
    let plain = device.clone().inner();
    FeedbackWeights {
        conv2: Some(Tensor::from_data(
            TensorData::new(conv2, conv2_dims),
            &plain,
        )),
        fc1: Some(Tensor::from_data(TensorData::new(fc1, fc1_dims), &plain)),
        fc2: Some(Tensor::from_data(TensorData::new(fc2, fc2_dims), &plain)),
    }
}
