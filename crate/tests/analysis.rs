//! The representation metrics' defining properties, checked against values computed
//! independently here (feature-space formulas, brute force, hand-worked examples).

use microlearning::analysis::SquareMatrix;
use microlearning::analysis::cka::{debiased_cka, linear_cka, rbf_cka};
use microlearning::analysis::pca::pca_from_gram;
use microlearning::analysis::rdm::{correlation_rdm, euclidean_rdm};
use microlearning::analysis::rsa::{cosine, kendall_tau_a, spearman};
use microlearning::rng::LabRng;

type Features = Vec<Vec<f64>>; // [n][d]

fn random_features(n: usize, d: usize, seed: u64) -> Features {
    let mut rng = LabRng::new(seed);
    (0..n)
        .map(|_| (0..d).map(|_| rng.normal() as f64).collect())
        .collect()
}

fn gram(x: &Features) -> SquareMatrix {
    SquareMatrix::from_fn(x.len(), |i, j| {
        x[i].iter().zip(&x[j]).map(|(a, b)| a * b).sum()
    })
}

fn matmul(x: &Features, m: &[Vec<f64>]) -> Features {
    x.iter()
        .map(|row| {
            (0..m[0].len())
                .map(|k| row.iter().zip(m).map(|(a, r)| a * r[k]).sum())
                .collect()
        })
        .collect()
}

/// A random orthogonal matrix by Gram-Schmidt.
fn orthogonal(d: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut q: Vec<Vec<f64>> = Vec::new();
    for v in random_features(d, d, seed) {
        let mut v = v;
        for u in &q {
            let dot: f64 = v.iter().zip(u).map(|(a, b)| a * b).sum();
            v.iter_mut().zip(u).for_each(|(a, b)| *a -= dot * b);
        }
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        q.push(v.into_iter().map(|a| a / norm).collect());
    }
    q
}

/// Linear CKA in feature space, ‖YcᵀXc‖²_F / (‖XcᵀXc‖_F ‖YcᵀYc‖_F): a formula the library
/// does not use (it works with n × n Gram matrices).
fn feature_space_cka(x: &Features, y: &Features) -> f64 {
    let center = |m: &Features| {
        let n = m.len() as f64;
        let d = m[0].len();
        let means: Vec<f64> = (0..d)
            .map(|k| m.iter().map(|r| r[k]).sum::<f64>() / n)
            .collect();
        m.iter()
            .map(|r| r.iter().zip(&means).map(|(a, b)| a - b).collect())
            .collect::<Features>()
    };
    let (x, y) = (center(x), center(y));
    let cross = |a: &Features, b: &Features| {
        let mut s = 0.0;
        for i in 0..a[0].len() {
            for j in 0..b[0].len() {
                let v: f64 = a.iter().zip(b).map(|(ra, rb)| ra[i] * rb[j]).sum();
                s += v * v;
            }
        }
        s
    };
    cross(&y, &x) / (cross(&x, &x).sqrt() * cross(&y, &y).sqrt())
}

#[test]
fn linear_cka_matches_the_feature_space_formula() {
    let x = random_features(30, 6, 1);
    let y = random_features(30, 4, 2);
    let expected = feature_space_cka(&x, &y);
    let got = linear_cka(&gram(&x), &gram(&y));
    assert!((got - expected).abs() < 1e-10, "{got} vs {expected}");
}

#[test]
fn linear_cka_is_invariant_to_orthogonal_transforms_and_affine_scaling() {
    let x = random_features(40, 8, 3);
    let q = orthogonal(8, 4);
    let xq = matmul(&x, &q);
    assert!((linear_cka(&gram(&x), &gram(&xq)) - 1.0).abs() < 1e-10);
    // a·X + b (isotropic scale plus a constant offset per feature).
    let shifted: Features = x
        .iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .map(|(k, v)| 3.5 * v + k as f64)
                .collect()
        })
        .collect();
    assert!((linear_cka(&gram(&x), &gram(&shifted)) - 1.0).abs() < 1e-10);
}

#[test]
fn cka_is_symmetric_and_bounded() {
    for seed in 0..5 {
        let x = random_features(25, 5, 10 + seed);
        let y = random_features(25, 7, 20 + seed);
        let (gx, gy) = (gram(&x), gram(&y));
        for f in [
            linear_cka as fn(&SquareMatrix, &SquareMatrix) -> f64,
            |a: &SquareMatrix, b: &SquareMatrix| rbf_cka(a, b, 0.5),
        ] {
            let (a, b) = (f(&gx, &gy), f(&gy, &gx));
            assert!((a - b).abs() < 1e-12, "not symmetric: {a} vs {b}");
            assert!((0.0..=1.0 + 1e-12).contains(&a), "out of [0, 1]: {a}");
        }
        assert!((rbf_cka(&gx, &gx, 0.5) - 1.0).abs() < 1e-12);
    }
}

#[test]
fn debiased_cka_is_near_zero_for_independent_features() {
    let x = random_features(500, 5, 7);
    let y = random_features(500, 5, 8);
    let (gx, gy) = (gram(&x), gram(&y));
    let debiased = debiased_cka(&gx, &gy);
    let biased = linear_cka(&gx, &gy);
    assert!(debiased.abs() < 0.02, "debiased CKA {debiased}");
    assert!(
        biased > debiased,
        "the biased estimator should sit above: {biased} vs {debiased}"
    );
    assert!((debiased_cka(&gx, &gx) - 1.0).abs() < 1e-10);
}

#[test]
fn rdms_are_symmetric_with_a_zero_diagonal_and_match_direct_distances() {
    let x = random_features(12, 9, 5);
    let g = gram(&x);
    let e = euclidean_rdm(&g);
    // Pearson correlation computed directly from the feature vectors.
    let pearson = |a: &[f64], b: &[f64]| {
        let n = a.len() as f64;
        let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
        let cov: f64 = a.iter().zip(b).map(|(p, q)| (p - ma) * (q - mb)).sum();
        let va: f64 = a.iter().map(|p| (p - ma).powi(2)).sum();
        let vb: f64 = b.iter().map(|q| (q - mb).powi(2)).sum();
        cov / (va * vb).sqrt()
    };
    let corr = SquareMatrix::from_fn(12, |i, j| pearson(&x[i], &x[j]));
    let c = correlation_rdm(&corr);
    for m in [&e, &c] {
        for i in 0..12 {
            assert_eq!(m.get(i, i), 0.0);
            for j in 0..12 {
                assert_eq!(m.get(i, j), m.get(j, i));
            }
        }
    }
    let direct: f64 = x[2]
        .iter()
        .zip(&x[7])
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        .sqrt();
    assert!((e.get(2, 7) - direct).abs() < 1e-9);
    assert!((c.get(2, 7) - (1.0 - pearson(&x[2], &x[7]))).abs() < 1e-12);
}

#[test]
fn spearman_and_kendall_match_hand_worked_examples() {
    // x = 1..5, y = 5 6 7 8 7: ranks of y = 1 2 3.5 5 3.5.
    let x = [1.0, 2.0, 3.0, 4.0, 5.0];
    let y = [5.0, 6.0, 7.0, 8.0, 7.0];
    // Pairs: 10. Discordant: (4,5) [x up, y 8→7 down]. Tied in y: (3,5). Concordant: 8.
    // τ-a = (8 − 1)/10 = 0.7.
    assert!((kendall_tau_a(&x, &y) - 0.7).abs() < 1e-12);
    // Spearman: Pearson of ranks (1..5) and (1, 2, 3.5, 5, 3.5): cov = 4.5/…; computed by hand:
    // mean 3 for both; Σdxdy = (−2)(−2)+(−1)(−1)+0(0.5)+1(2)+2(0.5) = 8; Σdx² = 10;
    // Σdy² = 4+1+0.25+4+0.25 = 9.5; ρ = 8/√95 = 0.820782…
    assert!((spearman(&x, &y) - 8.0 / 95f64.sqrt()).abs() < 1e-12);
    // Perfect agreement and reversal.
    assert!((kendall_tau_a(&x, &x) - 1.0).abs() < 1e-12);
    let rev: Vec<f64> = x.iter().rev().copied().collect();
    assert!((kendall_tau_a(&x, &rev) + 1.0).abs() < 1e-12);
    assert!((spearman(&x, &rev) + 1.0).abs() < 1e-12);
    assert!((cosine(&[1.0, 0.0], &[1.0, 1.0]) - 0.5f64.sqrt()).abs() < 1e-12);
}

#[test]
fn kendall_tau_a_agrees_with_brute_force_on_tied_data() {
    let mut rng = LabRng::new(11);
    let x: Vec<f64> = (0..300).map(|_| rng.below(7) as f64).collect();
    let y: Vec<f64> = (0..300).map(|_| rng.below(5) as f64).collect();
    // f64::signum(0.0) is 1.0, so compare explicitly: ties must count 0.
    let sign = |d: f64| (d > 0.0) as i64 - (d < 0.0) as i64;
    let mut s = 0i64;
    for i in 0..x.len() {
        for j in i + 1..x.len() {
            s += sign(x[i] - x[j]) * sign(y[i] - y[j]);
        }
    }
    let expected = s as f64 / (300.0 * 299.0 / 2.0);
    assert!((kendall_tau_a(&x, &y) - expected).abs() < 1e-12);
}

#[test]
fn pca_of_points_on_a_line_recovers_the_line() {
    // x_i = t_i · u with |u| = 2: first score = ±2(t_i − mean t), second ≈ 0.
    let t: Vec<f64> = (0..20)
        .map(|i| (i as f64 * 0.37).sin() * 3.0 + i as f64 * 0.1)
        .collect();
    let u = [2.0f64.sqrt(), 0.0, 2.0f64.sqrt()];
    let x: Features = t
        .iter()
        .map(|ti| u.iter().map(|v| ti * v).collect())
        .collect();
    let p = pca_from_gram(&gram(&x), 2);
    let mean = t.iter().sum::<f64>() / t.len() as f64;
    let sign = (p.scores[0][0] / (2.0 * (t[0] - mean))).signum();
    for (i, ti) in t.iter().enumerate() {
        assert!((p.scores[i][0] - sign * 2.0 * (ti - mean)).abs() < 1e-6);
        assert!(p.scores[i][1].abs() < 1e-6);
    }
    assert!((p.explained_variance[0] - 1.0).abs() < 1e-9);
}
