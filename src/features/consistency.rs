//! Combinations of RFM values no customer can have. custseg defines its transaction features
//! ([`super::rfm`]), so for a model trained on transactions a customer given by its feature
//! values (HTTP or a batch customer table) must satisfy what [`super::rfm::compute_rfm`]
//! guarantees; anything else was computed some other way, and scoring it would put the
//! customer in a segment on numbers that mean something else. The rules, checked only on
//! given values (an imputed value is never the culprit) and only for features the model
//! computed from transactions:
//! - `frequency` is a whole number (it counts orders or purchase days);
//! - `recency_days` ≤ `tenure_days` (the last purchase is not before the first);
//! - `frequency` < 1 only with `monetary` = 0 (spend needs an order);
//! - with `frequency`, `monetary` and `avg_order_value` all given, `avg_order_value` =
//!   `monetary` / `frequency` within what rounding explains (clients round): each of
//!   `avg_order_value` and `monetary` may be rounded to the unit it is written with (whole
//!   numbers, one decimal, else cents), plus 1e-6 relative.
//!
//! Batch scoring and the HTTP scorer both call [`check`]; neither has its own copy.

use super::{FeatureSpec, RawValue, Source};

/// A broken rule: the fields involved (the first is the one to fix first) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inconsistency {
    /// Feature names, in the order the rule reads them.
    pub fields: &'static [&'static str],
    /// What is impossible, without the values.
    pub reason: &'static str,
}

impl Inconsistency {
    /// Stable error code: `invalid_value` for a one-field rule, else `inconsistent_features`.
    pub fn code(&self) -> &'static str {
        if self.fields.len() == 1 {
            "invalid_value"
        } else {
            "inconsistent_features"
        }
    }
}

impl std::fmt::Display for Inconsistency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.fields.join(" and "), self.reason)
    }
}

/// Given value of a transaction feature, by name.
fn given(spec: &FeatureSpec, raw: &[RawValue], name: &str) -> Option<f64> {
    let i = spec.position(name)?;
    if spec.features[i].source != Source::Transactions {
        return None;
    }
    match raw.get(i)? {
        RawValue::Num(v) if v.is_finite() => Some(*v),
        RawValue::Text(s) => crate::data::parse_number(s),
        _ => None,
    }
}

/// Rounding unit a value was probably written with: 1 for a whole number, 0.1 for one
/// decimal, else 0.01 (cents; finer values are exact enough for the 0.01 bound).
fn rounding_unit(x: f64) -> f64 {
    let on = |u: f64| ((x / u).round() * u - x).abs() <= 1e-9 * x.abs().max(1.0);
    if on(1.0) {
        1.0
    } else if on(0.1) {
        0.1
    } else {
        0.01
    }
}

/// Tolerance for `avg_order_value` against `monetary / frequency`: half a rounding unit of
/// `avg_order_value` plus half of `monetary`'s divided by `frequency`, plus 1e-6 relative.
fn aov_tolerance(monetary: f64, frequency: f64, aov: f64) -> f64 {
    let rounding = rounding_unit(aov) / 2.0 + rounding_unit(monetary) / (2.0 * frequency);
    let ratio = monetary / frequency;
    // A hair over the rounding bound so exact-bound cases pass despite binary fractions.
    rounding * (1.0 + 1e-9) + 1e-6 * ratio.abs().max(aov.abs())
}

/// Checks one customer's raw values (in `spec` order) against the rules above.
///
/// ```
/// use custseg::features::consistency::check;
/// # use custseg::features::spec::{fit, Candidate, RawColumn};
/// # use custseg::features::{FeatureConfig, RawValue, Source};
/// # let c = |n: &str, v: Vec<f64>| Candidate { name: n.into(), source: Source::Transactions,
/// #     column: None, values: RawColumn::Numbers(v.into_iter().map(Some).collect()) };
/// # let spec = fit(&[c("recency_days", vec![1.0, 5.0, 9.0]), c("tenure_days", vec![9.0, 20.0, 30.0])],
/// #     &FeatureConfig::default()).unwrap().0;
/// let e = check(&spec, &[RawValue::Num(500.0), RawValue::Num(10.0)]).unwrap_err();
/// assert_eq!(e.fields, ["recency_days", "tenure_days"]);
/// assert!(check(&spec, &[RawValue::Num(5.0), RawValue::Missing]).is_ok());
/// ```
pub fn check(spec: &FeatureSpec, raw: &[RawValue]) -> Result<(), Inconsistency> {
    let v = |name| given(spec, raw, name);
    let (recency, tenure) = (v("recency_days"), v("tenure_days"));
    let (frequency, monetary, aov) = (v("frequency"), v("monetary"), v("avg_order_value"));
    if let Some(f) = frequency {
        if (f - f.round()).abs() > 1e-9 {
            return Err(Inconsistency {
                fields: &["frequency"],
                reason: "must be a whole number (distinct orders, or purchase days)",
            });
        }
    }
    if let (Some(r), Some(t)) = (recency, tenure) {
        if r > t {
            return Err(Inconsistency {
                fields: &["recency_days", "tenure_days"],
                reason: "recency_days is greater than tenure_days, but the last purchase cannot come before the first",
            });
        }
    }
    if let (Some(f), Some(m)) = (frequency, monetary) {
        if f < 1.0 && m != 0.0 {
            return Err(Inconsistency {
                fields: &["frequency", "monetary"],
                reason: "monetary is not 0 with no order (frequency below 1)",
            });
        }
    }
    if let (Some(f), Some(m), Some(a)) = (frequency, monetary, aov) {
        if f >= 1.0 && (a - m / f).abs() > aov_tolerance(m, f, a) {
            return Err(Inconsistency {
                fields: &["avg_order_value", "monetary", "frequency"],
                reason: "avg_order_value is not monetary / frequency (beyond rounding)",
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::spec::{fit, Candidate, RawColumn};
    use crate::features::FeatureConfig;

    const NAMES: [&str; 5] = [
        "recency_days",
        "frequency",
        "monetary",
        "avg_order_value",
        "tenure_days",
    ];

    fn spec(source: Source) -> FeatureSpec {
        let cands: Vec<Candidate> = NAMES
            .iter()
            .enumerate()
            .map(|(i, n)| Candidate {
                name: (*n).into(),
                source,
                column: None,
                values: RawColumn::Numbers(
                    [1.0, 2.0, 5.0]
                        .iter()
                        .map(|v| Some(v * (i + 1) as f64))
                        .collect(),
                ),
            })
            .collect();
        fit(&cands, &FeatureConfig::default()).unwrap().0
    }

    /// Raw values in NAMES order; NaN = missing.
    fn raw(v: [f64; 5]) -> Vec<RawValue> {
        v.iter()
            .map(|x| {
                if x.is_nan() {
                    RawValue::Missing
                } else {
                    RawValue::Num(*x)
                }
            })
            .collect()
    }

    fn broken(v: [f64; 5]) -> Option<&'static [&'static str]> {
        let s = spec(Source::Transactions);
        assert_eq!(s.features.len(), 5);
        check(&s, &raw(v)).err().map(|e| e.fields)
    }

    const NA: f64 = f64::NAN;

    #[test]
    fn recency_cannot_exceed_tenure() {
        assert_eq!(
            broken([500.0, 1.0, 10.0, 10.0, 10.0]),
            Some(&["recency_days", "tenure_days"][..])
        );
        assert_eq!(broken([10.0, 1.0, 10.0, 10.0, 10.0]), None);
        assert_eq!(broken([500.0, 1.0, 10.0, 10.0, NA]), None);
    }

    #[test]
    fn frequency_must_be_whole() {
        assert_eq!(broken([1.0, 2.5, NA, NA, 3.0]), Some(&["frequency"][..]));
        assert_eq!(broken([1.0, 3.0, NA, NA, 3.0]), None);
    }

    #[test]
    fn spend_needs_an_order() {
        assert_eq!(
            broken([NA, 0.0, 10.0, NA, NA]),
            Some(&["frequency", "monetary"][..])
        );
        assert_eq!(
            broken([NA, 0.0, -3.0, NA, NA]),
            Some(&["frequency", "monetary"][..])
        );
        assert_eq!(broken([NA, 0.0, 0.0, NA, NA]), None);
        assert_eq!(broken([NA, 1.0, -3.0, NA, NA]), None);
    }

    #[test]
    fn avg_order_value_is_monetary_over_frequency_within_rounding() {
        let aov = |m: f64, f: f64, a: f64| broken([NA, f, m, a, NA]);
        assert_eq!(aov(100.0, 3.0, 33.333333333), None);
        // Rounded to cents: 100.01 / 3 = 33.3367 → 33.34.
        assert_eq!(aov(100.01, 3.0, 33.34), None);
        // Whole currency units on both sides.
        assert_eq!(aov(100.0, 3.0, 33.0), None);
        assert_eq!(
            aov(100.0, 3.0, 50.0),
            Some(&["avg_order_value", "monetary", "frequency"][..])
        );
        assert!(aov(100.5, 3.0, 33.0).is_none());
        assert!(aov(100.25, 3.0, 32.0).is_some());
        // One decimal: 1420.5 / 9 = 157.833 → 157.8.
        assert_eq!(aov(1420.5, 9.0, 157.8), None);
        assert!(aov(1420.5, 9.0, 157.7).is_some());
        assert_eq!(aov(1e9, 7.0, 1e9 / 7.0 * (1.0 + 1e-7)), None);
        assert_eq!(aov(100.0, 3.0, NA), None);
    }

    #[test]
    fn rules_apply_only_to_features_computed_from_transactions() {
        let s = spec(Source::Customers);
        assert!(check(&s, &raw([500.0, 0.5, 10.0, 1.0, 10.0])).is_ok());
    }

    #[test]
    fn the_message_names_every_field() {
        let e = check(&spec(Source::Transactions), &raw([9.0, 1.0, NA, NA, 2.0])).unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("recency_days and tenure_days: "), "{text}");
    }
}
