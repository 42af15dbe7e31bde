//! The native command-line tool's commands. `bin/microlearning.rs` only parses arguments.

mod output;
mod train;

pub use train::{TrainArgs, run_train};
