//! The representation metrics' defining properties, checked against values computed
//! independently here (feature-space formulas, brute force, hand-worked examples).

use microlearning::analysis::SquareMatrix;
use microlearning::analysis::cka::{debiased_cka, linear_cka, rbf_cka};
use microlearning::analysis::pca::pca_from_gram;
use microlearning::analysis::rdm::{correlation_rdm, euclidean_rdm};
use microlearning::analysis::rsa::{cosine, kendall_tau_a, ranks, spearman};
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

/// Kendall's τ-a by counting every pair, O(n²): Σ sign(xᵢ − xⱼ)·sign(yᵢ − yⱼ) / (n(n−1)/2), with
/// the sign from IEEE `<` and `>`, so −0.0 and +0.0 tie (and count 0) as they should.
fn brute_force_tau_a(x: &[f64], y: &[f64]) -> f64 {
    // f64::signum(0.0) is 1.0, so compare explicitly: ties must count 0.
    let sign = |a: f64, b: f64| (a > b) as i64 - (a < b) as i64;
    let n = x.len();
    let mut s = 0i64;
    for i in 0..n {
        for j in i + 1..n {
            s += sign(x[i], x[j]) * sign(y[i], y[j]);
        }
    }
    s as f64 / (n * (n - 1) / 2) as f64
}

/// The same values with every −0.0 replaced by +0.0.
fn positive_zeros(v: &[f64]) -> Vec<f64> {
    v.iter().map(|&a| if a == 0.0 { 0.0 } else { a }).collect()
}

fn count_zeros(v: &[f64]) -> (usize, usize) {
    let negative = v
        .iter()
        .filter(|a| **a == 0.0 && a.is_sign_negative())
        .count();
    let positive = v
        .iter()
        .filter(|a| **a == 0.0 && a.is_sign_positive())
        .count();
    (negative, positive)
}

/// A 64-bit linear congruential generator (Knuth's MMIX constants), independent of the lab's
/// RNG: uniform in [0, 1) from the top 53 bits.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Rounded to one decimal, as an RDM printed with one digit would be: values in (−0.05, 0)
/// round to −0.0.
fn one_decimal(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[test]
fn kendall_tau_a_agrees_with_brute_force_on_tied_data() {
    let mut rng = LabRng::new(11);
    let x: Vec<f64> = (0..300).map(|_| rng.below(7) as f64).collect();
    let y: Vec<f64> = (0..300).map(|_| rng.below(5) as f64).collect();
    let expected = brute_force_tau_a(&x, &y);
    assert!((kendall_tau_a(&x, &y) - expected).abs() < 1e-12);
}

#[test]
fn kendall_tau_a_agrees_with_brute_force_with_signed_zeros() {
    // n = 200 correlated values in [−1, 1) rounded to one decimal: many ties, and zeros of both
    // signs in x and in y.
    let mut lcg = Lcg(22);
    let n = 200;
    let mut x = Vec::with_capacity(n);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let a = 2.0 * lcg.next() - 1.0;
        let b = 2.0 * lcg.next() - 1.0;
        x.push(one_decimal(0.4 * a));
        y.push(one_decimal(0.2 * a + 0.3 * b));
    }
    // Make sure exact −0.0 and +0.0 are there, whatever the rounding produced.
    for (i, z) in [(3, -0.0), (50, 0.0), (97, -0.0), (150, 0.0), (199, -0.0)] {
        x[i] = z;
        y[(i * 7 + 1) % n] = -z;
    }
    for v in [&x, &y] {
        let (negative, positive) = count_zeros(v);
        assert!(
            negative >= 3 && positive >= 3,
            "zeros: {negative} −0.0, {positive} +0.0"
        );
    }
    let expected = brute_force_tau_a(&x, &y);
    let got = kendall_tau_a(&x, &y);
    assert!(
        (got - expected).abs() < 1e-12,
        "kendall_tau_a {got} vs brute force {expected}"
    );
    // The sign of a zero must not matter at all.
    let same = kendall_tau_a(&positive_zeros(&x), &positive_zeros(&y));
    assert_eq!(
        got.to_bits(),
        same.to_bits(),
        "{got} vs {same} with +0.0 only"
    );
}

#[test]
fn kendall_tau_a_counts_signed_zero_ties_in_x_in_y_and_in_both() {
    let distinct = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    // Tied in x only: the −0.0/+0.0 pairs are ties, counted as neither concordant nor discordant.
    let x = [0.0, -0.0, 1.0, -0.0, 2.0, 0.0];
    // By hand: pairs (i<j) among the four zeros tie (6 of 15); x=1 (i=2) and x=2 (i=4):
    // sign(x)·sign(y) over the other 9 pairs:
    // (0,2)+ (0,4)+ (1,2)+ (1,4)+ (2,3)− (2,4)+ (2,5)− (3,4)+ (4,5)− → 6 − 3 = 3; τ-a = 3/15.
    assert!((kendall_tau_a(&x, &distinct) - 0.2).abs() < 1e-12);
    // Tied in y only: the same by symmetry.
    assert!((kendall_tau_a(&distinct, &x) - 0.2).abs() < 1e-12);
    // Tied in both, where the sort by (x, y) under total_cmp would separate the tied-in-both
    // pairs (−0, 1) and (+0, 1) by (−0, 2).
    let cases: [(&[f64], &[f64]); 4] = [
        (&x, &distinct),
        (&distinct, &x),
        (&[-0.0, -0.0, 0.0, 0.0], &[1.0, 2.0, 1.0, 2.0]),
        (
            &[-0.0, 0.0, 0.0, 1.0, -0.0, 1.0, -1.0, 0.0],
            &[0.0, -0.0, 1.0, -0.0, 0.0, 1.0, -0.0, -1.0],
        ),
    ];
    // (−0, 1), (−0, 2), (+0, 1), (+0, 2): every x is zero, so every pair is tied in x (two of
    // them in y as well) and τ-a = 0.
    assert_eq!(kendall_tau_a(cases[2].0, cases[2].1), 0.0);
    // The same without signed zeros: ties in x and in y together outnumber the pairs, which the
    // count must survive (it once subtracted below 0 in u64 and panicked in debug builds).
    assert_eq!(kendall_tau_a(&[1.0; 4], &[1.0, 2.0, 1.0, 2.0]), 0.0);
    for (x, y) in cases {
        let expected = brute_force_tau_a(x, y);
        let got = kendall_tau_a(x, y);
        assert!(
            (got - expected).abs() < 1e-12,
            "{x:?} {y:?}: {got} vs {expected}"
        );
    }
    // Many small random cases drawn from {−1, −0, +0, 1}: ties in x, in y and in both.
    let mut lcg = Lcg(7);
    let pick = |u: f64| [-1.0, -0.0, 0.0, 1.0][(u * 4.0) as usize];
    for n in 2..40 {
        for _ in 0..20 {
            let x: Vec<f64> = (0..n).map(|_| pick(lcg.next())).collect();
            let y: Vec<f64> = (0..n).map(|_| pick(lcg.next())).collect();
            let expected = brute_force_tau_a(&x, &y);
            let got = kendall_tau_a(&x, &y);
            assert!(
                (got - expected).abs() < 1e-12,
                "{x:?} {y:?}: {got} vs {expected}"
            );
        }
    }
}

#[test]
fn ranks_and_spearman_ignore_the_sign_of_zero() {
    // −0.0 and +0.0 are one value: the three zeros share rank (1 + 2 + 3)/3 = 2.
    assert_eq!(ranks(&[0.0, -0.0, 1.0, -0.0]), vec![2.0, 2.0, 4.0, 2.0]);
    assert_eq!(ranks(&[-0.0, 0.0, -1.0]), vec![2.5, 2.5, 1.0]);
    let mut lcg = Lcg(5);
    let n = 200;
    let x: Vec<f64> = (0..n)
        .map(|i| {
            if i % 9 == 0 {
                -0.0
            } else {
                one_decimal(0.3 * (2.0 * lcg.next() - 1.0))
            }
        })
        .collect();
    let y: Vec<f64> = (0..n)
        .map(|i| {
            if i % 11 == 0 {
                -0.0
            } else {
                one_decimal(0.3 * (2.0 * lcg.next() - 1.0))
            }
        })
        .collect();
    for v in [&x, &y] {
        let (negative, positive) = count_zeros(v);
        assert!(
            negative > 0 && positive > 0,
            "zeros: {negative} −0.0, {positive} +0.0"
        );
    }
    let (px, py) = (positive_zeros(&x), positive_zeros(&y));
    assert_eq!(ranks(&x), ranks(&px));
    assert_eq!(ranks(&y), ranks(&py));
    assert_eq!(spearman(&x, &y).to_bits(), spearman(&px, &py).to_bits());
}

#[test]
fn rank_statistics_and_distances_propagate_nan() {
    // The documented behaviour: any NaN (of either sign) in the input makes the result NaN, and
    // every rank NaN.
    for nan in [f64::NAN, -f64::NAN] {
        let x = [1.0, nan, 0.0, -0.0, 2.0];
        let y = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert!(ranks(&x).iter().all(|r| r.is_nan()), "{:?}", ranks(&x));
        assert!(spearman(&x, &y).is_nan());
        assert!(spearman(&y, &x).is_nan());
        assert!(kendall_tau_a(&x, &y).is_nan());
        assert!(kendall_tau_a(&y, &x).is_nan());
        assert!(kendall_tau_a(&[nan, nan], &[nan, nan]).is_nan());
        // A Gram matrix with a NaN gives NaN distances and NaN RBF CKA, never a distance of 0.
        let x = random_features(6, 3, 9);
        let mut g = gram(&x);
        g.data[2 * 6 + 2] = nan;
        let e = euclidean_rdm(&g);
        assert!(
            e.get(2, 4).is_nan() && e.get(4, 2).is_nan(),
            "{}",
            e.get(2, 4)
        );
        assert!(e.get(0, 1).is_finite());
        assert!(rbf_cka(&g, &gram(&x), 0.5).is_nan());
        assert!(linear_cka(&g, &gram(&x)).is_nan());
        let p = pca_from_gram(&g, 2);
        assert!(p.explained_variance.iter().all(|v| v.is_nan()));
        assert!(p.scores.iter().flatten().all(|v| v.is_nan()));
    }
    // NaN-free inputs are untouched by the check.
    assert!((kendall_tau_a(&[1.0, 2.0], &[2.0, 1.0]) + 1.0).abs() < 1e-12);
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
