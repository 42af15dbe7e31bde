//! Turning images into the network's input tensor.

use burn::prelude::*;

use super::dataset::{IMAGE_COLS, IMAGE_PIXELS, IMAGE_ROWS, ImageSet};

/// MNIST's pixel mean and standard deviation (in 0..1 units), the seed network's normalisation.
pub const NORM_MEAN: f32 = 0.1307;
pub const NORM_STD: f32 = 0.3081;

/// (x/255 − 0.1307)/0.3081 for a raw pixel value in 0..=255.
#[inline]
pub fn normalize_pixel(x: f32) -> f32 {
    (x / 255.0 - NORM_MEAN) / NORM_STD
}

/// Images `indices` of `set` as a normalised `[batch, 1, 28, 28]` tensor.
pub fn images_to_tensor(set: &ImageSet, indices: &[usize], device: &Device) -> Tensor<4> {
    let mut values = Vec::with_capacity(indices.len() * IMAGE_PIXELS);
    for &i in indices {
        values.extend(set.image(i).iter().map(|&p| normalize_pixel(p as f32)));
    }
    let data = TensorData::new(values, [indices.len(), 1, IMAGE_ROWS, IMAGE_COLS]);
    Tensor::from_data(data, device)
}

/// Labels `indices` of `set` as an int tensor `[batch]`.
pub fn labels_to_tensor(set: &ImageSet, indices: &[usize], device: &Device) -> Tensor<1, Int> {
    let labels: Vec<i64> = indices.iter().map(|&i| set.labels()[i] as i64).collect();
    Tensor::from_data(TensorData::new(labels, [indices.len()]), device)
}

/// One-hot rows `[batch, classes]` (as floats) for `labels` `[batch]`, built by comparison on
/// the labels' device. Not burn's `one_hot`: that one first checks its input with a synchronous
/// readback, which WebGPU in the browser cannot do, so the wasm module would trap.
pub fn one_hot(labels: Tensor<1, Int>, classes: usize) -> Tensor<2> {
    let [batch] = labels.dims();
    let device = labels.device();
    let columns = Tensor::<1, Int>::arange(0..classes as i64, &device)
        .unsqueeze_dim::<2>(0)
        .repeat_dim(0, batch); // [B, C]
    let rows = labels.unsqueeze_dim::<2>(1).repeat_dim(1, classes); // [B, C]
    columns.equal(rows).float() // [B, C]
}
