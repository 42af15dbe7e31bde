//! Robustness of a trained model to image degradations, the axis on which bio-inspired front
//! ends are claimed to help (Dapello et al. 2020): test accuracy under additive Gaussian pixel
//! noise and under contrast reduction. Degradations act on pixels in [0, 1] (clipped), before
//! the usual normalisation; the noise is seeded, so a table is reproducible.

use serde::{Deserialize, Serialize};

use super::evaluation::evaluate;
use super::trainer::EVAL_BATCH;
use crate::data::ImageSet;
use crate::error::Result;
use crate::model::SeedNet;
use crate::rng::LabRng;
use burn::tensor::Device;

/// Noise standard deviations in [0, 1] pixel units.
pub const NOISE_LEVELS: [f64; 5] = [0.0, 0.1, 0.2, 0.3, 0.5];
/// Contrast factors c: x ↦ 0.5 + c·(x − 0.5).
pub const CONTRAST_LEVELS: [f64; 5] = [1.0, 0.5, 0.3, 0.2, 0.1];

/// A degradation of the test images.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Degradation {
    /// x + N(0, σ²), clipped to [0, 1].
    GaussianNoise { sigma: f64 },
    /// 0.5 + c·(x − 0.5): mid-grey background, fainter strokes.
    Contrast { factor: f64 },
}

impl Degradation {
    /// The degraded copy of `set`; `seed` fixes the noise.
    pub fn apply(&self, set: &ImageSet, seed: u64) -> Result<ImageSet> {
        let mut rng = LabRng::derive(seed, "robustness-noise");
        let pixels: Vec<u8> = set
            .pixels()
            .iter()
            .map(|&p| {
                let x = p as f64 / 255.0;
                let y = match *self {
                    Degradation::GaussianNoise { sigma } => x + sigma * rng.normal() as f64,
                    Degradation::Contrast { factor } => 0.5 + factor * (x - 0.5),
                };
                (y.clamp(0.0, 1.0) * 255.0).round() as u8
            })
            .collect();
        Ok(ImageSet::new(pixels, set.labels().to_vec())?)
    }
}

/// Accuracy under one degradation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RobustnessPoint {
    pub degradation: Degradation,
    pub accuracy: f64,
}

/// How many degradations [`robustness`] measures: every noise level, then every contrast factor
/// below 1 (contrast 1 is noise σ = 0).
pub fn robustness_levels() -> usize {
    NOISE_LEVELS.len() + CONTRAST_LEVELS.len() - 1
}

/// Test accuracy under every noise level and contrast factor. `on_level(done, total)` is called
/// after each of the [`robustness_levels`] evaluations (the page's progress bar).
pub async fn robustness(
    model: &SeedNet,
    test: &ImageSet,
    seed: u64,
    device: &Device,
    on_level: impl FnMut(usize, usize),
) -> Result<Vec<RobustnessPoint>> {
    let contrast: Vec<f64> = CONTRAST_LEVELS.iter().skip(1).copied().collect();
    robustness_at(
        model,
        test,
        seed,
        &NOISE_LEVELS,
        &contrast,
        device,
        on_level,
    )
    .await
}

/// Test accuracy under the noise levels `noise` and then the contrast factors `contrast` (a
/// study's own levels), one point each, with the same seeded noise as [`robustness`].
pub async fn robustness_at(
    model: &SeedNet,
    test: &ImageSet,
    seed: u64,
    noise: &[f64],
    contrast: &[f64],
    device: &Device,
    mut on_level: impl FnMut(usize, usize),
) -> Result<Vec<RobustnessPoint>> {
    let degradations = noise
        .iter()
        .map(|&sigma| Degradation::GaussianNoise { sigma })
        .chain(
            contrast
                .iter()
                .map(|&factor| Degradation::Contrast { factor }),
        );
    let total = noise.len() + contrast.len();
    let mut out = Vec::new();
    for degradation in degradations {
        let degraded = degradation.apply(test, seed)?;
        let evaluation = evaluate(model, &degraded, EVAL_BATCH, device).await?;
        out.push(RobustnessPoint {
            degradation,
            accuracy: evaluation.accuracy,
        });
        on_level(out.len(), total);
    }
    Ok(out)
}
