//! Optional "neuronal" noise after the Gabor bank, as in VOneNet (Dapello et al. 2020): each
//! simple or complex cell's response r ≥ 0 becomes
//!
//! ```text
//! r + s · ε · √r,   ε ~ N(0, 1) per cell, image and presentation
//! ```
//!
//! a Poisson-like variability whose variance (s²·r) grows with the response, as spike counts'
//! do. It acts in training and in evaluation alike (VOneNet keeps it at test time), so a noisy
//! model answers stochastically. Off (s = 0) by default.
//!
//! The noise is drawn on the host from the run's seed (`LabRng`), not from the backend's global
//! RNG, so the same seed gives the same numbers on the CPU backend even with tests running in
//! parallel. It is a setting of the run, not a weight: weight files do not carry it.

use std::sync::{Arc, Mutex};

use burn::prelude::*;

use crate::rng::LabRng;

/// The noise setting of a network; `NeuronalNoise::default()` is off.
#[derive(Debug, Clone, Default)]
pub struct NeuronalNoise {
    scale: f32,
    /// Shared by the copies of a model (`valid()`, optimizer steps), so draws never repeat.
    rng: Option<Arc<Mutex<LabRng>>>,
}

impl NeuronalNoise {
    /// Noise of scale `scale` (0 or less: off), seeded by the run's `seed`.
    pub fn new(scale: f32, seed: u64) -> Self {
        if scale <= 0.0 || !scale.is_finite() {
            return Self::default();
        }
        Self {
            scale,
            rng: Some(Arc::new(Mutex::new(LabRng::derive(seed, "neuronal-noise")))),
        }
    }

    pub fn scale(&self) -> f32 {
        if self.rng.is_some() { self.scale } else { 0.0 }
    }

    /// `responses` `[B, C, H, W]` (non-negative) with the noise added; unchanged when off.
    pub fn apply(&self, responses: Tensor<4>) -> Tensor<4> {
        let Some(rng) = &self.rng else {
            return responses;
        };
        let dims = responses.dims();
        let count = dims.iter().product();
        let epsilon: Vec<f32> = {
            // A poisoned lock only means another thread panicked mid-draw; the stream is intact.
            let mut rng = rng.lock().unwrap_or_else(|e| e.into_inner());
            (0..count).map(|_| rng.normal()).collect()
        };
        let epsilon = Tensor::<4>::from_data(TensorData::new(epsilon, dims), &responses.device());
        let spread = responses.clone().clamp_min(0.0).sqrt() * self.scale; // [B, C, H, W]
        responses + epsilon * spread // [B, C, H, W]
    }
}
