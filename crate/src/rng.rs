//! Seeded randomness for everything the lab draws on the host: weight initialisation,
//! shuffling, noise. Drawing on the host (rather than with the backend's RNG) makes the same
//! seed give the same initial weights on the CPU and on WebGPU, and keeps parallel tests from
//! sharing a global backend seed.
//!
//! Xoshiro256++ is a fixed, documented algorithm, so a seed means the same numbers in every
//! build; the helpers below avoid rand's distribution code, whose output may change between
//! rand versions.

use rand::{RngExt, SeedableRng, rngs::Xoshiro256PlusPlus};

/// A reproducible random stream.
#[derive(Debug, Clone)]
pub struct LabRng(Xoshiro256PlusPlus);

impl LabRng {
    pub fn new(seed: u64) -> Self {
        LabRng(Xoshiro256PlusPlus::seed_from_u64(seed))
    }

    /// An independent stream for a named purpose, so adding a draw for one purpose never
    /// shifts another's numbers.
    pub fn derive(seed: u64, purpose: &str) -> Self {
        // FNV-1a of the purpose, mixed with the seed.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in purpose.bytes() {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
        Self::new(seed ^ h.rotate_left(17))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.random::<u64>()
    }

    /// Uniform in [0, 1) with 53 bits of precision.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.next_f64() as f32
    }

    /// Standard normal, by Box–Muller.
    pub fn normal(&mut self) -> f32 {
        let u1 = 1.0 - self.next_f64(); // (0, 1]: keeps ln finite
        let u2 = self.next_f64();
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
    }

    /// Uniform integer in 0..n (n > 0). The modulo bias is below 2^-40 for the sizes used here.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }

    pub fn uniform_vec(&mut self, n: usize, bound: f32) -> Vec<f32> {
        (0..n).map(|_| self.uniform(-bound, bound)).collect()
    }
}
