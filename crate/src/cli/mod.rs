//! The native command-line tool's commands, one file each. `bin/microlearning.rs` only parses
//! arguments.

mod compare;
pub mod device;
mod grid;
mod human_compare;
mod output;
mod recipe;
pub mod research;
mod robustness;
mod runs;
mod serve;
mod study;
mod train;

pub use compare::{CompareArgs, run_compare};
pub use device::DeviceChoice;
pub use grid::{GridArgs, GridCell, GridSummary, mean_sd, run_grid};
pub use human_compare::{HumanCompareArgs, run_human_compare};
pub use recipe::RecipeArgs;
pub use robustness::{RobustnessArgs, run_robustness};
pub use serve::{DEFAULT_DATABASE, ServeArgs, run_serve};
pub use study::{StudyArgs, run_study};
pub use train::{TrainArgs, run_train, train_with_progress};
