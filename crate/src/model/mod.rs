//! The seed network and its weight files.

mod feedback;
mod seed_net;
mod weights;

pub use feedback::{FeedbackWeights, conv_with_feedback, linear_with_feedback};
pub use seed_net::{
    Activations, CLASSES, CONV1_CHANNELS, CONV2_CHANNELS, CONV2_SIDE, CONV2_UNITS, FLAT_FEATURES,
    FRONT_END_SIDE, FRONT_END_UNITS, HIDDEN, PoolRouting, SeedNet, Stage, conv_options,
};
pub use weights::{
    MAX_WEIGHTS_BYTES, check_weights_header, copy_to_device, load_weights,
    load_weights_any_front_end, weights_to_bytes, weights_to_bytes_async,
};
