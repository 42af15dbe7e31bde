//! Forward-forward (Hinton 2022): no backward pass at all. Each layer is trained to make its
//! *goodness* high on positive data and low on negative data, from its own activity alone.
//!
//! Adapted to the seed network as follows.
//! - **Labels in the image.** The image's 2-pixel frame (208 pixels, blank in MNIST digits, which
//!   sit in the central 20×20, and nearly so in Fashion-MNIST) is cut clockwise into ten runs of
//!   20 pixels: label k lights run k at full intensity, the rest of the frame is background. A
//!   run rather than Hinton's single pixel per label, because the seed's first layers are 3×3
//!   convolutions: a code must cover many receptive fields to reach fc1 through the max-pool.
//!   Positive data: the image with its own label. Negative data: the same image with a wrong
//!   label, drawn uniformly from the nine others (seeded, one per image per batch).
//! - **FF layers**: conv1 (with the front end's nonlinearity), conv2 and fc1, each followed by its
//!   ReLU. Goodness is the mean of the squared activities over the layer's units,
//!   g = mean(h²), and each layer's loss is
//!   `softplus(θ − g_pos) + softplus(g_neg − θ)`, averaged over the batch (θ = `threshold`).
//!   Each layer's input is detached, so its update comes from its own loss only: nothing
//!   travels backwards between layers.
//! - **Length normalisation between layers**, as Hinton does: each layer's input is scaled to
//!   unit RMS per image, so a layer cannot read the goodness off its input's size and has to
//!   use the pattern. This scaling exists only inside FF's training and goodness inference; the
//!   seed network's layers and its plain forward pass are unchanged (the readout below sees the
//!   plain forward pass).
//! - **Inference** picks the label whose embedded image gives fc1 the highest goodness: ten
//!   passes per image, one per candidate label. Only fc1 votes: conv1 and conv2 see 3×3 and
//!   5×5 patches, too small to relate the frame's code to the digit, so their goodness carries
//!   no label information (Hinton likewise leaves the first layer out). The trainer's per-epoch
//!   test accuracy is this inference ([`LearningRule::classify`]).
//! - **fc2**, which FF has no use for, becomes the linear readout Hinton also describes: trained
//!   with the delta rule (the NLL gradient of fc2 alone) on the detached fc1 activity of the
//!   image with no label code. It is what the model's ordinary forward pass answers with, so
//!   that a saved FF model still classifies anywhere a weights file goes (the page's drawing
//!   pad, robustness, the human comparison). Its NLL is the loss the run reports.
//! - **Learning rate.** At the lab's usual Adam rate the layers' goodness collapses and the run
//!   stays at chance, so the rule's registry entry asks for a smaller one, 2e-4.
//!
//! Measurements behind these choices: docs/research-log.md#forward-forward-learning-rate

use burn::config::Config;
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, softplus};

use super::{LearningRule, RuleStep, nll_loss};
use crate::data::{IMAGE_COLS, IMAGE_PIXELS, IMAGE_ROWS, NUM_CLASSES, normalize_pixel, one_hot};
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

/// Width of the image's frame that carries the label code (blank in MNIST digits, which sit in
/// the central 20×20).
const FRAME: usize = 2;
/// Frame pixels per label: the frame (208 pixels) is cut into ten runs of this length.
const CODE_RUN: usize = 20;

/// The frame's pixel indices, clockwise from the top-left corner.
fn frame_pixels() -> Vec<usize> {
    let n = IMAGE_ROWS;
    let inside = |r: usize, c: usize| r >= FRAME && r < n - FRAME && c >= FRAME && c < n - FRAME;
    let mut ring: Vec<(f64, usize)> = Vec::new();
    for r in 0..n {
        for c in 0..n {
            if !inside(r, c) {
                // Angle around the centre orders the frame clockwise.
                let angle = (c as f64 - 13.5).atan2(-(r as f64 - 13.5));
                ring.push((angle, r * n + c));
            }
        }
    }
    ring.sort_by(|a, b| a.0.total_cmp(&b.0));
    ring.into_iter().map(|(_, i)| i).collect()
}

/// `images` `[B, 1, 28, 28]` (normalised) with the label code written into the image's
/// 2-pixel frame: label k lights the k-th run of 20 frame pixels, the rest of the frame is
/// background. `None` writes an all-background frame (no label).
pub fn embed_labels(images: Tensor<4>, labels: Option<Tensor<1, Int>>) -> Tensor<4> {
    let [batch, _, _, _] = images.dims();
    let device = images.device();
    let on = normalize_pixel(255.0);
    let off = normalize_pixel(0.0);
    let frame = frame_pixels();
    let mut frame_mask = vec![0.0f32; IMAGE_PIXELS];
    let mut codes = vec![0.0f32; NUM_CLASSES * IMAGE_PIXELS];
    for (k, &p) in frame.iter().enumerate() {
        frame_mask[p] = 1.0;
        let label = k / CODE_RUN;
        if label < NUM_CLASSES {
            codes[label * IMAGE_PIXELS + p] = 1.0;
        }
    }
    let frame_mask =
        Tensor::<2>::from_data(TensorData::new(frame_mask, [1, IMAGE_PIXELS]), &device);
    let flat = images.reshape([batch, IMAGE_PIXELS]); // [B, 784]
    let mut out = flat * frame_mask.clone().neg().add_scalar(1.0) + frame_mask * off; // [B, 784]
    if let Some(labels) = labels {
        let onehot = one_hot(labels, NUM_CLASSES); // [B, 10]
        let codes =
            Tensor::<2>::from_data(TensorData::new(codes, [NUM_CLASSES, IMAGE_PIXELS]), &device);
        out = out + onehot.matmul(codes) * (on - off); // [B, 784]
    }
    out.reshape([batch, 1, IMAGE_ROWS, IMAGE_COLS])
}

/// The FF layers' activities for (label-embedded) `x`: conv1, conv2, fc1, each with its input
/// detached (and length-normalised) so no gradient crosses between layers.
fn layer_activities(model: &SeedNet, x: Tensor<4>) -> [Tensor<2>; 3] {
    let batch = x.dims()[0];
    let h1 = model.front_end_stage(x).post; // [B, 1, 28, 28] → [B, 32, 26, 26]
    let h2 = model.conv2_stage(unit_rms(h1.clone().detach()), None).post; // → [B, 64, 24, 24]
    let pooled = model.pool_stage(unit_rms(h2.clone().detach())); // → [B, 9216]
    let h3 = model.fc1_stage(pooled, None).post; // → [B, 128]
    [
        h1.reshape([batch as i32, -1]),
        h2.reshape([batch as i32, -1]),
        h3,
    ]
}

/// Each image's activity scaled to unit RMS (Hinton's length normalisation between layers), so
/// the next layer cannot read the goodness off its input's size.
fn unit_rms(h: Tensor<4>) -> Tensor<4> {
    let [b, c, hh, w] = h.dims();
    let rms = h
        .clone()
        .powi_scalar(2)
        .reshape([b, c * hh * w])
        .mean_dim(1)
        .sqrt()
        + 1e-6; // [B, 1]
    h / rms.reshape([b, 1, 1, 1])
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
        let log_probs = log_softmax(model.readout_stage(h3.detach(), None), 1); // [B, 10]
        let loss = nll_loss(log_probs, labels); // [1]
        let grads = GradientsParams::from_grads((ff_loss + loss.clone()).backward(), model);
        // A fixed front end's parameters do not require gradients, so none was produced for it.
        RuleStep {
            loss: loss.detach(),
            grads,
        }
    }

    /// Goodness-based inference: for each candidate label, fc1's goodness; returned as
    /// log-softmax scores `[B, 10]` so the best label is the argmax.
    fn classify(&self, model: &SeedNet, images: Tensor<4>) -> Option<Tensor<2>> {
        let [batch, _, _, _] = images.dims();
        let device = images.device();
        let mut scores = Vec::with_capacity(NUM_CLASSES);
        for label in 0..NUM_CLASSES {
            let labels = Tensor::<1, Int>::full([batch], label as i64, &device);
            let [_, _, h3] = layer_activities(model, embed_labels(images.clone(), Some(labels)));
            scores.push(goodness(h3).unsqueeze_dim::<2>(1)); // [B, 1]
        }
        Some(log_softmax(Tensor::cat(scores, 1), 1)) // [B, 10]
    }
}
