//! The seed network, exactly as the lab's brief fixes it:
//! conv1 32@3×3 → ReLU → conv2 64@3×3 → ReLU → maxpool 2 → flatten 9216 → fc1 128 → ReLU →
//! fc2 10 → log-softmax. No dropout. Input normalisation happens in `data::images_to_tensor`.
//!
//! This file is the one place the architecture is written down. The network is five stages
//! (front end, conv2, pool, fc1, readout), each a method that returns what the learning rules,
//! the activation capture and the diagnostics read (a [`Stage`]'s pre- and post-activation).
//! Every rule composes these stages, and the transposed maps below carry errors back through
//! them by hand where a rule needs that (predictive coding), so a change to a layer is an edit
//! here and the compiler points to whatever must follow.

use burn::module::Param;
use burn::nn::conv::Conv2d;
use burn::nn::{Linear, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, relu};
use burn::tensor::module::{
    conv_transpose2d, max_pool2d, max_pool2d_with_indices, max_pool2d_with_indices_backward,
};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions, MaxPoolOptions};

use super::feedback::{FeedbackWeights, conv_with_feedback, linear_with_feedback};
use crate::frontends::{FrontEndKind, NeuronalNoise};
use crate::rng::LabRng;

pub const CONV1_CHANNELS: usize = 32;
pub const CONV2_CHANNELS: usize = 64;
pub const KERNEL: usize = 3;
/// The front end's output side (26) and conv2's (24): 3×3 valid convolutions of 28×28 images.
pub const FRONT_END_SIDE: usize = 26;
pub const CONV2_SIDE: usize = 24;
/// Units per image of each stage's output.
pub const FRONT_END_UNITS: usize = CONV1_CHANNELS * FRONT_END_SIDE * FRONT_END_SIDE; // 21,632
pub const CONV2_UNITS: usize = CONV2_CHANNELS * CONV2_SIDE * CONV2_SIDE; // 36,864
pub const FLAT_FEATURES: usize = CONV2_CHANNELS * (CONV2_SIDE / 2) * (CONV2_SIDE / 2); // 9216
pub const HIDDEN: usize = 128;
pub const CLASSES: usize = 10;

/// One stage's output for a batch: the layer's affine output and what follows its
/// nonlinearity. Rules read `pre` for derivatives (ReLU′ is `pre > 0`) and `post` as the next
/// stage's input.
#[derive(Debug, Clone)]
pub struct Stage<const D: usize> {
    pub pre: Tensor<D>,
    pub post: Tensor<D>,
}

/// The seed network's 2×2 max pool.
fn pool_options() -> MaxPoolOptions<2> {
    MaxPoolOptions::new([2, 2])
}

/// A convolution layer's geometry as `conv2d`'s options, for rules that run a layer's kernel
/// on other inputs (Hebbian plasticity, feedback through B).
pub fn conv_options(layer: &Conv2d) -> ConvOptions<2> {
    ConvOptions::new(layer.stride, padding(layer), layer.dilation, layer.groups)
}

/// A convolution layer's padding per side, `[height, width]`.
fn padding(layer: &Conv2d) -> [usize; 2] {
    match layer.padding {
        PaddingConfig2d::Valid => [0, 0],
        PaddingConfig2d::Explicit(top, left, _, _) => [top, left],
        // Stride 1 and odd kernels, as every layer here has: half the kernel on each side.
        PaddingConfig2d::Same => [layer.kernel_size[0] / 2, layer.kernel_size[1] / 2],
    }
}

/// Where each 2×2 window of the pool took its maximum, for carrying an error back through the
/// pool by hand ([`SeedNet::pool_routing`]).
#[derive(Debug, Clone)]
pub struct PoolRouting {
    /// The pool's input, `[B, 64, 24, 24]`.
    input: Tensor<4>,
    indices: Tensor<4, Int>,
}

impl PoolRouting {
    /// The pool's transpose: a gradient at the flattened pool output `[B, 9216]` routed to the
    /// window maxima of its input, `[B, 64, 24, 24]`.
    pub fn transpose(&self, v: Tensor<2>) -> Tensor<4> {
        let [b, c, h, w] = self.input.dims();
        let pooled = v.reshape([b, c, h / 2, w / 2]); // [B, 64, 12, 12]
        let options = pool_options();
        max_pool2d_with_indices_backward(
            self.input.clone(),
            options.kernel_size,
            options.stride,
            [0, 0],
            options.dilation,
            false,
            pooled,
            self.indices.clone(),
        ) // → [B, 64, 24, 24]
    }
}

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

    /// Stage 1, the front end: conv1 and the front end's nonlinearity, then the neuronal noise
    /// if it is on. `pre` is conv1's output (a fixed bank's raw filter responses).
    pub fn front_end_stage(&self, x: Tensor<4>) -> Stage<4> {
        let pre = self.conv1.forward(x); // [B, 1, 28, 28] → [B, C, 26, 26]
        let post = self.noise.apply(self.front_end.respond(pre.clone())); // → [B, 32, 26, 26]
        Stage { pre, post }
    }

    /// Stage 2, conv2 and its ReLU; the input gradient flows through `feedback` (a B of conv2's
    /// weight shape) instead of conv2's weight when one is given (`model::feedback`).
    pub fn conv2_stage(&self, x: Tensor<4>, feedback: Option<&Tensor<4>>) -> Stage<4> {
        let pre = conv_with_feedback(&self.conv2, x, feedback); // [B, 32, 26, 26] → [B, 64, 24, 24]
        let post = relu(pre.clone()); // [B, 64, 24, 24]
        Stage { pre, post }
    }

    /// Stage 3, the 2×2 max pool, flattened for fc1. No weights, so no feedback.
    pub fn pool_stage(&self, x: Tensor<4>) -> Tensor<2> {
        let pooled = max_pool2d(x, pool_options()); // [B, 64, 24, 24] → [B, 64, 12, 12]
        pooled.flatten::<2>(1, 3) // → [B, 9216]
    }

    /// The pool's routing for input `x` `[B, 64, 24, 24]` (see [`PoolRouting::transpose`]).
    pub fn pool_routing(&self, x: Tensor<4>) -> PoolRouting {
        let (_, indices) = max_pool2d_with_indices(x.clone(), pool_options()); // [B, 64, 12, 12]
        PoolRouting { input: x, indices }
    }

    /// Stage 4, fc1 and its ReLU, with optional feedback weights of fc1's weight shape.
    pub fn fc1_stage(&self, x: Tensor<2>, feedback: Option<&Tensor<2>>) -> Stage<2> {
        let pre = linear_with_feedback(&self.fc1, x, feedback); // [B, 9216] → [B, 128]
        let post = relu(pre.clone()); // [B, 128]
        Stage { pre, post }
    }

    /// Stage 5, the readout fc2: class logits before the softmax, with optional feedback
    /// weights of fc2's weight shape.
    pub fn readout_stage(&self, x: Tensor<2>, feedback: Option<&Tensor<2>>) -> Tensor<2> {
        linear_with_feedback(&self.fc2, x, feedback) // [B, 128] → [B, 10]
    }

    /// conv2's transpose: a gradient at conv2's pre-activation carried to its input through
    /// conv2's weight. `[B, 64, 24, 24]` → `[B, 32, 26, 26]`.
    pub fn conv2_transpose(&self, v: Tensor<4>) -> Tensor<4> {
        let layer = &self.conv2;
        let options = ConvTransposeOptions::new(
            layer.stride,
            padding(layer),
            [0, 0],
            layer.dilation,
            layer.groups,
        );
        conv_transpose2d(v, layer.weight.val(), None, options) // → [B, 32, 26, 26]
    }

    /// fc1's transpose: `[B, 128]` → `[B, 9216]`.
    pub fn fc1_transpose(&self, v: Tensor<2>) -> Tensor<2> {
        v.matmul(self.fc1.weight.val().transpose()) // [B, 128]·[128, 9216] → [B, 9216]
    }

    /// The readout's transpose: `[B, 10]` → `[B, 128]`.
    pub fn readout_transpose(&self, v: Tensor<2>) -> Tensor<2> {
        v.matmul(self.fc2.weight.val().transpose()) // [B, 10]·[10, 128] → [B, 128]
    }

    /// The first layer's output (stage 1's `post`). `[B, 1, 28, 28]` → `[B, 32, 26, 26]`.
    pub fn first_layer(&self, x: Tensor<4>) -> Tensor<4> {
        self.front_end_stage(x).post
    }

    /// The same network with `noise` after its first layer.
    pub fn with_noise(mut self, noise: NeuronalNoise) -> Self {
        self.noise = noise;
        self
    }

    /// Every layer's activations for a normalised input batch.
    pub fn activations(&self, x: Tensor<4>) -> Activations {
        let conv1 = self.front_end_stage(x).post; // [B, 1, 28, 28] → [B, 32, 26, 26]
        let conv2 = self.conv2_stage(conv1.clone(), None).post; // → [B, 64, 24, 24]
        let pool = self.pool_stage(conv2.clone()); // → [B, 9216]
        let fc1 = self.fc1_stage(pool.clone(), None).post; // → [B, 128]
        let logits = self.readout_stage(fc1.clone(), None); // → [B, 10]
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
        let x = self.front_end_stage(x).post; // [B, 1, 28, 28] → [B, 32, 26, 26]
        let x = self.conv2_stage(x, feedback.conv2.as_ref()).post; // → [B, 64, 24, 24]
        let x = self.pool_stage(x); // → [B, 9216]
        let x = self.fc1_stage(x, feedback.fc1.as_ref()).post; // → [B, 128]
        self.readout_stage(x, feedback.fc2.as_ref()) // → [B, 10]
    }

    /// Log-probabilities over the 10 classes: `[B, 1, 28, 28] → [B, 10]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        log_softmax(self.logits(x), 1) // [B, 10] → [B, 10]
    }
}
