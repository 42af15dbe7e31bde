//! Backpropagation: the exact gradient of the NLL loss, by burn's reverse-mode autodiff.

use burn::optim::GradientsParams;
use burn::prelude::*;

use super::{LearningRule, RuleStep, nll_loss};
use crate::model::SeedNet;

/// The baseline every other rule is compared with.
pub struct Backprop;

impl LearningRule for Backprop {
    fn id(&self) -> &'static str {
        "bp"
    }

    fn step(&mut self, model: &SeedNet, images: Tensor<4>, labels: Tensor<1, Int>) -> RuleStep {
        let loss = nll_loss(model.forward(images), labels); // [1]
        let grads = GradientsParams::from_grads(loss.backward(), model);
        RuleStep {
            loss: loss.detach(),
            grads,
        }
    }
}
