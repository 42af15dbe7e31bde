//! First-layer front ends (research question 1): what replaces conv1. Each produces the same
//! `[B, 32, 26, 26]` output, so conv2 onward, and every learning rule, are unchanged.
//!
//! - `learned`: the seed's conv1 (32@3×3), trained by the chosen rule.
//! - `gabor`: a fixed V1-like bank of simple and complex cells (`gabor.rs`), optionally with
//!   VOneNet's Poisson-like "neuronal" noise after it (`noise.rs`).
//! - `dog`: a fixed retina-like bank of ON/OFF difference-of-Gaussians cells (`dog.rs`).
//! - `random`: conv1 drawn like the learned layer's initialisation, never trained.
//!
//! Every front end is a `Conv2d` (so weights save and load like any layer) followed by a fixed
//! nonlinearity. The fixed ones are built with `require_grad = false`: autodiff then gives them
//! no gradient, no rule or optimizer can change them, and the model reports them as frozen.

mod dog;
mod gabor;
mod noise;

use burn::module::Param;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

pub use dog::dog_bank;
pub use gabor::{GABOR_COMPLEX, GABOR_SIMPLE, GaborCell, gabor_bank};
pub use noise::NeuronalNoise;

/// Output channels of every front end (the seed's conv1).
pub const FRONT_END_CHANNELS: usize = 32;
/// Kernel size of the fixed filter banks: large enough for digit strokes at several scales;
/// padding 3 keeps the output at 26×26, as conv1's 3×3 valid convolution gives.
pub const BANK_KERNEL: usize = 9;
const BANK_PADDING: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum FrontEndKind {
    #[default]
    Learned,
    Gabor,
    Dog,
    Random,
}

/// A front end's registry entry, for the CLI's help and the page's menu.
pub struct FrontEndInfo {
    pub kind: FrontEndKind,
    pub id: &'static str,
    pub name: &'static str,
    pub summary: &'static str,
}

pub const FRONT_ENDS: &[FrontEndInfo] = &[
    FrontEndInfo {
        kind: FrontEndKind::Learned,
        id: "learned",
        name: "Learned convolution",
        summary: "The seed's conv1, 32 3×3 filters trained with the rest of the network.",
    },
    FrontEndInfo {
        kind: FrontEndKind::Gabor,
        id: "gabor",
        name: "Gabor / V1 (fixed)",
        summary: "16 simple and 16 complex cells: Gabor filters at 8 orientations and 2 spatial frequencies.",
    },
    FrontEndInfo {
        kind: FrontEndKind::Dog,
        id: "dog",
        name: "Retina, difference of Gaussians (fixed)",
        summary: "16 ON-centre and 16 OFF-centre cells at 4 centre sizes × 4 surround ratios.",
    },
    FrontEndInfo {
        kind: FrontEndKind::Random,
        id: "random",
        name: "Random (fixed)",
        summary: "conv1's random initial filters, never trained.",
    },
];

impl FrontEndKind {
    pub fn id(self) -> &'static str {
        FRONT_ENDS
            .iter()
            .find(|f| f.kind == self)
            .map_or("learned", |f| f.id)
    }

    pub fn from_id(id: &str) -> Option<Self> {
        FRONT_ENDS.iter().find(|f| f.id == id).map(|f| f.kind)
    }

    /// True for the fixed banks: no rule may change them.
    pub fn is_frozen(self) -> bool {
        self != FrontEndKind::Learned
    }

    /// Output channels of the convolution before the front end's nonlinearity (the Gabor
    /// bank's complex cells need a quadrature pair each).
    pub fn conv_channels(self) -> usize {
        match self {
            FrontEndKind::Gabor => GABOR_SIMPLE + 2 * GABOR_COMPLEX,
            _ => FRONT_END_CHANNELS,
        }
    }

    pub fn kernel_size(self) -> usize {
        match self {
            FrontEndKind::Gabor | FrontEndKind::Dog => BANK_KERNEL,
            _ => 3,
        }
    }

    /// The convolution of this front end. `learned_init` is conv1's seeded initialisation,
    /// used by `learned` (trainable) and `random` (frozen).
    pub fn build_conv(self, learned_init: Conv2d, device: &Device) -> Conv2d {
        let bank = match self {
            FrontEndKind::Learned => return learned_init,
            FrontEndKind::Random => {
                let mut conv = learned_init;
                conv.weight = conv.weight.set_require_grad(false);
                conv.bias = conv.bias.map(|b| b.set_require_grad(false));
                return conv;
            }
            FrontEndKind::Gabor => gabor_bank(),
            FrontEndKind::Dog => dog_bank(),
        };
        let (k, out) = (self.kernel_size(), self.conv_channels());
        debug_assert_eq!(bank.len(), out * k * k);
        Conv2d {
            weight: Param::from_data(TensorData::new(bank, [out, 1, k, k]), device)
                .set_require_grad(false),
            bias: Some(
                Param::from_data(TensorData::new(vec![0.0f32; out], [out]), device)
                    .set_require_grad(false),
            ),
            stride: [1, 1],
            kernel_size: [k, k],
            dilation: [1, 1],
            groups: 1,
            padding: PaddingConfig2d::Explicit(
                BANK_PADDING,
                BANK_PADDING,
                BANK_PADDING,
                BANK_PADDING,
            ),
        }
    }

    /// The front end's nonlinearity on its convolution's output `z` (`SeedNet::front_end_stage`
    /// runs the convolution): `[B, C, 26, 26] → [B, 32, 26, 26]`.
    pub fn respond(self, z: Tensor<4>) -> Tensor<4> {
        match self {
            FrontEndKind::Gabor => {
                let [b, _, h, w] = z.dims();
                let simple = z.clone().slice([0..b, 0..GABOR_SIMPLE, 0..h, 0..w]); // [B, 16, 26, 26]
                let q0 =
                    z.clone()
                        .slice([0..b, GABOR_SIMPLE..GABOR_SIMPLE + GABOR_COMPLEX, 0..h, 0..w]);
                let q1 = z.slice([
                    0..b,
                    GABOR_SIMPLE + GABOR_COMPLEX..GABOR_SIMPLE + 2 * GABOR_COMPLEX,
                    0..h,
                    0..w,
                ]);
                // Complex cells: quadrature energy √(q0² + q1²)/√2 (Adelson & Bergen 1985).
                let energy = (q0.powf_scalar(2.0) + q1.powf_scalar(2.0) + 1e-12).sqrt()
                    / std::f32::consts::SQRT_2;
                Tensor::cat(vec![relu(simple), energy], 1) // [B, 32, 26, 26]
            }
            _ => relu(z), // [B, 32, 26, 26]
        }
    }
}
