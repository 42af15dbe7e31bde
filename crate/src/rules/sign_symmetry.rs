//! Sign-concordant feedback (Liao, Leibo & Poggio 2016, "How important is weight symmetry in
//! backpropagation?"), with the three variants biotorch names:
//!
//! * **usf** (uniform sign-concordant feedback): B = sign(W)·s, where s = RMS(W) so that B has
//!   W's overall scale;
//! * **brsf** (batchwise random-magnitude sign-concordant feedback): B = |M|∘sign(W), with M
//!   redrawn for every batch like W's initialisation;
//! * **frsf** (fixed random-magnitude sign-concordant feedback): the same with M drawn once.
//!
//! The feedback shares W's signs but not its magnitudes: weight transport of one bit a synapse.

use burn::prelude::*;

use super::feedback::{FeedbackPathway, random_feedback};
use crate::model::{FeedbackWeights, SeedNet};

/// Which magnitudes the sign-concordant feedback uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignVariant {
    Uniform,
    BatchwiseRandom,
    FixedRandom,
}

pub struct SignSymmetry {
    variant: SignVariant,
    seed: u64,
    batch: u64,
    /// |M| for the fixed variant (or given magnitudes).
    magnitudes: Option<FeedbackWeights>,
}

impl SignSymmetry {
    pub fn new(variant: SignVariant, seed: u64, model: &SeedNet) -> Self {
        let magnitudes = match variant {
            SignVariant::FixedRandom => Some(random_feedback(seed, "frsf-magnitudes", model)),
            _ => None,
        };
        Self {
            variant,
            seed,
            batch: 0,
            magnitudes,
        }
    }

    /// Fixed-magnitude sign feedback with the given magnitudes M (B = |M|∘sign(W)). With
    /// M = W this is exactly backprop, which the tests check.
    pub fn with_magnitudes(magnitudes: FeedbackWeights) -> Self {
        Self {
            variant: SignVariant::FixedRandom,
            seed: 0,
            batch: 0,
            magnitudes: Some(magnitudes),
        }
    }
}

fn signed<const D: usize>(w: Tensor<D>, magnitude: Option<&Tensor<D>>) -> Tensor<D> {
    let w = w.detach();
    match magnitude {
        Some(m) => w.sign() * m.clone().detach().abs(),
        None => {
            let rms = w.clone().powi_scalar(2).mean().sqrt(); // [1]
            let rms = rms.reshape([1; D]);
            w.sign() * rms
        }
    }
}

impl FeedbackPathway for SignSymmetry {
    fn id(&self) -> &'static str {
        match self.variant {
            SignVariant::Uniform => "usf",
            SignVariant::BatchwiseRandom => "brsf",
            SignVariant::FixedRandom => "frsf",
        }
    }

    fn feedback(&mut self, model: &SeedNet) -> FeedbackWeights {
        let drawn;
        let magnitudes = match self.variant {
            SignVariant::Uniform => None,
            SignVariant::FixedRandom => self.magnitudes.as_ref(),
            SignVariant::BatchwiseRandom => {
                self.batch += 1;
                let purpose = format!("brsf-magnitudes-{}", self.batch);
                drawn = random_feedback(self.seed, &purpose, model);
                Some(&drawn)
            }
        };
        let pick2 = |f: fn(&FeedbackWeights) -> Option<&Tensor<2>>| magnitudes.and_then(f);
        FeedbackWeights {
            conv2: Some(signed(
                model.conv2.weight.val(),
                magnitudes.and_then(|m| m.conv2.as_ref()),
            )),
            fc1: Some(signed(model.fc1.weight.val(), pick2(|m| m.fc1.as_ref()))),
            fc2: Some(signed(model.fc2.weight.val(), pick2(|m| m.fc2.as_ref()))),
        }
    }
}
