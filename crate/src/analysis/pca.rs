//! 2-D projection of a layer's representation by principal component analysis, computed from
//! the n × n Gram matrix (kernel PCA with a linear kernel, which equals ordinary PCA): the
//! centred Gram HXXᵀH has the principal-component scores as its eigenvectors scaled by √λ.

use super::matrix::SquareMatrix;
use crate::rng::LabRng;

/// The scores of the first `k` principal components for each of the n stimuli, `[n][k]`, and
/// the fraction of variance each component explains.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Projection {
    pub scores: Vec<Vec<f64>>,
    pub explained_variance: Vec<f64>,
}

fn mat_vec(m: &SquareMatrix, v: &[f64]) -> Vec<f64> {
    m.rows()
        .map(|row| row.iter().zip(v).map(|(a, b)| a * b).sum())
        .collect()
}

fn normalize(v: &mut [f64]) -> f64 {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    norm
}

/// The top `k` components by power iteration with deflation (deterministic start).
pub fn pca_from_gram(gram: &SquareMatrix, k: usize) -> Projection {
    let n = gram.n;
    let mut c = gram.centered();
    let total_variance: f64 = (0..n).map(|i| c.get(i, i)).sum();
    let mut rng = LabRng::derive(0, "pca-start");
    let mut components = Vec::new();
    let mut explained = Vec::new();
    for _ in 0..k.min(n) {
        let mut v: Vec<f64> = (0..n).map(|_| rng.normal() as f64).collect();
        normalize(&mut v);
        let mut lambda = 0.0;
        for _ in 0..500 {
            let mut w = mat_vec(&c, &v);
            let new_lambda = normalize(&mut w);
            let delta = v
                .iter()
                .zip(&w)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            v = w;
            if (new_lambda - lambda).abs() <= 1e-12 * new_lambda.max(1.0) && delta < 1e-10 {
                lambda = new_lambda;
                break;
            }
            lambda = new_lambda;
        }
        // Deflate: C ← C − λ v vᵀ.
        c = SquareMatrix::from_fn(n, |i, j| c.get(i, j) - lambda * v[i] * v[j]);
        // These clamps keep a NaN (from a NaN in the Gram matrix) NaN rather than making it 0.
        explained.push(if total_variance > 0.0 || total_variance.is_nan() {
            lambda / total_variance
        } else {
            0.0
        });
        let scale = if lambda <= 0.0 { 0.0 } else { lambda.sqrt() };
        components.push(v.into_iter().map(|x| x * scale).collect::<Vec<f64>>());
    }
    let scores = (0..n)
        .map(|i| components.iter().map(|c| c[i]).collect())
        .collect();
    Projection {
        scores,
        explained_variance: explained,
    }
}
