//! `report.html` of a real model version: trained on CDNOW through the binary (a small k
//! search), saved by the registry beside model.json, self-contained, naming every segment and
//! drawing one point group per segment in the PCA scatter.

use crate::common::{custseg, dataset, text};

#[test]
fn cdnow_version_has_a_self_contained_report() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset("CDNOW_master.txt");
    let out = custseg(
        &[
            "train",
            "--transactions",
            data.to_str().unwrap(),
            "--k",
            "auto",
            "--k-min",
            "3",
            "--k-max",
            "5",
            "--n-init",
            "2",
            "--models-dir",
            "m",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let version = dir.path().join("m/default/v1");
    let html = std::fs::read_to_string(version.join("report.html")).unwrap();
    // No temporary folder is left behind: the report was written before the rename.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("m/default"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());

    let lower = html.to_ascii_lowercase();
    for bad in [
        "http://", "https://", "<script", " src=", "href=", "url(", "@import", "<link",
    ] {
        assert!(!lower.contains(bad), "report.html contains {bad}");
    }
    assert!(html.starts_with("<!DOCTYPE html>"));
    for id in ["summary", "segments", "k-search", "rfm", "pca", "cleaning"] {
        assert!(
            html.contains(&format!("id=\"{id}\"")),
            "section {id} missing"
        );
    }
    assert!(html.contains("69,659"), "rows read");

    let model: serde_json::Value =
        serde_json::from_slice(&std::fs::read(version.join("model.json")).unwrap()).unwrap();
    let segments = model["segments"].as_array().unwrap();
    assert_eq!(segments.len() as u64, model["k"].as_u64().unwrap());
    for s in segments {
        let id = s["id"].as_u64().unwrap();
        let name = s["name"].as_str().unwrap().replace('\'', "&#39;");
        assert!(
            html.contains(&format!("{id} · {name}")),
            "segment {id} {name}"
        );
        let group = format!("class=\"seg-points\" data-segment-id=\"{id}\"");
        assert_eq!(html.matches(&group).count(), 1, "points of segment {id}");
    }
    assert_eq!(html.matches("class=\"seg-points\"").count(), segments.len());
    let start = html.find("class=\"seg-points\"").unwrap();
    let end = start + html[start..].find("</svg>").unwrap();
    let points = html[start..end].matches("<circle cx=").count();
    assert!((2900..=3000).contains(&points), "{points} points");
    assert!(html.contains("PC1 + PC2 explain"));
}
