//! Model files: the golden v1 file must keep loading and scoring its training customers to the
//! same segments; unknown versions, truncation and inconsistent content are clear errors.

use std::path::Path;

use custseg::features::{Encoding, RawValue};
use custseg::model::ModelError;
use custseg::Model;

use crate::common::{read_csv, repo};

fn golden() -> std::path::PathBuf {
    repo("tests/data/golden/v1")
}

#[test]
fn golden_v1_model_loads_and_reproduces_its_assignments() {
    let model = Model::load(&golden()).expect("golden v1 model must keep loading");
    let m = &model.file;
    assert_eq!(m.format_version, 1);
    assert_eq!(
        (m.name.as_str(), m.version, m.k, m.seed),
        ("golden", 1, 4, 1)
    );
    assert_eq!(m.as_of.as_deref(), Some("2026-07-01"));
    assert_eq!(m.features.features.len(), 11);
    let (header, rows) = read_csv(&golden().join("assignments.csv"));
    assert_eq!(rows.len(), 1000);
    let d = m.features.n_columns();
    let mut scaled = vec![0.0; d];
    for row in &rows {
        let raw: Vec<RawValue> = m
            .features
            .features
            .iter()
            .map(|f| {
                let i = header
                    .iter()
                    .position(|h| *h == f.name)
                    .expect("feature column");
                let v = &row[i];
                match (&f.encoding, v.is_empty()) {
                    (_, true) => RawValue::Missing,
                    (Encoding::Numeric { .. }, false) => RawValue::Num(v.parse().unwrap()),
                    (Encoding::Categorical { .. }, false) => RawValue::Text(v.clone()),
                }
            })
            .collect();
        let mut warnings = Vec::new();
        m.features
            .encode_row(&raw, &mut scaled, &mut warnings)
            .unwrap();
        let (seg, sq) = model.centroids.nearest(&scaled);
        let seg_col = header.iter().position(|h| h == "segment_id").unwrap();
        assert_eq!(seg.to_string(), row[seg_col], "customer {}", row[0]);
        let dist: f64 = row[seg_col + 2].parse().unwrap();
        assert!((sq.sqrt() - dist).abs() < 1e-5, "distance of {}", row[0]);
    }
}

fn load_str(text: &str) -> Result<Model, ModelError> {
    Model::from_slice(text.as_bytes(), Path::new("test/model.json"))
}

fn golden_json() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(golden().join("model.json")).unwrap()).unwrap()
}

#[test]
fn unknown_format_version_is_rejected_first() {
    let mut v = golden_json();
    v["format_version"] = serde_json::json!(2);
    // Even with the rest unreadable, the version is what gets reported.
    v["centroids"] = serde_json::json!("garbage");
    let err = load_str(&v.to_string()).unwrap_err();
    assert!(
        matches!(err, ModelError::UnsupportedVersion { .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("format_version 2 is not supported"),
        "{err}"
    );
}

#[test]
fn missing_format_version_and_truncation_are_malformed() {
    let mut v = golden_json();
    v.as_object_mut().unwrap().remove("format_version");
    assert!(matches!(
        load_str(&v.to_string()),
        Err(ModelError::Malformed { .. })
    ));
    let text = std::fs::read_to_string(golden().join("model.json")).unwrap();
    let err = load_str(&text[..text.len() / 2]).unwrap_err();
    assert!(matches!(err, ModelError::Malformed { .. }), "{err}");
    assert!(err.to_string().contains("test/model.json"), "{err}");
    assert!(matches!(load_str(""), Err(ModelError::Malformed { .. })));
}

#[test]
fn inconsistent_content_is_invalid() {
    let mut v = golden_json();
    v["centroids"][0].as_array_mut().unwrap().pop();
    assert!(matches!(
        load_str(&v.to_string()),
        Err(ModelError::Invalid { .. })
    ));
    let mut v = golden_json();
    v["k"] = serde_json::json!(5);
    assert!(matches!(
        load_str(&v.to_string()),
        Err(ModelError::Invalid { .. })
    ));
    let mut v = golden_json();
    v["features"]["features"][0]["encoding"]["std"] = serde_json::json!(0.0);
    assert!(matches!(
        load_str(&v.to_string()),
        Err(ModelError::Invalid { .. })
    ));
}

#[test]
fn missing_model_is_not_found() {
    let err = Model::load(Path::new("/nonexistent/v1")).unwrap_err();
    assert!(matches!(err, ModelError::NotFound { .. }), "{err}");
}
