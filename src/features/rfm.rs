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
/// let t = |day, amount| Txn { day, amount, order: None };
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

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    fn t(day: i32, amount: f64, order: Option<&str>) -> Txn {
        Txn {
            day,
            amount,
            order: order.map(order_key),
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
}
