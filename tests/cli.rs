//! The CLI's failure cases: each exits 2 with a message naming the file, row or column, and
//! no model version is written.

use std::path::Path;

use crate::common::{custseg, dataset, repo, text};

fn fails(dir: &Path, args: &[&str], expect: &[&str]) {
    let mut full = vec!["train"];
    full.extend_from_slice(args);
    full.extend_from_slice(&["--models-dir", "m"]);
    let out = custseg(&full, dir);
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {msg}");
    for e in expect {
        assert!(msg.contains(e), "{args:?}: expected '{e}' in: {msg}");
    }
    assert!(
        !dir.join("m").join("default").join("v1").exists(),
        "no model may be written"
    );
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn empty_file() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "empty.csv", "");
    fails(
        d.path(),
        &["--transactions", &f],
        &["empty.csv", "file is empty"],
    );
}

#[test]
fn header_only_file_has_no_valid_rows() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "h.csv", "customer_id,date,amount\n");
    fails(
        d.path(),
        &["--transactions", &f],
        &["h.csv", "no valid rows"],
    );
}

#[test]
fn no_valid_rows_after_cleaning() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "bad.csv", "customer_id,date,amount\n1,soon,3\n2,2024-13-01,4\n,2024-01-01,5\n3,2024-01-01,NaN\n4,2024-01-02,inf\n");
    fails(
        d.path(),
        &["--transactions", &f],
        &[
            "bad.csv",
            "no valid rows",
            "bad date 2",
            "bad amount 2",
            "missing customer id 1",
        ],
    );
}

#[test]
fn k_larger_than_customers() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "t.csv",
        "customer_id,date,amount\n1,2024-01-01,3\n2,2024-01-05,40\n3,2024-02-01,7\n",
    );
    fails(
        d.path(),
        &["--transactions", &f, "--k", "5"],
        &["k = 5", "only 3 remain"],
    );
    fails(
        d.path(),
        &["--transactions", &f, "--k-min", "3"],
        &["k = 3", "only 3 remain"],
    );
}

#[test]
fn constant_columns_are_left_out_or_fail_when_nothing_is_left() {
    let d = tempfile::tempdir().unwrap();
    let mixed = write(
        d.path(),
        "c.csv",
        "id,plan,score\n1,gold,1\n2,gold,5\n3,gold,9\n4,gold,2\n",
    );
    let out = custseg(
        &[
            "train",
            "--customers",
            &mixed,
            "--k",
            "2",
            "--models-dir",
            "m",
        ],
        d.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("left out plan: constant"),
        "{}",
        text(&out)
    );
    let all = write(
        d.path(),
        "all.csv",
        "id,plan,score\n1,gold,3\n2,gold,3\n3,gold,3\n",
    );
    let out = custseg(
        &[
            "train",
            "--customers",
            &all,
            "--k",
            "2",
            "--models-dir",
            "n",
        ],
        d.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("no usable features"), "{}", text(&out));
}

#[test]
fn nan_in_a_customer_table_is_missing_but_infinity_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    let nan = write(
        d.path(),
        "nan.csv",
        "id,age,income\n1,30,NaN\n2,40,50\n3,50,70\n",
    );
    let out = custseg(
        &[
            "train",
            "--customers",
            &nan,
            "--k",
            "2",
            "--models-dir",
            "ok",
        ],
        d.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("imputed 1 missing values of income"),
        "{}",
        text(&out)
    );
    let inf = write(
        d.path(),
        "inf.csv",
        "id,age,income\n1,30,5\n2,40,inf\n3,50,70\n",
    );
    fails(
        d.path(),
        &["--customers", &inf, "--k", "2"],
        &["inf.csv row 3 column income", "infinite"],
    );
}

#[test]
fn map_names_an_unknown_column_or_field() {
    let d = tempfile::tempdir().unwrap();
    let cdnow = dataset("CDNOW_master.txt");
    let c = cdnow.to_str().unwrap();
    fails(
        d.path(),
        &["--transactions", c, "--map", "amount=Totl"],
        &[
            "CDNOW_master.txt",
            "the column map amount=Totl names no column",
            "dollar_value",
        ],
    );
    fails(
        d.path(),
        &["--transactions", c, "--map", "ammount=dollar_value"],
        &["unknown field 'ammount'"],
    );
    fails(
        d.path(),
        &["--transactions", c, "--map", "amount"],
        &["expected FIELD=COLUMN"],
    );
    fails(
        d.path(),
        &["--transactions", c, "--map", "amount=9"],
        &[
            "the column map amount=9 names no column",
            "columns are mapped with --map FIELD=COLUMN",
        ],
    );
}

#[test]
fn the_cli_names_the_flag_behind_a_parameter_error() {
    let d = tempfile::tempdir().unwrap();
    let cdnow = dataset("CDNOW_master.txt");
    let c = cdnow.to_str().unwrap();
    fails(
        d.path(),
        &["--transactions", c, "--k-min", "6", "--k-max", "3"],
        &[
            "k_min (6) is larger than k_max (3)",
            "set with --k-min and --k-max",
        ],
    );
    fails(
        d.path(),
        &["--transactions", c, "--n-init", "0"],
        &["n_init must be at least 1 (set with --n-init)"],
    );
}

#[test]
fn unreadable_inputs() {
    let d = tempfile::tempdir().unwrap();
    fails(
        d.path(),
        &["--transactions", "nope.csv"],
        &["nope.csv", "no such file"],
    );
    fails(
        d.path(),
        &["--transactions", "nothing/*.csv"],
        &["matched no files"],
    );
    let gz = write(d.path(), "broken.csv.gz", "this is not gzip");
    fails(d.path(), &["--transactions", &gz], &["broken.csv.gz"]);
    let pq = write(d.path(), "broken.parquet", "PAR1 not really");
    fails(
        d.path(),
        &["--transactions", &pq],
        &["broken.parquet", "Parquet"],
    );
}

#[test]
fn headerless_file_needs_maps_by_position() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "nohead.txt",
        "1 20240101 2 10.5\n2 20240103 1 3.0\n3 20240110 5 99.9\n1 20240111 1 4.0\n",
    );
    fails(
        d.path(),
        &["--transactions", &f, "--k", "2"],
        &["no column for customer_id", "no header"],
    );
    let out = custseg(
        &[
            "train",
            "--transactions",
            &f,
            "--k",
            "2",
            "--map",
            "customer_id=1",
            "--map",
            "date=2",
            "--map",
            "amount=4",
            "--models-dir",
            "m",
        ],
        d.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn bad_parameters_and_config() {
    let d = tempfile::tempdir().unwrap();
    let s = repo("data/sample/transactions.csv");
    let s = s.to_str().unwrap();
    fails(
        d.path(),
        &["--transactions", s, "--k", "1"],
        &["k must be at least 2"],
    );
    fails(
        d.path(),
        &["--transactions", s, "--k", "many"],
        &["expected a number or 'auto'"],
    );
    fails(d.path(), &["--transactions", s, "--tol", "0"], &["--tol"]);
    fails(
        d.path(),
        &["--transactions", s, "--as-of", "yesterday"],
        &["--as-of"],
    );
    fails(
        d.path(),
        &["--transactions", s, "--name", "../x"],
        &["bad model name"],
    );
    fails(d.path(), &[], &["--transactions"]);
    let cfg = write(d.path(), "c.toml", "[features.agee]\nweight = 2\n");
    fails(
        d.path(),
        &["--transactions", s, "--config", &cfg],
        &["agee", "available"],
    );
    let cfg = write(d.path(), "d.toml", "[train]\nkk = 2\n");
    fails(
        d.path(),
        &["--transactions", s, "--config", &cfg],
        &["d.toml", "kk"],
    );
    fails(
        d.path(),
        &["--transactions", s, "--as-of", "2020-01-01"],
        &["no customers", "before 2020-01-01"],
    );
}

#[test]
fn config_file_declares_features_and_renames_segments() {
    let d = tempfile::tempdir().unwrap();
    let mall = dataset("Mall_Customers.csv");
    let cfg = write(
        d.path(),
        "mall.toml",
        "exclude = [\"Genre\"]\n[train]\nk = 3\nseed = 5\n[features.age]\nenabled = false\n[segments]\nvalue_feature = \"spending_score_1_100\"\n[segments.names]\n\"0\" = \"First\"\n",
    );
    let out = custseg(
        &[
            "train",
            "--customers",
            mall.to_str().unwrap(),
            "--config",
            &cfg,
            "--models-dir",
            "m",
        ],
        d.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let model: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.path().join("m/default/v1/model.json")).unwrap())
            .unwrap();
    let feats: Vec<&str> = model["features"]["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(feats, ["annual_income_k", "spending_score_1_100"]);
    assert_eq!(model["k"], 3);
    assert_eq!(model["seed"], 5);
    assert_eq!(model["segments"][0]["name"], "First");
    let tiers: Vec<&str> = model["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["tier"].as_str().unwrap())
        .collect();
    assert!(
        tiers.contains(&"high") && tiers.contains(&"low"),
        "{tiers:?}"
    );
}

#[test]
fn demo_trains_once_then_reuses() {
    let d = tempfile::tempdir().unwrap();
    let sample = repo("data/sample");
    let args = [
        "demo",
        "--no-serve",
        "--models-dir",
        "m",
        "--sample",
        sample.to_str().unwrap(),
    ];
    let first = custseg(&args, d.path());
    assert!(first.status.success(), "{}", text(&first));
    assert!(
        text(&first).contains("Trained model 'default' v1"),
        "{}",
        text(&first)
    );
    let second = custseg(&args, d.path());
    assert!(
        text(&second).contains("already trained"),
        "{}",
        text(&second)
    );
    assert!(!d.path().join("m/default/v2").exists());
}

#[test]
fn malformed_training_files_fail_with_their_row_or_count_their_bad_rows() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let raw = |name: &str, body: &[u8]| {
        let path = p.join(name);
        std::fs::write(&path, body).unwrap();
        path.to_str().unwrap().to_string()
    };
    // Errors, naming the file and row; nothing is written.
    let ragged = raw(
        "ragged.csv",
        b"customer_id,date,amount\nc1,2024-01-01,10\nc2,2024-01-02,5,7,8\nc3,2024-02-01,3\n",
    );
    fails(
        p,
        &["--transactions", &ragged],
        &["ragged.csv", "row 3", "5 fields"],
    );
    let mixed = raw(
        "mixed.csv",
        b"customer_id,date,amount\nc1;2024-01-01;10\nc2;2024-01-02;5\nc3;2024-02-01;3\n",
    );
    fails(
        p,
        &["--transactions", &mixed],
        &["mixed.csv", "'customer_id,date,amount'"],
    );
    let quote = raw(
        "quote.csv",
        b"customer_id,date,amount\n\"c1,2024-01-01,10\nc2,2024-01-02,5\n",
    );
    fails(p, &["--transactions", &quote], &["quote.csv"]);

    // Readable files with bad cells: the rows are dropped and counted by reason.
    let mut huge = b"customer_id,date,amount\nc1,2024-01-01,10\nc2,2024-01-02,".to_vec();
    huge.extend(std::iter::repeat_n(b'9', 5_000_000));
    huge.extend_from_slice(b"\nc3,2024-02-01,3\nc4,2024-02-05,4\n");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "bom.csv",
            b"\xef\xbb\xbfcustomer_id,date,amount\nc1,2024-01-01,10\nc2,2024-01-02,5\nc3,2024-02-01,3\n"
                .to_vec(),
            "kept 3",
        ),
        (
            "latin1.csv",
            b"customer_id,date,amount\ncaf\xe9,2024-01-01,10\nc2,2024-01-02,5\nc3,2024-02-01,3\n"
                .to_vec(),
            "kept 3",
        ),
        (
            "trailing.csv",
            b"customer_id,date,amount\nc1,2024-01-01,10,,\nc2,2024-01-02,5,\nc3,2024-02-01,3\n"
                .to_vec(),
            "kept 3",
        ),
        ("huge.csv", huge, "bad amount 1"),
        (
            "dates.csv",
            b"customer_id,date,amount\nc1,9999-99-99,10\nc2,0000-01-01,5\nc3,20261399,3\nc4,2024-02-01,3\nc5,2024-03-01,4\nc6,2024-03-05,1\n"
                .to_vec(),
            "bad date 3",
        ),
        (
            "nul.csv",
            b"customer_id,date,amount\nc1,2024-01-01,1\x000\nc2,2024-01-02,5\nc3,2024-02-01,3\nc4,2024-02-03,3\n"
                .to_vec(),
            "bad amount 1",
        ),
    ];
    for (name, body, expect) in cases {
        let path = raw(name, &body);
        let model = name.trim_end_matches(".csv");
        let out = custseg(
            &[
                "train",
                "--transactions",
                &path,
                "--k",
                "2",
                "--max-dropped-share",
                "1",
                "--models-dir",
                "ok",
                "--name",
                model,
            ],
            p,
        );
        let msg = text(&out);
        assert!(out.status.success(), "{name}: {msg}");
        assert!(
            msg.contains(expect),
            "{name}: expected '{expect}' in: {msg}"
        );
        assert!(p.join("ok").join(model).join("v1/model.json").is_file());
    }
}

#[test]
fn near_duplicate_customers_train_and_report_in_time() {
    // Four identical customers and one a day apart: the k search sees inertias of ~0, which
    // once sent the report's chart ticks into an endless loop. Run the real binary with a
    // deadline so a regression fails instead of hanging.
    let dir = tempfile::tempdir().unwrap();
    let log = write(
        dir.path(),
        "flat.csv",
        "customer_id,date,amount\nA,2024-01-01,10\nB,2024-01-01,10\nC,2024-01-01,10\n\
         D,2024-01-01,10\nE,2024-01-02,10\n",
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_custseg"))
        .args(["train", "--transactions", &log, "--models-dir", "m"])
        .current_dir(dir.path())
        .env("CI", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!("training 5 near-duplicate customers did not finish in 60 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(status.success());
    let report = std::fs::read_to_string(dir.path().join("m/default/v1/report.html")).unwrap();
    assert!(report.contains("id=\"k-search\""));
}
