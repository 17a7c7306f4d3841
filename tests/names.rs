//! Segment names against their own numbers (issue 11): for every segment of models trained on
//! CDNOW (k 2, 5, auto), the bundled sample and a UCI-shaped log with returners, the name is
//! allowed by the segment's median R/F/M scores and lifecycle mix, computed here from
//! `assignments.csv` independently of the trainer; and a kept segment whose name no longer
//! fits is renamed on retrain, recorded in the lineage and shown by `models diff`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

use crate::common::{custseg, dataset, read_csv, repo, text};

/// (name, R range, F range, M range, lapsed, needs M >= 3) as SPEC "Segment names" has them.
type Range = (u8, u8);
const CONVENTION: [(&str, Range, Range, Range, bool, bool); 11] = [
    ("Champions", (4, 5), (4, 5), (4, 5), false, false),
    ("Loyal", (2, 5), (3, 5), (3, 5), false, false),
    ("Potential Loyalist", (3, 5), (1, 3), (1, 3), false, false),
    ("New", (4, 5), (1, 1), (1, 1), false, false),
    ("Promising", (3, 4), (1, 1), (1, 1), false, false),
    ("Need Attention", (2, 3), (2, 3), (2, 3), false, false),
    ("About to Sleep", (2, 3), (1, 2), (1, 2), false, false),
    ("At Risk", (1, 2), (2, 5), (2, 5), true, true),
    ("Can't Lose Them", (1, 1), (4, 5), (4, 5), true, true),
    ("Hibernating", (1, 2), (1, 2), (1, 2), true, false),
    ("Lost", (1, 2), (1, 2), (1, 2), true, false),
];

fn store() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

/// Trains `name` once per run with `args` and returns its v1 folder.
fn trained(name: &str, args: &[&str]) -> PathBuf {
    static DONE: OnceLock<std::sync::Mutex<BTreeMap<String, PathBuf>>> = OnceLock::new();
    let done = DONE.get_or_init(Default::default);
    let mut done = done.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = done.get(name) {
        return p.clone();
    }
    let models = store().join("models");
    let mut all = vec![
        "train",
        "--name",
        name,
        "--models-dir",
        models.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let out = custseg(&all, store());
    assert!(out.status.success(), "{}", text(&out));
    let dir = models.join(name).join("v1");
    done.insert(name.to_string(), dir.clone());
    dir
}

fn lower_median(mut v: Vec<u8>) -> u8 {
    v.sort_unstable();
    v[(v.len() - 1) / 2]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Asserts every segment's name is allowed by its own numbers; returns the names.
fn check_names(dir: &Path) -> Vec<String> {
    let m: Value = serde_json::from_slice(&std::fs::read(dir.join("model.json")).unwrap()).unwrap();
    let (h, rows) = read_csv(&dir.join("assignments.csv"));
    let col = |n: &str| h.iter().rposition(|x| x == n).unwrap();
    let (seg, r, f, mm, life, mon) = (
        col("segment_id"),
        col("r_score"),
        col("f_score"),
        col("m_score"),
        col("lifecycle"),
        col("monetary"),
    );
    let mut names = Vec::new();
    for s in m["segments"].as_array().unwrap() {
        let id = s["id"].as_u64().unwrap().to_string();
        let name = s["name"].as_str().unwrap().to_string();
        let mine: Vec<&Vec<String>> = rows.iter().filter(|x| x[seg] == id).collect();
        let score = |c: usize| lower_median(mine.iter().map(|x| x[c].parse().unwrap()).collect());
        let (sr, sf, sm) = (score(r), score(f), score(mm));
        let share = |st: &[&str]| {
            mine.iter()
                .filter(|x| st.contains(&x[life].as_str()))
                .count() as f64
                / mine.len() as f64
        };
        let (churned, active) = (share(&["churned"]), share(&["active", "new"]));
        let net = median(mine.iter().map(|x| x[mon].parse().unwrap()).collect());
        let reason = s["name_reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains(&format!("R{sr} F{sf} M{sm}")),
            "{name}: {reason}"
        );
        if net <= 0.0 {
            assert!(
                name.starts_with("Returners"),
                "{name}: median net monetary {net}"
            );
            assert_eq!(s["tier"], "low");
        } else if let Some(c) = CONVENTION.iter().find(|c| c.0 == name) {
            let within = |x: u8, (lo, hi): (u8, u8)| x + 1 >= lo && x <= hi + 1;
            assert!(
                within(sr, c.1) && within(sf, c.2) && within(sm, c.3),
                "{name}: R{sr} F{sf} M{sm}"
            );
            if c.4 {
                assert!(active < 0.5, "{name}: {active} active or new");
            } else {
                assert!(churned < 0.5, "{name}: {churned} churned");
            }
            assert!(!c.5 || sm >= 3, "{name}: M{sm}");
        } else {
            assert!(!name.starts_with("Returners"), "{name}: net {net}");
            assert!(reason.contains("fits"), "descriptive {name}: {reason}");
        }
        names.push(name);
    }
    let mut u = names.clone();
    u.sort_unstable();
    u.dedup();
    assert_eq!(u.len(), names.len(), "{names:?}");
    names
}

fn cdnow(k: &str) -> PathBuf {
    let tx = dataset("CDNOW_master.txt");
    trained(
        &format!("cd{k}"),
        &["--transactions", tx.to_str().unwrap(), "--k", k],
    )
}

#[test]
fn r11_cdnow_k2_names_fit_their_numbers() {
    let names = check_names(&cdnow("2"));
    assert!(!names.iter().any(|n| n == "About to Sleep"), "{names:?}");
}

#[test]
fn r11_cdnow_k5_names_fit_their_numbers() {
    let names = check_names(&cdnow("5"));
    assert!(!names.iter().any(|n| n == "Need Attention"), "{names:?}");
}

#[test]
fn r11_cdnow_auto_k_names_fit_their_numbers() {
    check_names(&cdnow("auto"));
}

#[test]
fn r11_bundled_sample_names_fit_their_numbers() {
    let sample = repo("data/sample");
    let dir = trained(
        "sample",
        &[
            "--transactions",
            sample.join("transactions.csv").to_str().unwrap(),
            "--customers",
            sample.join("customers.csv").to_str().unwrap(),
            "--config",
            sample.join("demo.toml").to_str().unwrap(),
        ],
    );
    check_names(&dir);
    let (h, rows) = read_csv(&dir.join("segments.csv"));
    let c = h.iter().position(|x| x == "name_reason").unwrap();
    assert!(
        rows.iter().all(|r| r[c].starts_with("median R")),
        "{rows:?}"
    );
}

/// Day `d` of a 28-day-month calendar from 2010-01-01.
fn day_str(d: i32) -> String {
    format!(
        "{}-{:02}-{:02}",
        2010 + d / 336,
        (d % 336) / 28 + 1,
        d % 28 + 1
    )
}

/// A seeded log shaped like UCI Online Retail: invoices of several lines, and a group of
/// customers whose cancellations (`C` invoices, negative quantities) cancel their purchases.
fn retail_log(path: &Path) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut s = String::from("InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n");
    let mut inv = 500000;
    for c in 0..400u32 {
        let returner = c >= 280;
        let orders = if returner { 1 } else { rng.gen_range(1..12) };
        for _ in 0..orders {
            inv += 1;
            let day = rng.gen_range(0..700);
            let date = day_str(day);
            let lines = rng.gen_range(1..4);
            let mut items = Vec::new();
            for l in 0..lines {
                let q = rng.gen_range(1..6);
                let p = f64::from(rng.gen_range(100..2000)) / 100.0;
                items.push((format!("S{l}{}", rng.gen_range(10..99)), q, p));
                s.push_str(&format!(
                    "{inv},{},{q},{date} 10:00,{p},{}\n",
                    items[l].0,
                    12000 + c
                ));
            }
            if returner {
                let later = day_str(day + rng.gen_range(1..20));
                for (code, q, p) in items {
                    s.push_str(&format!(
                        "C{inv},{code},-{q},{later} 11:00,{p},{}\n",
                        12000 + c
                    ));
                }
            }
        }
    }
    std::fs::write(path, s).unwrap();
}

#[test]
fn r11_uci_shaped_returners_are_named_returners() {
    let log = store().join("retail.csv");
    retail_log(&log);
    let dir = trained(
        "retail",
        &["--transactions", log.to_str().unwrap(), "--k", "4"],
    );
    let names = check_names(&dir);
    assert!(names.iter().any(|n| n == "Returners"), "{names:?}");
}

#[test]
fn r11_retrain_renames_a_kept_segment_whose_name_no_longer_fits() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let cfg = dir.path().join("names.toml");
    let tx = dataset("CDNOW_master.txt");
    let (tx, models_s, cfg_s) = (
        tx.to_str().unwrap(),
        models.to_str().unwrap(),
        cfg.to_str().unwrap(),
    );
    let train = |extra: &[&str]| {
        let mut args = vec!["train", "--transactions", tx, "--k", "2", "--name", "cd"];
        args.extend_from_slice(&["--models-dir", models_s]);
        args.extend_from_slice(extra);
        let out = custseg(&args, dir.path());
        let t = text(&out);
        assert!(out.status.success(), "{t}");
        t
    };
    // v1 as trained; v2: the churned segment is called `About to Sleep` by the config
    // (warned about).
    train(&[]);
    let m: Value =
        serde_json::from_slice(&std::fs::read(models.join("cd/v1/model.json")).unwrap()).unwrap();
    let churned = m["segments"]
        .as_array()
        .unwrap()
        .iter()
        .min_by(|a, b| {
            let r = |s: &Value| s["share_revenue"].as_f64().unwrap();
            r(a).total_cmp(&r(b))
        })
        .map(|s| s["id"].as_u64().unwrap())
        .unwrap();
    std::fs::write(
        &cfg,
        format!("[segments.names]\n\"{churned}\" = \"About to Sleep\"\n"),
    )
    .unwrap();
    let out = train(&["--config", cfg_s]);
    assert!(
        out.contains(&format!("segment {churned} is named 'About to Sleep'")),
        "{out}"
    );
    // v3 without the config: the kept segment's inherited name no longer fits.
    let out = train(&[]);
    assert!(
        out.contains(&format!("renamed segment {churned}: About to Sleep ->")),
        "{out}"
    );
    let m3: Value =
        serde_json::from_slice(&std::fs::read(models.join("cd/v3/model.json")).unwrap()).unwrap();
    let r = &m3["lineage"]["renames"][0];
    assert_eq!(r["id"].as_u64(), Some(churned));
    assert_eq!(r["from"], "About to Sleep");
    assert!(r["reason"].as_str().unwrap().contains("churned"), "{r}");
    let diff = custseg(
        &["models", "diff", "cd", "v2", "v3", "--models-dir", models_s],
        dir.path(),
    );
    let d = text(&diff);
    assert!(diff.status.success(), "{d}");
    assert!(
        d.contains(&format!("renamed segment {churned}: About to Sleep ->")),
        "{d}"
    );
}
