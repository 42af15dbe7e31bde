//! Error consistency (Geirhos, Meding & Wichmann 2020): do two observers err on the *same*
//! trials, beyond what their accuracies alone predict? Cohen's κ on trial-by-trial correctness:
//!
//! ```text
//! c_obs = fraction of trials where both are right or both are wrong
//! c_exp = p1·p2 + (1 − p1)(1 − p2)      (p1, p2: the two accuracies; independent observers)
//! κ     = (c_obs − c_exp) / (1 − c_exp)
//! ```
//!
//! κ = 1: identical errors; 0: errors as unrelated as independent observers' with those
//! accuracies; < 0: they err on different trials. When c_exp = 1 (both observers always right,
//! or both always wrong) κ is undefined, and this returns `None` rather than a number.

use serde::Serialize;

/// κ and the two agreement rates it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ErrorConsistency {
    pub trials: usize,
    pub observed: f64,
    pub expected: f64,
    pub kappa: f64,
}

/// Error consistency of two correctness vectors over the same trials, in the same order.
/// `None` when the vectors are empty, of different lengths, or κ is undefined (c_exp = 1).
pub fn error_consistency(a: &[bool], b: &[bool]) -> Option<ErrorConsistency> {
    if a.is_empty() || a.len() != b.len() {
        return None;
    }
    let n = a.len() as f64;
    let p1 = a.iter().filter(|&&c| c).count() as f64 / n;
    let p2 = b.iter().filter(|&&c| c).count() as f64 / n;
    let observed = a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / n;
    let expected = p1 * p2 + (1.0 - p1) * (1.0 - p2);
    if (1.0 - expected).abs() < 1e-12 {
        return None;
    }
    Some(ErrorConsistency {
        trials: a.len(),
        observed,
        expected,
        kappa: (observed - expected) / (1.0 - expected),
    })
}
