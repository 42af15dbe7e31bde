//! One comparison of several models' representations on one probe set, layer by layer: every
//! metric of this module, in one serializable value that the CLI prints and writes and the page
//! draws. A new metric is a function in `analysis/` and a field here.

use serde::{Deserialize, Serialize};

use super::capture::{CAPTURED_LAYERS, LayerCapture};
use super::cka::{debiased_cka, linear_cka, rbf_cka};
use super::matrix::SquareMatrix;
use super::pca::{Projection, pca_from_gram};
use super::rdm::{Dissimilarity, rdm};
use super::rsa::{cosine, kendall_tau_a, spearman};
use crate::data::{ImageSet, Task};
use crate::error::{LabError, Result};

/// How to compare.
#[derive(Debug, Clone)]
pub struct ComparisonOptions {
    /// The dissimilarity of the image-by-image and class RDMs.
    pub rdm: Dissimilarity,
    /// RBF CKA's bandwidth as a fraction of the median pairwise distance.
    pub rbf_fraction: f64,
    /// Which captured layers, as indices into [`CAPTURED_LAYERS`].
    pub layers: Vec<usize>,
}

impl Default for ComparisonOptions {
    fn default() -> Self {
        Self {
            rdm: Dissimilarity::Correlation,
            rbf_fraction: 0.5,
            layers: (0..CAPTURED_LAYERS.len()).collect(),
        }
    }
}

/// The probe images the models were compared on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProbeInfo {
    pub task: String,
    pub size: usize,
    pub seed: u64,
    /// Test-set indices of the probe images, class by class.
    pub indices: Vec<usize>,
    pub labels: Vec<u8>,
}

impl ProbeInfo {
    /// The probe of `task` drawn with `seed`: the test images `indices` of `test`.
    pub fn new(task: Task, seed: u64, indices: Vec<usize>, test: &ImageSet) -> Self {
        ProbeInfo {
            task: task.id().into(),
            size: indices.len(),
            seed,
            labels: indices.iter().map(|&i| test.labels()[i]).collect(),
            indices,
        }
    }
}

/// Every metric of one layer. The model × model matrices are symmetric, indexed like `models`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LayerComparison {
    pub layer: String,
    /// Feature count of the layer.
    pub dim: usize,
    pub linear_cka: SquareMatrix,
    pub debiased_cka: SquareMatrix,
    pub rbf_cka: SquareMatrix,
    /// RSA between the models' image-by-image RDMs.
    pub rsa_spearman: SquareMatrix,
    pub rsa_kendall_tau_a: SquareMatrix,
    pub rsa_cosine: SquareMatrix,
    /// Each model's 10 × 10 class-mean RDM.
    pub class_rdms: Vec<SquareMatrix>,
    /// Each model's 2-D PCA of the probe images (scores in probe order).
    pub pca: Vec<Projection>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Comparison {
    pub models: Vec<String>,
    /// The RDM dissimilarity's id.
    pub rdm: String,
    pub rbf_fraction: f64,
    pub probe: ProbeInfo,
    pub layers: Vec<LayerComparison>,
    /// Linear CKA between every layer of the first model (rows) and every layer of the last
    /// (columns), over the compared layers; `None` with one model.
    pub layer_by_layer: Option<SquareMatrix>,
}

fn pairwise(n: usize, f: impl Fn(usize, usize) -> f64) -> SquareMatrix {
    let upper = SquareMatrix::from_fn(n, |i, j| if i <= j { f(i, j) } else { 0.0 });
    SquareMatrix::from_fn(n, |i, j| upper.get(i.min(j), i.max(j)))
}

/// Compares `models` (a name and the captures of every layer, from one probe set) by every
/// metric.
pub fn compare(
    models: &[(String, &[LayerCapture])],
    probe: ProbeInfo,
    options: &ComparisonOptions,
) -> Result<Comparison> {
    let n = models.len();
    if n == 0 {
        return Err(LabError::Config("no models to compare".into()));
    }
    if let Some(&bad) = options.layers.iter().find(|&&l| l >= CAPTURED_LAYERS.len()) {
        return Err(LabError::Config(format!("no captured layer {bad}")));
    }
    for (name, captures) in models {
        let complete = captures.len() == CAPTURED_LAYERS.len()
            && captures.iter().all(|c| c.gram.n == probe.size);
        if !complete {
            return Err(LabError::Config(format!(
                "{name}: its capture does not match the probe set of {} images",
                probe.size
            )));
        }
    }
    let layers = options
        .layers
        .iter()
        .map(|&l| {
            let caps: Vec<&LayerCapture> = models.iter().map(|(_, c)| &c[l]).collect();
            let rdms: Vec<Vec<f64>> = caps
                .iter()
                .map(|c| rdm(options.rdm, &c.gram, &c.correlation).upper_triangle())
                .collect();
            LayerComparison {
                layer: CAPTURED_LAYERS[l].to_string(),
                dim: caps[0].dim,
                linear_cka: pairwise(n, |i, j| linear_cka(&caps[i].gram, &caps[j].gram)),
                debiased_cka: pairwise(n, |i, j| debiased_cka(&caps[i].gram, &caps[j].gram)),
                rbf_cka: pairwise(n, |i, j| {
                    rbf_cka(&caps[i].gram, &caps[j].gram, options.rbf_fraction)
                }),
                rsa_spearman: pairwise(n, |i, j| spearman(&rdms[i], &rdms[j])),
                rsa_kendall_tau_a: pairwise(n, |i, j| kendall_tau_a(&rdms[i], &rdms[j])),
                rsa_cosine: pairwise(n, |i, j| cosine(&rdms[i], &rdms[j])),
                class_rdms: caps
                    .iter()
                    .map(|c| rdm(options.rdm, &c.class_gram, &c.class_correlation))
                    .collect(),
                pca: caps.iter().map(|c| pca_from_gram(&c.gram, 2)).collect(),
            }
        })
        .collect();
    let layer_by_layer = (n >= 2).then(|| {
        let (first, last) = (models[0].1, models[n - 1].1);
        let k = options.layers.len();
        SquareMatrix::from_fn(k, |a, b| {
            let (a, b) = (options.layers[a], options.layers[b]);
            linear_cka(&first[a].gram, &last[b].gram)
        })
    });
    Ok(Comparison {
        models: models.iter().map(|(name, _)| name.clone()).collect(),
        rdm: options.rdm.id().to_string(),
        rbf_fraction: options.rbf_fraction,
        probe,
        layers,
        layer_by_layer,
    })
}
