//! Playbooks (SPEC "Acting on segments"): every segment of a model trained on CDNOW gets a
//! playbook whose code follows from its name (the convention names' codes listed here, as
//! the README documents them) or its tier, a config override replaces only the fields it
//! sets, and the code reaches `model.json`, `segments.csv`, batch scores and HTTP results
//! (`action`) the same for every customer. A model written before playbooks (golden v1)
//! answers with the defaults.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::{json, Value};

use crate::common::{custseg, dataset, read_csv, text};
use crate::server::{config, golden_store, post, start};

/// The README's table: convention name → code.
const CODES: [(&str, &str); 13] = [
    ("Champions", "reward_vip"),
    ("Loyal", "upsell_loyal"),
    ("Potential Loyalist", "nurture_loyalty"),
    ("New", "onboard_new"),
    ("Promising", "build_engagement"),
    ("Need Attention", "reengage"),
    ("About to Sleep", "reactivate"),
    ("At Risk", "win_back"),
    ("Can't Lose Them", "win_back_vip"),
    ("Hibernating", "low_cost_reactivation"),
    ("Lost", "suppress_or_revive"),
    ("Returners", "review_returns"),
    ("Browsers", "convert_browsers"),
];

struct Trained {
    _dir: tempfile::TempDir,
    models: std::path::PathBuf,
    model: Value,
    stderr: String,
}

/// CDNOW, k 5, with a config overriding segment 0's KPI and code and naming a segment that
/// does not exist; trained once per run.
fn trained() -> &'static Trained {
    static T: OnceLock<Trained> = OnceLock::new();
    T.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("c.toml");
        std::fs::write(
            &cfg,
            "[segments.playbooks.0]\nkpi = \"calls answered\"\ncode = \"call_them\"\n\
             [segments.playbooks.\"Nobody Here\"]\ngoal = \"unused\"\n",
        )
        .unwrap();
        let models = dir.path().join("models");
        let cdnow = dataset("CDNOW_master.txt");
        let out = custseg(
            &[
                "train",
                "--transactions",
                cdnow.to_str().unwrap(),
                "--k",
                "5",
                "--seed",
                "1",
                "--name",
                "cd",
                "--config",
                cfg.to_str().unwrap(),
                "--models-dir",
                models.to_str().unwrap(),
            ],
            dir.path(),
        );
        assert!(out.status.success(), "{}", text(&out));
        let model: Value =
            serde_json::from_slice(&std::fs::read(models.join("cd/v1/model.json")).unwrap())
                .unwrap();
        Trained {
            stderr: text(&out),
            _dir: dir,
            models,
            model,
        }
    })
}

/// Segment id → playbook code, from model.json.
fn codes(model: &Value) -> BTreeMap<u64, String> {
    (model["segments"].as_array().unwrap().iter())
        .map(|s| {
            (
                s["id"].as_u64().unwrap(),
                s["playbook"]["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn each_segment_gets_its_names_playbook_and_the_override_replaces_only_what_it_sets() {
    let t = trained();
    let segs = t.model["segments"].as_array().unwrap();
    let mut by_name = 0;
    for s in segs {
        let p = &s["playbook"];
        let name = s["name"].as_str().unwrap();
        assert!(!p["goal"].as_str().unwrap().is_empty(), "{name}");
        assert!(!p["actions"].as_array().unwrap().is_empty(), "{name}");
        if s["id"] == 0 {
            assert_eq!(
                (p["code"].clone(), p["kpi"].clone()),
                (json!("call_them"), json!("calls answered"))
            );
            assert_eq!(p["source"], "config");
            continue;
        }
        let base = name.split(" (").next().unwrap();
        match CODES.iter().find(|(n, _)| *n == base) {
            Some((_, code)) => {
                assert_eq!(
                    (p["code"].as_str().unwrap(), p["source"].as_str().unwrap()),
                    (*code, "name")
                );
                by_name += 1;
            }
            None => assert_eq!(p["source"], "tier", "{name}"),
        }
    }
    assert!(by_name >= 2, "CDNOW k 5 has convention names: {segs:?}");
    assert!(
        t.stderr.contains("playbook \"Nobody Here\"") && t.stderr.contains("not used"),
        "{}",
        t.stderr
    );
}

#[test]
fn segments_csv_and_batch_scores_carry_each_segments_code() {
    let t = trained();
    let codes = codes(&t.model);
    let (h, rows) = read_csv(&t.models.join("cd/v1/segments.csv"));
    let col = |n: &str| h.iter().position(|c| c == n).unwrap();
    assert_eq!(rows.len(), codes.len());
    for r in &rows {
        let id: u64 = r[col("segment_id")].parse().unwrap();
        assert_eq!(r[col("action")], codes[&id]);
        assert!(!r[col("goal")].is_empty() && !r[col("kpi")].is_empty());
    }
    let dir = tempfile::tempdir().unwrap();
    let out_csv = dir.path().join("scores.csv");
    let cdnow = dataset("CDNOW_master.txt");
    let out = custseg(
        &[
            "score",
            "--model",
            "cd",
            "--models-dir",
            t.models.to_str().unwrap(),
            "--input",
            cdnow.to_str().unwrap(),
            "--output",
            out_csv.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let (h, rows) = read_csv(&out_csv);
    let (sid, act) = (
        h.iter().position(|c| c == "segment_id").unwrap(),
        h.iter().position(|c| c == "action").unwrap(),
    );
    assert_eq!(rows.len(), 23570);
    for r in &rows {
        let id: u64 = r[sid].parse().unwrap();
        assert_eq!(r[act], codes[&id], "customer {}", r[0]);
    }
}

fn score_one(addr: std::net::SocketAddr, path: &str, customer: Value) -> Value {
    let r = post(addr, path, &[], &json!({"customers": [customer]}));
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["results"][0].clone()
}

#[test]
fn http_results_carry_the_action_of_their_segment() {
    let t = trained();
    let playbooks: BTreeMap<u64, Value> = (t.model["segments"].as_array().unwrap().iter())
        .map(|s| (s["id"].as_u64().unwrap(), s["playbook"].clone()))
        .collect();
    let s = start(config(&t.models));
    let mut seen = std::collections::BTreeSet::new();
    for (r, f, m) in [
        (5, 20, 900.0),
        (400, 1, 12.0),
        (60, 3, 80.0),
        (200, 8, 300.0),
        (500, 2, 30.0),
    ] {
        let customer = json!({"customer_id": "c", "recency_days": r, "frequency": f,
                              "monetary": m, "tenure_days": 540});
        let res = score_one(s.addr, "/v1/models/cd/score", customer);
        let id = res["segment_id"].as_u64().unwrap();
        assert_eq!(res["action"]["code"], playbooks[&id]["code"]);
        assert_eq!(res["action"]["text"], playbooks[&id]["goal"]);
        seen.insert(id);
    }
    assert!(
        seen.len() >= 2,
        "the probes reach several segments: {seen:?}"
    );
}

#[test]
fn a_model_written_before_playbooks_answers_with_the_defaults() {
    let store = golden_store();
    let raw = std::fs::read_to_string(store.path().join("default/v1/model.json")).unwrap();
    assert!(
        !raw.contains("playbook"),
        "the golden model predates playbooks"
    );
    let golden: Value = serde_json::from_str(&raw).unwrap();
    let s = start(config(store.path()));
    let res = score_one(
        s.addr,
        "/v1/score",
        json!({"customer_id": "a", "recency_days": 3, "frequency": 25, "monetary": 9000.0}),
    );
    let id = res["segment_id"].as_u64().unwrap();
    let seg = (golden["segments"].as_array().unwrap().iter())
        .find(|s| s["id"].as_u64() == Some(id))
        .unwrap();
    let seg: custseg::model::Segment = serde_json::from_value(seg.clone()).unwrap();
    let p = custseg::model::playbook::default_for(&seg);
    assert_eq!(
        (
            res["action"]["code"].as_str().unwrap(),
            res["action"]["text"].as_str().unwrap()
        ),
        (p.code.as_str(), p.goal.as_str())
    );
}
