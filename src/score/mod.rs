//! Assigning customers to segments: the nearest centroid in the model's scaled space, with
//! the distance to every centroid. This is the kernel both the trainer (for
//! `assignments.csv`) and the scorer use; it is tested against linfa's own `predict`.
//!
//! [`request`] turns one JSON customer (feature values or raw transactions) into raw values
//! exactly as the trainer computes them; [`batch`] does the same for files.

pub mod batch;
pub mod request;

/// What an API date must look like, for error messages.
pub const ISO_DATE_EXPECTED: &str =
    "expected an ISO 8601 date, YYYY-MM-DD (e.g. 2011-10-12), or an RFC 3339 date-time such as 2011-10-12T08:26:00Z";

use serde::Serialize;

use crate::features::lifecycle::{RfmScores, Stage};
use crate::features::{FeatureError, FeatureWarning, RawValue};
use crate::model::Model;

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

/// One customer's assignment.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scored {
    /// Position of the nearest segment in the model (`segments[index]`, `centroids[index]`);
    /// its id is `segments[index].id`.
    pub index: usize,
    /// Euclidean distance to it (scaled space).
    pub distance: f64,
    /// Distances to every segment, in the model's segment order (ascending id).
    pub distances: Vec<f64>,
    /// Distance to the runner-up minus distance to the nearest (0 with one segment).
    pub margin: f64,
    /// What was noteworthy while encoding.
    pub warnings: Vec<FeatureWarning>,
    /// RFM quintile scores, when the model has them and R, F and M were given (not imputed).
    pub rfm: Option<RfmScores>,
    /// Lifecycle stage, when the model has it and recency, frequency and tenure were given.
    pub lifecycle: Option<Stage>,
}

impl Model {
    /// Scores one customer given raw values in feature order. The caller has checked
    /// `raw.len()` against the model's features; types are checked here.
    pub fn score(&self, raw: &[RawValue], scratch: &mut Vec<f64>) -> Result<Scored, FeatureError> {
        let spec = &self.file.features;
        if raw.len() != spec.features.len() {
            return Err(FeatureError::WrongType {
                feature: "*".into(),
                reason: format!(
                    "expected {} feature values, got {}",
                    spec.features.len(),
                    raw.len()
                ),
            });
        }
        scratch.clear();
        scratch.resize(spec.n_columns(), 0.0);
        let mut warnings = Vec::new();
        spec.encode_row(raw, scratch, &mut warnings)?;
        let distances = self.centroids.distances(scratch);
        let (index, _) = self.centroids.nearest(scratch);
        let distance = distances[index];
        let runner_up = distances
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != index)
            .map(|(_, d)| *d)
            .fold(f64::INFINITY, f64::min);
        let margin = if runner_up.is_finite() {
            runner_up - distance
        } else {
            0.0
        };
        if let Some(p99) = self.file.segments[index].distance_p99 {
            if distance > p99 {
                warnings.push(FeatureWarning::FarFromCentroid {
                    segment: self.file.segments[index].name.clone(),
                });
            }
        }
        let (rfm, lifecycle) = self.lifecycle_of(raw);
        Ok(Scored {
            index,
            distance,
            distances,
            margin,
            warnings,
            rfm,
            lifecycle,
        })
    }

    /// RFM scores and lifecycle stage from raw values in feature order.
    pub fn lifecycle_of(&self, raw: &[RawValue]) -> (Option<RfmScores>, Option<Stage>) {
        let (Some(vm), Some(at)) = (&self.file.lifecycle, self.lifecycle_at) else {
            return (None, None);
        };
        vm.classify(at.map(|i| match raw.get(i) {
            Some(RawValue::Num(v)) if v.is_finite() => Some(*v),
            Some(RawValue::Text(s)) => crate::data::parse_number(s).filter(|v| v.is_finite()),
            _ => None,
        }))
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
