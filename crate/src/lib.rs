//! Microlearning Lab: how learning rules of increasing biological plausibility change what a
//! neural network represents, and whether that makes it more human-like.
//!
//! Layout: `data` (IDX data sets), `model` (the seed network), `rules` (one file per learning
//! rule), `training` (the batch loop, evaluation, alignment diagnostics), `analysis`
//! (representations: CKA, RDMs, RSA, PCA), `human` (the human experiment's stimuli, trial
//! table and the human–model comparison), `results` (the results file schema), `cli` (the
//! native commands), `server` (the collection server) and `web` (the wasm API the page's worker drives).
//! The same library builds natively, with the `microlearning` CLI, and to WebAssembly.

pub mod analysis;
pub mod data;
pub mod error;
pub mod frontends;
pub mod human;
pub mod model;
pub mod results;
pub mod rng;
pub mod rules;
pub mod training;

pub use error::{LabError, Result};

/// Runs a future to completion on the current thread. The library's reads are async so the
/// WebGPU path never blocks; native callers (CLI, tests, benches) drive them with this.
#[cfg(not(target_arch = "wasm32"))]
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    pollster::block_on(future)
}

#[cfg(feature = "cli")]
pub mod cli;

#[cfg(all(feature = "server", not(target_arch = "wasm32")))]
pub mod server;

#[cfg(target_arch = "wasm32")]
pub mod web;
