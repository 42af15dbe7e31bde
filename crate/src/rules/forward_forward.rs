//! Forward-forward (Hinton 2022): no backward pass at all. Each layer is trained to make its
//! *goodness* high on positive data and low on negative data, from its own activity alone.
//!
//! Adapted to the seed network as follows.
//! - **Labels in the image.** The first ten pixels of the top row (blank in MNIST digits, nearly
//!   so in Fashion-MNIST) are overwritten with a one-hot code: pixel k at full intensity for
//!   label k, the other nine at background. Positive data: the image with its own label.
//!   Negative data: the same image with a wrong label, drawn uniformly from the nine others
//!   (seeded, one per image per batch).
//! - **FF layers**: conv1 (with the front end's nonlinearity), conv2 and fc1, each followed by its
//!   ReLU. Goodness is the mean of the squared activities over the layer's units,
//!   g = mean(h²), and each layer's loss is
//!   `softplus(θ − g_pos) + softplus(g_neg − θ)`, averaged over the batch (θ = `threshold`).
//!   Each layer's input is detached, so its update comes from its own loss only: nothing
//!   travels backwards between layers. conv2's output goes through the seed's 2×2 max-pool
//!   before fc1, as in the forward pass. (Hinton normalises the activity vector between layers so
//!   that a layer cannot read goodness off its input's length; the seed network has no
//!   normalisation layer, so this adaptation leaves it out and keeps the architecture exact.)
//! - **Inference** picks the label with the highest goodness accumulated over the FF layers
//!   except the first (as Hinton does): ten passes per image, one per candidate label. The
//!   trainer's per-epoch test accuracy is this inference ([`LearningRule::classify`]).
//! - **fc2**, which FF has no use for, becomes the linear readout Hinton also describes: trained
//!   with the delta rule (the NLL gradient of fc2 alone) on the detached fc1 activity of the
//!   image with no label pixel set. It is what the model's ordinary forward pass answers with,
//!   so that a saved FF model still classifies anywhere a weights file goes (the page's drawing
//!   pad, robustness, the human comparison).

use burn::config::Config;
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, relu, softplus};
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;

use super::{LearningRule, RuleStep, nll_loss};
use crate::data::{NUM_CLASSES, normalize_pixel};
use crate::model::SeedNet;
use crate::rng::LabRng;

/// Forward-forward's settings.
#[derive(Config, Debug)]
pub struct ForwardForwardConfig {
    /// θ: the goodness (mean squared activity) that separates positive from negative.
    #[config(default = 2.0)]
    pub threshold: f32,
}

pub struct ForwardForward {
    config: ForwardForwardConfig,
    rng: LabRng,
}

impl ForwardForward {
    pub fn new(config: ForwardForwardConfig, seed: u64) -> Self {
        Self {
            config,
            rng: LabRng::derive(seed, "forward-forward-negatives"),
        }
    }
}

/// `images` `[B, 1, 28, 28]` (normalised) with the one-hot code of `labels` `[B]` written into
/// the first ten pixels of the top row; `None` clears the ten pixels to background.
pub fn embed_labels(images: Tensor<4>, labels: Option<Tensor<1, Int>>) -> Tensor<4> {
    let [batch, _, _, _] = images.dims();
    let device = images.device();
    let on = normalize_pixel(255.0);
    let off = normalize_pixel(0.0);
    let code = match labels {
        Some(labels) => {
            let classes = Tensor::<1, Int>::arange(0..NUM_CLASSES as i64, &device)
                .unsqueeze_dim::<2>(0)
                .repeat_dim(0, batch); // [B, 10]
            let hot = labels.unsqueeze_dim::<2>(1).repeat_dim(1, NUM_CLASSES); // [B, 10]
            classes.equal(hot).float() * (on - off) + off // [B, 10]
        }
        None => Tensor::<2>::full([batch, NUM_CLASSES], off, &device),
    };
    images.slice_assign(
        [0..batch, 0..1, 0..1, 0..NUM_CLASSES],
        code.reshape([batch, 1, 1, NUM_CLASSES]),
    )
}

/// The FF layers' activities for (label-embedded) `x`: conv1, conv2, fc1, each with its input
/// detached so no gradient crosses between layers. Also returns fc1's (pooled) input.
fn layer_activities(model: &SeedNet, x: Tensor<4>) -> [Tensor<2>; 3] {
    let batch = x.dims()[0];
    let h1 = model.front_end.forward(&model.conv1, x); // [B, 1, 28, 28] → [B, 32, 26, 26]
    let h2 = relu(model.conv2.forward(h1.clone().detach())); // → [B, 64, 24, 24]
    let pooled = max_pool2d(h2.clone().detach(), MaxPoolOptions::new([2, 2])); // → [B, 64, 12, 12]
    let h3 = relu(model.fc1.forward(pooled.flatten::<2>(1, 3))); // [B, 9216] → [B, 128]
    [h1.reshape([batch as i32, -1]), h2.reshape([batch as i32, -1]), h3]
}

/// Goodness per image: the mean squared activity of a layer `[B, units]` → `[B]`.
fn goodness(h: Tensor<2>) -> Tensor<1> {
    h.powi_scalar(2).mean_dim(1).squeeze_dim::<1>(1)
}

impl LearningRule for ForwardForward {
    fn id(&self) -> &'static str {
        "ff"
    }

    fn step(&mut self, model: &SeedNet, images: Tensor<4>, labels: Tensor<1, Int>) -> RuleStep {
        let [batch, _, _, _] = images.dims();
        let device = images.device();
        let shift: Vec<i64> = (0..batch).map(|_| 1 + self.rng.below(9) as i64).collect();
        let shift = Tensor::<1, Int>::from_data(TensorData::new(shift, [batch]), &device);
        let wrong = (labels.clone() + shift).remainder_scalar(NUM_CLASSES as i64); // [B]

        let theta = self.config.threshold;
        let positive = layer_activities(model, embed_labels(images.clone(), Some(labels.clone())));
        let negative = layer_activities(model, embed_labels(images.clone(), Some(wrong)));
        let mut ff_loss = Tensor::<1>::zeros([1], &device);
        for (pos, neg) in positive.into_iter().zip(negative) {
            let push_up = softplus(goodness(pos).neg() + theta, 1.0); // [B]
            let push_down = softplus(goodness(neg) - theta, 1.0); // [B]
            ff_loss = ff_loss + (push_up + push_down).mean(); // [1]
        }

        // The readout: fc2 on the detached fc1 activity of the unlabelled image.
        let [_, _, h3] = layer_activities(model, embed_labels(images, None));
        let log_probs = log_softmax(model.fc2.forward(h3.detach()), 1); // [B, 10]
        let loss = nll_loss(log_probs, labels); // [1]
        let grads = GradientsParams::from_grads((ff_loss + loss.clone()).backward(), model);
        // A fixed front end's parameters do not require gradients, so none was produced for it.
        RuleStep {
            loss: loss.detach(),
            grads,
        }
    }

    /// Goodness-based inference: for each candidate label, the goodness of conv2 and fc1
    /// summed; returned as log-softmax scores `[B, 10]` so the best label is the argmax.
    fn classify(&self, model: &SeedNet, images: Tensor<4>) -> Option<Tensor<2>> {
        let [batch, _, _, _] = images.dims();
        let device = images.device();
        let mut scores = Vec::with_capacity(NUM_CLASSES);
        for label in 0..NUM_CLASSES {
            let labels = Tensor::<1, Int>::full([batch], label as i64, &device);
            let [_, h2, h3] = layer_activities(model, embed_labels(images.clone(), Some(labels)));
            scores.push((goodness(h2) + goodness(h3)).unsqueeze_dim::<2>(1)); // [B, 1]
        }
        Some(log_softmax(Tensor::cat(scores, 1), 1)) // [B, 10]
    }
}
