//! Recency, frequency, monetary value, average order value and tenure of one customer as of
//! a date. This is a pure function of the customer's transactions so the trainer and the
//! HTTP scorer compute features identically.
//!
//! Definitions (all as of `as_of`, a day number; transactions on or after `as_of` are
//! ignored, and so are those older than `window_days` when a window is set):
//! - purchases are transactions with amount ≥ 0; returns (amount < 0) only reduce monetary
//!   (the row rules of [`crate::data::rows`] decide what a transaction is);
//! - `recency_days` = as_of − day of the last purchase;
//! - `frequency` = distinct order ids among purchases, or distinct purchase days when the
//!   log has no order id;
//! - `monetary` = sum of all amounts (purchases minus returns);
//! - `avg_order_value` = monetary / frequency;
//! - `tenure_days` = as_of − day of the first purchase.

pub use crate::data::rows::{order_key, Txn};

/// The RFM feature names, in model order.
pub const RFM_FEATURES: [&str; 5] = [
    "recency_days",
    "frequency",
    "monetary",
    "avg_order_value",
    "tenure_days",
];

/// A customer's RFM features.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rfm {
    pub recency_days: f64,
    pub frequency: f64,
    pub monetary: f64,
    pub avg_order_value: f64,
    pub tenure_days: f64,
}

impl Rfm {
    /// Values in [`RFM_FEATURES`] order.
    pub fn values(&self) -> [f64; 5] {
        [
            self.recency_days,
            self.frequency,
            self.monetary,
            self.avg_order_value,
            self.tenure_days,
        ]
    }
}

/// True when a transaction falls inside `[as_of − window_days, as_of)`.
pub fn in_window(day: i32, as_of: i32, window_days: Option<u32>) -> bool {
    day < as_of && window_days.is_none_or(|w| day >= as_of - w as i32)
}

/// Computes a customer's RFM features; `None` when the customer has no purchase in the
/// window (only returns, or nothing at all).
///
/// ```
/// use custseg::features::rfm::{compute_rfm, Txn};
/// let t = |day, amount| Txn { day, amount, order: None, minute: -1 };
/// let r = compute_rfm(&[t(10, 5.0), t(10, 5.0), t(20, 10.0), t(25, -4.0)], 30, None).unwrap();
/// assert_eq!((r.recency_days, r.frequency, r.monetary, r.tenure_days), (10.0, 2.0, 16.0, 20.0));
/// ```
pub fn compute_rfm(txns: &[Txn], as_of: i32, window_days: Option<u32>) -> Option<Rfm> {
    let mut first = i32::MAX;
    let mut last = i32::MIN;
    let mut monetary = 0.0;
    let mut keys: Vec<u64> = Vec::with_capacity(txns.len());
    for t in txns.iter().filter(|t| in_window(t.day, as_of, window_days)) {
        monetary += t.amount;
        if crate::data::rows::is_purchase(t.amount) {
            first = first.min(t.day);
            last = last.max(t.day);
            // Day keys live in a range order hashes practically never hit.
            keys.push(
                t.order
                    .map_or((t.day as u32 as u64) | (1 << 63), |o| o.get()),
            );
        }
    }
    if keys.is_empty() {
        return None;
    }
    keys.sort_unstable();
    keys.dedup();
    let frequency = keys.len() as f64;
    Some(Rfm {
        recency_days: f64::from(as_of - last),
        frequency,
        monetary,
        avg_order_value: monetary / frequency,
        tenure_days: f64::from(as_of - first),
    })
}

/// A customer's purchase summary for the value models ([`crate::value::Rfm`]), in the
/// conventions of lifetimes' `summary_data_from_transaction_data(freq="D")` with the
/// observation ending the day before `as_of`, over the same transactions as [`compute_rfm`]
/// (the window, purchases only):
/// - `x` = distinct purchase days − 1 (repeat purchase days);
/// - `t_x` = last purchase day − first purchase day;
/// - `t` = (as_of − 1) − first purchase day;
/// - `m` = mean over the repeat purchase days (all but the first) of the day's purchases
///   (0 when `x` = 0). Returns are not orders: they reduce `monetary`, not `m`.
///
/// `None` when the customer has no purchase in the window.
///
/// ```
/// use custseg::features::rfm::{purchase_summary, Txn};
/// let t = |day, amount| Txn { day, amount, order: None, minute: -1 };
/// let s = purchase_summary(&[t(10, 5.0), t(10, 5.0), t(20, 10.0), t(25, 4.0), t(26, -1.0)], 30, None)
///     .unwrap();
/// assert_eq!((s.x, s.t_x, s.t, s.m), (2.0, 15.0, 19.0, 7.0));
/// ```
pub fn purchase_summary(
    txns: &[Txn],
    as_of: i32,
    window_days: Option<u32>,
) -> Option<crate::value::Rfm> {
    let mut days: Vec<(i32, f64)> = txns
        .iter()
        .filter(|t| {
            in_window(t.day, as_of, window_days) && crate::data::rows::is_purchase(t.amount)
        })
        .map(|t| (t.day, t.amount))
        .collect();
    if days.is_empty() {
        return None;
    }
    // Stable: a day's amounts are added in file order whatever the thread count.
    days.sort_by_key(|d| d.0);
    let first = days[0].0;
    let mut last = first;
    let (mut repeat_days, mut repeat_total) = (0u32, 0.0);
    for &(day, amount) in &days {
        if day != first {
            if day != last {
                repeat_days += 1;
            }
            repeat_total += amount;
        }
        last = day;
    }
    let x = f64::from(repeat_days);
    Some(crate::value::Rfm {
        x,
        t_x: f64::from(last - first),
        t: f64::from(as_of - 1 - first),
        m: if repeat_days == 0 {
            0.0
        } else {
            repeat_total / x
        },
    })
}

/// The per-customer value columns of `assignments.csv` and batch scores, in order.
pub const VALUE_COLUMNS: [&str; 5] = [
    "p_alive",
    "expected_orders",
    "expected_spend_per_order",
    "predicted_clv",
    "expected_next_order",
];

/// Day of the expected next order of a customer whose observation ends the day before
/// `as_of`: the median wait counted from the end of that day, on or after `as_of`; `None`
/// when the customer is more likely gone than not or the wait is over a century.
pub fn next_order_day(as_of: i32, v: &crate::value::CustomerValue) -> Option<i32> {
    let w = v.next_order_in_days?;
    (w <= 36_500.0).then(|| as_of + (w.ceil() as i32 - 1).max(0))
}

/// [`VALUE_COLUMNS`]' cells of one customer (8 significant digits, the date ISO; no date
/// without an as-of).
pub fn value_cells(as_of: Option<i32>, v: &crate::value::CustomerValue) -> [String; 5] {
    let mut cells: [String; 5] = Default::default();
    let mut at = 0;
    each_value_cell(as_of, v, &mut String::new(), |c| {
        cells[at] = c.to_string();
        at += 1;
    });
    cells
}

/// [`value_cells`] one after the other, formatted in `buffer`.
pub fn each_value_cell(
    as_of: Option<i32>,
    v: &crate::value::CustomerValue,
    buffer: &mut String,
    mut cell: impl FnMut(&str),
) {
    for x in [
        v.p_alive,
        v.expected_orders,
        v.expected_spend_per_order,
        v.predicted_clv,
    ] {
        buffer.clear();
        crate::data::csv_out::significant_to(buffer, x, 8);
        cell(buffer);
    }
    match as_of.and_then(|d| next_order_day(d, v)) {
        Some(day) => cell(&crate::data::dates::format_day(day)),
        None => cell(""),
    }
}

/// What a customer did in the holdout `[from, to)`: distinct purchase days and net spend
/// (purchases minus returns), the actuals a holdout check compares predictions with.
pub fn holdout_actuals(txns: &[Txn], from: i32, to: i32) -> (f64, f64) {
    let mut days: Vec<i32> = Vec::new();
    let mut spend = 0.0;
    for t in txns.iter().filter(|t| t.day >= from && t.day < to) {
        spend += t.amount;
        if crate::data::rows::is_purchase(t.amount) {
            days.push(t.day);
        }
    }
    days.sort_unstable();
    days.dedup();
    (days.len() as f64, spend)
}

/// The purchase summary implied by RFM features alone, for customers scored from features
/// (no transactions): `x` = frequency − 1, `t_x` = tenure − recency, `t` = tenure − 1 and
/// `m` = avg_order_value. It equals [`purchase_summary`] when every order is on its own day
/// and the first order is worth the mean; `None` for values no transaction log can give.
pub fn summary_from_features(
    recency_days: f64,
    frequency: f64,
    tenure_days: f64,
    avg_order_value: f64,
) -> Option<crate::value::Rfm> {
    let given = [recency_days, frequency, tenure_days, avg_order_value];
    if !given.iter().all(|v| v.is_finite()) || frequency < 1.0 {
        return None;
    }
    let s = crate::value::Rfm {
        x: (frequency - 1.0).max(0.0).round(),
        t_x: (tenure_days - recency_days).max(0.0),
        t: (tenure_days - 1.0).max(0.0),
        m: avg_order_value.max(0.0),
    };
    let s = if s.x == 0.0 {
        crate::value::Rfm {
            t_x: 0.0,
            m: 0.0,
            ..s
        }
    } else {
        crate::value::Rfm {
            t_x: s.t_x.min(s.t),
            ..s
        }
    };
    s.validate(0).ok().map(|_| s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    fn t(day: i32, amount: f64, order: Option<&str>) -> Txn {
        Txn {
            day,
            amount,
            order: order.map(order_key),
            minute: -1,
        }
    }

    #[test]
    fn counts_distinct_orders_and_nets_returns() {
        let txns = [
            t(100, 10.0, Some("A")),
            t(100, 5.0, Some("A")),
            t(105, 20.0, Some("B")),
            t(107, -5.0, Some("C")),
        ];
        let r = compute_rfm(&txns, 110, None).unwrap();
        assert_abs_diff_eq!(r.recency_days, 5.0);
        assert_abs_diff_eq!(r.frequency, 2.0);
        assert_abs_diff_eq!(r.monetary, 30.0);
        assert_abs_diff_eq!(r.avg_order_value, 15.0);
        assert_abs_diff_eq!(r.tenure_days, 10.0);
    }

    #[test]
    fn ignores_transactions_on_or_after_as_of_and_outside_window() {
        let txns = [t(10, 1.0, None), t(50, 2.0, None), t(60, 4.0, None)];
        let r = compute_rfm(&txns, 60, Some(20)).unwrap();
        assert_abs_diff_eq!(r.frequency, 1.0);
        assert_abs_diff_eq!(r.monetary, 2.0);
        assert_abs_diff_eq!(r.tenure_days, 10.0);
    }

    #[test]
    fn only_returns_is_no_customer() {
        assert_eq!(compute_rfm(&[t(10, -3.0, None)], 20, None), None);
        assert_eq!(compute_rfm(&[], 20, None), None);
    }

    #[test]
    fn purchase_summary_counts_repeat_days_and_excludes_the_first_day() {
        let txns = [
            t(100, 10.0, Some("A")),
            t(100, 5.0, Some("B")),
            t(104, 20.0, Some("C")),
            t(104, 4.0, Some("D")),
            t(107, -5.0, Some("E")),
            t(109, 6.0, None),
            t(120, 50.0, None),
        ];
        let s = purchase_summary(&txns, 115, None).unwrap();
        assert_abs_diff_eq!(s.x, 2.0);
        assert_abs_diff_eq!(s.t_x, 9.0);
        assert_abs_diff_eq!(s.t, 14.0);
        assert_abs_diff_eq!(s.m, 15.0);
        let single = purchase_summary(&txns[..2], 115, None).unwrap();
        assert_eq!((single.x, single.t_x, single.m), (0.0, 0.0, 0.0));
        assert_eq!(purchase_summary(&txns[4..5], 115, None), None);
        let windowed = purchase_summary(&txns, 115, Some(12)).unwrap();
        assert_eq!((windowed.x, windowed.t_x, windowed.t), (1.0, 5.0, 10.0));
    }

    #[test]
    fn holdout_actuals_count_days_and_net_the_spend() {
        let txns = [
            t(99, 7.0, None),
            t(100, 10.0, Some("A")),
            t(100, 5.0, Some("B")),
            t(103, -5.0, None),
            t(110, 1.0, None),
        ];
        assert_eq!(holdout_actuals(&txns, 100, 110), (1.0, 10.0));
        assert_eq!(holdout_actuals(&txns, 111, 120), (0.0, 0.0));
    }

    #[test]
    fn features_give_the_summary_of_one_order_per_day() {
        let txns = [t(100, 10.0, None), t(104, 20.0, None), t(109, 30.0, None)];
        let exact = purchase_summary(&txns, 115, None).unwrap();
        let r = compute_rfm(&txns, 115, None).unwrap();
        let approx = summary_from_features(
            r.recency_days,
            r.frequency,
            r.tenure_days,
            r.avg_order_value,
        )
        .unwrap();
        assert_eq!(
            (approx.x, approx.t_x, approx.t),
            (exact.x, exact.t_x, exact.t)
        );
        // The first order (10) is left out of the exact mean, not of avg_order_value.
        assert_abs_diff_eq!(exact.m, 25.0);
        assert_abs_diff_eq!(approx.m, 20.0);
        assert_eq!(
            summary_from_features(1.0, 1.0, 1.0, 5.0).map(|s| s.m),
            Some(0.0)
        );
        assert_eq!(summary_from_features(f64::NAN, 2.0, 1.0, 5.0), None);
    }
}
