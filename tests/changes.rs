//! `custseg changes` (SPEC "Acting on segments"): on CDNOW trained as of 1997-10-01 (v1) and
//! on the whole log (v2), the change feed equals an independent comparison of the two
//! versions' `assignments.csv` and segments; the webhook delivers every change exactly once
//! by idempotency key to a receiver on 127.0.0.1 that fails, stalls, drops connections and
//! answers 500 after storing, at random (seeded); a rerun sends nothing acknowledged; a batch
//! that is refused lands in the dead-letter file and a rerun sends only it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::{custseg, dataset, read_csv, text};

const SECRET: &str = "test-secret-9f2c";

struct Store {
    _dir: tempfile::TempDir,
    models: PathBuf,
}

/// CDNOW v1 as of 1997-10-01 and v2 on the whole log, k 5; trained once per run.
fn store() -> &'static Store {
    static S: OnceLock<Store> = OnceLock::new();
    S.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let models = dir.path().join("models");
        let cdnow = dataset("CDNOW_master.txt");
        for extra in [&["--as-of", "1997-10-01"][..], &[]] {
            let mut args = vec![
                "train",
                "--transactions",
                cdnow.to_str().unwrap(),
                "--k",
                "5",
                "--seed",
                "1",
                "--name",
                "cd",
                "--models-dir",
                models.to_str().unwrap(),
            ];
            args.extend_from_slice(extra);
            let out = custseg(&args, dir.path());
            assert!(out.status.success(), "{}", text(&out));
        }
        Store { _dir: dir, models }
    })
}

fn run(args: &[&str], cwd: &Path, secret: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_custseg"));
    c.args(args)
        .current_dir(cwd)
        .env_remove("CUSTSEG_WEBHOOK_SECRET");
    if let Some(s) = secret {
        c.env("CUSTSEG_WEBHOOK_SECRET", s);
    }
    c.output().unwrap()
}

/// (id → (segment_id, stage)) of a version, and (segment id → tier) from its model.json.
type Version = (HashMap<String, (String, String)>, HashMap<String, String>);

fn version(dir: &Path) -> Version {
    let (h, rows) = read_csv(&dir.join("assignments.csv"));
    let last = |n: &str| h.iter().rposition(|c| c == n).unwrap();
    let (sid, st) = (last("segment_id"), last("lifecycle"));
    let members = rows
        .iter()
        .map(|r| (r[0].clone(), (r[sid].clone(), r[st].clone())))
        .collect();
    let model: Value =
        serde_json::from_slice(&std::fs::read(dir.join("model.json")).unwrap()).unwrap();
    let tiers = (model["segments"].as_array().unwrap().iter())
        .map(|s| (s["id"].to_string(), s["tier"].as_str().unwrap().to_string()))
        .collect();
    (members, tiers)
}

/// The changes computed here: id → (change, what).
fn expected(a: &Version, b: &Version) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for (id, (seg, stage)) in &b.0 {
        match a.0.get(id) {
            None => {
                out.insert(id.clone(), ("entered".into(), String::new()));
            }
            Some((seg0, stage0)) => {
                let mut what = Vec::new();
                if seg0 != seg {
                    what.push("segment");
                }
                if a.1[seg0] != b.1[seg] {
                    what.push("tier");
                }
                if stage0 != stage {
                    what.push("stage");
                }
                if !what.is_empty() {
                    out.insert(id.clone(), ("moved".into(), what.join(";")));
                }
            }
        }
    }
    for id in a.0.keys().filter(|id| !b.0.contains_key(*id)) {
        out.insert(id.clone(), ("left".into(), String::new()));
    }
    out
}

fn expected_changes() -> BTreeMap<String, (String, String)> {
    let m = &store().models;
    expected(&version(&m.join("cd/v1")), &version(&m.join("cd/v2")))
}

#[test]
fn the_change_feed_equals_an_independent_comparison_of_the_versions() {
    let m = &store().models;
    let work = tempfile::tempdir().unwrap();
    let out_csv = work.path().join("changes.csv");
    let args = [
        "changes",
        "cd",
        "v1",
        "v2",
        "--models-dir",
        m.to_str().unwrap(),
        "--output",
    ];
    let mut a = args.to_vec();
    a.push(out_csv.to_str().unwrap());
    let out = custseg(&a, work.path());
    assert!(out.status.success(), "{}", text(&out));
    let (h, rows) = read_csv(&out_csv);
    let col = |n: &str| h.iter().position(|c| c == n).unwrap();
    let got: BTreeMap<String, (String, String)> = rows
        .iter()
        .map(|r| {
            (
                r[0].clone(),
                (r[col("change")].clone(), r[col("what")].clone()),
            )
        })
        .collect();
    assert_eq!(got.len(), rows.len(), "one row per customer");
    let want = expected_changes();
    assert!(
        want.len() > 1000,
        "CDNOW moves between the versions: {}",
        want.len()
    );
    assert_eq!(got, want);
    let moved = want.values().filter(|(c, _)| c == "moved").count();
    assert!(
        text(&out).contains(&format!("{moved} moved")),
        "{}",
        text(&out)
    );
    // Each row's action is its new segment's playbook code.
    let v2: Value =
        serde_json::from_slice(&std::fs::read(m.join("cd/v2/model.json")).unwrap()).unwrap();
    let code: HashMap<String, String> = (v2["segments"].as_array().unwrap().iter())
        .map(|s| {
            (
                s["id"].to_string(),
                s["playbook"]["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for r in &rows {
        assert_eq!(r[col("action")], code[&r[col("to_segment_id")]]);
    }
    // The CRM file has the same customers, with the new segment.
    let out = custseg(&[&args[..6], &["--format", "crm"]].concat(), work.path());
    assert!(out.status.success(), "{}", text(&out));
    let crm = String::from_utf8(out.stdout).unwrap();
    let mut lines = crm.lines();
    assert_eq!(
        lines.next(),
        Some("customer_id,segment,tier,action,changed_at")
    );
    assert_eq!(lines.count(), want.len());
}

#[test]
fn bad_webhook_urls_a_missing_secret_and_unknown_versions_exit_2_naming_them() {
    let m = store().models.to_str().unwrap();
    let work = tempfile::tempdir().unwrap();
    let base = ["changes", "cd", "v1", "v2", "--models-dir", m];
    let cases: [(&[&str], Option<&str>, &str); 4] = [
        (
            &["--webhook", "ftp://example.com/x"],
            Some(SECRET),
            "ftp://example.com/x",
        ),
        (
            &["--webhook", "example.com/x"],
            Some(SECRET),
            "only http:// and https://",
        ),
        (
            &["--webhook", "http://127.0.0.1:9/x"],
            None,
            "CUSTSEG_WEBHOOK_SECRET",
        ),
        (&[], None, ""),
    ];
    for (extra, secret, says) in cases {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        if extra.is_empty() {
            args[3] = "v9";
        }
        let out = run(&args, work.path(), secret);
        let says = if extra.is_empty() {
            "no version v9"
        } else {
            says
        };
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(says), "{args:?}: {}", text(&out));
    }
    assert!(
        std::fs::read_dir(work.path()).unwrap().next().is_none(),
        "nothing written"
    );
}

// ---------------------------------------------------------------------------------------------
// A webhook receiver on 127.0.0.1: stores batches by idempotency key, checks signatures with
// its own HMAC (RFC 2104 over SHA-256), and misbehaves as `mode` says.

/// HMAC-SHA256 written out from RFC 2104, independent of the crate custseg uses.
fn hmac_sha256(key: &[u8], msg: &[u8]) -> String {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |b: u8| k.iter().map(|x| x ^ b).collect::<Vec<u8>>();
    let inner = Sha256::digest([pad(0x36), msg.to_vec()].concat());
    let outer = Sha256::digest([pad(0x5c), inner.to_vec()].concat());
    outer.iter().map(|b| format!("{b:02x}")).collect()
}

const HEALTHY: u8 = 0;
const FLAKY: u8 = 1;
const REFUSE_BATCH_2: u8 = 2;

#[derive(Default)]
struct Received {
    /// Key → the batch's changes, first receipt.
    stored: BTreeMap<String, Value>,
    requests: usize,
    duplicates: usize,
    bad_signatures: usize,
    faults: BTreeMap<&'static str, usize>,
}

struct Receiver {
    addr: SocketAddr,
    mode: Arc<AtomicU8>,
    got: Arc<Mutex<Received>>,
}

fn receiver(seed: u64) -> Receiver {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let mode = Arc::new(AtomicU8::new(HEALTHY));
    let got = Arc::new(Mutex::new(Received::default()));
    let rng = Arc::new(Mutex::new(rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(
        seed,
    )));
    let (m, g) = (mode.clone(), got.clone());
    std::thread::spawn(move || {
        for conn in l.incoming().flatten() {
            let (m, g, rng) = (m.clone(), g.clone(), rng.clone());
            std::thread::spawn(move || serve(conn, &m, &g, &rng));
        }
    });
    Receiver { addr, mode, got }
}

/// Reads one request: headers (lower-cased names) and body; None at end of connection.
fn read_request(r: &mut BufReader<TcpStream>) -> Option<(HashMap<String, String>, Vec<u8>)> {
    let mut line = String::new();
    r.read_line(&mut line).ok().filter(|n| *n > 0)?;
    let mut headers = HashMap::new();
    loop {
        line.clear();
        r.read_line(&mut line).ok().filter(|n| *n > 0)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':')?;
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
    }
    let n: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; n];
    r.read_exact(&mut body).ok()?;
    Some((headers, body))
}

fn answer(w: &mut TcpStream, status: &str) {
    let _ = write!(w, "HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
}

fn serve(
    conn: TcpStream,
    mode: &AtomicU8,
    got: &Mutex<Received>,
    rng: &Mutex<rand_xoshiro::Xoshiro256PlusPlus>,
) {
    let mut w = conn.try_clone().unwrap();
    let mut r = BufReader::new(conn);
    while let Some((h, body)) = read_request(&mut r) {
        let roll: f64 = rng.lock().unwrap().gen();
        let mut g = got.lock().unwrap();
        g.requests += 1;
        let key = h.get("idempotency-key").cloned().unwrap_or_default();
        let signed = h.get("x-custseg-signature").map(String::as_str)
            == Some(&format!("sha256={}", hmac_sha256(SECRET.as_bytes(), &body)));
        if !signed {
            g.bad_signatures += 1;
            answer(&mut w, "401 Unauthorized");
            continue;
        }
        let batch = h.get("x-custseg-batch").cloned().unwrap_or_default();
        let mode = mode.load(Ordering::SeqCst);
        let fault = match mode {
            FLAKY if roll < 0.2 => Some("500 before storing"),
            FLAKY if roll < 0.3 => Some("stall"),
            FLAKY if roll < 0.4 => Some("drop"),
            FLAKY if roll < 0.55 => Some("500 after storing"),
            REFUSE_BATCH_2 if batch.starts_with("2/") => Some("400"),
            _ => None,
        };
        if let Some(f) = fault {
            *g.faults.entry(f).or_default() += 1;
        }
        match fault {
            Some("500 before storing") => answer(&mut w, "500 Internal Server Error"),
            Some("400") => answer(&mut w, "400 Bad Request"),
            Some("stall") => {
                drop(g);
                std::thread::sleep(Duration::from_millis(800));
                return;
            }
            Some("drop") => return,
            _ => {
                let v: Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(v["idempotency_key"], key.as_str());
                match g.stored.entry(key) {
                    std::collections::btree_map::Entry::Occupied(_) => g.duplicates += 1,
                    std::collections::btree_map::Entry::Vacant(e) => {
                        e.insert(v["changes"].clone());
                    }
                }
                if fault.is_some() {
                    answer(&mut w, "500 Internal Server Error");
                } else {
                    answer(&mut w, "200 OK");
                }
            }
        }
    }
}

fn deliver(rcv: &Receiver, cwd: &Path, extra: &[&str]) -> Output {
    let m = store().models.to_str().unwrap();
    let url = format!("http://{}/hooks/custseg", rcv.addr);
    let mut args = vec![
        "changes",
        "cd",
        "v1",
        "v2",
        "--models-dir",
        m,
        "--webhook",
        &url,
        "--batch-size",
        "500",
        "--timeout-ms",
        "300",
        "--retry-base-ms",
        "5",
    ];
    args.extend_from_slice(extra);
    run(&args, cwd, Some(SECRET))
}

/// Every stored change, by customer (a customer stored twice fails).
fn delivered(got: &Received) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for changes in got.stored.values() {
        for c in changes.as_array().unwrap() {
            let what: Vec<&str> = (c["what"].as_array().unwrap().iter())
                .map(|w| w.as_str().unwrap())
                .collect();
            let id = c["customer_id"].as_str().unwrap().to_string();
            let prev = out.insert(
                id.clone(),
                (c["change"].as_str().unwrap().to_string(), what.join(";")),
            );
            assert!(prev.is_none(), "customer {id} delivered in two batches");
        }
    }
    out
}

#[test]
fn a_flaky_receiver_gets_every_change_exactly_once_and_a_rerun_sends_nothing() {
    let rcv = receiver(7);
    rcv.mode.store(FLAKY, Ordering::SeqCst);
    let work = tempfile::tempdir().unwrap();
    let out = deliver(&rcv, work.path(), &["--max-attempts", "40"]);
    assert!(out.status.success(), "{}", text(&out));
    let want = expected_changes();
    let batches = want.len().div_ceil(500);
    {
        let g = rcv.got.lock().unwrap();
        eprintln!(
            "receiver: {} requests, {} batches stored, {} resent batches recognised by key, faults {:?}",
            g.requests,
            g.stored.len(),
            g.duplicates,
            g.faults
        );
        assert_eq!(g.bad_signatures, 0);
        assert_eq!(g.stored.len(), batches, "one stored batch per key");
        assert_eq!(delivered(&g), want, "nothing lost, nothing twice");
        for f in ["500 before storing", "stall", "drop", "500 after storing"] {
            assert!(
                g.faults.get(f).copied().unwrap_or(0) > 0,
                "fault {f} happened: {:?}",
                g.faults
            );
        }
        assert!(
            g.duplicates > 0,
            "a 500 after storing makes custseg resend: {:?}",
            g.faults
        );
        assert!(
            text(&out).contains(&format!("{batches} batches, {batches} acknowledged now")),
            "{}",
            text(&out)
        );
    }
    assert!(!work
        .path()
        .join("custseg-changes-cd-v1-v2.dead.jsonl")
        .exists());
    let before = rcv.got.lock().unwrap().requests;
    let again = deliver(&rcv, work.path(), &[]);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(
        rcv.got.lock().unwrap().requests,
        before,
        "nothing acknowledged is sent again"
    );
    assert!(
        text(&again).contains(&format!("{batches} already acknowledged")),
        "{}",
        text(&again)
    );
}

#[test]
fn a_refused_batch_goes_to_the_dead_letter_file_and_a_rerun_sends_only_it() {
    let rcv = receiver(11);
    rcv.mode.store(REFUSE_BATCH_2, Ordering::SeqCst);
    let work = tempfile::tempdir().unwrap();
    let out = deliver(&rcv, work.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("1 of "), "{}", text(&out));
    let dead_path = work.path().join("custseg-changes-cd-v1-v2.dead.jsonl");
    let dead: Vec<Value> = (std::fs::read_to_string(&dead_path).unwrap().lines())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0]["batch"].clone(), dead[0]["error"].clone()),
        (2.into(), "HTTP 400".into())
    );
    assert_eq!(dead[0]["attempts"], 1, "a 400 is final");
    let batches = expected_changes().len().div_ceil(500);
    let (stored, requests) = {
        let g = rcv.got.lock().unwrap();
        (
            g.stored.keys().cloned().collect::<BTreeSet<_>>(),
            g.requests,
        )
    };
    assert_eq!(stored.len(), batches - 1);
    rcv.mode.store(HEALTHY, Ordering::SeqCst);
    let again = deliver(&rcv, work.path(), &[]);
    assert!(again.status.success(), "{}", text(&again));
    let g = rcv.got.lock().unwrap();
    assert_eq!(
        g.requests,
        requests + 1,
        "only the dead-lettered batch is sent"
    );
    assert!(stored.iter().all(|k| g.stored.contains_key(k)));
    assert!(g
        .stored
        .contains_key(dead[0]["idempotency_key"].as_str().unwrap()));
    assert_eq!(delivered(&g), expected_changes());
    assert!(
        !dead_path.exists(),
        "the dead-letter file goes once everything is acknowledged"
    );
}
