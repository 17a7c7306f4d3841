//! Regression tests for the second security round (issue 12), each through a real socket:
//! what an attacker can make the server remember, and what one broken model can stop.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::server::{
    config, get, golden_store, metric, save_trained, start, store_checks, wait_for_store_checks,
    wait_for_version,
};

/// Sends a request line with a made-up method and reads the answer's status.
fn odd_method(addr: std::net::SocketAddr, method: &str) -> u16 {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let req = format!("{method} /v1/score HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let _ = s.write_all(req.as_bytes());
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    String::from_utf8_lossy(&raw)
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[test]
fn r12_metric_labels_come_from_a_fixed_set_whatever_the_method() {
    let store = golden_store();
    let s = start(config(store.path()));
    let before = get(s.addr, "/metrics", &[]).text().len();
    for i in 0..300 {
        let method = format!("M{i}{}", "X".repeat(2000));
        let status = odd_method(s.addr, &method);
        assert!((400..500).contains(&status), "{method:.8}: {status}");
    }
    let metrics = get(s.addr, "/metrics", &[]).text();
    assert!(
        !metrics.contains("XXXX"),
        "a client's method became a label"
    );
    assert!(
        metrics.contains("method=\"other\""),
        "made-up methods are counted as other"
    );
    // One series for all 300, not 300 series: the exposition grows by a few lines only.
    assert!(
        metrics.len() < before + 4096,
        "/metrics grew from {before} to {} bytes",
        metrics.len()
    );
}

#[test]
fn r12_a_broken_current_does_not_stop_other_models_from_reloading() {
    let store = golden_store();
    let m = store.path();
    let v_other = save_trained(m, "other", true);
    let s = start(config(m));
    wait_for_version(s.addr, "other", v_other);
    std::fs::write(m.join("other/CURRENT"), "garbage\n").unwrap();
    // A new version of `default` and a brand-new model appear after the breakage.
    let v_default = save_trained(m, "default", true);
    let v_new = save_trained(m, "newm", true);
    s.trigger.send(()).unwrap();
    wait_for_version(s.addr, "default", v_default);
    wait_for_version(s.addr, "newm", v_new);
    // The broken model keeps serving what it had, and the failure is counted once.
    wait_for_version(s.addr, "other", v_other);
    let checks = store_checks(s.addr);
    s.trigger.send(()).unwrap();
    s.trigger.send(()).unwrap();
    wait_for_store_checks(s.addr, checks + 2);
    let metrics = get(s.addr, "/metrics", &[]).text();
    assert!(
        metrics.contains("custseg_reloads_total{model=\"other\",result=\"failed\"} 1\n"),
        "{metrics}"
    );
}

#[cfg(unix)]
#[test]
fn r12_a_version_linked_out_of_the_store_is_counted_as_one_failed_reload() {
    let store = golden_store();
    let m = store.path();
    let v = save_trained(m, "other", true);
    let s = start(config(m));
    wait_for_version(s.addr, "other", v);
    let outside = tempfile::tempdir().unwrap();
    crate::server::copy_dir(&m.join(format!("other/v{v}")), &outside.path().join("v"));
    std::os::unix::fs::symlink(outside.path().join("v"), m.join("other/v9")).unwrap();
    std::fs::write(m.join("other/CURRENT"), "v9\n").unwrap();
    let checks = store_checks(s.addr);
    for _ in 0..4 {
        s.trigger.send(()).unwrap();
    }
    wait_for_store_checks(s.addr, checks + 4);
    wait_for_version(s.addr, "other", v);
    let metrics = get(s.addr, "/metrics", &[]).text();
    assert!(
        metrics.contains("custseg_reloads_total{model=\"other\",result=\"failed\"} 1\n"),
        "{metrics}"
    );
}

#[test]
fn r12_bearer_tokens_are_compared_exactly_and_once() {
    let store = golden_store();
    let key = "exact-score-key-0123456789";
    let s = start(custseg::server::ServerConfig {
        api_keys: vec![key.into()],
        ..config(store.path())
    });
    let body = serde_json::json!({"customers": [{"recency_days": 5}]});
    let with = |headers: &[String]| {
        let h: Vec<&str> = headers.iter().map(String::as_str).collect();
        crate::server::post(s.addr, "/v1/score", &h, &body).status
    };
    assert_eq!(with(&[format!("Authorization: BEARER {key}")]), 200);
    assert_eq!(with(&[format!("Authorization: bearer {key}")]), 200);
    assert_eq!(with(&[format!("Authorization: Bearer  {key}")]), 401);
    assert_eq!(with(&[format!("Authorization: Bearer {key}x")]), 401);
    let twice = [
        format!("Authorization: Bearer {key}"),
        "Authorization: Bearer other".to_string(),
    ];
    assert_eq!(with(&twice), 401);
    let twice_good = [
        format!("Authorization: Bearer {key}"),
        format!("Authorization: Bearer {key}"),
    ];
    assert_eq!(with(&twice_good), 401);
}

#[cfg(unix)]
#[test]
fn r12_a_fifo_or_a_huge_file_in_the_store_never_blocks_or_bloats_a_reload() {
    let store = golden_store();
    let m = store.path();
    let s = start(custseg::server::ServerConfig {
        max_model_bytes: 50 << 20,
        ..config(m)
    });
    let reload = || {
        crate::server::post(
            s.addr,
            "/v1/models/default/reload",
            &[],
            &serde_json::json!({}),
        )
    };
    // v2 is a good model whose metrics.json is a FIFO nobody writes to.
    let v2 = save_trained(m, "default", true);
    let metrics = m.join(format!("default/v{v2}/metrics.json"));
    std::fs::remove_file(&metrics).unwrap();
    let c = std::ffi::CString::new(metrics.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only creates a file system node.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let started = std::time::Instant::now();
    let r = reload();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(started.elapsed() < Duration::from_secs(10));
    // v3's model.json is a 2 GB sparse file: refused by its size, not read.
    let v3 = m.join("default/v3");
    std::fs::create_dir_all(&v3).unwrap();
    std::fs::File::create(v3.join("model.json"))
        .unwrap()
        .set_len(2 << 30)
        .unwrap();
    std::fs::write(m.join("default/CURRENT"), "v3\n").unwrap();
    let r = reload();
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("more than the limit"), "{}", r.text());
    wait_for_version(s.addr, "default", v2);
}

#[test]
fn r12_score_scope_model_answers_carry_no_file_system_paths() {
    let store = golden_store();
    let m = store.path();
    let v = save_trained(m, "default", true);
    let s = start(config(m));
    wait_for_version(s.addr, "default", v);
    let text = get(s.addr, "/v1/models/default", &[]).text();
    let repo = crate::common::repo("data/sample");
    assert!(!text.contains(repo.to_str().unwrap()), "{text}");
    assert!(!text.contains("transactions.csv"), "{text}");
    assert!(text.contains("\"metrics\""), "{text}");
}

/// Opens a connection and sends a request head for a JSON POST (and nothing of the body).
fn open_post(addr: std::net::SocketAddr, framing: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{framing}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).unwrap();
    s
}

/// Reads until the server closes the connection; panics if it does not within the socket's
/// read timeout. Returns the status and the raw answer.
fn read_until_closed(s: &mut TcpStream) -> (u16, String) {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!(
                "the server kept the connection open ({e}); read so far: {}",
                String::from_utf8_lossy(&raw)
            ),
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// A one-customer request still scores.
fn assert_scores(addr: std::net::SocketAddr) {
    let body = serde_json::json!({"customers": [{"recency_days": 5}]});
    let ok = crate::server::post(addr, "/v1/score", &[], &body);
    assert_eq!(ok.status, 200, "{}", ok.text());
}

/// `custseg_<name> <value>` from /metrics.

#[test]
fn r12_a_body_sent_too_slowly_is_answered_408_and_its_connection_closed() {
    let store = golden_store();
    let s = start(custseg::server::ServerConfig {
        body_timeout_s: 1,
        ..config(store.path())
    });
    for framing in ["Content-Length: 200", "Transfer-Encoding: chunked"] {
        let mut c = open_post(s.addr, framing);
        // A first byte, then nothing more (a client at 1 byte/s looks the same to a deadline).
        let first: &[u8] = if framing.starts_with("Content") {
            b"{"
        } else {
            b"1\r\n{\r\n"
        };
        c.write_all(first).unwrap();
        let (status, text) = read_until_closed(&mut c);
        assert_eq!(status, 408, "{framing}: {text}");
        assert!(text.contains("\"body_timeout\""), "{framing}: {text}");
    }
    assert_scores(s.addr);
}

#[test]
fn r12_request_bodies_in_flight_share_one_memory_budget() {
    let store = golden_store();
    let s = start(custseg::server::ServerConfig {
        max_body_bytes: 64 << 10,
        max_inflight_body_bytes: 100_000,
        body_timeout_s: 60,
        ..config(store.path())
    });
    // One upload declares 60 000 bytes and stalls: its length is reserved before it is read.
    let mut held = open_post(s.addr, "Content-Length: 60000");
    held.write_all(b"{\"customers\":").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while metric(s.addr, "custseg_body_bytes_in_flight") < 60_000 {
        assert!(std::time::Instant::now() < deadline, "never reserved");
        std::thread::sleep(Duration::from_millis(20));
    }
    // A second declared 60 000 would pass the budget: refused before a byte is read.
    let mut refused = open_post(s.addr, "Content-Length: 60000");
    let (status, text) = read_until_closed(&mut refused);
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("\"busy\""), "{text}");
    assert!(
        text.to_ascii_lowercase().contains("retry-after: 1"),
        "{text}"
    );
    // A chunked upload reserves as it arrives and is refused at the chunk that passes it.
    let mut chunked = open_post(s.addr, "Transfer-Encoding: chunked");
    let chunk = format!("4e20\r\n{}\r\n", " ".repeat(20_000));
    for _ in 0..3 {
        let _ = chunked.write_all(chunk.as_bytes());
    }
    let (status, text) = read_until_closed(&mut chunked);
    assert_eq!(status, 503, "{text}");
    // When the stalled upload goes away its bytes are given back and scoring works.
    drop(held);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while metric(s.addr, "custseg_body_bytes_in_flight") > 0 {
        assert!(std::time::Instant::now() < deadline, "never released");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_scores(s.addr);
}

#[test]
fn r12_health_and_metrics_answer_while_scoring_is_saturated() {
    let store = golden_store();
    let s = start(custseg::server::ServerConfig {
        scoring_threads: 1,
        scoring_queue: 0,
        ..config(store.path())
    });
    let customers: Vec<_> = (0..1000)
        .map(|i| {
            serde_json::json!({"customer_id": i, "recency_days": i % 300,
                               "frequency": 1 + i % 17, "monetary": 10.5 * f64::from(i)})
        })
        .collect();
    let body = serde_json::json!({ "customers": customers });
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (addr, body, stop) = (s.addr, body.clone(), stop.clone());
            std::thread::spawn(move || {
                let (mut ok, mut overloaded) = (0, 0);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let r = crate::server::post(addr, "/v1/score", &[], &body);
                    match r.status {
                        200 => ok += 1,
                        503 => {
                            assert!(r.text().contains("\"overloaded\""), "{}", r.text());
                            assert!(r.headers.to_ascii_lowercase().contains("retry-after: 1"));
                            overloaded += 1;
                        }
                        other => panic!("status {other}: {}", r.text()),
                    }
                }
                (ok, overloaded)
            })
        })
        .collect();
    // While eight clients keep one scoring thread busy, the health routes answer: checked
    // until the pool was seen busy at least ten times (or for 30 s).
    let (mut busy, mut checks) = (0, 0);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while busy < 10 && std::time::Instant::now() < deadline {
        assert_eq!(get(s.addr, "/healthz", &[]).status, 200);
        assert_eq!(get(s.addr, "/readyz", &[]).status, 200);
        busy += usize::from(metric(s.addr, "custseg_scoring_jobs") > 0);
        checks += 1;
    }
    let saw_busy_pool = busy > 0;
    assert!(checks >= 10, "{checks} health checks");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (ok, overloaded) = clients
        .into_iter()
        .map(|c| c.join().expect("client"))
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    assert!(saw_busy_pool, "health was never checked while scoring ran");
    assert!(ok > 0, "nothing was scored");
    assert!(
        overloaded > 0,
        "one thread and no queue never refused ({ok} served)"
    );
}

#[test]
fn r12_connections_over_the_cap_wait_and_are_served_when_idle_ones_time_out() {
    let store = golden_store();
    let s = start(custseg::server::ServerConfig {
        max_connections: 4,
        header_timeout_ms: 1500,
        ..config(store.path())
    });
    // Twelve idle sockets: four are accepted, the rest wait in the listen backlog.
    let opened = std::time::Instant::now();
    let idle: Vec<TcpStream> = (0..12)
        .map(|_| TcpStream::connect(s.addr).expect("connect"))
        .collect();
    // Health waits in the backlog too, and is answered once idle connections reach the
    // header deadline and are closed: never before it (without a cap it would be at once).
    assert_eq!(get(s.addr, "/healthz", &[]).status, 200);
    let waited = opened.elapsed();
    assert!(
        waited >= Duration::from_millis(1000),
        "answered after {waited:?}, before any idle connection could have been closed"
    );
    for mut c in idle {
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let (status, _) = read_until_closed(&mut c);
        assert!(status == 408 || status == 0, "idle socket got {status}");
    }
}

#[test]
fn r12_the_health_listener_answers_while_clients_hold_every_main_connection() {
    let store = golden_store();
    let s = start(custseg::server::ServerConfig {
        max_connections: 4,
        header_timeout_ms: 60_000,
        health_bind: Some("127.0.0.1:0".into()),
        ..config(store.path())
    });
    let health = s.health.expect("a health listener");
    // Twelve idle sockets fill the main listener's four connections for a minute.
    let _idle: Vec<TcpStream> = (0..12)
        .map(|_| TcpStream::connect(s.addr).expect("connect"))
        .collect();
    // The main address is full: a probe there gets no answer (the idle sockets came first).
    let mut probe = TcpStream::connect(s.addr).expect("connect");
    probe
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    probe
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut byte = [0u8; 1];
    assert!(
        probe.read(&mut byte).is_err(),
        "the main listener answered although every connection was held"
    );
    for path in ["/healthz", "/readyz", "/metrics"] {
        let mut c = TcpStream::connect(health).expect("connect");
        // Far below the minute a probe on the main address would wait.
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        c.write_all(req.as_bytes()).unwrap();
        let (status, text) = read_until_closed(&mut c);
        assert_eq!(status, 200, "{path}: {text}");
    }
    // Only the open routes are there.
    assert_eq!(get(health, "/v1/models", &[]).status, 404);
}

#[cfg(unix)]
#[test]
fn r12_the_default_connection_cap_stays_below_the_descriptor_limit() {
    let store = golden_store();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bin = env!("CARGO_BIN_EXE_custseg");
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 128 && exec '{bin}' serve --models-dir '{}' --bind 127.0.0.1:{port} \
             --workers 2 --header-timeout-ms 1000",
            store.path().display()
        ))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("serve starts");
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(addr).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "server never listened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // More idle sockets than the process has descriptors.
    let idle: Vec<TcpStream> = (0..200)
        .filter_map(|_| TcpStream::connect(addr).ok())
        .collect();
    assert!(idle.len() > 128, "only {} connected", idle.len());
    let health = get(addr, "/healthz", &[]);
    drop(idle);
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(health.status, 200);
    assert!(
        !log.contains("Too many open files"),
        "the server ran out of descriptors: {log}"
    );
}
