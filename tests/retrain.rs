//! Retraining on real data (CDNOW): segment ids kept across versions, the migration matrix,
//! `models diff`, pruning, and the RFM scores, lifecycle stages and segment value checked
//! against an independent computation from `assignments.csv`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

use crate::common::{custseg, dataset, read_csv, text};

/// Trains CDNOW into `store` as model `cd`. A store's first version is trained once per
/// test run for each argument list and copied into the stores that ask for it again.
fn train(store: &Path, extra: &[&str]) {
    if !store.exists() {
        crate::server::copy_dir(&first_version(extra), store);
        return;
    }
    train_now(store, extra);
}

/// A store holding only the first version trained with `extra` (built once per run).
fn first_version(extra: &[&str]) -> std::path::PathBuf {
    type Slot = Arc<OnceLock<tempfile::TempDir>>;
    static DONE: OnceLock<Mutex<HashMap<Vec<String>, Slot>>> = OnceLock::new();
    let key = extra.iter().map(|s| s.to_string()).collect();
    let slot = {
        let mut done = DONE.get_or_init(Default::default).lock().unwrap();
        done.entry(key).or_default().clone()
    };
    let dir = slot.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        train_now(&dir.path().join("models"), extra);
        dir
    });
    dir.path().join("models")
}

fn train_now(store: &Path, extra: &[&str]) {
    let cdnow = dataset("CDNOW_master.txt");
    let mut args = vec![
        "train",
        "--transactions",
        cdnow.to_str().unwrap(),
        "--name",
        "cd",
        "--n-init",
        "3",
        "--models-dir",
        store.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = custseg(&args, store.parent().unwrap());
    assert!(out.status.success(), "{}", text(&out));
}

fn json(store: &Path, v: u32, file: &str) -> Value {
    let bytes = std::fs::read(store.join(format!("cd/v{v}/{file}"))).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// customer id → segment id from a version's assignments.csv.
fn assigned(store: &Path, v: u32) -> HashMap<String, u64> {
    let (h, rows) = read_csv(&store.join(format!("cd/v{v}/assignments.csv")));
    let (i, s) = (
        h.iter().position(|x| x == "customer_id").unwrap(),
        h.iter().position(|x| x == "segment_id").unwrap(),
    );
    rows.iter()
        .map(|r| (r[i].clone(), r[s].parse().unwrap()))
        .collect()
}

fn ids(model: &Value) -> Vec<u64> {
    model["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_u64().unwrap())
        .collect()
}

fn name_of(model: &Value, id: u64) -> String {
    model["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .map(|s| s["name"].as_str().unwrap().to_string())
        .unwrap()
}

#[test]
fn cdnow_retrain_at_a_later_date_keeps_ids_and_counts_where_customers_moved() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("models");
    train(&store, &["--k", "5", "--as-of", "1997-12-01"]);
    train(&store, &["--k", "5", "--as-of", "1998-07-01"]);
    let (m1, m2) = (json(&store, 1, "model.json"), json(&store, 2, "model.json"));
    assert!(
        m1.get("lineage").is_none(),
        "a first version has no lineage"
    );
    let lineage = &m2["lineage"];
    assert_eq!(lineage["previous_version"], 1);
    for m in lineage["matches"].as_array().unwrap() {
        // Seven months on, every one of the five groups is still there.
        assert_eq!(m["previous_id"], m["id"], "{m}");
        assert!(m["distance"].as_f64().unwrap() < m["radius"].as_f64().unwrap());
        let id = m["id"].as_u64().unwrap();
        assert_eq!(
            name_of(&m1, id),
            name_of(&m2, id),
            "a kept segment keeps its name"
        );
    }
    assert_eq!(ids(&m2), ids(&m1));

    // The migration matrix equals a join of the two versions' assignments by customer id.
    let mig = &json(&store, 2, "metrics.json")["migration"];
    assert_eq!(
        (mig["from_version"].as_u64(), mig["to_version"].as_u64()),
        (Some(1), Some(2))
    );
    let (a1, a2) = (assigned(&store, 1), assigned(&store, 2));
    let mut expected: HashMap<(u64, u64), u64> = HashMap::new();
    let mut same = 0;
    for (id, s2) in &a2 {
        let s1 = a1[id];
        *expected.entry((s1, *s2)).or_default() += 1;
        same += u64::from(s1 == *s2);
    }
    let from: Vec<u64> = mig["from_segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_u64().unwrap())
        .collect();
    let to: Vec<u64> = mig["to_segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_u64().unwrap())
        .collect();
    let mut total = 0;
    for (i, row) in mig["counts"].as_array().unwrap().iter().enumerate() {
        for (j, c) in row.as_array().unwrap().iter().enumerate() {
            let c = c.as_u64().unwrap();
            assert_eq!(
                c,
                expected.get(&(from[i], to[j])).copied().unwrap_or(0),
                "{i}->{j}"
            );
            total += c;
        }
    }
    assert_eq!(total, 23570);
    assert_eq!(mig["customers"], 23570);
    assert_eq!(mig["only_in_from"], 0, "every 1997 customer is still there");
    let share = mig["same_id_share"].as_f64().unwrap();
    assert!((share - same as f64 / 23570.0).abs() < 1e-12);
    assert!(share > 0.5 && share < 1.0, "{share}");

    // `models diff` reports the same matrix, as JSON and as a table.
    let s = store.to_str().unwrap();
    let out = custseg(
        &[
            "models",
            "diff",
            "cd",
            "v1",
            "v2",
            "--json",
            "--models-dir",
            s,
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let diff: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(diff["migration"]["counts"], mig["counts"]);
    for (a, b) in diff["matches"]
        .as_array()
        .unwrap()
        .iter()
        .zip(lineage["matches"].as_array().unwrap())
    {
        assert_eq!(
            (&a["id"], &a["previous_id"], &a["distance"]),
            (&b["id"], &b["previous_id"], &b["distance"])
        );
        // Radii come from assignments.csv's distances, written to 6 decimals.
        assert!((a["radius"].as_f64().unwrap() - b["radius"].as_f64().unwrap()).abs() < 1e-5);
    }
    let out = custseg(
        &["models", "diff", "cd", "v1", "v2", "--models-dir", s],
        dir.path(),
    );
    let t = text(&out);
    assert!(
        t.contains("kept their segment id") && t.contains("as of 1998-07-01"),
        "{t}"
    );
    let out = custseg(
        &["models", "diff", "cd", "v1", "v9", "--models-dir", s],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn retraining_the_same_data_with_the_same_seed_changes_no_segment() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("models");
    train(&store, &["--k", "4", "--seed", "3"]);
    train(&store, &["--k", "4", "--seed", "3"]);
    let m2 = json(&store, 2, "model.json");
    for m in m2["lineage"]["matches"].as_array().unwrap() {
        assert_eq!(m["previous_id"], m["id"]);
        assert!(m["distance"].as_f64().unwrap() < 1e-9);
    }
    assert_eq!(
        json(&store, 2, "metrics.json")["migration"]["same_id_share"],
        1.0
    );
    assert_eq!(json(&store, 1, "model.json")["centroids"], m2["centroids"]);
}

#[test]
fn new_groups_get_fresh_ids_and_retired_ids_are_never_reused() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("models");
    let mut seen_next = 0;
    let mut all_ids_before: Vec<u64> = Vec::new();
    for (v, k) in [(1u32, "3"), (2, "6"), (3, "2"), (4, "6")] {
        train(&store, &["--k", k]);
        let m = json(&store, v, "model.json");
        let seg_ids = ids(&m);
        assert!(
            seg_ids.windows(2).all(|w| w[0] < w[1]),
            "v{v}: ascending ids {seg_ids:?}"
        );
        if v == 1 {
            assert_eq!(seg_ids, [0, 1, 2]);
            seen_next = 3;
        } else {
            let lineage = &m["lineage"];
            let prev = json(&store, v - 1, "model.json");
            for x in lineage["matches"].as_array().unwrap() {
                let id = x["id"].as_u64().unwrap();
                match x["previous_id"].as_u64() {
                    Some(p) => {
                        assert_eq!(p, id);
                        assert!(
                            ids(&prev).contains(&id),
                            "v{v}: kept id {id} was in v{}",
                            v - 1
                        );
                        // The name is kept while it still fits; a rename is recorded.
                        let renamed = lineage["renames"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .find(|r| r["id"] == id);
                        match renamed {
                            Some(r) => {
                                assert_eq!(r["from"].as_str(), Some(name_of(&prev, id).as_str()))
                            }
                            None => assert_eq!(name_of(&prev, id), name_of(&m, id)),
                        }
                    }
                    None => {
                        assert!(id >= seen_next, "v{v}: new id {id} reuses an old one");
                        assert!(!all_ids_before.contains(&id));
                    }
                }
            }
            let next = lineage["next_segment_id"].as_u64().unwrap();
            assert!(next >= seen_next && seg_ids.iter().all(|i| *i < next));
            seen_next = next;
        }
        all_ids_before.extend(seg_ids.iter().copied());
        // Assignments and the scorer use the same ids.
        let used: std::collections::BTreeSet<u64> = assigned(&store, v).into_values().collect();
        assert!(used.iter().all(|i| seg_ids.contains(i)), "v{v}");
        custseg::Model::load(&store.join(format!("cd/v{v}"))).unwrap();
    }
    assert!(seen_next > 6, "k 6 after k 2 must have created new groups");
}

#[test]
fn pruning_keeps_the_newest_versions_and_never_current() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("models");
    let s = store.to_str().unwrap();
    train(&store, &["--k", "3"]);
    train(&store, &["--k", "3", "--no-promote"]);
    train(&store, &["--k", "3", "--no-promote", "--keep", "1"]);
    let reg = custseg::Registry::new(&store);
    assert_eq!(
        reg.versions("cd").unwrap(),
        [1, 3],
        "v1 is CURRENT, v3 the newest"
    );
    assert_eq!(reg.current("cd").unwrap(), Some(1));
    let run = |args: &[&str]| custseg(args, dir.path());
    assert!(run(&["models", "promote", "cd", "v3", "--models-dir", s])
        .status
        .success());
    let out = run(&["models", "prune", "cd", "--keep", "1", "--models-dir", s]);
    assert!(text(&out).contains("removed v1"), "{}", text(&out));
    assert_eq!(reg.versions("cd").unwrap(), [3]);
    let out = run(&["models", "prune", "cd", "--keep", "0", "--models-dir", s]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    // A retrain after pruning continues the CURRENT version.
    train(&store, &["--k", "3"]);
    assert_eq!(
        json(&store, 4, "model.json")["lineage"]["previous_version"],
        3
    );
}

/// numpy's default (linear) percentile.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let pos = p * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

#[test]
fn cdnow_rfm_scores_lifecycle_and_segment_value_match_an_independent_computation() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("models");
    train(&store, &["--k", "5"]);
    let (h, rows) = read_csv(&store.join("cd/v1/assignments.csv"));
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let num = |r: &Vec<String>, n: &str| r[col(n)].parse::<f64>().unwrap();
    let values = |n: &str| {
        let mut v: Vec<f64> = rows.iter().map(|r| num(r, n)).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let cuts = |n: &str| {
        let v = values(n);
        [0.2, 0.4, 0.6, 0.8].map(|p| percentile(&v, p))
    };
    let (rc, fc, mc) = (cuts("recency_days"), cuts("frequency"), cuts("monetary"));
    let mut intervals: Vec<f64> = rows
        .iter()
        .filter(|r| num(r, "frequency") >= 2.0 && num(r, "tenure_days") > num(r, "recency_days"))
        .map(|r| (num(r, "tenure_days") - num(r, "recency_days")) / (num(r, "frequency") - 1.0))
        .collect();
    intervals.sort_by(f64::total_cmp);
    let n = intervals.len();
    let typical = if n % 2 == 1 {
        intervals[n / 2]
    } else {
        (intervals[n / 2 - 1] + intervals[n / 2]) / 2.0
    };
    let model = json(&store, 1, "model.json");
    let lc = &model["lifecycle"];
    assert!((lc["typical_interval_days"].as_f64().unwrap() - typical).abs() < 1e-9);
    for (k, c) in [
        ("recency_cuts", rc),
        ("frequency_cuts", fc),
        ("monetary_cuts", mc),
    ] {
        for (a, b) in lc[k].as_array().unwrap().iter().zip(c) {
            assert!((a.as_f64().unwrap() - b).abs() < 1e-6, "{k}");
        }
    }
    let above = |c: &[f64; 4], x: f64| c.iter().filter(|v| x > **v).count();
    let mut stage_counts: HashMap<(String, String), u64> = HashMap::new();
    let mut revenue: HashMap<String, (f64, f64)> = HashMap::new();
    for r in &rows {
        let (rec, freq, mon, ten) = (
            num(r, "recency_days"),
            num(r, "frequency"),
            num(r, "monetary"),
            num(r, "tenure_days"),
        );
        assert_eq!(r[col("r_score")], (5 - above(&rc, rec)).to_string());
        assert_eq!(r[col("f_score")], (1 + above(&fc, freq)).to_string());
        assert_eq!(r[col("m_score")], (1 + above(&mc, mon)).to_string());
        let interval = if freq >= 2.0 && ten > rec {
            (ten - rec) / (freq - 1.0)
        } else {
            typical
        };
        let stage = if ten < typical {
            "new"
        } else if rec <= 2.0 * interval {
            "active"
        } else if rec <= 4.0 * interval {
            "at_risk"
        } else {
            "churned"
        };
        assert_eq!(r[col("lifecycle")], stage, "{r:?}");
        let seg = r[col("segment_id")].clone();
        *stage_counts.entry((seg.clone(), stage.into())).or_default() += 1;
        let e = revenue.entry(seg).or_default();
        e.0 += mon;
        e.1 += 1.0;
    }
    for s in model["segments"].as_array().unwrap() {
        let id = s["id"].to_string();
        let v = &s["value"];
        // Historical CLV = AOV × purchase rate × lifespan = net revenue per customer.
        let (rev, count) = revenue[&id];
        let clv = v["historical_clv"].as_f64().unwrap();
        assert!(
            (clv - rev / count).abs() < 1e-6 * clv.max(1.0),
            "{id}: {clv} vs {}",
            rev / count
        );
        for (i, st) in ["new", "active", "at_risk", "churned"].iter().enumerate() {
            let want = stage_counts
                .get(&(id.clone(), st.to_string()))
                .copied()
                .unwrap_or(0);
            assert_eq!(v["stages"][i], want, "{id} {st}");
        }
    }
    // A model without transactions has none of this.
    let mall = dataset("Mall_Customers.csv");
    let out = custseg(
        &[
            "train",
            "--customers",
            mall.to_str().unwrap(),
            "--k",
            "4",
            "--name",
            "mall",
            "--models-dir",
            store.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let m: Value =
        serde_json::from_slice(&std::fs::read(store.join("mall/v1/model.json")).unwrap()).unwrap();
    assert!(m.get("lifecycle").is_none());
    let (h, _) = read_csv(&store.join("mall/v1/assignments.csv"));
    assert!(!h.iter().any(|c| c == "lifecycle"));
}

#[test]
fn ids_used_by_a_version_that_was_never_current_are_not_given_out_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("models");
    train(&store, &["--k", "4"]);
    train(&store, &["--k", "6", "--no-promote"]);
    // v3 continues v1 (CURRENT), but v2 already used ids beyond v1's.
    train(&store, &["--k", "7"]);
    let (v2, v3) = (json(&store, 2, "model.json"), json(&store, 3, "model.json"));
    assert_eq!(v3["lineage"]["previous_version"], 1);
    let v2_next = v2["lineage"]["next_segment_id"].as_u64().unwrap();
    for m in v3["lineage"]["matches"].as_array().unwrap() {
        if m["previous_id"].is_null() {
            let id = m["id"].as_u64().unwrap();
            assert!(id >= v2_next, "new id {id} was used by v2 (next {v2_next})");
        }
    }
    let ids3 = ids(&v3);
    assert!(ids3.windows(2).all(|w| w[0] < w[1]), "{ids3:?}");
    assert!(v3["lineage"]["next_segment_id"].as_u64().unwrap() > *ids3.last().unwrap());
    // Everything written for v3 uses the final ids.
    let used: std::collections::BTreeSet<u64> = assigned(&store, 3).into_values().collect();
    assert!(used.iter().all(|i| ids3.contains(i)));
    let mig = &json(&store, 3, "metrics.json")["migration"];
    let to: Vec<u64> = mig["to_segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_u64().unwrap())
        .collect();
    assert_eq!(to, ids3);
    custseg::Model::load(&store.join("cd/v3")).unwrap();
}

#[test]
fn a_renamed_default_name_is_not_given_to_a_second_segment() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("models");
    let config = dir.path().join("names.toml");
    std::fs::write(&config, "[segments.names]\n\"Loyal\" = \"Core\"\n").unwrap();
    let c = config.to_str().unwrap();
    train(
        &store,
        &["--k", "5", "--as-of", "1997-12-01", "--config", c],
    );
    for (v, k) in [(2, "6"), (3, "7"), (4, "9")] {
        train(&store, &["--k", k, "--as-of", "1998-07-01", "--config", c]);
        let m = json(&store, v, "model.json");
        let mut names: Vec<&str> = m["segments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n, "v{v}: {names:?}");
    }
}
