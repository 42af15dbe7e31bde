//! The seed network's shapes, its weight files and their failure modes.

use burn::prelude::*;
use microlearning::data::{DataSplit, Task, images_to_tensor, normalize_pixel, one_hot};
use microlearning::frontends::FrontEndKind;
use microlearning::model::{SeedNet, load_weights, weights_to_bytes};
use microlearning::training::read_f32;

fn sample_batch(n: usize, device: &Device) -> Tensor<4> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data");
    let data = DataSplit::load_task(&root, Task::Mnist).unwrap();
    let indices: Vec<usize> = (0..n).collect();
    images_to_tensor(&data.test, &indices, device)
}

#[test]
fn every_layer_has_the_seed_shape() {
    let device = Device::flex();
    let model = SeedNet::init(0, &device);
    let acts = model.activations(sample_batch(5, &device));
    assert_eq!(acts.conv1.dims(), [5, 32, 26, 26]);
    assert_eq!(acts.conv2.dims(), [5, 64, 24, 24]);
    assert_eq!(acts.pool.dims(), [5, 9216]);
    assert_eq!(acts.fc1.dims(), [5, 128]);
    assert_eq!(acts.logits.dims(), [5, 10]);
    assert_eq!(model.forward(sample_batch(3, &device)).dims(), [3, 10]);
}

#[test]
fn parameter_count_matches_the_architecture() {
    let model = SeedNet::init(0, &Device::flex());
    let expected = (32 * 9 + 32) + (64 * 32 * 9 + 64) + (9216 * 128 + 128) + (128 * 10 + 10);
    assert_eq!(model.num_params(), expected);
}

#[test]
fn output_is_a_log_softmax() {
    let device = Device::flex();
    let model = SeedNet::init(1, &device);
    let out = microlearning::block_on(read_f32(model.forward(sample_batch(4, &device)))).unwrap();
    for row in out.chunks(10) {
        let total: f32 = row.iter().map(|v| v.exp()).sum();
        assert!((total - 1.0).abs() < 1e-4, "row sums to {total}");
        assert!(row.iter().all(|v| *v <= 0.0));
    }
}

/// The lab's one-hot (built without a readback, so it runs on WebGPU in the browser) equals
/// burn's checked `one_hot`.
#[test]
fn one_hot_matches_burns() {
    let device = Device::flex();
    let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![3i64, 0, 9, 3, 7], [5]), &device);
    let ours = microlearning::block_on(read_f32(one_hot(labels.clone(), 10))).unwrap();
    let burns = microlearning::block_on(read_f32(labels.one_hot::<2>(10).float())).unwrap();
    assert_eq!(ours, burns);
    assert_eq!(ours.iter().sum::<f32>(), 5.0);
    assert_eq!(ours[3], 1.0); // row 0, class 3
}

#[test]
fn normalisation_is_the_mnist_one() {
    assert!((normalize_pixel(0.0) - (-0.1307 / 0.3081)).abs() < 1e-6);
    assert!((normalize_pixel(255.0) - ((1.0 - 0.1307) / 0.3081)).abs() < 1e-6);
}

#[test]
fn same_seed_same_weights_other_seed_other_weights() {
    let device = Device::flex();
    let w = |seed| {
        let m = SeedNet::init(seed, &device);
        microlearning::block_on(read_f32(m.fc2.weight.val())).unwrap()
    };
    assert_eq!(w(3), w(3));
    assert_ne!(w(3), w(4));
}

#[test]
fn weights_round_trip_through_bytes() {
    let device = Device::flex();
    let model = SeedNet::init(7, &device);
    let bytes = weights_to_bytes(&model).unwrap();
    let loaded = load_weights(&bytes, FrontEndKind::Learned, &device).unwrap();
    let x = sample_batch(6, &device);
    let a = microlearning::block_on(read_f32(model.forward(x.clone()))).unwrap();
    let b = microlearning::block_on(read_f32(loaded.forward(x))).unwrap();
    assert_eq!(a, b);
}

#[test]
fn corrupt_weights_are_an_error_not_a_panic() {
    let device = Device::flex();
    let good = weights_to_bytes(&SeedNet::init(0, &device)).unwrap();
    for bad in [
        Vec::new(),
        b"definitely not a weights file".to_vec(),
        good[..good.len() / 2].to_vec(),
        {
            let mut v = good.clone();
            for b in v.iter_mut().take(64) {
                *b ^= 0xA5;
            }
            v
        },
    ] {
        let outcome =
            std::panic::catch_unwind(|| load_weights(&bad, FrontEndKind::Learned, &Device::flex()));
        match outcome {
            Ok(Err(e)) => assert!(e.to_string().starts_with("weights file:"), "{e}"),
            Ok(Ok(_)) => panic!("corrupt weights ({} bytes) were accepted", bad.len()),
            Err(_) => panic!("corrupt weights ({} bytes) caused a panic", bad.len()),
        }
    }
}

/// burnpack checks byte lengths, so an `I32` tensor of the right length used to reach burn's
/// `Tensor::from_data` and panic there ("Expected float dtype"); in the page that hung a Promise.
#[test]
fn a_tensor_of_the_wrong_dtype_is_an_error_not_a_panic() {
    let good = weights_to_bytes(&SeedNet::init(0, &Device::flex())).unwrap();
    let at = good
        .windows(3)
        .position(|w| w == b"F32")
        .expect("the file names its dtype F32");
    let mut bad = good.clone();
    bad[at..at + 3].copy_from_slice(b"I32");
    let outcome =
        std::panic::catch_unwind(|| load_weights(&bad, FrontEndKind::Learned, &Device::flex()));
    match outcome {
        Ok(Err(e)) => assert!(e.to_string().contains("I32"), "{e}"),
        Ok(Ok(_)) => panic!("an I32 tensor was accepted as weights"),
        Err(_) => panic!("an I32 tensor caused a panic"),
    }
    let any = microlearning::model::load_weights_any_front_end(&bad, &Device::flex());
    assert!(any.is_err());
}

/// A diverged model's weights are refused: with a NaN weight every prediction is class 0.
#[test]
fn non_finite_weights_are_refused() {
    let device = Device::flex();
    let mut model = SeedNet::init(0, &device);
    model.fc2.weight = burn::module::Param::from_tensor(model.fc2.weight.val().div_scalar(0.0));
    let bytes = weights_to_bytes(&model).unwrap();
    let err = load_weights(&bytes, FrontEndKind::Learned, &device).unwrap_err();
    assert!(err.to_string().contains("non-finite"), "{err}");
}

#[test]
fn an_oversized_or_foreign_file_is_refused_from_its_header() {
    use microlearning::model::{MAX_WEIGHTS_BYTES, check_weights_header};
    let good = weights_to_bytes(&SeedNet::init(0, &Device::flex())).unwrap();
    assert!(check_weights_header(&good[..16], good.len()).is_ok());
    let err = check_weights_header(&good[..16], MAX_WEIGHTS_BYTES + 1).unwrap_err();
    assert!(err.to_string().contains("at most"), "{err}");
    let err = check_weights_header(b"PK\x03\x04 a zip file", 5_000_000).unwrap_err();
    assert!(err.to_string().contains("not a burnpack"), "{err}");
}
