//! Issue 11, dates: evidence-based day/month order for every separator, `--date-format`,
//! `--max-dropped-share`, ISO 8601-only `--as-of` and HTTP dates, and `as_of_defaulted`.

use std::path::Path;

use serde_json::json;

use crate::common::{custseg, dataset, text};
use crate::server::{config, golden_store, post, start};

/// CDNOW with its `YYYYMMDD` dates rewritten as `DD{sep}MM{sep}YYYY`.
fn cdnow_day_first(dir: &Path, sep: char) -> std::path::PathBuf {
    let src = std::fs::read_to_string(dataset("CDNOW_master.txt")).unwrap();
    let mut out = String::with_capacity(src.len() + src.len() / 5);
    for (i, line) in src.lines().enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if i == 0 || f.len() != 4 {
            out.push_str(line);
        } else {
            let d = f[1];
            let date = format!("{}{sep}{}{sep}{}", &d[6..8], &d[4..6], &d[0..4]);
            out.push_str(&format!("{} {date} {} {}", f[0], f[2], f[3]));
        }
        out.push('\n');
    }
    let path = dir.join(format!(
        "cdnow_dmy{}.txt",
        if sep == '.' { "_dot" } else { "" }
    ));
    std::fs::write(&path, out).unwrap();
    path
}

fn train(dir: &Path, tx: &Path, name: &str, extra: &[&str]) -> std::process::Output {
    let tx = tx.to_str().unwrap();
    let mut args = vec![
        "train",
        "--transactions",
        tx,
        "--n-init",
        "2",
        "--models-dir",
        "m",
        "--name",
        name,
    ];
    args.extend_from_slice(extra);
    if !extra.contains(&"--k") {
        args.extend_from_slice(&["--k", "4"]);
    }
    custseg(&args, dir)
}

#[test]
fn r11_cdnow_written_day_first_trains_exactly_like_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let orig = train(dir.path(), &dataset("CDNOW_master.txt"), "orig", &[]);
    assert!(orig.status.success(), "{}", text(&orig));
    let expected = std::fs::read(dir.path().join("m/orig/v1/assignments.csv")).unwrap();
    for sep in ['-', '.'] {
        let file = cdnow_day_first(dir.path(), sep);
        let name = format!("dmy{}", if sep == '.' { "dot" } else { "dash" });
        let out = train(dir.path(), &file, &name, &[]);
        let t = text(&out);
        assert!(out.status.success(), "{t}");
        assert!(
            t.contains("rows read 69659, kept 69404, duplicate 255"),
            "{t}"
        );
        assert!(t.contains("as of 1998-07-01"), "{t}");
        assert!(
            t.contains(&format!("day-first (row 6 '30{sep}03{sep}1997')")),
            "{t}"
        );
        let got = std::fs::read(dir.path().join(format!("m/{name}/v1/assignments.csv"))).unwrap();
        assert!(
            got == expected,
            "{sep}: assignments differ from the original's"
        );
    }
}

#[test]
fn r11_ambiguous_dates_stop_until_a_date_format_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("amb.csv");
    std::fs::write(
        &f,
        "customer_id,date,amount\na,03-04-2011,5\nb,05-06-2011,7\nc,01-02-2011,3\n",
    )
    .unwrap();
    let out = train(dir.path(), &f, "amb", &["--k", "2"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("amb.csv column date"), "{t}");
    assert!(t.contains("'03-04-2011' (row 2)"), "{t}");
    assert!(t.contains("--date-format FMT"), "{t}");
    let ok = train(
        dir.path(),
        &f,
        "amb",
        &["--k", "2", "--date-format", "%d-%m-%Y"],
    );
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("as of 2011-06-06"), "{}", text(&ok));
    // The same through the config's [map].
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[map]\ndate_format = \"%m-%d-%Y\"\n").unwrap();
    let ok = train(
        dir.path(),
        &f,
        "amb",
        &["--k", "2", "--config", cfg.to_str().unwrap()],
    );
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("as of 2011-05-07"), "{}", text(&ok));
    assert!(
        text(&ok).contains("amb.csv: format %m-%d-%Y"),
        "{}",
        text(&ok)
    );
    let bad = train(
        dir.path(),
        &f,
        "amb",
        &["--k", "2", "--date-format", "%d-%m"],
    );
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(text(&bad).contains("--date-format"), "{}", text(&bad));
}

#[test]
fn r11_contradictory_day_orders_stop_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("mixed.csv");
    std::fs::write(
        &f,
        "customer_id,date,amount\na,13/01/2011,5\nb,05/06/2011,7\nc,01/13/2011,3\n",
    )
    .unwrap();
    let out = train(dir.path(), &f, "mixed", &["--k", "2"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("row 2 '13/01/2011' can only be day-first"),
        "{t}"
    );
    assert!(
        t.contains("row 4 '01/13/2011' can only be month-first"),
        "{t}"
    );
}

#[test]
fn r11_more_than_five_percent_bad_dates_stop_with_three_samples() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.csv");
    let mut s = String::from("customer_id,date,amount\n");
    for i in 0..100 {
        let date = if i % 10 == 3 {
            "2011-02-30".to_string()
        } else {
            format!("2011-03-{:02}", i % 28 + 1)
        };
        s.push_str(&format!("c{},{date},{}\n", i % 30, i + 1));
    }
    std::fs::write(&f, s).unwrap();
    let out = train(dir.path(), &f, "bad", &["--k", "2"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("10 of 100 rows (10.0%) would be dropped as bad_date"),
        "{t}"
    );
    assert!(t.contains("limit of 5.0%"), "{t}");
    for row in [5, 15, 25] {
        assert!(
            t.contains(&format!("bad.csv:{row} column date '2011-02-30'")),
            "{t}"
        );
    }
    assert!(!t.contains("bad.csv:35"), "only three samples: {t}");
    assert!(t.contains("--max-dropped-share"), "{t}");
    let ok = train(
        dir.path(),
        &f,
        "bad",
        &["--k", "2", "--max-dropped-share", "0.2"],
    );
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("bad date 10"), "{}", text(&ok));
    // Batch scoring applies the same check.
    let score = |extra: &[&str]| {
        let mut args = vec![
            "score", "--model", "m/bad", "--input", "bad.csv", "--output", "s.csv",
        ];
        args.extend_from_slice(extra);
        custseg(&args, dir.path())
    };
    let refused = score(&[]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("bad.csv:5 column date"),
        "{}",
        text(&refused)
    );
    assert!(score(&["--max-dropped-share", "1"]).status.success());
}

#[test]
fn r11_as_of_flags_are_iso_8601_only() {
    let dir = tempfile::tempdir().unwrap();
    let cdnow = dataset("CDNOW_master.txt");
    for bad in ["10/12/2011", "01.10.1997", "12-10-2011"] {
        let out = train(dir.path(), &cdnow, "a", &["--as-of", bad]);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{t}");
        assert!(t.contains(&format!("--as-of '{bad}'")), "{t}");
        assert!(t.contains("YYYY-MM-DD"), "{t}");
    }
    let ok = train(
        dir.path(),
        &cdnow,
        "a",
        &["--as-of", "1997-10-01T00:00:00Z"],
    );
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("as of 1997-10-01"), "{}", text(&ok));
    let out = custseg(
        &[
            "score",
            "--model",
            "m/a",
            "--input",
            cdnow.to_str().unwrap(),
            "--output",
            "s.csv",
            "--as-of",
            "10/12/2011",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("--as-of '10/12/2011'"),
        "{}",
        text(&out)
    );
}

#[test]
fn r11_http_dates_are_iso_8601_and_a_default_as_of_is_said() {
    let store = golden_store();
    let s = start(config(store.path()));
    let features = json!({"customer_id": "c", "recency_days": 12, "frequency": 3,
        "monetary": 120.0, "avg_order_value": 40.0, "tenure_days": 200});
    let r = post(
        s.addr,
        "/v1/score",
        &[],
        &json!({"as_of": "10/12/2011", "customers": [features]}),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    let e = r.json()["error"].clone();
    assert_eq!(e["code"], "invalid_date");
    assert_eq!(e["field"], "as_of");
    assert!(e["message"].as_str().unwrap().contains("YYYY-MM-DD"), "{e}");
    let txn = json!({"as_of": "2011-12-01", "customers": [features, {"transactions": [
        {"date": "2011-01-05", "amount": 5.0}, {"date": "03/04/2011", "amount": 5.0}]}]});
    let r = post(s.addr, "/v1/score", &[], &txn);
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(
        r.json()["error"]["field"],
        "customers[1].transactions[1].date"
    );
    let r = post(
        s.addr,
        "/v1/score",
        &[],
        &json!({"as_of": "2011-12-01T10:00:00+01:00",
        "customers": [features]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["as_of"], "2011-12-01");
    assert_eq!(r.json()["warnings"], json!([]));
    let r = post(s.addr, "/v1/score", &[], &json!({"customers": [features]})).json();
    let today = custseg::data::dates::format_day(custseg::data::dates::today());
    assert_eq!(r["as_of"], today.as_str());
    assert_eq!(
        r["warnings"],
        json!([{"code": "as_of_defaulted", "as_of": today, "source": "today"}])
    );
    assert!(r["results"][0]["warnings"].is_array(), "{r}");
    drop(s);
    let mut cfg = config(store.path());
    cfg.default_as_of = custseg::server::config::DefaultAsOf::Model;
    let s = start(cfg);
    let r = post(s.addr, "/v1/score", &[], &json!({"customers": [features]})).json();
    assert_eq!(r["as_of"], "2026-07-01");
    assert_eq!(
        r["warnings"],
        json!([{"code": "as_of_defaulted", "as_of": "2026-07-01", "source": "model"}])
    );
}

#[test]
fn r11_serve_default_as_of_takes_today_or_model() {
    let dir = tempfile::tempdir().unwrap();
    let out = custseg(&["serve", "--default-as-of", "yesterday"], dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("expected today or model"),
        "{}",
        text(&out)
    );
}
