//! Row filters (issue 15): `--exclude COLUMN=REGEX` and `--min-unit-price X` drop the
//! postage, fee and free lines of an Online-Retail-shaped log before every other rule,
//! counted per filter, stored in the model and applied the same way by `custseg score` and
//! HTTP raw transactions. The expectation is independent: the same log with those lines
//! removed by the test's own predicate trains to the same customers and features.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};

use crate::common::retail::{Retail, RetailLine};
use crate::common::{custseg, read_csv, text};
use crate::server::{config, post, start};

const EXCLUDE: &str = "StockCode=POST|M|AMAZONFEE|BANK CHARGES";

/// The test's own reading of the filters: the first that drops a line (0: the stock codes,
/// 1: the unit price below 0.01), or none.
fn dropped_by(l: &RetailLine) -> Option<usize> {
    if ["POST", "M", "AMAZONFEE", "BANK CHARGES"].contains(&l.stock_code.as_str()) {
        Some(0)
    } else if l.unit_price.parse::<f64>().unwrap() < 0.01 {
        Some(1)
    } else {
        None
    }
}

/// `custseg train` of `path` into `work/models/NAME`; the output text.
fn train(work: &std::path::Path, path: &std::path::Path, name: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "train",
        "--transactions",
        path.to_str().unwrap(),
        "--k",
        "3",
        "--n-init",
        "2",
        "--seed",
        "7",
        "--name",
        name,
    ];
    args.extend_from_slice(extra);
    let o = custseg(&args, work);
    assert!(o.status.success(), "{}", text(&o));
    text(&o)
}

fn assignments(work: &std::path::Path, name: &str) -> BTreeMap<String, HashMap<String, String>> {
    crate::common::assignments_by_id(work, name)
}

const FEATURES: [&str; 5] = [
    "recency_days",
    "frequency",
    "monetary",
    "avg_order_value",
    "tenure_days",
];

/// Columns `custseg score` writes as training does.
const SCORED: [&str; 7] = [
    "r_score",
    "f_score",
    "m_score",
    "lifecycle",
    "p_alive",
    "expected_orders",
    "predicted_clv",
];

#[test]
fn r15_row_filters_drop_fee_lines_counted_stored_and_applied_by_batch_and_http() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let log = Retail::generate_with_fees(240, 15);
    let path = log.write_to(w, "online_retail.csv");
    let expect = [0, 1].map(|k| {
        log.lines
            .iter()
            .filter(|l| dropped_by(l) == Some(k))
            .count()
    });
    assert!(expect[0] > 50 && expect[1] > 10, "{expect:?}");
    let kept = Retail {
        lines: (log.lines.iter())
            .filter(|l| dropped_by(l).is_none())
            .cloned()
            .collect(),
        only_returns: Vec::new(),
    };
    let kept_path = kept.write_to(w, "without_fees.csv");

    let out = train(
        w,
        &path,
        "filtered",
        &["--exclude", EXCLUDE, "--min-unit-price", "0.01"],
    );
    assert!(
        out.contains(&format!(
            "filtered {EXCLUDE} {}, filtered min_unit_price=0.01 {}",
            expect[0], expect[1]
        )),
        "{out}"
    );
    train(w, &kept_path, "by_hand", &[]);
    let metrics: Value =
        serde_json::from_slice(&std::fs::read(w.join("models/filtered/v1/metrics.json")).unwrap())
            .unwrap();
    let t = &metrics["data"]["transactions"];
    assert_eq!(
        t["filtered"],
        json!([{"filter": EXCLUDE, "rows": expect[0]},
               {"filter": "min_unit_price=0.01", "rows": expect[1]}])
    );
    assert_eq!(t["rows_read"], log.lines.len());
    let model: Value =
        serde_json::from_slice(&std::fs::read(w.join("models/filtered/v1/model.json")).unwrap())
            .unwrap();
    assert_eq!(
        model["params"]["filters"],
        json!({"exclude": [{"column": "StockCode", "pattern": "POST|M|AMAZONFEE|BANK CHARGES"}],
               "min_unit_price": 0.01})
    );

    // The same customers with the same features as the log filtered by hand; the customers
    // with postage only are gone.
    let (filtered, by_hand) = (assignments(w, "filtered"), assignments(w, "by_hand"));
    assert_eq!(filtered.len(), by_hand.len());
    for (id, row) in &by_hand {
        let f = filtered.get(id).unwrap_or_else(|| panic!("{id} missing"));
        for c in FEATURES {
            assert_eq!(f[c], row[c], "{id} {c}");
        }
    }
    let unfiltered = train(w, &path, "unfiltered", &[]);
    assert!(!unfiltered.contains("filtered StockCode"), "{unfiltered}");
    let all = assignments(w, "unfiltered");
    let postage_only: Vec<&String> = all
        .keys()
        .filter(|id| !filtered.contains_key(*id))
        .collect();
    for id in ["12586", "12587", "12588"] {
        assert!(postage_only.contains(&&id.to_string()), "{postage_only:?}");
    }

    // `custseg score` of the raw log with the filtered model: the training numbers.
    let scores = w.join("scores.csv");
    let model_dir = w.join("models/filtered");
    let o = custseg(
        &[
            "score",
            "--model",
            model_dir.to_str().unwrap(),
            "--input",
            path.to_str().unwrap(),
            "--output",
            scores.to_str().unwrap(),
        ],
        w,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("filtered {EXCLUDE} {}", expect[0])),
        "{}",
        text(&o)
    );
    let (h, rows) = read_csv(&scores);
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let mut scored = 0;
    for r in &rows {
        let Some(t) = filtered.get(&r[col("customer_id")]) else {
            continue;
        };
        assert_eq!(r[col("segment_id")], t["segment_id"]);
        for c in SCORED {
            let at = h.iter().position(|x| x == c);
            assert_eq!(at.is_some(), t.contains_key(c), "{c} in both or neither");
            if let Some(i) = at {
                assert_eq!(&r[i], &t[c], "{c}");
            }
        }
        let (d, dt): (f64, f64) = (
            r[col("distance")].parse().unwrap(),
            t["distance"].parse().unwrap(),
        );
        assert!((d - dt).abs() < 1e-5, "{d} vs {dt}");
        scored += 1;
    }
    assert_eq!(scored, filtered.len());

    // HTTP, every customer from its raw lines, fees included: the training segment and
    // distance, and a warning counting the lines the filters dropped.
    let s = start(config(&w.join("models")));
    let by_customer = log.by_customer();
    let mut same = 0;
    let customers: Vec<_> = by_customer.iter().collect();
    for chunk in customers.chunks(80) {
        let body = json!({"as_of": model["as_of"], "customers": chunk.iter().map(|(id, lines)| {
            json!({"customer_id": id, "transactions": Retail::json_transactions(lines)})
        }).collect::<Vec<_>>()});
        let r = post(s.addr, "/v1/models/filtered/score", &[], &body);
        assert_eq!(r.status, 200, "{}", r.text());
        for ((id, lines), res) in chunk.iter().zip(r.json()["results"].as_array().unwrap()) {
            let fees = lines.iter().filter(|l| dropped_by(l).is_some()).count();
            let warned = (res["warnings"].as_array().unwrap().iter())
                .find(|w| w["code"] == "filtered_transactions")
                .map(|w| w["count"].clone());
            assert_eq!(warned, (fees > 0).then(|| json!(fees)), "{id}: {res}");
            let Some(t) = filtered.get(*id) else {
                assert_eq!(res["segment_id"], Value::Null, "{id}: {res}");
                continue;
            };
            assert_eq!(res["segment_id"].to_string(), t["segment_id"], "{id}");
            let d = res["distance"].as_f64().unwrap();
            let dt: f64 = t["distance"].parse().unwrap();
            assert!((d - dt).abs() < 1e-5, "{id}: {d} vs {dt}");
            same += 1;
        }
    }
    assert_eq!(same, filtered.len(), "100% of the trained customers");
}

#[test]
fn r15_row_filters_from_the_config_and_bad_filters_are_usage_errors() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let log = Retail::generate_with_fees(60, 4);
    let path = log.write_to(w, "retail.csv");
    let expect = log
        .lines
        .iter()
        .filter(|l| dropped_by(l) == Some(0))
        .count();
    let cfg = w.join("custseg.toml");
    std::fs::write(
        &cfg,
        format!("[train]\nexclude = [\"{EXCLUDE}\"]\nmin_unit_price = 0.01\n"),
    )
    .unwrap();
    let out = train(w, &path, "config", &["--config", cfg.to_str().unwrap()]);
    assert!(
        out.contains(&format!("filtered {EXCLUDE} {expect}")),
        "{out}"
    );

    let fails = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "--transactions",
            path.to_str().unwrap(),
            "--k",
            "2",
        ];
        args.extend_from_slice(extra);
        let o = custseg(&args, w);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        text(&o)
    };
    let e = fails(&["--exclude", "StockCode=POST|(M"]);
    assert!(
        e.contains("--exclude") && e.contains("not a regular expression"),
        "{e}"
    );
    let e = fails(&["--exclude", "POST"]);
    assert!(e.contains("--exclude") && e.contains("COLUMN=REGEX"), "{e}");
    let e = fails(&["--min-unit-price=-1"]);
    assert!(e.contains("--min-unit-price"), "{e}");
    // A column the file does not have: the file and the column.
    let e = fails(&["--exclude", "Sku=POST"]);
    assert!(
        e.contains("retail.csv") && e.contains("Sku") && e.contains("StockCode"),
        "{e}"
    );
}
