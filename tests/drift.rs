//! `custseg drift` and the server's drift gauges: the training data against itself is stable
//! with PSI 0 everywhere, a population with three times the spend is `retrain` naming the
//! spend features, `--json` has the documented fields, `--fail-on` and `[drift]` thresholds,
//! models without a reference fall back to `assignments.csv`, bad input exits 2 naming it,
//! and the server's `/metrics` carries drift gauges labelled by model and feature only.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::common::{custseg, repo, text};
use crate::server::{config, get, golden_store, post, save_trained, start};

fn sample(file: &str) -> PathBuf {
    repo(&format!("data/sample/{file}"))
}

/// The sample log with every unit price multiplied by `factor`.
fn scaled_log(dir: &Path, factor: f64) -> PathBuf {
    let text = std::fs::read_to_string(sample("transactions.csv")).unwrap();
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        if i == 0 {
            out.push_str(line);
        } else {
            let mut cells: Vec<String> = line.split(',').map(str::to_string).collect();
            let price: f64 = cells[4].parse().unwrap();
            cells[4] = format!("{:.2}", price * factor);
            out.push_str(&cells.join(","));
        }
        out.push('\n');
    }
    let p = dir.join(format!("transactions_x{factor}.csv"));
    std::fs::write(&p, out).unwrap();
    p
}

/// A trained sample model in a fresh store, and its as-of date.
fn store() -> (tempfile::TempDir, String) {
    let d = tempfile::tempdir().unwrap();
    let models = d.path().join("models");
    save_trained(&models, "default", true);
    let m = custseg::Model::load(&models.join("default/v1")).unwrap();
    (d, m.file.as_of.clone().unwrap())
}

/// Runs `custseg drift` on the store's model; returns the output and the exit code.
fn drift(dir: &Path, log: &Path, extra: &[&str]) -> (String, i32) {
    let mut args = vec![
        "drift",
        "--model",
        "default",
        "--models-dir",
        "models",
        "--transactions",
        log.to_str().unwrap(),
    ];
    let customers = sample("customers.csv");
    args.extend(["--customers", customers.to_str().unwrap()]);
    args.extend_from_slice(extra);
    let out = custseg(&args, dir);
    (text(&out), out.status.code().unwrap_or(-1))
}

fn json_of(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn the_training_data_against_itself_is_stable_with_zero_psi() {
    let (d, as_of) = store();
    let (out, code) = drift(
        d.path(),
        &sample("transactions.csv"),
        &["--as-of", &as_of, "--json"],
    );
    assert_eq!(code, 0, "{out}");
    let r = json_of(&out);
    assert_eq!(r["verdict"], "stable", "{out}");
    assert_eq!(r["reference"], "model");
    assert_eq!(r["customers"], r["training_customers"]);
    let features = r["features"].as_array().unwrap();
    assert!(features.len() >= 5, "{out}");
    for f in features {
        assert!(f["psi"].as_f64().unwrap().abs() < 1e-12, "{f}");
        assert!(f["statistic"].as_f64().unwrap().abs() < 1e-12, "{f}");
        assert_eq!(f["verdict"], "stable");
        match f["kind"].as_str().unwrap() {
            "numeric" => {
                assert_eq!(f["test"], "ks");
                assert!(f["critical_value"].as_f64().unwrap() > 0.0);
            }
            "categorical" => {
                assert_eq!(f["test"], "chi_square");
                assert!(f["df"].as_u64().unwrap() >= 1, "{f}");
                assert_eq!(f["p_value"], 1.0);
            }
            other => panic!("kind {other}"),
        }
    }
    assert!(features.iter().any(|f| f["kind"] == "categorical"), "{out}");
    assert!(r["segments"]["psi"].as_f64().unwrap().abs() < 1e-12);
    for s in r["segments"]["shares"].as_array().unwrap() {
        assert!(
            (s["share"].as_f64().unwrap() - s["training_share"].as_f64().unwrap()).abs() < 1e-12
        );
        assert!(s["id"].is_u64() && s["name"].is_string());
    }
    for w in ["out_of_range", "far_from_centroid"] {
        let x = &r["warnings"][w];
        assert!(
            (x["share"].as_f64().unwrap() - x["training_share"].as_f64().unwrap()).abs() < 1e-12,
            "{w}: {x}"
        );
    }
    assert_eq!(
        r["thresholds"],
        json!({"psi_watch": 0.1, "psi_retrain": 0.25})
    );
    assert_eq!(r["reasons"], json!([]));
    // The table says the same.
    let (table, code) = drift(d.path(), &sample("transactions.csv"), &["--as-of", &as_of]);
    assert_eq!(code, 0, "{table}");
    assert!(
        table.contains("verdict: stable (PSI >= 0.1 watch, > 0.25 retrain)"),
        "{table}"
    );
    assert!(table.contains("segment mix: PSI 0.000 (stable)"), "{table}");
}

#[test]
fn three_times_the_spend_is_retrain_naming_the_spend_features() {
    let (d, as_of) = store();
    let log = scaled_log(d.path(), 3.0);
    let (out, code) = drift(d.path(), &log, &["--as-of", &as_of, "--json"]);
    assert_eq!(code, 0, "the verdict alone never fails the run: {out}");
    let r = json_of(&out);
    assert_eq!(r["verdict"], "retrain", "{out}");
    let by_name = |n: &str| {
        r["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["feature"] == n)
            .unwrap_or_else(|| panic!("no {n}: {out}"))
            .clone()
    };
    let monetary = by_name("monetary");
    assert_eq!(monetary["verdict"], "retrain", "{monetary}");
    assert!(monetary["p_value"].as_f64().unwrap() < 1e-6);
    assert!(monetary["statistic"].as_f64().unwrap() > monetary["critical_value"].as_f64().unwrap());
    // What the prices do not touch stays put.
    for n in ["recency_days", "frequency", "tenure_days"] {
        let f = by_name(n);
        assert!(f["psi"].as_f64().unwrap() < 1e-12, "{f}");
    }
    let reasons: Vec<&str> = r["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|x| x.starts_with("feature monetary: PSI ") && x.ends_with("> 0.25 (retrain)")),
        "{reasons:?}"
    );
    assert!(
        !reasons.iter().any(|x| x.contains("recency_days")),
        "{reasons:?}"
    );
    let w = &r["warnings"]["out_of_range"];
    assert!(
        w["share"].as_f64().unwrap() > w["training_share"].as_f64().unwrap(),
        "{w}"
    );

    // --fail-on makes the verdict an exit code; the config's [drift] moves the bands.
    let (out, code) = drift(d.path(), &log, &["--as-of", &as_of, "--fail-on", "retrain"]);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("drift verdict retrain reaches --fail-on retrain"),
        "{out}"
    );
    let cfg = d.path().join("drift.toml");
    std::fs::write(
        &cfg,
        "[drift]\npsi_watch = 50.0\npsi_retrain = 100.0\nfail_on = \"watch\"\n",
    )
    .unwrap();
    let (out, code) = drift(
        d.path(),
        &log,
        &["--as-of", &as_of, "--config", cfg.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("verdict: stable (PSI >= 50 watch, > 100 retrain)"),
        "{out}"
    );
}

#[test]
fn bad_thresholds_models_and_files_exit_2_naming_them() {
    let (d, as_of) = store();
    let log = sample("transactions.csv");
    let cases: [(&[&str], &str); 3] = [
        (
            &["--fail-on", "stable"],
            "--fail-on 'stable': expected watch or retrain",
        ),
        (
            &["--psi-watch", "0.3"],
            "the watch threshold 0.3 is above the retrain threshold 0.25",
        ),
        (&["--psi-retrain=-1"], "PSI thresholds must be positive"),
    ];
    for (extra, want) in cases {
        let (out, code) = drift(d.path(), &log, extra);
        assert_eq!(code, 2, "{extra:?}: {out}");
        assert!(out.contains(want), "{extra:?}: {out}");
    }
    let cfg = d.path().join("bad.toml");
    std::fs::write(&cfg, "[drift]\npsi_wach = 0.2\n").unwrap();
    let (out, code) = drift(d.path(), &log, &["--config", cfg.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("bad.toml") && out.contains("psi_wach"),
        "{out}"
    );

    let (out, code) = drift(d.path(), Path::new("nowhere.csv"), &["--as-of", &as_of]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("nowhere.csv"), "{out}");
    let no_amount = d.path().join("no_amount.csv");
    std::fs::write(
        &no_amount,
        "order_id,customer_id,order_date\nO1,C1,2024-07-01\n",
    )
    .unwrap();
    let (out, code) = drift(d.path(), &no_amount, &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no_amount.csv"), "{out}");

    for (model, named) in [("nosuch", "nosuch"), ("default/v9", "v9")] {
        let log = log.to_str().unwrap();
        let args = [
            "drift",
            "--model",
            model,
            "--models-dir",
            "models",
            "--transactions",
            log,
        ];
        let out = custseg(&args, d.path());
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(text(&out).contains(named), "{}", text(&out));
    }
}

#[test]
fn a_model_without_a_reference_uses_its_assignments_or_says_to_retrain() {
    let store = golden_store();
    let v1 = store.path().join("default/v1");
    let golden = custseg::Model::load(&v1).unwrap();
    assert!(
        golden.file.reference.is_none(),
        "the golden v1 file predates the reference"
    );
    let args = |log: &Path| {
        vec![
            "drift".to_string(),
            "--model".into(),
            v1.display().to_string(),
            "--transactions".into(),
            log.display().to_string(),
            "--customers".into(),
            sample("customers.csv").display().to_string(),
            "--json".into(),
        ]
    };
    let run = |a: Vec<String>| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        custseg(&a, store.path())
    };
    let out = run(args(&sample("transactions.csv")));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = json_of(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(r["reference"], "assignments");
    let rows = std::fs::read_to_string(v1.join("assignments.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert_eq!(r["training_customers"], rows as u64);
    std::fs::remove_file(v1.join("assignments.csv")).unwrap();
    let out = run(args(&sample("transactions.csv")));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("no training reference") && text(&out).contains("retrain"),
        "{}",
        text(&out)
    );
}

#[test]
fn the_server_exports_drift_gauges_by_model_and_feature_only() {
    let d = tempfile::tempdir().unwrap();
    save_trained(d.path(), "default", true);
    let model = custseg::Model::load(&d.path().join("default/v1")).unwrap();
    let srv = start(config(d.path()));
    let before = get(srv.addr, "/metrics", &[]).text();
    assert!(
        before.contains("custseg_drift_window_customers{model=\"default\"} 0"),
        "{before}"
    );
    assert!(!before.contains("custseg_drift_psi{"), "{before}");
    // Customers with three times the training median spend.
    let customers: Vec<Value> = (0..40)
        .map(|i| {
            json!({"customer_id": format!("c{i}"), "recency_days": 10 + i, "frequency": 3,
                   "monetary": 3000.0 + f64::from(i), "age": 40, "gender": "F"})
        })
        .collect();
    let r = post(
        srv.addr,
        "/v1/score",
        &[],
        &json!({"customers": customers, "as_of": model.file.as_of}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let text = get(srv.addr, "/metrics", &[]).text();
    assert!(
        text.contains("custseg_drift_window_customers{model=\"default\"} 40"),
        "{text}"
    );
    for f in &model.file.features.features {
        let line = format!(
            "custseg_drift_psi{{model=\"default\",feature=\"{}\"}} ",
            f.name
        );
        assert!(text.contains(&line), "{line}: {text}");
    }
    let psi = |name: &str| -> f64 {
        let key = format!("custseg_drift_psi{{model=\"default\",feature=\"{name}\"}} ");
        let line = text.lines().find(|l| l.starts_with(&key)).unwrap();
        line[key.len()..].parse().unwrap()
    };
    assert!(psi("monetary") > 0.25, "{text}");
    assert!(
        text.contains("custseg_drift_verdict{model=\"default\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("custseg_drift_warning_share{model=\"default\",warning=\"out_of_range\"} "),
        "{text}"
    );
    // Labels are model, feature and the two warning names, nothing a client sent.
    for line in text.lines().filter(|l| l.starts_with("custseg_drift_")) {
        let labels = &line[line.find('{').unwrap() + 1..line.find('}').unwrap()];
        for pair in labels.split(',') {
            let key = pair.split('=').next().unwrap();
            assert!(["model", "feature", "warning"].contains(&key), "{line}");
        }
        assert!(!line.contains("c1"), "{line}");
    }
}
