//! The on-disk model format (`model.json`, `format_version` 1) and metrics (`metrics.json`).
//! This is our own envelope of plain arrays, not linfa's serde layout, so a model can be
//! scored without linfa and keeps loading across linfa upgrades.

use serde::{Deserialize, Serialize};

use super::segment::{Rename, Segment};
use crate::data::{Cleaning, FileFingerprint, RowFilters, RowRules};
use crate::features::FeatureSpec;

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Training parameters as recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamsRecord {
    /// `auto` or `fixed`.
    pub k_mode: String,
    pub k_min: usize,
    pub k_max: usize,
    pub n_init: usize,
    pub max_iter: u64,
    pub tol: f64,
    pub window_days: Option<u32>,
    pub k_sample: usize,
    pub silhouette_sample: usize,
    /// `--as-of` as given (None: the day after the last transaction).
    pub as_of_requested: Option<String>,
    /// Exact-duplicate transaction lines were kept (`--keep-duplicates`); absent in older
    /// models, which dropped them.
    #[serde(default)]
    pub keep_duplicates: bool,
    /// Row filters (`--exclude`, `--min-unit-price`); absent when none was given.
    #[serde(default, skip_serializing_if = "RowFilters::is_empty")]
    pub filters: RowFilters,
    /// The training log's header of each behaviour field it mapped (`product` →
    /// `StockCode`), so HTTP transactions may carry the field under either name; absent
    /// when the log had none.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub behaviour_columns: std::collections::BTreeMap<String, String>,
    /// How the model's event features were computed; absent without an interaction log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<EventsRecord>,
}

/// The event-feature settings of a model trained with an interaction log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventsRecord {
    /// `days_since_visit` of a customer without an event in the window (and the recency of
    /// a browser): the window, else the days from the inputs' first day to the as-of.
    pub no_visit_days: f64,
    /// Customers with events but no purchase were segmented (`include_browsers`).
    pub include_browsers: bool,
    /// The events file's header of each field (`timestamp` → `event_time`).
    pub columns: std::collections::BTreeMap<String, String>,
}

impl ParamsRecord {
    /// The row rules training applied, for scoring with this model (an error for a filter
    /// that does not compile).
    pub fn row_rules(&self) -> Result<RowRules, crate::data::FilterError> {
        RowRules::new(self.keep_duplicates, self.filters.clone())
    }
}

/// What the model was trained on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InputRecord {
    pub transactions: Vec<FileFingerprint>,
    pub customers: Vec<FileFingerprint>,
    /// `--map` pairs used.
    pub column_map: Vec<(String, String)>,
    /// Transaction rows read and kept after cleaning.
    pub transaction_rows: u64,
    pub transaction_rows_kept: u64,
    /// Customer-table rows read.
    pub customer_rows: u64,
    /// Customers segmented.
    pub customers_segmented: u64,
    /// Interaction logs, and their rows read and kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<FileFingerprint>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub event_rows: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub event_rows_kept: u64,
    /// The training log's header of each row role (`customer_id` → `CustomerID`, `date`,
    /// `amount`, `order_id`, `quantity`, `unit_price`), so a query can read a table with
    /// the training files' column names; absent in models written before it was recorded.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub transaction_columns: std::collections::BTreeMap<String, String>,
    /// Every column of the training log (its first file), in order: the fields whose values
    /// make two lines exact duplicates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transaction_header: Vec<String>,
    /// The customer table's id column; absent without a customer table, for a table whose
    /// rows were numbered, and in models written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id_column: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// `model.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelFile {
    pub format_version: u32,
    pub name: String,
    pub version: u32,
    pub created_at: String,
    pub custseg_version: String,
    pub seed: u64,
    /// Number of segments.
    pub k: usize,
    pub params: ParamsRecord,
    pub input: InputRecord,
    /// Features are as of this date (`YYYY-MM-DD`); None for customer tables without date or
    /// birth-year columns.
    pub as_of: Option<String>,
    /// Feature order, encodings and scaler statistics.
    pub features: FeatureSpec,
    /// Centroids in the scaled space, one row per segment.
    pub centroids: Vec<Vec<f64>>,
    pub segments: Vec<Segment>,
    /// Sum of squared distances of the training customers to their centroid.
    pub inertia: f64,
    /// How this version's segment ids continue the previous version's (absent for a first
    /// version and for models written before segment ids were kept across retrains).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage: Option<Lineage>,
    /// RFM quintile cut points and the typical purchase interval, for per-customer RFM
    /// scores and lifecycle stages (models trained on transactions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<crate::features::lifecycle::ValueModel>,
    /// The value column that tiers and revenue shares come from (`monetary`, a spend-like
    /// column or the sum of several); absent when the inputs have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_column: Option<String>,
    /// The predictive value model (purchase counts and spend per order), for per-customer
    /// P(alive), expected orders and predicted CLV; absent when it was turned off, could not
    /// be fitted (the training summary says why) or the model predates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_model: Option<ValueModelRecord>,
    /// The training population in brief (per-feature deciles, CDF grid and level shares,
    /// segment mix, warning shares), for drift checks; absent in models written before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<super::reference::Reference>,
}

/// `model.json` → `value_model`: a purchase-count model (`kind` and `params`, rates per
/// day) with Gamma-Gamma for the spend per order, and what the predictions are over.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValueModelRecord {
    /// `kind` (`bg_nbd` or `pareto_nbd`) and `params` ({r, alpha, a, b} or {r, alpha, s, beta}).
    #[serde(flatten)]
    pub purchases: crate::value::PurchaseModel,
    /// Unit of the rate parameters and of t_x and T: always `day`.
    pub time_unit: String,
    /// Gamma-Gamma {p, q, v}.
    pub spend: crate::value::GammaGamma,
    /// Log-likelihood of the purchase model at the fit, summed over the customers.
    pub log_likelihood: f64,
    /// Both fits stopped at an interior maximum.
    pub converged: bool,
    /// Days after as-of that expected orders and CLV cover.
    pub horizon_days: f64,
    /// Annual discount rate of the CLV.
    pub discount_rate: f64,
    /// How each fit ended.
    pub fit: ValueFitRecord,
}

/// The convergence records of a value model's two fits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValueFitRecord {
    /// The purchase-count model, on every training customer.
    pub purchases: crate::value::Convergence,
    /// Gamma-Gamma, on the repeat buyers with a positive mean repeat order.
    pub spend: crate::value::Convergence,
}

impl ValueModelRecord {
    /// The fitted models.
    pub fn model(&self) -> crate::value::ValueModel {
        crate::value::ValueModel {
            purchases: self.purchases,
            spend: self.spend,
        }
    }

    /// Horizon and discounting as recorded (next orders of customers at least as likely
    /// alive as not).
    pub fn settings(&self) -> crate::value::ClvSettings {
        crate::value::ClvSettings {
            horizon_days: self.horizon_days,
            annual_discount_rate: self.discount_rate,
            ..crate::value::ClvSettings::default()
        }
    }
}

/// Segment identity across retrains: which segment of the previous version each segment of
/// this version continues. Segments are matched one-to-one (Hungarian assignment) on the
/// distance between centroids in this version's scaled space; a match is kept only when the
/// old centroid lies within the new segment's radius, otherwise the segment is new.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lineage {
    /// The version matched against.
    pub previous_version: u32,
    /// One entry per segment of this version, in segment order.
    pub matches: Vec<SegmentMatch>,
    /// Smallest id never used by this model's versions; a new segment takes it, so a retired
    /// id is never given to a different group.
    pub next_segment_id: usize,
    /// Kept segments renamed because their previous name no longer fits their numbers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub renames: Vec<Rename>,
}

/// One segment's match.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SegmentMatch {
    /// Segment id in this version.
    pub id: usize,
    /// The previous version's segment it continues (same id), or None when it is new.
    pub previous_id: Option<usize>,
    /// Distance from the assigned previous centroid to this centroid (this version's scaled
    /// space), or None when no previous segment was left to pair with.
    pub distance: Option<f64>,
    /// The segment's radius: root mean squared distance of its training customers to its
    /// centroid. A pair farther apart than this is not the same group.
    pub radius: f64,
}

/// A segment named by id and name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentRef {
    pub id: usize,
    pub name: String,
}

/// Where the same customers land under two versions, each version placing them with the
/// features as of its own date: `counts[i][j]` customers are in `from_segments[i]` under
/// `from_version` and in `to_segments[j]` under `to_version`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Migration {
    pub from_version: u32,
    pub to_version: u32,
    /// Customers in both versions (the sum of `counts`).
    pub customers: u64,
    /// Customers only in `to_version`, per segment of it.
    pub new_customers: Vec<u64>,
    /// Customers only in `from_version`.
    pub only_in_from: u64,
    pub from_segments: Vec<SegmentRef>,
    pub to_segments: Vec<SegmentRef>,
    pub counts: Vec<Vec<u64>>,
    /// Share of customers whose segment id is the same under both versions.
    pub same_id_share: f64,
}

/// One point of the k search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KPoint {
    pub k: usize,
    /// Inertia on the search sample.
    pub inertia: f64,
    pub silhouette: f64,
    pub calinski_harabasz: f64,
    pub davies_bouldin: f64,
    pub iterations: u64,
    /// Mean rank over the three indices (lower is better).
    pub mean_rank: f64,
    pub chosen: bool,
}

/// Cleaning and joining counts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DataReport {
    /// Transaction cleaning (rows read/kept/dropped by reason).
    pub transactions: Option<Cleaning>,
    /// Kept transactions not counted because they are on or after `as_of`.
    pub transactions_after_as_of: u64,
    /// Kept transactions not counted because they are before the window.
    pub transactions_before_window: u64,
    /// Customers left out: no purchase in the window (only returns, or all outside).
    pub customers_without_purchases: u64,
    /// Customers with transactions but no customer-table row (demographics imputed).
    pub customers_without_profile: u64,
    /// Customer-table rows with no transactions (left out).
    pub customers_without_transactions: u64,
    /// Features left out, with the reason.
    pub features_dropped: Vec<(String, String)>,
    /// Missing values imputed, per feature.
    pub imputed: Vec<(String, u64)>,
    /// How customer-table columns were read (dates as days since as-of, integer codes as
    /// categories, birth years as age), per feature.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feature_notes: Vec<(String, String)>,
    /// The customer table has no id column: its rows are numbered (1, 2, …) as ids.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub customer_ids_numbered: bool,
    /// Interaction-log rows read, kept and dropped by reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<crate::data::events::EventCounts>,
    /// Segmented customers without an event in the window.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub customers_without_events: u64,
    /// Customers with events but no purchase: segmented with `include_browsers`, else left
    /// out and counted.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub browsers: u64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub browsers_included: bool,
}

/// Wall-clock seconds per step.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Reading and cleaning the inputs.
    pub read_s: f64,
    /// Features, scaling and the matrix.
    pub features_s: f64,
    /// Fits and scores of the k search on its sample (0 for a fixed k).
    pub k_search_s: f64,
    /// k-means of the chosen k on all customers.
    pub fit_s: f64,
    /// Labels, segment ids, names, profiles and quality scores (absent before 0.1.1 files).
    #[serde(default)]
    pub segments_s: f64,
    /// Fitting the value model and predicting every customer's value (absent before it was
    /// recorded; with a holdout check, its refit and predictions too).
    #[serde(default)]
    pub value_s: f64,
    /// Writing the version's files (model, segments, assignments, report, metrics).
    #[serde(default)]
    pub write_s: f64,
    /// Everything above.
    pub total_s: f64,
}

/// `metrics.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub k: usize,
    pub inertia: f64,
    pub silhouette: f64,
    /// Customers the silhouette was computed on.
    pub silhouette_sample: usize,
    pub calinski_harabasz: f64,
    pub davies_bouldin: f64,
    /// Lloyd steps of the final fit.
    pub iterations: u64,
    /// Inertia of every initialization of the final fit (on the data it ran on).
    pub run_inertias: Vec<f64>,
    /// The k search (empty for a fixed k).
    pub k_search: Vec<KPoint>,
    /// Customers the k search ran on.
    pub k_search_sample: usize,
    pub data: DataReport,
    pub timings: Timings,
    /// Where the training customers land under the previous version and this one (absent for
    /// a first version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration: Option<Migration>,
    /// Why the model has no value model although it was trained on transactions (too few
    /// repeat buyers, no convergence, a boundary), or absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_skipped: Option<String>,
    /// The holdout check of the value model (`holdout_days`), or absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout: Option<HoldoutRecord>,
}

/// A holdout check of a value model: predictions made at `calibration_end` for the
/// `holdout_days` that follow, against what the customers did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HoldoutRecord {
    /// End of the calibration (exclusive, `YYYY-MM-DD`): the as-of of the predictions.
    pub calibration_end: String,
    /// End of the holdout (exclusive): the as-of of the check.
    pub holdout_end: String,
    pub holdout_days: u32,
    /// `refit`: the value model was fitted again on the calibration data (what `train
    /// --holdout-days` does); `model`: the saved model's own parameters were used.
    pub value_model: String,
    /// The purchase-count model (`bg_nbd` or `pareto_nbd`) and its parameters as used.
    pub purchases: crate::value::PurchaseModel,
    /// Gamma-Gamma as used.
    pub spend: crate::value::GammaGamma,
    /// Customers with a purchase before `calibration_end` (the ones checked).
    pub customers: u64,
    /// Totals, ranking quality and the calibration-frequency table.
    pub summary: crate::value::holdout::HoldoutSummary,
    /// Per segment (as assigned at `calibration_end`), in the model's segment order.
    pub by_segment: Vec<crate::value::holdout::GroupRow>,
    /// Per lifecycle stage at `calibration_end` (models with lifecycle stages).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_stage: Vec<crate::value::holdout::GroupRow>,
}
