//! The KServe Open Inference Protocol v2 routes over real sockets: bodies shaped like the
//! protocol's own examples, every customer of a trained model scored the same through `/v2`
//! as through `/v1` (and as the trainer assigned it), the 400s that name the input, keys and
//! scopes as on `/v1`; and the admin route that serves a version's `report.html`.

use std::net::SocketAddr;
use std::path::Path;

use custseg::server::ServerConfig;
use custseg::Model;
use serde_json::{json, Value};

use crate::common::read_csv;
use crate::server::{config, get, post, request, save_trained, save_trained_with, start, Resp};

const SCORE_KEY: &str = "kserve-score-key-0123456789";
const ADMIN_KEY: &str = "kserve-admin-key-0123456789";

/// A customer of the trained model: its id, its features as `/v1` takes them (null when
/// the cell is empty) and the trainer's segment id.
struct Customer {
    id: String,
    features: serde_json::Map<String, Value>,
    segment_id: u64,
}

/// Every customer of `name`'s version 1, from its `assignments.csv`.
fn customers(models: &Path, name: &str) -> (Model, Vec<Customer>) {
    let dir = models.join(name).join("v1");
    let model = Model::load(&dir).unwrap();
    let (header, rows) = read_csv(&dir.join("assignments.csv"));
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let customers = rows
        .iter()
        .map(|r| {
            let mut features = serde_json::Map::new();
            for f in &model.file.features.features {
                let cell = &r[col(&f.name)];
                let v = match cell.is_empty() {
                    true => Value::Null,
                    false if f.is_numeric() => json!(cell.parse::<f64>().unwrap()),
                    false => json!(cell),
                };
                features.insert(f.name.clone(), v);
            }
            Customer {
                id: r[col("customer_id")].clone(),
                features,
                segment_id: r[col("segment_id")].parse().unwrap(),
            }
        })
        .collect();
    (model, customers)
}

/// A v2 infer body for `customers`: one input per feature plus `customer_id`; every other
/// input nested as `[n, 1]`, as the protocol allows.
fn infer_body(model: &Model, customers: &[Customer]) -> Value {
    let n = customers.len();
    let mut inputs = vec![json!({
        "name": "customer_id", "shape": [n], "datatype": "BYTES",
        "data": customers.iter().map(|c| c.id.clone()).collect::<Vec<_>>()
    })];
    for (j, f) in model.file.features.features.iter().enumerate() {
        let values: Vec<Value> = customers
            .iter()
            .map(|c| c.features[&f.name].clone())
            .collect();
        let datatype = if f.is_numeric() { "FP64" } else { "BYTES" };
        inputs.push(match j % 2 {
            0 => json!({"name": f.name, "shape": [n], "datatype": datatype, "data": values}),
            _ => {
                let nested: Vec<Value> = values.into_iter().map(|v| json!([v])).collect();
                json!({"name": f.name, "shape": [n, 1], "datatype": datatype, "data": nested})
            }
        });
    }
    json!({"id": "batch", "inputs": inputs})
}

/// `output`'s data from an infer response, checking its datatype and shape.
fn output(resp: &Value, name: &str, datatype: &str) -> Vec<Value> {
    let o = resp["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == name)
        .unwrap_or_else(|| panic!("no output {name}: {resp}"));
    assert_eq!(o["datatype"], datatype, "{o}");
    let data = o["data"].as_array().unwrap().clone();
    assert_eq!(o["shape"], json!([data.len()]));
    data
}

/// Asserts the protocol's error object: the status and `{"error": "..."}` containing `needle`.
fn v2_error(r: &Resp, status: u16, needle: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    let v = r.json();
    let msg = v["error"]
        .as_str()
        .unwrap_or_else(|| panic!("error is not a string: {v}"));
    assert!(msg.contains(needle), "{needle:?} not in {msg:?}");
}

fn store_with_shop() -> tempfile::TempDir {
    let store = tempfile::tempdir().unwrap();
    save_trained(store.path(), "shop", true);
    store
}

#[test]
fn every_customer_gets_the_same_segment_through_v2_as_through_v1() {
    let store = store_with_shop();
    let (model, all) = customers(store.path(), "shop");
    assert_eq!(all.len(), 1000);
    let s = start(config(store.path()));
    let mut compared = 0;
    // 250 customers is a body over 32 KiB: the scoring pool's path too.
    for chunk in all.chunks(250) {
        let v1_body = json!({"customers": chunk.iter().map(|c| {
            let mut o = c.features.clone();
            o.insert("customer_id".into(), json!(c.id));
            Value::Object(o)
        }).collect::<Vec<_>>()});
        let r = post(s.addr, "/v1/models/shop/score", &[], &v1_body);
        assert_eq!(r.status, 200, "{}", r.text());
        let v1 = r.json()["results"].as_array().unwrap().clone();
        let r = post(
            s.addr,
            "/v2/models/shop/infer",
            &[],
            &infer_body(&model, chunk),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let v2 = r.json();
        assert_eq!(
            (&v2["model_name"], &v2["model_version"], &v2["id"]),
            (&json!("shop"), &json!("1"), &json!("batch"))
        );
        let ids = output(&v2, "segment_id", "INT64");
        let names = output(&v2, "segment", "BYTES");
        let tiers = output(&v2, "tier", "BYTES");
        let distances = output(&v2, "distance", "FP64");
        let warnings = output(&v2, "warnings", "BYTES");
        let actions = output(&v2, "action", "BYTES");
        assert_eq!(ids.len(), chunk.len());
        for (i, (c, one)) in chunk.iter().zip(&v1).enumerate() {
            assert_eq!(one["customer_id"], c.id.as_str());
            assert_eq!(ids[i], c.segment_id, "{}: the trainer's segment", c.id);
            assert_eq!(ids[i], one["segment_id"], "{}", c.id);
            assert_eq!(names[i], one["segment"], "{}", c.id);
            assert_eq!(tiers[i], one["tier"], "{}", c.id);
            assert_eq!(distances[i], one["distance"], "{}", c.id);
            let w: Value = serde_json::from_str(warnings[i].as_str().unwrap()).unwrap();
            assert_eq!(w, one["warnings"], "{}", c.id);
            assert_eq!(actions[i], one["action"]["code"], "{}", c.id);
            compared += 1;
        }
    }
    assert_eq!(compared, all.len());
}

#[test]
fn protocol_examples_metadata_and_health() {
    let store = store_with_shop();
    let (model, all) = customers(store.path(), "shop");
    let s = start(config(store.path()));
    let a = s.addr;

    for path in [
        "/v2/health/live",
        "/v2/health/ready",
        "/v2/models/shop/ready",
    ] {
        let r = get(a, path, &[]);
        assert_eq!((r.status, r.body.len()), (200, 0), "{path}");
    }
    assert_eq!(get(a, "/v2/models/shop/versions/1/ready", &[]).status, 200);
    let meta = get(a, "/v2", &[]).json();
    assert_eq!(meta["name"], "custseg");
    assert_eq!(meta["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(meta["extensions"], json!([]));

    // Model metadata: one input per feature, in the model's order, then customer_id.
    let m = get(a, "/v2/models/shop", &[]).json();
    assert_eq!(get(a, "/v2/models/shop/versions/1", &[]).json(), m);
    assert_eq!(
        (&m["name"], &m["platform"]),
        (&json!("shop"), &json!("custseg"))
    );
    assert_eq!(m["versions"], json!(["1"]));
    let mut want: Vec<Value> = model
        .file
        .features
        .features
        .iter()
        .map(|f| {
            let dt = if f.is_numeric() { "FP64" } else { "BYTES" };
            json!({"name": f.name, "datatype": dt, "shape": [-1]})
        })
        .collect();
    want.push(json!({"name": "customer_id", "datatype": "BYTES", "shape": [-1]}));
    assert_eq!(m["inputs"], json!(want));
    let outs: Vec<(String, String)> = m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["name"].as_str().unwrap().into(),
                o["datatype"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        outs[..4],
        [
            ("segment_id".to_string(), "INT64".to_string()),
            ("segment".into(), "BYTES".into()),
            ("tier".into(), "BYTES".into()),
            ("distance".into(), "FP64".into())
        ]
    );

    // The protocol's example: an id, and one requested output; sent without a
    // Content-Type, as tritonclient does, to the versioned route.
    let mut body = infer_body(&model, &all[..2]);
    body["id"] = json!("42");
    body["outputs"] =
        json!([{"name": "tier"}, {"name": "segment", "parameters": {"binary_data": false}}]);
    body["parameters"] = json!({"binary_data_output": true});
    let r = request(
        a,
        "POST",
        "/v2/models/shop/versions/1/infer",
        &[],
        Some(body.to_string().as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["id"], "42");
    let names: Vec<&str> = v["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["tier", "segment"]);
    // No id: none echoed.
    body.as_object_mut().unwrap().remove("id");
    let v = post(a, "/v2/models/shop/infer", &[], &body).json();
    assert!(v.get("id").is_none(), "{v}");
    assert_eq!(output(&v, "segment", "BYTES").len(), 2);

    // A version that is not served, a model that is not loaded: 404 in the protocol's shape.
    v2_error(
        &get(a, "/v2/models/shop/versions/7", &[]),
        404,
        "version '7'",
    );
    v2_error(
        &get(a, "/v2/models/shop/versions/7/ready", &[]),
        404,
        "version '7'",
    );
    v2_error(
        &post(a, "/v2/models/shop/versions/7/infer", &[], &body),
        404,
        "version '7'",
    );
    v2_error(&get(a, "/v2/models/nope", &[]), 404, "nope");
    v2_error(&get(a, "/v2/models/nope/ready", &[]), 404, "nope");
    v2_error(&post(a, "/v2/models/nope/infer", &[], &body), 404, "nope");

    // The OpenAPI document lists the v2 routes and the report route.
    let doc = get(a, "/openapi.json", &[]).json();
    for p in [
        "/v2/health/live",
        "/v2/health/ready",
        "/v2",
        "/v2/models/{name}",
        "/v2/models/{name}/versions/{version}",
        "/v2/models/{name}/ready",
        "/v2/models/{name}/infer",
        "/v2/models/{name}/versions/{version}/infer",
        "/v1/models/{name}/versions/{version}/report",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p} missing from OpenAPI");
    }
    // Route labels stay patterns.
    let metrics = get(a, "/metrics", &[]).text();
    assert!(
        metrics.contains("route=\"/v2/models/{name}/infer\""),
        "{metrics}"
    );
    assert!(!metrics.contains("/v2/models/shop/"), "{metrics}");
}

#[test]
fn without_a_model_v2_is_live_but_not_ready_on_both_listeners() {
    let store = tempfile::tempdir().unwrap();
    let s = start(ServerConfig {
        health_bind: Some("127.0.0.1:0".into()),
        ..config(store.path())
    });
    let health = s.health.expect("health listener");
    for a in [s.addr, health] {
        assert_eq!(get(a, "/v2/health/live", &[]).status, 200);
        let r = get(a, "/v2/health/ready", &[]);
        assert_eq!((r.status, r.body.len()), (400, 0));
    }
    // The health listener serves probes only.
    assert_eq!(get(health, "/v2", &[]).status, 404);
}

/// A request with `edit` applied to a valid two-customer body, answered 400 naming `needle`.
fn refused(a: SocketAddr, body: &Value, edit: impl Fn(&mut Value), needle: &str) {
    let mut b = body.clone();
    edit(&mut b);
    v2_error(&post(a, "/v2/models/shop/infer", &[], &b), 400, needle);
}

/// The position of input `name` in a body.
fn at(b: &Value, name: &str) -> usize {
    b["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .position(|i| i["name"] == name)
        .unwrap()
}

#[test]
fn inputs_that_do_not_fit_the_model_are_400s_naming_the_input() {
    let store = store_with_shop();
    let (model, all) = customers(store.path(), "shop");
    let s = start(config(store.path()));
    let a = s.addr;
    let body = infer_body(&model, &all[..2]);
    let numeric = model
        .file
        .features
        .features
        .iter()
        .find(|f| f.is_numeric())
        .unwrap()
        .name
        .clone();
    let categorical = model
        .file
        .features
        .features
        .iter()
        .find(|f| !f.is_numeric())
        .unwrap()
        .name
        .clone();

    refused(
        a,
        &body,
        |b| {
            b["inputs"].as_array_mut().unwrap().push(json!({"name": "colour", "shape": [2], "datatype": "BYTES", "data": ["red", "blue"]}));
        },
        "input 'colour'",
    );
    refused(
        a,
        &body,
        |b| {
            let j = at(b, &numeric);
            b["inputs"].as_array_mut().unwrap().remove(j);
        },
        &format!("input '{numeric}': missing"),
    );
    refused(
        a,
        &body,
        |b| {
            let j = at(b, &numeric);
            b["inputs"][j]["datatype"] = json!("BYTES");
        },
        &format!("input '{numeric}'"),
    );
    refused(
        a,
        &body,
        |b| {
            let j = at(b, &categorical);
            b["inputs"][j]["datatype"] = json!("FP64");
        },
        &format!("input '{categorical}'"),
    );
    refused(
        a,
        &body,
        |b| {
            let j = at(b, &numeric);
            b["inputs"][j]["shape"] = json!([3]);
        },
        &format!("input '{numeric}': shape [3] holds 3 values, data has 2"),
    );
    refused(
        a,
        &body,
        |b| {
            let j = at(b, &numeric);
            b["inputs"][j]["data"] = json!([1.0]);
            b["inputs"][j]["shape"] = json!([1]);
        },
        &format!("input '{numeric}': 1 rows, but input 'customer_id' has 2"),
    );
    refused(
        a,
        &body,
        |b| {
            let j = at(b, &numeric);
            b["inputs"][j]["data"][1] = json!("12");
        },
        &format!("input '{numeric}' (row 1)"),
    );
    // A value the /v1 rules refuse is named by input and row too.
    refused(
        a,
        &body,
        |b| {
            let j = at(b, "frequency");
            b["inputs"][j]["data"] = json!([2.5, 1]);
            b["inputs"][j]["shape"] = json!([2]);
        },
        "input 'frequency' (row 0)",
    );
    refused(
        a,
        &body,
        |b| b["outputs"] = json!([{"name": "label"}]),
        "output 'label'",
    );
    refused(
        a,
        &body,
        |b| b["input"] = json!([]),
        "unknown field `input`",
    );
    // Not JSON: 400 too.
    let r = request(
        a,
        "POST",
        "/v2/models/shop/infer",
        &["Content-Type: application/json"],
        Some(b"{\"inputs\": ["),
    );
    v2_error(&r, 400, "EOF");
    // Binary tensor data (tritonclient's default) is refused with the way out.
    let r = request(
        a,
        "POST",
        "/v2/models/shop/infer",
        &["Inference-Header-Content-Length: 10"],
        Some(body.to_string().as_bytes()),
    );
    v2_error(&r, 400, "binary_data=False");
    // Over the customer limit: 413, as on /v1.
    let s2 = start(ServerConfig {
        max_customers: 1,
        ..config(store.path())
    });
    v2_error(
        &post(s2.addr, "/v2/models/shop/infer", &[], &body),
        413,
        "the limit is 1",
    );
}

#[test]
fn v2_routes_take_the_same_keys_and_scopes_as_v1() {
    let store = store_with_shop();
    let (model, all) = customers(store.path(), "shop");
    let s = start(ServerConfig {
        api_keys: vec![SCORE_KEY.into()],
        admin_keys: vec![ADMIN_KEY.into()],
        ..config(store.path())
    });
    let a = s.addr;
    let body = infer_body(&model, &all[..3]);
    let (score, admin) = (
        format!("Authorization: Bearer {SCORE_KEY}"),
        format!("Authorization: Bearer {ADMIN_KEY}"),
    );
    let wrong = "Authorization: Bearer kserve-wrong-key-0123456789".to_string();
    for h in [None, Some(wrong.as_str())] {
        let h: Vec<&str> = h.into_iter().collect();
        let r = post(a, "/v2/models/shop/infer", &h, &body);
        v2_error(&r, 401, "");
        assert!(r
            .headers
            .to_ascii_lowercase()
            .contains("www-authenticate: bearer"));
        v2_error(&get(a, "/v2/models/shop", &h), 401, "");
        v2_error(&get(a, "/v2/models/shop/ready", &h), 401, "");
        // Auth comes first: no model names leak to strangers.
        v2_error(&get(a, "/v2/models/nope", &h), 401, "");
    }
    for k in [&score, &admin] {
        assert_eq!(post(a, "/v2/models/shop/infer", &[k], &body).status, 200);
        assert_eq!(get(a, "/v2/models/shop", &[k]).status, 200);
        assert_eq!(get(a, "/v2/models/shop/ready", &[k]).status, 200);
    }
    // Probes and the server's metadata stay open.
    for p in ["/v2/health/live", "/v2/health/ready", "/v2"] {
        assert_eq!(get(a, p, &[]).status, 200, "{p}");
    }
}

#[test]
fn admins_read_a_versions_report_and_nobody_else_does() {
    let store = tempfile::tempdir().unwrap();
    let report = [custseg::store::View {
        file: "report.html",
        render: &custseg::report::render,
    }];
    save_trained_with(store.path(), "shop", true, &report);
    let s = start(ServerConfig {
        api_keys: vec![SCORE_KEY.into()],
        admin_keys: vec![ADMIN_KEY.into()],
        ..config(store.path())
    });
    let a = s.addr;
    let admin = format!("Authorization: Bearer {ADMIN_KEY}");
    let score = format!("Authorization: Bearer {SCORE_KEY}");
    let file = std::fs::read(store.path().join("shop/v1/report.html")).unwrap();
    for path in [
        "/v1/models/shop/versions/1/report",
        "/v1/models/shop/versions/v1/report",
    ] {
        let r = get(a, path, &[&admin]);
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.body, file, "byte for byte the file");
        let h = r.headers.to_ascii_lowercase();
        assert!(h.contains("content-type: text/html; charset=utf-8"), "{h}");
        assert!(h.contains("x-content-type-options: nosniff"), "{h}");
        assert!(
            h.contains("content-security-policy: default-src 'none'; style-src 'unsafe-inline'"),
            "{h}"
        );
    }
    let r = get(a, "/v1/models/shop/versions/1/report", &[&score]);
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "forbidden");
    assert_eq!(get(a, "/v1/models/shop/versions/1/report", &[]).status, 401);
    let root = store.path().to_string_lossy().to_string();
    for path in [
        "/v1/models/shop/versions/2/report",
        "/v1/models/shop/versions/x/report",
        "/v1/models/nope/versions/1/report",
        "/v1/models/..%2Fshop/versions/1/report",
    ] {
        let r = get(a, path, &[&admin]);
        assert_eq!(r.status, 404, "{path}: {}", r.text());
        assert!(!r.text().contains(&root), "{path}: a path in {}", r.text());
    }
    // A version without its report, and a report linked out of the store: 404, no path.
    save_trained(store.path(), "shop", false);
    assert!(!store.path().join("shop/v2/report.html").exists());
    let r = get(a, "/v1/models/shop/versions/2/report", &[&admin]);
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (404, json!("report_not_found"))
    );
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.html"), "secret").unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(
            outside.path().join("secret.html"),
            store.path().join("shop/v2/report.html"),
        )
        .unwrap();
        let r = get(a, "/v1/models/shop/versions/2/report", &[&admin]);
        assert_eq!(r.status, 404, "{}", r.text());
        assert!(!r.text().contains("secret"));
    }
}
