//! Exactness of the feedback-alignment family's shared mechanism, checked against backprop.

use std::sync::Arc;

use burn::optim::GradientsParams;
use burn::prelude::*;
use microlearning::data::{DataSplit, Task, images_to_tensor, labels_to_tensor};
use microlearning::model::{FeedbackWeights, SeedNet};
use microlearning::rules::{
    Backprop, FeedbackRule, FixedRandomFeedback, KolenPollack, LearningRule, RULES, SignSymmetry,
    build_rule,
};
use microlearning::training::{TrainConfig, Trainer, limit_data, read_f32};

fn data() -> Arc<DataSplit> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data");
    let data = DataSplit::load_task(&root, Task::Mnist).unwrap();
    let config = TrainConfig::new()
        .with_train_limit(Some(640))
        .with_test_limit(Some(100));
    Arc::new(limit_data(&data, &config))
}

fn batch(data: &DataSplit, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
    let idx: Vec<usize> = (0..32).map(|i| i * 19 % data.train.len()).collect();
    (
        images_to_tensor(&data.train, &idx, device),
        labels_to_tensor(&data.train, &idx, device),
    )
}

fn read(t: Tensor<1>) -> Vec<f32> {
    microlearning::block_on(read_f32(t)).unwrap()
}

/// Every parameter's gradient, flattened, in a fixed order.
fn grads_of(model: &SeedNet, grads: &GradientsParams) -> Vec<(&'static str, Vec<f32>)> {
    let g4 = |id| read(grads.get::<4>(id).expect("gradient present").flatten(0, 3));
    let g2 = |id| read(grads.get::<2>(id).expect("gradient present").flatten(0, 1));
    let g1 = |id| read(grads.get::<1>(id).expect("gradient present"));
    let bias = |l: &Option<burn::module::Param<Tensor<1>>>| l.as_ref().unwrap().id;
    vec![
        ("conv1.weight", g4(model.conv1.weight.id)),
        ("conv1.bias", g1(bias(&model.conv1.bias))),
        ("conv2.weight", g4(model.conv2.weight.id)),
        ("conv2.bias", g1(bias(&model.conv2.bias))),
        ("fc1.weight", g2(model.fc1.weight.id)),
        ("fc1.bias", g1(bias(&model.fc1.bias))),
        ("fc2.weight", g2(model.fc2.weight.id)),
        ("fc2.bias", g1(bias(&model.fc2.bias))),
    ]
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn own_weights(model: &SeedNet) -> FeedbackWeights {
    FeedbackWeights {
        conv2: Some(model.conv2.weight.val().detach()),
        fc1: Some(model.fc1.weight.val().detach()),
        fc2: Some(model.fc2.weight.val().detach()),
    }
}

fn compare_with_backprop(
    rule: &mut dyn LearningRule,
    model: &SeedNet,
    data: &DataSplit,
) -> Vec<(&'static str, f32)> {
    let device = model.fc1.weight.val().device();
    let (x, y) = batch(data, &device);
    let bp = Backprop.step(model, x.clone(), y.clone());
    let other = rule.step(model, x, y);
    assert_eq!(
        read(bp.loss),
        read(other.loss),
        "the forward pass must not change"
    );
    let a = grads_of(model, &bp.grads);
    let b = grads_of(model, &other.grads);
    a.iter()
        .zip(&b)
        .map(|((name, ga), (_, gb))| (*name, max_abs_diff(ga, gb)))
        .collect()
}

#[test]
fn fa_with_b_equal_to_w_is_backprop() {
    let data = data();
    let model = SeedNet::init(5, &Device::flex().autodiff());
    let mut fa = FeedbackRule {
        pathway: FixedRandomFeedback::with_weights(own_weights(&model)),
    };
    for (name, diff) in compare_with_backprop(&mut fa, &model, &data) {
        assert!(diff < 1e-5, "{name}: max |FA − BP| = {diff}");
    }
}

#[test]
fn fa_with_random_b_differs_from_backprop_below_the_output_layer() {
    // The check above must be able to fail: random feedback changes every hidden gradient but
    // not the output layer's, whose gradient never passes through feedback weights.
    let data = data();
    let model = SeedNet::init(5, &Device::flex().autodiff());
    let mut fa = FeedbackRule {
        pathway: FixedRandomFeedback::new(1, &model),
    };
    for (name, diff) in compare_with_backprop(&mut fa, &model, &data) {
        if name.starts_with("fc2") {
            assert!(diff < 1e-6, "{name}: {diff}");
        } else {
            assert!(
                diff > 1e-4,
                "{name}: random feedback left the gradient unchanged"
            );
        }
    }
}

#[test]
fn sign_symmetry_with_magnitudes_of_w_is_backprop() {
    let data = data();
    let model = SeedNet::init(6, &Device::flex().autodiff());
    let mut sf = FeedbackRule {
        pathway: SignSymmetry::with_magnitudes(own_weights(&model)),
    };
    for (name, diff) in compare_with_backprop(&mut sf, &model, &data) {
        assert!(diff < 1e-5, "{name}: max |uSF(|W|) − BP| = {diff}");
    }
}

fn angle_deg(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    (dot / (na * nb)).clamp(-1.0, 1.0).acos().to_degrees()
}

#[test]
fn kolen_pollack_feedback_aligns_with_the_forward_weights() {
    let device = Device::flex().autodiff();
    let model = SeedNet::init(2, &device);
    let mut kp = FeedbackRule {
        pathway: KolenPollack::new(2, &model),
    };
    let angle = |kp: &FeedbackRule<KolenPollack>, model: &SeedNet| {
        let b = kp.pathway.feedback_weights().fc1.clone().unwrap();
        angle_deg(
            &read(b.flatten(0, 1)),
            &read(model.fc1.weight.val().flatten(0, 1)),
        )
    };
    let start = angle(&kp, &model);
    assert!(
        (80.0..100.0).contains(&start),
        "random B should start near 90°, got {start}"
    );

    let data = data();
    let mut optim = burn::optim::AdamConfig::new().init();
    let mut model = model;
    let mut idx: Vec<usize> = (0..data.train.len()).collect();
    for step in 0..40 {
        idx.rotate_left(32);
        let x = images_to_tensor(&data.train, &idx[..32], &device);
        let y = labels_to_tensor(&data.train, &idx[..32], &device);
        let out = kp.step(&model, x, y);
        let before = model.clone();
        let updated = optim.step(1e-3, model, out.grads);
        model = kp.after_update(&before, updated);
        let _ = step;
    }
    let end = angle(&kp, &model);
    assert!(
        end < start - 20.0,
        "B–W angle did not shrink: {start:.1}° → {end:.1}°"
    );
}

#[test]
fn every_registered_rule_trains_a_few_batches() {
    let data = data();
    for info in RULES {
        let config = TrainConfig::new().with_rule(info.id.into()).with_seed(1);
        let mut trainer = Trainer::new(config, data.clone(), Device::flex()).unwrap();
        let losses: Vec<f32> = (0..6)
            .map(|_| microlearning::block_on(trainer.train_batch()).unwrap().loss)
            .collect();
        assert!(
            losses.iter().all(|l| l.is_finite()),
            "{}: {losses:?}",
            info.id
        );
        let rule = build_rule(info.id, 0, trainer.model()).unwrap();
        assert_eq!(rule.id(), info.id);
    }
}
