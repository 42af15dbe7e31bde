//! The CPU backend's convolutions (the patched burn-flex in `crate/patches/burn-flex`, one GEMM
//! per image for the forward pass and each gradient) against references written with other
//! public tensor ops:
//!
//! - forward and weight gradient: flex's own `unfold4d` (a separate kernel) and matmuls;
//! - input gradient: the full correlation of dY with the rotated, channel-swapped kernel (a
//!   forward convolution, itself checked against the unfold here);
//! - bias gradient: dY summed over batch and positions.
//!
//! Every comparison is relative to the reference's largest magnitude, to 1e-5. The patched
//! crate's own tests check every geometry against the definition, in f64.

use burn::module::Param;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::module::{conv2d, unfold4d};
use burn::tensor::ops::{ConvOptions, UnfoldOptions};
use microlearning::data::{DataSplit, Task, images_to_tensor};
use microlearning::model::{SeedNet, conv_options, conv_with_feedback};
use microlearning::rng::LabRng;
use microlearning::training::read_f32;

const TOLERANCE: f32 = 1e-5;

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    microlearning::block_on(read_f32(t)).unwrap()
}

/// Asserts `max |a − b| ≤ 1e-5 · max |b|` and that both hold the same number of values.
fn assert_close<const D: usize>(what: &str, actual: Tensor<D>, reference: Tensor<D>) {
    assert_eq!(actual.dims(), reference.dims(), "{what}: shapes differ");
    let (a, b) = (values(actual), values(reference));
    let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(
        scale > 0.0,
        "{what}: the reference is all zeros, nothing is compared"
    );
    let worst = a
        .iter()
        .zip(&b)
        .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    assert!(
        a.iter().all(|v| v.is_finite()) && worst <= TOLERANCE * scale,
        "{what}: max |Δ| {worst:e} over max |ref| {scale:e} (relative {:e})",
        worst / scale
    );
}

fn random<const D: usize>(seed: u64, dims: [usize; D], device: &Device) -> Tensor<D> {
    let n = dims.iter().product();
    let data = LabRng::derive(seed, "conv-gradients").uniform_vec(n, 1.0);
    Tensor::from_data(TensorData::new(data, dims), device)
}

fn images(n: usize, device: &Device) -> Tensor<4> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data");
    let data = DataSplit::load_task(&root, Task::Mnist).unwrap();
    let indices: Vec<usize> = (0..n).collect();
    images_to_tensor(&data.train, &indices, device)
}

/// The weight gradient from the unfolded input: `dW = Σ_b dY_b · cols_bᵀ`, stride 1.
fn reference_weight_grad(x: Tensor<4>, dy: Tensor<4>, padding: [usize; 2]) -> Tensor<4> {
    let [b, c_in, h, w] = x.dims();
    let [_, c_out, h_out, w_out] = dy.dims();
    let (kh, kw) = (
        h + 2 * padding[0] - h_out + 1,
        w + 2 * padding[1] - w_out + 1,
    );
    let cols = unfold4d(x, [kh, kw], UnfoldOptions::new([1, 1], padding, [1, 1])); // [B, C·k·k, L]
    let dy = dy.reshape([b, c_out, h_out * w_out]); // [B, C_out, L]
    dy.matmul(cols.swap_dims(1, 2)) // [B, C_out, C·k·k]
        .sum_dim(0)
        .reshape([c_out, c_in, kh, kw])
}

/// The input gradient as a full correlation of `dy` with the rotated, channel-swapped kernel.
fn reference_input_grad(dy: Tensor<4>, weight: Tensor<4>, padding: [usize; 2]) -> Tensor<4> {
    let [_, _, kh, kw] = weight.dims();
    let rotated = weight.swap_dims(0, 1).flip([2, 3]); // [C_in, C_out, kh, kw]
    let options = ConvOptions::new(
        [1, 1],
        [kh - 1 - padding[0], kw - 1 - padding[1]],
        [1, 1],
        1,
    );
    conv2d(dy, rotated, None, options)
}

fn reference_bias_grad(dy: Tensor<4>) -> Tensor<1> {
    let [_, c, _, _] = dy.dims();
    dy.swap_dims(0, 1)
        .reshape([c as i32, -1])
        .sum_dim(1)
        .reshape([c])
}

/// The forward pass as an unfold and a matmul, plus the bias.
fn reference_forward(x: Tensor<4>, layer: &Conv2d) -> Tensor<4> {
    let [b, _, h, w] = x.dims();
    let weight = layer.weight.val();
    let [c_out, c_in, kh, kw] = weight.dims();
    let cols = unfold4d(x, [kh, kw], UnfoldOptions::new([1, 1], [0, 0], [1, 1])); // [B, C·k·k, L]
    let kernel = weight.reshape([1, c_out, c_in * kh * kw]).repeat_dim(0, b); // [B, C_out, C·k·k]
    let bias = layer.bias.as_ref().unwrap().val().reshape([1, c_out, 1]); // [1, C_out, 1]
    (kernel.matmul(cols) + bias).reshape([b, c_out, h - kh + 1, w - kw + 1]) // [B, C_out, H', W']
}

/// One convolution of the seed network (`layer`, built on the autodiff device) on a batch:
/// autodiff's forward, dX, dW and db (through the patched kernels) against the references, with
/// the input gradient taken through `feedback` (a fixed B, as feedback alignment does) when one
/// is given.
fn check_layer(name: &str, layer: &Conv2d, x: Tensor<4>, feedback: Option<Tensor<4>>, seed: u64) {
    let device = x.device();
    let tracked = device.clone().autodiff();
    let options = conv_options(layer);
    let padding = options.padding_begin();
    let plain_layer = layer.clone().valid();
    let x_plain = x.clone();

    let x = Tensor::<4>::from_data(x.into_data(), &tracked).require_grad();
    let feedback_tracked = feedback
        .clone()
        .map(|b| Tensor::<4>::from_data(b.into_data(), &tracked));
    let y = conv_with_feedback(&layer, x.clone(), feedback_tracked.as_ref());
    let dy = random(seed, y.dims(), &device);
    let loss = (y.clone() * Tensor::from_data(dy.clone().into_data(), &tracked)).sum();
    let grads = loss.backward();

    assert_close(
        &format!("{name} forward"),
        y.inner(),
        reference_forward(x_plain.clone(), &plain_layer),
    );
    let through = feedback.unwrap_or_else(|| plain_layer.weight.val());
    assert_close(
        &format!("{name} dX"),
        x.grad(&grads).expect("input gradient"),
        reference_input_grad(dy.clone(), through, padding),
    );
    assert_close(
        &format!("{name} dW"),
        layer.weight.val().grad(&grads).expect("weight gradient"),
        reference_weight_grad(x_plain, dy.clone(), padding),
    );
    assert_close(
        &format!("{name} db"),
        layer
            .bias
            .as_ref()
            .unwrap()
            .val()
            .grad(&grads)
            .expect("bias gradient"),
        reference_bias_grad(dy),
    );
}

#[test]
fn the_seed_convolutions_match_the_reference_on_a_batch() {
    let device = Device::flex();
    let model = SeedNet::init(0, &device.clone().autodiff());
    let x = images(64, &device);
    check_layer("conv1", &model.conv1, x.clone(), None, 1);
    let h = model.valid().first_layer(x); // [64, 32, 26, 26]
    check_layer("conv2", &model.conv2, h.clone(), None, 2);
    // Feedback alignment's conv2: the input gradient flows through a fixed random B.
    let b = random(3, model.conv2.weight.val().dims(), &device).mul_scalar(0.05);
    check_layer("conv2 through B", &model.conv2, h, Some(b), 4);
}

/// A strided, padded, dilated, grouped convolution: the geometry the seed network does not use
/// but the patched kernels must still get right (their own tests in the patched crate cover the
/// rest of the grid).
#[test]
fn a_strided_padded_dilated_grouped_convolution_matches_the_reference() {
    let device = Device::flex();
    let tracked = device.clone().autodiff();
    let x = random(5, [3, 4, 11, 9], &device);
    let w = random(6, [6, 2, 3, 2], &device);
    let options = ConvOptions::new([2, 1], [1, 2], [2, 1], 2);
    let xt = Tensor::<4>::from_data(x.clone().into_data(), &tracked).require_grad();
    let wt = Tensor::<4>::from_data(w.clone().into_data(), &tracked).require_grad();
    let y = conv2d(xt.clone(), wt.clone(), None, options.clone());
    let dy = random(7, y.dims(), &device);
    let grads = (y * Tensor::from_data(dy.clone().into_data(), &tracked))
        .sum()
        .backward();

    // References by the definition: the gradient of Σ dY ⊙ conv(x, W) is linear in each
    // argument, so each entry is the forward convolution's response to a one-hot input.
    let dot = |x: Tensor<4>, w: Tensor<4>| -> f32 {
        values((conv2d(x, w, None, options.clone()) * dy.clone()).sum())[0]
    };
    let one_hot = |dims: [usize; 4], i: usize| {
        let mut v = vec![0f32; dims.iter().product()];
        v[i] = 1.0;
        Tensor::<4>::from_data(TensorData::new(v, dims), &device)
    };
    let dx: Vec<f32> = (0..x.dims().iter().product())
        .map(|i| dot(one_hot(x.dims(), i), w.clone()))
        .collect();
    let dw: Vec<f32> = (0..w.dims().iter().product())
        .map(|i| dot(x.clone(), one_hot(w.dims(), i)))
        .collect();
    assert_close(
        "grouped dX",
        xt.grad(&grads).unwrap(),
        Tensor::from_data(TensorData::new(dx, x.dims()), &device),
    );
    assert_close(
        "grouped dW",
        wt.grad(&grads).unwrap(),
        Tensor::from_data(TensorData::new(dw, w.dims()), &device),
    );
}

/// Every parameter of the seed network on a batch: autodiff's gradients against the chain rule
/// written out stage by stage with the reference convolutions.
#[test]
fn every_seed_network_gradient_matches_the_reference_chain() {
    let device = Device::flex();
    let tracked = device.clone().autodiff();
    let model = SeedNet::init(0, &tracked);
    let x_plain = images(64, &device);
    let labels_data = {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data");
        let data = DataSplit::load_task(&root, Task::Mnist).unwrap();
        data.train.labels()[..64]
            .iter()
            .map(|&l| l as i64)
            .collect::<Vec<_>>()
    };
    let x = Tensor::<4>::from_data(x_plain.clone().into_data(), &tracked);

    // Autodiff through the model's own stages.
    let s1 = model.front_end_stage(x);
    let s2 = model.conv2_stage(s1.post.clone(), None);
    let flat = model.pool_stage(s2.post.clone());
    let s4 = model.fc1_stage(flat.clone(), None);
    let logits = model.readout_stage(s4.post.clone(), None);
    let onehot_plain = Tensor::<1, Int>::from_data(TensorData::new(labels_data, [64]), &device)
        .one_hot::<2>(10)
        .float();
    let onehot = Tensor::<2>::from_data(onehot_plain.clone().into_data(), &tracked);
    let loss = -(log_softmax(logits.clone(), 1) * onehot).sum_dim(1).mean();
    let grads = loss.backward();

    // The chain rule by hand, on plain tensors.
    let n = 64.0;
    let g_logits = (softmax(logits.inner(), 1) - onehot_plain).div_scalar(n); // [64, 10]
    let h1 = s4.post.inner(); // [64, 128]
    let w2 = model.fc2.weight.val().inner(); // [128, 10]
    let dw2 = h1.clone().transpose().matmul(g_logits.clone());
    let db2 = g_logits.clone().sum_dim(0).reshape([10]);
    let mask = |pre: Tensor<2>| pre.greater_elem(0.0).float();
    let g_pre4 = g_logits.matmul(w2.transpose()) * mask(s4.pre.inner()); // [64, 128]
    let flat = flat.inner();
    let w1 = model.fc1.weight.val().inner(); // [9216, 128]
    let dw1 = flat.transpose().matmul(g_pre4.clone());
    let db1 = g_pre4.clone().sum_dim(0).reshape([128]);
    let g_flat = g_pre4.matmul(w1.transpose()); // [64, 9216]
    let plain_model = model.valid();
    let routing = plain_model.pool_routing(s2.post.inner());
    let g_pre2 = routing.transpose(g_flat) * s2.pre.inner().greater_elem(0.0).float(); // [64, 64, 24, 24]
    let h = s1.post.inner();
    let dwc2 = reference_weight_grad(h, g_pre2.clone(), [0, 0]);
    let dbc2 = reference_bias_grad(g_pre2.clone());
    let g_pre1 = reference_input_grad(g_pre2, plain_model.conv2.weight.val(), [0, 0])
        * s1.pre.inner().greater_elem(0.0).float(); // [64, 32, 26, 26]
    let dwc1 = reference_weight_grad(x_plain, g_pre1.clone(), [0, 0]);
    let dbc1 = reference_bias_grad(g_pre1);

    let grad4 = |p: &Param<Tensor<4>>| p.val().grad(&grads).expect("a gradient");
    let grad2 = |p: &Param<Tensor<2>>| p.val().grad(&grads).expect("a gradient");
    let grad1 =
        |p: &Option<Param<Tensor<1>>>| p.as_ref().unwrap().val().grad(&grads).expect("a gradient");
    assert_close("conv1.weight", grad4(&model.conv1.weight), dwc1);
    assert_close("conv1.bias", grad1(&model.conv1.bias), dbc1);
    assert_close("conv2.weight", grad4(&model.conv2.weight), dwc2);
    assert_close("conv2.bias", grad1(&model.conv2.bias), dbc2);
    assert_close("fc1.weight", grad2(&model.fc1.weight), dw1);
    assert_close("fc1.bias", grad1(&model.fc1.bias), db1);
    assert_close("fc2.weight", grad2(&model.fc2.weight), dw2);
    assert_close("fc2.bias", grad1(&model.fc2.bias), db2);
}
