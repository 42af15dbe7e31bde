//! Representational dissimilarity matrices (Kriegeskorte, Mur & Bandettini 2008,
//! "Representational similarity analysis"): for every pair of stimuli, how differently a layer
//! responds. Symmetric with a zero diagonal.

use super::cka::squared_distances;
use super::matrix::SquareMatrix;

/// The dissimilarity measures on offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dissimilarity {
    /// 1 − Pearson correlation between the two response patterns (0..2).
    Correlation,
    /// Euclidean distance between the response patterns.
    Euclidean,
}

impl Dissimilarity {
    pub fn id(self) -> &'static str {
        match self {
            Self::Correlation => "correlation",
            Self::Euclidean => "euclidean",
        }
    }

    pub fn from_id(id: &str) -> Option<Self> {
        match id {
            "correlation" => Some(Self::Correlation),
            "euclidean" => Some(Self::Euclidean),
            _ => None,
        }
    }
}

/// 1 − r from a matrix of Pearson correlations.
pub fn correlation_rdm(correlation: &SquareMatrix) -> SquareMatrix {
    SquareMatrix::from_fn(correlation.n, |i, j| {
        if i == j {
            0.0
        } else {
            // Average the two triangles so rounding never breaks symmetry.
            1.0 - 0.5 * (correlation.get(i, j) + correlation.get(j, i))
        }
    })
}

/// Euclidean distances from a Gram matrix.
pub fn euclidean_rdm(gram: &SquareMatrix) -> SquareMatrix {
    let d2 = squared_distances(gram);
    SquareMatrix::from_fn(gram.n, |i, j| (0.5 * (d2.get(i, j) + d2.get(j, i))).sqrt())
}

/// The RDM of one measure, from a layer's captured Gram and correlation matrices.
pub fn rdm(kind: Dissimilarity, gram: &SquareMatrix, correlation: &SquareMatrix) -> SquareMatrix {
    match kind {
        Dissimilarity::Correlation => correlation_rdm(correlation),
        Dissimilarity::Euclidean => euclidean_rdm(gram),
    }
}
