//! One set of row rules (issue 11, observation 2): the trainer, `custseg score` and the HTTP
//! raw-transaction path read an Online-Retail-shaped log the same way (exact duplicates over
//! every field, cancellations, float and blank ids, `NA` order ids, extra attributes), a
//! customer without a purchase gets a result without a segment, and `--keep-duplicates`.

use std::collections::HashMap;

use custseg::Registry;
use serde_json::{json, Value};

use crate::common::retail::Retail;
use crate::common::{custseg, read_csv, text, train_fixed};
use crate::server::{config, post, start};

#[test]
fn r11_http_and_batch_scoring_of_raw_retail_lines_equal_training() {
    let work = tempfile::tempdir().unwrap();
    let (log, path) = Retail::write(work.path(), "online_retail.csv", 300, 11);
    let mut out = train_fixed(std::slice::from_ref(&path), &[], &[], 4);
    let c = out.metrics.data.transactions.clone().unwrap();
    assert!(c.duplicate > 10, "{c:?}");
    assert!(c.missing_customer_id > 10, "{c:?}");
    assert!(c.returns > 20, "{c:?}");
    let trained: HashMap<String, (usize, f64)> = {
        let a = &out.assignments;
        let ids = out.model.segments.iter().map(|s| s.id).collect::<Vec<_>>();
        (0..a.ids.len())
            .map(|i| (a.ids[i].clone(), (ids[a.labels[i]], a.distances[i])))
            .collect()
    };
    let as_of = out.model.as_of.clone().unwrap();
    let models = work.path().join("models");
    Registry::new(&models)
        .save("default", &mut out, true)
        .unwrap();

    // Every customer over HTTP from its raw lines.
    let s = start(config(&models));
    let by_customer = log.by_customer();
    let (mut same, mut unscored) = (0, 0);
    let customers: Vec<(&String, Vec<Value>)> = by_customer
        .iter()
        .map(|(id, lines)| (id, Retail::json_transactions(lines)))
        .collect();
    for chunk in customers.chunks(100) {
        let body = json!({"as_of": as_of, "customers": chunk.iter().map(|(id, t)| {
            json!({"customer_id": id, "transactions": t})
        }).collect::<Vec<_>>()});
        let r = post(s.addr, "/v1/score", &[], &body);
        assert_eq!(r.status, 200, "{}", r.text());
        for ((id, _), res) in chunk.iter().zip(r.json()["results"].as_array().unwrap()) {
            assert_eq!(res["customer_id"], id.as_str());
            match trained.get(*id) {
                Some(&(seg, dist)) => {
                    assert_eq!(res["segment_id"], seg, "{id}: {res}");
                    let d = res["distance"].as_f64().unwrap();
                    assert!((d - dist).abs() < 1e-9, "{id}: {d} vs {dist}");
                    same += 1;
                }
                None => {
                    assert!(log.only_returns.contains(id), "{id} was not trained");
                    assert_eq!(res["segment_id"], Value::Null, "{res}");
                    assert_eq!(res["segment"], Value::Null, "{res}");
                    assert_eq!(res["tier"], Value::Null, "{res}");
                    let codes: Vec<&str> = res["warnings"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter_map(|w| w["code"].as_str())
                        .collect();
                    assert_eq!(codes.last(), Some(&"no_purchases"), "{res}");
                    unscored += 1;
                }
            }
        }
    }
    assert_eq!(
        same,
        trained.len(),
        "100% of the trained customers compared"
    );
    assert_eq!(unscored, log.only_returns.len());
    assert!(unscored >= 4);

    // `custseg score` of the same file.
    let scores = work.path().join("scores.csv");
    let o = custseg(
        &[
            "score",
            "--model",
            models.join("default").to_str().unwrap(),
            "--input",
            path.to_str().unwrap(),
            "--output",
            scores.to_str().unwrap(),
        ],
        work.path(),
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains(&format!(
            "{unscored} customers without a purchase before it (written with an empty segment and the warning no_purchases)"
        )),
        "{}",
        text(&o)
    );
    let (h, rows) = read_csv(&scores);
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    assert_eq!(rows.len(), trained.len() + unscored);
    for r in &rows {
        match trained.get(&r[col("customer_id")]) {
            Some(&(seg, dist)) => {
                assert_eq!(r[col("segment_id")], seg.to_string());
                let d: f64 = r[col("distance")].parse().unwrap();
                assert!((d - dist).abs() < 1e-6, "{d} vs {dist}");
            }
            None => {
                assert_eq!(r[col("segment_id")], "");
                assert_eq!(r[col("warnings")], "no_purchases");
            }
        }
    }
}

#[test]
fn r11_lines_differing_only_in_an_attribute_are_not_duplicates_over_http() {
    let work = tempfile::tempdir().unwrap();
    let (_, path) = Retail::write(work.path(), "retail.csv", 40, 3);
    let mut out = train_fixed(&[path], &[], &[], 2);
    let models = work.path().join("models");
    Registry::new(&models)
        .save("default", &mut out, true)
        .unwrap();
    let s = start(config(&models));
    let line = |code: Value| {
        json!({"date": "2011-05-02T10:00:00", "quantity": 6, "unit_price": 2.55,
               "order_id": 540001, "StockCode": code, "Country": "France"})
    };
    let body = |lines: Vec<Value>| json!({"as_of": "2011-12-10", "customers": [{"customer_id": 1, "transactions": lines}]});
    let two = post(
        s.addr,
        "/v1/score",
        &[],
        &body(vec![line(json!("85123A")), line(json!(71053))]),
    );
    assert_eq!(two.status, 200, "{}", two.text());
    assert_eq!(two.json()["results"][0]["warnings"], json!([]));
    let dup = post(
        s.addr,
        "/v1/score",
        &[],
        &body(vec![line(json!(71053)), line(json!("71053"))]),
    );
    let w = dup.json()["results"][0]["warnings"].clone();
    assert_eq!(w, json!([{"code": "duplicate_transactions", "count": 1}]));
    // Objects, arrays and booleans as attribute values are malformed.
    let bad = post(s.addr, "/v1/score", &[], &body(vec![line(json!({"a": 1}))]));
    assert_eq!(bad.status, 422, "{}", bad.text());
    let e = bad.json()["error"].clone();
    assert_eq!(e["code"], "invalid_type");
    assert_eq!(e["field"], "customers[0].transactions[0].StockCode");
}

#[test]
fn r11_keep_duplicates_is_a_flag_and_a_model_parameter() {
    let work = tempfile::tempdir().unwrap();
    let (log, path) = Retail::write(work.path(), "retail.csv", 120, 5);
    let train = |extra: &[&str], name: &str| {
        let mut args = vec![
            "train",
            "--transactions",
            path.to_str().unwrap(),
            "--k",
            "3",
            "--n-init",
            "2",
            "--name",
            name,
        ];
        args.extend_from_slice(extra);
        let o = custseg(&args, work.path());
        assert!(o.status.success(), "{}", text(&o));
        text(&o)
    };
    let dropped = train(&[], "dropped");
    let n = log
        .lines
        .windows(2)
        .filter(|w| w[0] == w[1] && !w[0].customer.is_empty())
        .count();
    assert!(n > 0);
    assert!(
        dropped.contains(&format!(
            "{n} exact-duplicate rows (every field equal) dropped; --keep-duplicates keeps them"
        )),
        "{dropped}"
    );
    let kept = train(&["--keep-duplicates"], "kept");
    assert!(
        kept.contains("exact-duplicate rows kept (--keep-duplicates)"),
        "{kept}"
    );
    let params = |name: &str| -> Value {
        let m: Value = serde_json::from_slice(
            &std::fs::read(work.path().join(format!("models/{name}/v1/model.json"))).unwrap(),
        )
        .unwrap();
        m["params"]["keep_duplicates"].clone()
    };
    assert_eq!(params("dropped"), json!(false));
    assert_eq!(params("kept"), json!(true));
    // The config key does the same.
    let cfg = work.path().join("custseg.toml");
    std::fs::write(&cfg, "[train]\nkeep_duplicates = true\n").unwrap();
    let by_config = train(&["--config", cfg.to_str().unwrap()], "config");
    assert!(
        by_config.contains("kept (--keep-duplicates)"),
        "{by_config}"
    );
    assert_eq!(params("config"), json!(true));
    // HTTP scoring with the model that kept them keeps them too.
    let s = start(config(&work.path().join("models")));
    // Under the log's headers, the behaviour fields (product, country) the model uses.
    let dup = json!({"date": "2011-05-02", "amount": 10.0, "order_id": "o1",
                     "StockCode": "85123A", "Country": "France"});
    let body = json!({"as_of": "2011-12-10", "customers": [{"transactions": [dup, dup]}]});
    let r = post(s.addr, "/v1/models/kept/score", &[], &body).json();
    assert_eq!(r["results"][0]["warnings"], json!([]), "{r}");
    let r = post(s.addr, "/v1/models/dropped/score", &[], &body).json();
    assert_eq!(
        r["results"][0]["warnings"],
        json!([{"code": "duplicate_transactions", "count": 1}]),
        "{r}"
    );
}
