//! Representation analysis (research question 2): what does each layer represent, and how
//! similar are two networks' representations?
//!
//! - `probe`: the fixed, seeded, class-balanced set of test images every comparison uses.
//! - `capture`: runs a model over the probe set and keeps, per layer, the n × n matrices every
//!   metric needs (Gram matrix, Pearson correlations, class-mean versions), computed on the
//!   model's device and read back once.
//! - `matrix`: a small dense square matrix of `f64`.
//! - `cka`: linear, debiased and RBF centred kernel alignment.
//! - `rdm`: representational dissimilarity matrices.
//! - `rsa`: comparing RDMs (Spearman ρ, Kendall τ-a, cosine).
//! - `pca`: 2-D projections of a layer.
//! - `comparison`: all of the above for a set of models, in one value the CLI and the page share.
//!
//! The metrics run on plain `f64` matrices after one readback, not on a burn backend: they are
//! n × n (n = 1,000 by default) so the host computes them in milliseconds, double precision
//! keeps the centring and the unbiased HSIC's cancellations exact enough, and one implementation
//! then serves every backend (CPU and WebGPU) identically. The heavy part, the n × D features
//! and their products, stays on the device.

pub mod capture;
pub mod cka;
pub mod comparison;
pub mod matrix;
pub mod pca;
pub mod probe;
pub mod rdm;
pub mod rsa;

pub use capture::{CAPTURED_LAYERS, LayerCapture, capture_layers};
pub use comparison::{Comparison, ComparisonOptions, LayerComparison, ProbeInfo, compare};
pub use matrix::SquareMatrix;
pub use probe::probe_indices;
