//! A fixed V1-like Gabor bank in the spirit of VOneNet (Dapello et al. 2020), sized for 28×28
//! digits.
//!
//! Gabor filter: g(x, y) = exp(−(x'² + y'²)/(2σ²)) · cos(2π f x' + φ), with x' = x cos θ +
//! y sin θ, y' = −x sin θ + y cos θ, on a 9×9 grid centred at 0.
//!
//! Channels (32 in all):
//! - 16 simple cells, rectified responses relu(g ∗ image): 8 orientations θ = kπ/8 × 2 spatial
//!   frequencies f ∈ {0.30, 0.18} cycles/pixel (wavelengths 3.3 and 5.6 px, the scale of digit
//!   strokes), phase φ = 0 (even, bar detectors) for the higher and φ = π/2 (odd, edge
//!   detectors) for the lower frequency.
//! - 16 complex cells, quadrature energy √((g₀ ∗ image)² + (g_{π/2} ∗ image)²)/√2, same 8 × 2
//!   orientations and frequencies: phase-invariant, as V1 complex cells are.
//!
//! σ = 0.56 / f (a one-octave bandwidth), capped at 3 px so the envelope fits the 9×9 kernel.
//! Each kernel has its mean removed (no response to uniform light) and unit L2 norm.

use std::f32::consts::PI;

use super::BANK_KERNEL;

pub const GABOR_SIMPLE: usize = 16;
pub const GABOR_COMPLEX: usize = 16;
pub const ORIENTATIONS: usize = 8;
pub const FREQUENCIES: [f32; 2] = [0.30, 0.18];

/// The parameters of one Gabor kernel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaborCell {
    /// Orientation θ in radians (the direction of the carrier's wave vector).
    pub theta: f32,
    /// Spatial frequency in cycles per pixel.
    pub frequency: f32,
    pub phase: f32,
}

impl GaborCell {
    pub fn sigma(&self) -> f32 {
        (0.56 / self.frequency).min(3.0)
    }

    /// The 9×9 kernel, zero-mean and unit-norm, row-major (y, then x).
    pub fn kernel(&self) -> Vec<f32> {
        let r = (BANK_KERNEL / 2) as f32;
        let s2 = 2.0 * self.sigma().powi(2);
        let (sin, cos) = self.theta.sin_cos();
        let mut k: Vec<f32> = (0..BANK_KERNEL * BANK_KERNEL)
            .map(|i| {
                let y = (i / BANK_KERNEL) as f32 - r;
                let x = (i % BANK_KERNEL) as f32 - r;
                let xr = x * cos + y * sin;
                let yr = -x * sin + y * cos;
                (-(xr * xr + yr * yr) / s2).exp()
                    * (2.0 * PI * self.frequency * xr + self.phase).cos()
            })
            .collect();
        let mean = k.iter().sum::<f32>() / k.len() as f32;
        k.iter_mut().for_each(|v| *v -= mean);
        let norm = k.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        k.iter_mut().for_each(|v| *v /= norm);
        k
    }
}

/// Simple cells, in channel order.
pub fn simple_cells() -> Vec<GaborCell> {
    FREQUENCIES
        .iter()
        .enumerate()
        .flat_map(|(i, &frequency)| {
            (0..ORIENTATIONS).map(move |o| GaborCell {
                theta: o as f32 * PI / ORIENTATIONS as f32,
                frequency,
                phase: if i == 0 { 0.0 } else { PI / 2.0 },
            })
        })
        .collect()
}

/// Complex cells' even (φ = 0) filters; each has a φ = π/2 partner.
pub fn complex_cells() -> Vec<GaborCell> {
    FREQUENCIES
        .iter()
        .flat_map(|&frequency| {
            (0..ORIENTATIONS).map(move |o| GaborCell {
                theta: o as f32 * PI / ORIENTATIONS as f32,
                frequency,
                phase: 0.0,
            })
        })
        .collect()
}

/// The convolution bank `[48, 1, 9, 9]`: 16 simple, then the 16 complex cells' even filters,
/// then their odd partners.
pub fn gabor_bank() -> Vec<f32> {
    let even = complex_cells();
    let odd: Vec<GaborCell> = even
        .iter()
        .map(|c| GaborCell {
            phase: PI / 2.0,
            ..*c
        })
        .collect();
    simple_cells()
        .iter()
        .chain(&even)
        .chain(&odd)
        .flat_map(|c| c.kernel())
        .collect()
}
