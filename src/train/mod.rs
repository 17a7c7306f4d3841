//! Training: features → scaling → k-means (custseg's kernel, [`lloyd`]; linfa-clustering is
//! its oracle in the tests) → k choice → segment profiles and names. [`train`] returns everything a model version holds; the registry writes it.

pub mod assign;
pub mod kmeans;
pub mod lineage;
pub mod lloyd;
pub mod mix;
pub mod params;
pub mod pipeline;
pub mod quality;
pub mod segments;
pub mod value;

pub use params::{KChoice, TrainParams, TrainValidParams, ValueKind, ValueParams};
pub use pipeline::{train, Assignments, TrainInputs, TrainOutput};
pub use segments::{Segment, Tier};

/// Training errors: one variant per parameter rule, plus fits that cannot proceed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// Input data that cannot be used (file, row and column are in the message).
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    /// Feature computation or specification problems.
    #[error(transparent)]
    Feature(#[from] crate::features::FeatureError),
    #[error("k must be at least 2, got {k}")]
    KTooSmall { k: usize },
    #[error("k_min ({min}) is larger than k_max ({max})")]
    KRangeInverted { min: usize, max: usize },
    #[error("n_init must be at least 1")]
    NInitZero,
    #[error("max_iter must be at least 1")]
    MaxIterZero,
    #[error("tol must be a positive finite number, got {tol}")]
    BadTolerance { tol: f64 },
    #[error("window_days must be at least 1")]
    WindowZero,
    #[error("{what} must be at least {min}, got {n}")]
    SampleTooSmall {
        what: &'static str,
        n: usize,
        min: usize,
    },
    #[error("k = {k} needs at least {k} customers (k auto needs k+1), but only {n} remain after cleaning")]
    TooFewCustomers { k: usize, n: usize },
    #[error("nothing to train on: no transaction log and no customer table given")]
    NoInputs,
    #[error("an interaction log needs a transaction log beside it (its features count orders)")]
    EventsWithoutTransactions,
    #[error("no customers to segment: {reason}")]
    NoCustomers { reason: String },
    #[error("segment name '{name}' is used twice (check the config's segment names)")]
    DuplicateSegmentName { name: String },
    #[error("segment name for '{key}' ({name:?}) starts like a spreadsheet formula (=, +, -, @, tab or CR): spreadsheets would run it")]
    FormulaSegmentName { key: String, name: String },
    #[error("{path}: {reason}")]
    BadConfig { path: String, reason: String },
    #[error(
        "bad as-of date '{value}': expected an ISO 8601 date, YYYY-MM-DD or an RFC 3339 date-time"
    )]
    BadAsOf { value: String },
    #[error("max_dropped_share must be between 0 and 1, got {share}")]
    BadDroppedShare { share: f64 },
    #[error("horizon_days must be within 1..=36500, got {days}")]
    BadHorizon { days: u32 },
    #[error("discount_rate must be an annual rate within [0, 10], got {rate}")]
    BadDiscountRate { rate: f64 },
    #[error("holdout_days must be at least 1")]
    HoldoutZero,
    #[error("holdout check: {reason}")]
    Holdout { reason: String },
    #[error("k-means failed: {0}")]
    Linfa(String),
}

impl TrainError {
    /// True when the failure is the user's input or parameters (exit code 2), false for an
    /// environment failure while reading (exit code 1).
    pub fn is_user_error(&self) -> bool {
        match self {
            TrainError::Data(e) => e.is_user_error(),
            _ => true,
        }
    }

    /// The input-data error inside, if that is what this is.
    pub fn data_error(&self) -> Option<&crate::data::DataError> {
        match self {
            TrainError::Data(e) => Some(e),
            _ => None,
        }
    }
}
