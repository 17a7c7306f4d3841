//! The HTTP scorer over real sockets: every route and error code, auth scopes, limits, hot
//! reload (including broken new versions and reloads under concurrent load), agreement with the
//! trainer's assignments on the bundled sample (features and raw transactions), the batch
//! `custseg score` command, and the `custseg serve` process itself (config errors, SIGTERM).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use custseg::server::{AppState, ServerConfig};
use custseg::{Model, Registry};
use serde_json::{json, Value};

use crate::common::{custseg, dataset, read_csv, repo, text, train_fixed};

// ---------------------------------------------------------------------------------------------
// A server in a background thread, and a minimal HTTP/1.1 client.

pub(crate) struct Srv {
    pub(crate) addr: SocketAddr,
    /// The health listener's address, when `health_bind` was set.
    pub(crate) health: Option<SocketAddr>,
    handle: actix_web::dev::ServerHandle,
    pub(crate) trigger: mpsc::Sender<()>,
    state: Arc<AppState>,
    thread: Option<JoinHandle<()>>,
}

type Started = (
    SocketAddr,
    Option<SocketAddr>,
    actix_web::dev::ServerHandle,
    mpsc::Sender<()>,
    Arc<AppState>,
);

pub(crate) fn try_start(config: ServerConfig) -> Result<Srv, String> {
    let (tx, rx) = mpsc::channel::<Result<Started, String>>();
    let thread = std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            match custseg::server::bind(config) {
                Ok(b) => {
                    let started = (
                        b.addrs[0],
                        b.health.as_ref().map(|(a, _)| a[0]),
                        b.server.handle(),
                        b.reload_trigger.clone(),
                        b.state.clone(),
                    );
                    let _ = tx.send(Ok(started));
                    let _ = b.server.await;
                    if let Some((_, h)) = &b.health {
                        h.stop(false).await;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                }
            }
        })
    });
    let (addr, health, handle, trigger, state) = rx
        .recv_timeout(Duration::from_secs(60))
        .map_err(|e| format!("server did not start: {e}"))??;
    Ok(Srv {
        addr,
        health,
        handle,
        trigger,
        state,
        thread: Some(thread),
    })
}

pub(crate) fn start(config: ServerConfig) -> Srv {
    try_start(config).expect("server starts")
}

impl Drop for Srv {
    fn drop(&mut self) {
        actix_rt::System::new().block_on(self.handle.stop(false));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Stops a `custseg serve` process with SIGTERM, checks that it exits cleanly, and returns
/// what it logged to stderr.
pub(crate) fn stop_with_sigterm(mut child: std::process::Child) -> String {
    let pid = child.id().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut logs = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    logs
}

pub(crate) fn config(models: &Path) -> ServerConfig {
    ServerConfig {
        bind: "127.0.0.1:0".into(),
        models_dir: models.to_path_buf(),
        workers: 2,
        watch_interval_ms: 0,
        // These tests send sparse customers on purpose; tests/scoring.rs covers the limit.
        max_missing_share: 1.0,
        ..Default::default()
    }
}

pub(crate) struct Resp {
    pub(crate) status: u16,
    pub(crate) headers: String,
    pub(crate) body: Vec<u8>,
}

impl Resp {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts the status and the SPEC error shape; returns the error object.
    fn error(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status, status, "{}", self.text());
        let v = self.json();
        let e = v["error"].clone();
        assert_eq!(e["code"], code, "{v}");
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
        e
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = body.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = String::from_utf8_lossy(&body[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            return out;
        }
        let start = eol + 2;
        out.extend_from_slice(&body[start..start + size]);
        body = &body[start + size + 2..];
    }
}

/// One request on a fresh connection. `body: None` sends no body; headers are raw lines.
pub(crate) fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[&str],
    body: Option<&[u8]>,
) -> Resp {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    if let Some(b) = body {
        if !headers
            .iter()
            .any(|h| h.to_ascii_lowercase().starts_with("transfer-encoding"))
        {
            head.push_str(&format!("Content-Length: {}\r\n", b.len()));
        }
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    if let Some(b) = body {
        out.extend_from_slice(b);
    }
    // The server may answer (413) and close before reading everything we send.
    let _ = s.write_all(&out);
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if raw.is_empty() => panic!("{method} {path}: no response: {e}"),
            Err(_) => break,
        }
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("{method} {path}: no header end"));
    let headers = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = headers
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let mut body = raw[split + 4..].to_vec();
    if headers
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Resp {
        status,
        headers,
        body,
    }
}

pub(crate) fn get(addr: SocketAddr, path: &str, headers: &[&str]) -> Resp {
    request(addr, "GET", path, headers, None)
}

pub(crate) fn post(addr: SocketAddr, path: &str, headers: &[&str], body: &Value) -> Resp {
    let mut h = vec!["Content-Type: application/json"];
    h.extend_from_slice(headers);
    request(addr, "POST", path, &h, Some(body.to_string().as_bytes()))
}

pub(crate) fn post_raw(addr: SocketAddr, path: &str, content_type: &str, body: &[u8]) -> Resp {
    let h = format!("Content-Type: {content_type}");
    request(addr, "POST", path, &[&h], Some(body))
}

// ---------------------------------------------------------------------------------------------
// Model stores.

fn golden_dir() -> PathBuf {
    repo("tests/data/golden/v1")
}

/// Copies a folder and everything in it.
pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// A store whose `default` model is the golden v1 model (trained on data/sample, k = 4).
pub(crate) fn golden_store() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&golden_dir(), &dir.path().join("default/v1"));
    std::fs::write(dir.path().join("default/CURRENT"), "v1\n").unwrap();
    dir
}

/// Trains a k = 3 model on the sample and saves it as the next version of `name`.
pub(crate) fn save_trained(models: &Path, name: &str, promote: bool) -> u32 {
    save_trained_with(models, name, promote, &[])
}

/// [`save_trained`] with views (such as `report.html`) written into the version.
pub(crate) fn save_trained_with(
    models: &Path,
    name: &str,
    promote: bool,
    views: &[custseg::store::View],
) -> u32 {
    let mut out = train_fixed(
        &[repo("data/sample/transactions.csv")],
        &[repo("data/sample/customers.csv")],
        &[],
        3,
    );
    Registry::new(models)
        .save_with(name, &mut out, promote, views)
        .expect("saved")
        .0
}

/// Writes a version folder by hand (bypassing the registry) and points CURRENT at it.
fn drop_in_version(models: &Path, name: &str, version: u32, model_json: &[u8]) {
    let dir = models.join(format!("{name}/v{version}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("model.json"), model_json).unwrap();
    std::fs::write(
        models.join(format!("{name}/CURRENT")),
        format!("v{version}\n"),
    )
    .unwrap();
}

fn golden_json() -> Vec<u8> {
    std::fs::read(golden_dir().join("model.json")).unwrap()
}

fn golden() -> Model {
    Model::load(&golden_dir()).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The sample's customers as JSON: from assignments.csv (features) and from the raw log.

struct SampleCustomer {
    id: String,
    segment_id: u64,
    distance: f64,
    features: serde_json::Map<String, Value>,
    demographics: serde_json::Map<String, Value>,
}

fn sample_customers(model: &Model) -> Vec<SampleCustomer> {
    let (header, rows) = read_csv(&golden_dir().join("assignments.csv"));
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let spec = &model.file.features.features;
    rows.iter()
        .map(|r| {
            let mut features = serde_json::Map::new();
            let mut demographics = serde_json::Map::new();
            for f in spec {
                let cell = &r[col(&f.name)];
                let v = if cell.is_empty() {
                    Value::Null
                } else if f.is_numeric() {
                    json!(cell.parse::<f64>().unwrap())
                } else {
                    json!(cell)
                };
                if f.source == custseg::features::Source::Customers {
                    demographics.insert(f.name.clone(), v.clone());
                }
                features.insert(f.name.clone(), v);
            }
            SampleCustomer {
                id: r[col("customer_id")].clone(),
                segment_id: r[col("segment_id")].parse().unwrap(),
                distance: r[col("distance")].parse().unwrap(),
                features,
                demographics,
            }
        })
        .collect()
}

/// The sample log's rows per customer as JSON transactions, in file order.
fn sample_transactions() -> HashMap<String, Vec<Value>> {
    let (header, rows) = read_csv(&repo("data/sample/transactions.csv"));
    assert_eq!(
        header,
        [
            "order_id",
            "customer_id",
            "order_date",
            "quantity",
            "unit_price"
        ]
    );
    let mut by: HashMap<String, Vec<Value>> = HashMap::new();
    for r in rows {
        by.entry(r[1].clone()).or_default().push(json!({
            "order_id": r[0],
            "date": r[2],
            "quantity": r[3].parse::<f64>().unwrap(),
            "unit_price": r[4].parse::<f64>().unwrap(),
        }));
    }
    by
}

// ---------------------------------------------------------------------------------------------
// Routes and error codes.

#[test]
fn every_route_answers_with_the_documented_shape() {
    let store = golden_store();
    let s = start(config(store.path()));

    let r = get(s.addr, "/healthz", &[]);
    assert_eq!((r.status, r.json()["status"].clone()), (200, json!("ok")));

    let r = get(s.addr, "/readyz", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["models"],
        json!([{"name": "default", "version": 1}])
    );

    let r = get(s.addr, "/v1/models", &[]);
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["default_model"], "default");
    assert_eq!(v["models"][0]["name"], "default");
    assert_eq!(v["models"][0]["version"], 1);
    assert_eq!(v["models"][0]["versions"], json!([1]));
    assert_eq!(v["models"][0]["current"], 1);
    assert_eq!(v["models"][0]["k"], 4);

    let r = get(s.addr, "/v1/models/default", &[]);
    assert_eq!(r.status, 200);
    let v = r.json();
    let names: Vec<&str> = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(
        names.starts_with(&["recency_days", "frequency", "monetary"]),
        "{names:?}"
    );
    let gender = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "gender")
        .unwrap();
    assert_eq!(gender["kind"], "categorical");
    assert!(gender["levels"].as_array().unwrap().contains(&json!("F")));
    assert_eq!(v["segments"].as_array().unwrap().len(), 4);
    assert_eq!(v["seed"], 1);

    let body = json!({"customers": [
        {"customer_id": "a", "recency_days": 3, "frequency": 25, "monetary": 9000.0, "gender": "F"},
        {"customer_id": 42, "recency_days": 700, "frequency": 1, "monetary": 20.0}
    ], "as_of": "2026-01-31"});
    let r = post(s.addr, "/v1/score", &[], &body);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(
        (v["model"].clone(), v["version"].clone()),
        (json!("default"), json!(1))
    );
    assert_eq!(v["as_of"], "2026-01-31");
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["customer_id"], "a");
    assert_eq!(results[1]["customer_id"], 42);
    let m = golden();
    for res in results {
        let id = res["segment_id"].as_u64().unwrap() as usize;
        let seg = &m.file.segments[id];
        assert_eq!(res["segment"], seg.name.as_str());
        assert_eq!(res["tier"], seg.tier.to_string());
        let d: Vec<f64> = res["distances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(d.len(), 4);
        let best = d.iter().cloned().fold(f64::INFINITY, f64::min);
        assert!((res["distance"].as_f64().unwrap() - best).abs() < 1e-12);
        assert!((d[id] - best).abs() < 1e-12);
        assert!(res["margin"].as_f64().unwrap() >= 0.0);
        // Imputed values are reported.
        assert!(res["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["code"] == "imputed"));
    }
    // The same customers through the named route give the same answer.
    let r2 = post(s.addr, "/v1/models/default/score", &[], &body);
    assert_eq!(r2.json()["results"], v["results"]);
    // An empty batch is fine.
    let r = post(s.addr, "/v1/score", &[], &json!({"customers": []}));
    assert_eq!((r.status, r.json()["results"].clone()), (200, json!([])));

    let r = post(s.addr, "/v1/models/default/reload", &[], &json!({}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["changed"], false);

    let r = get(s.addr, "/openapi.json", &[]);
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for p in [
        "/v1/score",
        "/v1/models",
        "/v1/models/{name}",
        "/v1/models/{name}/score",
        "/v1/models/{name}/reload",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(doc["paths"].get(p).is_some(), "openapi lacks {p}");
    }
    assert!(doc["components"]["schemas"].get("ScoreRequest").is_some());

    let r = get(s.addr, "/metrics", &[]);
    assert_eq!(r.status, 200);
    assert!(r
        .headers
        .to_ascii_lowercase()
        .contains("content-type: text/plain"));
    let t = r.text();
    assert!(
        t.contains("custseg_requests_total{method=\"POST\",route=\"/v1/score\",status=\"200\"} 2"),
        "{t}"
    );
    assert!(t.contains("route=\"/v1/models/{name}/score\""), "{t}");
    assert!(
        t.contains("custseg_model_version{model=\"default\"} 1"),
        "{t}"
    );
    assert!(
        t.contains("custseg_customers_scored_total{model=\"default\""),
        "{t}"
    );
    // No customer ids or values in labels (only the label sets: sample values are timings
    // and counts, which may contain any digits).
    let labels: Vec<&str> = t
        .lines()
        .filter_map(|l| Some(&l[l.find('{')?..l.rfind('}')?]))
        .collect();
    assert!(!labels.is_empty(), "{t}");
    assert!(
        labels
            .iter()
            .all(|l| !l.contains("\"a\"") && !l.contains("9000")),
        "{labels:?}"
    );
}

#[test]
fn every_error_code_has_the_spec_shape() {
    let store = golden_store();
    let s = start(ServerConfig {
        max_body_bytes: 4096,
        max_customers: 3,
        max_transactions: 4,
        max_json_depth: 6,
        ..config(store.path())
    });
    let a = s.addr;
    let one = |c: Value| json!({"customers": [c]});

    // 404: unknown route, unknown model (score, show, reload).
    get(a, "/nope", &[]).error(404, "not_found");
    get(a, "/v1/models/nope", &[]).error(404, "model_not_found");
    post(a, "/v1/models/nope/score", &[], &json!({"customers": []})).error(404, "model_not_found");
    post(a, "/v1/models/nope/reload", &[], &json!({})).error(404, "model_not_found");
    post(a, "/v1/models/..%2F..%2Fetc/reload", &[], &json!({})).error(404, "model_not_found");
    // 405: known route, wrong method.
    get(a, "/v1/score", &[]).error(405, "method_not_allowed");
    let r = request(a, "DELETE", "/v1/models/default", &[], None);
    r.error(405, "method_not_allowed");
    assert!(
        r.headers.to_ascii_lowercase().contains("allow: get"),
        "{}",
        r.headers
    );
    let r = request(a, "TRACE", "/v1/score", &[], None);
    r.error(405, "method_not_allowed");
    assert!(
        r.headers.to_ascii_lowercase().contains("allow: post"),
        "{}",
        r.headers
    );
    // 415: not JSON.
    post_raw(a, "/v1/score", "text/plain", b"{\"customers\": []}")
        .error(415, "unsupported_media_type");
    request(a, "POST", "/v1/score", &[], Some(b"{}")).error(415, "unsupported_media_type");
    // 400: broken JSON, empty body.
    post_raw(a, "/v1/score", "application/json", b"{\"customers\": [").error(400, "malformed_json");
    post_raw(a, "/v1/score", "application/json", b"").error(400, "malformed_json");
    post_raw(a, "/v1/score", "application/json", b"\xff\xfe").error(400, "malformed_json");
    // 422: wrong shape, unknown top-level field, bad as_of, too deep.
    post(a, "/v1/score", &[], &json!({"customers": "all"})).error(422, "invalid_request");
    post(a, "/v1/score", &[], &json!({"customers": [], "limit": 3})).error(422, "invalid_request");
    let e = post(
        a,
        "/v1/score",
        &[],
        &json!({"customers": [], "as_of": "soon"}),
    )
    .error(422, "invalid_date");
    assert_eq!(e["field"], "as_of");
    post_raw(
        a,
        "/v1/score",
        "application/json",
        b"{\"customers\": [{\"a\": [[[[[[1]]]]]]}]}",
    )
    .error(422, "json_too_deep");
    // 422 naming the customer's index and field; nothing is scored.
    let body = json!({"customers": [
        {"recency_days": 1, "frequency": 2, "monetary": 3},
        {"recency_days": 1, "frequency": 2, "monetary": 3, "age": "old"}
    ]});
    let e = post(a, "/v1/score", &[], &body).error(422, "invalid_type");
    assert_eq!(e["field"], "customers[1].age");
    let e = post(a, "/v1/score", &[], &one(json!({"frequency": -2}))).error(422, "out_of_range");
    assert_eq!(e["field"], "customers[0].frequency");
    let e = post(a, "/v1/score", &[], &json!({"customers": [7]})).error(422, "invalid_type");
    assert_eq!(e["field"], "customers[0]");
    let e = post(a, "/v1/score", &[], &one(json!({"customer_id": [1]}))).error(422, "invalid_type");
    assert_eq!(e["field"], "customers[0].customer_id");
    let e = post(
        a,
        "/v1/score",
        &[],
        &one(json!({"transactions": [{"date": "2024-01-01", "amount": 5}, {"date": "2024-13-01", "amount": 5}]})),
    )
    .error(422, "invalid_date");
    assert_eq!(e["field"], "customers[0].transactions[1].date");
    let e = post(
        a,
        "/v1/score",
        &[],
        &one(json!({"recency_days": 3, "transactions": [{"date": "2024-01-01", "amount": 5}]})),
    )
    .error(422, "conflicting_inputs");
    assert_eq!(e["field"], "customers[0].recency_days");
    // Numbers JSON cannot hold as f64 are rejected, never scored as infinity.
    let r = post_raw(
        a,
        "/v1/score",
        "application/json",
        b"{\"customers\": [{\"recency_days\": 1e309}]}",
    );
    assert!(matches!(r.status, 400 | 422), "{}", r.text());
    // 413: body, customers, transactions per customer.
    let big = format!("{{\"customers\": [], \"as_of\": \"{}\"}}", "x".repeat(5000));
    post_raw(a, "/v1/score", "application/json", big.as_bytes()).error(413, "body_too_large");
    let chunked_body = {
        let payload = "y".repeat(5000);
        let mut b = format!("{:x}\r\n", payload.len()).into_bytes();
        b.extend_from_slice(payload.as_bytes());
        b.extend_from_slice(b"\r\n0\r\n\r\n");
        b
    };
    request(
        a,
        "POST",
        "/v1/score",
        &[
            "Content-Type: application/json",
            "Transfer-Encoding: chunked",
        ],
        Some(&chunked_body),
    )
    .error(413, "body_too_large");
    let four: Vec<Value> = (0..4).map(|_| json!({})).collect();
    let e = post(a, "/v1/score", &[], &json!({"customers": four})).error(413, "too_many_customers");
    assert_eq!(e["field"], "customers");
    let txns: Vec<Value> = (1..=5)
        .map(|d| json!({"date": format!("2024-01-0{d}"), "amount": 1}))
        .collect();
    let e = post(a, "/v1/score", &[], &one(json!({"transactions": txns})))
        .error(413, "too_many_transactions");
    assert_eq!(e["field"], "customers[0].transactions");
    // 409: a reload that finds a broken version.
    drop_in_version(store.path(), "default", 2, b"{\"format_version\": 1,");
    post(a, "/v1/models/default/reload", &[], &json!({})).error(409, "reload_failed");

    // The server is still up and serving after all of that.
    let r = post(a, "/v1/score", &[], &one(json!({"recency_days": 1})));
    assert_eq!((r.status, r.json()["version"].clone()), (200, json!(1)));
    let m = get(a, "/metrics", &[]).text();
    assert!(!m.contains("status=\"5"), "{m}");
}

#[test]
fn without_a_model_the_server_is_live_but_not_ready() {
    let store = tempfile::tempdir().unwrap();
    let s = start(config(store.path()));
    assert_eq!(get(s.addr, "/healthz", &[]).status, 200);
    get(s.addr, "/readyz", &[]).error(503, "not_ready");
    post(s.addr, "/v1/score", &[], &json!({"customers": []})).error(503, "not_ready");
    let r = get(s.addr, "/v1/models", &[]);
    assert_eq!((r.status, r.json()["models"].clone()), (200, json!([])));
    // A model trained later is picked up by the watcher trigger.
    let v = save_trained(store.path(), "default", true);
    s.trigger.send(()).unwrap();
    wait_for_version(s.addr, "default", v);
    assert_eq!(get(s.addr, "/readyz", &[]).status, 200);
}

// ---------------------------------------------------------------------------------------------
// Auth.

const SCORE_KEY: &str = "score-key-0123456789abcdef";
const ADMIN_KEY: &str = "admin-key-0123456789abcdef";

#[test]
fn keys_have_score_and_admin_scopes() {
    let store = golden_store();
    let key_file = store.path().join("keys.txt");
    std::fs::write(
        &key_file,
        "# team keys\nscore:file-score-key-0123456789\nadmin:file-admin-key-0123456789\n",
    )
    .unwrap();
    let s = start(ServerConfig {
        api_keys: vec![SCORE_KEY.into()],
        admin_keys: vec![ADMIN_KEY.into()],
        key_file: Some(key_file),
        ..config(store.path())
    });
    let a = s.addr;
    let body = json!({"customers": [{"recency_days": 5}]});
    let bearer = |k: &str| format!("Authorization: Bearer {k}");
    let (score, admin) = (bearer(SCORE_KEY), bearer(ADMIN_KEY));

    // No key, a wrong key, a malformed header: 401 with a Bearer challenge.
    let r = post(a, "/v1/score", &[], &body);
    r.error(401, "unauthorized");
    assert!(r
        .headers
        .to_ascii_lowercase()
        .contains("www-authenticate: bearer"));
    post(
        a,
        "/v1/score",
        &[&bearer("score-key-0123456789abcdeX")],
        &body,
    )
    .error(401, "unauthorized");
    post(
        a,
        "/v1/score",
        &["Authorization: Basic dXNlcjpwYXNz"],
        &body,
    )
    .error(401, "unauthorized");
    get(a, "/v1/models", &[]).error(401, "unauthorized");
    get(a, "/v1/models/default", &[]).error(401, "unauthorized");
    post(a, "/v1/models/default/reload", &[], &json!({})).error(401, "unauthorized");
    // Auth is checked before anything else: no model names leak to strangers.
    post(a, "/v1/models/nope/score", &[], &body).error(401, "unauthorized");

    // Score keys score and read, but cannot reload.
    for k in [score.as_str(), &bearer("file-score-key-0123456789")] {
        assert_eq!(post(a, "/v1/score", &[k], &body).status, 200);
        assert_eq!(post(a, "/v1/models/default/score", &[k], &body).status, 200);
        assert_eq!(get(a, "/v1/models", &[k]).status, 200);
        assert_eq!(get(a, "/v1/models/default", &[k]).status, 200);
        post(a, "/v1/models/default/reload", &[k], &json!({})).error(403, "forbidden");
    }
    // Admin keys do everything.
    for k in [admin.as_str(), &bearer("file-admin-key-0123456789")] {
        assert_eq!(
            post(a, "/v1/models/default/reload", &[k], &json!({})).status,
            200
        );
        assert_eq!(post(a, "/v1/score", &[k], &body).status, 200);
    }
    // Probes and metrics stay open for orchestrators.
    assert_eq!(get(a, "/healthz", &[]).status, 200);
    assert_eq!(get(a, "/readyz", &[]).status, 200);
    assert_eq!(get(a, "/metrics", &[]).status, 200);
    assert_eq!(get(a, "/openapi.json", &[]).status, 200);
}

#[test]
fn unsafe_configurations_are_refused_at_start() {
    let store = golden_store();
    let refused = |c: ServerConfig, expect: &str| {
        let e = try_start(c).err().expect("refused");
        assert!(e.contains(expect), "{e}");
    };
    refused(
        ServerConfig {
            bind: "0.0.0.0:0".into(),
            ..config(store.path())
        },
        "not a loopback address",
    );
    refused(
        ServerConfig {
            api_keys: vec!["short".into()],
            ..config(store.path())
        },
        "at least 16 characters",
    );
    refused(
        ServerConfig {
            bind: "localhost:port".into(),
            ..config(store.path())
        },
        "bind address",
    );
    let bad_keys = store.path().join("keys.txt");
    std::fs::write(&bad_keys, "root:0123456789abcdef0123\n").unwrap();
    refused(
        ServerConfig {
            key_file: Some(bad_keys),
            ..config(store.path())
        },
        "line 1",
    );
    // With keys, any address is fine; with --allow-unauthenticated too.
    let s = start(ServerConfig {
        bind: "0.0.0.0:0".into(),
        api_keys: vec![SCORE_KEY.into()],
        ..config(store.path())
    });
    let local: SocketAddr = format!("127.0.0.1:{}", s.addr.port()).parse().unwrap();
    assert_eq!(get(local, "/healthz", &[]).status, 200);
}

// ---------------------------------------------------------------------------------------------
// Reload.

/// A number of `/metrics` with no labels (a gauge or a counter).
pub(crate) fn metric(addr: SocketAddr, name: &str) -> u64 {
    let text = get(addr, "/metrics", &[]).text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

/// Checks of the store the server has finished (watcher ticks and triggers).
pub(crate) fn store_checks(addr: SocketAddr) -> u64 {
    metric(addr, "custseg_store_checks_total")
}

/// Waits until the server has finished `n` checks of its store (so a check that began
/// after the caller's last change to the store is done when `n` exceeds the count read
/// before the change by two).
pub(crate) fn wait_for_store_checks(addr: SocketAddr, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while store_checks(addr) < n {
        assert!(
            Instant::now() < deadline,
            "the store was not checked {n} times"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub(crate) fn wait_for_version(addr: SocketAddr, name: &str, version: u32) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = get(addr, &format!("/v1/models/{name}"), &[]);
        if r.status == 200 && r.json()["version"] == version {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} never reached v{version}: {}",
            r.text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn served_version(addr: SocketAddr) -> u64 {
    let r = post(
        addr,
        "/v1/score",
        &[],
        &json!({"customers": [{"recency_days": 9}]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["version"].as_u64().unwrap()
}

#[test]
fn broken_versions_never_replace_a_good_model() {
    let store = golden_store();
    let m = store.path();
    let s = start(config(m));
    let reload = || post(s.addr, "/v1/models/default/reload", &[], &json!({}));

    let full = golden_json();
    let mut wrong_format: Value = serde_json::from_slice(&full).unwrap();
    wrong_format["format_version"] = json!(99);
    let mut ragged: Value = serde_json::from_slice(&full).unwrap();
    ragged["centroids"][2] = json!([1.0, 2.0]);
    let broken: Vec<(&str, Vec<u8>)> = vec![
        ("corrupt", b"\x00\x01 not json at all".to_vec()),
        ("truncated", full[..full.len() / 2].to_vec()),
        (
            "wrong format_version",
            wrong_format.to_string().into_bytes(),
        ),
        ("ragged centroids", ragged.to_string().into_bytes()),
        ("empty", Vec::new()),
    ];
    for (i, (what, bytes)) in broken.iter().enumerate() {
        drop_in_version(m, "default", 2 + i as u32, bytes);
        let e = reload().error(409, "reload_failed");
        assert!(
            e["message"].as_str().unwrap().contains("still serving v1"),
            "{what}: {e}"
        );
        assert_eq!(served_version(s.addr), 1, "{what}");
        // The watcher path refuses it too.
        s.trigger.send(()).unwrap();
        assert_eq!(served_version(s.addr), 1, "{what}");
    }
    // A CURRENT naming a missing version is refused as well.
    std::fs::write(m.join("default/CURRENT"), "v40\n").unwrap();
    reload().error(409, "reload_failed");
    assert_eq!(served_version(s.addr), 1);

    // A good version replaces it; the registry promotes it.
    let v = save_trained(m, "default", true);
    let r = reload();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"model": "default", "version": v, "previous_version": 1, "changed": true})
    );
    assert_eq!(served_version(s.addr), v as u64);
    let metrics = get(s.addr, "/metrics", &[]).text();
    assert!(metrics.contains("custseg_reloads_total{model=\"default\",result=\"failed\"}"));
    assert!(metrics.contains(&format!("custseg_model_version{{model=\"default\"}} {v}")));
}

#[test]
fn reloads_under_load_serve_every_request_from_one_whole_model() {
    let store = golden_store();
    let m = store.path().to_path_buf();
    let v2 = save_trained(&m, "default", false);
    let reg = Registry::new(&m);
    let s = start(ServerConfig {
        watch_interval_ms: 20,
        workers: 2,
        ..config(&m)
    });
    let addr = s.addr;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Responses so far, over all clients.
    let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (stop, answered) = (stop.clone(), answered.clone());
            std::thread::spawn(move || {
                let mut seen = HashMap::<u64, usize>::new();
                let body = json!({"customers": [
                    {"recency_days": 10, "frequency": 3, "monetary": 200.0},
                    {"recency_days": 400, "frequency": 1, "monetary": 20.0}
                ]});
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let r = post(addr, "/v1/score", &[], &body);
                    assert_eq!(r.status, 200, "{}", r.text());
                    let v = r.json();
                    let version = v["version"].as_u64().unwrap();
                    // k is 4 in v1 and 3 in v2: every result of a response has the k of the
                    // version the response names.
                    let k = if version == 1 { 4 } else { 3 };
                    for res in v["results"].as_array().unwrap() {
                        assert_eq!(res["distances"].as_array().unwrap().len(), k, "{v}");
                    }
                    *seen.entry(version).or_default() += 1;
                    answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                seen
            })
        })
        .collect();
    let mut flips = 0;
    for round in 0..12 {
        let target = if round % 2 == 0 { v2 } else { 1 };
        reg.set_current("default", target).unwrap();
        if round % 3 == 0 {
            // A broken version dropped in between is never served.
            drop_in_version(
                &m,
                "default",
                90 + round,
                b"{\"format_version\": 1, \"k\": ",
            );
            let checks = store_checks(addr);
            wait_for_store_checks(addr, checks + 2);
            reg.set_current("default", target).unwrap();
        }
        if round % 2 == 1 {
            assert_eq!(
                post(addr, "/v1/models/default/reload", &[], &json!({})).status,
                200
            );
        }
        wait_for_version(addr, "default", target);
        flips += 1;
        // The clients get answers from this version before the next flip.
        let before = answered.load(std::sync::atomic::Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_secs(30);
        while answered.load(std::sync::atomic::Ordering::Relaxed) < before + 8 {
            assert!(Instant::now() < deadline, "no answers after flip {flips}");
            std::thread::yield_now();
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = HashMap::<u64, usize>::new();
    for c in clients {
        for (v, n) in c.join().expect("client saw only good answers") {
            *total.entry(v).or_default() += n;
        }
    }
    assert_eq!(flips, 12);
    let versions: Vec<u64> = {
        let mut v: Vec<u64> = total.keys().copied().collect();
        v.sort();
        v
    };
    assert_eq!(versions, vec![1, v2 as u64], "{total:?}");
    assert!(total.values().sum::<usize>() > 20, "{total:?}");
    // Old versions are released once no request holds them.
    let now = s.state.get("default").unwrap();
    assert_eq!(Arc::strong_count(&now), 2, "the map and this handle");
}

#[test]
fn several_named_models_are_served_side_by_side() {
    let store = golden_store();
    let m = store.path();
    // A demographics-only model from the Mall customers table.
    let mut mall = train_fixed(&[], &[dataset("Mall_Customers.csv")], &[], 5);
    Registry::new(m).save("mall", &mut mall, true).unwrap();
    let s = start(ServerConfig {
        default_model: "mall".into(),
        ..config(m)
    });
    let r = get(s.addr, "/v1/models", &[]).json();
    let names: Vec<&str> = r["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "mall"]);
    assert_eq!(r["default_model"], "mall");
    let mall_customer = json!({"customers": [{"customer_id": 1, "genre": "Female", "age": 31,
        "annual_income_k": 70, "spending_score_1_100": 77}]});
    let r = post(s.addr, "/v1/score", &[], &mall_customer);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["model"], "mall");
    assert_eq!(v["results"][0]["distances"].as_array().unwrap().len(), 5);
    assert_eq!(v["results"][0]["warnings"], json!([]), "{v}");
    let r = post(s.addr, "/v1/models/default/score", &[], &mall_customer).json();
    assert_eq!(r["model"], "default");
    assert_eq!(r["results"][0]["distances"].as_array().unwrap().len(), 4);
}

// ---------------------------------------------------------------------------------------------
// Agreement with training.

#[test]
fn server_segments_equal_the_trainers_assignments_from_features_and_from_transactions() {
    let store = golden_store();
    let s = start(config(store.path()));
    let model = golden();
    let customers = sample_customers(&model);
    assert_eq!(customers.len(), 1000);
    let txns = sample_transactions();
    let as_of = model.file.as_of.clone().expect("model has an as_of");

    let mut from_raw = 0;
    for chunk in customers.chunks(100) {
        // From features in original units.
        let body = json!({"customers": chunk.iter().map(|c| {
            let mut o = c.features.clone();
            o.insert("customer_id".into(), json!(c.id));
            Value::Object(o)
        }).collect::<Vec<_>>()});
        let r = post(s.addr, "/v1/score", &[], &body);
        assert_eq!(r.status, 200, "{}", r.text());
        let by_features = r.json()["results"].as_array().unwrap().clone();
        for (c, res) in chunk.iter().zip(&by_features) {
            assert_eq!(res["customer_id"], c.id.as_str());
            assert_eq!(res["segment_id"], c.segment_id, "{}", c.id);
            let d = res["distance"].as_f64().unwrap();
            assert!(
                (d - c.distance).abs() < 1e-6,
                "{}: {d} vs {}",
                c.id,
                c.distance
            );
        }
        // From the raw log, with demographics.
        let with_txns: Vec<&SampleCustomer> =
            chunk.iter().filter(|c| txns.contains_key(&c.id)).collect();
        let body = json!({"as_of": as_of, "customers": with_txns.iter().map(|c| {
            let mut o = c.demographics.clone();
            o.insert("customer_id".into(), json!(c.id));
            o.insert("transactions".into(), json!(txns[&c.id]));
            Value::Object(o)
        }).collect::<Vec<_>>()});
        let r = post(s.addr, "/v1/score", &[], &body);
        assert_eq!(r.status, 200, "{}", r.text());
        let by_raw = r.json()["results"].as_array().unwrap().clone();
        for (c, res) in with_txns.iter().zip(&by_raw) {
            let f = by_features
                .iter()
                .find(|x| x["customer_id"] == c.id.as_str())
                .unwrap();
            assert_eq!(res["segment_id"], c.segment_id, "{}", c.id);
            let (a, b) = (
                res["distances"].as_array().unwrap(),
                f["distances"].as_array().unwrap(),
            );
            for (x, y) in a.iter().zip(b) {
                let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                assert!((x - y).abs() < 1e-9 * (1.0 + y), "{}: {x} vs {y}", c.id);
            }
            from_raw += 1;
        }
    }
    assert_eq!(
        from_raw,
        txns.len(),
        "every customer of the log was compared"
    );
    assert!(from_raw > 900);
}

#[test]
fn transactions_after_as_of_and_duplicates_are_reported() {
    let store = golden_store();
    let s = start(config(store.path()));
    let body = json!({"as_of": "2024-06-01", "customers": [{"customer_id": "x", "transactions": [
        {"date": "2024-05-01", "amount": 50.0, "order_id": "o1"},
        {"date": "2024-05-01", "amount": 50.0, "order_id": "o1"},
        {"date": "2024-05-20", "amount": 30.0, "order_id": "o2"},
        {"date": "2024-07-01", "amount": 10.0, "order_id": "o3"}
    ]}]});
    let r = post(s.addr, "/v1/score", &[], &body);
    assert_eq!(r.status, 200, "{}", r.text());
    let w = r.json()["results"][0]["warnings"].clone();
    let codes: Vec<&str> = w
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"transactions_after_as_of"), "{w}");
    assert!(codes.contains(&"duplicate_transactions"), "{w}");
    // Same answer as the features by hand: recency 12, frequency 2, monetary 80, aov 40, tenure 31.
    let by_hand = json!({"customers": [{"recency_days": 12, "frequency": 2, "monetary": 80.0,
        "avg_order_value": 40.0, "tenure_days": 31}]});
    let r2 = post(s.addr, "/v1/score", &[], &by_hand).json();
    assert_eq!(
        r.json()["results"][0]["distances"],
        r2["results"][0]["distances"]
    );
}

// ---------------------------------------------------------------------------------------------
// Batch scoring and the serve process.

#[test]
fn batch_score_matches_assignments_for_a_log_and_for_a_feature_table() {
    let store = golden_store();
    let work = tempfile::tempdir().unwrap();
    let model_dir = store.path().join("default");
    let expected: HashMap<String, String> = {
        let (h, rows) = read_csv(&golden_dir().join("assignments.csv"));
        let (i, s) = (
            h.iter().position(|x| x == "customer_id").unwrap(),
            h.iter().position(|x| x == "segment_id").unwrap(),
        );
        rows.into_iter()
            .map(|r| (r[i].clone(), r[s].clone()))
            .collect()
    };
    let check = |out: &Path, n: usize| {
        let (h, rows) = read_csv(out);
        assert_eq!(
            h,
            [
                "customer_id",
                "segment_id",
                "segment",
                "tier",
                "distance",
                "margin",
                "warnings",
                "r_score",
                "f_score",
                "m_score",
                "lifecycle",
                "action"
            ]
        );
        assert_eq!(rows.len(), n);
        // The golden model predates lifecycle scores: the columns stay empty; it predates
        // playbooks too, and scores carry its segments' default codes.
        assert!(rows.iter().all(|r| r[7..11].iter().all(|v| v.is_empty())));
        assert!(rows.iter().all(|r| !r[11].is_empty()));
        for r in rows {
            assert_eq!(expected[&r[0]], r[1], "{}", r[0]);
        }
    };

    let out = work.path().join("from_log.csv");
    let o = custseg(
        &[
            "score",
            "--model",
            model_dir.to_str().unwrap(),
            "--input",
            repo("data/sample/transactions.csv").to_str().unwrap(),
            "--customers",
            repo("data/sample/customers.csv").to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ],
        work.path(),
    );
    assert!(o.status.success(), "{}", text(&o));
    check(&out, sample_transactions().len());

    // assignments.csv is itself a customer table with every feature in original units.
    let out2 = work.path().join("from_table.csv");
    let o = custseg(
        &[
            "score",
            "--model",
            &format!("{}/v1", model_dir.display()),
            "--input",
            golden_dir().join("assignments.csv").to_str().unwrap(),
            "--output",
            out2.to_str().unwrap(),
        ],
        work.path(),
    );
    assert!(o.status.success(), "{}", text(&o));
    check(&out2, 1000);

    // Bad input: exit 2, a message naming the file, row and column, and no output file.
    let out3 = work.path().join("never.csv");
    let score_fails = |model: &Path, name: &str, body: &str, expect: &[&str]| {
        let input = work.path().join(name);
        std::fs::write(&input, body).unwrap();
        let o = custseg(
            &[
                "score",
                "--model",
                model.to_str().unwrap(),
                "--input",
                input.to_str().unwrap(),
                "--output",
                out3.to_str().unwrap(),
                // Sparse tables: these cases are about bad values, not missing columns.
                "--allow-missing-features",
            ],
            work.path(),
        );
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{name}: {t}");
        for e in expect {
            assert!(t.contains(e), "{name}: expected '{e}' in: {t}");
        }
        assert!(!out3.exists(), "{name}: no output on failure");
        std::fs::remove_file(&input).unwrap();
    };
    score_fails(
        &model_dir,
        "bad.csv",
        "customer_id,recency_days,frequency,monetary\nc1,3,2,10\nc2,3,lots,10\n",
        &["bad.csv", "row 3", "frequency"],
    );
    assert_eq!(
        std::fs::read_dir(work.path()).unwrap().count(),
        2,
        "no temp files left"
    );
    // A value too far out to score names its file, row and column.
    score_fails(
        &model_dir,
        "far.csv",
        "customer_id,recency_days,frequency,monetary,tenure_days\nc1,3,2,10,40\nc2,3,2,10,1e300\n",
        &["far.csv", "row 3", "tenure_days"],
    );
    // A duplicate customer id is an error naming both rows.
    score_fails(
        &model_dir,
        "dup.csv",
        "customer_id,recency_days,frequency,monetary\nc1,3,2,10\nc2,3,2,10\nc1,4,2,10\n",
        &["dup.csv", "row 4", "row 2"],
    );
    // Past the first parallel batch (16,384 rows), the first bad row is still the one reported.
    let mut many = String::from("customer_id,recency_days,frequency,monetary\n");
    for i in 0..40_000 {
        let f = match i {
            33_000 | 38_000 => "x".to_string(),
            _ => (1 + i % 9).to_string(),
        };
        many.push_str(&format!("c{i},{},{f},{}\n", i % 700, 10 + i % 500));
    }
    score_fails(
        &model_dir,
        "many.csv",
        &many,
        &["many.csv", "row 33002", "frequency"],
    );
    // A model folder that is not a model.
    score_fails(
        work.path(),
        "fine.csv",
        "customer_id,recency_days,frequency,monetary\nc1,3,2,10\n",
        &["model"],
    );
}

#[test]
fn serve_process_reports_bad_config_and_shuts_down_on_sigterm() {
    let store = golden_store();
    let m = store.path().to_str().unwrap();
    // Refused configurations exit 2 with the reason.
    let o = custseg(
        &["serve", "--models-dir", m, "--bind", "0.0.0.0:0"],
        store.path(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("not a loopback address"), "{}", text(&o));
    let cfg = store.path().join("server.toml");
    std::fs::write(&cfg, "max_customers = 10\nmax_custommers = 5\n").unwrap();
    let o = custseg(&["serve", "--config", cfg.to_str().unwrap()], store.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("server.toml") && text(&o).contains("max_custommers"),
        "{}",
        text(&o)
    );

    // A real process: config file + flags; prints where it listens; SIGTERM stops it cleanly.
    std::fs::write(
        &cfg,
        "max_customers = 2\nworkers = 1\nmax_missing_share = 1.0\n",
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_custseg"))
        .args([
            "serve",
            "--config",
            cfg.to_str().unwrap(),
            "--models-dir",
            m,
            "--bind",
            "127.0.0.1:0",
        ])
        .env("CUSTSEG_API_KEYS", SCORE_KEY)
        .env("CUSTSEG_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr: SocketAddr = loop {
        let line = lines.next().expect("serve prints its address").unwrap();
        if let Some(rest) = line.strip_prefix("custseg serving on http://") {
            break rest.trim().parse().unwrap();
        }
    };
    let auth = format!("Authorization: Bearer {SCORE_KEY}");
    let secret = "customer-secret-id-777";
    let r = post(
        addr,
        "/v1/score",
        &[&auth],
        &json!({"customers": [{"customer_id": secret, "recency_days": 4242}]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    post(
        addr,
        "/v1/score",
        &[&auth],
        &json!({"customers": [{}, {}, {}]}),
    )
    .error(413, "too_many_customers");
    post(addr, "/v1/score", &[], &json!({"customers": []})).error(401, "unauthorized");
    let logs = stop_with_sigterm(child);
    // Requests are logged, but never ids, values or keys.
    assert!(logs.contains("/v1/score"), "{logs}");
    for private in [secret, "4242", SCORE_KEY] {
        assert!(!logs.contains(private), "logs leak {private}: {logs}");
    }
}

#[test]
fn demo_serves_the_sample_model_and_its_curl_example_works() {
    let d = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_custseg"))
        .args(["demo", "--models-dir", "m", "--bind", "127.0.0.1:0"])
        .args(["--sample", repo("data/sample").to_str().unwrap()])
        .current_dir(d.path())
        .env("CI", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let curl = loop {
        let line = lines.next().expect("demo prints a curl example").unwrap();
        if line.starts_with("curl ") {
            break line;
        }
    };
    // curl -s http://ADDR/v1/score -H '...' -d 'BODY'
    let url = curl.split_whitespace().nth(2).unwrap();
    let rest = url.strip_prefix("http://").unwrap();
    let (addr, path) = rest.split_at(rest.find('/').unwrap());
    let body = &curl[curl.find("-d '").unwrap() + 4..curl.len() - 1];
    let r = post_raw(
        addr.parse().unwrap(),
        path,
        "application/json",
        body.as_bytes(),
    );
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success());
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["model"], "default");
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["customer_id"], "c1");
    assert_eq!(results[1]["customer_id"], "c2");
}

// ---------------------------------------------------------------------------------------------
// RFM scores and lifecycle stages.

#[test]
fn rfm_scores_and_lifecycle_come_back_as_the_trainer_wrote_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut out = train_fixed(&[dataset("CDNOW_master.txt")], &[], &[], 5);
    let (_, vdir) = Registry::new(dir.path())
        .save("default", &mut out, true)
        .unwrap();
    let s = start(config(dir.path()));
    let (h, rows) = read_csv(&vdir.join("assignments.csv"));
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let features = [
        "recency_days",
        "frequency",
        "monetary",
        "avg_order_value",
        "tenure_days",
    ];
    // Every 40th CDNOW customer, 50 per request.
    let picked: Vec<&Vec<String>> = rows.iter().step_by(40).collect();
    let mut stages = std::collections::BTreeSet::new();
    for chunk in picked.chunks(50) {
        let body = json!({"customers": chunk.iter().map(|r| {
            let mut o = serde_json::Map::new();
            o.insert("customer_id".into(), json!(r[col("customer_id")]));
            for f in features {
                o.insert(f.into(), json!(r[col(f)].parse::<f64>().unwrap()));
            }
            Value::Object(o)
        }).collect::<Vec<_>>()});
        let r = post(s.addr, "/v1/score", &[], &body);
        assert_eq!(r.status, 200, "{}", r.text());
        for (row, res) in chunk.iter().zip(r.json()["results"].as_array().unwrap()) {
            assert_eq!(res["segment_id"].to_string(), row[col("segment_id")]);
            for (k, c) in [("r", "r_score"), ("f", "f_score"), ("m", "m_score")] {
                assert_eq!(res["rfm"][k].to_string(), row[col(c)], "{k}");
            }
            assert_eq!(res["lifecycle"], row[col("lifecycle")].as_str());
            stages.insert(row[col("lifecycle")].clone());
        }
    }
    assert!(stages.len() >= 3, "{stages:?}");
    // Raw transactions give the same scores as the features computed from them.
    let as_of = out.model.as_of.clone().unwrap();
    let raw = json!({"as_of": as_of, "customers": [{"customer_id": "t", "transactions": [
        {"date": "1997-02-01", "amount": 30.0}, {"date": "1997-09-01", "amount": 12.5},
        {"date": "1998-05-20", "amount": 70.0}]}]});
    let r = post(s.addr, "/v1/score", &[], &raw).json();
    let by_raw = &r["results"][0];
    let days = |d: &str| {
        custseg::data::dates::parse_date(d, custseg::data::dates::DayOrder::MonthFirst).unwrap()
    };
    let a = days(&as_of);
    let feats = json!({"customers": [{"customer_id": "t",
        "recency_days": a - days("1998-05-20"), "frequency": 3, "monetary": 112.5,
        "avg_order_value": 37.5, "tenure_days": a - days("1997-02-01")}]});
    let by_features = &post(s.addr, "/v1/score", &[], &feats).json()["results"][0];
    assert!(by_raw["rfm"].is_object(), "{r}");
    assert_eq!(by_raw["rfm"], by_features["rfm"]);
    assert_eq!(by_raw["lifecycle"], by_features["lifecycle"]);
    // An imputed recency gives no scores and no stage, but still a segment.
    let missing = json!({"customers": [{"customer_id": "m", "frequency": 2, "monetary": 10,
        "avg_order_value": 5, "tenure_days": 100}]});
    let r = post(s.addr, "/v1/score", &[], &missing).json();
    let res = &r["results"][0];
    assert!(
        res.get("rfm").is_none() && res.get("lifecycle").is_none(),
        "{r}"
    );
    assert!(res["segment_id"].is_u64());
}
