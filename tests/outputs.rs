//! What custseg writes and where it reads models from (issue 12, items 6, 8 and 9), through
//! the real binary and a real socket: customer ids stay byte-exact in machine CSVs and are
//! made safe for spreadsheets on request, formula-like segment names are refused, model
//! folders linked out of the store are neither served nor read, and `score --output -`
//! writes only CSV to stdout.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::common::{custseg, read_csv, text};
use crate::server::{config, get, golden_store, post, start, store_checks};

/// Ids a spreadsheet would run as formulas, one plain negative number, and what a trimming
/// reader would turn `\t=2+2` into (which must not appear).
const DANGEROUS: [&str; 4] = ["=1+1", "\t=2+2", "@SUM(A1)", "+44 20"];
const NUMBER_ID: &str = "-5";

/// A transaction log of the dangerous ids, `-5` and ten ordinary ones, 1-4 orders each.
fn write_log(dir: &Path) -> PathBuf {
    let mut w = csv::Writer::from_path(dir.join("tx.csv")).unwrap();
    w.write_record(["customer_id", "order_id", "date", "amount"])
        .unwrap();
    let ordinary: Vec<String> = (0..10).map(|i| format!("c{i}")).collect();
    let ids = DANGEROUS
        .iter()
        .copied()
        .chain([NUMBER_ID])
        .chain(ordinary.iter().map(String::as_str));
    for (i, id) in ids.enumerate() {
        for o in 0..=(i % 4) {
            let date = format!("2026-{:02}-{:02}", 1 + (i + o) % 10, 1 + (3 * i + o) % 27);
            let amount = format!("{}.50", 10 + 37 * ((i * 7 + o) % 11));
            w.write_record([id, &format!("o{i}-{o}"), &date, &amount])
                .unwrap();
        }
    }
    w.flush().unwrap();
    dir.join("tx.csv")
}

/// Trains model `t` on the log; returns the train output text.
fn train(dir: &Path, log: &Path) -> String {
    let out = custseg(
        &[
            "train",
            "--transactions",
            log.to_str().unwrap(),
            "--k",
            "2",
            "--seed",
            "1",
            "--name",
            "t",
            "--models-dir",
            "models",
        ],
        dir,
    );
    assert!(out.status.success(), "{}", text(&out));
    text(&out)
}

fn ids_of(path: &Path) -> Vec<String> {
    let (header, rows) = read_csv(path);
    assert_eq!(header[0], "customer_id");
    rows.into_iter().map(|r| r[0].clone()).collect()
}

fn score(dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["score", "--model", "models/t", "--input", "tx.csv"];
    args.extend_from_slice(extra);
    custseg(&args, dir)
}

/// The warning names the count and the file but never an id.
fn assert_formula_warning(out: &str, count: usize, file: &str) {
    let line = out
        .lines()
        .find(|l| l.contains("start with =, +, -, @, tab or CR"))
        .unwrap_or_else(|| panic!("no formula warning:\n{out}"));
    assert!(line.contains(&format!("{count} cells of")), "{line}");
    assert!(line.contains(file), "{line}");
    assert!(line.contains("--spreadsheet-safe"), "{line}");
    for id in DANGEROUS {
        assert!(!line.contains(id), "the warning shows an id: {line}");
    }
}

#[test]
fn r12_ids_stay_exact_in_machine_csvs_and_are_prefixed_in_spreadsheet_safe_output() {
    let d = tempfile::tempdir().unwrap();
    let log = write_log(d.path());
    let trained = train(d.path(), &log);
    assert_formula_warning(&trained, DANGEROUS.len(), "assignments.csv");

    // The model store's assignments.csv: every id byte-exact, none trimmed into another.
    let assigned = ids_of(&d.path().join("models/t/v1/assignments.csv"));
    for id in DANGEROUS.iter().chain(&[NUMBER_ID]) {
        assert!(assigned.iter().any(|a| a == id), "{id:?} in {assigned:?}");
    }
    assert!(!assigned.iter().any(|a| a == "=2+2"), "{assigned:?}");
    assert_eq!(assigned.len(), 15);

    // Plain `score`: exact ids too, and the same warning for its file.
    let out = score(d.path(), &["--output", "plain.csv"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_formula_warning(&text(&out), DANGEROUS.len(), "plain.csv");
    let mut plain = ids_of(&d.path().join("plain.csv"));
    plain.sort();
    let mut expected = assigned.clone();
    expected.sort();
    assert_eq!(plain, expected);

    // --spreadsheet-safe: exactly the dangerous ids get a leading ', -5 and c0.. do not.
    let out = score(d.path(), &["--spreadsheet-safe", "--output", "safe.csv"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("tab or CR"), "{}", text(&out));
    let safe = ids_of(&d.path().join("safe.csv"));
    let prefixed: Vec<&String> = safe.iter().filter(|s| s.starts_with('\'')).collect();
    assert_eq!(prefixed.len(), DANGEROUS.len(), "{safe:?}");
    for id in DANGEROUS {
        assert!(safe.contains(&format!("'{id}")), "{id:?} in {safe:?}");
    }
    assert!(safe.iter().any(|s| s == NUMBER_ID), "{safe:?}");
    assert!(safe.iter().any(|s| s == "c0"), "{safe:?}");
    // Segment names and numbers are the same in both outputs.
    let (_, plain_rows) = read_csv(&d.path().join("plain.csv"));
    let (_, safe_rows) = read_csv(&d.path().join("safe.csv"));
    let tail = |rows: &[Vec<String>]| -> Vec<Vec<String>> {
        let mut t: Vec<Vec<String>> = rows.iter().map(|r| r[1..].to_vec()).collect();
        t.sort();
        t
    };
    assert_eq!(tail(&plain_rows), tail(&safe_rows));
}

#[test]
fn r12_score_output_dash_writes_only_csv_to_stdout() {
    let d = tempfile::tempdir().unwrap();
    let log = write_log(d.path());
    train(d.path(), &log);
    let out = score(d.path(), &["--output", "-"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!d.path().join("-").exists(), "a file named - was written");
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        stdout.starts_with("customer_id,segment_id,segment,"),
        "{stdout}"
    );
    let mut r = csv::Reader::from_reader(stdout.as_bytes());
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), 15, "{stdout}");
    assert!(rows.iter().any(|r| &r[0] == "\t=2+2"), "{stdout}");
    // The summary and the formula warning went to stderr.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("scored 15 customers"), "{stderr}");
    assert!(!stdout.contains("scored 15"), "{stdout}");
    assert_formula_warning(&stderr, DANGEROUS.len(), "cells of stdout");

    // The model's own assignments.csv (a feature table), spreadsheet-safe, to stdout too.
    let out = custseg(
        &[
            "score",
            "--model",
            "models/t",
            "--input",
            "models/t/v1/assignments.csv",
            "--spreadsheet-safe",
            "--output",
            "-",
        ],
        d.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("'@SUM(A1)"), "{stdout}");
}

#[test]
fn r12_a_config_naming_a_segment_like_a_formula_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let log = write_log(d.path());
    std::fs::write(
        d.path().join("c.toml"),
        "[segments.names]\n\"0\" = '=HYPERLINK(\"http://evil.example\",\"VIP\")'\n",
    )
    .unwrap();
    let out = custseg(
        &[
            "train",
            "--transactions",
            log.to_str().unwrap(),
            "--k",
            "2",
            "--config",
            "c.toml",
            "--models-dir",
            "models",
        ],
        d.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("c.toml") && t.contains("[segments.names] \"0\""),
        "{t}"
    );
    assert!(t.contains("formula"), "{t}");
    assert!(!d.path().join("models").exists(), "nothing was trained");
}

/// A store (the golden `default`) with model `evil`: a symbolic link to a model folder
/// outside it. Returns (store, outside) so both live as long as the test.
#[cfg(unix)]
fn store_with_outside_link() -> (tempfile::TempDir, tempfile::TempDir) {
    let store = golden_store();
    let outside = golden_store();
    std::os::unix::fs::symlink(outside.path().join("default"), store.path().join("evil")).unwrap();
    (store, outside)
}

#[cfg(unix)]
#[test]
fn r12_a_model_linked_out_of_the_store_is_not_served_unless_allowed() {
    let (store, _outside) = store_with_outside_link();
    let body = json!({"customers": []});
    let s = start(config(store.path()));
    let listed = get(s.addr, "/v1/models", &[]).json();
    let names: Vec<&str> = listed["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(names, ["default"], "{listed}");
    for r in [
        get(s.addr, "/v1/models/evil", &[]),
        post(s.addr, "/v1/models/evil/score", &[], &body),
        post(s.addr, "/v1/models/evil/reload", &[], &json!({})),
    ] {
        assert_eq!(r.status, 404, "{}", r.text());
        assert_eq!(r.json()["error"]["code"], "model_not_found", "{}", r.text());
    }
    drop(s);

    let mut allowed = config(store.path());
    allowed.allow_symlinks = true;
    let s = start(allowed);
    let r = get(s.addr, "/v1/models/evil", &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    let listed = get(s.addr, "/v1/models", &[]).text();
    assert!(listed.contains("\"evil\""), "{listed}");
}

#[cfg(unix)]
#[test]
fn r12_cli_commands_refuse_a_model_linked_out_of_the_store() {
    let (store, _outside) = store_with_outside_link();
    let m = store.path().to_str().unwrap();
    let refused = |args: &[&str]| {
        let out = custseg(args, store.path());
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        let t = text(&out);
        assert!(t.contains("outside the model store"), "{args:?}: {t}");
        assert!(t.contains("--allow-symlinks"), "{args:?}: {t}");
    };
    refused(&["models", "show", "evil", "--models-dir", m]);
    refused(&["models", "promote", "evil", "v1", "--models-dir", m]);
    let input = crate::common::repo("tests/data/golden/v1/assignments.csv");
    let input = input.to_str().unwrap();
    for model in ["evil", "evil/v1"] {
        let path = format!("{m}/{model}");
        refused(&[
            "score", "--model", &path, "--input", input, "--output", "o.csv",
        ]);
    }
    refused(&[
        "score",
        "--models-dir",
        m,
        "--model",
        "evil",
        "--input",
        input,
        "--output",
        "o.csv",
    ]);
    // `models list` leaves it out; the flag lets every command read it.
    let out = custseg(&["models", "list", "--models-dir", m], store.path());
    assert!(out.status.success(), "{}", text(&out));
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        listed.contains("default") && !listed.contains("evil"),
        "{listed}"
    );
    let out = custseg(
        &[
            "models",
            "show",
            "evil",
            "--models-dir",
            m,
            "--allow-symlinks",
        ],
        store.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let path = format!("{m}/evil");
    let out = custseg(
        &[
            "score",
            "--model",
            &path,
            "--input",
            input,
            "--output",
            "o.csv",
            "--allow-symlinks",
        ],
        store.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
}

/// Runs `custseg serve` on the store with a fast watcher; returns its address and the child.
#[cfg(unix)]
fn serve_process(
    store: &Path,
    env: &[(&str, &str)],
) -> (std::net::SocketAddr, std::process::Child) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_custseg"))
        .args(["serve", "--bind", "127.0.0.1:0", "--workers", "1"])
        .args(["--watch-interval-ms", "20", "--models-dir"])
        .arg(store)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("serve prints its address").unwrap();
        if let Some(rest) = line.strip_prefix("custseg serving on http://") {
            break rest.trim().parse().unwrap();
        }
    };
    // Keep reading stdout: the server prints more, and a closed pipe would end it.
    std::thread::spawn(move || lines.for_each(drop));
    (addr, child)
}

#[cfg(unix)]
#[test]
fn r12_the_server_warns_once_about_a_linked_model_and_the_env_var_allows_it() {
    let (store, _outside) = store_with_outside_link();
    let (addr, child) = serve_process(store.path(), &[]);
    // Many watcher ticks pass while it refuses the link.
    let (checks, deadline) = (store_checks(addr), std::time::Instant::now());
    while store_checks(addr) < checks + 10 {
        assert_eq!(get(addr, "/v1/models/evil", &[]).status, 404);
        assert!(deadline.elapsed().as_secs() < 30, "the watcher stopped");
    }
    assert_eq!(get(addr, "/v1/models/default", &[]).status, 200);
    let logs = crate::server::stop_with_sigterm(child);
    let warnings: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("left out of the store"))
        .collect();
    assert_eq!(warnings.len(), 1, "{logs}");
    assert!(
        warnings[0].contains("WARN") && warnings[0].contains("evil"),
        "{logs}"
    );
    assert!(
        !logs.contains('\u{1b}'),
        "logs written to a file carry no terminal colour codes: {logs:?}"
    );

    let (addr, child) = serve_process(store.path(), &[("CUSTSEG_ALLOW_SYMLINKS", "true")]);
    let r = get(addr, "/v1/models/evil", &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    let logs = crate::server::stop_with_sigterm(child);
    assert!(!logs.contains("left out of the store"), "{logs}");
}

#[test]
fn r12_label_cells_stay_exact_in_assignments_and_are_safe_in_segments_csv() {
    let d = tempfile::tempdir().unwrap();
    let mut w = csv::Writer::from_path(d.path().join("c.csv")).unwrap();
    w.write_record(["id", "age", "channel"]).unwrap();
    let channels = ["=cmd|' /C calc'!A0", "web", "shop"];
    for i in 0..30 {
        let age = (20 + (i * 7) % 50).to_string();
        // Most customers of the first group share the dangerous level, so it is a top level.
        let channel = channels[if i < 12 { 0 } else { 1 + i % 2 }];
        w.write_record([&format!("k{i}"), &age, channel]).unwrap();
    }
    w.flush().unwrap();
    let out = custseg(
        &[
            "train",
            "--customers",
            "c.csv",
            "--k",
            "2",
            "--seed",
            "1",
            "--models-dir",
            "models",
        ],
        d.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_formula_warning(&text(&out), 12, "assignments.csv");
    let v1 = d.path().join("models/default/v1");
    let (header, rows) = read_csv(&v1.join("assignments.csv"));
    let col = header.iter().position(|h| h == "channel").unwrap();
    let exact = rows.iter().filter(|r| r[col] == channels[0]).count();
    assert_eq!(exact, 12, "assignments.csv keeps the level exact");
    let (header, rows) = read_csv(&v1.join("segments.csv"));
    let col = header.iter().position(|h| h == "top_channel").unwrap();
    let tops: Vec<&str> = rows.iter().map(|r| r[col].as_str()).collect();
    assert!(
        tops.iter()
            .any(|t| t.starts_with(&format!("'{}", channels[0]))),
        "{tops:?}"
    );
    for r in &rows {
        for cell in r {
            assert!(
                !custseg::data::is_formula_like(cell),
                "{cell:?} in segments.csv"
            );
        }
    }
}
