//! Recording what each layer represents on the probe set.
//!
//! Memory: for one layer at a time, the probe's features X (n × D) are gathered on the device
//! minibatch by minibatch (`CAPTURE_BATCH` images per forward pass), with their row-standardised
//! copy Z, then reduced to n × n matrices; only those are read back. The peak is about
//! 2 · n · D · 4 bytes for the widest layer: conv2 (D = 36,864) at n = 1,000 is ~295 MB; conv1
//! (D = 21,632) ~173 MB; the other layers are small. The host keeps 4 · n² doubles per layer
//! (32 MB at n = 1,000).

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::matrix::SquareMatrix;
use crate::data::{ImageSet, NUM_CLASSES, images_to_tensor, one_hot};
use crate::error::{LabError, Result};
use crate::model::SeedNet;
use crate::training::read_f32;

/// Images per forward pass while capturing.
pub const CAPTURE_BATCH: usize = 100;

/// The recorded layers, in forward order (ReLU outputs for conv1, conv2 and fc1).
pub const CAPTURED_LAYERS: [&str; 5] = ["conv1", "conv2", "pool", "fc1", "logits"];

/// One layer's representation of the probe set, as the n × n matrices the metrics use.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LayerCapture {
    pub layer: String,
    /// Feature count D.
    pub dim: usize,
    /// X·Xᵀ: inner products between images' feature vectors (linear kernel).
    pub gram: SquareMatrix,
    /// Pearson correlation between images' feature vectors (0 where a vector is constant).
    pub correlation: SquareMatrix,
    /// The same two for the 10 class-mean feature vectors.
    pub class_gram: SquareMatrix,
    pub class_correlation: SquareMatrix,
}

fn layer_features(model: &SeedNet, x: Tensor<4>, layer: usize) -> Tensor<2> {
    let a = model.activations(x);
    match layer {
        0 => a.conv1.flatten::<2>(1, 3), // [B, 32·26·26]
        1 => a.conv2.flatten::<2>(1, 3), // [B, 64·24·24]
        2 => a.pool,                     // [B, 9216]
        3 => a.fc1,                      // [B, 128]
        _ => a.logits,                   // [B, 10]
    }
}

/// Rows scaled to zero mean and unit (population) variance; constant rows become zero.
fn standardize_rows(x: Tensor<2>) -> Tensor<2> {
    let mean = x.clone().mean_dim(1); // [n, 1]
    let centered = x - mean; // [n, D]
    let var = centered.clone().powf_scalar(2.0).mean_dim(1); // [n, 1]
    let inv_std = var.sqrt().clamp_min(1e-12).recip(); // [n, 1]
    let scale = inv_std.clone().mask_fill(inv_std.greater_elem(1e11), 0.0); // constant row → 0
    centered * scale
}

async fn read_square(t: Tensor<2>) -> Result<SquareMatrix> {
    let values = read_f32(t).await?;
    SquareMatrix::from_vec(values.into_iter().map(f64::from).collect())
        .ok_or_else(|| LabError::Results("captured matrix is not square".into()))
}

/// Runs `model` over the probe images `indices` of `set` and captures every layer.
pub async fn capture_layers(
    model: &SeedNet,
    set: &ImageSet,
    indices: &[usize],
    device: &Device,
) -> Result<Vec<LayerCapture>> {
    if indices.len() < 4 {
        return Err(LabError::Config(
            "the probe set needs at least 4 images".into(),
        ));
    }
    let model = model.valid();
    let device = device.clone().inner();
    let labels: Vec<i64> = indices.iter().map(|&i| set.labels()[i] as i64).collect();
    let onehot = one_hot(
        Tensor::<1, Int>::from_data(TensorData::new(labels, [indices.len()]), &device),
        NUM_CLASSES,
    ); // [n, 10]
    let counts = onehot.clone().sum_dim(0).clamp_min(1.0).transpose(); // [10, 1]
    let mut out = Vec::with_capacity(CAPTURED_LAYERS.len());
    for (layer, name) in CAPTURED_LAYERS.iter().enumerate() {
        let chunks: Vec<Tensor<2>> = indices
            .chunks(CAPTURE_BATCH)
            .map(|chunk| layer_features(&model, images_to_tensor(set, chunk, &device), layer))
            .collect();
        let x = Tensor::cat(chunks, 0); // [n, D]
        let dim = x.dims()[1];
        let gram = x.clone().matmul(x.clone().transpose()); // [n, n]
        let z = standardize_rows(x.clone());
        let correlation = z.clone().matmul(z.transpose()) / dim as f32; // [n, n]
        let means = onehot.clone().transpose().matmul(x) / counts.clone(); // [10, D]
        let class_gram = means.clone().matmul(means.clone().transpose()); // [10, 10]
        let zm = standardize_rows(means);
        let class_correlation = zm.clone().matmul(zm.transpose()) / dim as f32; // [10, 10]
        out.push(LayerCapture {
            layer: name.to_string(),
            dim,
            gram: read_square(gram).await?,
            correlation: read_square(correlation).await?,
            class_gram: read_square(class_gram).await?,
            class_correlation: read_square(class_correlation).await?,
        });
    }
    Ok(out)
}
