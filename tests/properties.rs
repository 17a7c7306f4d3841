//! Property tests of the scoring core (JSON customer → validated values → segment) on the
//! golden model: arbitrary input never panics, and every accepted customer gets a coherent
//! answer.

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use custseg::score::request::prepare;
use custseg::Model;

use crate::common::repo;

fn model() -> Model {
    Model::load(&repo("tests/data/golden/v1")).expect("golden model")
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|v| json!(v)),
        any::<f64>()
            .prop_filter("finite", |v| v.is_finite())
            .prop_map(|v| json!(v)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

/// A plausible-to-hostile value for one feature.
fn feature_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (-1e6f64..1e7).prop_map(|v| json!(v)),
        1 => any::<f64>().prop_filter("finite", |v| v.is_finite()).prop_map(|v| json!(v)),
        1 => Just(Value::Null),
        2 => prop::sample::select(vec!["F", "M", "Other", "North", "app", "Manager", "", "ünï"])
            .prop_map(|s| json!(s)),
        1 => any_json(),
    ]
}

fn customer() -> impl Strategy<Value = Value> {
    let names = [
        "recency_days",
        "frequency",
        "monetary",
        "avg_order_value",
        "tenure_days",
        "age",
        "gender",
        "annual_income",
        "occupation",
        "region",
        "signup_channel",
        "colour",
    ];
    prop::collection::vec(
        (prop::sample::select(names.to_vec()), feature_value()),
        0..12,
    )
    .prop_map(|pairs| {
        let mut m = Map::new();
        for (k, v) in pairs {
            m.insert(k.to_string(), v);
        }
        Value::Object(m)
    })
}

proptest! {
    // Seeded, so every run (and CI) explores the same cases; failures are still shrunk.
    #![proptest_config(ProptestConfig {
        cases: 2000,
        rng_seed: proptest::test_runner::RngSeed::Fixed(20261123),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_json_value_is_accepted_or_rejected_without_panicking(v in any_json()) {
        let m = model();
        let _ = prepare(&m.file.features, &v, 20_000, None, 100, &Default::default());
    }

    #[test]
    fn accepted_customers_get_a_coherent_segment(c in customer()) {
        let m = model();
        let Ok(p) = prepare(&m.file.features, &c, 20_000, None, 100, &Default::default()) else {
            return Ok(());
        };
        let Ok(s) = m.score(&p.raw, p.summary.as_ref(), &mut custseg::score::Scratch::default()) else {
            return Ok(());
        };
        prop_assert!(s.index < m.file.k);
        prop_assert_eq!(s.distances.len(), m.file.k);
        prop_assert!(s.distances.iter().all(|d| d.is_finite() && *d >= 0.0), "{:?}", s.distances);
        let min = s.distances.iter().cloned().fold(f64::INFINITY, f64::min);
        prop_assert!((s.distance - min).abs() <= 1e-12 * (1.0 + min));
        prop_assert!(s.margin >= 0.0 && s.margin.is_finite());
    }

    #[test]
    fn transactions_never_panic_and_agree_with_features(
        days in prop::collection::vec((0i64..800, -50.0f64..500.0, 0u8..5), 1..30)
    ) {
        let m = model();
        let txns: Vec<Value> = days
            .iter()
            .map(|(d, a, o)| {
                let date = custseg::data::dates::format_day(19_500 + *d as i32);
                json!({"date": date, "amount": a, "order_id": format!("o{o}-{d}")})
            })
            .collect();
        let c = json!({"transactions": txns});
        let as_of = 19_500 + 801;
        if let Ok(p) = prepare(&m.file.features, &c, as_of, None, 100, &Default::default()) {
            if p.no_purchases {
                // Only returns: valid, without a segment.
                return Ok(());
            }
            // The same values given as features score identically.
            let mut by_features = Map::new();
            for (f, r) in m.file.features.features.iter().zip(&p.raw) {
                if let custseg::features::RawValue::Num(v) = r {
                    by_features.insert(f.name.clone(), json!(v));
                }
            }
            let q = prepare(&m.file.features, &Value::Object(by_features), as_of, None, 100, &Default::default())
                .expect("features from transactions are valid");
            let a = m.score(&p.raw, p.summary.as_ref(), &mut custseg::score::Scratch::default()).expect("scores");
            let b = m.score(&q.raw, q.summary.as_ref(), &mut custseg::score::Scratch::default()).expect("scores");
            prop_assert_eq!(a.index, b.index);
            prop_assert_eq!(a.distances, b.distances);
        }
    }
}
