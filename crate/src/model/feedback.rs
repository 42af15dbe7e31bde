//! The backward pathway of the seed network: which weights carry the error back through each
//! layer. Exact backprop sends it back through the layer's own weights W; the feedback-alignment
//! family (FA, sign symmetry, Kolen-Pollack) sends it through other weights B of W's shape.
//!
//! Mechanism (one for every such rule, on every backend): for a layer with feedback B,
//!
//! ```text
//! y = f(x.detach(), W) + (f(x, B) − f(x, B).detach())
//! ```
//!
//! The bracket is exactly zero in the forward pass (a value minus itself), so y is bit-for-bit
//! the normal output. In the backward pass burn's autodiff sends δ to W as usual (through the
//! first term, whose input is x's value) and to x only through f(x, B): the input gradient is
//! δ·B instead of δ·W. B is a plain (detached) tensor, so it never receives a gradient itself.
//! conv1 needs no feedback weights: its input is the image, whose gradient nobody uses.

use burn::nn::Linear;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::module::conv2d;

use super::seed_net::conv_options;

/// Feedback weights per layer; `None` means the layer's own weights (exact backprop).
#[derive(Debug, Clone, Default)]
pub struct FeedbackWeights {
    /// `[64, 32, 3, 3]`, like conv2's weight.
    pub conv2: Option<Tensor<4>>,
    /// `[9216, 128]`, like fc1's weight.
    pub fc1: Option<Tensor<2>>,
    /// `[128, 10]`, like fc2's weight.
    pub fc2: Option<Tensor<2>>,
}

impl FeedbackWeights {
    /// Exact backprop: every layer feeds back through its own weights.
    pub fn exact() -> Self {
        Self::default()
    }
}

/// `conv(x, W) + b` whose input gradient flows through `feedback` (if any) instead of W.
pub fn conv_with_feedback(layer: &Conv2d, x: Tensor<4>, feedback: Option<&Tensor<4>>) -> Tensor<4> {
    match feedback {
        None => layer.forward(x),
        Some(b) => {
            let y = layer.forward(x.clone().detach());
            let z = conv2d(x, b.clone().detach(), None, conv_options(layer));
            y + (z.clone() - z.detach())
        }
    }
}

/// `x·W + b` whose input gradient flows through `feedback` (if any) instead of W.
pub fn linear_with_feedback(
    layer: &Linear,
    x: Tensor<2>,
    feedback: Option<&Tensor<2>>,
) -> Tensor<2> {
    match feedback {
        None => layer.forward(x),
        Some(b) => {
            let y = layer.forward(x.clone().detach());
            let z = x.matmul(b.clone().detach());
            y + (z.clone() - z.detach())
        }
    }
}
