//! Comparing two RDMs on their upper triangles (Kriegeskorte et al. 2008; Nili et al. 2014,
//! "A toolbox for representational similarity analysis", which recommends rank correlations:
//! Spearman ρ, and Kendall τ-a when models predict ties).

/// Average ranks (1-based), ties sharing the mean of their positions.
pub fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut out = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
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

/// Pearson correlation; NaN when either side is constant.
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

/// Spearman's ρ: Pearson correlation of the average ranks.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&ranks(x), &ranks(y))
}

/// Cosine similarity of the two vectors (not centred).
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

/// Merge sort by `key`, counting the inversions (pairs out of order).
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
        if key(&right[j]) < key(&left[i]) {
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

/// Number of pairs tied in a sorted sequence of keys.
fn tied_pairs(sorted: impl Iterator<Item = f64>) -> u64 {
    let mut total = 0u64;
    let mut run = 0u64;
    let mut last = None;
    for v in sorted {
        if Some(v) == last {
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
pub fn kendall_tau_a(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    if n < 2 {
        return f64::NAN;
    }
    let mut pairs: Vec<(f64, f64)> = x.iter().copied().zip(y.iter().copied()).collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let ties_x = tied_pairs(pairs.iter().map(|p| p.0));
    // Pairs tied in both: runs of equal (x, y).
    let mut ties_xy = 0u64;
    let mut run = 0u64;
    for w in pairs.windows(2) {
        if w[0] == w[1] {
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
    let untied = total - ties_x - ties_y + ties_xy;
    let discordant = swaps;
    let concordant = untied - discordant;
    (concordant as f64 - discordant as f64) / total as f64
}
