//! Training runs: configuration, optimizers, the batch loop, evaluation, alignment diagnostics
//! and robustness to degraded images.

mod config;
mod diagnostics;
mod evaluation;
mod optimizer;
mod robustness;
mod trainer;

pub use config::{OptimizerKind, TrainConfig};
pub use diagnostics::{DiagnosticSample, EpochDiagnostics, LAYERS, LayerDiagnostics, measure};
pub use evaluation::{
    ConfusionMatrix, Evaluation, argmax, evaluate, evaluate_scored, read_f32, read_i64,
};
pub use optimizer::build_optimizer;
pub use robustness::{
    CONTRAST_LEVELS, Degradation, NOISE_LEVELS, RobustnessPoint, robustness, robustness_at,
    robustness_levels,
};
pub use trainer::{BatchReport, EVAL_BATCH, EpochMetrics, ShardUpdate, Trainer, limit_data};
