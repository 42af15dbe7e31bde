//! Data-parallel training (`Trainer::shard_update` / `apply_shards`, what the page's CPU workers
//! run): one shard is exactly `train_batch`, replicas in lockstep stay identical, and the shards'
//! average is the whole batch's update.

use std::sync::Arc;

use burn::prelude::*;
use microlearning::LabError;
use microlearning::block_on;
use microlearning::data::{DataSplit, Task};
use microlearning::frontends::FrontEndKind;
use microlearning::training::{ShardUpdate, TrainConfig, Trainer, limit_data, read_f32};

fn data(train: usize) -> Arc<DataSplit> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data");
    let data = DataSplit::load_task(&root, Task::Mnist).unwrap();
    let config = TrainConfig::new()
        .with_train_limit(Some(train))
        .with_test_limit(Some(50));
    Arc::new(limit_data(&data, &config))
}

fn trainer(config: &TrainConfig, data: &Arc<DataSplit>) -> Trainer {
    Trainer::new(config.clone(), data.clone(), Device::flex()).unwrap()
}

/// Every weight and bias, as bits (a weights file also holds the parameters' ids, which differ
/// between models).
fn weights(t: &Trainer) -> Vec<u32> {
    let m = t.model();
    let mut bits = Vec::new();
    let mut add = |v: Vec<f32>| bits.extend(v.into_iter().map(f32::to_bits));
    add(block_on(read_f32(m.conv1.weight.val())).unwrap());
    add(block_on(read_f32(m.conv2.weight.val())).unwrap());
    add(block_on(read_f32(m.fc1.weight.val())).unwrap());
    add(block_on(read_f32(m.fc2.weight.val())).unwrap());
    for b in [&m.conv1.bias, &m.conv2.bias, &m.fc1.bias, &m.fc2.bias] {
        add(block_on(read_f32(b.as_ref().unwrap().val())).unwrap());
    }
    bits
}

/// Runs every batch of every epoch on `replicas` in lockstep, each computing its shard, every
/// replica applying the same shards (as the page's workers do, the first handing round the
/// average). Returns the batch losses.
fn lockstep(replicas: &mut [Trainer]) -> Vec<f32> {
    let parts = replicas.len();
    let mut losses = Vec::new();
    while !replicas[0].finished() {
        while !replicas[0].epoch_complete() {
            let shards: Vec<ShardUpdate> = replicas
                .iter_mut()
                .enumerate()
                .map(|(k, r)| block_on(r.shard_update(k, parts)).unwrap())
                .collect();
            let (report, average) = block_on(replicas[0].apply_shards(&shards)).unwrap();
            for r in &mut replicas[1..] {
                let (theirs, _) = block_on(r.apply_shards(std::slice::from_ref(&average))).unwrap();
                assert_eq!(theirs, report, "a replica reported another batch");
            }
            losses.push(report.loss);
        }
        block_on(replicas[0].finish_epoch()).unwrap();
        for r in &mut replicas[1..] {
            r.advance_epoch().unwrap();
        }
    }
    losses
}

#[test]
fn one_shard_is_exactly_train_batch() {
    // The learned front end (every parameter updated) and a fixed one (conv1 never updated,
    // so the update's mask matters: Adam moves a parameter given a zero gradient).
    for front_end in [FrontEndKind::Learned, FrontEndKind::Gabor] {
        for rule in ["bp", "fa", "hebbian"] {
            let config = TrainConfig::new()
                .with_rule(rule.into())
                .with_front_end(front_end)
                .with_epochs(2)
                .with_diagnostics_every(2)
                .with_seed(3);
            let data = data(200); // 4 batches a epoch, the last of 8 images
            let mut plain = trainer(&config, &data);
            let mut plain_losses = Vec::new();
            while !plain.finished() {
                while !plain.epoch_complete() {
                    plain_losses.push(block_on(plain.train_batch()).unwrap().loss);
                }
                block_on(plain.finish_epoch()).unwrap();
            }
            let mut sharded = [trainer(&config, &data)];
            let losses = lockstep(&mut sharded);
            let what = format!("{rule} / {}", front_end.id());
            assert_eq!(losses, plain_losses, "{what}: losses");
            assert!(
                weights(&sharded[0]) == weights(&plain),
                "{what}: weights differ"
            );
            assert_eq!(sharded[0].history(), plain.history(), "{what}: epochs");
        }
    }
}

#[test]
fn replicas_in_lockstep_stay_identical_and_learn_like_one() {
    let config = TrainConfig::new().with_epochs(2).with_seed(5);
    let data = data(200);
    let mut replicas = [
        trainer(&config, &data),
        trainer(&config, &data),
        trainer(&config, &data),
    ];
    let losses = lockstep(&mut replicas);
    let first = weights(&replicas[0]);
    assert!(
        replicas[1..].iter().all(|r| weights(r) == first),
        "replicas drifted apart"
    );

    let mut single = trainer(&config, &data);
    let mut single_losses = Vec::new();
    while !single.finished() {
        while !single.epoch_complete() {
            single_losses.push(block_on(single.train_batch()).unwrap().loss);
        }
        block_on(single.finish_epoch()).unwrap();
    }
    // The first batch starts from the same weights: its loss is the mean of the shards' losses.
    assert!((losses[0] - single_losses[0]).abs() <= 1e-5 * single_losses[0].abs());
    // Later batches differ only by the rounding of a sum split three ways.
    for (a, b) in losses.iter().zip(&single_losses) {
        assert!((a - b).abs() <= 2e-2 * b.abs(), "sharded {a} vs single {b}");
    }
    let (a, b) = (replicas[0].history(), single.history());
    assert!((a[1].test_accuracy - b[1].test_accuracy).abs() <= 0.05);
    // Three shards give the same bits every time.
    let mut again = [
        trainer(&config, &data),
        trainer(&config, &data),
        trainer(&config, &data),
    ];
    assert_eq!(lockstep(&mut again), losses);
    assert!(weights(&again[0]) == first);
}

#[test]
fn the_shards_average_is_the_whole_batch_update() {
    let config = TrainConfig::new().with_seed(7);
    let data = data(256);
    let mut whole = trainer(&config, &data);
    let full = block_on(whole.shard_update(0, 1)).unwrap();
    let mut halves = [trainer(&config, &data), trainer(&config, &data)];
    let a = block_on(halves[0].shard_update(0, 2)).unwrap();
    let b = block_on(halves[1].shard_update(1, 2)).unwrap();
    assert_eq!((a.images, b.images, full.images), (32, 32, 64));
    let (_, average) = block_on(halves[0].apply_shards(&[a, b])).unwrap();
    assert_eq!(average.values.len(), whole.parameter_count());
    let scale = full.values.iter().fold(0f32, |m, v| m.max(v.abs()));
    let worst = average
        .values
        .iter()
        .zip(&full.values)
        .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    assert!(
        worst <= 1e-5 * scale,
        "max |Δ| {worst:e} over max |update| {scale:e}"
    );
    assert!((average.loss - full.loss).abs() <= 1e-5 * full.loss);
}

#[test]
fn bad_shards_are_refused_and_change_nothing() {
    let config = TrainConfig::new().with_seed(1);
    let data = data(128);
    let mut t = trainer(&config, &data);
    let before = weights(&t);
    let some = ShardUpdate {
        loss: 1.0,
        images: 64,
        values: vec![0.0; t.parameter_count()],
    };
    // No shard of this batch computed here yet.
    assert!(matches!(
        block_on(t.apply_shards(&[some.clone()])),
        Err(LabError::State(_))
    ));
    assert!(matches!(
        block_on(t.shard_update(2, 2)),
        Err(LabError::Config(_))
    ));

    let mine = block_on(t.shard_update(0, 2)).unwrap();
    let short = ShardUpdate {
        values: vec![0.0; 10],
        ..some.clone()
    };
    assert!(matches!(
        block_on(t.apply_shards(&[mine.clone(), short])),
        Err(LabError::Config(_))
    ));

    let mine = block_on(t.shard_update(0, 2)).unwrap();
    let nan = ShardUpdate {
        loss: f32::NAN,
        ..some.clone()
    };
    assert!(matches!(
        block_on(t.apply_shards(&[mine, nan])),
        Err(LabError::Diverged { .. })
    ));
    assert!(
        weights(&t) == before,
        "a refused update reached the weights"
    );
    assert_eq!(t.batch_in_epoch(), 0);
}
