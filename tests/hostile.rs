//! A corpus of hostile requests against a real server: each gets a documented 4xx with the
//! SPEC error shape (or a 200 whose numbers are all finite), never a 5xx, and the server keeps
//! serving afterwards.

use serde_json::{json, Value};

use custseg::server::ServerConfig;

use crate::server::{config, get, golden_store, post_raw, start};

fn customers(c: Value) -> Vec<u8> {
    json!({"customers": [c]}).to_string().into_bytes()
}

#[test]
fn hostile_bodies_get_documented_answers_and_the_server_survives() {
    let store = golden_store();
    let s = start(ServerConfig {
        max_body_bytes: 64 * 1024,
        max_customers: 50,
        max_transactions: 100,
        max_json_depth: 16,
        ..config(store.path())
    });
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let huge_string = format!(
        "{{\"customers\": [{{\"gender\": \"{}\"}}]}}",
        "x".repeat(60_000)
    );
    let many_keys = {
        let fields: Vec<String> = (0..3000).map(|i| format!("\"f{i}\": {i}")).collect();
        format!("{{\"customers\": [{{{}}}]}}", fields.join(","))
    };
    let corpus: Vec<(&str, Vec<u8>, &[u16])> = vec![
        ("empty", b"".to_vec(), &[400]),
        ("whitespace", b"   \n ".to_vec(), &[400]),
        (
            "truncated object",
            b"{\"customers\": [{\"age\": 3".to_vec(),
            &[400],
        ),
        ("trailing comma", b"{\"customers\": [1,]}".to_vec(), &[400]),
        (
            "NaN literal",
            b"{\"customers\": [{\"age\": NaN}]}".to_vec(),
            &[400],
        ),
        (
            "Infinity literal",
            b"{\"customers\": [{\"age\": Infinity}]}".to_vec(),
            &[400],
        ),
        (
            "1e309",
            b"{\"customers\": [{\"age\": 1e309}]}".to_vec(),
            &[400, 422],
        ),
        (
            "not UTF-8",
            b"{\"customers\": [{\"gender\": \"\xff\xfe\"}]}".to_vec(),
            &[400],
        ),
        (
            "lone surrogate escape",
            br#"{"customers": [{"gender": "\ud800"}]}"#.to_vec(),
            &[400],
        ),
        ("top-level array", b"[]".to_vec(), &[422]),
        ("top-level null", b"null".to_vec(), &[422]),
        ("customers null", b"{\"customers\": null}".to_vec(), &[422]),
        ("customers object", b"{\"customers\": {}}".to_vec(), &[422]),
        (
            "duplicate top-level key",
            b"{\"customers\": [], \"customers\": []}".to_vec(),
            &[422],
        ),
        (
            "unknown top-level field",
            b"{\"customers\": [], \"model_path\": \"/etc\"}".to_vec(),
            &[422],
        ),
        ("customer is a string", customers(json!("c1")), &[422]),
        (
            "customer_id bool",
            customers(json!({"customer_id": true})),
            &[422],
        ),
        (
            "customer_id float",
            customers(json!({"customer_id": 1.5})),
            &[422],
        ),
        ("age as string", customers(json!({"age": "41"})), &[422]),
        (
            "gender as object",
            customers(json!({"gender": {"a": 1}})),
            &[422],
        ),
        (
            "gender as array",
            customers(json!({"gender": ["F"]})),
            &[422],
        ),
        (
            "negative frequency",
            customers(json!({"frequency": -1})),
            &[422],
        ),
        (
            "negative recency",
            customers(json!({"recency_days": -0.5})),
            &[422],
        ),
        (
            "transactions string",
            customers(json!({"transactions": "lots"})),
            &[422],
        ),
        (
            "transaction without date",
            customers(json!({"transactions": [{"amount": 3}]})),
            &[422],
        ),
        (
            "transaction date 0000",
            customers(json!({"transactions": [{"date": "0000-01-01", "amount": 3}]})),
            &[422],
        ),
        (
            "transaction date year 99999",
            customers(json!({"transactions": [{"date": "99999-01-01", "amount": 3}]})),
            &[422],
        ),
        (
            "transaction amount overflow",
            customers(
                json!({"transactions": [{"date": "2024-01-01", "quantity": 1e200, "unit_price": 1e200}]}),
            ),
            &[422],
        ),
        (
            "only returns",
            customers(json!({"transactions": [{"date": "2024-01-01", "amount": -3}]})),
            &[200],
        ),
        (
            "as_of garbage",
            b"{\"customers\": [], \"as_of\": \"'; DROP TABLE\"}".to_vec(),
            &[422],
        ),
        (
            "as_of number",
            b"{\"customers\": [], \"as_of\": 20240101}".to_vec(),
            &[422],
        ),
        ("deep nesting", deep.into_bytes(), &[422]),
        ("huge string", huge_string.into_bytes(), &[200]),
        (
            "thousands of unknown fields",
            many_keys.into_bytes(),
            &[200, 413],
        ),
        ("over the body limit", vec![b' '; 70 * 1024], &[413]),
        (
            "too many customers",
            json!({"customers": vec![json!({}); 51]})
                .to_string()
                .into_bytes(),
            &[413],
        ),
        (
            "too many transactions",
            customers(
                json!({"transactions": vec![json!({"date": "2024-01-01", "amount": 1}); 101]}),
            ),
            &[413],
        ),
        // Absurd but valid numbers: scored, with out-of-range warnings, and finite output.
        (
            "absurd numbers",
            customers(
                json!({"recency_days": 1e300, "frequency": 1e300, "monetary": -1e300, "age": 1e300, "annual_income": -1e300}),
            ),
            &[422],
        ),
        (
            "large but scorable numbers",
            customers(
                json!({"recency_days": 1e9, "frequency": 1e9, "monetary": -1e12, "age": 1e6, "annual_income": 1e15}),
            ),
            &[200],
        ),
        (
            "tiny numbers",
            customers(json!({"recency_days": 5e-324, "monetary": -5e-324})),
            &[200],
        ),
        (
            "unicode id and category",
            customers(
                json!({"customer_id": "客户-😀-\u{202e}", "gender": "é\u{0301}", "region": "\u{0000}"}),
            ),
            &[200],
        ),
        (
            "unknown category",
            customers(json!({"occupation": "Astronaut"})),
            &[200],
        ),
        (
            "nulls everywhere",
            customers(json!({"customer_id": null, "age": null, "gender": null})),
            &[200],
        ),
    ];
    for (what, body, allowed) in &corpus {
        let r = post_raw(s.addr, "/v1/score", "application/json", body);
        assert!(
            allowed.contains(&r.status),
            "{what}: status {} ({})",
            r.status,
            r.text()
        );
        let v = r.json();
        if r.status == 200 {
            for res in v["results"].as_array().unwrap() {
                if res["segment_id"].is_null() {
                    // A valid customer without a purchase: no segment, a warning.
                    assert_eq!(res["warnings"][0]["code"], "no_purchases", "{what}: {res}");
                    continue;
                }
                for key in ["distance", "margin"] {
                    assert!(
                        res[key].as_f64().is_some_and(f64::is_finite),
                        "{what}: {key} = {}",
                        res[key]
                    );
                }
                for d in res["distances"].as_array().unwrap() {
                    assert!(
                        d.as_f64().is_some_and(f64::is_finite),
                        "{what}: distances {}",
                        res["distances"]
                    );
                }
            }
        } else {
            assert!(
                v["error"]["code"].as_str().is_some_and(|c| !c.is_empty()),
                "{what}: {v}"
            );
            assert!(v["error"]["message"].as_str().is_some(), "{what}: {v}");
        }
    }
    let e = post_raw(
        s.addr,
        "/v1/score",
        "application/json",
        &customers(json!({"age": 1e300})),
    );
    assert_eq!(e.status, 422);
    assert_eq!(e.json()["error"]["field"], "customers[0].age");
    assert_eq!(e.json()["error"]["code"], "out_of_range");
    // Wrong content types and methods.
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "",
    ] {
        let r = post_raw(s.addr, "/v1/score", ct, b"{\"customers\": []}");
        assert_eq!(r.status, 415, "content type {ct:?}");
    }
    let r = post_raw(
        s.addr,
        "/v1/score",
        "application/json; charset=utf-8",
        b"{\"customers\": []}",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // Still serving, and no 5xx was ever counted.
    let r = post_raw(
        s.addr,
        "/v1/score",
        "application/json",
        &customers(json!({"recency_days": 3})),
    );
    assert_eq!(r.status, 200);
    let m = get(s.addr, "/metrics", &[]).text();
    assert!(!m.contains("status=\"5"), "{m}");
}
