//! Distances and centroid scans in the model's scaled space: pure math on `f64` slices,
//! shared by the model format (which stores centroids), the trainer and the scorer, so none
//! of them has to reach into another for it.

/// Squared Euclidean distance.
#[inline]
pub fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Centroids stored row-major for fast scans.
#[derive(Clone, Debug, PartialEq)]
pub struct Centroids {
    data: Vec<f64>,
    dim: usize,
}

impl Centroids {
    /// Builds from rows; every row must have the same, non-zero length.
    pub fn from_rows(rows: &[Vec<f64>]) -> Option<Centroids> {
        let dim = rows.first()?.len();
        if dim == 0 || rows.iter().any(|r| r.len() != dim) {
            return None;
        }
        Some(Centroids {
            data: rows.concat(),
            dim,
        })
    }

    /// Number of centroids.
    pub fn k(&self) -> usize {
        self.data.len() / self.dim
    }

    /// Dimension of the scaled space.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Centroid `j`.
    pub fn row(&self, j: usize) -> &[f64] {
        &self.data[j * self.dim..(j + 1) * self.dim]
    }

    /// Index of the nearest centroid (lowest index on ties, as linfa) and the squared
    /// distance to it. `x` must have length [`Centroids::dim`].
    pub fn nearest(&self, x: &[f64]) -> (usize, f64) {
        debug_assert_eq!(x.len(), self.dim);
        let mut best = (0, f64::INFINITY);
        for (j, c) in self.data.chunks_exact(self.dim).enumerate() {
            let d = sq_dist(x, c);
            if d < best.1 {
                best = (j, d);
            }
        }
        best
    }

    /// Euclidean distances from `x` to every centroid.
    pub fn distances(&self, x: &[f64]) -> Vec<f64> {
        self.data
            .chunks_exact(self.dim)
            .map(|c| sq_dist(x, c).sqrt())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_prefers_lowest_index_on_ties() {
        let c = Centroids::from_rows(&[vec![1.0, 0.0], vec![-1.0, 0.0]]).unwrap();
        assert_eq!(c.nearest(&[0.0, 5.0]).0, 0);
        assert_eq!(c.nearest(&[-0.5, 0.0]), (1, 0.25));
        assert_eq!(c.distances(&[0.0, 0.0]), vec![1.0, 1.0]);
    }

    #[test]
    fn ragged_rows_are_rejected() {
        assert!(Centroids::from_rows(&[vec![1.0], vec![1.0, 2.0]]).is_none());
        assert!(Centroids::from_rows(&[]).is_none());
    }
}
