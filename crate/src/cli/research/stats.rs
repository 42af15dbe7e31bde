//! The seed's own question (Q2), as a test: does a rule's linear CKA with backprop differ from
//! backprop's CKA with itself across seeds (the noise floor)? The statistic is
//! `d = mean CKA(rule seed i, bp seed j) − mean CKA(bp seed i, bp seed j≠i)`; a bootstrap that
//! resamples the seeds of each rule and the probe images gives its 95% interval and a two-sided
//! p-value (how often the resampled d falls on the other side of 0).

use serde::{Deserialize, Serialize};

use crate::analysis::SquareMatrix;
use crate::analysis::cka::linear_cka;
use crate::rng::LabRng;

/// One rule's test on one layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FloorTest {
    pub layer: String,
    pub rule: String,
    /// Mean linear CKA between this rule's models and backprop's, over every seed pair.
    pub cka_with_bp: f64,
    /// Mean linear CKA between backprop's models of different seeds.
    pub bp_seed_to_seed: f64,
    /// `cka_with_bp − bp_seed_to_seed`.
    pub difference: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub p_value: f64,
    pub resamples: usize,
}

fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// `gram` restricted to the images `idx` (repeats allowed), for a resampled CKA.
fn resampled(gram: &SquareMatrix, idx: &[usize]) -> SquareMatrix {
    SquareMatrix::from_fn(idx.len(), |i, j| gram.get(idx[i], idx[j]))
}

/// The statistic on given grams: `rule` and `bp` hold one Gram matrix per seed; `bp_seeds`
/// names which seed each `bp` entry is, so pairs of one seed with itself are left out.
fn statistic(
    rule: &[&SquareMatrix],
    bp: &[&SquareMatrix],
    bp_seeds: &[usize],
) -> Option<(f64, f64)> {
    let mut with_bp = Vec::new();
    for r in rule {
        for b in bp {
            with_bp.push(linear_cka(r, b));
        }
    }
    let mut floor = Vec::new();
    for i in 0..bp.len() {
        for j in i + 1..bp.len() {
            if bp_seeds[i] != bp_seeds[j] {
                floor.push(linear_cka(bp[i], bp[j]));
            }
        }
    }
    Some((mean(&with_bp)?, mean(&floor)?))
}

/// The test for every rule of `rules` (one Gram matrix per seed, same probe images) against
/// `bp` (one per seed, at least two seeds), with `resamples` bootstrap draws from `seed`.
/// None when backprop has fewer than two seeds (there is no floor to compare with).
pub fn floor_tests(
    layer: &str,
    rules: &[(String, Vec<&SquareMatrix>)],
    bp: &[&SquareMatrix],
    resamples: usize,
    seed: u64,
) -> Option<Vec<FloorTest>> {
    if bp.len() < 2 || resamples == 0 {
        return None;
    }
    let n = bp[0].n;
    let all_bp: Vec<usize> = (0..bp.len()).collect();
    let mut out = Vec::new();
    for (rule, grams) in rules {
        if grams.is_empty() {
            continue;
        }
        let (with_bp, floor) = statistic(grams, bp, &all_bp)?;
        let observed = with_bp - floor;
        let mut rng = LabRng::derive(seed, &format!("cka floor test {layer} {rule}"));
        let mut draws = Vec::with_capacity(resamples);
        // A draw that picks one backprop seed only has no floor: it is drawn again (within a
        // bound, for two seeds, where half the draws are such).
        for _ in 0..20 * resamples {
            if draws.len() == resamples {
                break;
            }
            let idx: Vec<usize> = (0..n).map(|_| rng.below(n)).collect();
            let rule_pick: Vec<usize> = (0..grams.len()).map(|_| rng.below(grams.len())).collect();
            let bp_pick: Vec<usize> = (0..bp.len()).map(|_| rng.below(bp.len())).collect();
            let rule_grams: Vec<SquareMatrix> = rule_pick
                .iter()
                .map(|&s| resampled(grams[s], &idx))
                .collect();
            let bp_grams: Vec<SquareMatrix> =
                bp_pick.iter().map(|&s| resampled(bp[s], &idx)).collect();
            let r: Vec<&SquareMatrix> = rule_grams.iter().collect();
            let b: Vec<&SquareMatrix> = bp_grams.iter().collect();
            if let Some((w, f)) = statistic(&r, &b, &bp_pick) {
                draws.push(w - f);
            }
        }
        if draws.is_empty() {
            continue;
        }
        draws.sort_by(f64::total_cmp);
        let quantile =
            |q: f64| draws[((q * (draws.len() - 1) as f64).round() as usize).min(draws.len() - 1)];
        let below = draws.iter().filter(|&&d| d <= 0.0).count();
        let above = draws.iter().filter(|&&d| d >= 0.0).count();
        let tail = below.min(above) as f64;
        let p_value = (2.0 * (tail + 1.0) / (draws.len() as f64 + 1.0)).min(1.0);
        out.push(FloorTest {
            layer: layer.to_string(),
            rule: rule.clone(),
            cka_with_bp: with_bp,
            bp_seed_to_seed: floor,
            difference: observed,
            ci_low: quantile(0.025),
            ci_high: quantile(0.975),
            p_value,
            resamples: draws.len(),
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Gram matrix of `n` images with one feature each: x_i = f(i).
    fn gram(n: usize, f: impl Fn(usize) -> f64) -> SquareMatrix {
        SquareMatrix::from_fn(n, |i, j| f(i) * f(j))
    }

    #[test]
    fn a_rule_far_from_backprop_differs_and_backprop_itself_does_not() {
        let n = 40;
        let bp: Vec<SquareMatrix> = (0..3)
            .map(|s| gram(n, |i| (i as f64) + 0.01 * s as f64 * ((i * 7) % 5) as f64))
            .collect();
        let far: Vec<SquareMatrix> = (0..3)
            .map(|s| gram(n, |i| ((i * 13 + s) % 7) as f64))
            .collect();
        let bp_refs: Vec<&SquareMatrix> = bp.iter().collect();
        let tests = floor_tests(
            "fc1",
            &[
                ("far".into(), far.iter().collect()),
                ("bp".into(), bp.iter().collect()),
            ],
            &bp_refs,
            200,
            1,
        )
        .unwrap();
        let far = &tests[0];
        assert!(far.difference < -0.3, "{far:?}");
        assert!(far.p_value < 0.05, "{far:?}");
        assert!(far.ci_high < 0.0);
        let same = &tests[1];
        // Backprop against itself: the seed pairs include each seed with itself, so its CKA
        // is at least the floor, and the difference is small.
        assert!(same.difference >= 0.0 && same.difference < 0.01, "{same:?}");
        // Deterministic for a seed.
        let again = floor_tests(
            "fc1",
            &[("far".into(), bp.iter().collect())],
            &bp_refs,
            50,
            1,
        )
        .unwrap();
        let again2 = floor_tests(
            "fc1",
            &[("far".into(), bp.iter().collect())],
            &bp_refs,
            50,
            1,
        )
        .unwrap();
        assert_eq!(again, again2);
        assert!(floor_tests("fc1", &[], &bp_refs[..1], 10, 1).is_none());
    }
}
