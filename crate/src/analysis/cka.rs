//! Centred kernel alignment (Kornblith, Norouzi, Lee & Hinton 2019, "Similarity of Neural
//! Network Representations Revisited"), computed from n × n kernel matrices of the same n
//! stimuli.
//!
//! - Linear CKA: HSIC(K, L) / √(HSIC(K, K)·HSIC(L, L)) with the biased estimator
//!   HSIC = tr(KHLH)/(n−1)² and linear kernels K = XXᵀ, L = YYᵀ. Invariant to orthogonal
//!   transforms and isotropic scaling of either representation, and to adding a constant.
//! - Debiased CKA: the same ratio with the unbiased HSIC estimator (Song et al. 2012, as used by
//!   Nguyen, Raghu & Kornblith 2021), which removes the positive bias that makes linear CKA of
//!   unrelated representations clearly above 0 when n is not ≫ D.
//! - RBF CKA: Gaussian kernels exp(−d²/(2σ²)) with σ a fraction of the median pairwise
//!   distance (Kornblith et al. use fractions such as 0.2, 0.4, 0.8).

use super::matrix::SquareMatrix;
use super::rsa::cmp_f64;

fn biased_hsic(k: &SquareMatrix, l: &SquareMatrix) -> f64 {
    // tr(KHLH) = ⟨HKH, HLH⟩ since H is idempotent and symmetric; the (n−1)² cancels in CKA.
    k.centered().frobenius_dot(&l.centered())
}

fn ratio(xy: f64, xx: f64, yy: f64) -> f64 {
    let denom = (xx * yy).sqrt();
    if denom > 0.0 && denom.is_finite() {
        xy / denom
    } else {
        f64::NAN
    }
}

/// Linear CKA from two Gram matrices (X·Xᵀ and Y·Yᵀ). In [0, 1]; NaN if either is constant.
pub fn linear_cka(gram_x: &SquareMatrix, gram_y: &SquareMatrix) -> f64 {
    ratio(
        biased_hsic(gram_x, gram_y),
        biased_hsic(gram_x, gram_x),
        biased_hsic(gram_y, gram_y),
    )
}

/// The unbiased HSIC estimator; needs n ≥ 4.
pub fn unbiased_hsic(k: &SquareMatrix, l: &SquareMatrix) -> f64 {
    let n = k.n;
    let nf = n as f64;
    let off =
        |m: &SquareMatrix| SquareMatrix::from_fn(n, |i, j| if i == j { 0.0 } else { m.get(i, j) });
    let (k, l) = (off(k), off(l));
    let k_sum: f64 = k.data.iter().sum();
    let l_sum: f64 = l.data.iter().sum();
    let k_rows: Vec<f64> = k.rows().map(|r| r.iter().sum()).collect();
    let l_rows: Vec<f64> = l.rows().map(|r| r.iter().sum()).collect();
    // 1ᵀ K L 1 = Σ_j (K1)_j (L1)_j for symmetric K, L.
    let klo: f64 = k_rows.iter().zip(&l_rows).map(|(a, b)| a * b).sum();
    let trace = k.frobenius_dot(&l);
    (trace + k_sum * l_sum / ((nf - 1.0) * (nf - 2.0)) - 2.0 * klo / (nf - 2.0)) / (nf * (nf - 3.0))
}

/// Debiased linear CKA. Close to 0 for independent representations even when n is modest;
/// can be slightly negative.
pub fn debiased_cka(gram_x: &SquareMatrix, gram_y: &SquareMatrix) -> f64 {
    ratio(
        unbiased_hsic(gram_x, gram_y),
        unbiased_hsic(gram_x, gram_x),
        unbiased_hsic(gram_y, gram_y),
    )
}

/// Squared Euclidean distances from a Gram matrix: d²ᵢⱼ = Gᵢᵢ + Gⱼⱼ − 2Gᵢⱼ (clamped at +0; a
/// NaN stays NaN rather than becoming a distance of 0).
pub fn squared_distances(gram: &SquareMatrix) -> SquareMatrix {
    SquareMatrix::from_fn(gram.n, |i, j| {
        if i == j {
            0.0
        } else {
            let d2 = gram.get(i, i) + gram.get(j, j) - 2.0 * gram.get(i, j);
            if d2 <= 0.0 { 0.0 } else { d2 }
        }
    })
}

/// The median; NaN if empty or if any value is NaN (the NaN rule of `rsa`).
fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() || values.iter().any(|v| v.is_nan()) {
        return f64::NAN;
    }
    values.sort_by(|a, b| cmp_f64(*a, *b));
    let m = values.len() / 2;
    if values.len() % 2 == 1 {
        values[m]
    } else {
        (values[m - 1] + values[m]) / 2.0
    }
}

/// The RBF kernel exp(−d²/(2σ²)) with σ = `fraction` × the median pairwise distance; the
/// identity when σ = 0, NaN throughout when σ is NaN.
pub fn rbf_kernel(gram: &SquareMatrix, fraction: f64) -> SquareMatrix {
    let d2 = squared_distances(gram);
    let sigma = fraction * median(d2.upper_triangle().into_iter().map(f64::sqrt).collect());
    let two_s2 = 2.0 * sigma * sigma;
    SquareMatrix::from_fn(gram.n, |i, j| {
        if two_s2 == 0.0 {
            if i == j { 1.0 } else { 0.0 }
        } else {
            (-d2.get(i, j) / two_s2).exp()
        }
    })
}

/// CKA with RBF kernels, σ = `fraction` × the median distance of each representation.
pub fn rbf_cka(gram_x: &SquareMatrix, gram_y: &SquareMatrix, fraction: f64) -> f64 {
    linear_cka(&rbf_kernel(gram_x, fraction), &rbf_kernel(gram_y, fraction))
}
