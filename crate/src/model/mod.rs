//! The seed network and its weight files.

mod seed_net;
mod weights;

pub use seed_net::{Activations, SeedNet};
pub use weights::{load_weights, weights_to_bytes};
