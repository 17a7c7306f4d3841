//! Training hyperparameters with linfa's checked-params pattern: [`TrainParams`] is built with
//! consuming setters and only its validated form, [`TrainValidParams`], can train.

use linfa::ParamGuard;
use serde::{Deserialize, Serialize};

use super::TrainError;

/// How k is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KChoice {
    /// Exactly this many segments.
    Fixed(usize),
    /// Search `min..=max` and pick by silhouette, Calinski–Harabasz and Davies–Bouldin.
    Auto { min: usize, max: usize },
}

/// Validated training parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainValidParams {
    /// How k is chosen.
    pub k: KChoice,
    /// k-means++ initializations per fit; the lowest inertia wins.
    pub n_init: usize,
    /// Lloyd iterations per initialization at most.
    pub max_iter: u64,
    /// Convergence, as scikit-learn: stop when the total squared centroid shift of a Lloyd
    /// step is at most `tol` × the mean per-column variance of the data.
    pub tol: f64,
    /// Seed of every random choice (initializations and samples).
    pub seed: u64,
    /// Features are computed as of this day number (default: day after the last transaction).
    pub as_of: Option<i32>,
    /// Only transactions in the last `window_days` before `as_of` count.
    pub window_days: Option<u32>,
    /// The k search fits on at most this many customers (sampled with the seed).
    pub k_sample: usize,
    /// Silhouette is computed on at most this many customers.
    pub silhouette_sample: usize,
    /// Keep exact-duplicate transaction lines instead of dropping them.
    #[serde(default)]
    pub keep_duplicates: bool,
    /// Transaction lines dropped on purpose (fee and postage lines, …).
    #[serde(default)]
    pub filters: crate::data::RowFilters,
    /// A run stops when one drop reason takes more than this share of the transaction rows
    /// (1.0: never).
    #[serde(default = "default_max_dropped_share")]
    pub max_dropped_share: f64,
    /// The predictive value model fitted beside the segments (models trained on transactions).
    #[serde(default)]
    pub value: ValueParams,
    /// Keep the last `holdout_days` before `as_of` out: the model is trained as of
    /// `as_of − holdout_days`, and the caller can check its predictions on those days
    /// (`custseg evaluate`).
    #[serde(default)]
    pub holdout_days: Option<u32>,
}

/// Which purchase-count model predicts customer value (Gamma-Gamma predicts the spend).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueKind {
    /// BG/NBD + Gamma-Gamma.
    #[default]
    BgNbd,
    /// Pareto/NBD + Gamma-Gamma.
    ParetoNbd,
    /// No value model.
    None,
}

impl ValueKind {
    /// The name in configs and model files.
    pub fn as_str(self) -> &'static str {
        match self {
            ValueKind::BgNbd => "bg_nbd",
            ValueKind::ParetoNbd => "pareto_nbd",
            ValueKind::None => "none",
        }
    }

    /// Parses [`ValueKind::as_str`]'s names.
    pub fn parse(name: &str) -> Option<ValueKind> {
        [ValueKind::BgNbd, ValueKind::ParetoNbd, ValueKind::None]
            .into_iter()
            .find(|k| k.as_str() == name)
    }
}

/// The value model and what it predicts over.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValueParams {
    /// Purchase-count model.
    pub kind: ValueKind,
    /// Days after as-of over which orders and CLV are predicted.
    pub horizon_days: u32,
    /// Annual discount rate of the CLV.
    pub discount_rate: f64,
}

impl Default for ValueParams {
    fn default() -> Self {
        ValueParams {
            kind: ValueKind::BgNbd,
            horizon_days: 365,
            discount_rate: 0.10,
        }
    }
}

fn default_max_dropped_share() -> f64 {
    crate::data::transactions::DEFAULT_MAX_DROPPED_SHARE
}

/// Unvalidated training parameters; see [`TrainParams::new`] for the defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainParams(TrainValidParams);

impl Default for TrainParams {
    fn default() -> Self {
        Self::new()
    }
}

impl TrainParams {
    /// Defaults: k auto over 2..=10, `n_init` 10, `max_iter` 300, `tol` 1e-4, seed 0,
    /// as-of the day after the last transaction, no window, k search on up to 50 000
    /// customers, silhouette on up to 5 000, at most 5% of the rows dropped for one reason,
    /// exact-duplicate transaction lines dropped, BG/NBD + Gamma-Gamma value over 365 days at
    /// 10% a year, no holdout check.
    ///
    /// ```
    /// use custseg::train::{TrainParams, KChoice};
    /// use linfa::ParamGuard;
    /// let p = TrainParams::new().k(KChoice::Fixed(4)).seed(7).check().unwrap();
    /// assert_eq!(p.k, KChoice::Fixed(4));
    /// assert!(TrainParams::new().n_init(0).check().is_err());
    /// ```
    pub fn new() -> Self {
        TrainParams(TrainValidParams {
            k: KChoice::Auto { min: 2, max: 10 },
            n_init: 10,
            max_iter: 300,
            tol: 1e-4,
            seed: 0,
            as_of: None,
            window_days: None,
            k_sample: 50_000,
            silhouette_sample: 5_000,
            max_dropped_share: default_max_dropped_share(),
            keep_duplicates: false,
            filters: crate::data::RowFilters::default(),
            value: ValueParams::default(),
            holdout_days: None,
        })
    }

    pub fn k(mut self, k: KChoice) -> Self {
        self.0.k = k;
        self
    }
    pub fn n_init(mut self, n: usize) -> Self {
        self.0.n_init = n;
        self
    }
    pub fn max_iter(mut self, n: u64) -> Self {
        self.0.max_iter = n;
        self
    }
    pub fn tol(mut self, tol: f64) -> Self {
        self.0.tol = tol;
        self
    }
    pub fn seed(mut self, seed: u64) -> Self {
        self.0.seed = seed;
        self
    }
    pub fn as_of(mut self, day: Option<i32>) -> Self {
        self.0.as_of = day;
        self
    }
    pub fn window_days(mut self, days: Option<u32>) -> Self {
        self.0.window_days = days;
        self
    }
    pub fn k_sample(mut self, n: usize) -> Self {
        self.0.k_sample = n;
        self
    }
    pub fn silhouette_sample(mut self, n: usize) -> Self {
        self.0.silhouette_sample = n;
        self
    }
    pub fn max_dropped_share(mut self, share: f64) -> Self {
        self.0.max_dropped_share = share;
        self
    }
    pub fn keep_duplicates(mut self, keep: bool) -> Self {
        self.0.keep_duplicates = keep;
        self
    }
    pub fn filters(mut self, filters: crate::data::RowFilters) -> Self {
        self.0.filters = filters;
        self
    }
    pub fn value(mut self, value: ValueParams) -> Self {
        self.0.value = value;
        self
    }
    pub fn holdout_days(mut self, days: Option<u32>) -> Self {
        self.0.holdout_days = days;
        self
    }
}

impl ParamGuard for TrainParams {
    type Checked = TrainValidParams;
    type Error = TrainError;

    fn check_ref(&self) -> Result<&TrainValidParams, TrainError> {
        let p = &self.0;
        if let KChoice::Fixed(k) = p.k {
            if k < 2 {
                return Err(TrainError::KTooSmall { k });
            }
        }
        if let KChoice::Auto { min, max } = p.k {
            if min < 2 {
                return Err(TrainError::KTooSmall { k: min });
            } else if max < min {
                return Err(TrainError::KRangeInverted { min, max });
            }
        }
        if p.n_init == 0 {
            Err(TrainError::NInitZero)
        } else if p.max_iter == 0 {
            Err(TrainError::MaxIterZero)
        } else if !(p.tol.is_finite() && p.tol > 0.0) {
            Err(TrainError::BadTolerance { tol: p.tol })
        } else if !(0.0..=1.0).contains(&p.max_dropped_share) {
            Err(TrainError::BadDroppedShare {
                share: p.max_dropped_share,
            })
        } else if p.window_days == Some(0) {
            Err(TrainError::WindowZero)
        } else if !(1..=36_500).contains(&p.value.horizon_days) {
            Err(TrainError::BadHorizon {
                days: p.value.horizon_days,
            })
        } else if !(p.value.discount_rate.is_finite()
            && (0.0..=10.0).contains(&p.value.discount_rate))
        {
            Err(TrainError::BadDiscountRate {
                rate: p.value.discount_rate,
            })
        } else if p.holdout_days == Some(0) {
            Err(TrainError::HoldoutZero)
        } else if p.k_sample < 100 {
            Err(TrainError::SampleTooSmall {
                what: "k_sample",
                n: p.k_sample,
                min: 100,
            })
        } else if p.silhouette_sample < 10 {
            Err(TrainError::SampleTooSmall {
                what: "silhouette_sample",
                n: p.silhouette_sample,
                min: 10,
            })
        } else {
            Ok(&self.0)
        }
    }

    fn check(self) -> Result<TrainValidParams, TrainError> {
        self.check_ref()?;
        Ok(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_cannot_be_below_two() {
        assert!(matches!(
            TrainParams::new().k(KChoice::Fixed(1)).check(),
            Err(TrainError::KTooSmall { k: 1 })
        ));
        assert!(matches!(
            TrainParams::new().k(KChoice::Fixed(0)).check(),
            Err(TrainError::KTooSmall { k: 0 })
        ));
    }

    #[test]
    fn k_min_cannot_be_below_two() {
        let p = TrainParams::new().k(KChoice::Auto { min: 1, max: 5 });
        assert!(matches!(p.check(), Err(TrainError::KTooSmall { k: 1 })));
    }

    #[test]
    fn k_range_cannot_be_inverted() {
        let p = TrainParams::new().k(KChoice::Auto { min: 6, max: 3 });
        assert!(matches!(p.check(), Err(TrainError::KRangeInverted { .. })));
    }

    #[test]
    fn n_init_cannot_be_zero() {
        assert!(matches!(
            TrainParams::new().n_init(0).check(),
            Err(TrainError::NInitZero)
        ));
    }

    #[test]
    fn max_iter_cannot_be_zero() {
        assert!(matches!(
            TrainParams::new().max_iter(0).check(),
            Err(TrainError::MaxIterZero)
        ));
    }

    #[test]
    fn tolerance_must_be_positive_and_finite() {
        for tol in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                TrainParams::new().tol(tol).check(),
                Err(TrainError::BadTolerance { .. })
            ));
        }
    }

    #[test]
    fn window_cannot_be_zero() {
        assert!(matches!(
            TrainParams::new().window_days(Some(0)).check(),
            Err(TrainError::WindowZero)
        ));
    }

    #[test]
    fn horizon_must_be_one_day_to_a_century() {
        for days in [0, 36_501] {
            let value = ValueParams {
                horizon_days: days,
                ..ValueParams::default()
            };
            assert!(matches!(
                TrainParams::new().value(value).check(),
                Err(TrainError::BadHorizon { .. })
            ));
        }
    }

    #[test]
    fn discount_rate_must_be_a_finite_rate() {
        for rate in [-0.01, 10.5, f64::NAN] {
            let value = ValueParams {
                discount_rate: rate,
                ..ValueParams::default()
            };
            assert!(matches!(
                TrainParams::new().value(value).check(),
                Err(TrainError::BadDiscountRate { .. })
            ));
        }
    }

    #[test]
    fn holdout_cannot_be_zero_days() {
        assert!(matches!(
            TrainParams::new().holdout_days(Some(0)).check(),
            Err(TrainError::HoldoutZero)
        ));
    }

    #[test]
    fn value_kinds_round_trip_their_names() {
        for k in [ValueKind::BgNbd, ValueKind::ParetoNbd, ValueKind::None] {
            assert_eq!(ValueKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(ValueKind::parse("bgnbd"), None);
    }

    #[test]
    fn samples_have_minimums() {
        assert!(TrainParams::new().k_sample(99).check().is_err());
        assert!(TrainParams::new().silhouette_sample(9).check().is_err());
    }

    #[test]
    fn defaults_are_valid() {
        assert!(TrainParams::new().check().is_ok());
    }

    #[test]
    fn max_dropped_share_must_be_a_share() {
        for bad in [-0.1, 1.5, f64::NAN] {
            assert!(matches!(
                TrainParams::new().max_dropped_share(bad).check(),
                Err(TrainError::BadDroppedShare { .. })
            ));
        }
        assert_eq!(TrainParams::new().check().unwrap().max_dropped_share, 0.05);
        assert!(TrainParams::new().max_dropped_share(1.0).check().is_ok());
    }

    #[test]
    fn parameter_errors_name_parameters_not_command_line_flags() {
        let bad = [
            TrainParams::new()
                .k(KChoice::Auto { min: 5, max: 3 })
                .check(),
            TrainParams::new().n_init(0).check(),
            TrainParams::new().max_iter(0).check(),
            TrainParams::new().tol(-1.0).check(),
            TrainParams::new().window_days(Some(0)).check(),
            TrainParams::new().k_sample(5).check(),
        ];
        for r in bad {
            let text = r.unwrap_err().to_string();
            assert!(!text.contains("--"), "{text}");
        }
        assert_eq!(
            TrainError::NoInputs.to_string(),
            "nothing to train on: no transaction log and no customer table given"
        );
    }
}
