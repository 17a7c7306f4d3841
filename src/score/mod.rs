//! Assigning customers to segments: the nearest centroid in the model's scaled space, with
//! the distance to every centroid. The scan itself is [`crate::geometry::Centroids`], the
//! kernel both the trainer (for `assignments.csv`) and the scorer use; it is tested against
//! linfa's own `predict`.
//!
//! [`request`] turns one JSON customer (feature values or raw transactions) into raw values
//! exactly as the trainer computes them; [`batch`] does the same for files.

pub mod batch;
pub mod request;
pub mod request_events;

/// What an API date must look like, for error messages.
pub const ISO_DATE_EXPECTED: &str =
    "expected an ISO 8601 date, YYYY-MM-DD (e.g. 2011-10-12), or an RFC 3339 date-time such as 2011-10-12T08:26:00Z";

use serde::Serialize;

use crate::features::lifecycle::{RfmScores, Stage};
use crate::features::{FeatureError, FeatureWarning, RawValue};
use crate::model::Model;

pub use crate::geometry::{sq_dist, Centroids};

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
    /// Predicted value, when the model has a value model (see [`Model::value_of`]).
    pub value: Option<crate::value::CustomerValue>,
}

/// What scoring one customer after another reuses: the buffer of the encoded row and the
/// value predictions of the purchase histories already seen ([`crate::value::PredictMemo`]).
/// Any `Scratch` serves any model; one per thread.
#[derive(Debug, Default)]
pub struct Scratch {
    row: Vec<f64>,
    values: crate::value::PredictMemo,
}

impl Scratch {
    /// Forgets the customers scored so far (their value predictions), keeping the buffers.
    pub fn forget_customers(&mut self) {
        self.values.forget_customers();
    }
}

impl Model {
    /// Scores one customer given raw values in feature order and, for a customer given by
    /// transactions, their purchase summary ([`crate::features::rfm::purchase_summary`]). The
    /// caller has checked `raw.len()` against the model's features; types are checked here.
    pub fn score(
        &self,
        raw: &[RawValue],
        summary: Option<&crate::value::Rfm>,
        scratch: &mut Scratch,
    ) -> Result<Scored, FeatureError> {
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
        let row = &mut scratch.row;
        row.clear();
        row.resize(spec.n_columns(), 0.0);
        let mut warnings = Vec::new();
        spec.encode_row(raw, row, &mut warnings)?;
        let distances = self.centroids.distances(row);
        let (index, _) = self.centroids.nearest(row);
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
        let value = self.value_of(raw, summary, &mut warnings, &mut scratch.values);
        Ok(Scored {
            index,
            distance,
            distances,
            margin,
            warnings,
            rfm,
            lifecycle,
            value,
        })
    }

    /// A customer's predicted value under the model's value model: from the purchase summary
    /// when there is one (the exact figures, as in training), else from the RFM features
    /// ([`crate::features::rfm::summary_from_features`], with a
    /// [`FeatureWarning::ValueFromFeatures`] warning); `None` without a value model, and with
    /// [`FeatureWarning::ValueUnavailable`] when neither is at hand. `memo` holds the
    /// purchase histories already evaluated ([`crate::value::ValueModel::predict_memo`]).
    pub fn value_of(
        &self,
        raw: &[RawValue],
        summary: Option<&crate::value::Rfm>,
        warnings: &mut Vec<FeatureWarning>,
        memo: &mut crate::value::PredictMemo,
    ) -> Option<crate::value::CustomerValue> {
        let record = self.file.value_model.as_ref()?;
        let approximate = || {
            let at = self.value_at?;
            let [r, f, t, a] = at.map(|i| match raw.get(i) {
                Some(RawValue::Num(v)) => Some(*v),
                Some(RawValue::Text(s)) => crate::data::parse_number(s),
                _ => None,
            });
            crate::features::rfm::summary_from_features(r?, f?, t?, a?)
        };
        let (summary, from_features) = match summary {
            Some(s) => (Some(*s), false),
            None => (approximate(), true),
        };
        let (model, settings) = (record.model(), record.settings());
        let value = summary.and_then(|s| model.predict_memo(&s, &settings, memo).ok());
        warnings.push(match value {
            Some(_) if from_features => FeatureWarning::ValueFromFeatures,
            Some(_) => return value,
            None => FeatureWarning::ValueUnavailable,
        });
        value
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
