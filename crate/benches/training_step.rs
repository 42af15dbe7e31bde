//! Times one training step (batch 64: forward, backward, Adam) and inference (batch 256) on the
//! CPU backend. Throughput is reported as images/s. Run with `cargo bench`.

use std::sync::Arc;

use burn::prelude::*;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use microlearning::data::{DataSplit, Task, images_to_tensor};
use microlearning::model::SeedNet;
use microlearning::training::{TrainConfig, Trainer, limit_data, read_f32};

fn data() -> Arc<DataSplit> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data");
    let data = DataSplit::load_task(&root, Task::Mnist).expect("shipped data");
    Arc::new(limit_data(
        &data,
        &TrainConfig::new().with_test_limit(Some(256)),
    ))
}

fn bench(c: &mut Criterion) {
    let data = data();
    let mut group = c.benchmark_group("seed-net-cpu-flex");
    group.sample_size(20);

    group.throughput(Throughput::Elements(64));
    let config = TrainConfig::new().with_epochs(1000);
    let mut trainer = Trainer::new(config, data.clone(), Device::flex()).unwrap();
    group.bench_function("train_step_batch64_bp_adam", |b| {
        b.iter(|| {
            if trainer.epoch_complete() {
                microlearning::block_on(trainer.finish_epoch()).unwrap();
            }
            microlearning::block_on(trainer.train_batch()).unwrap()
        })
    });

    group.throughput(Throughput::Elements(256));
    let device = Device::flex();
    let model = SeedNet::init(0, &device);
    let indices: Vec<usize> = (0..256).collect();
    let x = images_to_tensor(&data.test, &indices, &device);
    group.bench_function("inference_batch256", |b| {
        b.iter(|| microlearning::block_on(read_f32(model.forward(x.clone()))).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
