//! Behaviour features (issue 15): on an Online-Retail-shaped log (StockCode, Country, times,
//! cancellations, fee lines), every behaviour feature of every customer equals a
//! straightforward fold over the log written here, with and without row filters; HTTP
//! scoring of raw lines carrying those fields equals training (also in `filters.rs`); an
//! unknown country at scoring time is the unknown level with a warning; `--map` names the
//! columns of logs with other headers.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde_json::{json, Value};

use crate::common::retail::{Retail, RetailLine};
use crate::common::{custseg, text};
use crate::server::{config, post, start};

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn day_number(y: i32, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y } as i64;
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The fold's features of one customer.
#[derive(Debug, PartialEq)]
struct Expected {
    distinct_products: f64,
    return_rate: f64,
    weekend_share: f64,
    main_country: String,
    /// Purchase value share per band of the day (night before 6:00, morning, afternoon,
    /// evening from 18:00).
    time_share: BTreeMap<&'static str, f64>,
}

/// Every customer's behaviour features by the README's definitions, from `lines` (exact
/// duplicates dropped, blank ids left out, `keep` deciding the filters), over the whole log.
fn fold(lines: &[RetailLine], keep: impl Fn(&RetailLine) -> bool) -> BTreeMap<String, Expected> {
    let mut seen = HashSet::new();
    let mut by: BTreeMap<String, Vec<&RetailLine>> = BTreeMap::new();
    for l in lines.iter().filter(|l| keep(l) && !l.customer.is_empty()) {
        if seen.insert(format!("{l:?}")) {
            let id = l.customer.trim_end_matches(".0").to_string();
            by.entry(id).or_default().push(l);
        }
    }
    let mut out = BTreeMap::new();
    for (id, ls) in by {
        let value = |l: &RetailLine| l.quantity as f64 * l.unit_price.parse::<f64>().unwrap();
        let buys: Vec<&&RetailLine> = ls.iter().filter(|l| l.quantity > 0).collect();
        if buys.is_empty() {
            continue;
        }
        let products: BTreeSet<&str> = buys.iter().map(|l| l.stock_code.as_str()).collect();
        let bought: f64 = buys.iter().map(|l| value(l)).sum();
        let returned: f64 = ls
            .iter()
            .filter(|l| l.quantity < 0)
            .map(|l| -value(l))
            .sum();
        // Orders: invoices, or the day for a line without one; weekday of the first line.
        let mut orders: HashMap<String, i64> = HashMap::new();
        for l in &buys {
            let day = day_number(l.at.0, l.at.1, l.at.2);
            let key = if l.invoice == "NA" {
                format!("day {day}")
            } else {
                l.invoice.clone()
            };
            orders.entry(key).or_insert(day);
        }
        let mut time_share: BTreeMap<&'static str, f64> = BTreeMap::new();
        for l in &buys {
            let band = ["night", "morning", "afternoon", "evening"][l.at.3 as usize / 6];
            *time_share.entry(band).or_default() += value(l) / bought;
        }
        let weekend = orders
            .values()
            .filter(|d| (*d + 3).rem_euclid(7) >= 5)
            .count();
        out.insert(
            id,
            Expected {
                distinct_products: products.len() as f64,
                return_rate: if bought > 0.0 { returned / bought } else { 0.0 },
                weekend_share: weekend as f64 / orders.len() as f64,
                main_country: buys[0].country.to_string(),
                time_share,
            },
        );
    }
    out
}

fn assignments(work: &std::path::Path, name: &str) -> BTreeMap<String, HashMap<String, String>> {
    crate::common::assignments_by_id(work, name)
}

fn train(work: &std::path::Path, args: &[&str]) -> String {
    let mut all = vec!["train", "--k", "3", "--n-init", "2", "--seed", "3"];
    all.extend_from_slice(args);
    let o = custseg(&all, work);
    assert!(o.status.success(), "{}", text(&o));
    text(&o)
}

fn compare(got: &BTreeMap<String, HashMap<String, String>>, want: &BTreeMap<String, Expected>) {
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "the same customers"
    );
    for (id, e) in want {
        let row = &got[id];
        let num = |c: &str| -> f64 { row[c].parse().unwrap_or_else(|_| panic!("{id} {c}")) };
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
        assert_eq!(num("distinct_products"), e.distinct_products, "{id}");
        assert!(
            close(num("return_rate"), e.return_rate),
            "{id}: {row:?} {e:?}"
        );
        assert!(
            close(num("weekend_share"), e.weekend_share),
            "{id}: {row:?} {e:?}"
        );
        assert_eq!(row["main_country"], e.main_country, "{id}");
        for band in ["morning", "afternoon", "evening"] {
            let want = e.time_share.get(band).copied().unwrap_or(0.0);
            assert!(
                close(num(&format!("time_share[{band}]")), want),
                "{id} {band}"
            );
        }
    }
}

#[test]
fn r15_behaviour_features_equal_an_independent_fold_with_and_without_filters() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let log = Retail::generate_with_fees(200, 21);
    let path = log.write_to(w, "online_retail.csv");
    let p = path.to_str().unwrap();
    let out = train(w, &["--transactions", p, "--name", "plain"]);
    assert!(
        out.contains("features: recency_days, frequency, monetary [log1p], avg_order_value [log1p], tenure_days")
            && out.contains("distinct_products")
            && out.contains("main_country"),
        "{out}"
    );
    let plain = assignments(w, "plain");
    compare(&plain, &fold(&log.lines, |_| true));
    let fees = ["POST", "M", "AMAZONFEE", "BANK CHARGES"];
    train(
        w,
        &[
            "--transactions",
            p,
            "--name",
            "filtered",
            "--exclude",
            "StockCode=POST|M|AMAZONFEE|BANK CHARGES",
            "--min-unit-price",
            "0.01",
        ],
    );
    let filtered = assignments(w, "filtered");
    let want = fold(&log.lines, |l| {
        !fees.contains(&l.stock_code.as_str()) && l.unit_price.parse::<f64>().unwrap() >= 0.01
    });
    compare(&filtered, &want);
    // The model says where each feature comes from and which headers fed them.
    let model: Value =
        serde_json::from_slice(&std::fs::read(w.join("models/filtered/v1/model.json")).unwrap())
            .unwrap();
    let names: Vec<&str> = (model["features"]["features"].as_array().unwrap().iter())
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    for f in [
        "distinct_products",
        "return_rate",
        "weekend_share",
        "main_country",
    ] {
        assert!(names.contains(&f), "{names:?}");
    }
    assert_eq!(
        model["params"]["behaviour_columns"],
        json!({"country": "Country", "product": "StockCode"})
    );

    // An unknown country over HTTP is the unknown level with a warning; the role name
    // works as well as the log's header.
    let s = start(config(&w.join("models")));
    let line = |country: &str| {
        json!({"date": "2011-05-02T10:00:00", "quantity": 6, "unit_price": 2.55,
               "order_id": 540001, "product": "85123A", "country": country})
    };
    let body = |l: Value| json!({"as_of": "2011-12-10", "customers": [{"transactions": [l]}]});
    let r = post(
        s.addr,
        "/v1/models/filtered/score",
        &[],
        &body(line("Atlantis")),
    )
    .json();
    let warnings = r["results"][0]["warnings"].as_array().unwrap().clone();
    assert!(
        warnings.contains(&json!({"code": "unknown_category", "feature": "main_country"})),
        "{r}"
    );
    let r = post(
        s.addr,
        "/v1/models/filtered/score",
        &[],
        &body(line("France")),
    )
    .json();
    let warnings = r["results"][0]["warnings"].as_array().unwrap().clone();
    assert!(
        !warnings.iter().any(|w| w["feature"] == "main_country"),
        "{r}"
    );
    // A behaviour field that is an object is malformed, named.
    let mut bad = line("France");
    bad["product"] = json!({"sku": 1});
    let r = post(s.addr, "/v1/models/filtered/score", &[], &body(bad));
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(
        r.json()["error"]["field"],
        "customers[0].transactions[0].product"
    );
}

#[test]
fn r15_behaviour_columns_by_map_and_a_map_to_a_missing_column_is_exit_2() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let log = Retail::generate(80, 8);
    // The same log with headers no default name knows.
    let csv = log
        .csv()
        .replacen("StockCode", "Artikel", 1)
        .replacen("Country", "Land", 1);
    let path = w.join("renamed.csv");
    std::fs::write(&path, csv).unwrap();
    let p = path.to_str().unwrap();
    let out = train(w, &["--transactions", p, "--name", "unmapped"]);
    assert!(!out.contains("distinct_products"), "{out}");
    let out = train(
        w,
        &[
            "--transactions",
            p,
            "--name",
            "mapped",
            "--map",
            "product=Artikel",
            "--map",
            "country=Land",
        ],
    );
    assert!(
        out.contains("distinct_products") && out.contains("main_country"),
        "{out}"
    );
    compare(&assignments(w, "mapped"), &fold(&log.lines, |_| true));
    let o = custseg(
        &[
            "train",
            "--transactions",
            p,
            "--k",
            "2",
            "--map",
            "category=Kategorie",
        ],
        w,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let e = text(&o);
    assert!(
        e.contains("renamed.csv") && e.contains("category=Kategorie") && e.contains("Artikel"),
        "{e}"
    );
}

/// The category of a retail stock code, and the channel of an invoice, for the share test.
fn category_of(code: &str) -> &'static str {
    match code.bytes().map(u32::from).sum::<u32>() % 4 {
        0 => "Lighting",
        1 => "Kitchen",
        2 => "Gifts",
        _ => "Garden",
    }
}

fn channel_of(invoice: &str) -> &'static str {
    if invoice.bytes().last().is_some_and(|b| b % 3 == 0) {
        "Online"
    } else {
        "Store"
    }
}

#[test]
fn r15_spend_share_blocks_equal_a_fold_and_http_equals_training() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let log = Retail::generate(150, 33);
    // The UCI columns plus Category and Channel.
    let mut csv = String::from(
        "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID,Category,Channel\n",
    );
    for l in &log.lines {
        let (y, mo, d, h, mi) = l.at;
        csv.push_str(&format!(
            "{},{},{},{mo}/{d}/{y} {h}:{mi:02},{},{},{},{}\n",
            l.invoice,
            l.stock_code,
            l.quantity,
            l.unit_price,
            l.customer,
            category_of(&l.stock_code),
            channel_of(&l.invoice)
        ));
    }
    let path = w.join("retail_categories.csv");
    std::fs::write(&path, csv).unwrap();
    // Two top categories, the other two pooled.
    let cfg = w.join("custseg.toml");
    std::fs::write(
        &cfg,
        "share_levels = 2\n[features.channel_share]\nweight = 2\n",
    )
    .unwrap();
    let p = path.to_str().unwrap();
    train(
        w,
        &[
            "--transactions",
            p,
            "--name",
            "shares",
            "--config",
            cfg.to_str().unwrap(),
        ],
    );
    let got = assignments(w, "shares");

    // The fold: purchase value per customer and category / channel, duplicates dropped.
    let mut seen = HashSet::new();
    let mut value: BTreeMap<String, BTreeMap<&str, f64>> = BTreeMap::new();
    let mut total: BTreeMap<&str, f64> = BTreeMap::new();
    for l in log
        .lines
        .iter()
        .filter(|l| !l.customer.is_empty() && l.quantity > 0)
    {
        if !seen.insert(format!("{l:?}")) {
            continue;
        }
        let v = l.quantity as f64 * l.unit_price.parse::<f64>().unwrap();
        let id = l.customer.trim_end_matches(".0").to_string();
        let c = value.entry(id).or_default();
        *c.entry(category_of(&l.stock_code)).or_default() += v;
        *c.entry(channel_of(&l.invoice)).or_default() += v;
        *c.entry("*").or_default() += v;
        *total.entry(category_of(&l.stock_code)).or_default() += v;
    }
    let mut ranked: Vec<(&str, f64)> = total.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    let tops = [ranked[0].0, ranked[1].0];
    let model: Value =
        serde_json::from_slice(&std::fs::read(w.join("models/shares/v1/model.json")).unwrap())
            .unwrap();
    let features: Vec<(String, f64)> = (model["features"]["features"].as_array().unwrap().iter())
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_string(),
                f["weight"].as_f64().unwrap(),
            )
        })
        .collect();
    let cols = |block: &str| -> Vec<(String, f64)> {
        features
            .iter()
            .filter(|(n, _)| n.starts_with(block))
            .cloned()
            .collect()
    };
    let expected_categories = [
        format!("category_share[{}]", tops[0]),
        format!("category_share[{}]", tops[1]),
        "category_share[(other)]".to_string(),
    ];
    assert_eq!(
        cols("category_share")
            .iter()
            .map(|(n, _)| n.clone())
            .collect::<Vec<_>>(),
        expected_categories
    );
    for (_, weight) in cols("category_share") {
        assert!((weight - 1.0 / 3.0).abs() < 1e-12, "{weight}");
    }
    let channels = cols("channel_share");
    assert_eq!(channels.len(), 2, "{channels:?}");
    for (_, weight) in &channels {
        assert!(
            (weight - 1.0).abs() < 1e-12,
            "weight 2 over two columns: {weight}"
        );
    }
    let mut checked = 0;
    for (id, v) in &value {
        let Some(row) = got.get(id) else { continue };
        let share = |c: &str| row[c].parse::<f64>().unwrap();
        let of = |k: &str| v.get(k).copied().unwrap_or(0.0) / v["*"];
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(close(share(&expected_categories[0]), of(tops[0])), "{id}");
        assert!(close(share(&expected_categories[1]), of(tops[1])), "{id}");
        let other = 1.0 - of(tops[0]) - of(tops[1]);
        assert!(close(share("category_share[(other)]"), other), "{id}");
        assert!(close(share("channel_share[Online]"), of("Online")), "{id}");
        checked += 1;
    }
    assert_eq!(checked, got.len());

    // HTTP from raw lines with `category` and `channel`: the training distance, for every
    // customer.
    let s = start(config(&w.join("models")));
    let by_customer = log.by_customer();
    let mut same = 0;
    let customers: Vec<_> = by_customer.iter().collect();
    for chunk in customers.chunks(50) {
        let body = json!({"as_of": model["as_of"], "customers": chunk.iter().map(|(id, lines)| {
            let t: Vec<Value> = lines.iter().map(|l| {
                let mut j = l.json();
                j["category"] = json!(category_of(&l.stock_code));
                j["channel"] = json!(channel_of(&l.invoice));
                j.as_object_mut().unwrap().remove("Country");
                j.as_object_mut().unwrap().remove("Description");
                j
            }).collect();
            json!({"customer_id": id, "transactions": t})
        }).collect::<Vec<_>>()});
        let r = post(s.addr, "/v1/models/shares/score", &[], &body);
        assert_eq!(r.status, 200, "{}", r.text());
        for ((id, _), res) in chunk.iter().zip(r.json()["results"].as_array().unwrap()) {
            let Some(row) = got.get(*id) else { continue };
            let d = res["distance"].as_f64().unwrap();
            let dt: f64 = row["distance"].parse().unwrap();
            assert!((d - dt).abs() < 1e-5, "{id}: {d} vs {dt} {res}");
            assert_eq!(res["segment_id"].to_string(), row["segment_id"], "{id}");
            same += 1;
        }
    }
    assert_eq!(same, got.len());
    // A category never seen in training counts as `(other)`, like a pooled one.
    let pooled = ["Lighting", "Kitchen", "Gifts", "Garden"]
        .into_iter()
        .find(|c| !tops.contains(c))
        .unwrap();
    let one = |category: &str| {
        let line = json!({"date": "2011-05-02T10:00:00", "amount": 20.0, "order_id": "x1",
                          "category": category, "channel": "Store", "StockCode": "85123A"});
        let body = json!({"as_of": model["as_of"], "customers": [{"transactions": [line]}]});
        let r = post(s.addr, "/v1/models/shares/score", &[], &body);
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["results"][0].clone()
    };
    let distance = |r: &Value| r["distance"].as_f64().unwrap();
    let unseen = |r: &Value| {
        (r["warnings"].as_array().unwrap().iter())
            .any(|w| w["code"] == "unknown_category" && w["feature"] == "category_share")
    };
    let (toys, pooled) = (one("Toys"), one(pooled));
    assert_eq!(distance(&toys), distance(&pooled));
    assert!(unseen(&toys), "a level training never saw is said: {toys}");
    assert!(!unseen(&pooled), "a pooled level is no surprise: {pooled}");
    assert_ne!(
        distance(&one(tops[0])),
        distance(&pooled),
        "a top level is its own column"
    );
}

#[test]
fn r15_a_same_named_table_column_is_shadowed_and_a_one_level_block_left_out() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let log = Retail::generate(60, 12);
    // The UCI columns plus a Category every line shares.
    let csv = log
        .csv()
        .replacen("Country\n", "Country,Category\n", 1)
        .replace('\n', ",Gifts\n");
    let csv = csv.replacen("Country,Category,Gifts\n", "Country,Category\n", 1);
    let path = w.join("one_category.csv");
    std::fs::write(&path, csv).unwrap();
    let mut table = String::from("CustomerID,return_rate,age\n");
    for (i, id) in log.by_customer().keys().enumerate() {
        table.push_str(&format!("{id},{},{}\n", i % 7, 20 + i % 40));
    }
    let t = w.join("customers.csv");
    std::fs::write(&t, table).unwrap();
    let out = train(
        w,
        &[
            "--transactions",
            path.to_str().unwrap(),
            "--customers",
            t.to_str().unwrap(),
            "--name",
            "shadow",
        ],
    );
    assert!(
        out.contains("left out return_rate: customer-table column shadowed"),
        "{out}"
    );
    assert!(
        out.contains("left out category_share: 1 level(s) in the log, a share needs two"),
        "{out}"
    );
    let model: Value =
        serde_json::from_slice(&std::fs::read(w.join("models/shadow/v1/model.json")).unwrap())
            .unwrap();
    let features = model["features"]["features"].as_array().unwrap();
    let rr: Vec<&Value> = features
        .iter()
        .filter(|f| f["name"] == "return_rate")
        .collect();
    assert_eq!(rr.len(), 1);
    assert_eq!(
        rr[0]["source"], "transactions",
        "the log's return_rate, not the table's"
    );
    assert!(features.iter().any(|f| f["name"] == "age"));
    assert!(!features
        .iter()
        .any(|f| f["name"].as_str().unwrap().starts_with("category_share")));
}
