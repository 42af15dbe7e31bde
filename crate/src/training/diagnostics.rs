//! Gradient-alignment diagnostics, the measurements of the feedback-alignment literature
//! (Lillicrap et al. 2016, Fig. 2; Nøkland 2016; Akrout et al. 2019), taken live during training:
//!
//! - per layer, the angle between the rule's update and the true backprop gradient on the same
//!   batch (0° for backprop itself; 90° means the update is orthogonal to the gradient);
//! - per layer, the angle between the feedback weights B and the forward weights W, for rules
//!   that have B of W's shape (FA, sign symmetry, Kolen-Pollack);
//! - per layer, the Frobenius norm of W.
//!
//! The update compared is what the rule hands to the optimizer (its raw gradient), before Adam's
//! per-parameter scaling, as in the papers.

use burn::module::Param;
use burn::optim::GradientsParams;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::evaluation::read_f32;
use crate::error::Result;
use crate::model::{FeedbackWeights, SeedNet};

/// The trained layers, in forward order.
pub const LAYERS: [&str; 4] = ["conv1", "conv2", "fc1", "fc2"];

/// One layer's measurements at one batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerDiagnostics {
    pub layer: String,
    /// Angle in degrees between the rule's update and the backprop gradient; `None` when the
    /// rule does not update this layer.
    pub update_bp_angle_deg: Option<f64>,
    /// Angle in degrees between the feedback weights B and W; `None` when the rule has no B of
    /// W's shape for this layer.
    pub feedback_angle_deg: Option<f64>,
    pub weight_norm: f64,
}

/// The diagnostics of one batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagnosticSample {
    /// 1-based epoch and batch within it.
    pub epoch: usize,
    pub batch: usize,
    pub layers: Vec<LayerDiagnostics>,
}

/// An epoch's diagnostics: the mean of its samples per layer, and the samples themselves.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EpochDiagnostics {
    pub mean: Vec<LayerDiagnostics>,
    pub samples: Vec<DiagnosticSample>,
}

impl EpochDiagnostics {
    pub fn from_samples(samples: Vec<DiagnosticSample>) -> Self {
        let mean = LAYERS
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let layer = |s: &DiagnosticSample| s.layers.get(i).cloned();
                let rows: Vec<LayerDiagnostics> = samples.iter().filter_map(layer).collect();
                let avg = |f: fn(&LayerDiagnostics) -> Option<f64>| {
                    let values: Vec<f64> = rows.iter().filter_map(f).collect();
                    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
                };
                LayerDiagnostics {
                    layer: name.to_string(),
                    update_bp_angle_deg: avg(|r| r.update_bp_angle_deg),
                    feedback_angle_deg: avg(|r| r.feedback_angle_deg),
                    weight_norm: avg(|r| Some(r.weight_norm)).unwrap_or(0.0),
                }
            })
            .collect();
        Self { mean, samples }
    }
}

/// `[a·b, |a|², |b|²]` for two tensors of one shape.
fn dot_norms<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<1> {
    Tensor::cat(
        vec![
            (a.clone() * b.clone()).sum(),
            (a.clone() * a).sum(),
            (b.clone() * b).sum(),
        ],
        0,
    )
}

fn angle_deg(dot: f32, aa: f32, bb: f32) -> Option<f64> {
    let denom = (aa as f64 * bb as f64).sqrt();
    (denom > 0.0 && dot.is_finite())
        .then(|| (dot as f64 / denom).clamp(-1.0, 1.0).acos().to_degrees())
}

/// The three comparisons of one layer, as 9 numbers (missing pairs as zeros, flagged in `have`).
struct LayerPlan {
    stats: Vec<Tensor<1>>,
    have_update: bool,
    have_feedback: bool,
}

fn plan_layer<const D: usize>(
    weight: &Param<Tensor<D>>,
    rule: &GradientsParams,
    bp: &GradientsParams,
    feedback: Option<&Tensor<D>>,
) -> LayerPlan {
    let w = weight.val().detach().inner();
    let zero = || Tensor::<1>::zeros([3], &w.device());
    let update = match (rule.get::<D>(weight.id), bp.get::<D>(weight.id)) {
        (Some(u), Some(g)) => Some(dot_norms(u, g)),
        _ => None,
    };
    let fb = feedback.map(|b| dot_norms(b.clone(), w.clone()));
    LayerPlan {
        have_update: update.is_some(),
        have_feedback: fb.is_some(),
        stats: vec![
            update.unwrap_or_else(zero),
            fb.unwrap_or_else(zero),
            dot_norms(w.clone(), w),
        ],
    }
}

/// Measures every layer, reading the numbers back in one asynchronous transfer.
pub async fn measure(
    model: &SeedNet,
    rule_update: &GradientsParams,
    bp_gradient: &GradientsParams,
    feedback: Option<&FeedbackWeights>,
) -> Result<Vec<LayerDiagnostics>> {
    let fb = |f: fn(&FeedbackWeights) -> Option<&Tensor<2>>| feedback.and_then(f);
    let plans = [
        plan_layer(&model.conv1.weight, rule_update, bp_gradient, None),
        plan_layer(
            &model.conv2.weight,
            rule_update,
            bp_gradient,
            feedback.and_then(|f| f.conv2.as_ref()),
        ),
        plan_layer(
            &model.fc1.weight,
            rule_update,
            bp_gradient,
            fb(|f| f.fc1.as_ref()),
        ),
        plan_layer(
            &model.fc2.weight,
            rule_update,
            bp_gradient,
            fb(|f| f.fc2.as_ref()),
        ),
    ];
    let all: Vec<Tensor<1>> = plans.iter().flat_map(|p| p.stats.iter().cloned()).collect();
    let values = read_f32(Tensor::cat(all, 0)).await?; // 4 layers × 3 pairs × 3 numbers
    Ok(plans
        .iter()
        .zip(values.chunks_exact(9))
        .zip(LAYERS)
        .map(|((plan, v), name)| LayerDiagnostics {
            layer: name.to_string(),
            update_bp_angle_deg: if plan.have_update {
                angle_deg(v[0], v[1], v[2])
            } else {
                None
            },
            feedback_angle_deg: if plan.have_feedback {
                angle_deg(v[3], v[4], v[5])
            } else {
                None
            },
            weight_norm: (v[6] as f64).sqrt(),
        })
        .collect())
}
