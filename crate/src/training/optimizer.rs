//! Building burn's optimizer for a run.

use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, ModuleOptimizer, SgdConfig};

use super::config::{OptimizerKind, TrainConfig};

/// The optimizer a configuration names. Adam uses PyTorch's ε = 1e-8 so figures compare with
/// the PyTorch reference; SGD uses plain heavy-ball momentum (no dampening).
pub fn build_optimizer(config: &TrainConfig) -> ModuleOptimizer {
    match config.optimizer {
        OptimizerKind::Adam => AdamConfig::new().with_epsilon(1e-8).init(),
        OptimizerKind::Sgd => SgdConfig::new()
            .with_momentum(Some(
                MomentumConfig::new()
                    .with_momentum(config.momentum)
                    .with_dampening(0.0),
            ))
            .init(),
    }
}
