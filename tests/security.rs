//! Regression tests for the second security round (issue 12), each through a real socket:
//! what an attacker can make the server remember, and what one broken model can stop.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::server::{config, get, golden_store, save_trained, start, wait_for_version};

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
    s.trigger.send(()).unwrap();
    s.trigger.send(()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
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
