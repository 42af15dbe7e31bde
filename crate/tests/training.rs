//! Training runs: determinism on the CPU backend, learning on a small subset, divergence stops.

use std::sync::Arc;

use burn::prelude::*;
use microlearning::LabError;
use microlearning::data::{DataSplit, Task};
use microlearning::training::{OptimizerKind, TrainConfig, Trainer, limit_data};

fn small_data(train: usize, test: usize) -> Arc<DataSplit> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data");
    let data = DataSplit::load_task(&root, Task::Mnist).unwrap();
    let config = TrainConfig::new()
        .with_train_limit(Some(train))
        .with_test_limit(Some(test));
    Arc::new(limit_data(&data, &config))
}

fn batch_losses(config: TrainConfig, data: Arc<DataSplit>, batches: usize) -> Vec<f32> {
    let mut trainer = Trainer::new(config, data, Device::flex()).unwrap();
    (0..batches)
        .map(|_| microlearning::block_on(trainer.train_batch()).unwrap().loss)
        .collect()
}

#[test]
fn same_seed_gives_identical_losses() {
    let data = small_data(320, 100);
    let config = TrainConfig::new().with_seed(11);
    let a = batch_losses(config.clone(), data.clone(), 5);
    let b = batch_losses(config, data.clone(), 5);
    // Bit-for-bit, not approximately.
    assert_eq!(
        a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        b.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    let c = batch_losses(TrainConfig::new().with_seed(12), data, 5);
    assert_ne!(a, c, "a different seed should give a different run");
}

#[test]
fn loss_falls_and_accuracy_beats_chance_on_a_small_subset() {
    let data = small_data(1280, 500);
    let config = TrainConfig::new().with_epochs(2).with_seed(0);
    let mut trainer = Trainer::new(config, data, Device::flex()).unwrap();
    let mut first = None;
    while !trainer.finished() {
        while !trainer.epoch_complete() {
            let r = microlearning::block_on(trainer.train_batch()).unwrap();
            first.get_or_insert(r.loss);
        }
        microlearning::block_on(trainer.finish_epoch()).unwrap();
    }
    let h = trainer.history();
    assert_eq!(h.len(), 2);
    let first = first.unwrap() as f64;
    assert!(
        first > 2.0,
        "an untrained net starts near ln 10, got {first}"
    );
    assert!(
        h[1].train_loss < 0.5 * first,
        "loss did not fall: {first} → {}",
        h[1].train_loss
    );
    assert!(h[1].test_accuracy > 0.8, "accuracy {}", h[1].test_accuracy);
    let total: u64 = h[1].confusion.0.iter().flatten().map(|&c| c as u64).sum();
    assert_eq!(total, 500);
}

#[test]
fn sgd_with_momentum_also_learns() {
    let data = small_data(640, 200);
    let config = TrainConfig::new()
        .with_optimizer(OptimizerKind::Sgd)
        .with_learning_rate(0.01)
        .with_epochs(1);
    let losses = batch_losses(config, data, 10);
    let head: f32 = losses[..3].iter().sum::<f32>() / 3.0;
    let tail: f32 = losses[7..].iter().sum::<f32>() / 3.0;
    assert!(tail < head, "SGD loss did not fall: {losses:?}");
}

#[test]
fn an_exploding_loss_stops_the_run_with_a_clear_error() {
    let data = small_data(640, 100);
    let config = TrainConfig::new()
        .with_optimizer(OptimizerKind::Sgd)
        .with_learning_rate(50.0)
        .with_momentum(0.0);
    let mut trainer = Trainer::new(config, data, Device::flex()).unwrap();
    let mut outcome = Ok(());
    for _ in 0..10 {
        if let Err(e) = microlearning::block_on(trainer.train_batch()) {
            outcome = Err(e);
            break;
        }
    }
    match outcome {
        Err(LabError::Diverged { loss, .. }) => assert!(!loss.is_finite() || loss > 1e3),
        other => panic!("expected divergence, got {other:?}"),
    }
}

#[test]
fn invalid_configs_are_rejected() {
    let data = small_data(64, 10);
    for config in [
        TrainConfig::new().with_learning_rate(-1.0),
        TrainConfig::new().with_batch_size(0),
        TrainConfig::new().with_epochs(0),
        TrainConfig::new().with_lr_decay(0.0),
        TrainConfig::new().with_lr_decay(1.5),
        TrainConfig::new().with_lr_decay(f64::NAN),
        TrainConfig::new().with_rule("no-such-rule".into()),
    ] {
        let err = Trainer::new(config, data.clone(), Device::flex())
            .err()
            .unwrap();
        assert!(matches!(err, LabError::Config(_)), "{err:?}");
    }
}

#[test]
fn the_learning_rate_decays_once_per_epoch() {
    let data = small_data(64, 10);
    let config = TrainConfig::new()
        .with_learning_rate(1e-3)
        .with_lr_decay(0.5)
        .with_epochs(3)
        .with_batch_size(32);
    let mut trainer = Trainer::new(config, data, Device::flex()).unwrap();
    let mut rates = Vec::new();
    while !trainer.finished() {
        rates.push(trainer.learning_rate());
        while !trainer.epoch_complete() {
            microlearning::block_on(trainer.train_batch()).unwrap();
            assert_eq!(
                trainer.learning_rate(),
                *rates.last().unwrap(),
                "constant within an epoch"
            );
        }
        microlearning::block_on(trainer.finish_epoch()).unwrap();
    }
    assert_eq!(rates, vec![1e-3, 5e-4, 2.5e-4]);
    assert_eq!(
        TrainConfig::new().learning_rate_at(7),
        1e-3,
        "constant by default"
    );
}
