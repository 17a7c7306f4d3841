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
//!   log's dates carry times, so they are timestamps rather than booking days);
//! - `category_share[L]`, `channel_share[L]` (log maps `category`, `channel`) = purchase
//!   value of level L / purchase value, for the training log's top levels by purchase value
//!   (8 unless `share_levels` says otherwise), and `…[(other)]` for the rest; a block counts
//!   as one feature (each column weighs 1/columns of the block's weight);
//! - `time_share[B]` (the log's dates carry times) = purchase value bought in band B of the
//!   day ([`TIME_BANDS`], six hours each from midnight) / purchase value, a share block too.
//!
//! From an interaction log ([`crate::data::events`], added by [`add_events`]), over the
//! events in the same window:
//! - `event_count` = events; `sessions` = runs of events at most [`SESSION_GAP_S`] (30 minutes)
//!   apart;
//! - `days_since_visit` = as_of − day of the last event (the model's `no_visit_days`, the
//!   window or the inputs' span, for a customer without one);
//! - `views_per_order` = view events / orders (views alone for a customer without orders);
//! - `cart_to_order` = min(orders, cart events) / cart events; without cart events 1 for a
//!   customer with orders (no cart left behind) and 0 without;
//! - `view_share[L]` (the events name categories) = views of category L / views, a share
//!   block over the population's top categories by views.

use super::rfm::{in_window, Txn};
use super::RawValue;
use crate::data::events::{Event, EventKind};
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

/// The numeric event features, in model order.
pub const EVENT_FEATURES: [&str; 5] = [
    "sessions",
    "event_count",
    "days_since_visit",
    "views_per_order",
    "cart_to_order",
];

/// Two events further apart than this (seconds) are in different sessions.
pub const SESSION_GAP_S: i64 = 30 * 60;

/// Share blocks: the block's name and its field in [`TxnBehaviour::levels`] ([`TIME_BANDS`]
/// for `time_share`, whose levels are the bands of the day; the event categories for
/// `view_share`).
pub const SHARE_BLOCKS: [(&str, usize); 4] = [
    ("category_share", 0),
    ("channel_share", 1),
    ("time_share", TIME_BLOCK),
    ("view_share", VIEW_BLOCK),
];

/// [`SHARE_BLOCKS`]' marker for the time-of-day block.
const TIME_BLOCK: usize = usize::MAX;
/// [`SHARE_BLOCKS`]' marker for the view-category block, and its index.
const VIEW_BLOCK: usize = usize::MAX - 1;
pub const VIEW_SHARE: usize = 3;

/// The bands of the day of `time_share`, each six hours from its start.
pub const TIME_BANDS: [&str; 4] = ["night", "morning", "afternoon", "evening"];

/// The band of a minute of the day (00:00–05:59 night, 06:00–11:59 morning, 12:00–17:59
/// afternoon, 18:00–23:59 evening); `None` without a time.
pub fn time_band(minute: i16) -> Option<&'static str> {
    (0..1440)
        .contains(&minute)
        .then(|| TIME_BANDS[minute as usize / 360])
}

/// The level of a share block that stands for every level outside its top ones.
pub const OTHER_LEVEL: &str = "(other)";

/// Top levels per share block unless configured.
pub const DEFAULT_SHARE_LEVELS: usize = 8;

/// The feature name of `level` in share block `block`: `category_share[Wine]`.
pub fn share_feature(block: &str, level: &str) -> String {
    format!("{block}[{level}]")
}

/// The block (index into [`SHARE_BLOCKS`]) and level of a share feature's name.
pub fn parse_share(name: &str) -> Option<(usize, &str)> {
    SHARE_BLOCKS.iter().enumerate().find_map(|(k, (block, _))| {
        let level = name
            .strip_prefix(block)?
            .strip_prefix('[')?
            .strip_suffix(']')?;
        Some((k, level))
    })
}

/// What a log offers for behaviour features.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Offered {
    pub product: bool,
    pub country: bool,
    pub discount: bool,
    pub returns: bool,
    pub times: bool,
    pub category: bool,
    pub channel: bool,
    /// An interaction log is given, and it names categories.
    pub events: bool,
    pub event_categories: bool,
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
        if self.events {
            out.extend(EVENT_FEATURES);
        }
        let on = [
            self.category,
            self.channel,
            self.times,
            self.events && self.event_categories,
        ];
        for ((block, _), on) in SHARE_BLOCKS.iter().zip(on) {
            if on {
                out.push(block);
            }
        }
        out
    }
}

/// True for the name of a behaviour feature.
pub fn is_behaviour_feature(name: &str) -> bool {
    NUMERIC.contains(&name)
        || name == MAIN_COUNTRY
        || parse_share(name).is_some()
        || is_event_feature(name)
}

/// True for the name of a feature from an interaction log.
pub fn is_event_feature(name: &str) -> bool {
    EVENT_FEATURES.contains(&name) || parse_share(name).is_some_and(|(k, _)| k == VIEW_SHARE)
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
    /// Purchase value.
    pub bought: f64,
    /// Per share block, the purchase value (for `view_share` the views) of each level
    /// (sorted by name).
    pub spend: [Vec<(String, f64)>; 4],
    pub sessions: f64,
    pub events: f64,
    pub days_since_visit: f64,
    pub views_per_order: f64,
    pub cart_to_order: f64,
    /// View events.
    pub views: f64,
}

impl Behaviour {
    /// Feature `name`'s value ([`RawValue::Missing`] for a name that is not one).
    pub fn value(&self, name: &str) -> RawValue {
        match name {
            "distinct_products" => RawValue::Num(self.distinct_products),
            "discount_share" => RawValue::Num(self.discount_share),
            "return_rate" => RawValue::Num(self.return_rate),
            "weekend_share" => RawValue::Num(self.weekend_share),
            "sessions" => RawValue::Num(self.sessions),
            "event_count" => RawValue::Num(self.events),
            "days_since_visit" => RawValue::Num(self.days_since_visit),
            "views_per_order" => RawValue::Num(self.views_per_order),
            "cart_to_order" => RawValue::Num(self.cart_to_order),
            MAIN_COUNTRY => self
                .main_country
                .clone()
                .map_or(RawValue::Missing, RawValue::Text),
            _ => RawValue::Missing,
        }
    }

    /// The share of purchase value (of views for `view_share`) of `level` in share block
    /// `block`; for [`OTHER_LEVEL`], of every level not in `tops`. 0 without purchase value
    /// (views).
    pub fn share(&self, block: usize, level: &str, tops: &[&str]) -> f64 {
        let total = if block == VIEW_SHARE {
            self.views
        } else {
            self.bought
        };
        if total <= 0.0 {
            return 0.0;
        }
        let spend = &self.spend[block];
        let value: f64 = if level == OTHER_LEVEL {
            (spend.iter())
                .filter(|(l, _)| !tops.contains(&l.as_str()))
                .map(|(_, v)| v)
                .sum()
        } else {
            spend
                .binary_search_by(|(l, _)| l.as_str().cmp(level))
                .map_or(0.0, |i| spend[i].1)
        };
        value / total
    }
}

/// A transaction feature's value: an RFM feature from `rfm`, a behaviour feature from
/// `behaviour` (missing without one). The one place scoring maps names to these values.
pub fn transaction_value(
    spec: &super::FeatureSpec,
    name: &str,
    rfm: &super::rfm::Rfm,
    behaviour: Option<&Behaviour>,
) -> RawValue {
    if let Some(j) = super::rfm::RFM_FEATURES.iter().position(|n| *n == name) {
        return RawValue::Num(rfm.values()[j]);
    }
    let Some(b) = behaviour else {
        return RawValue::Missing;
    };
    match parse_share(name) {
        Some((k, level)) => {
            // The block's other levels, for its `(other)` column.
            let tops: Vec<&str> = if level == OTHER_LEVEL {
                (spec.features.iter())
                    .filter_map(|f| parse_share(&f.name))
                    .filter(|&(j, l)| j == k && l != OTHER_LEVEL)
                    .map(|(_, l)| l)
                    .collect()
            } else {
                Vec::new()
            };
            RawValue::Num(b.share(k, level, &tops))
        }
        None => b.value(name),
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
    // Purchase value per level of each field (a customer has few).
    let mut level_value: [Vec<(u32, f64)>; 3] = Default::default();
    let mut band_value = [0.0; 4];
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
        if let Some(band) = time_band(t.minute) {
            band_value[TIME_BANDS.iter().position(|x| *x == band).unwrap_or(0)] += t.amount;
        }
        if b.product != 0 {
            products.push(b.product);
        }
        for (values, &n) in level_value.iter_mut().zip(&b.levels) {
            if n == 0 {
                continue;
            }
            match values.iter_mut().find(|(c, _)| *c == n) {
                Some((_, v)) => *v += t.amount,
                None => values.push((n, t.amount)),
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
    let spend = SHARE_BLOCKS.map(|(_, f)| {
        let mut named: Vec<(String, f64)> = if f == VIEW_BLOCK {
            Vec::new()
        } else if f == TIME_BLOCK {
            (TIME_BANDS.iter().zip(band_value))
                .filter(|&(_, v)| v != 0.0)
                .map(|(band, v)| (band.to_string(), v))
                .collect()
        } else {
            (level_value[f].iter())
                .filter_map(|&(n, v)| Some((levels.name(f, n)?.to_string(), v)))
                .collect()
        };
        named.sort_by(|a, b| a.0.cmp(&b.0));
        named
    });
    let main_country = level_value[2]
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
        bought,
        spend,
        ..Behaviour::default()
    })
}

/// The share blocks of `spec` in which `b` has value at a level training never saw (it
/// counts as `(other)`, or in no column when the block has none): for the
/// `unknown_category` warning.
pub fn unseen_levels(spec: &super::FeatureSpec, b: &Behaviour) -> Vec<&'static str> {
    let mut out = Vec::new();
    for (k, (block, _)) in SHARE_BLOCKS.iter().enumerate() {
        let Some(seen) = spec.share_levels.get(*block) else {
            continue;
        };
        let new = b.spend[k]
            .iter()
            .any(|(l, v)| *v > 0.0 && seen.binary_search(l).is_err());
        if new {
            out.push(*block);
        }
    }
    out
}

/// Every level of share block `k` the customers in `all` have value at, sorted.
pub fn seen_levels<'a>(all: impl IntoIterator<Item = &'a Behaviour>, k: usize) -> Vec<String> {
    let mut levels: Vec<String> = all
        .into_iter()
        .flat_map(|b| {
            b.spend[k]
                .iter()
                .filter(|(_, v)| *v > 0.0)
                .map(|(l, _)| l.clone())
        })
        .collect();
    levels.sort_unstable();
    levels.dedup();
    levels
}

/// True when `spec` has a feature from an interaction log.
pub fn uses_events(spec: &super::FeatureSpec) -> bool {
    spec.features
        .iter()
        .any(|f| f.source == super::Source::Transactions && is_event_feature(&f.name))
}

/// The RFM of a browser (events but no purchase in the window): recency `no_visit_days`
/// (as if the last purchase were as long ago as a missing visit counts), the rest 0.
pub fn browser_rfm(no_visit_days: f64) -> super::rfm::Rfm {
    super::rfm::Rfm {
        recency_days: no_visit_days,
        frequency: 0.0,
        monetary: 0.0,
        avg_order_value: 0.0,
        tenure_days: 0.0,
    }
}

/// A browser's RFM ([`browser_rfm`]) and behaviour (their event features alone, no
/// orders), when they have an event in the window; `None` when they have none. The one
/// place training, batch scoring and HTTP make a browser.
pub fn browser(
    events: &[Event],
    categories: &[String],
    as_of: i32,
    window_days: Option<u32>,
    no_visit_days: f64,
) -> Option<(super::rfm::Rfm, Behaviour)> {
    if !active(events, as_of, window_days) {
        return None;
    }
    let mut b = Behaviour::default();
    add_events(
        &mut b,
        events,
        categories,
        as_of,
        window_days,
        0.0,
        no_visit_days,
    );
    Some((browser_rfm(no_visit_days), b))
}

/// True when a customer has an event in the window (a browser, if they bought nothing).
pub fn active(events: &[Event], as_of: i32, window_days: Option<u32>) -> bool {
    events
        .iter()
        .any(|e| in_window(e.day(), as_of, window_days))
}

/// Adds the event features of a customer's `events` (sorted by time) to `b`: `categories`
/// names the events' categories, `orders` is the customer's frequency (0 for a customer
/// who never bought), `no_visit_days` the `days_since_visit` of a customer without an event
/// in the window.
///
/// ```
/// use custseg::data::events::{Event, EventKind};
/// use custseg::features::behaviour::{add_events, Behaviour};
/// let e = |at, kind| Event { at, kind, product: 0, category: 0 };
/// // Day 10 at 02:00, 02:20 and 03:00 (two sessions); day 12 at 04:00.
/// let ev = [e(871_200, EventKind::View), e(872_400, EventKind::Cart),
///           e(874_800, EventKind::View), e(1_051_200, EventKind::Cart)];
/// let mut b = Behaviour::default();
/// add_events(&mut b, &ev, &[], 15, None, 1.0, 99.0);
/// assert_eq!((b.events, b.sessions, b.days_since_visit), (4.0, 3.0, 3.0));
/// assert_eq!((b.views_per_order, b.cart_to_order), (2.0, 0.5));
/// ```
pub fn add_events(
    b: &mut Behaviour,
    events: &[Event],
    categories: &[String],
    as_of: i32,
    window_days: Option<u32>,
    orders: f64,
    no_visit_days: f64,
) {
    let (mut n, mut sessions, mut views, mut carts) = (0usize, 0usize, 0usize, 0usize);
    let mut last: Option<&Event> = None;
    let mut by_category: Vec<(u32, f64)> = Vec::new();
    for e in events
        .iter()
        .filter(|e| in_window(e.day(), as_of, window_days))
    {
        n += 1;
        if last.is_none_or(|l| e.at - l.at > SESSION_GAP_S) {
            sessions += 1;
        }
        last = Some(e);
        match e.kind {
            EventKind::View => {
                views += 1;
                if e.category != 0 {
                    match by_category.iter_mut().find(|(c, _)| *c == e.category) {
                        Some((_, v)) => *v += 1.0,
                        None => by_category.push((e.category, 1.0)),
                    }
                }
            }
            EventKind::Cart => carts += 1,
            _ => {}
        }
    }
    b.events = n as f64;
    b.sessions = sessions as f64;
    b.days_since_visit = last.map_or(no_visit_days, |l| f64::from(as_of - l.day()));
    b.views = views as f64;
    b.views_per_order = views as f64 / orders.max(1.0);
    b.cart_to_order = match carts {
        0 => f64::from(u8::from(orders > 0.0)),
        c => orders.min(c as f64) / c as f64,
    };
    let mut named: Vec<(String, f64)> = by_category
        .into_iter()
        .filter_map(|(c, v)| Some((categories.get(c as usize - 1)?.clone(), v)))
        .collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    b.spend[VIEW_SHARE] = named;
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
    fn a_share_is_of_purchase_value_and_other_pools_the_rest() {
        let levels = Levels {
            names: [
                vec!["Garden".into(), "Wine".into(), "Toys".into()],
                vec![],
                vec![],
            ],
        };
        let b = |c| TxnBehaviour {
            levels: [c, 0, 0],
            ..Default::default()
        };
        let txns = [
            t(1, 30.0, None),
            t(2, 10.0, None),
            t(3, 60.0, None),
            t(4, -50.0, None),
        ];
        let x = compute(&txns, &[b(2), b(1), b(3), b(2)], &levels, 10, None).unwrap();
        assert_eq!(
            x.share(0, "Wine", &[]),
            0.3,
            "returns do not change the shares"
        );
        assert_eq!(x.share(0, "Toys", &[]), 0.6);
        assert_eq!(x.share(0, "Books", &[]), 0.0);
        assert!((x.share(0, OTHER_LEVEL, &["Wine"]) - 0.7).abs() < 1e-12);
        assert_eq!(parse_share("category_share[Wine]"), Some((0, "Wine")));
        assert_eq!(
            parse_share("channel_share[(other)]"),
            Some((1, OTHER_LEVEL))
        );
        assert_eq!(parse_share("category_share"), None);
        assert!(is_behaviour_feature("channel_share[Store]"));
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
            [
                "distinct_products",
                "weekend_share",
                "main_country",
                "time_share"
            ]
        );
        let shares = Offered {
            category: true,
            channel: true,
            ..Default::default()
        };
        assert_eq!(shares.features(), ["category_share", "channel_share"]);
        assert_eq!(time_band(0), Some("night"));
        assert_eq!(time_band(506), Some("morning"));
        assert_eq!(time_band(720), Some("afternoon"));
        assert_eq!(time_band(1439), Some("evening"));
        assert_eq!(time_band(-1), None);
        assert!(Offered::default().features().is_empty());
    }
}
