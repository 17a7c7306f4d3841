//! Event features (issue 15): a RetailRocket-shaped interaction log (`timestamp` in epoch
//! milliseconds, `visitorid`, `event` view/addtocart/transaction, `itemid`, `categoryid`)
//! beside an Online-Retail-shaped log. Every event feature of every customer equals a
//! straightforward fold written here (sessions by the 30-minute rule, with gaps of exactly
//! 30 minutes and one second more), browsers who never buy are segmented with
//! `include_browsers`, batch scoring and HTTP scoring from raw transactions and events give
//! the training segment and distance for 100% of customers; bad events inputs are exit 2
//! naming the flag, file and column.

use std::collections::{BTreeMap, HashMap};

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde_json::{json, Value};

use crate::common::retail::Retail;
use crate::common::{assignments_by_id, custseg, text};
use crate::server::{config, post, start};

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn day_number(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

fn iso_day(s: &str) -> i64 {
    let p: Vec<i64> = s[..10].split('-').map(|x| x.parse().unwrap()).collect();
    day_number(p[0], p[1], p[2])
}

/// One event as written: seconds since 1970, the event name, item and category.
#[derive(Clone, Debug)]
struct Ev {
    at: i64,
    event: &'static str,
    item: u32,
    category: Option<&'static str>,
}

const CATEGORIES: [&str; 3] = ["1147", "491", "1051"];

/// Sessions of events for 70% of the log's customers and for 25 browsers (ids from
/// 90001), from 2010-12-01 to a few beyond the log's end (late events the as-of ignores).
fn events(log: &Retail, seed: u64) -> BTreeMap<String, Vec<Ev>> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut ids: Vec<String> = log.by_customer().into_keys().collect();
    ids.extend((0..25).map(|i| format!("{}", 90_001 + i)));
    let start = day_number(2010, 12, 1) * 86_400;
    let end = day_number(2011, 12, 20) * 86_400;
    let mut out = BTreeMap::new();
    for id in ids {
        if !id.starts_with('9') && rng.gen_bool(0.3) {
            continue;
        }
        let mut evs = Vec::new();
        for _ in 0..rng.gen_range(1..=5) {
            let mut at = rng.gen_range(start..end);
            for _ in 0..rng.gen_range(1..=6) {
                let event = ["view", "view", "view", "addtocart", "transaction", "search"]
                    [rng.gen_range(0..6)];
                let category =
                    (event == "view" && rng.gen_bool(0.9)).then(|| CATEGORIES[rng.gen_range(0..3)]);
                evs.push(Ev {
                    at,
                    event,
                    item: rng.gen_range(1..500),
                    category,
                });
                // Exactly 30 minutes stays in the session, a second more starts another.
                at += [60, 600, 1800, 1801, 7200][rng.gen_range(0..5)];
            }
        }
        out.insert(id, evs);
    }
    out
}

fn events_csv(evs: &BTreeMap<String, Vec<Ev>>) -> String {
    let mut rows: Vec<(i64, String)> = Vec::new();
    for (id, list) in evs {
        for e in list {
            rows.push((
                e.at,
                format!(
                    "{}000,{id},{},{},{}\n",
                    e.at,
                    e.event,
                    e.item,
                    e.category.unwrap_or("")
                ),
            ));
        }
    }
    rows.sort();
    let mut s = String::from("timestamp,visitorid,event,itemid,categoryid\n");
    for (_, r) in rows {
        s.push_str(&r);
    }
    s
}

/// The fold's event features of one customer with `orders` orders.
#[derive(Debug)]
struct Want {
    sessions: f64,
    count: f64,
    days_since_visit: f64,
    views_per_order: f64,
    cart_to_order: f64,
    view_share: BTreeMap<&'static str, f64>,
}

fn fold(evs: &[Ev], as_of: i64, orders: f64, no_visit: f64) -> Want {
    let mut mine: Vec<&Ev> = evs
        .iter()
        .filter(|e| e.at.div_euclid(86_400) < as_of)
        .collect();
    mine.sort_by_key(|e| e.at);
    let mut sessions = 0.0;
    for (i, e) in mine.iter().enumerate() {
        if i == 0 || e.at - mine[i - 1].at > 1800 {
            sessions += 1.0;
        }
    }
    let views: Vec<&&Ev> = mine.iter().filter(|e| e.event == "view").collect();
    let carts = mine.iter().filter(|e| e.event == "addtocart").count() as f64;
    let mut view_share = BTreeMap::new();
    for c in CATEGORIES {
        let n = views.iter().filter(|e| e.category == Some(c)).count() as f64;
        let share = if views.is_empty() {
            0.0
        } else {
            n / views.len() as f64
        };
        view_share.insert(c, share);
    }
    Want {
        sessions,
        count: mine.len() as f64,
        days_since_visit: mine
            .last()
            .map_or(no_visit, |e| (as_of - e.at.div_euclid(86_400)) as f64),
        views_per_order: views.len() as f64 / orders.max(1.0),
        cart_to_order: if carts == 0.0 {
            if orders > 0.0 {
                1.0
            } else {
                0.0
            }
        } else {
            orders.min(carts) / carts
        },
        view_share,
    }
}

fn model_json(work: &std::path::Path, name: &str) -> Value {
    let path = work.join(format!("models/{name}/v1/model.json"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn r15_event_features_equal_a_fold_and_batch_and_http_equal_training() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let log = Retail::generate(120, 21);
    let tx = log.write_to(w, "retail.csv");
    let evs = events(&log, 5);
    let ev_path = w.join("events.csv");
    std::fs::write(&ev_path, events_csv(&evs)).unwrap();
    let (tx, ev) = (tx.to_str().unwrap(), ev_path.to_str().unwrap());
    let args = [
        "train",
        "--transactions",
        tx,
        "--events",
        ev,
        "--include-browsers",
        "--k",
        "4",
        "--seed",
        "2",
        "--name",
        "ev",
    ];
    let o = custseg(&args, w);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    let got = assignments_by_id(w, "ev");
    let model = model_json(w, "ev");
    let as_of = iso_day(model["as_of"].as_str().unwrap());
    // Browsers: an event before the as-of and no purchase (the log's returns-only customers
    // among them).
    let buyers = log.by_customer();
    let purchasers: Vec<&String> = (buyers.keys())
        .filter(|id| !log.only_returns.contains(id))
        .collect();
    let browsers = (evs.iter())
        .filter(|(id, list)| {
            !purchasers.contains(id) && list.iter().any(|e| e.at.div_euclid(86_400) < as_of)
        })
        .count();
    assert!(
        browsers > 20 && browsers != 25,
        "{browsers}: both kinds are in the data"
    );
    let line = format!("browsers (events, no purchase in the window): {browsers} segmented");
    assert!(out.contains(&line), "{out}");
    // Days a missing visit counts: from the first day of either input.
    let first_line = (log.lines.iter())
        .filter(|l| !l.customer.is_empty())
        .map(|l| day_number(l.at.0.into(), l.at.1.into(), l.at.2.into()))
        .min()
        .unwrap();
    let first_event = (evs.values().flatten())
        .map(|e| e.at.div_euclid(86_400))
        .min()
        .unwrap();
    let no_visit = (as_of - first_line.min(first_event)) as f64;
    assert_eq!(
        model["params"]["events"]["no_visit_days"].as_f64(),
        Some(no_visit)
    );
    let mut checked = (0, 0);
    for (id, row) in &got {
        let num = |c: &str| -> f64 { row[c].parse().unwrap_or_else(|_| panic!("{id} {c}")) };
        let browser = !purchasers.contains(&id);
        let orders = num("frequency");
        if browser {
            assert_eq!((orders, num("recency_days")), (0.0, no_visit), "{id}");
            assert_eq!(row["segment"], "Browsers", "{id}: {row:?}");
            checked.1 += 1;
        }
        let none = Vec::new();
        let want = fold(evs.get(id).unwrap_or(&none), as_of, orders, no_visit);
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
        assert_eq!(num("sessions"), want.sessions, "{id} {want:?}");
        assert_eq!(num("event_count"), want.count, "{id}");
        assert_eq!(num("days_since_visit"), want.days_since_visit, "{id}");
        assert!(close(num("views_per_order"), want.views_per_order), "{id}");
        assert!(close(num("cart_to_order"), want.cart_to_order), "{id}");
        for (c, share) in &want.view_share {
            assert!(close(num(&format!("view_share[{c}]")), *share), "{id} {c}");
        }
        checked.0 += 1;
    }
    // Every buyer with a purchase, and every browser.
    assert_eq!(checked, (purchasers.len() + browsers, browsers));

    // Batch scoring with the same log and events: the training segment and distance.
    let scored = w.join("scored.csv");
    let o = custseg(
        &[
            "score",
            "--model",
            "models/ev",
            "--input",
            tx,
            "--events",
            ev,
            "--output",
            scored.to_str().unwrap(),
        ],
        w,
    );
    assert!(o.status.success(), "{}", text(&o));
    let (head, rows) = crate::common::read_csv(&scored);
    let col = |n: &str| head.iter().position(|h| h == n).unwrap();
    let mut batch: HashMap<String, (String, f64, String)> = HashMap::new();
    for r in rows {
        if r[col("segment_id")].is_empty() {
            continue;
        }
        let d = r[col("distance")].parse().unwrap();
        let warn = r[col("warnings")].clone();
        batch.insert(
            r[col("customer_id")].clone(),
            (r[col("segment_id")].clone(), d, warn),
        );
    }
    assert_eq!(batch.len(), got.len());
    for (id, row) in &got {
        let (seg, d, warn) = &batch[id];
        assert_eq!(seg, &row["segment_id"], "{id}");
        assert!(
            (d - row["distance"].parse::<f64>().unwrap()).abs() < 1e-5,
            "{id}"
        );
        assert_eq!(warn.contains("browser"), !purchasers.contains(&id), "{id}");
    }

    // HTTP: raw transactions (none for a browser) and events (ISO timestamps for half the
    // customers, Unix seconds for the others).
    let s = start(config(&w.join("models")));
    let ids: Vec<&String> = got.keys().collect();
    let mut same = 0;
    for (n, chunk) in ids.chunks(40).enumerate() {
        let customers: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let list: Vec<Value> = (evs.get(*id).into_iter().flatten())
                    .map(|e| {
                        let ts = if (n + i) % 2 == 0 {
                            json!(e.at)
                        } else {
                            let d = e.at.div_euclid(86_400);
                            let s = e.at.rem_euclid(86_400);
                            let (y, m, dd) = civil(d);
                            json!(format!(
                                "{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}Z",
                                s / 3600,
                                s / 60 % 60,
                                s % 60
                            ))
                        };
                        let mut o = json!({"timestamp": ts, "event": e.event, "product": e.item});
                        if let Some(c) = e.category {
                            o["category"] = json!(c);
                        }
                        o
                    })
                    .collect();
                let mut c = json!({"customer_id": id, "events": list});
                if let Some(lines) = buyers.get(*id) {
                    c["transactions"] = json!(Retail::json_transactions(lines));
                }
                c
            })
            .collect();
        let body = json!({"as_of": model["as_of"], "customers": customers});
        let r = post(s.addr, "/v1/models/ev/score", &[], &body);
        assert_eq!(r.status, 200, "{}", r.text());
        for (id, res) in chunk.iter().zip(r.json()["results"].as_array().unwrap()) {
            let row = &got[*id];
            let d = res["distance"].as_f64().unwrap_or(f64::NAN);
            assert!(
                (d - row["distance"].parse::<f64>().unwrap()).abs() < 1e-5,
                "{id} {res}"
            );
            assert_eq!(res["segment_id"].to_string(), row["segment_id"], "{id}");
            let text = res["warnings"].to_string();
            assert!(!text.contains("unknown_field"), "{id}: {text}");
            assert_eq!(
                text.contains("\"browser\""),
                !purchasers.contains(id),
                "{id}: {text}"
            );
            same += 1;
        }
    }
    assert_eq!(same, got.len(), "HTTP equals training for every customer");
    // A customer without `events` is scored as no activity, and says so.
    let (id, lines) = buyers.iter().next().unwrap();
    let body = json!({"as_of": model["as_of"], "customers": [
        {"customer_id": id, "transactions": Retail::json_transactions(lines)}]});
    let r = post(s.addr, "/v1/models/ev/score", &[], &body);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("no_events"), "{}", r.text());
    // A bad event names its field.
    let body = json!({"customers": [{"events": [{"timestamp": "2011-05-02", "event": "view"}]}]});
    let r = post(s.addr, "/v1/models/ev/score", &[], &body);
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("events[0].timestamp"), "{}", r.text());
}

/// (year, month, day) of a day number.
fn civil(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[test]
fn r15_bad_events_inputs_are_exit_2_naming_the_flag_file_and_column() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let log = Retail::generate(30, 4);
    let tx = log.write_to(w, "retail.csv");
    let tx = tx.to_str().unwrap();
    let write = |name: &str, body: &str| {
        let p = w.join(name);
        std::fs::write(&p, body).unwrap();
        p.to_str().unwrap().to_string()
    };
    let run = |args: &[&str]| {
        let mut all = vec!["train", "--transactions", tx, "--k", "2"];
        all.extend_from_slice(args);
        let o = custseg(&all, w);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        text(&o)
    };
    let no_ts = write("no_ts.csv", "visitorid,event\n12346,view\n");
    let e = run(&["--events", &no_ts]);
    assert!(
        e.contains("no_ts.csv") && e.contains("timestamp") && e.contains("--events"),
        "{e}"
    );
    let dates = write("dates.csv", "visitorid,date,event\n12346,2011-05-01,view\n");
    let e = run(&["--events", &dates]);
    assert!(
        e.contains("dates.csv") && e.contains("column date") && e.contains("without a time"),
        "{e}"
    );
    let ok = write(
        "ok.csv",
        "visitorid,time,event\n12346,2011-05-01 10:00,view\n",
    );
    let e = run(&["--events", &ok, "--map", "events.timestamp=Nope"]);
    assert!(
        e.contains("events.timestamp=Nope") && e.contains("ok.csv"),
        "{e}"
    );
    let e = run(&["--events", &ok, "--map", "events.stamp=time"]);
    assert!(e.contains("events.stamp"), "{e}");
    // Events need a transaction log beside them.
    let table = write(
        "customers.csv",
        "CustomerID,age\n12346,30\n12347,41\n12348,25\n",
    );
    let o = custseg(
        &["train", "--events", &ok, "--customers", &table, "--k", "2"],
        w,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--transactions"), "{}", text(&o));
    // A model with event features scored without events.
    let o = custseg(
        &["train", "--transactions", tx, "--events", &ok, "--k", "2"],
        w,
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = w.join("s.csv");
    let o = custseg(
        &[
            "score",
            "--model",
            "models/default",
            "--input",
            tx,
            "--output",
            out.to_str().unwrap(),
        ],
        w,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("--events") && text(&o).contains("sessions"),
        "{}",
        text(&o)
    );
    assert!(!out.exists(), "nothing written");
}

#[test]
fn r15_generated_behaviour_trains_to_segments_with_a_mix_and_labels() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let o = custseg(
        &[
            "generate",
            "--customers",
            "3000",
            "--seed",
            "1",
            "--out",
            "beh",
            "--behaviour",
        ],
        w,
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = custseg(
        &[
            "train",
            "--transactions",
            "beh/transactions.csv",
            "--events",
            "beh/events.csv",
            "--include-browsers",
            "--k",
            "6",
            "--seed",
            "1",
            "--name",
            "beh",
        ],
        w,
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("Behaviour (mean shares"), "{out}");
    let (head, rows) = crate::common::read_csv(&w.join("models/beh/v1/segments.csv"));
    let col = |n: &str| {
        head.iter()
            .position(|h| h == n)
            .unwrap_or_else(|| panic!("{n}"))
    };
    let (label, mix, name) = (col("behaviour"), col("category_share_mix"), col("segment"));
    assert!(head.contains(&"view_share_mix".to_string()), "{head:?}");
    assert!(rows.iter().any(|r| r[name] == "Browsers"), "{rows:?}");
    // Some segment is set apart by what it buys or how, and its mix says so.
    let labelled: Vec<&Vec<String>> = rows.iter().filter(|r| !r[label].is_empty()).collect();
    assert!(!labelled.is_empty(), "{rows:?}");
    for r in &labelled {
        if let Some(cat) = r[label].strip_prefix("Mostly ") {
            let cat = cat.split(',').next().unwrap();
            assert!(r[mix].starts_with(cat), "{r:?}");
        }
    }
    let report = std::fs::read_to_string(w.join("models/beh/v1/report.html")).unwrap();
    assert!(report.contains("<section id=\"behaviour\">"));
    let shows = custseg(&["models", "show", "beh"], w);
    assert!(
        text(&shows).contains("category_share: "),
        "{}",
        text(&shows)
    );
}
