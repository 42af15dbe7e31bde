//! A dense square matrix of `f64`, row-major: all the analysis needs.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SquareMatrix {
    pub n: usize,
    /// Row-major, `n * n` values.
    pub data: Vec<f64>,
}

impl SquareMatrix {
    pub fn zeros(n: usize) -> Self {
        Self {
            n,
            data: vec![0.0; n * n],
        }
    }

    /// From row-major values; `None` if their count is not a square.
    pub fn from_vec(data: Vec<f64>) -> Option<Self> {
        let n = (data.len() as f64).sqrt().round() as usize;
        (n * n == data.len()).then_some(Self { n, data })
    }

    /// `f(i, j)` for every entry.
    pub fn from_fn(n: usize, f: impl Fn(usize, usize) -> f64) -> Self {
        let mut data = Vec::with_capacity(n * n);
        for i in 0..n {
            for j in 0..n {
                data.push(f(i, j));
            }
        }
        Self { n, data }
    }

    #[inline]
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.n + j]
    }

    pub fn rows(&self) -> impl Iterator<Item = &[f64]> {
        self.data.chunks_exact(self.n.max(1))
    }

    /// The strict upper triangle, row by row (the n(n−1)/2 distinct pairs of an RDM).
    pub fn upper_triangle(&self) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.n * self.n.saturating_sub(1) / 2);
        for i in 0..self.n {
            for j in i + 1..self.n {
                out.push(self.get(i, j));
            }
        }
        out
    }

    /// H·K·H with H = I − 11ᵀ/n: removes row and column means (double centring).
    pub fn centered(&self) -> Self {
        let n = self.n;
        let nf = n as f64;
        let row_means: Vec<f64> = self.rows().map(|r| r.iter().sum::<f64>() / nf).collect();
        let mut col_means = vec![0.0; n];
        for row in self.rows() {
            for (c, v) in col_means.iter_mut().zip(row) {
                *c += v / nf;
            }
        }
        let grand = row_means.iter().sum::<f64>() / nf;
        Self::from_fn(n, |i, j| {
            self.get(i, j) - row_means[i] - col_means[j] + grand
        })
    }

    /// Σᵢⱼ Aᵢⱼ Bᵢⱼ = tr(A Bᵀ).
    pub fn frobenius_dot(&self, other: &Self) -> f64 {
        self.data.iter().zip(&other.data).map(|(a, b)| a * b).sum()
    }

    /// To CSV text, one row per line.
    pub fn to_csv(&self, labels: Option<&[String]>) -> String {
        let mut out = String::new();
        if let Some(labels) = labels {
            out.push(',');
            out.push_str(&labels.join(","));
            out.push('\n');
        }
        for (i, row) in self.rows().enumerate() {
            if let Some(labels) = labels {
                out.push_str(&labels[i]);
                out.push(',');
            }
            let cells: Vec<String> = row.iter().map(|v| format!("{v}")).collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }
}
