//! `custseg export --format sql`: the command writes one query for a model trained on the
//! bundled sample, reads the training files' column names from the model, and refuses
//! (exit 2, naming the cause) an unknown dialect, a missing customer table and a model with
//! features SQL cannot compute. The engines themselves run in `scripts/verify_sql.sh`.

use std::path::Path;

use crate::common::{custseg, repo, text};

/// Trains the bundled sample with its demo config into `dir/models/sample`.
fn train_sample(dir: &Path) -> String {
    let out = custseg(
        &[
            "train",
            "--transactions",
            repo("data/sample/transactions.csv").to_str().unwrap(),
            "--customers",
            repo("data/sample/customers.csv").to_str().unwrap(),
            "--config",
            repo("data/sample/demo.toml").to_str().unwrap(),
            "--k",
            "4",
            "--n-init",
            "1",
            "--name",
            "sample",
            "--models-dir",
            "models",
        ],
        dir,
    );
    assert!(out.status.success(), "{}", text(&out));
    "models/sample".into()
}

fn export(dir: &Path, model: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["export", "--model", model, "--format", "sql"];
    args.extend_from_slice(extra);
    custseg(&args, dir)
}

#[test]
fn sql_export_writes_one_query_over_the_training_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let model = train_sample(tmp.path());
    let out = export(
        tmp.path(),
        &model,
        &[
            "--dialect",
            "postgres",
            "--customers-table",
            "crm.customers",
            "--transactions-table",
            "sales.order_lines",
            "--output",
            "q.sql",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("as postgres SQL -> q.sql"),
        "{}",
        text(&out)
    );
    let q = std::fs::read_to_string(tmp.path().join("q.sql")).unwrap();
    assert_eq!(q.matches("WITH\n").count(), 1, "one query");
    assert!(q.contains(r#"FROM "sales"."order_lines""#) && q.contains(r#"FROM "crm"."customers""#));
    // The sample's own headers, recorded at training.
    for col in [
        "order_date",
        "order_id",
        "quantity",
        "unit_price",
        "annual_income",
        "signup_channel",
    ] {
        assert!(q.contains(&format!("\"{col}\"")), "{col}");
    }
    for out_col in [
        "customer_id",
        "segment_id",
        "segment",
        "tier",
        "distance",
        "r_score",
        "lifecycle",
    ] {
        assert!(q.contains(&format!(" AS {out_col}")), "{out_col}");
    }
    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(tmp.path().join("models/sample/v1/model.json")).unwrap(),
    )
    .unwrap();
    let as_of = json["as_of"].as_str().unwrap();
    assert!(q.contains(&format!("cs_day < DATE '{as_of}'")));
    // --as-of moves it; standard output works as for PMML.
    let out = export(
        tmp.path(),
        &model,
        &[
            "--dialect",
            "spark",
            "--customers-table",
            "customers",
            "--as-of",
            "2025-01-01",
            "--output",
            "-",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let q = String::from_utf8(out.stdout).unwrap();
    assert!(q.contains("cs_day < DATE '2025-01-01'") && q.contains("FROM `transactions`"));
}

#[test]
fn sql_export_refuses_unknown_dialects_and_missing_tables_with_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let model = train_sample(tmp.path());
    let out = export(
        tmp.path(),
        &model,
        &["--dialect", "mysql", "--output", "q.sql"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("--dialect mysql: unknown"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("duckdb, spark, postgres, bigquery, snowflake"));
    let out = export(tmp.path(), &model, &["--output", "q.sql"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("needs --dialect"), "{}", text(&out));
    let out = export(
        tmp.path(),
        &model,
        &["--dialect", "duckdb", "--output", "q.sql"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("age, gender"), "{}", text(&out));
    assert!(text(&out).contains("--customers-table"), "{}", text(&out));
    let out = export(
        tmp.path(),
        &model,
        &[
            "--dialect",
            "duckdb",
            "--customers-table",
            "c",
            "--as-of",
            "July",
            "--output",
            "q.sql",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(!tmp.path().join("q.sql").exists());
}

#[test]
fn sql_export_refuses_behaviour_features_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let out = custseg(
        &[
            "generate",
            "--customers",
            "400",
            "--seed",
            "3",
            "--behaviour",
            "--out",
            "gen",
        ],
        dir,
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = custseg(
        &[
            "train",
            "--transactions",
            "gen/transactions.csv",
            "--k",
            "3",
            "--n-init",
            "1",
            "--name",
            "shop",
            "--models-dir",
            "models",
        ],
        dir,
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = export(
        dir,
        "models/shop",
        &["--dialect", "bigquery", "--output", "q.sql"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let msg = text(&out);
    assert!(msg.contains("cannot export as SQL: feature "), "{msg}");
    assert!(msg.contains("behaviour or event feature"), "{msg}");
}
