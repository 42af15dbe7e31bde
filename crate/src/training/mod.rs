//! Training runs: configuration, optimizers, the batch loop and evaluation.

mod config;
mod evaluation;
mod optimizer;
mod trainer;

mod diagnostics;
pub use diagnostics::{DiagnosticSample, EpochDiagnostics, LAYERS, LayerDiagnostics, measure};
pub use config::{OptimizerKind, TrainConfig};
pub use evaluation::{ConfusionMatrix, Evaluation, argmax, evaluate, read_f32, read_i64};
pub use optimizer::build_optimizer;
pub use trainer::{BatchReport, EVAL_BATCH, EpochMetrics, Trainer, limit_data};
