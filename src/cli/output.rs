//! Human-readable output: the segment table after training and `models show`.

use std::path::Path;

use custseg::features::{Encoding, Transform};
use custseg::model::FeatureProfile;
use custseg::model::{Metrics, Model, ModelFile};
use custseg::train::TrainOutput;

fn median_of(profile: &[FeatureProfile], name: &str) -> Option<f64> {
    profile.iter().find_map(|p| match p {
        FeatureProfile::Numeric {
            feature, median, ..
        } if feature == name => Some(*median),
        _ => None,
    })
}

fn mean_of(profile: &[FeatureProfile], name: &str) -> Option<f64> {
    profile.iter().find_map(|p| match p {
        FeatureProfile::Numeric { feature, mean, .. } if feature == name => Some(*mean),
        _ => None,
    })
}

fn fmt_num(v: Option<f64>) -> String {
    match v {
        Some(v) if v.abs() >= 1000.0 => format!("{v:.0}"),
        Some(v) if v.fract() == 0.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.2}"),
        None => "-".into(),
    }
}

/// Features that set segment `j` apart, at most `n`: the largest |standardized difference|
/// of its centroid from the population (0 in the scaled space), each with the segment's
/// median (numeric) or level share (categorical), e.g. `mnt_wines 820 (+1.9 sd)`.
pub fn setting_apart(m: &ModelFile, j: usize, n: usize) -> Vec<String> {
    let (Some(c), Some(seg)) = (m.centroids.get(j), m.segments.get(j)) else {
        return Vec::new();
    };
    let mut out: Vec<(f64, String)> = Vec::new();
    let mut at = 0;
    for f in &m.features.features {
        let w = f.weight.sqrt();
        match &f.encoding {
            Encoding::Numeric { min, max, .. } => {
                let z = c.get(at).copied().unwrap_or(0.0) / w;
                // A 0/1 flag's median says little: show the share of 1s.
                let typical = if *min == 0.0 && *max == 1.0 {
                    format!(
                        "{:.0}%",
                        100.0 * mean_of(&seg.profile, &f.name).unwrap_or(0.0)
                    )
                } else {
                    fmt_num(median_of(&seg.profile, &f.name))
                };
                out.push((z, format!("{} {typical} ({z:+.1} sd)", f.name)));
            }
            Encoding::Categorical {
                levels,
                shares,
                scale,
                ..
            } => {
                // The level whose share differs most, one per feature.
                let best = levels
                    .iter()
                    .zip(shares)
                    .enumerate()
                    .map(|(l, (level, p))| {
                        let diff = c.get(at + l).copied().unwrap_or(0.0) / (scale * w);
                        let z = diff / (p * (1.0 - p)).sqrt().max(1e-9);
                        let share = 100.0 * (p + diff).clamp(0.0, 1.0);
                        (z, format!("{}={level} {share:.0}% ({z:+.1} sd)", f.name))
                    })
                    .max_by(|a, b| a.0.abs().total_cmp(&b.0.abs()));
                out.extend(best);
            }
        }
        at += f.width();
    }
    out.sort_by(|a, b| b.0.abs().total_cmp(&a.0.abs()));
    out.into_iter().take(n).map(|(_, t)| t).collect()
}

/// The value column line of the summary.
fn value_line(m: &ModelFile) -> String {
    match &m.value_column {
        Some(v) => format!("  value column: {v}"),
        None => "  value column: none (no monetary or spend-like column): every segment is tier medium; set [segments] value_feature in the config (columns joined by + are summed)".into(),
    }
}

/// The segment table: size, shares, R/F/M medians (models with them) and the features that
/// set each segment apart.
pub fn print_segment_table(m: &ModelFile) {
    let rfm = ["recency_days", "frequency", "monetary"];
    let has_rfm = rfm.iter().all(|f| m.features.position(f).is_some());
    let cols: Vec<String> = if has_rfm {
        rfm.iter().map(|s| s.to_string()).collect()
    } else {
        Vec::new()
    };
    let name_w = name_width(m);
    let mut header = format!(
        "{:>3}  {:<name_w$}  {:<6}  {:>9}  {:>6}  {:>7}",
        "id", "segment", "tier", "customers", "share", "revenue"
    );
    for c in &cols {
        header.push_str(&format!("  {:>14}", format!("med {}", short(c))));
    }
    header.push_str("  set apart by");
    println!("{header}");
    println!("{}", "-".repeat(header.len()));
    let mut order: Vec<&custseg::train::Segment> = m.segments.iter().collect();
    order.sort_by(|a, b| {
        let ka = a.share_revenue.unwrap_or(a.share_customers);
        let kb = b.share_revenue.unwrap_or(b.share_customers);
        kb.total_cmp(&ka)
    });
    for s in order {
        let mut line = format!(
            "{:>3}  {:<name_w$}  {:<6}  {:>9}  {:>5.1}%  {:>7}",
            s.id,
            s.name,
            s.tier.to_string(),
            s.size,
            100.0 * s.share_customers,
            s.share_revenue
                .map(|r| format!("{:.1}%", 100.0 * r))
                .unwrap_or_else(|| "-".into())
        );
        for c in &cols {
            line.push_str(&format!("  {:>14}", fmt_num(median_of(&s.profile, c))));
        }
        let j = m.segments.iter().position(|x| x.id == s.id).unwrap_or(0);
        line.push_str(&format!("  {}", setting_apart(m, j, 3).join(", ")));
        println!("{line}");
    }
}

/// Segment value and lifecycle mix (models trained on transactions), in the segment
/// table's order.
pub fn print_value_table(m: &ModelFile) {
    if m.segments.iter().all(|s| s.value.is_none()) {
        return;
    }
    let name_w = name_width(m);
    let header = format!(
        "{:>3}  {:<name_w$}  {:>9}  {:>9}  {:>8}  {:>9}  {:>6}  {:>6}  {:>7}  {:>7}",
        "id",
        "segment",
        "avg order",
        "orders/yr",
        "lifespan",
        "hist. CLV",
        "new",
        "active",
        "at risk",
        "churned"
    );
    println!("{header}");
    println!("{}", "-".repeat(header.len()));
    let mut order: Vec<&custseg::train::Segment> = m.segments.iter().collect();
    order.sort_by(|a, b| {
        let clv = |s: &custseg::train::Segment| s.value.as_ref().map_or(0.0, |v| v.historical_clv);
        clv(b).total_cmp(&clv(a))
    });
    for s in order {
        let Some(v) = &s.value else { continue };
        let total = v.stages.iter().sum::<u64>().max(1) as f64;
        let pct = |i: usize| format!("{:.0}%", 100.0 * v.stages[i] as f64 / total);
        println!(
            "{:>3}  {:<name_w$}  {:>9.2}  {:>9.2}  {:>7.1}y  {:>9.2}  {:>6}  {:>6}  {:>7}  {:>7}",
            s.id,
            s.name,
            v.avg_order_value,
            v.purchases_per_year,
            v.lifespan_years,
            v.historical_clv,
            pct(0),
            pct(1),
            pct(2),
            pct(3)
        );
    }
}

/// The value model line: which model, its parameters and horizon, or why there is none.
pub fn value_model_line(m: &ModelFile, skipped: Option<&str>) -> Option<String> {
    if let Some(v) = &m.value_model {
        let params = match v.purchases {
            custseg::value::PurchaseModel::BgNbd(p) => format!(
                "BG/NBD r {:.4}, alpha {:.4}, a {:.4}, b {:.4}",
                p.r, p.alpha, p.a, p.b
            ),
            custseg::value::PurchaseModel::ParetoNbd(p) => format!(
                "Pareto/NBD r {:.4}, alpha {:.4}, s {:.4}, beta {:.4}",
                p.r, p.alpha, p.s, p.beta
            ),
        };
        return Some(format!(
            "  value model: {params}; Gamma-Gamma p {:.4}, q {:.4}, v {:.4} (days); CLV over {} days at {}%/year",
            v.spend.p,
            v.spend.q,
            v.spend.v,
            v.horizon_days,
            100.0 * v.discount_rate
        ));
    }
    skipped.map(|why| format!("  warning: no value model: {why}"))
}

/// Predicted value per segment (models with a value model), by predicted CLV.
pub fn print_predicted_table(m: &ModelFile) {
    if m.segments.iter().any(|s| s.predicted.is_none()) || m.segments.is_empty() {
        return;
    }
    let horizon = m.value_model.as_ref().map_or(0.0, |v| v.horizon_days);
    let name_w = name_width(m);
    let header = format!(
        "{:>3}  {:<name_w$}  {:>7}  {:>11}  {:>14}  {:>10}  {:>13}  {:>9}",
        "id",
        "segment",
        "P(alive)",
        "likely alive",
        format!("orders {horizon}d"),
        "spend/order",
        "predicted CLV",
        "CLV share"
    );
    println!("{header}");
    println!("{}", "-".repeat(header.len()));
    let mut order: Vec<&custseg::train::Segment> = m.segments.iter().collect();
    let clv = |s: &custseg::train::Segment| s.predicted.as_ref().map_or(0.0, |p| p.predicted_clv);
    order.sort_by(|a, b| clv(b).total_cmp(&clv(a)));
    for s in order {
        let Some(p) = &s.predicted else { continue };
        println!(
            "{:>3}  {:<name_w$}  {:>8.3}  {:>11.0}%  {:>14.2}  {:>10.2}  {:>13.2}  {:>8.1}%",
            s.id,
            s.name,
            p.p_alive,
            100.0 * p.likely_alive_share,
            p.expected_orders,
            p.expected_spend_per_order,
            p.predicted_clv,
            100.0 * p.share_predicted_clv
        );
    }
}

/// Why each segment has its name (`name_reason`), in id order, then the behaviour mix.
pub fn print_name_reasons(m: &ModelFile) {
    print_reasons(m);
    print_mix(m);
    print_playbooks(m);
}

/// Each segment's playbook: code and goal, actions, KPI, in id order.
fn print_playbooks(m: &ModelFile) {
    if m.segments.is_empty() {
        return;
    }
    println!();
    println!("Playbooks (what to do with each segment; the config's [segments.playbooks] overrides them):");
    let name_w = name_width(m);
    for s in &m.segments {
        let p = custseg::model::playbook::of_segment(s);
        let from = match p.source {
            custseg::model::PlaybookSource::Config => " (config)",
            _ => "",
        };
        println!(
            "{:>3}  {:<name_w$}  {}: {}{from}",
            s.id, s.name, p.code, p.goal
        );
        println!(
            "{:>3}  {:<name_w$}    actions: {}",
            "",
            "",
            p.actions.join("; ")
        );
        println!("{:>3}  {:<name_w$}    KPI: {}", "", "", p.kpi);
    }
}

/// Each segment's behaviour label and mix per block (top four levels), in id order.
fn print_mix(m: &ModelFile) {
    if m.segments.iter().all(|s| s.mix.is_empty()) {
        return;
    }
    println!("Behaviour (mean shares; label where a level sets the segment apart):");
    let name_w = name_width(m);
    for s in &m.segments {
        let label = s.behaviour.as_deref().unwrap_or("-");
        println!("{:>3}  {:<name_w$}  {label}", s.id, s.name);
        for mix in &s.mix {
            println!(
                "{:>3}  {:<name_w$}    {}: {}",
                "",
                "",
                mix.block,
                mix.text(4)
            );
        }
    }
}

fn print_reasons(m: &ModelFile) {
    if m.segments.iter().all(|s| s.name_reason.is_none()) {
        return;
    }
    println!("Why these names:");
    let name_w = name_width(m);
    for s in &m.segments {
        if let Some(r) = &s.name_reason {
            println!("{:>3}  {:<name_w$}  {r}", s.id, s.name);
        }
    }
}

/// Kept segments renamed by a retrain because their old name no longer fits.
pub fn print_renames(m: &ModelFile) {
    let Some(l) = &m.lineage else { return };
    for r in &l.renames {
        println!(
            "  renamed segment {}: {} -> {} ({})",
            r.id, r.from, r.to, r.reason
        );
    }
}

/// Width of the segment-name column.
fn name_width(m: &ModelFile) -> usize {
    m.segments
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(7)
        .max(7)
}

fn short(name: &str) -> &str {
    match name {
        "recency_days" => "recency",
        "avg_order_value" => "aov",
        other => other,
    }
}

fn feature_list(m: &ModelFile) -> String {
    m.features
        .features
        .iter()
        .map(|f| match &f.encoding {
            Encoding::Numeric {
                transform: Transform::Log1p,
                ..
            } => format!("{} [log1p]", f.name),
            Encoding::Numeric { .. } => f.name.clone(),
            Encoding::Categorical { levels, .. } => format!("{} [{} levels]", f.name, levels.len()),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The interaction log's lines of the train summary.
fn print_events(e: &custseg::data::events::EventCounts, d: &custseg::model::format::DataReport) {
    let mut dropped = Vec::new();
    for (n, what) in [
        (e.missing_customer_id, "without a customer id"),
        (e.bad_timestamp, "without a readable timestamp"),
        (e.missing_event, "without an event"),
    ] {
        if n > 0 {
            dropped.push(format!("{n} {what}"));
        }
    }
    println!(
        "  events: rows read {}, kept {}{}; {} segmented customers without an event in the window",
        e.rows_read,
        e.rows_kept,
        if dropped.is_empty() {
            String::new()
        } else {
            format!(" (dropped: {})", dropped.join(", "))
        },
        d.customers_without_events
    );
    if d.browsers > 0 {
        println!(
            "  browsers (events, no purchase in the window): {} {}",
            d.browsers,
            if d.browsers_included {
                "segmented with their events (include_browsers)"
            } else {
                "left out; --include-browsers (include_browsers = true) segments them"
            }
        );
    }
}

/// After `train`: where the model went, the data report and the segment table.
pub fn print_trained(out: &TrainOutput, version: u32, dir: &Path, current: Option<u32>) {
    let m = &out.model;
    let x = &out.metrics;
    let promoted = if current == Some(version) {
        " (CURRENT)"
    } else {
        ""
    };
    println!(
        "Trained model '{}' v{version}{promoted} in {:.1} s -> {}",
        m.name,
        x.timings.total_s,
        dir.display()
    );
    if let Some(c) = &x.data.transactions {
        print_cleaning(c, m.params.keep_duplicates);
    }
    if x.data.customer_ids_numbered {
        println!("  warning: the customer table has no customer id column: rows are numbered 1, 2, … as ids (name one with --map customer_id=COLUMN)");
    }
    if let (Some(as_of), None) = (&m.as_of, &x.data.transactions) {
        println!(
            "  customers: {}; dates and birth years as of {as_of}",
            m.input.customers_segmented
        );
    } else if let Some(as_of) = &m.as_of {
        println!(
            "  as of {as_of}{}: {} customers ({} without a purchase in the window left out)",
            m.params
                .window_days
                .map(|w| format!(", window {w} days"))
                .unwrap_or_default(),
            m.input.customers_segmented,
            x.data.customers_without_purchases
        );
    } else {
        println!("  customers: {}", m.input.customers_segmented);
    }
    if let Some(e) = &x.data.events {
        print_events(e, &x.data);
    }
    if x.data.customers_without_profile > 0 || x.data.customers_without_transactions > 0 {
        println!(
            "  customer table: {} customers without a profile row (imputed), {} rows without transactions (left out)",
            x.data.customers_without_profile, x.data.customers_without_transactions
        );
    }
    println!("  features: {}", feature_list(m));
    for (f, note) in &x.data.feature_notes {
        println!("  {f}: {note}");
    }
    for (f, why) in &x.data.features_dropped {
        println!("  left out {f}: {why}");
    }
    println!("{}", value_line(m));
    if let Some(line) = value_model_line(m, x.value_skipped.as_deref()) {
        println!("{line}");
    }
    if let Some(h) = &x.holdout {
        let s = &h.summary;
        println!(
            "  holdout check ({} days after {}, {} customers): orders predicted {:.0}, actual {:.0}; spend predicted {:.2}, actual {:.2}; AUC of any repurchase {}; details in metrics.json (holdout)",
            h.holdout_days,
            h.calibration_end,
            h.customers,
            s.orders.predicted_total,
            s.orders.actual_total,
            s.spend.predicted_total,
            s.spend.actual_total,
            s.repurchase_auc_predicted_orders
                .map_or("-".into(), |v| format!("{v:.3}"))
        );
    }
    for (f, n) in &x.data.imputed {
        println!("  imputed {n} missing values of {f}");
    }
    if x.k_search.is_empty() {
        println!("  k = {} (fixed), silhouette {:.3}", m.k, x.silhouette);
    } else {
        let curve: Vec<String> = x
            .k_search
            .iter()
            .map(|p| format!("{}:{:.3}", p.k, p.silhouette))
            .collect();
        println!(
            "  k = {} chosen from {}..={} on {} customers (silhouette by k: {})",
            m.k,
            m.params.k_min,
            m.params.k_max,
            x.k_search_sample,
            curve.join(" ")
        );
    }
    println!(
        "  quality: silhouette {:.3}, Calinski-Harabasz {:.1}, Davies-Bouldin {:.3}, inertia {:.1}",
        x.silhouette, x.calinski_harabasz, x.davies_bouldin, x.inertia
    );
    if let (Some(l), Some(mig)) = (&m.lineage, &x.migration) {
        print_lineage(m, l, mig);
    }
    print_renames(m);
    println!();
    print_segment_table(m);
    println!();
    print_value_table(m);
    println!();
    print_predicted_table(m);
    println!();
    print_name_reasons(m);
}

/// How cleaning went: the counts, how each file's day/month order was decided, and the
/// exact-duplicate rule the model uses.
fn print_cleaning(c: &custseg::data::Cleaning, keep_duplicates: bool) {
    println!("  transactions: {}; returns {}", c.summary(), c.returns);
    for (file, how) in c.date_orders.iter().take(3) {
        println!("  dates in {file}: {how}");
    }
    if c.date_orders.len() > 3 {
        println!(
            "  dates in {} more files: see metrics.json",
            c.date_orders.len() - 3
        );
    }
    if keep_duplicates {
        println!("  exact-duplicate rows kept (--keep-duplicates)");
    } else if c.duplicate > 0 {
        println!(
            "  {} exact-duplicate rows (every field equal) dropped; --keep-duplicates keeps them",
            c.duplicate
        );
    }
}

/// Which segment ids a retrain kept and how many customers kept their segment.
fn print_lineage(
    m: &ModelFile,
    l: &custseg::model::format::Lineage,
    mig: &custseg::model::format::Migration,
) {
    let kept: Vec<String> = l
        .matches
        .iter()
        .filter(|s| s.previous_id.is_some())
        .map(|s| s.id.to_string())
        .collect();
    let new: Vec<String> = l
        .matches
        .iter()
        .filter(|s| s.previous_id.is_none())
        .map(|s| s.id.to_string())
        .collect();
    println!(
        "  segment ids continue v{}: kept [{}], new [{}]; {:.1}% of the {} customers in both versions kept their segment (custseg models diff {} v{} v{})",
        l.previous_version,
        kept.join(" "),
        new.join(" "),
        100.0 * mig.same_id_share,
        mig.customers,
        m.name,
        l.previous_version,
        m.version
    );
}

/// Input files shown in full by `models show`; the rest are summarized.
const SHOWN_INPUTS: usize = 3;

/// Input files of one kind: the first few, then `… and N more (R rows, X MB)`.
fn print_inputs(files: &[custseg::data::FileFingerprint]) {
    for f in files.iter().take(SHOWN_INPUTS) {
        println!(
            "  input {} ({} rows, sha256 {}…)",
            f.path,
            f.rows,
            &f.sha256[..f.sha256.len().min(12)]
        );
    }
    if let Some(rest) = files.get(SHOWN_INPUTS..).filter(|r| !r.is_empty()) {
        let rows: u64 = rest.iter().map(|f| f.rows).sum();
        let bytes: u64 = rest.iter().map(|f| f.bytes).sum();
        println!(
            "  … and {} more ({rows} rows, {:.1} MB)",
            rest.len(),
            bytes as f64 / 1e6
        );
    }
}

/// `models show`.
pub fn print_model(model: &Model, metrics: Option<&Metrics>, dir: &Path) {
    let m = &model.file;
    println!("model {} v{} ({})", m.name, m.version, dir.display());
    println!(
        "  created {} by custseg {}, seed {}",
        m.created_at, m.custseg_version, m.seed
    );
    println!(
        "  as of {}",
        m.as_of.as_deref().unwrap_or("- (customer table only)")
    );
    println!("  customers {}, k = {}", m.input.customers_segmented, m.k);
    print_inputs(&m.input.transactions);
    print_inputs(&m.input.customers);
    println!("  features: {}", feature_list(m));
    println!("{}", value_line(m));
    if let Some(line) = value_model_line(m, metrics.and_then(|x| x.value_skipped.as_deref())) {
        println!("{line}");
    }
    if let Some(x) = metrics {
        println!(
            "  silhouette {:.3}, Calinski-Harabasz {:.1}, Davies-Bouldin {:.3}",
            x.silhouette, x.calinski_harabasz, x.davies_bouldin
        );
    }
    println!();
    print_segment_table(m);
    println!();
    print_value_table(m);
    println!();
    print_predicted_table(m);
    println!();
    print_name_reasons(m);
}
