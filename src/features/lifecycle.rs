//! Per-customer RFM quintile scores and lifecycle stage, and per-segment value, for models
//! trained on transactions. The cut points and the typical purchase interval are fitted on
//! the training customers and stored in the model, so the scorer gives a new customer the
//! same scores the trainer would.
//!
//! - **RFM scores** (1–5 each): the training population's 20/40/60/80th percentiles are the
//!   cut points. F and M score 1 + the number of cut points strictly below the value; R is
//!   inverted (recent is high): 5 − the number of cut points strictly below `recency_days`.
//!   Tied values share a score, so with many one-time buyers the F scores skip levels.
//! - **Purchase interval** of a customer: `(tenure_days − recency_days) / (frequency − 1)`,
//!   the mean gap between first and last purchase, for customers with two or more orders;
//!   otherwise the training median of that interval (the typical interval).
//! - **Lifecycle stage**: `new` when the first purchase is less than one typical interval ago
//!   (`tenure_days < typical`); else `active` when `recency_days ≤ 2 × interval`, `at_risk`
//!   when `≤ 4 × interval`, `churned` beyond.
//! - **Segment value** (historical, pooled over the segment's customers): average order value
//!   = revenue / orders; purchase rate = orders / customer-years of tenure; lifespan = mean
//!   tenure in years. Their product is the historical CLV, which equals the segment's net
//!   revenue per customer to date; the three factors show whether a segment's value comes from
//!   basket size, buying rate or longevity. Annual value = average order value × purchase
//!   rate (revenue per customer-year).

use serde::{Deserialize, Serialize};

use super::spec::median;

/// Multiple of a customer's own purchase interval after which they are at risk.
pub const AT_RISK_AFTER: f64 = 2.0;
/// Multiple after which they are churned.
pub const CHURNED_AFTER: f64 = 4.0;

/// The features scores and stages are computed from, in the order [`ValueModel::classify`]
/// takes them.
pub const INPUTS: [&str; 4] = ["recency_days", "frequency", "monetary", "tenure_days"];

/// Looks up each of [`INPUTS`] with `find`; None unless all four are found.
pub fn find_inputs<T>(find: impl FnMut(&'static str) -> Option<T>) -> Option<[T; 4]> {
    let [r, f, m, t] = INPUTS.map(find);
    Some([r?, f?, m?, t?])
}

/// Fitted statistics for RFM scores and lifecycle stages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValueModel {
    /// 20/40/60/80th percentiles of `recency_days` in the training population.
    pub recency_cuts: [f64; 4],
    pub frequency_cuts: [f64; 4],
    pub monetary_cuts: [f64; 4],
    /// Median purchase interval (days) of training customers with two or more orders.
    pub typical_interval_days: f64,
}

/// A customer's RFM quintile scores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RfmScores {
    pub r: u8,
    pub f: u8,
    pub m: u8,
}

/// Lifecycle stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    New,
    Active,
    AtRisk,
    Churned,
}

impl Stage {
    /// All stages in order.
    pub const ALL: [Stage; 4] = [Stage::New, Stage::Active, Stage::AtRisk, Stage::Churned];

    /// snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::New => "new",
            Stage::Active => "active",
            Stage::AtRisk => "at_risk",
            Stage::Churned => "churned",
        }
    }
}

/// Historical value of a segment (see the module docs for the formulas).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SegmentValue {
    pub avg_order_value: f64,
    pub purchases_per_year: f64,
    pub lifespan_years: f64,
    pub historical_clv: f64,
    pub annual_value: f64,
    /// Customers per lifecycle stage: new, active, at_risk, churned.
    pub stages: [u64; 4],
}

const DAYS_PER_YEAR: f64 = 365.25;

fn cuts(values: &[f64]) -> [f64; 4] {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let q = |p: f64| -> f64 {
        if v.is_empty() {
            return 0.0;
        }
        // Linear interpolation between order statistics (numpy's default).
        let pos = p * (v.len() - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
    };
    [q(0.2), q(0.4), q(0.6), q(0.8)]
}

fn above(cuts: &[f64; 4], x: f64) -> u8 {
    cuts.iter().filter(|c| x > **c).count() as u8
}

/// A customer's purchase interval in days (None without two orders over a positive span).
pub fn own_interval(recency: f64, frequency: f64, tenure: f64) -> Option<f64> {
    let span = tenure - recency;
    (frequency >= 2.0 && span > 0.0).then(|| span / (frequency - 1.0))
}

impl ValueModel {
    /// Fits on the training customers' `recency_days`, `frequency`, `monetary` and
    /// `tenure_days` (equal lengths). None without customers.
    pub fn fit(r: &[f64], f: &[f64], m: &[f64], t: &[f64]) -> Option<ValueModel> {
        if r.is_empty() {
            return None;
        }
        let intervals: Vec<f64> = r
            .iter()
            .zip(f)
            .zip(t)
            .filter_map(|((&r, &f), &t)| own_interval(r, f, t))
            .collect();
        // Without any repeat customer, every customer's tenure is the only rhythm we know.
        let typical = if intervals.is_empty() {
            median(t).max(1.0)
        } else {
            median(&intervals).max(1.0)
        };
        Some(ValueModel {
            recency_cuts: cuts(r),
            frequency_cuts: cuts(f),
            monetary_cuts: cuts(m),
            typical_interval_days: typical,
        })
    }

    /// RFM quintile scores.
    pub fn scores(&self, recency: f64, frequency: f64, monetary: f64) -> RfmScores {
        RfmScores {
            r: 5 - above(&self.recency_cuts, recency),
            f: 1 + above(&self.frequency_cuts, frequency),
            m: 1 + above(&self.monetary_cuts, monetary),
        }
    }

    /// Lifecycle stage.
    pub fn stage(&self, recency: f64, frequency: f64, tenure: f64) -> Stage {
        if tenure < self.typical_interval_days {
            return Stage::New;
        }
        let interval =
            own_interval(recency, frequency, tenure).unwrap_or(self.typical_interval_days);
        if recency <= AT_RISK_AFTER * interval {
            Stage::Active
        } else if recency <= CHURNED_AFTER * interval {
            Stage::AtRisk
        } else {
            Stage::Churned
        }
    }

    /// RFM scores (when R, F and M are known) and stage (when R, F and tenure are known) from
    /// `[recency_days, frequency, monetary, tenure_days]`.
    /// A browser (frequency 0: never bought) has neither.
    pub fn classify(&self, v: [Option<f64>; 4]) -> (Option<RfmScores>, Option<Stage>) {
        let [r, f, m, t] = v;
        let f = f.filter(|&f| f > 0.0);
        let scores = match (r, f, m) {
            (Some(r), Some(f), Some(m)) => Some(self.scores(r, f, m)),
            _ => None,
        };
        let stage = match (r, f, t) {
            (Some(r), Some(f), Some(t)) => Some(self.stage(r, f, t)),
            _ => None,
        };
        (scores, stage)
    }

    /// Value of a segment from its customers' (recency, frequency, monetary, tenure).
    pub fn segment_value(&self, members: &[[f64; 4]]) -> SegmentValue {
        let (mut revenue, mut orders, mut years) = (0.0, 0.0, 0.0);
        let mut stages = [0u64; 4];
        for &[r, f, m, t] in members {
            revenue += m;
            orders += f;
            years += t / DAYS_PER_YEAR;
            // A browser (never bought) is in no stage.
            if f > 0.0 {
                stages[self.stage(r, f, t) as usize] += 1;
            }
        }
        let n = members.len() as f64;
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        let avg_order_value = ratio(revenue, orders);
        let purchases_per_year = ratio(orders, years);
        let lifespan_years = ratio(years, n);
        SegmentValue {
            avg_order_value,
            purchases_per_year,
            lifespan_years,
            historical_clv: avg_order_value * purchases_per_year * lifespan_years,
            annual_value: avg_order_value * purchases_per_year,
            stages,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> ValueModel {
        ValueModel {
            recency_cuts: [10.0, 30.0, 90.0, 180.0],
            frequency_cuts: [1.0, 1.0, 2.0, 5.0],
            monetary_cuts: [20.0, 50.0, 100.0, 300.0],
            typical_interval_days: 60.0,
        }
    }

    #[test]
    fn recency_score_is_inverted() {
        let m = model();
        assert_eq!(m.scores(5.0, 1.0, 1.0).r, 5);
        assert_eq!(
            m.scores(10.0, 1.0, 1.0).r,
            5,
            "a value on a cut point stays below it"
        );
        assert_eq!(m.scores(11.0, 1.0, 1.0).r, 4);
        assert_eq!(m.scores(1000.0, 1.0, 1.0).r, 1);
    }

    #[test]
    fn ties_share_the_lower_score() {
        let m = model();
        assert_eq!(m.scores(0.0, 1.0, 0.0).f, 1);
        assert_eq!(
            m.scores(0.0, 2.0, 0.0).f,
            3,
            "scores 2 skipped: cuts tie at 1"
        );
        assert_eq!(m.scores(0.0, 6.0, 0.0).f, 5);
        assert_eq!(m.scores(0.0, 0.0, 301.0).m, 5);
    }

    #[test]
    fn cuts_are_interpolated_quintiles() {
        let v: Vec<f64> = (0..=100).map(f64::from).collect();
        assert_eq!(cuts(&v), [20.0, 40.0, 60.0, 80.0]);
        assert_eq!(cuts(&[]), [0.0; 4]);
    }

    #[test]
    fn first_purchase_within_one_typical_interval_is_new() {
        assert_eq!(model().stage(5.0, 1.0, 59.0), Stage::New);
        assert_eq!(model().stage(60.0, 1.0, 60.0), Stage::Active);
    }

    #[test]
    fn stage_follows_the_customers_own_rhythm() {
        let m = model();
        // Buys every 10 days (first to last purchase 100 days, 11 orders).
        assert_eq!(m.stage(20.0, 11.0, 120.0), Stage::Active);
        assert_eq!(m.stage(40.0, 11.0, 140.0), Stage::AtRisk);
        assert_eq!(m.stage(41.0, 11.0, 141.0), Stage::Churned);
        // One order: the typical interval (60 days) is the rhythm.
        assert_eq!(m.stage(120.0, 1.0, 120.0), Stage::Active);
        assert_eq!(m.stage(240.0, 1.0, 240.0), Stage::AtRisk);
        assert_eq!(m.stage(241.0, 1.0, 241.0), Stage::Churned);
    }

    #[test]
    fn interval_needs_two_orders_over_a_positive_span() {
        assert_eq!(own_interval(10.0, 3.0, 50.0), Some(20.0));
        assert_eq!(own_interval(10.0, 1.0, 50.0), None);
        assert_eq!(own_interval(50.0, 3.0, 50.0), None, "orders on one day");
    }

    #[test]
    fn typical_interval_is_the_median_of_repeat_customers() {
        let r = [0.0, 0.0, 0.0, 5.0];
        let f = [2.0, 3.0, 2.0, 1.0];
        let t = [10.0, 40.0, 100.0, 5.0];
        let m = ValueModel::fit(&r, &f, &[1.0; 4], &t).unwrap();
        // Intervals 10, 20, 100 → median 20; the one-order customer does not count.
        assert_eq!(m.typical_interval_days, 20.0);
        assert!(ValueModel::fit(&[], &[], &[], &[]).is_none());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 500,
            rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
            ..Default::default()
        })]

        #[test]
        fn scores_stay_in_range_and_move_the_right_way(
            cut_seed in proptest::collection::vec(0.0f64..1000.0, 12),
            r in 0.0f64..2000.0, dr in 0.0f64..500.0,
            f in 1.0f64..50.0, df in 0.0f64..20.0,
            m in 0.0f64..5000.0,
        ) {
            let sorted = |i: usize| {
                let mut c = [cut_seed[i], cut_seed[i + 1], cut_seed[i + 2], cut_seed[i + 3]];
                c.sort_by(f64::total_cmp);
                c
            };
            let vm = ValueModel {
                recency_cuts: sorted(0),
                frequency_cuts: sorted(4),
                monetary_cuts: sorted(8),
                typical_interval_days: 30.0,
            };
            let a = vm.scores(r, f, m);
            for v in [a.r, a.f, a.m] {
                proptest::prop_assert!((1..=5).contains(&v));
            }
            // Later purchase → never a higher R; more orders → never a lower F.
            proptest::prop_assert!(vm.scores(r + dr, f, m).r <= a.r);
            proptest::prop_assert!(vm.scores(r, f + df, m).f >= a.f);
            // With the same purchase history, a longer silence never moves a customer back
            // to an earlier stage.
            let tenure = r + 400.0;
            let later = vm.stage(r + dr, f, tenure + dr);
            let now = vm.stage(r, f, tenure);
            proptest::prop_assert!(later >= now, "{now:?} -> {later:?}");
        }
    }

    #[test]
    fn historical_clv_is_revenue_per_customer() {
        let m = model();
        // (recency, frequency, monetary, tenure)
        let members = [[10.0, 4.0, 400.0, 365.25], [300.0, 1.0, 50.0, 730.5]];
        let v = m.segment_value(&members);
        assert!((v.avg_order_value - 90.0).abs() < 1e-9);
        assert!((v.purchases_per_year - 5.0 / 3.0).abs() < 1e-9);
        assert!((v.lifespan_years - 1.5).abs() < 1e-9);
        assert!((v.historical_clv - 225.0).abs() < 1e-9);
        assert!((v.annual_value - 150.0).abs() < 1e-9);
        assert_eq!(v.stages, [0, 1, 0, 1]);
    }
}
