//! Behaviour features of one customer beside RFM: what they buy, from where and how, from the
//! behaviour fields of their transactions ([`crate::data::rows::TxnBehaviour`]) and the time
//! of day their dates carry. Like [`super::rfm`] this is a pure function of the customer's
//! transactions, so the trainer, batch scoring and the HTTP scorer compute them identically.
//!
//! Definitions (as of `as_of`, over the transactions [`super::rfm::compute_rfm`] counts:
//! before `as_of` and inside the window). Purchases are lines with amount ≥ 0, returns the
//! others; an *order* is a distinct order id among purchases, or a purchase day when the line
//! has no order id (the `frequency` rule):
//! - `distinct_products` = distinct products among purchases (log maps `product`);
//! - `main_country` = the country (or region) with the largest purchase value, ties to the
//!   name first in byte order (log maps `country`); categorical;
//! - `discount_share` = orders with at least one discounted purchase line / orders (log maps
//!   `discount`);
//! - `return_rate` = returned value / purchased value (the log has returns; 0 without
//!   purchases' value; not capped at 1, as returns may be of earlier purchases);
//! - `weekend_share` = orders whose first line falls on a Saturday or Sunday / orders (the
//!   log's dates carry times, so they are timestamps rather than booking days).

use super::rfm::{in_window, Txn};
use super::RawValue;
use crate::data::rows::{is_purchase, Levels, TxnBehaviour};

/// The numeric behaviour features, in model order.
pub const NUMERIC: [&str; 4] = [
    "distinct_products",
    "discount_share",
    "return_rate",
    "weekend_share",
];

/// The categorical behaviour feature.
pub const MAIN_COUNTRY: &str = "main_country";

/// What a log offers for behaviour features.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Offered {
    pub product: bool,
    pub country: bool,
    pub discount: bool,
    pub returns: bool,
    pub times: bool,
}

impl Offered {
    /// The behaviour features these inputs give, in model order.
    pub fn features(self) -> Vec<&'static str> {
        let on = [self.product, self.discount, self.returns, self.times];
        let mut out: Vec<&'static str> = NUMERIC
            .iter()
            .zip(on)
            .filter_map(|(n, on)| on.then_some(*n))
            .collect();
        if self.country {
            out.push(MAIN_COUNTRY);
        }
        out
    }
}

/// True for the name of a behaviour feature.
pub fn is_behaviour_feature(name: &str) -> bool {
    NUMERIC.contains(&name) || name == MAIN_COUNTRY
}

/// One customer's behaviour features.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Behaviour {
    pub distinct_products: f64,
    pub discount_share: f64,
    pub return_rate: f64,
    pub weekend_share: f64,
    /// `None` when no purchase names a country.
    pub main_country: Option<String>,
}

impl Behaviour {
    /// Feature `name`'s value ([`RawValue::Missing`] for a name that is not one).
    pub fn value(&self, name: &str) -> RawValue {
        match name {
            "distinct_products" => RawValue::Num(self.distinct_products),
            "discount_share" => RawValue::Num(self.discount_share),
            "return_rate" => RawValue::Num(self.return_rate),
            "weekend_share" => RawValue::Num(self.weekend_share),
            MAIN_COUNTRY => self
                .main_country
                .clone()
                .map_or(RawValue::Missing, RawValue::Text),
            _ => RawValue::Missing,
        }
    }
}

/// A transaction feature's value: an RFM feature from `rfm`, a behaviour feature from
/// `behaviour` (missing without one). The one place scoring maps names to these values.
pub fn transaction_value(
    name: &str,
    rfm: &super::rfm::Rfm,
    behaviour: Option<&Behaviour>,
) -> RawValue {
    match super::rfm::RFM_FEATURES.iter().position(|n| *n == name) {
        Some(j) => RawValue::Num(rfm.values()[j]),
        None => behaviour.map_or(RawValue::Missing, |b| b.value(name)),
    }
}

/// True when `spec` has a behaviour feature from transactions.
pub fn uses_behaviour(spec: &super::FeatureSpec) -> bool {
    spec.features
        .iter()
        .any(|f| f.source == super::Source::Transactions && is_behaviour_feature(&f.name))
}

/// Saturday or Sunday (day 0, 1970-01-01, was a Thursday).
fn is_weekend(day: i32) -> bool {
    (day + 3).rem_euclid(7) >= 5
}

/// A customer's behaviour features; `behaviour` holds one entry per transaction, or none when
/// the customer's lines carry no behaviour fields. `None` without a purchase in the window.
///
/// ```
/// use custseg::data::rows::{Levels, TxnBehaviour, Txn};
/// use custseg::features::behaviour::compute;
/// let t = |day, amount| Txn { day, amount, order: None, minute: 600 };
/// let b = |country, product, discount| TxnBehaviour { levels: [0, 0, country], product, discount };
/// let levels = Levels { names: [vec![], vec![], vec!["France".into(), "Germany".into()]] };
/// // Day 2 (1970-01-03) is a Saturday, day 4 a Monday.
/// let txns = [t(2, 10.0), t(4, 30.0), t(4, -6.0)];
/// let beh = [b(1, 7, true), b(2, 8, false), b(2, 8, false)];
/// let x = compute(&txns, &beh, &levels, 10, None).unwrap();
/// assert_eq!((x.distinct_products, x.discount_share, x.weekend_share), (2.0, 0.5, 0.5));
/// assert_eq!(x.return_rate, 6.0 / 40.0);
/// assert_eq!(x.main_country.as_deref(), Some("Germany"));
/// ```
pub fn compute(
    txns: &[Txn],
    behaviour: &[TxnBehaviour],
    levels: &Levels,
    as_of: i32,
    window_days: Option<u32>,
) -> Option<Behaviour> {
    let none = TxnBehaviour::default();
    let mut products: Vec<u64> = Vec::new();
    // Per purchase line: (order key, day, discounted); grouped by order below.
    let mut lines: Vec<(u64, i32, bool)> = Vec::with_capacity(txns.len());
    // Purchase value per country level (a customer has few).
    let mut country_value: Vec<(u32, f64)> = Vec::new();
    let (mut bought, mut returned) = (0.0, 0.0);
    for (i, t) in txns.iter().enumerate() {
        if !in_window(t.day, as_of, window_days) {
            continue;
        }
        let b = behaviour.get(i).unwrap_or(&none);
        if !is_purchase(t.amount) {
            returned -= t.amount;
            continue;
        }
        bought += t.amount;
        if b.product != 0 {
            products.push(b.product);
        }
        if b.levels[2] != 0 {
            match country_value.iter_mut().find(|(c, _)| *c == b.levels[2]) {
                Some((_, v)) => *v += t.amount,
                None => country_value.push((b.levels[2], t.amount)),
            }
        }
        let key = t
            .order
            .map_or((t.day as u32 as u64) | (1 << 63), |o| o.get());
        lines.push((key, t.day, b.discount));
    }
    if lines.is_empty() {
        return None;
    }
    products.sort_unstable();
    products.dedup();
    // A stable sort keeps each order's first line first.
    lines.sort_by_key(|l| l.0);
    let (mut orders, mut discounted, mut weekend) = (0usize, 0usize, 0usize);
    for group in lines.chunk_by(|a, b| a.0 == b.0) {
        orders += 1;
        discounted += usize::from(group.iter().any(|l| l.2));
        weekend += usize::from(is_weekend(group[0].1));
    }
    let n = orders as f64;
    let main_country = country_value
        .iter()
        .filter_map(|&(c, v)| Some((v, levels.name(2, c)?)))
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, name)| name.to_string());
    Some(Behaviour {
        distinct_products: products.len() as f64,
        discount_share: discounted as f64 / n,
        return_rate: if bought > 0.0 { returned / bought } else { 0.0 },
        weekend_share: weekend as f64 / n,
        main_country,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::rows::order_key;

    fn t(day: i32, amount: f64, order: Option<&str>) -> Txn {
        Txn {
            day,
            amount,
            order: order.map(order_key),
            minute: -1,
        }
    }

    #[test]
    fn weekends_are_saturday_and_sunday() {
        // 2024-07-06 was a Saturday: day 19_910.
        assert!(is_weekend(19_910) && is_weekend(19_911));
        assert!(!is_weekend(19_912) && !is_weekend(19_909));
        assert!(!is_weekend(0), "1970-01-01 was a Thursday");
        assert!(is_weekend(-5), "1969-12-27 was a Saturday");
    }

    #[test]
    fn an_order_is_discounted_when_any_line_is_and_counts_once() {
        let b = |discount| TxnBehaviour {
            discount,
            ..Default::default()
        };
        let txns = [
            t(10, 5.0, Some("A")),
            t(10, 5.0, Some("A")),
            t(11, 5.0, Some("B")),
        ];
        let x = compute(
            &txns,
            &[b(false), b(true), b(false)],
            &Levels::default(),
            20,
            None,
        )
        .unwrap();
        assert_eq!(x.discount_share, 0.5);
    }

    #[test]
    fn lines_outside_the_window_or_after_as_of_do_not_count() {
        let b = |product| TxnBehaviour {
            product,
            ..Default::default()
        };
        let txns = [t(1, 5.0, None), t(15, 5.0, None), t(30, 5.0, None)];
        let x = compute(&txns, &[b(1), b(2), b(3)], &Levels::default(), 20, Some(10)).unwrap();
        assert_eq!(x.distinct_products, 1.0);
        assert!(compute(&txns[..1], &[b(1)], &Levels::default(), 20, Some(10)).is_none());
    }

    #[test]
    fn without_behaviour_fields_counts_are_zero_and_the_country_missing() {
        let x = compute(&[t(3, 8.0, None)], &[], &Levels::default(), 10, None).unwrap();
        assert_eq!(x.distinct_products, 0.0);
        assert_eq!(x.value(MAIN_COUNTRY), RawValue::Missing);
        assert_eq!(x.value("return_rate"), RawValue::Num(0.0));
    }

    #[test]
    fn a_country_tie_goes_to_the_first_name() {
        let levels = Levels {
            names: [vec![], vec![], vec!["EIRE".into(), "France".into()]],
        };
        let b = |c| TxnBehaviour {
            levels: [0, 0, c],
            ..Default::default()
        };
        let txns = [t(3, 8.0, None), t(4, 8.0, None)];
        let x = compute(&txns, &[b(2), b(1)], &levels, 10, None).unwrap();
        assert_eq!(x.main_country.as_deref(), Some("EIRE"));
    }

    #[test]
    fn the_offered_inputs_name_their_features() {
        let o = Offered {
            product: true,
            country: true,
            times: true,
            ..Default::default()
        };
        assert_eq!(
            o.features(),
            ["distinct_products", "weekend_share", "main_country"]
        );
        assert!(Offered::default().features().is_empty());
    }
}
