//! Comparing two RDMs on their upper triangles (Kriegeskorte et al. 2008; Nili et al. 2014,
//! "A toolbox for representational similarity analysis", which recommends rank correlations:
//! Spearman ρ, and Kendall τ-a when models predict ties).
//!
//! **Ties and NaN, for all of `analysis/`.** Every sort and every tie test (here, and the median
//! in `cka`) goes through one relation, [`cmp_f64`]: the numeric order, in which −0.0 and +0.0
//! are the same value (as IEEE `==` says) and so tie. Sorting with `total_cmp` alone would put
//! −0.0 before +0.0 while `==` calls them equal, and an algorithm that sorts by one and counts
//! ties by the other miscounts (Kendall τ-a once counted pairs tied at ±0 in x as discordant).
//! NaN propagates: if any input is NaN (of either sign), [`ranks`] returns every rank NaN and
//! [`spearman`], [`kendall_tau_a`], [`pearson`] and [`cosine`] return NaN, as scipy's
//! `nan_policy="propagate"` does; a NaN is never ranked, sorted to one end or counted as a tie.
//! The clamps elsewhere follow the same rule: a NaN in a Gram matrix gives NaN distances (`cka`,
//! `rdm`), a NaN RBF bandwidth and kernel, and NaN PCA scores and explained variance, never 0.

use std::cmp::Ordering;

/// The value as the comparisons see it: −0.0 becomes +0.0 and every NaN the one quiet NaN.
fn key(v: f64) -> f64 {
    if v == 0.0 {
        0.0
    } else if v.is_nan() {
        f64::NAN
    } else {
        v
    }
}

/// The one order of this module: numeric, with −0.0 = +0.0. It is total, so a sort never
/// misbehaves: NaNs (which the public functions reject before sorting) equal each other and
/// come after +∞.
pub(crate) fn cmp_f64(a: f64, b: f64) -> Ordering {
    key(a).total_cmp(&key(b))
}

/// Tied under [`cmp_f64`].
fn tie(a: f64, b: f64) -> bool {
    cmp_f64(a, b) == Ordering::Equal
}

/// Average ranks (1-based), ties (±0 included) sharing the mean of their positions; every rank
/// NaN if any value is NaN.
pub fn ranks(values: &[f64]) -> Vec<f64> {
    if values.iter().any(|v| v.is_nan()) {
        return vec![f64::NAN; values.len()];
    }
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| cmp_f64(values[a], values[b]));
    let mut out = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && tie(values[order[j + 1]], values[order[i]]) {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            out[k] = rank;
        }
        i = j + 1;
    }
    out
}

/// Pearson correlation; NaN when either side is constant or holds a NaN.
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len()) as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx).powi(2);
        syy += (b - my).powi(2);
    }
    let d = (sxx * syy).sqrt();
    if d > 0.0 { sxy / d } else { f64::NAN }
}

/// Spearman's ρ: Pearson correlation of the average ranks; NaN if either side holds a NaN.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&ranks(x), &ranks(y))
}

/// Cosine similarity of the two vectors (not centred); NaN for a zero vector or a NaN.
pub fn cosine(x: &[f64], y: &[f64]) -> f64 {
    let dot: f64 = x.iter().zip(y).map(|(a, b)| a * b).sum();
    let nx: f64 = x.iter().map(|a| a * a).sum::<f64>().sqrt();
    let ny: f64 = y.iter().map(|b| b * b).sum::<f64>().sqrt();
    if nx > 0.0 && ny > 0.0 {
        dot / (nx * ny)
    } else {
        f64::NAN
    }
}

/// Stable merge sort by `key` under [`cmp_f64`], counting the inversions (pairs whose keys are
/// strictly out of order; tied keys are never an inversion).
fn sort_counting_swaps(items: &mut Vec<(f64, f64)>, key: fn(&(f64, f64)) -> f64) -> u64 {
    let n = items.len();
    if n < 2 {
        return 0;
    }
    let mut right = items.split_off(n / 2);
    let mut swaps = sort_counting_swaps(items, key) + sort_counting_swaps(&mut right, key);
    let left = std::mem::take(items);
    let (mut i, mut j) = (0, 0);
    items.reserve(n);
    while i < left.len() && j < right.len() {
        if cmp_f64(key(&right[j]), key(&left[i])) == Ordering::Less {
            swaps += (left.len() - i) as u64;
            items.push(right[j]);
            j += 1;
        } else {
            items.push(left[i]);
            i += 1;
        }
    }
    items.extend_from_slice(&left[i..]);
    items.extend_from_slice(&right[j..]);
    swaps
}

/// Number of pairs tied (under [`cmp_f64`]) in a sequence of keys sorted by [`cmp_f64`].
fn tied_pairs(sorted: impl Iterator<Item = f64>) -> u64 {
    let mut total = 0u64;
    let mut run = 0u64;
    let mut last = None;
    for v in sorted {
        if last.is_some_and(|l| tie(l, v)) {
            run += 1;
        } else {
            total += run * (run + 1) / 2;
            run = 0;
        }
        last = Some(v);
    }
    total + run * (run + 1) / 2
}

/// Kendall's τ-a = (concordant − discordant) / (n(n−1)/2): tied pairs count as neither, and the
/// denominator counts every pair (Nili et al. 2014). O(n log n) by Knight's (1966) algorithm.
/// Over the first min(len) elements of each; NaN if fewer than 2 or if any of them is NaN.
pub fn kendall_tau_a(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    let pairs = x.iter().copied().zip(y.iter().copied());
    if n < 2 || pairs.clone().any(|(a, b)| a.is_nan() || b.is_nan()) {
        return f64::NAN;
    }
    let mut pairs: Vec<(f64, f64)> = pairs.collect();
    pairs.sort_by(|a, b| cmp_f64(a.0, b.0).then(cmp_f64(a.1, b.1)));
    let ties_x = tied_pairs(pairs.iter().map(|p| p.0));
    // Pairs tied in both: runs of equal (x, y), adjacent because the sort and `tie` agree.
    let mut ties_xy = 0u64;
    let mut run = 0u64;
    for w in pairs.windows(2) {
        if tie(w[0].0, w[1].0) && tie(w[0].1, w[1].1) {
            run += 1;
        } else {
            ties_xy += run * (run + 1) / 2;
            run = 0;
        }
    }
    ties_xy += run * (run + 1) / 2;
    let swaps = sort_counting_swaps(&mut pairs, |p| p.1);
    let ties_y = tied_pairs(pairs.iter().map(|p| p.1));
    let total = (n as u64) * (n as u64 - 1) / 2;
    // Among pairs untied in x (sorted by x, then y), the inversions by y are the discordant ones.
    // Pairs untied in both, by inclusion-exclusion; add before subtracting, since ties_x + ties_y
    // can exceed the total (every x equal and some y tied) and u64 must not go below 0.
    let untied = total + ties_xy - ties_x - ties_y;
    let discordant = swaps;
    let concordant = untied - discordant;
    (concordant as f64 - discordant as f64) / total as f64
}
