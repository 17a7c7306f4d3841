use std::path::Path;
use std::sync::OnceLock;

use linfa::ParamGuard;

use super::*;
use crate::model::format::{SegmentMatch, SegmentRef};
use crate::progress::Progress;
use crate::train::{self, KChoice, TrainInputs, TrainParams};

/// The bundled sample (transactions + demographics) with a small k search, trained once.
fn sample() -> &'static TrainOutput {
    static OUT: OnceLock<TrainOutput> = OnceLock::new();
    OUT.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample");
        let inputs = TrainInputs {
            transactions: vec![dir.join("transactions.csv")],
            customers: vec![dir.join("customers.csv")],
            ..Default::default()
        };
        let params = TrainParams::new()
            .k(KChoice::Auto { min: 3, max: 5 })
            .n_init(2)
            .seed(4)
            .check()
            .expect("valid params");
        let mut out =
            train::train(&inputs, &params, None, &Progress::hidden()).expect("sample trains");
        out.model.name = "sample".into();
        out.model.version = 3;
        out.model.created_at = "2026-11-23T12:00:00Z".into();
        out
    })
}

/// The sample with segment ids that are not positions (as after retrains).
fn renumbered() -> TrainOutput {
    let mut out = sample().clone();
    let ids = [7, 2, 9, 4, 11, 5];
    for (j, s) in out.model.segments.iter_mut().enumerate() {
        s.id = ids[j];
    }
    out
}

fn self_contained(html: &str) {
    let lower = html.to_ascii_lowercase();
    for bad in [
        "http://",
        "https://",
        "<script",
        " src=",
        "href=",
        "url(",
        "@import",
        "<link",
        "<img",
        "<iframe",
        "@font-face",
    ] {
        assert!(!lower.contains(bad), "report contains {bad}");
    }
}

#[test]
fn the_playbooks_section_shows_each_segments_code_goal_and_kpi() {
    let out = renumbered();
    let html = render(&out);
    let start = html.find("<section id=\"playbooks\"").expect("section");
    let section = &html[start..start + html[start..].find("</section>").expect("end")];
    for s in &out.model.segments {
        let p = s.playbook.as_ref().expect("trained models carry playbooks");
        for text in [&p.code, &p.goal, &p.kpi, &p.actions[0]] {
            assert!(section.contains(&esc(text)), "{}: {text}", s.name);
        }
    }
}

#[test]
fn escapes_text_from_the_data() {
    assert_eq!(
        esc("<a href=\"x\">Tom & 'Jerry'</a>"),
        "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
    );
    let mut out = renumbered();
    out.model.segments[0].name = "<script>alert(1)</script> & Co".into();
    if let Some(FeatureProfile::Categorical { shares, .. }) = out.model.segments[1]
        .profile
        .iter_mut()
        .find(|p| matches!(p, FeatureProfile::Categorical { .. }))
    {
        shares[0].level = "<b>bold</b>".into();
    }
    let html = render(&out);
    self_contained(&html);
    assert!(!html.contains("<b>bold"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"));
    assert!(html.contains("&lt;b&gt;bold&lt;/b&gt;"));
}

#[test]
fn report_is_self_contained_with_every_section() {
    let out = renumbered();
    let html = render(&out);
    self_contained(&html);
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    for id in [
        "summary",
        "segments",
        "playbooks",
        "value",
        "k-search",
        "rfm",
        "profiles",
        "pca",
        "cleaning",
    ] {
        assert!(
            html.contains(&format!("id=\"{id}\"")),
            "section {id} missing"
        );
    }
    // No lineage or migration without records.
    assert!(!html.contains("id=\"lineage\"") && !html.contains("id=\"migration\""));
    // Displayed ids are the recorded ones, with their own colours.
    for s in &out.model.segments {
        assert!(
            html.contains(&format!("{} · {}", s.id, esc(&s.name))),
            "{}",
            s.name
        );
        assert!(html.contains(&hex(segment_color(s.id))));
    }
    // The k search: four curves and the chosen k.
    let chosen = out.metrics.k_search.iter().find(|p| p.chosen).unwrap().k;
    assert_eq!(
        html.matches("is better)").count() + html.matches("(elbow)").count(),
        4
    );
    assert!(html.contains(&format!("k = {chosen}")));
    // Demographics: numeric medians and one stacked chart per categorical feature.
    assert!(html.contains("annual_income") && html.contains("occupation"));
    // Cleaning counts.
    let c = out.metrics.data.transactions.as_ref().unwrap();
    assert!(html.contains(&int(c.rows_read)));
    // Value and lifecycle: every segment's CLV and its stage mix.
    let vm = out.model.lifecycle.as_ref().unwrap();
    assert!(html.contains(&format!("({} days)", num(vm.typical_interval_days))));
    for s in &out.model.segments {
        let v = s.value.as_ref().unwrap();
        assert!(html.contains(&format!("<td>{}</td>", num(v.historical_clv))));
        let stages = v.stages.iter().filter(|&&c| c > 0).count();
        assert!(stages > 0);
    }
    assert_eq!(
        html.matches("<div class=\"stages\">").count(),
        out.model.segments.len()
    );
}

#[test]
fn scatter_has_one_group_per_segment_by_id() {
    let out = renumbered();
    let html = render(&out);
    assert_eq!(
        html.matches("class=\"seg-points\"").count(),
        out.model.segments.len()
    );
    for s in &out.model.segments {
        assert!(html.contains(&format!("data-segment-id=\"{}\"", s.id)));
    }
    let start = html.find("class=\"seg-points\"").unwrap();
    let end = start + html[start..].find("</svg>").unwrap();
    let points = html[start..end].matches("<circle cx=").count();
    assert!(points > 0 && points <= SCATTER_POINTS, "{points}");
    assert!(html.contains("PC1 + PC2 explain"));
    // The same seed draws the same page.
    assert_eq!(html, render(&out));
}

#[test]
fn fixed_k_says_so() {
    let mut out = renumbered();
    out.metrics.k_search.clear();
    let html = render(&out);
    assert!(html.contains("fixed k = "));
    assert!(!html.contains("is better)"));
}

#[test]
fn lineage_and_migration_render_from_their_records() {
    let mut out = renumbered();
    let ids: Vec<usize> = out.model.segments.iter().map(|s| s.id).collect();
    let names: Vec<String> = out.model.segments.iter().map(|s| s.name.clone()).collect();
    out.model.lineage = Some(Lineage {
        previous_version: 2,
        matches: ids
            .iter()
            .enumerate()
            .map(|(j, &id)| SegmentMatch {
                id,
                previous_id: (j > 0).then_some(id),
                distance: (j > 0).then_some(0.125 * j as f64),
                radius: 1.5,
            })
            .collect(),
        next_segment_id: 12,
        renames: Vec::new(),
    });
    let from: Vec<SegmentRef> = vec![
        SegmentRef {
            id: ids[1],
            name: names[1].clone(),
        },
        SegmentRef {
            id: 3,
            name: "Retired & <gone>".into(),
        },
    ];
    let to: Vec<SegmentRef> = ids
        .iter()
        .zip(&names)
        .map(|(&id, n)| SegmentRef {
            id,
            name: n.clone(),
        })
        .collect();
    let mut counts = vec![vec![0u64; to.len()]; 2];
    counts[0][1] = 90;
    counts[0][0] = 10;
    counts[1][0] = 37;
    out.metrics.migration = Some(Migration {
        from_version: 2,
        to_version: 3,
        customers: 137,
        new_customers: vec![4; to.len()],
        only_in_from: 6,
        from_segments: from,
        to_segments: to,
        counts,
        same_id_share: 90.0 / 137.0,
    });
    let html = render(&out);
    self_contained(&html);
    assert!(html.contains("id=\"lineage\"") && html.contains("id=\"migration\""));
    assert!(html.contains("<td>new</td>"));
    assert!(html.contains("0.125") && html.contains("1.500"));
    assert!(html.contains("gets id 12"));
    assert!(html.contains("Migration v2 → v3"));
    assert!(html.contains("Retired &amp; &lt;gone&gt;"));
    assert!(html.contains("65.7% keep the same segment id"));
    // Row shares: 90 of 100, and the framed same-id cell.
    assert!(html.contains("90<br><small>90.0%</small>"));
    assert_eq!(html.matches("heat same").count(), 1);
}

#[test]
fn scatter_sample_is_bounded_and_keeps_small_segments() {
    let mut labels = vec![0usize; 100_000];
    labels.extend(std::iter::repeat_n(1, 10));
    labels.extend(std::iter::repeat_n(2, 5_000));
    let picked = scatter_sample(&labels, 4, 3000, 1);
    let total: usize = picked.iter().map(Vec::len).sum();
    assert!(total <= 3000 && total > 2900, "{total}");
    assert_eq!(picked[1].len(), 10);
    assert!(picked[2].len() >= MIN_POINTS_PER_SEGMENT);
    assert!(picked[3].is_empty());
    assert!(picked[0].iter().all(|&i| labels[i] == 0));
    assert!(picked[2].iter().all(|&i| labels[i] == 2));
    assert_eq!(picked, scatter_sample(&labels, 4, 3000, 1));
    // Small populations are drawn whole.
    let small = scatter_sample(&[0, 1, 1, 0], 2, 3000, 1);
    assert_eq!(small, vec![vec![0, 3], vec![1, 2]]);
}

#[test]
fn numbers_read_well() {
    assert_eq!(int(1_234_567), "1,234,567");
    assert_eq!(int(12), "12");
    assert_eq!(num(-1234.4), "-1,234");
    assert_eq!(num(4.56789), "4.568");
    assert_eq!(num(f64::NAN), "–");
}
