//! Predictive value end to end: `custseg train` on CDNOW_master against lifetimes 0.11.3's
//! figures (measured by scripts/verify_value.sh, kept as constants below), batch and
//! HTTP-path scoring giving the training numbers, the holdout check, and the cases where no
//! value model can be fitted.

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use approx::assert_relative_eq;

use crate::common::{custseg, dataset, read_csv, text};

/// lifetimes' BetaGeoFitter and GammaGammaFitter on the CDNOW_master calibration summary to
/// 1997-09-30 (freq "D", every line kept), as scripts/verify_value.sh prints them.
const LIFETIMES_BG: [f64; 4] = [
    0.251_624_011_424_103_84,
    33.522_616_192_289_17,
    0.723_433_035_728_761_9,
    2.161_086_981_372_162_7,
];
const LIFETIMES_GG: [f64; 3] = [
    6.275_358_592_836_126,
    3.624_450_210_391_062,
    14.983_688_961_951_383,
];
/// lifetimes' P(alive) and expected purchases over 273 days of customer 00009 (x 1, t_x 132,
/// T 272) at its own parameters.
const LIFETIMES_00009: [f64; 2] = [0.581_082_387_853_136_5, 0.557_456_337_772_276_1];
/// lifetimes' `calibration_and_holdout_data` on CDNOW_master with exact duplicates dropped
/// (calibration to 1997-09-30, holdout to 1998-06-30, freq "D"): BG/NBD's predicted holdout
/// purchase days summed over the 23,570 customers, and the actual ones.
const LIFETIMES_HOLDOUT: (f64, f64) = (16_873.737_004_341_783, 19_684.0);

/// `custseg train` on CDNOW_master as of 1997-10-01 keeping every line (as lifetimes does),
/// once per run.
fn cdnow_store() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let cdnow = dataset("CDNOW_master.txt");
        let out = train_cli(
            dir.path(),
            &cdnow,
            &[
                "--as-of",
                "1997-10-01",
                "--k",
                "4",
                "--n-init",
                "2",
                "--keep-duplicates",
                "--name",
                "cdnow",
                "--models-dir",
                "models",
            ],
        );
        assert!(out.status.success(), "{}", text(&out));
        dir
    })
    .path()
}

/// `custseg train --transactions LOG EXTRA…` in `dir`.
fn train_cli(dir: &Path, log: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["train", "--transactions", log.to_str().unwrap()];
    args.extend_from_slice(extra);
    custseg(&args, dir)
}

fn model_json(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("model.json")).unwrap()).unwrap()
}

/// Column `name` of a CSV by customer id.
fn by_id(path: &Path, names: &[&str]) -> HashMap<String, Vec<String>> {
    let (header, rows) = read_csv(path);
    let at: Vec<usize> = names
        .iter()
        .map(|n| header.iter().position(|h| h == n).expect(n))
        .collect();
    rows.into_iter()
        .map(|r| (r[0].clone(), at.iter().map(|&i| r[i].clone()).collect()))
        .collect()
}

#[test]
fn trained_value_model_matches_lifetimes_on_cdnow() {
    let v1 = cdnow_store().join("models/cdnow/v1");
    let m = model_json(&v1);
    let vm = &m["value_model"];
    assert_eq!(vm["kind"], "bg_nbd");
    assert_eq!(vm["time_unit"], "day");
    assert_eq!(vm["converged"], true);
    for (name, want) in ["r", "alpha", "a", "b"].iter().zip(LIFETIMES_BG) {
        let got = vm["params"][name].as_f64().unwrap();
        assert_relative_eq!(got, want, max_relative = 1e-5);
    }
    for (name, want) in ["p", "q", "v"].iter().zip(LIFETIMES_GG) {
        let got = vm["spend"][name].as_f64().unwrap();
        assert_relative_eq!(got, want, max_relative = 1e-5);
    }
    let cols = by_id(&v1.join("assignments.csv"), &["p_alive", "expected_orders"]);
    assert_eq!(cols.len(), 23_570);
    let c = &cols["00009"];
    // expected_orders is over the default 365-day horizon; P(alive) does not depend on it.
    assert_relative_eq!(
        c[0].parse::<f64>().unwrap(),
        LIFETIMES_00009[0],
        max_relative = 1e-5
    );
    let segments = m["segments"].as_array().unwrap();
    let share: f64 = segments
        .iter()
        .map(|s| s["predicted"]["share_predicted_clv"].as_f64().unwrap())
        .sum();
    assert_relative_eq!(share, 1.0, max_relative = 1e-9);
    let (header, _) = read_csv(&v1.join("segments.csv"));
    assert!(
        header.iter().any(|h| h == "mean_predicted_clv"),
        "{header:?}"
    );
}

#[test]
fn expected_purchases_over_a_horizon_match_lifetimes() {
    let dir = tempfile::tempdir().unwrap();
    let cdnow = dataset("CDNOW_master.txt");
    let out = train_cli(
        dir.path(),
        &cdnow,
        &[
            "--as-of",
            "1997-10-01",
            "--k",
            "2",
            "--n-init",
            "1",
            "--keep-duplicates",
            "--horizon-days",
            "273",
            "--models-dir",
            "m",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let cols = by_id(
        &dir.path().join("m/default/v1/assignments.csv"),
        &["expected_orders"],
    );
    let got: f64 = cols["00009"][0].parse().unwrap();
    assert_relative_eq!(got, LIFETIMES_00009[1], max_relative = 1e-5);
}

#[test]
fn batch_scoring_of_the_log_gives_the_training_values() {
    let store = cdnow_store();
    let cdnow = dataset("CDNOW_master.txt");
    let out = custseg(
        &[
            "score",
            "--model",
            "models/cdnow",
            "--input",
            cdnow.to_str().unwrap(),
            "--as-of",
            "1997-10-01",
            "--output",
            "scores.csv",
        ],
        store,
    );
    assert!(out.status.success(), "{}", text(&out));
    let cols = [
        "p_alive",
        "expected_orders",
        "expected_spend_per_order",
        "predicted_clv",
        "expected_next_order",
    ];
    let trained = by_id(&store.join("models/cdnow/v1/assignments.csv"), &cols);
    let scored = by_id(&store.join("scores.csv"), &cols);
    assert_eq!(trained.len(), scored.len());
    for (id, v) in &trained {
        assert_eq!(&scored[id], v, "customer {id}");
    }
}

#[test]
fn http_customers_from_transactions_get_the_training_values() {
    let store = cdnow_store();
    let model = custseg::Model::load(&store.join("models/cdnow/v1")).unwrap();
    let customer = serde_json::json!({
        "customer_id": "00009",
        "transactions": [
            {"date": "1997-01-01", "amount": 23.54},
            {"date": "1997-05-13", "amount": 30.33},
            {"date": "1998-06-08", "amount": 41.98}
        ]
    });
    let as_of = custseg::data::dates::parse_iso_date("1997-10-01").unwrap();
    let p = custseg::score::request::prepare(
        &model.file.features,
        &customer,
        as_of,
        None,
        100,
        &model.row_rules,
    )
    .unwrap();
    let s = model
        .score(
            &p.raw,
            p.summary.as_ref(),
            &mut custseg::score::Scratch::default(),
        )
        .unwrap();
    let v = s.value.expect("a value");
    let trained = by_id(
        &store.join("models/cdnow/v1/assignments.csv"),
        &["p_alive", "predicted_clv"],
    );
    let cells = custseg::features::rfm::value_cells(Some(as_of), &v);
    assert_eq!(cells[0], trained["00009"][0]);
    assert_eq!(cells[3], trained["00009"][1]);
    assert!(!s
        .warnings
        .iter()
        .any(|w| matches!(w, custseg::features::FeatureWarning::ValueFromFeatures)));
    // The same customer as RFM features: the same purchase model numbers, a warning that the
    // spend per order is approximated.
    let features = serde_json::json!({
        "recency_days": 141, "frequency": 2, "monetary": 53.87,
        "avg_order_value": 26.935, "tenure_days": 273
    });
    let p = custseg::score::request::prepare(
        &model.file.features,
        &features,
        as_of,
        None,
        100,
        &model.row_rules,
    )
    .unwrap();
    let f = model
        .score(&p.raw, None, &mut custseg::score::Scratch::default())
        .unwrap();
    let fv = f.value.expect("a value");
    assert_relative_eq!(fv.p_alive, v.p_alive, max_relative = 1e-12);
    assert_relative_eq!(fv.expected_orders, v.expected_orders, max_relative = 1e-12);
    assert!(f
        .warnings
        .iter()
        .any(|w| matches!(w, custseg::features::FeatureWarning::ValueFromFeatures)));
}

#[test]
fn holdout_check_matches_lifetimes_on_cdnow() {
    let dir = tempfile::tempdir().unwrap();
    let cdnow = dataset("CDNOW_master.txt");
    let out = train_cli(
        dir.path(),
        &cdnow,
        &[
            "--k",
            "3",
            "--n-init",
            "1",
            "--holdout-days",
            "273",
            "--models-dir",
            "m",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("holdout check (273 days after 1997-10-01"),
        "{}",
        text(&out)
    );
    let metrics: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("m/default/v1/metrics.json")).unwrap(),
    )
    .unwrap();
    let h = &metrics["holdout"];
    assert_eq!(h["calibration_end"], "1997-10-01");
    assert_eq!(h["customers"], 23_570);
    let orders = &h["summary"]["orders"];
    assert_relative_eq!(
        orders["predicted_total"].as_f64().unwrap(),
        LIFETIMES_HOLDOUT.0,
        max_relative = 1e-6
    );
    assert_eq!(
        orders["actual_total"].as_f64().unwrap(),
        LIFETIMES_HOLDOUT.1
    );
    assert_eq!(h["by_segment"].as_array().unwrap().len(), 3);
    let report = std::fs::read_to_string(dir.path().join("m/default/v1/report.html")).unwrap();
    for part in [
        "id=\"predicted\"",
        "id=\"holdout\"",
        "Holdout purchases by calibration repeat purchases",
        "23,570 customers",
    ] {
        assert!(report.contains(part), "report.html lacks {part}");
    }
    // `custseg evaluate` on the saved model gives the same check.
    let out = custseg(
        &[
            "evaluate",
            "--model",
            "m/default",
            "--transactions",
            cdnow.to_str().unwrap(),
            "--holdout-days",
            "273",
            "--output",
            "check.json",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let check: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("check.json")).unwrap()).unwrap();
    assert_eq!(check["summary"], h["summary"]);
    assert!(
        text(&out).contains("AUC of any repurchase"),
        "{}",
        text(&out)
    );
}

/// A log of one-time buyers: no repeat buyer to fit on.
fn one_time_buyers(dir: &Path) -> std::path::PathBuf {
    let mut csv = String::from("customer_id,date,amount\n");
    for i in 0..60 {
        csv.push_str(&format!("c{i},2024-01-{:02},{}.50\n", 1 + i % 28, 10 + i));
    }
    let path = dir.join("once.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

#[test]
fn too_few_repeat_buyers_saves_the_model_without_value_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let log = one_time_buyers(dir.path());
    let out = train_cli(dir.path(), &log, &["--k", "2", "--models-dir", "m"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("warning: no value model: bg_nbd: 0 repeat buyers, at least 30"),
        "{}",
        text(&out)
    );
    let v1 = dir.path().join("m/default/v1");
    assert!(model_json(&v1).get("value_model").is_none());
    let (header, _) = read_csv(&v1.join("assignments.csv"));
    assert!(!header.iter().any(|h| h == "p_alive"), "{header:?}");
    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(v1.join("metrics.json")).unwrap()).unwrap();
    assert!(metrics["value_skipped"]
        .as_str()
        .unwrap()
        .contains("repeat buyers"));
}

#[test]
fn pareto_nbd_running_to_a_boundary_is_skipped_with_a_reason_and_bg_nbd_fits() {
    // The generator's customers drop out per purchase with little spread: Pareto/NBD's dropout
    // in time wants one rate for everyone (s → ∞), which is a boundary, not a model.
    let dir = tempfile::tempdir().unwrap();
    let out = custseg(
        &[
            "generate",
            "--customers",
            "5000",
            "--seed",
            "1",
            "--out",
            "g",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let log = dir.path().join("g/transactions.csv");
    let base = ["--k", "4", "--n-init", "1", "--models-dir", "m"];
    let mut args = base.to_vec();
    args.extend_from_slice(&["--value-model", "pareto_nbd", "--name", "p"]);
    let out = train_cli(dir.path(), &log, &args);
    assert!(out.status.success(), "{}", text(&out));
    let says = "warning: no value model: pareto_nbd: parameter s = ";
    assert!(text(&out).contains(says), "{}", text(&out));
    assert!(
        text(&out).contains("must lie within [1e-6, 1e3]: dropout rates look alike"),
        "{}",
        text(&out)
    );
    let v1 = dir.path().join("m/p/v1");
    assert!(model_json(&v1).get("value_model").is_none());
    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(v1.join("metrics.json")).unwrap()).unwrap();
    assert!(metrics["value_skipped"]
        .as_str()
        .unwrap()
        .contains("BG/NBD fits such data"));
    // The default model fits the same log.
    let mut args = base.to_vec();
    args.extend_from_slice(&["--name", "b"]);
    let out = train_cli(dir.path(), &log, &args);
    assert!(out.status.success(), "{}", text(&out));
    let record = model_json(&dir.path().join("m/b/v1"));
    assert_eq!(record["value_model"]["kind"], "bg_nbd");
    assert_eq!(record["value_model"]["converged"], true);
}

#[test]
fn value_model_none_turns_it_off_and_bad_settings_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cdnow = dataset("CDNOW_master.txt");
    let tx = cdnow.to_str().unwrap();
    let base = ["train", "--transactions", tx, "--k", "2", "--n-init", "1"];
    let run = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        custseg(&args, dir.path())
    };
    let out = run(&["--value-model", "none", "--models-dir", "m"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(model_json(&dir.path().join("m/default/v1"))
        .get("value_model")
        .is_none());
    for (flag, value, says) in [
        (
            "--value-model",
            "gamma",
            "expected bg_nbd, pareto_nbd or none",
        ),
        ("--horizon-days", "0", "--horizon-days"),
        ("--discount-rate", "11", "--discount-rate"),
        ("--holdout-days", "0", "--holdout-days"),
    ] {
        let out = run(&[flag, value, "--models-dir", "bad"]);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {}", text(&out));
        assert!(text(&out).contains(says), "{flag}: {}", text(&out));
    }
}

#[test]
fn a_model_with_an_invalid_value_model_does_not_load() {
    let v1 = cdnow_store().join("models/cdnow/v1");
    let mut m = model_json(&v1);
    m["value_model"]["spend"]["q"] = serde_json::json!(0.5);
    let bytes = serde_json::to_vec(&m).unwrap();
    let err = custseg::Model::from_slice(&bytes, Path::new("model.json")).unwrap_err();
    assert!(
        err.to_string().contains("value_model spend q = 0.5"),
        "{err}"
    );
    m["value_model"]["params"]["alpha"] = serde_json::json!(-1.0);
    let bytes = serde_json::to_vec(&m).unwrap();
    let err = custseg::Model::from_slice(&bytes, Path::new("model.json")).unwrap_err();
    assert!(err.to_string().contains("alpha"), "{err}");
}

#[test]
fn tiers_can_follow_predicted_clv() {
    let dir = tempfile::tempdir().unwrap();
    let cdnow = dataset("CDNOW_master.txt");
    std::fs::write(
        dir.path().join("c.toml"),
        "[segments]\ntier_by = \"predicted_clv\"\n",
    )
    .unwrap();
    let out = train_cli(
        dir.path(),
        &cdnow,
        &[
            "--k",
            "4",
            "--n-init",
            "1",
            "--config",
            "c.toml",
            "--models-dir",
            "m",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let m = model_json(&dir.path().join("m/default/v1"));
    let mut segs: Vec<(f64, String)> = m["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["predicted"]["predicted_clv"].as_f64().unwrap(),
                s["tier"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    segs.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert_eq!(segs.first().unwrap().1, "low", "{segs:?}");
    assert_eq!(segs.last().unwrap().1, "high", "{segs:?}");
    std::fs::write(
        dir.path().join("bad.toml"),
        "[segments]\ntier_by = \"clv\"\n",
    )
    .unwrap();
    let bad = custseg(
        &[
            "train",
            "--transactions",
            cdnow.to_str().unwrap(),
            "--config",
            "bad.toml",
            "--models-dir",
            "x",
        ],
        dir.path(),
    );
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(text(&bad).contains("tier_by"), "{}", text(&bad));
}
