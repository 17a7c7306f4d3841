//! Prometheus text metrics. Every label comes from a fixed set, never from what a client
//! sends: methods from [`METHODS`] (anything else is `other`), route patterns of the app's own
//! routes (anything else is `unmatched`), status codes, and the names of models and segments
//! that are in the store. Never customer ids, feature values or raw paths. So `/metrics` stays
//! small whatever clients send.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    durations: BTreeMap<String, Histogram>,
    scored: BTreeMap<(String, String), u64>,
    reloads: BTreeMap<(String, &'static str), u64>,
    store_checks: u64,
}

/// The HTTP methods counted by name; every other method is counted as `other`.
pub const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

/// The `method` label of a request method: its name when it is one of [`METHODS`], else
/// `other` (a client can send any token as a method).
pub fn method_label(method: &str) -> &'static str {
    METHODS
        .into_iter()
        .find(|m| *m == method)
        .unwrap_or("other")
}

/// Gauges in the text exposition format: `(name, help, value)`, names fixed in code.
pub fn render_gauges(gauges: &[(&str, &str, usize)]) -> String {
    let mut s = String::new();
    for (name, help, v) in gauges {
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
    }
    s
}

/// Process-wide counters.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One finished request. `route` must be a pattern of the app's routes (or `unmatched`);
    /// the method is reduced to [`method_label`].
    pub fn request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut m = self.lock();
        *m.requests
            .entry((method_label(method).to_string(), route.to_string(), status))
            .or_default() += 1;
        let h = m.durations.entry(route.to_string()).or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// Customers scored into a segment.
    pub fn scored(&self, model: &str, segment: &str, n: u64) {
        *self
            .lock()
            .scored
            .entry((model.to_string(), segment.to_string()))
            .or_default() += n;
    }

    /// A reload attempt.
    pub fn reload(&self, model: &str, ok: bool) {
        *self
            .lock()
            .reloads
            .entry((model.to_string(), if ok { "ok" } else { "failed" }))
            .or_default() += 1;
    }

    /// A finished check of the store for changed versions (a watcher tick or a trigger).
    pub fn store_check(&self) {
        self.lock().store_checks += 1;
    }

    /// Renders the text exposition format; `models` gives the served version of each model.
    pub fn render(&self, models: &[(String, u32)]) -> String {
        let m = self.lock();
        let mut s = String::new();
        s.push_str("# HELP custseg_requests_total HTTP requests by method, route pattern and status.\n# TYPE custseg_requests_total counter\n");
        for ((method, route, status), n) in &m.requests {
            let _ = writeln!(
                s,
                "custseg_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                esc(method),
                esc(route)
            );
        }
        s.push_str("# HELP custseg_request_duration_seconds Request latency by route pattern.\n# TYPE custseg_request_duration_seconds histogram\n");
        for (route, h) in &m.durations {
            for (b, c) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    s,
                    "custseg_request_duration_seconds_bucket{{route=\"{}\",le=\"{b}\"}} {c}",
                    esc(route)
                );
            }
            let _ = writeln!(
                s,
                "custseg_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}",
                esc(route),
                h.count
            );
            let _ = writeln!(
                s,
                "custseg_request_duration_seconds_sum{{route=\"{}\"}} {}",
                esc(route),
                h.sum
            );
            let _ = writeln!(
                s,
                "custseg_request_duration_seconds_count{{route=\"{}\"}} {}",
                esc(route),
                h.count
            );
        }
        s.push_str("# HELP custseg_customers_scored_total Customers scored, by model and segment.\n# TYPE custseg_customers_scored_total counter\n");
        for ((model, seg), n) in &m.scored {
            let _ = writeln!(
                s,
                "custseg_customers_scored_total{{model=\"{}\",segment=\"{}\"}} {n}",
                esc(model),
                esc(seg)
            );
        }
        s.push_str("# HELP custseg_reloads_total Model reload attempts by result.\n# TYPE custseg_reloads_total counter\n");
        for ((model, result), n) in &m.reloads {
            let _ = writeln!(
                s,
                "custseg_reloads_total{{model=\"{}\",result=\"{result}\"}} {n}",
                esc(model)
            );
        }
        let _ = writeln!(
            s,
            "# HELP custseg_store_checks_total Checks of the model store for changed versions.\n\
             # TYPE custseg_store_checks_total counter\ncustseg_store_checks_total {}",
            m.store_checks
        );
        s.push_str("# HELP custseg_model_version Version currently served, by model.\n# TYPE custseg_model_version gauge\n");
        for (name, v) in models {
            let _ = writeln!(s, "custseg_model_version{{model=\"{}\"}} {v}", esc(name));
        }
        s
    }
}

/// Escapes a label value.
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The drift gauges of the served models' windows: per model the customers in its window and,
/// once it holds any, per feature the PSI and the test's statistic and p-value, the segment
/// mix's PSI, the two warning shares and the verdict (0 stable, 1 watch, 2 retrain). Labels
/// are model and feature names from the model files and the fixed warning names.
pub fn render_drift(windows: &[(&str, crate::drift::DriftReport)]) -> String {
    let mut s = String::new();
    let head = |s: &mut String, name: &str, help: &str| {
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} gauge");
    };
    head(
        &mut s,
        "custseg_drift_window_customers",
        "Customers in the drift window (the last ones scored), by model.",
    );
    for (model, r) in windows {
        let _ = writeln!(
            s,
            "custseg_drift_window_customers{{model=\"{}\"}} {}",
            esc(model),
            r.customers
        );
    }
    let filled: Vec<&(&str, crate::drift::DriftReport)> =
        windows.iter().filter(|(_, r)| r.customers > 0).collect();
    type Pick = fn(&crate::drift::FeatureDrift) -> f64;
    let per_feature: [(&str, &str, Pick); 3] = [
        ("custseg_drift_psi", "Population stability index of the window against training, by model and feature.", |f| f.psi),
        ("custseg_drift_statistic", "KS D (numeric) or chi-square (categorical) of the window against training, by model and feature.", |f| f.statistic),
        ("custseg_drift_p_value", "p-value of that test, by model and feature.", |f| f.p_value),
    ];
    for (name, help, pick) in per_feature {
        head(&mut s, name, help);
        for (model, r) in &filled {
            for f in &r.features {
                let _ = writeln!(
                    s,
                    "{name}{{model=\"{}\",feature=\"{}\"}} {}",
                    esc(model),
                    esc(&f.feature),
                    pick(f)
                );
            }
        }
    }
    head(
        &mut s,
        "custseg_drift_segment_psi",
        "PSI of the window's segment mix against training, by model.",
    );
    for (model, r) in &filled {
        let _ = writeln!(
            s,
            "custseg_drift_segment_psi{{model=\"{}\"}} {}",
            esc(model),
            r.segments.psi
        );
    }
    head(
        &mut s,
        "custseg_drift_warning_share",
        "Share of the window's customers with the warning, by model.",
    );
    for (model, r) in &filled {
        for (w, x) in [
            ("out_of_range", r.warnings.out_of_range),
            ("far_from_centroid", r.warnings.far_from_centroid),
        ] {
            let _ = writeln!(
                s,
                "custseg_drift_warning_share{{model=\"{}\",warning=\"{w}\"}} {}",
                esc(model),
                x.share
            );
        }
    }
    head(
        &mut s,
        "custseg_drift_verdict",
        "Drift verdict of the window: 0 stable, 1 watch, 2 retrain, by model.",
    );
    for (model, r) in &filled {
        let _ = writeln!(
            s,
            "custseg_drift_verdict{{model=\"{}\"}} {}",
            esc(model),
            r.verdict as u8
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label("GET"), "GET");
        assert_eq!(method_label("get"), "other");
        assert_eq!(method_label(&"X".repeat(100_000)), "other");
        let m = Metrics::default();
        for i in 0..1000 {
            m.request(&format!("M{i}"), "unmatched", 405, 0.001);
        }
        let text = m.render(&[]);
        assert!(text.contains("method=\"other\",route=\"unmatched\",status=\"405\"} 1000"));
        assert!(!text.contains("M1"), "{text}");
        assert!(text.len() < 4096, "{} bytes", text.len());
    }

    #[test]
    fn store_checks_are_counted() {
        let m = Metrics::default();
        assert!(m.render(&[]).contains("\ncustseg_store_checks_total 0\n"));
        m.store_check();
        m.store_check();
        let text = m.render(&[]);
        assert!(
            text.contains("# TYPE custseg_store_checks_total counter\n"),
            "{text}"
        );
        assert!(text.contains("\ncustseg_store_checks_total 2\n"), "{text}");
    }
}
