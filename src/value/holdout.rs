//! Calibration/holdout check of a customer-value model: how well predictions made at the end of
//! a calibration period match what the customers did in the holdout period that followed.
//!
//! This is the metric side of lifetimes' `calibration_and_holdout_data` and
//! `plot_calibration_purchases_vs_holdout_purchases`: the caller fits the model on the
//! calibration period, predicts each customer's holdout purchase days, spend and P(alive), and
//! counts what actually happened; [`evaluate`] and [`by_group`] turn those per-customer numbers
//! into plain data for `metrics.json`. Nothing here depends on the rest of the crate.
//!
//! - Totals ([`Accuracy`]): predicted and actual sums and means per customer, the relative
//!   error of the total (predicted − actual) / actual, the mean absolute error and the RMSE per
//!   customer, for orders (purchase days) and for spend.
//! - Ranking: the AUC of "any purchase in the holdout" (`actual_orders > 0`) scored by `p_alive`
//!   and by `predicted_orders` (Mann–Whitney U / (n₁·n₀) with average ranks for ties, so a tied
//!   positive–negative pair counts ½), and Spearman's ρ (the Pearson correlation of average
//!   ranks) of predicted vs actual orders and spend.
//! - The calibration-frequency table ([`FrequencyRow`]): customers grouped by `calibration_x`
//!   = 0, 1, …, with the tail from [`DEFAULT_FREQUENCY_TAIL`] (7) pooled into one last row
//!   "7+", each with the mean actual and mean predicted holdout orders (lifetimes' plot, which
//!   cuts the tail off instead of pooling it).
//!
//! Undefined statistics are `None`, never NaN: a relative error without actual orders or spend,
//! an AUC when all or none of the customers bought, a ρ when either side is constant, a mean
//! over no customers. Inputs must be finite and non-negative (a net spend below 0 after returns
//! is the caller's to clip); a statistic that overflows is an error rather than an infinity.
//!
//! Cost: five sorts of the customers (rayon's parallel sort) and linear passes, O(n log n).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Calibration frequencies from which [`evaluate`] pools customers into the last row ("7+").
pub const DEFAULT_FREQUENCY_TAIL: usize = 7;
/// Largest pooling point [`evaluate_with_frequency_tail`] accepts.
pub const MAX_FREQUENCY_TAIL: usize = 1000;

/// One customer's predictions at the end of calibration and what they did in the holdout.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HoldoutCustomer {
    /// Repeat purchase days in the calibration period (an integer ≥ 0, lifetimes'
    /// `frequency_cal`).
    pub calibration_x: f64,
    /// Predicted P(alive) at the end of calibration (within [0, 1]).
    pub p_alive: f64,
    /// Predicted purchase days in the holdout (≥ 0).
    pub predicted_orders: f64,
    /// Actual distinct purchase days in the holdout (an integer ≥ 0, lifetimes'
    /// `frequency_holdout`).
    pub actual_orders: f64,
    /// Predicted undiscounted spend in the holdout: `predicted_orders` × expected spend per
    /// order (≥ 0).
    pub predicted_spend: f64,
    /// Actual net spend in the holdout (≥ 0; 0 without purchases).
    pub actual_spend: f64,
}

impl HoldoutCustomer {
    /// Checks the field rules; `index` is echoed in the error.
    pub fn validate(&self, index: usize) -> Result<(), HoldoutError> {
        let bad = |field: &'static str, value: f64, constraint: &'static str| {
            Err(HoldoutError::InvalidCustomer {
                index,
                field,
                value,
                constraint,
            })
        };
        let count = |v: f64| v.is_finite() && v >= 0.0 && v == v.floor();
        let amount = |v: f64| v.is_finite() && v >= 0.0;
        if !count(self.calibration_x) {
            return bad(
                "calibration_x",
                self.calibration_x,
                "must be an integer >= 0",
            );
        }
        if !(self.p_alive.is_finite() && (0.0..=1.0).contains(&self.p_alive)) {
            return bad("p_alive", self.p_alive, "must be within [0, 1]");
        }
        if !amount(self.predicted_orders) {
            return bad(
                "predicted_orders",
                self.predicted_orders,
                "must be finite and >= 0",
            );
        }
        if !count(self.actual_orders) {
            return bad(
                "actual_orders",
                self.actual_orders,
                "must be an integer >= 0",
            );
        }
        if !amount(self.predicted_spend) {
            return bad(
                "predicted_spend",
                self.predicted_spend,
                "must be finite and >= 0",
            );
        }
        if !amount(self.actual_spend) {
            return bad("actual_spend", self.actual_spend, "must be finite and >= 0");
        }
        Ok(())
    }
}

/// Why a holdout check could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum HoldoutError {
    /// A customer breaks a rule of [`HoldoutCustomer`].
    #[error("customer {index}: {field} = {value} {constraint}")]
    InvalidCustomer {
        /// Position of the customer in the input.
        index: usize,
        /// Field name.
        field: &'static str,
        /// Offending value.
        value: f64,
        /// The rule it breaks.
        constraint: &'static str,
    },
    /// A per-customer input has a different length than the customers.
    #[error("{what}: {found} entries for {expected} customers")]
    LengthMismatch {
        /// The input (`groups`).
        what: &'static str,
        /// Customers.
        expected: usize,
        /// Its length.
        found: usize,
    },
    /// A customer's group index has no name.
    #[error("customer {index}: group {group} is out of range ({groups} group names)")]
    GroupOutOfRange {
        /// Position of the customer in the input.
        index: usize,
        /// Its group index.
        group: usize,
        /// Group names given.
        groups: usize,
    },
    /// [`evaluate`] needs at least one customer.
    #[error("no customers to evaluate")]
    NoCustomers,
    /// An argument is out of range.
    #[error("{field} {constraint}")]
    InvalidOption {
        /// Argument name.
        field: &'static str,
        /// The rule it breaks.
        constraint: &'static str,
    },
    /// A statistic overflowed (inputs too large for f64).
    #[error("{what}: {statistic} is not finite")]
    NonFinite {
        /// Where (`orders`, `spend`, `by_calibration_frequency`, `by_group`).
        what: &'static str,
        /// Which statistic.
        statistic: &'static str,
    },
}

/// Predicted vs actual totals of one quantity (orders or spend) over the customers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Accuracy {
    /// Σ predicted.
    pub predicted_total: f64,
    /// Σ actual.
    pub actual_total: f64,
    /// Predicted per customer (Σ predicted / customers).
    pub predicted_mean: f64,
    /// Actual per customer.
    pub actual_mean: f64,
    /// (Σ predicted − Σ actual) / Σ actual; `None` when Σ actual = 0.
    pub relative_error: Option<f64>,
    /// Mean over customers of |predicted − actual|.
    pub mean_absolute_error: f64,
    /// √(mean over customers of (predicted − actual)²).
    pub rmse: f64,
}

/// One row of the calibration-frequency table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrequencyRow {
    /// `"0"`, `"1"`, …, and `"7+"` for the pooled last row.
    pub label: String,
    /// The row's calibration repeat purchase days (the smallest, for the pooled row).
    pub calibration_x: usize,
    /// Whether the row pools every `calibration_x` from its own up.
    pub pooled: bool,
    /// Customers in the row (rows without customers are kept).
    pub customers: usize,
    /// Mean actual holdout purchase days; `None` without customers.
    pub mean_actual_orders: Option<f64>,
    /// Mean predicted holdout purchase days; `None` without customers.
    pub mean_predicted_orders: Option<f64>,
}

/// The calibration/holdout check over all customers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldoutSummary {
    /// Customers evaluated.
    pub customers: usize,
    /// Length of the holdout period in days (as given).
    pub holdout_days: f64,
    /// Customers with a purchase in the holdout (`actual_orders > 0`).
    pub holdout_buyers: usize,
    /// Holdout purchase days, predicted vs actual.
    pub orders: Accuracy,
    /// Holdout spend, predicted vs actual.
    pub spend: Accuracy,
    /// AUC of a holdout purchase scored by `p_alive`; `None` when all or no customers bought.
    pub repurchase_auc_p_alive: Option<f64>,
    /// AUC of a holdout purchase scored by `predicted_orders`; `None` as above.
    pub repurchase_auc_predicted_orders: Option<f64>,
    /// Spearman's ρ of predicted vs actual orders; `None` when either side is constant.
    pub spearman_orders: Option<f64>,
    /// Spearman's ρ of predicted vs actual spend; `None` when either side is constant.
    pub spearman_spend: Option<f64>,
    /// Mean actual and predicted holdout orders by calibration frequency, tail pooled.
    pub by_calibration_frequency: Vec<FrequencyRow>,
}

/// The holdout check of one group of customers (a segment, a lifecycle stage).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupRow {
    /// Group name.
    pub group: String,
    /// Customers in the group (groups without customers are kept).
    pub customers: usize,
    /// Mean predicted holdout purchase days; `None` without customers.
    pub mean_predicted_orders: Option<f64>,
    /// Mean actual holdout purchase days; `None` without customers.
    pub mean_actual_orders: Option<f64>,
    /// Mean predicted holdout spend; `None` without customers.
    pub mean_predicted_spend: Option<f64>,
    /// Mean actual holdout spend; `None` without customers.
    pub mean_actual_spend: Option<f64>,
    /// Share of the customers with a holdout purchase; `None` without customers.
    pub repurchase_share: Option<f64>,
    /// Mean P(alive) at the end of calibration; `None` without customers.
    pub mean_p_alive: Option<f64>,
    /// (Σ predicted − Σ actual) / Σ actual orders; `None` when Σ actual = 0.
    pub orders_relative_error: Option<f64>,
    /// (Σ predicted − Σ actual) / Σ actual spend; `None` when Σ actual = 0.
    pub spend_relative_error: Option<f64>,
}

/// The holdout check of `customers` with the frequency tail pooled from
/// [`DEFAULT_FREQUENCY_TAIL`] ("7+").
///
/// ```
/// use custseg::value::holdout::{evaluate, HoldoutCustomer};
/// let c = |x: f64, p_alive: f64, predicted: f64, actual: f64| HoldoutCustomer {
///     calibration_x: x,
///     p_alive,
///     predicted_orders: predicted,
///     actual_orders: actual,
///     predicted_spend: 20.0 * predicted,
///     actual_spend: 20.0 * actual,
/// };
/// let customers = [c(0.0, 0.3, 0.2, 0.0), c(2.0, 0.9, 1.5, 2.0), c(9.0, 0.8, 3.0, 3.0)];
/// let s = evaluate(&customers, 180.0).unwrap();
/// assert_eq!(s.customers, 3);
/// assert_eq!(s.orders.actual_total, 5.0);
/// assert_eq!(s.repurchase_auc_p_alive, Some(1.0));
/// assert_eq!(s.by_calibration_frequency.len(), 8);
/// assert_eq!(s.by_calibration_frequency[7].label, "7+");
/// ```
pub fn evaluate(
    customers: &[HoldoutCustomer],
    holdout_days: f64,
) -> Result<HoldoutSummary, HoldoutError> {
    evaluate_with_frequency_tail(customers, holdout_days, DEFAULT_FREQUENCY_TAIL)
}

/// [`evaluate`] with the calibration-frequency table pooling `calibration_x ≥ frequency_tail`
/// into its last row (rows `0..frequency_tail` and `"{frequency_tail}+"`).
pub fn evaluate_with_frequency_tail(
    customers: &[HoldoutCustomer],
    holdout_days: f64,
    frequency_tail: usize,
) -> Result<HoldoutSummary, HoldoutError> {
    if !(holdout_days.is_finite() && holdout_days > 0.0) {
        return Err(HoldoutError::InvalidOption {
            field: "holdout_days",
            constraint: "must be finite and > 0",
        });
    }
    if !(1..=MAX_FREQUENCY_TAIL).contains(&frequency_tail) {
        return Err(HoldoutError::InvalidOption {
            field: "frequency_tail",
            constraint: "must be within [1, 1000]",
        });
    }
    if customers.is_empty() {
        return Err(HoldoutError::NoCustomers);
    }
    for (i, c) in customers.iter().enumerate() {
        c.validate(i)?;
    }
    let mut orders = ErrorSums::default();
    let mut spend = ErrorSums::default();
    for c in customers {
        orders.add(c.predicted_orders, c.actual_orders);
        spend.add(c.predicted_spend, c.actual_spend);
    }
    let n = customers.len();
    let bought: Vec<bool> = customers.iter().map(|c| c.actual_orders > 0.0).collect();
    let ranks = |f: fn(&HoldoutCustomer) -> f64| average_ranks(customers.iter().map(f));
    let predicted_orders = ranks(|c| c.predicted_orders);
    let actual_orders = ranks(|c| c.actual_orders);
    let predicted_spend = ranks(|c| c.predicted_spend);
    let actual_spend = ranks(|c| c.actual_spend);
    Ok(HoldoutSummary {
        customers: n,
        holdout_days,
        holdout_buyers: bought.iter().filter(|&&b| b).count(),
        orders: orders.accuracy(n, "orders")?,
        spend: spend.accuracy(n, "spend")?,
        repurchase_auc_p_alive: auc(&ranks(|c| c.p_alive), &bought),
        repurchase_auc_predicted_orders: auc(&predicted_orders, &bought),
        spearman_orders: spearman(&predicted_orders, &actual_orders),
        spearman_spend: spearman(&predicted_spend, &actual_spend),
        by_calibration_frequency: frequency_table(customers, frequency_tail)?,
    })
}

/// The holdout check per group: customer `i` is in group `groups[i]`, named
/// `names[groups[i]]`; one row per name, in `names` order, groups without customers included.
pub fn by_group(
    customers: &[HoldoutCustomer],
    groups: &[usize],
    names: &[String],
) -> Result<Vec<GroupRow>, HoldoutError> {
    if groups.len() != customers.len() {
        return Err(HoldoutError::LengthMismatch {
            what: "groups",
            expected: customers.len(),
            found: groups.len(),
        });
    }
    let mut sums = vec![GroupSums::default(); names.len()];
    for (i, (c, &g)) in customers.iter().zip(groups).enumerate() {
        c.validate(i)?;
        let Some(s) = sums.get_mut(g) else {
            return Err(HoldoutError::GroupOutOfRange {
                index: i,
                group: g,
                groups: names.len(),
            });
        };
        s.add(c);
    }
    names
        .iter()
        .zip(&sums)
        .map(|(name, s)| s.row(name))
        .collect()
}

/// Running sums of one quantity's predictions, actuals and errors.
#[derive(Debug, Default)]
struct ErrorSums {
    predicted: f64,
    actual: f64,
    absolute_error: f64,
    squared_error: f64,
}

impl ErrorSums {
    fn add(&mut self, predicted: f64, actual: f64) {
        let e = predicted - actual;
        self.predicted += predicted;
        self.actual += actual;
        self.absolute_error += e.abs();
        self.squared_error += e * e;
    }

    /// The totals over `n > 0` customers.
    fn accuracy(&self, n: usize, what: &'static str) -> Result<Accuracy, HoldoutError> {
        let n = n as f64;
        let check = |statistic, v: f64| finite(what, statistic, v);
        Ok(Accuracy {
            predicted_total: check("predicted_total", self.predicted)?,
            actual_total: check("actual_total", self.actual)?,
            predicted_mean: check("predicted_mean", self.predicted / n)?,
            actual_mean: check("actual_mean", self.actual / n)?,
            relative_error: relative_error(self.predicted, self.actual)
                .map(|v| check("relative_error", v))
                .transpose()?,
            mean_absolute_error: check("mean_absolute_error", self.absolute_error / n)?,
            rmse: check("rmse", (self.squared_error / n).sqrt())?,
        })
    }
}

/// Running sums of one group.
#[derive(Debug, Default, Clone)]
struct GroupSums {
    customers: usize,
    buyers: usize,
    p_alive: f64,
    predicted_orders: f64,
    actual_orders: f64,
    predicted_spend: f64,
    actual_spend: f64,
}

impl GroupSums {
    fn add(&mut self, c: &HoldoutCustomer) {
        self.customers += 1;
        self.buyers += usize::from(c.actual_orders > 0.0);
        self.p_alive += c.p_alive;
        self.predicted_orders += c.predicted_orders;
        self.actual_orders += c.actual_orders;
        self.predicted_spend += c.predicted_spend;
        self.actual_spend += c.actual_spend;
    }

    fn row(&self, name: &str) -> Result<GroupRow, HoldoutError> {
        let n = self.customers;
        let check = |statistic, v: Option<f64>| v.map(|v| finite("by_group", statistic, v));
        Ok(GroupRow {
            group: name.to_string(),
            customers: n,
            mean_predicted_orders: check("mean_predicted_orders", mean(self.predicted_orders, n))
                .transpose()?,
            mean_actual_orders: check("mean_actual_orders", mean(self.actual_orders, n))
                .transpose()?,
            mean_predicted_spend: check("mean_predicted_spend", mean(self.predicted_spend, n))
                .transpose()?,
            mean_actual_spend: check("mean_actual_spend", mean(self.actual_spend, n))
                .transpose()?,
            repurchase_share: mean(self.buyers as f64, n),
            mean_p_alive: mean(self.p_alive, n),
            orders_relative_error: check(
                "orders_relative_error",
                relative_error(self.predicted_orders, self.actual_orders),
            )
            .transpose()?,
            spend_relative_error: check(
                "spend_relative_error",
                relative_error(self.predicted_spend, self.actual_spend),
            )
            .transpose()?,
        })
    }
}

/// Mean actual and predicted holdout orders by calibration frequency, `x ≥ tail` pooled.
fn frequency_table(
    customers: &[HoldoutCustomer],
    tail: usize,
) -> Result<Vec<FrequencyRow>, HoldoutError> {
    // (customers, Σ actual, Σ predicted) per row; `as usize` saturates, then min pools.
    let mut sums = vec![(0_usize, 0.0_f64, 0.0_f64); tail + 1];
    for c in customers {
        let s = &mut sums[(c.calibration_x as usize).min(tail)];
        s.0 += 1;
        s.1 += c.actual_orders;
        s.2 += c.predicted_orders;
    }
    let check = |statistic, v: Option<f64>| {
        v.map(|v| finite("by_calibration_frequency", statistic, v))
            .transpose()
    };
    sums.iter()
        .enumerate()
        .map(|(x, &(n, actual, predicted))| {
            Ok(FrequencyRow {
                label: if x == tail {
                    format!("{x}+")
                } else {
                    x.to_string()
                },
                calibration_x: x,
                pooled: x == tail,
                customers: n,
                mean_actual_orders: check("mean_actual_orders", mean(actual, n))?,
                mean_predicted_orders: check("mean_predicted_orders", mean(predicted, n))?,
            })
        })
        .collect()
}

/// `sum / n`, `None` for `n = 0`.
fn mean(sum: f64, n: usize) -> Option<f64> {
    (n > 0).then(|| sum / n as f64)
}

/// (predicted − actual) / actual, `None` for `actual = 0` (actual ≥ 0 here).
fn relative_error(predicted: f64, actual: f64) -> Option<f64> {
    (actual > 0.0).then(|| (predicted - actual) / actual)
}

fn finite(what: &'static str, statistic: &'static str, v: f64) -> Result<f64, HoldoutError> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(HoldoutError::NonFinite { what, statistic })
    }
}

/// 1-based ranks of finite `values`, tied values sharing the mean of their positions.
fn average_ranks(values: impl Iterator<Item = f64>) -> Vec<f64> {
    // `+ 0.0` turns −0.0 into 0.0, which `total_cmp` would otherwise order before it.
    let mut order: Vec<(f64, usize)> = values.map(|v| v + 0.0).zip(0..).collect();
    order.par_sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let mut ranks = vec![0.0; order.len()];
    let mut start = 0;
    while start < order.len() {
        let value = order[start].0;
        let end = start + order[start..].partition_point(|&(v, _)| v == value);
        // Mean of the positions start + 1 ..= end.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &(_, i) in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

/// Mann–Whitney AUC: P(score of a positive > score of a negative), ties counting ½, from the
/// average ranks of the scores; `None` unless there are both positives and negatives.
fn auc(ranks: &[f64], positive: &[bool]) -> Option<f64> {
    let (mut n1, mut rank_sum) = (0_usize, 0.0);
    for (&r, &p) in ranks.iter().zip(positive) {
        if p {
            n1 += 1;
            rank_sum += r;
        }
    }
    let n0 = ranks.len() - n1;
    if n1 == 0 || n0 == 0 {
        return None;
    }
    let (n1, n0) = (n1 as f64, n0 as f64);
    Some(((rank_sum - n1 * (n1 + 1.0) / 2.0) / (n1 * n0)).clamp(0.0, 1.0))
}

/// Spearman's ρ from two average-rank vectors: their Pearson correlation; `None` when either
/// side is constant (all ranks tied).
fn spearman(a: &[f64], b: &[f64]) -> Option<f64> {
    // Average ranks of n values always have the mean (n + 1) / 2.
    let m = (a.len() as f64 + 1.0) / 2.0;
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (dx, dy) = (x - m, y - m);
        ab += dx * dy;
        aa += dx * dx;
        bb += dy * dy;
    }
    (aa > 0.0 && bb > 0.0).then(|| (ab / (aa.sqrt() * bb.sqrt())).clamp(-1.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use rand::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn customer(x: f64, p_alive: f64, po: f64, ao: f64, ps: f64, sa: f64) -> HoldoutCustomer {
        HoldoutCustomer {
            calibration_x: x,
            p_alive,
            predicted_orders: po,
            actual_orders: ao,
            predicted_spend: ps,
            actual_spend: sa,
        }
    }

    /// Three customers whose statistics are worked out by hand in the tests.
    fn three() -> Vec<HoldoutCustomer> {
        vec![
            customer(0.0, 0.2, 0.5, 0.0, 10.0, 0.0),
            customer(1.0, 0.6, 1.0, 2.0, 30.0, 50.0),
            customer(3.0, 0.9, 2.5, 1.0, 60.0, 40.0),
        ]
    }

    /// Seeded customers with many ties in every field.
    fn random_customers(n: usize, seed: u64) -> Vec<HoldoutCustomer> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                let po = rng.gen_range(0..8) as f64 * 0.5;
                let ao = (rng.gen_range(0..4_u32).max(1) - 1) as f64;
                customer(
                    rng.gen_range(0..10) as f64,
                    rng.gen_range(0..=10) as f64 / 10.0,
                    po,
                    ao,
                    po * 20.0,
                    ao * rng.gen_range(0..5) as f64 * 10.0,
                )
            })
            .collect()
    }

    /// P(positive scores higher) over all positive–negative pairs, ties ½.
    fn pairwise_auc(scores: &[f64], positive: &[bool]) -> f64 {
        let (mut wins, mut pairs) = (0.0, 0.0);
        for (&si, _) in scores.iter().zip(positive).filter(|&(_, &p)| p) {
            for (&sj, _) in scores.iter().zip(positive).filter(|&(_, &p)| !p) {
                pairs += 1.0;
                if si > sj {
                    wins += 1.0;
                } else if si == sj {
                    wins += 0.5;
                }
            }
        }
        wins / pairs
    }

    /// Average ranks by counting: `less` values below, `equal` values tied (itself included).
    fn counted_ranks(v: &[f64]) -> Vec<f64> {
        v.iter()
            .map(|&a| {
                let less = v.iter().filter(|&&b| b < a).count() as f64;
                let equal = v.iter().filter(|&&b| b == a).count() as f64;
                less + (equal + 1.0) / 2.0
            })
            .collect()
    }

    fn pearson(a: &[f64], b: &[f64]) -> f64 {
        let n = a.len() as f64;
        let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
        let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
        let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
        let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
        cov / (va * vb).sqrt()
    }

    #[test]
    fn auc_matches_the_pairwise_count_with_ties() {
        let data = random_customers(600, 7);
        let bought: Vec<bool> = data.iter().map(|c| c.actual_orders > 0.0).collect();
        let p_alive: Vec<f64> = data.iter().map(|c| c.p_alive).collect();
        let predicted: Vec<f64> = data.iter().map(|c| c.predicted_orders).collect();
        let s = evaluate(&data, 90.0).unwrap();
        assert!(s.holdout_buyers > 100 && s.holdout_buyers < 500);
        assert_relative_eq!(
            s.repurchase_auc_p_alive.unwrap(),
            pairwise_auc(&p_alive, &bought),
            max_relative = 1e-12
        );
        assert_relative_eq!(
            s.repurchase_auc_predicted_orders.unwrap(),
            pairwise_auc(&predicted, &bought),
            max_relative = 1e-12
        );
    }

    #[test]
    fn spearman_is_the_pearson_correlation_of_average_ranks() {
        let mut data = random_customers(500, 11);
        // Correlate the actuals with the predictions so that ρ is far from 0.
        for c in data.iter_mut().step_by(2) {
            c.actual_orders = (c.predicted_orders * 0.8).round();
            c.actual_spend = c.predicted_spend * 0.9;
        }
        let field = |f: fn(&HoldoutCustomer) -> f64| data.iter().map(f).collect::<Vec<_>>();
        let want = |p: Vec<f64>, a: Vec<f64>| pearson(&counted_ranks(&p), &counted_ranks(&a));
        let want_orders = want(field(|c| c.predicted_orders), field(|c| c.actual_orders));
        let want_spend = want(field(|c| c.predicted_spend), field(|c| c.actual_spend));
        assert!(want_orders > 0.3 && want_spend > 0.3);
        let s = evaluate(&data, 90.0).unwrap();
        assert_relative_eq!(
            s.spearman_orders.unwrap(),
            want_orders,
            max_relative = 1e-12
        );
        assert_relative_eq!(s.spearman_spend.unwrap(), want_spend, max_relative = 1e-12);
    }

    #[test]
    fn spearman_without_ties_is_the_textbook_value() {
        let predicted = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let actual = [2.0, 1.0, 4.0, 3.0, 6.0, 5.0];
        let data: Vec<_> = predicted
            .iter()
            .zip(&actual)
            .map(|(&p, &a)| customer(1.0, 0.5, p, a, 10.0 * p, 7.0 * a))
            .collect();
        // d = ±1 for every customer: 1 − 6·6 / (6·35) = 29/35.
        let n = 6.0;
        let want = 1.0 - 6.0 * 6.0 / (n * (n * n - 1.0));
        let s = evaluate(&data, 90.0).unwrap();
        assert_relative_eq!(s.spearman_orders.unwrap(), want, max_relative = 1e-12);
        assert_relative_eq!(s.spearman_spend.unwrap(), want, max_relative = 1e-12);
        assert_relative_eq!(want, 29.0 / 35.0, max_relative = 1e-15);
    }

    #[test]
    fn average_ranks_share_ties_and_treat_negative_zero_as_zero() {
        let v = [3.0, -0.0, 1.0, 0.0, 3.0, 3.0];
        let got = average_ranks(v.iter().copied());
        assert_eq!(got, vec![5.0, 1.5, 3.0, 1.5, 5.0, 5.0]);
        assert_eq!(got, counted_ranks(&v));
    }

    #[test]
    fn totals_match_a_hand_computation() {
        let s = evaluate(&three(), 120.0).unwrap();
        assert_eq!(
            (s.customers, s.holdout_buyers, s.holdout_days),
            (3, 2, 120.0)
        );
        let o = &s.orders;
        assert_relative_eq!(o.predicted_total, 4.0);
        assert_relative_eq!(o.actual_total, 3.0);
        assert_relative_eq!(o.predicted_mean, 4.0 / 3.0, max_relative = 1e-15);
        assert_relative_eq!(o.actual_mean, 1.0);
        assert_relative_eq!(o.relative_error.unwrap(), 1.0 / 3.0, max_relative = 1e-15);
        // |errors| 0.5, 1, 1.5; squares 0.25, 1, 2.25.
        assert_relative_eq!(o.mean_absolute_error, 1.0, max_relative = 1e-15);
        assert_relative_eq!(o.rmse, (3.5_f64 / 3.0).sqrt(), max_relative = 1e-15);
        let m = &s.spend;
        assert_relative_eq!(m.predicted_total, 100.0);
        assert_relative_eq!(m.actual_total, 90.0);
        assert_relative_eq!(m.relative_error.unwrap(), 10.0 / 90.0, max_relative = 1e-15);
        // |errors| 10, 20, 20.
        assert_relative_eq!(m.mean_absolute_error, 50.0 / 3.0, max_relative = 1e-15);
        assert_relative_eq!(m.rmse, 300.0_f64.sqrt(), max_relative = 1e-15);
        assert_eq!(s.repurchase_auc_p_alive, Some(1.0));
        assert_eq!(s.repurchase_auc_predicted_orders, Some(1.0));
        // Ranks (1, 2, 3) vs (1, 3, 2): Σd² = 2, ρ = 1 − 12/24.
        assert_relative_eq!(s.spearman_orders.unwrap(), 0.5, max_relative = 1e-12);
        assert_relative_eq!(s.spearman_spend.unwrap(), 0.5, max_relative = 1e-12);
    }

    fn frequency_data() -> Vec<HoldoutCustomer> {
        let x = [0.0, 0.0, 1.0, 3.0, 7.0, 9.0, 12.0];
        let actual = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let predicted = [0.5, 0.5, 1.0, 2.0, 3.0, 4.0, 8.0];
        (0..x.len())
            .map(|i| customer(x[i], 0.5, predicted[i], actual[i], 0.0, 0.0))
            .collect()
    }

    fn row(s: &HoldoutSummary, i: usize) -> (&str, usize, bool, usize, Option<f64>, Option<f64>) {
        let r = &s.by_calibration_frequency[i];
        let (a, p) = (r.mean_actual_orders, r.mean_predicted_orders);
        (&r.label, r.calibration_x, r.pooled, r.customers, a, p)
    }

    #[test]
    fn frequency_table_pools_the_tail_from_seven() {
        let s = evaluate(&frequency_data(), 90.0).unwrap();
        assert_eq!(s.by_calibration_frequency.len(), 8);
        assert_eq!(row(&s, 0), ("0", 0, false, 2, Some(0.5), Some(0.5)));
        assert_eq!(row(&s, 1), ("1", 1, false, 1, Some(2.0), Some(1.0)));
        assert_eq!(row(&s, 2), ("2", 2, false, 0, None, None));
        assert_eq!(row(&s, 3), ("3", 3, false, 1, Some(3.0), Some(2.0)));
        for i in 4..7 {
            assert_eq!(s.by_calibration_frequency[i].customers, 0);
        }
        assert_eq!(row(&s, 7), ("7+", 7, true, 3, Some(5.0), Some(5.0)));
    }

    #[test]
    fn frequency_tail_is_a_parameter() {
        let s = evaluate_with_frequency_tail(&frequency_data(), 90.0, 2).unwrap();
        assert_eq!(s.by_calibration_frequency.len(), 3);
        assert_eq!(row(&s, 0), ("0", 0, false, 2, Some(0.5), Some(0.5)));
        assert_eq!(row(&s, 1), ("1", 1, false, 1, Some(2.0), Some(1.0)));
        assert_eq!(row(&s, 2), ("2+", 2, true, 4, Some(4.5), Some(4.25)));
    }

    #[test]
    fn by_group_matches_a_hand_computed_example() {
        let mut data = three();
        data.push(customer(2.0, 0.5, 1.5, 0.0, 45.0, 0.0));
        let names: Vec<String> = ["a", "b", "empty", "c"].map(String::from).to_vec();
        let rows = by_group(&data, &[0, 0, 3, 1], &names).unwrap();
        let names_out: Vec<&str> = rows.iter().map(|r| r.group.as_str()).collect();
        assert_eq!(names_out, ["a", "b", "empty", "c"]);
        let values = |r: &GroupRow| {
            [
                r.mean_predicted_orders,
                r.mean_actual_orders,
                r.mean_predicted_spend,
                r.mean_actual_spend,
                r.repurchase_share,
                r.mean_p_alive,
                r.orders_relative_error,
                r.spend_relative_error,
            ]
        };
        let want: [(usize, [Option<f64>; 8]); 4] = [
            // a: customers 0 and 1; (1.5 − 2)/2 and (40 − 50)/50.
            (2, [0.75, 1.0, 20.0, 25.0, 0.5, 0.4, -0.25, -0.2].map(Some)),
            // b: customer 3, no holdout purchase.
            (
                1,
                [
                    Some(1.5),
                    Some(0.0),
                    Some(45.0),
                    Some(0.0),
                    Some(0.0),
                    Some(0.5),
                    None,
                    None,
                ],
            ),
            (0, [None; 8]),
            // c: customer 2; (2.5 − 1)/1 and (60 − 40)/40.
            (1, [2.5, 1.0, 60.0, 40.0, 1.0, 0.9, 1.5, 0.5].map(Some)),
        ];
        for (r, (customers, want)) in rows.iter().zip(want) {
            assert_eq!(r.customers, customers, "{}", r.group);
            for (got, want) in values(r).into_iter().zip(want) {
                assert_eq!(got.is_some(), want.is_some(), "{}", r.group);
                if let (Some(g), Some(w)) = (got, want) {
                    assert_relative_eq!(g, w, max_relative = 1e-12);
                }
            }
        }
    }

    #[test]
    fn undefined_statistics_are_none() {
        // Everyone bought: no negatives for the AUC.
        let all = vec![
            customer(1.0, 0.4, 1.0, 1.0, 9.0, 10.0),
            customer(2.0, 0.8, 2.0, 3.0, 19.0, 30.0),
        ];
        let s = evaluate(&all, 90.0).unwrap();
        assert_eq!(s.repurchase_auc_p_alive, None);
        assert_eq!(s.repurchase_auc_predicted_orders, None);
        assert!(s.spearman_orders.is_some() && s.orders.relative_error.is_some());
        // Nobody bought: no positives, actual sides constant, no actual totals.
        let none = vec![
            customer(1.0, 0.4, 1.0, 0.0, 9.0, 0.0),
            customer(2.0, 0.8, 2.0, 0.0, 19.0, 0.0),
        ];
        let s = evaluate(&none, 90.0).unwrap();
        assert_eq!(s.repurchase_auc_p_alive, None);
        assert_eq!(s.repurchase_auc_predicted_orders, None);
        assert_eq!((s.spearman_orders, s.spearman_spend), (None, None));
        assert_eq!(s.orders.relative_error, None);
        assert_eq!(s.spend.relative_error, None);
        // Constant predictions.
        let flat = vec![
            customer(1.0, 0.5, 1.0, 0.0, 9.0, 0.0),
            customer(2.0, 0.5, 1.0, 2.0, 9.0, 30.0),
        ];
        let s = evaluate(&flat, 90.0).unwrap();
        assert_eq!((s.spearman_orders, s.spearman_spend), (None, None));
        assert_eq!(s.repurchase_auc_p_alive, Some(0.5));
        // One customer: constant on both sides.
        let s = evaluate(&all[..1], 90.0).unwrap();
        assert_eq!((s.spearman_orders, s.spearman_spend), (None, None));
    }

    #[test]
    fn summary_round_trips_through_json_without_nan() {
        let s = evaluate(&random_customers(50, 3), 90.0).unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert!(!json.contains("NaN") && !json.contains("inf"));
        let back: HoldoutSummary = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        let names = vec!["x".to_string(), "y".to_string()];
        let rows = by_group(&three(), &[0, 0, 0], &names).unwrap();
        let json = serde_json::to_string(&rows).unwrap();
        assert_eq!(serde_json::from_str::<Vec<GroupRow>>(&json).unwrap(), rows);
    }

    #[test]
    fn invalid_customer_fields_name_the_index_and_field() {
        let ok = customer(1.0, 0.5, 1.0, 1.0, 10.0, 10.0);
        assert!(ok.validate(0).is_ok());
        type Edit = fn(&mut HoldoutCustomer);
        let cases: [(Edit, &str); 12] = [
            (|c| c.calibration_x = -1.0, "calibration_x"),
            (|c| c.calibration_x = 1.5, "calibration_x"),
            (|c| c.calibration_x = f64::INFINITY, "calibration_x"),
            (|c| c.p_alive = 1.01, "p_alive"),
            (|c| c.p_alive = f64::NAN, "p_alive"),
            (|c| c.predicted_orders = -0.1, "predicted_orders"),
            (|c| c.predicted_orders = f64::NAN, "predicted_orders"),
            (|c| c.actual_orders = 0.5, "actual_orders"),
            (|c| c.actual_orders = -2.0, "actual_orders"),
            (|c| c.predicted_spend = f64::NEG_INFINITY, "predicted_spend"),
            (|c| c.actual_spend = -5.0, "actual_spend"),
            (|c| c.actual_spend = f64::NAN, "actual_spend"),
        ];
        for (edit, field) in cases {
            let mut data = vec![ok; 4];
            edit(&mut data[2]);
            for err in [
                evaluate(&data, 90.0).unwrap_err(),
                by_group(&data, &[0; 4], &["g".to_string()]).unwrap_err(),
            ] {
                assert!(
                    matches!(err, HoldoutError::InvalidCustomer { index: 2, field: f, .. } if f == field),
                    "{err}"
                );
            }
        }
    }

    #[test]
    fn groups_must_match_the_customers() {
        let err = by_group(&three(), &[0, 0], &["g".to_string()]).unwrap_err();
        assert_eq!(
            err,
            HoldoutError::LengthMismatch {
                what: "groups",
                expected: 3,
                found: 2
            }
        );
    }

    #[test]
    fn group_index_must_have_a_name() {
        let names = vec!["a".to_string(), "b".to_string()];
        let err = by_group(&three(), &[0, 2, 1], &names).unwrap_err();
        assert_eq!(
            err,
            HoldoutError::GroupOutOfRange {
                index: 1,
                group: 2,
                groups: 2
            }
        );
        assert!(by_group(&three(), &[0, 0, 0], &[]).is_err());
    }

    #[test]
    fn holdout_days_must_be_finite_and_positive() {
        for days in [0.0, -30.0, f64::NAN, f64::INFINITY] {
            let err = evaluate(&three(), days).unwrap_err();
            assert!(
                matches!(
                    err,
                    HoldoutError::InvalidOption {
                        field: "holdout_days",
                        ..
                    }
                ),
                "{err}"
            );
        }
    }

    #[test]
    fn frequency_tail_must_be_within_range() {
        for tail in [0, MAX_FREQUENCY_TAIL + 1] {
            let err = evaluate_with_frequency_tail(&three(), 90.0, tail).unwrap_err();
            assert!(
                matches!(
                    err,
                    HoldoutError::InvalidOption {
                        field: "frequency_tail",
                        ..
                    }
                ),
                "{err}"
            );
        }
        assert!(evaluate_with_frequency_tail(&three(), 90.0, MAX_FREQUENCY_TAIL).is_ok());
    }

    #[test]
    fn no_customers_is_an_error() {
        assert_eq!(evaluate(&[], 90.0), Err(HoldoutError::NoCustomers));
        // Grouping nothing is fine: every group is empty.
        let rows = by_group(&[], &[], &["a".to_string()]).unwrap();
        assert_eq!(rows[0].customers, 0);
        assert_eq!(rows[0].mean_p_alive, None);
    }

    #[test]
    fn overflowing_statistics_are_an_error() {
        let data = vec![customer(1.0, 0.5, 1e300, 1.0, 10.0, 10.0)];
        let err = evaluate(&data, 90.0).unwrap_err();
        assert_eq!(
            err,
            HoldoutError::NonFinite {
                what: "orders",
                statistic: "rmse"
            }
        );
        let data = vec![customer(1.0, 0.5, 1.0, 1.0, f64::MAX, 10.0); 2];
        let err = by_group(&data, &[0, 0], &["g".to_string()]).unwrap_err();
        assert_eq!(
            err,
            HoldoutError::NonFinite {
                what: "by_group",
                statistic: "mean_predicted_spend"
            }
        );
    }

    #[test]
    fn a_million_customers_take_one_pass_and_five_sorts() {
        // An O(n²) step would not finish; O(n log n) takes well under a second in release.
        let data = random_customers(1_000_000, 5);
        let s = evaluate(&data, 90.0).unwrap();
        assert_eq!(s.customers, 1_000_000);
        let groups: Vec<usize> = (0..data.len()).map(|i| i % 3).collect();
        let names = ["a", "b", "c"].map(String::from);
        let rows = by_group(&data, &groups, &names).unwrap();
        let total: usize = rows.iter().map(|r| r.customers).sum();
        assert_eq!(total, 1_000_000);
    }
}
