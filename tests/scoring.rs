//! Issue 11, scoring with features missing or impossible: batch tables without a feature
//! column (exit 2, `--allow-missing-features`), misspelled names (`did you mean`), impossible
//! RFM combinations, `too_many_missing` over a real socket, `--model` typos and `models show`
//! with many inputs.

use std::path::Path;

use custseg::server::ServerConfig;
use serde_json::{json, Value};

use crate::common::{custseg, repo, text};
use crate::server::{config, golden_store, post, start};

/// The golden model's assignments.csv with `edit` applied to its header and rows.
fn assignments_with(dir: &Path, name: &str, edit: impl Fn(&str, usize) -> String) -> String {
    let src = std::fs::read_to_string(repo("tests/data/golden/v1/assignments.csv")).unwrap();
    let out: Vec<String> = src.lines().enumerate().map(|(i, l)| edit(l, i)).collect();
    let p = dir.join(name);
    std::fs::write(&p, out.join("\n") + "\n").unwrap();
    p.to_str().unwrap().to_string()
}

/// Drops column `col` of a CSV line without quoted commas.
fn drop_col(line: &str, col: usize) -> String {
    let mut f: Vec<&str> = line.split(',').collect();
    f.remove(col);
    f.join(",")
}

#[test]
fn r11_batch_table_without_a_feature_column_is_exit_2_unless_allowed() {
    let store = golden_store();
    let d = store.path();
    let input = assignments_with(d, "nomonetary.csv", |l, _| drop_col(l, 3));
    let args = [
        "score",
        "--model",
        "default/v1",
        "--models-dir",
        ".",
        "--input",
        &input,
        "--output",
        "o.csv",
    ];
    let o = custseg(&args, d);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("nomonetary.csv") && t.contains("no column for model feature(s) monetary"),
        "{t}"
    );
    assert!(t.contains("--allow-missing-features"), "{t}");
    assert!(!d.join("o.csv").exists());
    let mut allowed = args.to_vec();
    allowed.push("--allow-missing-features");
    let o = custseg(&allowed, d);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("warning: no column for monetary"), "{t}");
    assert!(t.contains("monetary 1000"), "{t}");
    let scores = std::fs::read_to_string(d.join("o.csv")).unwrap();
    assert_eq!(scores.lines().count(), 1001);
    assert!(scores
        .lines()
        .skip(1)
        .all(|l| l.contains("imputed:monetary")));
}

/// Batch-scores `input` with the golden model in `d`; asserts exit 2 and returns the output.
fn score_fails(d: &Path, input: &str) -> String {
    let args = [
        "score",
        "--model",
        "default",
        "--models-dir",
        ".",
        "--input",
        input,
        "--output",
        "o.csv",
    ];
    let o = custseg(&args, d);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    text(&o)
}

#[test]
fn r11_batch_misspelled_column_gets_did_you_mean() {
    let store = golden_store();
    let d = store.path();
    let input = assignments_with(d, "recency.csv", |l, i| {
        if i == 0 {
            l.replacen("recency_days", "Recency", 1)
        } else {
            l.to_string()
        }
    });
    let t = score_fails(d, &input);
    assert!(
        t.contains("recency_days (the file has 'Recency': did you mean recency_days?)"),
        "{t}"
    );
    assert!(t.contains("--map recency_days=Recency"), "{t}");
}

#[test]
fn r11_batch_impossible_row_names_file_row_and_both_columns() {
    let store = golden_store();
    let d = store.path();
    // Row 2: recency_days 500, tenure_days 10.
    let input = assignments_with(d, "bad.csv", |l, i| {
        if i != 2 {
            return l.to_string();
        }
        let mut f: Vec<String> = l.split(',').map(String::from).collect();
        f[1] = "500".into();
        f[5] = "10".into();
        f.join(",")
    });
    let t = score_fails(d, &input);
    assert!(
        t.contains("bad.csv row 3 column recency_days and tenure_days"),
        "{t}"
    );
}

#[test]
fn r11_score_model_typo_says_where_it_looked_and_suggests_models_name() {
    let store = golden_store();
    let d = store.path();
    std::fs::create_dir_all(d.join("models")).unwrap();
    std::fs::rename(d.join("default"), d.join("models/default")).unwrap();
    let o = custseg(
        &[
            "score", "--model", "default", "--input", "x.csv", "--output", "o.csv",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains(&format!("no model folder {}", d.join("default").display())),
        "{t}"
    );
    assert!(
        t.contains("use --model models/default (or --models-dir models --model default)"),
        "{t}"
    );
    let o = custseg(
        &[
            "score", "--model", "nope", "--input", "x.csv", "--output", "o.csv",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("no model folder"), "{}", text(&o));
}

#[test]
fn r11_models_show_summarizes_many_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = std::fs::read_to_string(repo("data/sample/transactions.csv")).unwrap();
    let (header, body) = src.split_once('\n').unwrap();
    let lines: Vec<&str> = body.lines().collect();
    std::fs::create_dir_all(d.join("tx")).unwrap();
    for (i, chunk) in lines.chunks(lines.len() / 6 + 1).enumerate() {
        std::fs::write(
            d.join(format!("tx/part{i}.csv")),
            format!("{header}\n{}\n", chunk.join("\n")),
        )
        .unwrap();
    }
    let o = custseg(
        &["train", "--transactions", "tx", "--k", "2", "--n-init", "1"],
        d,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = custseg(&["models", "show", "default"], d);
    let t = text(&o);
    assert_eq!(t.matches("  input ").count(), 3, "{t}");
    assert!(t.contains("  … and 3 more ("), "{t}");
    assert!(t.contains(" MB)"), "{t}");
}

fn score(addr: std::net::SocketAddr, customer: Value) -> (u16, Value) {
    let r = post(addr, "/v1/score", &[], &json!({"customers": [customer]}));
    (r.status, r.json())
}

#[test]
fn r11_http_too_many_missing_names_the_fields_with_did_you_mean() {
    let store = golden_store();
    let s = start(ServerConfig {
        max_missing_share: 0.5,
        ..config(store.path())
    });
    let (st, v) = score(
        s.addr,
        json!({"recency": 3, "frequency": 2, "monetary": 80.0, "age": 30}),
    );
    assert_eq!(st, 422, "{v}");
    let e = &v["error"];
    assert_eq!(e["code"], "too_many_missing");
    assert_eq!(e["field"], "customers[0]");
    let m = e["message"].as_str().unwrap();
    assert!(
        m.starts_with("8 of the model's 11 features are missing"),
        "{m}"
    );
    assert!(
        m.contains("recency_days (given as recency: did you mean recency_days?)"),
        "{m}"
    );
    assert!(m.contains("signup_channel"), "{m}");
    // Enough given: scored, the misspelling a warning with its hint.
    let c = json!({"recency": 3, "frequency": 2, "monetary": 80.0, "avg_order_value": 40.0,
        "tenure_days": 90, "age": 30, "gender": "F"});
    let (st, v) = score(s.addr, c);
    assert_eq!(st, 200, "{v}");
    let w = &v["results"][0]["warnings"];
    let unknown = w
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["code"] == "unknown_field")
        .unwrap();
    assert_eq!(unknown["field"], "recency");
    assert_eq!(unknown["did_you_mean"], "recency_days");
    assert!(unknown["message"]
        .as_str()
        .unwrap()
        .contains("did you mean recency_days"));
}

#[test]
fn r11_http_max_missing_share_is_configurable() {
    let store = golden_store();
    let sparse = json!({"recency_days": 3, "frequency": 2});
    let s = start(ServerConfig {
        max_missing_share: 1.0,
        ..config(store.path())
    });
    assert_eq!(score(s.addr, sparse.clone()).0, 200);
    drop(s);
    let s = start(ServerConfig {
        max_missing_share: 0.8,
        ..config(store.path())
    });
    assert_eq!(score(s.addr, sparse).0, 422);
}

#[test]
fn r11_http_impossible_combinations_name_both_fields() {
    let store = golden_store();
    let s = start(config(store.path()));
    let (st, v) = score(s.addr, json!({"recency_days": 500, "tenure_days": 10}));
    assert_eq!(st, 422, "{v}");
    assert_eq!(v["error"]["code"], "inconsistent_features");
    assert_eq!(v["error"]["field"], "customers[0].recency_days");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("recency_days and tenure_days"),
        "{v}"
    );
    for c in [
        json!({"frequency": 0, "monetary": 25.0}),
        json!({"frequency": 4, "monetary": 100.0, "avg_order_value": 40.0}),
    ] {
        let (st, v) = score(s.addr, c);
        assert_eq!(
            (st, v["error"]["code"].as_str()),
            (422, Some("inconsistent_features")),
            "{v}"
        );
    }
    // Rounded by the client: accepted.
    let (st, v) = score(
        s.addr,
        json!({"frequency": 3, "monetary": 100.0, "avg_order_value": 33.33}),
    );
    assert_eq!(st, 200, "{v}");
}
