//! Delivering membership changes to a webhook: JSON batches, each signed
//! (`X-Custseg-Signature: sha256=HEX`, HMAC-SHA256 of the body with a shared secret) and
//! carrying an idempotency key (`Idempotency-Key`, also in the body) that depends only on the
//! model, the two versions, the batch's position and its content, so a rerun sends the same
//! keys. A batch is retried with exponential backoff and full jitter on connection errors,
//! timeouts, 408, 429 (its `Retry-After` honoured up to a minute) and 5xx; any other status
//! is final. A batch acknowledged with a 2xx is appended (and synced) to the state file at
//! once, and a rerun skips it: nothing acknowledged is sent twice. Batches that never got a
//! 2xx are written to the dead-letter file (JSON Lines: key, batch, last status or error,
//! attempts, body).

use std::collections::HashSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::{Changes, ChangesError};

/// How to deliver.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub url: String,
    /// The shared secret (from the environment; never logged).
    pub secret: Vec<u8>,
    /// Changes per batch.
    pub batch_size: usize,
    /// Attempts per batch, the first included.
    pub max_attempts: u32,
    /// Per-request timeout (connect, send, answer).
    pub timeout: Duration,
    /// First backoff; each retry doubles it (capped at 30 s), with full jitter.
    pub backoff: Duration,
    /// Acknowledged batches, one `KEY URL-HASH` line each.
    pub state: PathBuf,
    /// Batches that were not acknowledged.
    pub dead_letter: PathBuf,
}

/// What a delivery did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub batches: usize,
    /// Acknowledged in this run.
    pub acknowledged: usize,
    /// Skipped: acknowledged by an earlier run.
    pub skipped: usize,
    /// Requests beyond each batch's first.
    pub retries: usize,
    /// Not acknowledged (in the dead-letter file).
    pub failed: usize,
}

/// Checks a webhook URL: `http://` or `https://` with a host.
pub fn check_url(url: &str) -> Result<(), ChangesError> {
    let bad = |reason: &str| ChangesError::BadUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let rest = (url.strip_prefix("https://"))
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| bad("only http:// and https:// URLs are delivered to"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err(bad("no host"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("contains white space or control characters"));
    }
    url.parse::<ureq::http::Uri>()
        .map_err(|e| bad(&e.to_string()))?;
    Ok(())
}

/// `sha256=` and the hex HMAC-SHA256 of `body` under `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(body);
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One batch: its idempotency key and body.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    pub index: usize,
    pub key: String,
    pub body: Vec<u8>,
}

/// The batches of `ch`, `size` changes each, in order.
pub fn batches(ch: &Changes, size: usize) -> Vec<Batch> {
    let chunks: Vec<&[super::Change]> = ch.changes.chunks(size.max(1)).collect();
    let total = chunks.len();
    (chunks.into_iter().enumerate())
        .map(|(index, chunk)| {
            let items: Vec<serde_json::Value> = chunk.iter().map(|c| ch.json(c)).collect();
            let content = serde_json::to_vec(&items).unwrap_or_default();
            let mut h = Sha256::new();
            h.update(format!(
                "custseg-changes\0{}\0{}\0{}\0{index}\0",
                ch.name, ch.from_version, ch.to_version
            ));
            h.update(&content);
            let key = hex(&h.finalize()[..16]);
            let body = serde_json::json!({
                "idempotency_key": key,
                "model": ch.name,
                "from_version": ch.from_version,
                "to_version": ch.to_version,
                "changed_at": ch.changed_at,
                "batch": index + 1,
                "batches": total,
                "changes": items,
            });
            Batch {
                index,
                key,
                body: serde_json::to_vec(&body).unwrap_or_default(),
            }
        })
        .collect()
}

/// How one attempt ended.
enum Outcome {
    Acknowledged(u16),
    /// Worth retrying, after at least the given wait (a `Retry-After`).
    Retry(String, Option<Duration>),
    Final(String),
}

fn attempt(agent: &ureq::Agent, d: &Delivery, b: &Batch, n: usize) -> Outcome {
    let sent = agent
        .post(&d.url)
        .content_type("application/json")
        .header("Idempotency-Key", &b.key)
        .header("X-Custseg-Signature", signature(&d.secret, &b.body))
        .header("X-Custseg-Batch", format!("{}/{n}", b.index + 1))
        .send(&b.body[..]);
    match sent {
        Ok(r) => {
            let status = r.status().as_u16();
            let retry_after = (r.headers().get("retry-after"))
                .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
                .map(|s| Duration::from_secs(s.min(60)));
            match status {
                200..=299 => Outcome::Acknowledged(status),
                408 | 429 | 500..=599 => Outcome::Retry(format!("HTTP {status}"), retry_after),
                _ => Outcome::Final(format!("HTTP {status}")),
            }
        }
        Err(e) => Outcome::Retry(e.to_string(), None),
    }
}

/// A pseudo-random fraction in [0, 1) for jitter (no need for a seeded stream: the waits
/// only spread retries out).
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::UNIX_EPOCH
            .elapsed()
            .map_or(0, |d| d.as_nanos() as u64),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

fn wait(d: &Delivery, retry: u32, at_least: Option<Duration>) -> Duration {
    let cap = Duration::from_secs(30);
    let exp = d.backoff.saturating_mul(1u32 << retry.min(16)).min(cap);
    exp.mul_f64(jitter()).max(at_least.unwrap_or_default())
}

/// The acknowledged keys of `url` in the state file (none when it does not exist).
fn acknowledged(state: &Path, url_hash: &str) -> Result<HashSet<String>, ChangesError> {
    match std::fs::read_to_string(state) {
        Ok(text) => Ok(text
            .lines()
            .filter_map(|l| l.split_once(' '))
            .filter(|(_, u)| *u == url_hash)
            .map(|(k, _)| k.to_string())
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(HashSet::new()),
        Err(e) => Err(ChangesError::io(state, e)),
    }
}

fn record_ack(
    state: &mut std::fs::File,
    path: &Path,
    key: &str,
    url_hash: &str,
) -> Result<(), ChangesError> {
    (state.write_all(format!("{key} {url_hash}\n").as_bytes()))
        .and_then(|()| state.sync_data())
        .map_err(|e| ChangesError::io(path, e))
}

/// Delivers `ch` to the webhook; `progress` hears about each batch (index, outcome text).
pub fn deliver(
    ch: &Changes,
    d: &Delivery,
    mut progress: impl FnMut(usize, usize, &str),
) -> Result<Report, ChangesError> {
    let url_hash = hex(&Sha256::digest(d.url.as_bytes())[..8]);
    let done = acknowledged(&d.state, &url_hash)?;
    let mut state = (std::fs::OpenOptions::new().create(true).append(true))
        .open(&d.state)
        .map_err(|e| ChangesError::io(&d.state, e))?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(d.timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let all = batches(ch, d.batch_size);
    let n = all.len();
    let mut report = Report {
        batches: n,
        ..Report::default()
    };
    let mut dead = Vec::new();
    for b in &all {
        if done.contains(&b.key) {
            report.skipped += 1;
            continue;
        }
        let mut tries = 0u32;
        let last = loop {
            tries += 1;
            match attempt(&agent, d, b, n) {
                Outcome::Acknowledged(status) => break Ok(status),
                Outcome::Final(why) => break Err(why),
                Outcome::Retry(why, _) if tries >= d.max_attempts => break Err(why),
                Outcome::Retry(_, at_least) => std::thread::sleep(wait(d, tries - 1, at_least)),
            }
        };
        report.retries += (tries - 1) as usize;
        match last {
            Ok(status) => {
                record_ack(&mut state, &d.state, &b.key, &url_hash)?;
                report.acknowledged += 1;
                progress(
                    b.index,
                    n,
                    &format!("acknowledged (HTTP {status}) after {tries} attempt(s)"),
                );
            }
            Err(why) => {
                report.failed += 1;
                progress(
                    b.index,
                    n,
                    &format!("not acknowledged after {tries} attempt(s): {why}"),
                );
                dead.push(dead_letter_line(b, &why, tries));
            }
        }
    }
    write_dead_letters(&d.dead_letter, &dead)?;
    if report.failed > 0 {
        return Err(ChangesError::Undelivered {
            failed: report.failed,
            total: n,
            dead_letter: d.dead_letter.clone(),
            state: d.state.clone(),
        });
    }
    Ok(report)
}

fn dead_letter_line(b: &Batch, why: &str, attempts: u32) -> Vec<u8> {
    let body: serde_json::Value = serde_json::from_slice(&b.body).unwrap_or_default();
    let mut line = serde_json::to_vec(&serde_json::json!({
        "idempotency_key": b.key,
        "batch": b.index + 1,
        "error": why,
        "attempts": attempts,
        "body": body,
    }))
    .unwrap_or_default();
    line.push(b'\n');
    line
}

/// Writes this run's dead letters atomically, or removes an earlier run's file when every
/// batch is now acknowledged.
fn write_dead_letters(path: &Path, lines: &[Vec<u8>]) -> Result<(), ChangesError> {
    if lines.is_empty() {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(ChangesError::io(path, e)),
            _ => Ok(()),
        };
    }
    crate::atomic::write_bytes(path, &lines.concat(), ChangesError::io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_urls_with_a_host_are_accepted() {
        for ok in [
            "http://127.0.0.1:9/x",
            "https://hooks.example.com/custseg?x=1",
        ] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ftp://x/y",
            "file:///etc/passwd",
            "hooks.example.com",
            "http://",
            "https://:80/",
            "http://a b/",
        ] {
            assert!(
                matches!(check_url(bad), Err(ChangesError::BadUrl { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_signature_is_rfc_4231_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn keys_are_stable_and_differ_per_batch_and_content() {
        let mut ch = super::super::Changes {
            name: "m".into(),
            from_version: 1,
            to_version: 2,
            changed_at: "t".into(),
            same_lineage: true,
            customers_from: 0,
            customers_to: 3,
            changes: (0..3)
                .map(|i| super::super::Change {
                    customer_id: format!("c{i}"),
                    change: super::super::Kind::Entered,
                    what: vec![],
                    from: None,
                    to: None,
                })
                .collect(),
        };
        let a = batches(&ch, 2);
        assert_eq!(a.len(), 2);
        assert_eq!(a, batches(&ch, 2), "a rerun sends the same keys");
        assert_ne!(a[0].key, a[1].key);
        let body: serde_json::Value = serde_json::from_slice(&a[1].body).unwrap();
        assert_eq!(
            (body["batch"].clone(), body["batches"].clone()),
            (2.into(), 2.into())
        );
        assert_eq!(body["idempotency_key"], a[1].key.as_str());
        ch.changes[0].customer_id = "other".into();
        let b = batches(&ch, 2);
        assert_ne!(a[0].key, b[0].key);
        assert_eq!(a[1].key, b[1].key);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_honours_retry_after() {
        let d = Delivery {
            url: String::new(),
            secret: vec![],
            batch_size: 1,
            max_attempts: 3,
            timeout: Duration::from_secs(1),
            backoff: Duration::from_millis(100),
            state: PathBuf::new(),
            dead_letter: PathBuf::new(),
        };
        for retry in 0..20 {
            let w = wait(&d, retry, None);
            let cap = Duration::from_millis(100 << retry.min(16)).min(Duration::from_secs(30));
            assert!(w <= cap, "{retry}: {w:?}");
        }
        assert!(wait(&d, 0, Some(Duration::from_secs(2))) >= Duration::from_secs(2));
    }
}
