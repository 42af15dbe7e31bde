//! Feedback alignment (Lillicrap, Cownden, Tweed & Akerman 2016, "Random synaptic feedback
//! weights support error backpropagation for deep learning"). The error travels back through
//! fixed random weights B, drawn like W's initialisation and never updated; the forward weights
//! come to align with B so that the random feedback becomes useful.

use super::feedback::{FeedbackPathway, random_feedback};
use crate::model::{FeedbackWeights, SeedNet};

pub struct FixedRandomFeedback {
    weights: FeedbackWeights,
}

impl FixedRandomFeedback {
    pub fn new(seed: u64, model: &SeedNet) -> Self {
        Self {
            weights: random_feedback(seed, "fa-feedback", model),
        }
    }

    /// Feedback alignment with given feedback weights (tests set B = W to recover backprop).
    pub fn with_weights(weights: FeedbackWeights) -> Self {
        Self { weights }
    }
}

impl FeedbackPathway for FixedRandomFeedback {
    fn id(&self) -> &'static str {
        "fa"
    }

    fn feedback(&mut self, _model: &SeedNet) -> FeedbackWeights {
        self.weights.clone()
    }
}
