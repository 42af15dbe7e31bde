//! The seed network, exactly as the lab's brief fixes it:
//! conv1 32@3×3 → ReLU → conv2 64@3×3 → ReLU → maxpool 2 → flatten 9216 → fc1 128 → ReLU →
//! fc2 10 → log-softmax. No dropout. Input normalisation happens in `data::images_to_tensor`.

use burn::module::Param;
use burn::nn::conv::Conv2d;
use burn::nn::{Linear, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, relu};
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;

use super::feedback::{FeedbackWeights, conv_with_feedback, linear_with_feedback};
use crate::frontends::{FrontEndKind, NeuronalNoise};
use crate::rng::LabRng;

pub const CONV1_CHANNELS: usize = 32;
pub const CONV2_CHANNELS: usize = 64;
pub const KERNEL: usize = 3;
pub const FLAT_FEATURES: usize = CONV2_CHANNELS * 12 * 12; // 9216
pub const HIDDEN: usize = 128;
pub const CLASSES: usize = 10;

/// The seed CNN. Fields are public so learning rules can read each layer's weights.
#[derive(Module, Debug)]
pub struct SeedNet {
    /// The first layer's convolution; what follows it depends on `front_end`.
    pub conv1: Conv2d,
    pub conv2: Conv2d,
    pub fc1: Linear,
    pub fc2: Linear,
    /// Which first layer this network has (`frontends`); not saved in weight files.
    #[module(skip)]
    pub front_end: FrontEndKind,
    /// Optional neuronal noise after the first layer (Gabor front end); off by default and
    /// not saved in weight files.
    #[module(skip)]
    pub noise: NeuronalNoise,
}

/// Every layer's output for one batch, for rules and analyses that look inside the network.
#[derive(Debug, Clone)]
pub struct Activations {
    /// conv1 after ReLU: `[batch, 32, 26, 26]`.
    pub conv1: Tensor<4>,
    /// conv2 after ReLU: `[batch, 64, 24, 24]`.
    pub conv2: Tensor<4>,
    /// After max-pooling, flattened: `[batch, 9216]`.
    pub pool: Tensor<2>,
    /// fc1 after ReLU: `[batch, 128]`.
    pub fc1: Tensor<2>,
    /// fc2 output before the softmax: `[batch, 10]`.
    pub logits: Tensor<2>,
}

fn conv_layer(rng: &mut LabRng, c_in: usize, c_out: usize, device: &Device) -> Conv2d {
    // PyTorch's default init (kaiming_uniform with a = √5): U(±1/√fan_in) for weight and bias,
    // so results line up with the PyTorch reference figures in the team notes.
    let fan_in = c_in * KERNEL * KERNEL;
    let bound = 1.0 / (fan_in as f32).sqrt();
    let weight = rng.uniform_vec(c_out * fan_in, bound);
    let bias = rng.uniform_vec(c_out, bound);
    Conv2d {
        weight: Param::from_data(
            TensorData::new(weight, [c_out, c_in, KERNEL, KERNEL]),
            device,
        ),
        bias: Some(Param::from_data(TensorData::new(bias, [c_out]), device)),
        stride: [1, 1],
        kernel_size: [KERNEL, KERNEL],
        dilation: [1, 1],
        groups: 1,
        padding: PaddingConfig2d::Valid,
    }
}

fn linear_layer(rng: &mut LabRng, d_in: usize, d_out: usize, device: &Device) -> Linear {
    let bound = 1.0 / (d_in as f32).sqrt();
    // burn stores linear weights as [d_in, d_out] (y = x·W + b).
    let weight = rng.uniform_vec(d_in * d_out, bound);
    let bias = rng.uniform_vec(d_out, bound);
    Linear {
        weight: Param::from_data(TensorData::new(weight, [d_in, d_out]), device),
        bias: Some(Param::from_data(TensorData::new(bias, [d_out]), device)),
    }
}

impl SeedNet {
    /// A freshly initialised network with the learned front end. The same seed gives the same
    /// weights on every backend.
    pub fn init(seed: u64, device: &Device) -> Self {
        Self::with_front_end(seed, FrontEndKind::Learned, device)
    }

    /// A freshly initialised network with the given first layer. conv2 onward are initialised
    /// identically whatever the front end, so front ends compare on equal terms.
    pub fn with_front_end(seed: u64, front_end: FrontEndKind, device: &Device) -> Self {
        let mut rng = LabRng::derive(seed, "seed-net-init");
        let learned = conv_layer(&mut rng, 1, CONV1_CHANNELS, device);
        Self {
            conv1: front_end.build_conv(learned, device),
            front_end,
            noise: NeuronalNoise::default(),
            conv2: conv_layer(&mut rng, CONV1_CHANNELS, CONV2_CHANNELS, device),
            fc1: linear_layer(&mut rng, FLAT_FEATURES, HIDDEN, device),
            fc2: linear_layer(&mut rng, HIDDEN, CLASSES, device),
        }
    }

    /// The first layer's output: the front end's convolution and nonlinearity, then the
    /// neuronal noise if it is on. `[B, 1, 28, 28]` → `[B, 32, 26, 26]`.
    pub fn first_layer(&self, x: Tensor<4>) -> Tensor<4> {
        self.noise.apply(self.front_end.forward(&self.conv1, x))
    }

    /// The same network with `noise` after its first layer.
    pub fn with_noise(mut self, noise: NeuronalNoise) -> Self {
        self.noise = noise;
        self
    }

    /// Every layer's activations for a normalised input batch.
    pub fn activations(&self, x: Tensor<4>) -> Activations {
        let conv1 = self.first_layer(x); // [B, 1, 28, 28] → [B, 32, 26, 26]
        let conv2 = relu(self.conv2.forward(conv1.clone())); // → [B, 64, 24, 24]
        let pooled = max_pool2d(conv2.clone(), MaxPoolOptions::new([2, 2])); // → [B, 64, 12, 12]
        let pool = pooled.flatten::<2>(1, 3); // → [B, 9216]
        let fc1 = relu(self.fc1.forward(pool.clone())); // → [B, 128]
        let logits = self.fc2.forward(fc1.clone()); // → [B, 10]
        Activations {
            conv1,
            conv2,
            pool,
            fc1,
            logits,
        }
    }

    /// Class logits (before the softmax) for a normalised input batch.
    pub fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        self.logits_with_feedback(x, &FeedbackWeights::exact())
    }

    /// Class logits whose backward pass carries the error through `feedback` (see
    /// `model::feedback`). The forward values are the same as `logits`.
    pub fn logits_with_feedback(&self, x: Tensor<4>, feedback: &FeedbackWeights) -> Tensor<2> {
        let x = self.first_layer(x); // [B, 1, 28, 28] → [B, 32, 26, 26]
        let x = relu(conv_with_feedback(&self.conv2, x, feedback.conv2.as_ref())); // → [B, 64, 24, 24]
        let x = max_pool2d(x, MaxPoolOptions::new([2, 2])); // → [B, 64, 12, 12]
        let x = x.flatten::<2>(1, 3); // → [B, 9216]
        let x = relu(linear_with_feedback(&self.fc1, x, feedback.fc1.as_ref())); // → [B, 128]
        linear_with_feedback(&self.fc2, x, feedback.fc2.as_ref()) // → [B, 10]
    }

    /// Log-probabilities over the 10 classes: `[B, 1, 28, 28] → [B, 10]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        log_softmax(self.logits(x), 1) // [B, 10] → [B, 10]
    }
}
