//! A fixed retina-like bank of difference-of-Gaussians cells (Rodieck 1965; Enroth-Cugell &
//! Robson 1966): centre minus surround, each Gaussian normalised to sum 1 over the 9×9 kernel,
//! so every kernel sums to zero (no response to uniform light).
//!
//! Channels (32): 16 ON-centre cells = 4 centre widths σ_c ∈ {0.6, 0.9, 1.3, 1.8} px × 4
//! surround ratios σ_s/σ_c ∈ {1.6, 2.0, 2.5, 3.0}, then their 16 OFF-centre mirrors (OFF = −ON).
//! Outputs are rectified, so ON cells signal "brighter than the surround" and OFF cells
//! "darker", as the two retinal pathways do. Kernels have unit L2 norm.

use super::BANK_KERNEL;

pub const CENTRE_SIGMAS: [f32; 4] = [0.6, 0.9, 1.3, 1.8];
pub const SURROUND_RATIOS: [f32; 4] = [1.6, 2.0, 2.5, 3.0];

fn gaussian(sigma: f32) -> Vec<f32> {
    let r = (BANK_KERNEL / 2) as f32;
    let g: Vec<f32> = (0..BANK_KERNEL * BANK_KERNEL)
        .map(|i| {
            let y = (i / BANK_KERNEL) as f32 - r;
            let x = (i % BANK_KERNEL) as f32 - r;
            (-(x * x + y * y) / (2.0 * sigma * sigma)).exp()
        })
        .collect();
    let sum: f32 = g.iter().sum();
    g.into_iter().map(|v| v / sum).collect()
}

/// One ON-centre kernel, zero-sum and unit-norm.
pub fn on_centre(centre: f32, ratio: f32) -> Vec<f32> {
    let c = gaussian(centre);
    let s = gaussian(centre * ratio);
    let k: Vec<f32> = c.iter().zip(&s).map(|(a, b)| a - b).collect();
    let norm = k.iter().map(|v| v * v).sum::<f32>().sqrt();
    k.into_iter().map(|v| v / norm).collect()
}

/// The bank `[32, 1, 9, 9]`: 16 ON-centre kernels, then the same 16 negated (OFF-centre).
pub fn dog_bank() -> Vec<f32> {
    let on: Vec<f32> = CENTRE_SIGMAS
        .iter()
        .flat_map(|&c| SURROUND_RATIOS.iter().flat_map(move |&r| on_centre(c, r)))
        .collect();
    let off: Vec<f32> = on.iter().map(|v| -v).collect();
    on.into_iter().chain(off).collect()
}
