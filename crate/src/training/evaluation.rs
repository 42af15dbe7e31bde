//! Test-set evaluation: accuracy, the confusion matrix and every prediction.

use burn::module::Module;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{ImageSet, NUM_CLASSES, images_to_tensor};
use crate::error::{LabError, Result};
use crate::model::SeedNet;

/// Rows are true classes, columns predicted classes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix(pub Vec<Vec<u32>>);

impl ConfusionMatrix {
    pub fn new() -> Self {
        ConfusionMatrix(vec![vec![0; NUM_CLASSES]; NUM_CLASSES])
    }

    pub fn add(&mut self, truth: usize, predicted: usize) {
        self.0[truth][predicted] += 1;
    }

    pub fn total(&self) -> u64 {
        self.0.iter().flatten().map(|&c| c as u64).sum()
    }

    pub fn correct(&self) -> u64 {
        (0..self.0.len()).map(|i| self.0[i][i] as u64).sum()
    }

    pub fn accuracy(&self) -> f64 {
        match self.total() {
            0 => 0.0,
            n => self.correct() as f64 / n as f64,
        }
    }
}

impl Default for ConfusionMatrix {
    fn default() -> Self {
        Self::new()
    }
}

/// The outcome of running a model over a labelled set.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub accuracy: f64,
    pub mean_loss: f64,
    pub confusion: ConfusionMatrix,
    /// The predicted class of every image, in set order.
    pub predictions: Vec<u8>,
}

/// Reads a tensor back to the host. Async so that the WebGPU path never blocks (burn panics on
/// synchronous reads there); on the CPU the future is ready at once.
pub async fn read_f32<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    let data = t
        .into_data_async()
        .await
        .map_err(|e| LabError::Device(format!("reading a result back failed: {e:?}")))?;
    Ok(data.iter::<f32>().collect())
}

pub async fn read_i64<const D: usize>(t: Tensor<D, Int>) -> Result<Vec<i64>> {
    let data = t
        .into_data_async()
        .await
        .map_err(|e| LabError::Device(format!("reading a result back failed: {e:?}")))?;
    Ok(data.iter::<i64>().collect())
}

/// Evaluates `model` on all of `set` in batches of `batch_size`, without autodiff.
pub async fn evaluate(
    model: &SeedNet,
    set: &ImageSet,
    batch_size: usize,
    device: &Device,
) -> Result<Evaluation> {
    evaluate_scored(model, set, batch_size, device, |m, x| m.forward(x)).await
}

/// [`evaluate`] with another inference: `score` maps (model, images `[B, 1, 28, 28]`) to
/// log-probabilities `[B, 10]` (e.g. a rule's own inference, see `LearningRule::classify`).
pub async fn evaluate_scored(
    model: &SeedNet,
    set: &ImageSet,
    batch_size: usize,
    device: &Device,
    score: impl Fn(&SeedNet, Tensor<4>) -> Tensor<2>,
) -> Result<Evaluation> {
    let model = model.valid();
    let device = device.clone().inner();
    let mut confusion = ConfusionMatrix::new();
    let mut predictions = Vec::with_capacity(set.len());
    let mut loss_sum = 0.0f64;
    let indices: Vec<usize> = (0..set.len()).collect();
    for chunk in indices.chunks(batch_size.max(1)) {
        let log_probs = score(&model, images_to_tensor(set, chunk, &device)); // [B, 10]
        let values = read_f32(log_probs).await?;
        for (row, &i) in values.chunks_exact(NUM_CLASSES).zip(chunk) {
            let truth = set.labels()[i] as usize;
            let predicted = argmax(row);
            loss_sum -= row[truth] as f64;
            confusion.add(truth, predicted);
            predictions.push(predicted as u8);
        }
    }
    Ok(Evaluation {
        accuracy: confusion.accuracy(),
        mean_loss: loss_sum / set.len().max(1) as f64,
        confusion,
        predictions,
    })
}

/// Index of the largest value; the first one on ties, and NaN never wins.
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] || row[best].is_nan() {
            best = i;
        }
    }
    best
}
