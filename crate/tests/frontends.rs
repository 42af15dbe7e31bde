//! The front ends' defining properties: orientation tuning of the Gabor bank, zero-sum and
//! ON = −OFF for the retina bank, the shared output shape, and frozen weights staying frozen.

use std::f32::consts::PI;
use std::sync::Arc;

use burn::prelude::*;
use microlearning::data::{DataSplit, Task, normalize_pixel};
use microlearning::frontends::{
    FRONT_ENDS, FrontEndKind, GABOR_COMPLEX, GABOR_SIMPLE, dog_bank, gabor_bank,
};
use microlearning::model::SeedNet;
use microlearning::training::{TrainConfig, Trainer, limit_data, read_f32};

fn read(t: Tensor<4>) -> Vec<f32> {
    microlearning::block_on(read_f32(t)).unwrap()
}

/// A 28×28 sinusoidal grating (pixel values 0..255), normalised like the data.
fn grating(theta: f32, frequency: f32, phase: f32) -> Vec<f32> {
    (0..784)
        .map(|i| {
            let (y, x) = ((i / 28) as f32 - 13.5, (i % 28) as f32 - 13.5);
            let v = (2.0 * PI * frequency * (x * theta.cos() + y * theta.sin()) + phase).cos();
            normalize_pixel(127.5 + 127.5 * v)
        })
        .collect()
}

#[test]
fn every_front_end_gives_conv1s_output_shape() {
    let device = Device::flex();
    let x = Tensor::<4>::zeros([2, 1, 28, 28], &device);
    for f in FRONT_ENDS {
        let model = SeedNet::with_front_end(0, f.kind, &device);
        assert_eq!(
            model.activations(x.clone()).conv1.dims(),
            [2, 32, 26, 26],
            "{}",
            f.id
        );
        assert_eq!(FrontEndKind::from_id(f.id), Some(f.kind));
    }
}

#[test]
fn each_gabor_channel_prefers_its_own_orientation() {
    let device = Device::flex();
    let model = SeedNet::with_front_end(0, FrontEndKind::Gabor, &device);
    let orientations = 8;
    let phases = [0.0, PI / 2.0, PI, 1.5 * PI];
    for (f_index, frequency) in [0.30f32, 0.18].into_iter().enumerate() {
        // Responses[channel][orientation]: the best over phases of the mean over space.
        let mut images = Vec::new();
        for o in 0..orientations {
            for &p in &phases {
                images.extend(grating(o as f32 * PI / orientations as f32, frequency, p));
            }
        }
        let n = orientations * phases.len();
        let x = Tensor::<4>::from_data(TensorData::new(images, [n, 1, 28, 28]), &device);
        let out = read(model.activations(x).conv1.mean_dims(&[2, 3])); // [n, 32, 1, 1]
        for block in [0, GABOR_SIMPLE] {
            for o_cell in 0..orientations {
                let channel = block + f_index * orientations + o_cell;
                let tuning: Vec<f32> = (0..orientations)
                    .map(|o| {
                        (0..phases.len())
                            .map(|p| out[(o * phases.len() + p) * 32 + channel])
                            .fold(f32::MIN, f32::max)
                    })
                    .collect();
                let best = (0..orientations)
                    .max_by(|&a, &b| tuning[a].total_cmp(&tuning[b]))
                    .unwrap();
                assert_eq!(
                    best, o_cell,
                    "channel {channel} (f = {frequency}): tuning {tuning:?}"
                );
            }
        }
    }
    assert_eq!(gabor_bank().len(), (GABOR_SIMPLE + 2 * GABOR_COMPLEX) * 81);
}

#[test]
fn dog_kernels_sum_to_zero_and_off_is_minus_on() {
    let bank = dog_bank();
    let kernels: Vec<&[f32]> = bank.chunks_exact(81).collect();
    assert_eq!(kernels.len(), 32);
    for k in &kernels {
        let sum: f32 = k.iter().sum();
        assert!(sum.abs() < 1e-5, "kernel sum {sum}");
        assert!(k[40] != 0.0);
    }
    for i in 0..16 {
        assert!(
            kernels[i][40] > 0.0,
            "ON-centre kernels are positive at the centre"
        );
        for (a, b) in kernels[i].iter().zip(kernels[16 + i]) {
            assert_eq!(*a, -*b);
        }
    }
}

#[test]
fn fixed_front_ends_stay_frozen_under_every_kind_of_rule() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data");
    let full = DataSplit::load_task(&root, Task::Mnist).unwrap();
    for kind in [
        FrontEndKind::Gabor,
        FrontEndKind::Dog,
        FrontEndKind::Random,
        FrontEndKind::Learned,
    ] {
        for rule in ["bp", "fa", "dfa", "kp"] {
            let config = TrainConfig::new()
                .with_front_end(kind)
                .with_rule(rule.into())
                .with_train_limit(Some(256))
                .with_test_limit(Some(50));
            let data = Arc::new(limit_data(&full, &config));
            let mut trainer = Trainer::new(config, data, Device::flex()).unwrap();
            let before = read(trainer.model().conv1.weight.val());
            let conv2_before = read(trainer.model().conv2.weight.val());
            for _ in 0..3 {
                microlearning::block_on(trainer.train_batch()).unwrap();
            }
            let after = read(trainer.model().conv1.weight.val());
            let conv2_after = read(trainer.model().conv2.weight.val());
            assert_ne!(
                conv2_before, conv2_after,
                "{kind:?}/{rule}: conv2 must train"
            );
            if kind.is_frozen() {
                assert_eq!(before, after, "{kind:?}/{rule}: the front end changed");
                assert!(
                    !trainer.model().conv1.weight.is_require_grad(),
                    "reported as frozen"
                );
            } else {
                assert_ne!(before, after, "{rule}: the learned front end must train");
            }
        }
    }
}

#[test]
fn neuronal_noise_is_poisson_like_seeded_and_off_by_default() {
    use microlearning::frontends::NeuronalNoise;
    let device = Device::flex();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data");
    let data = DataSplit::load_task(&root, Task::Mnist).unwrap();
    let x = microlearning::data::images_to_tensor(&data.test, &(0..8).collect::<Vec<_>>(), &device);
    let model = SeedNet::with_front_end(0, FrontEndKind::Gabor, &device);
    // Off by default: the first layer is the bank's response.
    let clean = read(model.first_layer(x.clone()));
    assert_eq!(
        clean,
        read(model.front_end.respond(model.conv1.forward(x.clone())))
    );

    let noisy = model.clone().with_noise(NeuronalNoise::new(0.5, 7));
    let a = read(noisy.first_layer(x.clone()));
    let again = read(
        model
            .clone()
            .with_noise(NeuronalNoise::new(0.5, 7))
            .first_layer(x.clone()),
    );
    assert_eq!(a, again, "the same seed gives the same noise");
    let second_draw = read(noisy.first_layer(x.clone()));
    assert_ne!(a, second_draw, "each presentation draws fresh noise");

    // r + s·ε·√r: silent cells stay silent; (noisy − r)/√r is N(0, s²) with s = 0.5.
    let mut z = Vec::new();
    for (&r, &n) in clean.iter().zip(&a) {
        if r == 0.0 {
            assert_eq!(n, 0.0);
        } else if r > 0.05 {
            z.push(((n - r) / r.sqrt()) as f64);
        }
    }
    let mean = z.iter().sum::<f64>() / z.len() as f64;
    let var = z.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / z.len() as f64;
    assert!(z.len() > 10_000, "{} active cells", z.len());
    assert!(mean.abs() < 0.02, "mean {mean}");
    assert!((var - 0.25).abs() < 0.02, "variance {var}, expected 0.25");
}

#[test]
fn neuronal_noise_belongs_to_the_gabor_front_end_and_training_with_it_is_deterministic() {
    let err = TrainConfig::new()
        .with_neuronal_noise(0.5)
        .validate()
        .unwrap_err()
        .to_string();
    assert!(err.contains("gabor"), "{err}");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data");
    let full = DataSplit::load_task(&root, Task::Mnist).unwrap();
    let losses = |noise: f64| {
        let config = TrainConfig::new()
            .with_front_end(FrontEndKind::Gabor)
            .with_neuronal_noise(noise)
            .with_train_limit(Some(256))
            .with_test_limit(Some(100))
            .with_diagnostics_every(0);
        let data = Arc::new(limit_data(&full, &config));
        let mut trainer = Trainer::new(config, data, Device::flex()).unwrap();
        (0..3)
            .map(|_| microlearning::block_on(trainer.train_batch()).unwrap().loss)
            .collect::<Vec<f32>>()
    };
    let (a, b, quiet) = (losses(1.0), losses(1.0), losses(0.0));
    assert_eq!(a, b, "same seed, same noise, same losses");
    assert_ne!(a, quiet, "the noise changes training");
}
