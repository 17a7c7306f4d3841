//! Helpers shared by the integration tests.

#![allow(dead_code)]

pub mod retail;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, OnceLock};

use custseg::data::ColumnMap;
use custseg::progress::Progress;
use custseg::train::{self, KChoice, TrainInputs, TrainOutput, TrainParams};
use linfa::ParamGuard;

/// A public dataset kept in the repository under `data/public` (see its README for provenance),
/// so the suite runs on a fresh clone with nothing beside it.
pub fn dataset(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/public")
        .join(name);
    assert!(
        p.is_file(),
        "{} is missing from the repository",
        p.display()
    );
    p
}

/// A file of this repository.
pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Runs the `custseg` binary.
pub fn custseg(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_custseg"))
        .args(args)
        .current_dir(cwd)
        .env("CI", "1")
        .output()
        .expect("custseg runs")
}

/// stdout + stderr as text.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Trains in-process with a fixed k and few restarts. Training is deterministic, so a run
/// on the repository's public datasets is done once per test run and shared: the first
/// caller trains, the others get a copy.
pub fn train_fixed(tx: &[PathBuf], cu: &[PathBuf], map: &[&str], k: usize) -> TrainOutput {
    type Key = (Vec<PathBuf>, Vec<PathBuf>, Vec<String>, usize);
    static DONE: OnceLock<Mutex<HashMap<Key, Arc<OnceLock<TrainOutput>>>>> = OnceLock::new();
    let public = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/public");
    if !tx.iter().chain(cu).all(|p| p.starts_with(&public)) {
        return train_now(tx, cu, map, k);
    }
    let key = (
        tx.to_vec(),
        cu.to_vec(),
        map.iter().map(|s| s.to_string()).collect(),
        k,
    );
    let slot = {
        let mut done = DONE.get_or_init(Default::default).lock().unwrap();
        done.entry(key).or_default().clone()
    };
    slot.get_or_init(|| train_now(tx, cu, map, k)).clone()
}

fn train_now(tx: &[PathBuf], cu: &[PathBuf], map: &[&str], k: usize) -> TrainOutput {
    let inputs = TrainInputs {
        transactions: tx.to_vec(),
        customers: cu.to_vec(),
        map: ColumnMap::parse(map).unwrap(),
        ..Default::default()
    };
    let params = TrainParams::new()
        .k(KChoice::Fixed(k))
        .n_init(3)
        .seed(1)
        .check()
        .unwrap();
    train::train(&inputs, &params, None, &Progress::hidden()).unwrap()
}

/// Reads a CSV written by custseg into header + rows.
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|x| x.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

/// Adjusted Rand index of two labelings.
pub fn adjusted_rand_index(a: &[usize], b: &[usize]) -> f64 {
    use std::collections::HashMap;
    assert_eq!(a.len(), b.len());
    let comb = |n: f64| n * (n - 1.0) / 2.0;
    let mut table: HashMap<(usize, usize), f64> = HashMap::new();
    let mut ra: HashMap<usize, f64> = HashMap::new();
    let mut rb: HashMap<usize, f64> = HashMap::new();
    for (&x, &y) in a.iter().zip(b) {
        *table.entry((x, y)).or_default() += 1.0;
        *ra.entry(x).or_default() += 1.0;
        *rb.entry(y).or_default() += 1.0;
    }
    let index: f64 = table.values().map(|&n| comb(n)).sum();
    let sa: f64 = ra.values().map(|&n| comb(n)).sum();
    let sb: f64 = rb.values().map(|&n| comb(n)).sum();
    let expected = sa * sb / comb(a.len() as f64);
    let max = (sa + sb) / 2.0;
    if max == expected {
        return 1.0;
    }
    (index - expected) / (max - expected)
}

/// `assignments.csv` of model `name`'s version 1 under `work/models`: customer id → the
/// row by column name.
pub fn assignments_by_id(
    work: &Path,
    name: &str,
) -> std::collections::BTreeMap<String, HashMap<String, String>> {
    let (h, rows) = read_csv(&work.join(format!("models/{name}/v1/assignments.csv")));
    rows.into_iter()
        .map(|r| {
            let row: HashMap<String, String> = h.iter().cloned().zip(r).collect();
            (row["customer_id"].clone(), row)
        })
        .collect()
}
