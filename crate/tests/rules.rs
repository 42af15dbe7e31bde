//! Exactness of the feedback-alignment family's shared mechanism, checked against backprop.

use std::sync::Arc;

use burn::optim::GradientsParams;
use burn::prelude::*;
use microlearning::data::{DataSplit, Task, images_to_tensor, labels_to_tensor};
use microlearning::model::{FeedbackWeights, SeedNet};
use microlearning::rules::{
    Backprop, Competition, DirectFeedbackAlignment, FeedbackRule, FixedRandomFeedback, Hebbian,
    HebbianConfig, KolenPollack, LearningRule, PredictiveCoding, PredictiveCodingConfig, RULES,
    SignSymmetry, build_rule,
};
use microlearning::training::{TrainConfig, Trainer, limit_data, measure, read_f32};

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
    let mut fa = FeedbackRule::new(FixedRandomFeedback::with_weights(own_weights(&model)));
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
    let mut fa = FeedbackRule::new(FixedRandomFeedback::new(1, &model));
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
    let mut sf = FeedbackRule::new(SignSymmetry::with_magnitudes(own_weights(&model)));
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
    let mut kp = FeedbackRule::new(KolenPollack::new(2, &model));
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

/// DFA's feedback with the backprop path for the last hidden layer: B_fc1 = W_fc2ᵀ.
fn dfa_exact_for_fc1(model: &SeedNet, seed: u64) -> DirectFeedbackAlignment {
    let mut dfa = DirectFeedbackAlignment::new(seed, model);
    dfa.feedback.fc1 = model.fc2.weight.val().detach().inner().transpose(); // [128, 10] → [10, 128]
    dfa
}

#[test]
fn dfa_with_b_equal_to_w2_transposed_is_backprop_for_that_layer() {
    // With one hidden layer between it and the output, DFA's error e·B equals backprop's e·W₂ᵀ
    // when B = W₂ᵀ: fc1 and fc2 get exactly backprop's gradients.
    let data = data();
    let model = SeedNet::init(7, &Device::flex().autodiff());
    let mut dfa = dfa_exact_for_fc1(&model, 3);
    let diffs = compare_with_backprop(&mut dfa, &model, &data);
    for (name, diff) in &diffs {
        if name.starts_with("fc") {
            assert!(*diff < 1e-5, "{name}: max |DFA − BP| = {diff}");
        } else {
            // conv layers still get random direct feedback: the comparison can fail.
            assert!(
                *diff > 1e-5,
                "{name}: DFA's random conv feedback equals backprop?"
            );
        }
    }
}

#[test]
fn dfa_with_random_b_differs_from_backprop_in_fc1() {
    let data = data();
    let model = SeedNet::init(7, &Device::flex().autodiff());
    let mut dfa = DirectFeedbackAlignment::new(3, &model);
    for (name, diff) in compare_with_backprop(&mut dfa, &model, &data) {
        if name.starts_with("fc2") {
            assert!(
                diff < 1e-6,
                "{name}: the output layer gets e itself ({diff})"
            );
        } else {
            assert!(diff > 1e-5, "{name}: random B left the gradient unchanged");
        }
    }
}

#[test]
fn alignment_diagnostics_are_zero_for_backprop_and_near_ninety_for_random_feedback() {
    let data = data();
    let device = Device::flex().autodiff();
    let model = SeedNet::init(4, &device);
    let (x, y) = batch(&data, &device);
    let bp = Backprop.step(&model, x.clone(), y.clone());
    let same = Backprop.step(&model, x.clone(), y.clone());
    let layers = microlearning::block_on(measure(&model, &same.grads, &bp.grads, None)).unwrap();
    for l in &layers {
        let angle = l.update_bp_angle_deg.unwrap();
        assert!(angle < 0.5, "{}: BP vs BP angle {angle}", l.layer);
        assert!(l.feedback_angle_deg.is_none());
        assert!(l.weight_norm > 0.0);
    }

    let mut fa = FeedbackRule::new(FixedRandomFeedback::new(9, &model));
    let step = fa.step(&model, x, y);
    let fb = fa.feedback_weights();
    let layers =
        microlearning::block_on(measure(&model, &step.grads, &bp.grads, fb.as_ref())).unwrap();
    let by_name = |n: &str| layers.iter().find(|l| l.layer == n).unwrap().clone();
    assert!(
        by_name("fc2").update_bp_angle_deg.unwrap() < 0.5,
        "output layer is exact"
    );
    for name in ["conv1", "conv2", "fc1"] {
        let l = by_name(name);
        let angle = l.update_bp_angle_deg.unwrap();
        assert!(
            angle > 45.0,
            "{name}: random feedback at init should be far from BP ({angle}°)"
        );
    }
    for name in ["conv2", "fc1", "fc2"] {
        let b_w = by_name(name).feedback_angle_deg.unwrap();
        assert!(
            (80.0..100.0).contains(&b_w),
            "{name}: random B–W angle {b_w}°"
        );
    }
    assert!(by_name("conv1").feedback_angle_deg.is_none());
}

#[test]
fn training_records_diagnostics_per_epoch() {
    let data = data();
    let config = TrainConfig::new()
        .with_rule("fa".into())
        .with_epochs(1)
        .with_diagnostics_every(4);
    let mut trainer = Trainer::new(config, data.clone(), Device::flex()).unwrap();
    while !trainer.epoch_complete() {
        microlearning::block_on(trainer.train_batch()).unwrap();
    }
    let metrics = microlearning::block_on(trainer.finish_epoch()).unwrap();
    let d = &metrics.diagnostics;
    assert_eq!(d.samples.len(), trainer.batches_per_epoch().div_ceil(4));
    assert_eq!(d.mean.len(), 4);
    assert!(d.mean.iter().all(|l| l.update_bp_angle_deg.is_some()));
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    angle_deg(a, b).to_radians().cos()
}

#[test]
fn predictive_coding_updates_match_backprop_after_inference() {
    // Whittington & Bogacz: with fixed predictions and enough small inference steps, each
    // layer's local update is backprop's gradient (cosine > 0.99).
    let data = data();
    let device = Device::flex().autodiff();
    let model = SeedNet::init(8, &device);
    let (x, y) = batch(&data, &device);
    let bp = Backprop.step(&model, x.clone(), y.clone());
    let bp_grads = grads_of(&model, &bp.grads);
    let mut pc = PredictiveCoding::new(
        PredictiveCodingConfig::new()
            .with_inference_steps(60)
            .with_inference_rate(0.2),
    );
    let step = pc.step(&model, x.clone(), y.clone());
    for ((name, a), (_, b)) in bp_grads.iter().zip(&grads_of(&model, &step.grads)) {
        let c = cosine(a, b);
        assert!(c > 0.99, "{name}: cosine with BP {c}");
    }
    // Too little inference leaves the hidden errors short of backprop's: the check can fail.
    let mut short = PredictiveCoding::new(
        PredictiveCodingConfig::new()
            .with_inference_steps(2)
            .with_inference_rate(0.2),
    );
    let step = short.step(&model, x, y);
    let conv1 = grads_of(&model, &step.grads)[0].1.clone();
    let norm_ratio = conv1.iter().map(|v| v * v).sum::<f32>().sqrt()
        / bp_grads[0].1.iter().map(|v| v * v).sum::<f32>().sqrt();
    assert!(
        norm_ratio < 0.5,
        "2 steps of γ = 0.2 should not reach conv1 yet ({norm_ratio})"
    );
}

#[test]
fn hebbian_weights_stay_bounded_over_a_thousand_updates() {
    for competition in [Competition::Ranked, Competition::Soft] {
        hebbian_norms_stay_bounded(competition);
    }
}

fn hebbian_norms_stay_bounded(competition: Competition) {
    // The Oja-like decay keeps every neuron's weight vector bounded (it drives a winning
    // neuron's norm to 1), with no normalisation step. Plain SGD so the rule's own dynamics,
    // not an optimizer's step-size control, are what is tested; η is small enough for Oja's
    // stability condition (η·‖x‖² ≲ 1 for fc1's ~9,216-dimensional input).
    let data = data();
    let device = Device::flex().autodiff();
    let mut model = SeedNet::init(3, &device);
    let mut rule = Hebbian::new(HebbianConfig::new().with_competition(competition));
    let mut sgd = burn::optim::SgdConfig::new().init();
    let norms = |model: &SeedNet| {
        let fc1 = read(
            model
                .fc1
                .weight
                .val()
                .powf_scalar(2.0)
                .sum_dim(0)
                .sqrt()
                .flatten(0, 1),
        );
        let conv2 = read(
            model
                .conv2
                .weight
                .val()
                .powf_scalar(2.0)
                .sum_dim(1)
                .sum_dim(2)
                .sum_dim(3)
                .sqrt()
                .flatten(0, 3),
        );
        (fc1, conv2)
    };
    let mut idx: Vec<usize> = (0..data.train.len()).collect();
    let mut max_seen = 0.0f32;
    for step in 0..1000 {
        idx.rotate_left(4);
        let x = images_to_tensor(&data.train, &idx[..4], &device);
        let y = labels_to_tensor(&data.train, &idx[..4], &device);
        let out = rule.step(&model, x, y);
        model = sgd.step(2e-3, model, out.grads);
        if step % 250 == 249 {
            let (fc1, conv2) = norms(&model);
            assert!(
                fc1.iter().chain(&conv2).all(|v| v.is_finite()),
                "{competition:?}, step {step}: a norm is not finite"
            );
            let m = fc1.iter().chain(&conv2).fold(0.0f32, |a, &b| a.max(b));
            max_seen = max_seen.max(m);
        }
    }
    assert!(
        max_seen < 1.6,
        "{competition:?}: Hebbian weight norms grew to {max_seen}"
    );
    let (fc1, _) = norms(&model);
    let mean = fc1.iter().sum::<f32>() / fc1.len() as f32;
    assert!(
        mean > 0.05,
        "{competition:?}: the Hebbian layer stopped learning (mean fc1 norm {mean})"
    );
}

#[test]
fn forward_forward_goodness_separates_positive_from_negative_data() {
    // A toy set: 64 training images. Before training, an image's goodness barely depends on the
    // label written into it; after 60 FF steps, the right label gives the higher goodness
    // (conv2 + fc1) for most images and the wrong one lower, on average, by a clear margin.
    use microlearning::rules::{ForwardForward, ForwardForwardConfig, embed_labels};
    let data = data();
    let device = Device::flex().autodiff();
    let mut model = SeedNet::init(5, &device);
    let mut rule = ForwardForward::new(ForwardForwardConfig::new(), 5);
    let mut adam = burn::optim::AdamConfig::new().init();
    let idx: Vec<usize> = (0..64).collect();
    let x = images_to_tensor(&data.train, &idx, &device);
    let y = labels_to_tensor(&data.train, &idx, &device);
    let wrong = (y.clone() + 3).remainder_scalar(10);
    let separation = |model: &SeedNet| {
        let m = model.valid();
        let scores = rule_scores(
            &m,
            x.clone().inner(),
            y.clone().inner(),
            wrong.clone().inner(),
        );
        let (pos, neg) = (read(scores.0), read(scores.1));
        let wins = pos.iter().zip(&neg).filter(|(p, n)| p > n).count() as f64 / pos.len() as f64;
        let gap = pos
            .iter()
            .zip(&neg)
            .map(|(p, n)| (p - n) as f64)
            .sum::<f64>()
            / pos.len() as f64;
        (wins, gap)
    };
    fn rule_scores(
        m: &SeedNet,
        x: Tensor<4>,
        y: Tensor<1, Int>,
        wrong: Tensor<1, Int>,
    ) -> (Tensor<1>, Tensor<1>) {
        let good = |labels: Tensor<1, Int>| {
            let h = m.activations(embed_labels(x.clone(), Some(labels)));
            let g = |t: Tensor<2>| t.powi_scalar(2).mean_dim(1).squeeze_dim::<1>(1);
            let b = x.dims()[0] as i32;
            g(h.conv2.reshape([b, -1])) + g(h.fc1)
        };
        (good(y), good(wrong))
    }
    let (wins_before, gap_before) = separation(&model);
    for _ in 0..60 {
        let step = rule.step(&model, x.clone(), y.clone());
        model = adam.step(1e-3, model, step.grads);
    }
    let (wins, gap) = separation(&model);
    println!(
        "FF: right label wins {wins_before:.2} → {wins:.2}, goodness gap {gap_before:.3} → {gap:.3}"
    );
    assert!(
        wins >= 0.9,
        "the right label has the higher goodness for only {wins:.2} of images"
    );
    assert!(
        gap > 0.0 && gap > 10.0 * gap_before.abs(),
        "gap {gap_before} → {gap}"
    );
    // Its goodness-based inference agrees: nearly all 64 toy images classified right.
    let scores = rule.classify(&model.valid(), x.clone().inner()).unwrap();
    let predicted = microlearning::block_on(microlearning::training::read_i64(
        scores.argmax(1).flatten::<1>(0, 1),
    ))
    .unwrap();
    let truth = microlearning::block_on(microlearning::training::read_i64(y.inner())).unwrap();
    let right = predicted.iter().zip(&truth).filter(|(p, t)| p == t).count();
    assert!(right >= 58, "goodness inference right on {right} of 64");
}

#[test]
fn hebbian_hidden_layers_stop_learning_after_their_epochs() {
    // Phase 1 (epoch 0): every layer gets an update. Phase 2 (from epoch `hidden_epochs`): only
    // the readout does, so the features it learns on stay fixed.
    let data = data();
    let device = Device::flex().autodiff();
    let model = SeedNet::init(4, &device);
    let idx: Vec<usize> = (0..8).collect();
    let x = images_to_tensor(&data.train, &idx, &device);
    let y = labels_to_tensor(&data.train, &idx, &device);
    let mut rule = Hebbian::new(HebbianConfig::new().with_hidden_epochs(1));
    let updated = |rule: &mut Hebbian| {
        let step = rule.step(&model, x.clone(), y.clone());
        [
            step.grads.get::<4>(model.conv1.weight.id).is_some(),
            step.grads.get::<4>(model.conv2.weight.id).is_some(),
            step.grads.get::<2>(model.fc1.weight.id).is_some(),
            step.grads.get::<2>(model.fc2.weight.id).is_some(),
        ]
    };
    rule.begin_epoch(0);
    assert_eq!(updated(&mut rule), [true, true, true, true]);
    rule.begin_epoch(1);
    assert_eq!(updated(&mut rule), [false, false, false, true]);
}

#[test]
fn hebbian_fc1_threshold_settles_on_minus_its_mean_drive() {
    // With the hidden layers frozen from the start, fc1's threshold is the running mean of its
    // drive over every batch seen, so over those images each unit's pre-activation (drive +
    // bias) averages to zero. While the layers learn, one batch moves it by ρ of the gap.
    let data = data();
    let device = Device::flex().autodiff();
    let init = SeedNet::init(5, &device);
    let mut model = init.clone();
    let mut rule = Hebbian::new(HebbianConfig::new().with_hidden_epochs(0));
    rule.begin_epoch(0);
    let mut sgd = burn::optim::SgdConfig::new().init();
    let idx: Vec<usize> = (0..96).collect();
    for chunk in idx.chunks(32) {
        let x = images_to_tensor(&data.train, chunk, &device);
        let y = labels_to_tensor(&data.train, chunk, &device);
        let step = rule.step(&model, x, y);
        let before = model.clone();
        let updated = sgd.step(1e-2, model, step.grads);
        model = rule.after_update(&before, updated);
    }
    let bias = |m: &SeedNet| read(m.fc1.bias.as_ref().expect("fc1 has a bias").val());
    let pool = model
        .activations(images_to_tensor(&data.train, &idx, &device))
        .pool;
    let mean_pre = read(
        model
            .fc1
            .forward(pool.clone())
            .mean_dim(0)
            .flatten::<1>(0, 1),
    );
    let drive = read(
        pool.matmul(model.fc1.weight.val())
            .mean_dim(0)
            .flatten::<1>(0, 1),
    );
    let scale = drive.iter().fold(0.0f32, |a, &b| a.max(b.abs()));
    assert!(scale > 0.0);
    let worst = mean_pre.iter().fold(0.0f32, |a, &b| a.max(b.abs()));
    assert!(
        worst < 1e-4 * scale.max(1.0),
        "fc1's mean pre-activation is not centred: up to {worst} (drive up to {scale})"
    );
    assert!(max_abs_diff(&bias(&model), &bias(&init)) > 1e-3);

    // Learning phase: the first batch sets θ to its drive, the next moves it by ρ.
    let rate = 0.25;
    let mut rule = Hebbian::new(
        HebbianConfig::new()
            .with_hidden_epochs(1)
            .with_threshold_rate(rate),
    );
    rule.begin_epoch(0);
    let frozen = init.clone();
    let drive_of = |chunk: &[usize]| {
        let pool = frozen
            .activations(images_to_tensor(&data.train, chunk, &device))
            .pool;
        read(
            pool.matmul(frozen.fc1.weight.val())
                .mean_dim(0)
                .flatten::<1>(0, 1),
        )
    };
    let mut biases = Vec::new();
    for chunk in idx.chunks(32).take(2) {
        let x = images_to_tensor(&data.train, chunk, &device);
        let y = labels_to_tensor(&data.train, chunk, &device);
        rule.step(&frozen, x, y);
        // Pass the unchanged model, so the drive is measured on the same weights each time.
        biases.push(bias(&rule.after_update(&frozen, frozen.clone())));
    }
    let (d0, d1) = (drive_of(&idx[..32]), drive_of(&idx[32..64]));
    let expect0: Vec<f32> = d0.iter().map(|d| -d).collect();
    let expect1: Vec<f32> = d0
        .iter()
        .zip(&d1)
        .map(|(a, b)| -(a + (b - a) * rate))
        .collect();
    assert!(max_abs_diff(&biases[0], &expect0) < 1e-4 * scale.max(1.0));
    assert!(max_abs_diff(&biases[1], &expect1) < 1e-4 * scale.max(1.0));
}
