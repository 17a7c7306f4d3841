//! `report.html`: one self-contained page per model version (inline CSS and SVG, no script,
//! no font, image or link to anything outside the file), written beside `model.json` so a
//! data scientist can judge a model without tools: the k search, segment sizes and revenue,
//! R/F/M and demographic profiles, a PCA scatter of the customers, what cleaning did, and,
//! for a retrained model, the segment lineage and the migration of customers between
//! versions.
//!
//! Cost is bounded whatever the number of customers: the PCA is fitted on a seeded sample
//! of at most [`PCA_FIT_ROWS`] rows and the scatter shows at most [`SCATTER_POINTS`]
//! points; everything else reads the per-segment summaries. Segment ids are displayed as
//! recorded (`segments[j].id`, not the position `j`), and a segment's colour follows its id
//! so it keeps its colour across versions. Every text from the data (segment names, feature
//! names, category levels) is escaped.

pub mod charts;
pub mod pca;
mod value;

use std::fmt::Write as _;

use ndarray::Array2;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;

use crate::model::format::{Lineage, Metrics, Migration, ModelFile};
use crate::model::{FeatureProfile, LevelShare, Segment};
use crate::train::TrainOutput;
use charts::{hex, segment_color, BarRow, KCurve, PointGroup, StackRow};
use pca::Pca;

/// Most points drawn in the PCA scatter.
pub const SCATTER_POINTS: usize = 3000;
/// Most rows the PCA is fitted on.
pub const PCA_FIT_ROWS: usize = 20_000;
/// Fewest points a segment gets in the scatter (all of them when it is smaller).
const MIN_POINTS_PER_SEGMENT: usize = 25;
/// Category levels shown per feature before the rest is pooled as "other".
const MAX_LEVELS: usize = 8;

/// Escapes text for HTML/SVG element content and attribute values.
///
/// ```
/// assert_eq!(
///     custseg::report::esc("<script> & \"Can't\""),
///     "&lt;script&gt; &amp; &quot;Can&#39;t&quot;"
/// );
/// ```
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The report of a version being saved, for [`crate::store::Registry::save_with`]: the page,
/// or, should rendering panic (a custseg bug), a page that says so. The report is a view, so
/// a bug in it must not cost the version.
pub fn render_or_notice(out: &TrainOutput) -> String {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| render(out))).unwrap_or_else(|_| {
        tracing::warn!("report.html could not be rendered; the model files are complete");
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>custseg report</title></head><body><p>The report could not be rendered \
         for this version (a custseg bug); model.json, metrics.json, segments.csv and \
         assignments.csv are complete.</p></body></html>\n"
            .to_string()
    })
}

/// Renders the report of a trained (and saved: name, version and creation time filled in)
/// model version.
pub fn render(out: &TrainOutput) -> String {
    let m = &out.model;
    let mut h = String::with_capacity(256 * 1024);
    let title = format!("custseg report: {} v{}", m.name, m.version);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        esc(&title)
    );
    header(&mut h, out);
    segments_section(&mut h, &m.segments);
    playbooks_section(&mut h, &m.segments);
    value_section(&mut h, m);
    value::predicted_section(&mut h, m);
    if let Some(r) = &out.metrics.holdout {
        value::holdout_section(&mut h, r);
    }
    k_search_section(&mut h, m, &out.metrics);
    rfm_section(&mut h, &m.segments);
    demographics_section(&mut h, &m.segments);
    behaviour_section(&mut h, &m.segments);
    pca_section(&mut h, out);
    cleaning_section(&mut h, &out.metrics, !m.input.customers.is_empty());
    if let Some(l) = &m.lineage {
        lineage_section(&mut h, l, &m.segments);
    }
    if let Some(mig) = &out.metrics.migration {
        migration_section(&mut h, mig);
    }
    let _ = write!(
        h,
        "<footer>Written by custseg {} with the model files of this version. \
         The page is self-contained: it loads nothing.</footer>\n</body>\n</html>\n",
        esc(&m.custseg_version)
    );
    h
}

const CSS: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',Arial,sans-serif;\
margin:24px auto;max-width:1320px;padding:0 16px;color:#222;background:#fafafa}\
h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.25em;margin:0 0 10px;border-bottom:2px solid #ddd;padding-bottom:4px}\
h3{font-size:1.05em;margin:14px 0 6px}\
section{background:#fff;border:1px solid #e2e2e2;border-radius:6px;padding:14px 18px;margin:16px 0}\
table{border-collapse:collapse;font-size:.92em;margin:6px 0}\
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right;vertical-align:middle}\
th{background:#f3f3f3}td.l,th.l{text-align:left}\
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(235px,1fr));gap:6px 18px;margin-top:10px}\
.facts div{font-size:.92em}.facts b{display:block;font-size:1.1em}\
.grid{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:flex-start}.cat{width:610px;max-width:100%}\
svg{max-width:100%;height:auto}\
.sw{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px;vertical-align:-1px}\
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:.9em;margin:6px 0}\
.note{color:#555;font-size:.9em}.err{color:#b00}\
td.heat{min-width:70px}td.same{outline:2px solid #333;outline-offset:-2px}\
.stages{display:flex;width:320px;height:18px;font-size:.75em;color:#fff}\
.stages span{display:block;overflow:hidden;text-align:center;line-height:18px}\
footer{color:#777;font-size:.85em;margin:20px 0}";

fn int(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn num(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let a = v.abs();
    if a >= 1e6 {
        format!("{v:.3e}")
    } else if a >= 1000.0 || v == v.trunc() {
        let r = v.round();
        if r < 0.0 {
            format!("-{}", int((-r) as u64))
        } else {
            int(r as u64)
        }
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

fn pct(v: f64) -> String {
    format!("{:.1}%", 100.0 * v)
}

fn swatch(id: usize) -> String {
    format!(
        "<span class=\"sw\" style=\"background:{}\"></span>",
        hex(segment_color(id))
    )
}

fn seg_label(s: &Segment) -> String {
    format!("{} · {}", s.id, s.name)
}

/// Segment positions in display order (by id).
fn by_id(segments: &[Segment]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..segments.len()).collect();
    order.sort_by_key(|&j| segments[j].id);
    order
}

fn fact(h: &mut String, label: &str, value: &str) {
    let _ = write!(h, "<div>{}<b>{}</b></div>", esc(label), esc(value));
}

fn header(h: &mut String, out: &TrainOutput) {
    let m = &out.model;
    let x = &out.metrics;
    let _ = write!(
        h,
        "<header><h1>Model {} v{}</h1><div class=\"note\">custseg segmentation report</div>\
         <div class=\"facts\" id=\"summary\">",
        esc(&m.name),
        m.version
    );
    fact(h, "created at", &m.created_at);
    fact(
        h,
        "features as of",
        m.as_of.as_deref().unwrap_or("– (customer table only)"),
    );
    let kmode = if m.params.k_mode == "auto" {
        format!("{} (auto, {}..={})", m.k, m.params.k_min, m.params.k_max)
    } else {
        format!("{} (fixed)", m.k)
    };
    fact(h, "segments (k)", &kmode);
    fact(h, "seed", &m.seed.to_string());
    let customers = if out.assignments.ids.is_empty() {
        m.input.customers_segmented
    } else {
        out.assignments.ids.len() as u64
    };
    fact(h, "customers", &int(customers));
    fact(
        h,
        "features (scaled columns)",
        &out.matrix.ncols().to_string(),
    );
    fact(h, "inertia", &num(x.inertia));
    fact(
        h,
        &format!(
            "silhouette (on {} customers)",
            int(x.silhouette_sample as u64)
        ),
        &format!("{:.3}", x.silhouette),
    );
    fact(h, "Calinski–Harabasz", &num(x.calinski_harabasz));
    fact(h, "Davies–Bouldin", &format!("{:.3}", x.davies_bouldin));
    fact(
        h,
        "Lloyd iterations / initializations",
        &format!("{} / {}", x.iterations, m.params.n_init),
    );
    fact(h, "training time", &format!("{:.1} s", x.timings.total_s));
    if let Some(w) = m.params.window_days {
        fact(h, "window", &format!("{w} days"));
    }
    fact(h, "custseg", &m.custseg_version);
    h.push_str("</div></header>\n");
}

/// What to do with each segment: its playbook's code, goal, actions and KPI.
fn playbooks_section(h: &mut String, segments: &[Segment]) {
    h.push_str(
        "<section id=\"playbooks\"><h2>Playbooks</h2><p>What to do with each segment: the \
         default of its name (or, for a descriptive name, of its tier), unless the config's \
         <code>[segments.playbooks]</code> set it. HTTP results carry the code and goal as \
         <code>action</code>, batch scores the code.</p><table><tr><th class=\"l\">segment\
         </th><th class=\"l\">action</th><th class=\"l\">goal</th><th class=\"l\">\
         recommended actions</th><th class=\"l\">KPI</th></tr>",
    );
    for &j in &by_id(segments) {
        let s = &segments[j];
        let p = crate::model::playbook::of_segment(s);
        let actions: Vec<String> = p.actions.iter().map(|a| esc(a)).collect();
        let _ = write!(
            h,
            "<tr><td class=\"l\">{}{}</td><td class=\"l\"><code>{}</code></td>\
             <td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
            swatch(s.id),
            esc(&seg_label(s)),
            esc(&p.code),
            esc(&p.goal),
            actions.join("<br>"),
            esc(&p.kpi)
        );
    }
    h.push_str("</table></section>\n");
}

fn segments_section(h: &mut String, segments: &[Segment]) {
    h.push_str("<section id=\"segments\"><h2>Segments</h2><div class=\"grid\">");
    h.push_str(
        "<table><tr><th class=\"l\">segment</th><th class=\"l\">tier</th><th>customers</th>\
         <th>share of customers</th><th>share of revenue</th>\
         <th class=\"l\">why this name</th></tr>",
    );
    let order = by_id(segments);
    for &j in &order {
        let s = &segments[j];
        let _ = write!(
            h,
            "<tr><td class=\"l\">{}{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"l\">{}</td></tr>",
            swatch(s.id),
            esc(&seg_label(s)),
            s.tier,
            int(s.size),
            pct(s.share_customers),
            s.share_revenue.map(pct).unwrap_or_else(|| "–".into()),
            esc(s.name_reason.as_deref().unwrap_or("–"))
        );
    }
    h.push_str("</table>");
    let has_revenue = segments.iter().any(|s| s.share_revenue.is_some());
    let rows: Vec<BarRow> = order
        .iter()
        .map(|&j| {
            let s = &segments[j];
            let mut values = vec![Some(s.share_customers)];
            if has_revenue {
                values.push(s.share_revenue);
            }
            BarRow {
                label: seg_label(s),
                color: segment_color(s.id),
                values,
            }
        })
        .collect();
    let series: &[&str] = if has_revenue {
        &["customers", "revenue"]
    } else {
        &["customers"]
    };
    let title = if has_revenue {
        "Share of customers (dark) and of net revenue (light)"
    } else {
        "Share of customers"
    };
    h.push_str(&charts::share_bars(title, &rows, series));
    h.push_str("</div></section>\n");
}

/// Stage colours: new, active, at risk, churned.
const STAGE_COLORS: [&str; 4] = ["#4e79a7", "#59a14f", "#f28e2b", "#bab0ac"];

fn value_section(h: &mut String, m: &ModelFile) {
    let Some(vm) = &m.lifecycle else { return };
    if m.segments.iter().all(|s| s.value.is_none()) {
        return;
    }
    let _ = write!(
        h,
        "<section id=\"value\"><h2>Value and lifecycle</h2><p class=\"note\">Historical CLV = \
         average order value × purchases per customer-year × mean lifespan (tenure), pooled over \
         the segment: its net revenue per customer to date. Lifecycle: <i>new</i> when the first \
         purchase is less than one typical interval ({} days) ago, else <i>active</i> while \
         silent for at most 2× the customer's own purchase interval, <i>at risk</i> up to 4×, \
         <i>churned</i> beyond. RFM quintile cut points: recency {}, frequency {}, monetary {}.\
         </p><table><tr><th class=\"l\">segment</th><th>avg order</th><th>orders / year</th>\
         <th>lifespan (years)</th><th>historical CLV</th><th>annual value</th>\
         <th class=\"l\">lifecycle: new · active · at risk · churned</th></tr>",
        num(vm.typical_interval_days),
        esc(&cuts(&vm.recency_cuts)),
        esc(&cuts(&vm.frequency_cuts)),
        esc(&cuts(&vm.monetary_cuts)),
    );
    for &j in &by_id(&m.segments) {
        let s = &m.segments[j];
        let Some(v) = &s.value else { continue };
        let total = v.stages.iter().sum::<u64>().max(1) as f64;
        let mut bar = String::from("<div class=\"stages\">");
        for (i, &c) in v.stages.iter().enumerate() {
            let share = c as f64 / total;
            if share > 0.0 {
                let _ = write!(
                    bar,
                    "<span style=\"width:{:.2}%;background:{}\" title=\"{}\">{}</span>",
                    100.0 * share,
                    STAGE_COLORS[i],
                    int(c),
                    if share >= 0.08 {
                        pct(share)
                    } else {
                        String::new()
                    }
                );
            }
        }
        bar.push_str("</div>");
        let _ = write!(
            h,
            "<tr><td class=\"l\">{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"l\">{bar}</td></tr>",
            swatch(s.id),
            esc(&seg_label(s)),
            num(v.avg_order_value),
            num(v.purchases_per_year),
            num(v.lifespan_years),
            num(v.historical_clv),
            num(v.annual_value),
        );
    }
    h.push_str("</table>");
    h.push_str("<p class=\"note\">");
    for (i, name) in ["new", "active", "at risk", "churned"].iter().enumerate() {
        let _ = write!(
            h,
            "<span class=\"sw\" style=\"background:{}\"></span>{name} ",
            STAGE_COLORS[i]
        );
    }
    h.push_str("</p></section>\n");
}

fn cuts(c: &[f64; 4]) -> String {
    c.iter().map(|v| num(*v)).collect::<Vec<_>>().join(" / ")
}

fn k_search_section(h: &mut String, m: &ModelFile, x: &Metrics) {
    h.push_str("<section id=\"k-search\"><h2>Choice of k</h2>");
    if x.k_search.is_empty() {
        let _ = write!(
            h,
            "<p>fixed k = {}: no k search was run (<code>--k {}</code>).</p></section>",
            m.k, m.k
        );
        h.push('\n');
        return;
    }
    let chosen = x.k_search.iter().find(|p| p.chosen).map(|p| p.k);
    let on = if (x.k_search_sample as u64) < m.input.customers_segmented {
        format!(
            "a seeded sample of {} customers",
            int(x.k_search_sample as u64)
        )
    } else {
        format!("all {} customers", int(x.k_search_sample as u64))
    };
    let _ = write!(
        h,
        "<p class=\"note\">k-means for each k on {on}; the chosen k (marked) has the best mean \
         rank over silhouette, Calinski–Harabasz and Davies–Bouldin. Inertia is shown for the \
         elbow.</p><div class=\"grid\">"
    );
    type Index = fn(&crate::model::format::KPoint) -> f64;
    let curves: [(&str, &str, Index); 4] = [
        ("Inertia", "elbow", |p| p.inertia),
        ("Silhouette", "higher is better", |p| p.silhouette),
        ("Calinski–Harabasz", "higher is better", |p| {
            p.calinski_harabasz
        }),
        ("Davies–Bouldin", "lower is better", |p| p.davies_bouldin),
    ];
    for (title, hint, f) in curves {
        h.push_str(&charts::k_curve(&KCurve {
            title,
            hint,
            points: x.k_search.iter().map(|p| (p.k, f(p))).collect(),
            chosen,
        }));
    }
    h.push_str(
        "</div><table><tr><th>k</th><th>inertia</th><th>silhouette</th><th>Calinski–Harabasz</th>\
                <th>Davies–Bouldin</th><th>mean rank</th></tr>",
    );
    for p in &x.k_search {
        let _ = write!(
            h,
            "<tr{}><td>{}{}</td><td>{}</td><td>{:.3}</td><td>{}</td><td>{:.3}</td><td>{:.2}</td></tr>",
            if p.chosen { " style=\"font-weight:bold\"" } else { "" },
            p.k,
            if p.chosen { " (chosen)" } else { "" },
            num(p.inertia),
            p.silhouette,
            num(p.calinski_harabasz),
            p.davies_bouldin,
            p.mean_rank
        );
    }
    h.push_str("</table></section>\n");
}

fn rfm_section(h: &mut String, segments: &[Segment]) {
    if segments.iter().all(|s| s.standing.is_none()) {
        return;
    }
    h.push_str(
        "<section id=\"rfm\"><h2>R/F/M profile</h2><p class=\"note\">Percentile standing of \
         each segment's median among all training customers (100 = most recent, most frequent, \
         highest spend, longest-standing).</p><div class=\"grid\">",
    );
    for j in by_id(segments) {
        let s = &segments[j];
        let Some(st) = s.standing else { continue };
        let mut bars = vec![
            ("Recency", st.recency),
            ("Freq.", st.frequency),
            ("Monetary", st.monetary),
        ];
        if let Some(t) = st.tenure {
            bars.push(("Tenure", t));
        }
        h.push_str(&charts::standing_panel(
            &seg_label(s),
            segment_color(s.id),
            &bars,
        ));
    }
    h.push_str("</div></section>\n");
}

fn demographics_section(h: &mut String, segments: &[Segment]) {
    let Some(first) = segments.first() else {
        return;
    };
    let order = by_id(segments);
    h.push_str("<section id=\"profiles\"><h2>Feature profiles</h2>");
    let numeric: Vec<&str> = first
        .profile
        .iter()
        .filter_map(|p| match p {
            FeatureProfile::Numeric { feature, .. } => Some(feature.as_str()),
            FeatureProfile::Categorical { .. } => None,
        })
        .collect();
    if !numeric.is_empty() {
        h.push_str(
            "<h3>Medians of the numeric features (original units)</h3><table><tr>\
             <th class=\"l\">segment</th>",
        );
        for f in &numeric {
            let _ = write!(h, "<th>{}</th>", esc(f));
        }
        h.push_str("</tr>");
        for &j in &order {
            let s = &segments[j];
            let _ = write!(
                h,
                "<tr><td class=\"l\">{}{}</td>",
                swatch(s.id),
                esc(&seg_label(s))
            );
            for f in &numeric {
                let v = s.profile.iter().find_map(|p| match p {
                    FeatureProfile::Numeric {
                        feature, median, ..
                    } if feature == f => Some(*median),
                    _ => None,
                });
                let _ = write!(h, "<td>{}</td>", v.map(num).unwrap_or_else(|| "–".into()));
            }
            h.push_str("</tr>");
        }
        h.push_str("</table>");
    }
    let categorical: Vec<&str> = first
        .profile
        .iter()
        .filter_map(|p| match p {
            FeatureProfile::Categorical { feature, .. } => Some(feature.as_str()),
            FeatureProfile::Numeric { .. } => None,
        })
        .collect();
    if !categorical.is_empty() {
        h.push_str("<div class=\"grid\">");
        for f in categorical {
            let title = "share of each level per segment";
            stacked_chart(
                h,
                f,
                title,
                &|s| level_shares(s, f).to_vec(),
                segments,
                &order,
            );
        }
        h.push_str("</div>");
    }
    h.push_str("</section>\n");
}

fn level_shares<'a>(s: &'a Segment, feature: &str) -> &'a [LevelShare] {
    s.profile
        .iter()
        .find_map(|p| match p {
            FeatureProfile::Categorical {
                feature: f, shares, ..
            } if f == feature => Some(shares.as_slice()),
            _ => None,
        })
        .unwrap_or(&[])
}

/// Each segment's mix over the behaviour blocks (what they buy, through which channel, at
/// what time of day, what they view, from where) as stacked bars, with the label where a
/// level sets a segment apart.
fn behaviour_section(h: &mut String, segments: &[Segment]) {
    let mut blocks: Vec<&str> = Vec::new();
    for m in segments.iter().flat_map(|s| &s.mix) {
        if !blocks.contains(&m.block.as_str()) {
            blocks.push(&m.block);
        }
    }
    if blocks.is_empty() {
        return;
    }
    let order = by_id(segments);
    h.push_str(
        "<section id=\"behaviour\"><h2>Behaviour</h2><p>Mean shares of the members: of \
         purchase value per category, channel and time of day, of views per viewed category, \
         of members per main country. A label names a level that is a segment's largest, at \
         least 40% of it and 1.5 times everyone's share.</p><table><tr><th class=\"l\">segment\
         </th><th class=\"l\">set apart by</th></tr>",
    );
    for &j in &order {
        let s = &segments[j];
        let _ = write!(
            h,
            "<tr><td class=\"l\">{}{}</td><td class=\"l\">{}</td></tr>",
            swatch(s.id),
            esc(&seg_label(s)),
            esc(s.behaviour.as_deref().unwrap_or("–"))
        );
    }
    h.push_str("</table><div class=\"grid\">");
    for b in blocks {
        let shares = |s: &Segment| {
            (s.mix.iter().find(|m| m.block == b))
                .map(|m| m.levels.clone())
                .unwrap_or_default()
        };
        stacked_chart(
            h,
            b,
            "mean share of each level per segment",
            &shares,
            segments,
            &order,
        );
    }
    h.push_str("</div></section>\n");
}

/// Stacked bars of the level shares `shares_of` gives each segment, the levels ordered by
/// their share over all segments (weighted by size) and pooled beyond [`MAX_LEVELS`].
fn stacked_chart(
    h: &mut String,
    feature: &str,
    title: &str,
    shares_of: &dyn Fn(&Segment) -> Vec<LevelShare>,
    segments: &[Segment],
    order: &[usize],
) {
    // Levels by their share over all segments (weighted by size).
    let mut overall: Vec<(String, f64)> = Vec::new();
    let total: f64 = segments.iter().map(|s| s.size as f64).sum::<f64>().max(1.0);
    for s in segments {
        for l in shares_of(s) {
            let w = l.share * s.size as f64 / total;
            match overall.iter_mut().find(|(n, _)| *n == l.level) {
                Some(e) => e.1 += w,
                None => overall.push((l.level.clone(), w)),
            }
        }
    }
    overall.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let pooled = overall.len() > MAX_LEVELS;
    let shown: Vec<(String, f64)> = if pooled {
        let rest: f64 = overall[MAX_LEVELS - 1..].iter().map(|l| l.1).sum();
        let mut v = overall[..MAX_LEVELS - 1].to_vec();
        v.push(("other".into(), rest));
        v
    } else {
        overall
    };
    let n = shown.len();
    let rows: Vec<StackRow> = order
        .iter()
        .map(|&j| {
            let s = &segments[j];
            let levels = shares_of(s);
            let mut shares: Vec<f64> = shown
                .iter()
                .take(if pooled { n - 1 } else { n })
                .map(|(name, _)| {
                    levels
                        .iter()
                        .find(|l| &l.level == name)
                        .map_or(0.0, |l| l.share)
                })
                .collect();
            if pooled {
                // The levels not shown (shares of a mix need not add up to 1).
                let shown_names = &shown[..n - 1];
                let rest: f64 = (levels.iter())
                    .filter(|l| !shown_names.iter().any(|(name, _)| *name == l.level))
                    .map(|l| l.share)
                    .sum();
                shares.push(rest);
            }
            StackRow {
                label: seg_label(s),
                color: segment_color(s.id),
                shares,
            }
        })
        .collect();
    let _ = write!(h, "<div class=\"cat\"><h3>{}</h3>", esc(feature));
    h.push_str(&charts::stacked_shares(title, &rows, n, pooled));
    h.push_str("<div class=\"legend\">");
    for (i, (name, share)) in shown.iter().enumerate() {
        let other = pooled && i + 1 == n;
        let _ = write!(
            h,
            "<span><span class=\"sw\" style=\"background:{}\"></span>{} ({} overall)</span>",
            hex(charts::level_color(i, other)),
            esc(name),
            pct(*share)
        );
    }
    h.push_str("</div></div>");
}

/// Rows drawn in the scatter: every segment gets at least `MIN_POINTS_PER_SEGMENT` points
/// (all of its customers when it has fewer), the rest of the budget is shared in proportion
/// to size; within a segment the rows are a seeded uniform sample.
pub fn scatter_sample(labels: &[usize], k: usize, cap: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (i, &l) in labels.iter().enumerate() {
        if l < k {
            members[l].push(i);
        }
    }
    let base: Vec<usize> = members
        .iter()
        .map(|m| m.len().min(MIN_POINTS_PER_SEGMENT))
        .collect();
    let base_total: usize = base.iter().sum();
    let extra_total: usize = members.iter().zip(&base).map(|(m, b)| m.len() - b).sum();
    let budget = cap.saturating_sub(base_total);
    let mut rng = Xoshiro256Plus::seed_from_u64(seed ^ 0x7265_706f_7274);
    members
        .into_iter()
        .zip(base)
        .map(|(m, b)| {
            let extra = m.len() - b;
            let quota = if extra_total <= budget {
                m.len()
            } else {
                b + ((extra as u128 * budget as u128) / extra_total.max(1) as u128) as usize
            };
            if quota >= m.len() {
                m
            } else {
                let mut picked: Vec<usize> = rand::seq::index::sample(&mut rng, m.len(), quota)
                    .into_iter()
                    .map(|i| m[i])
                    .collect();
                picked.sort_unstable();
                picked
            }
        })
        .collect()
}

fn rows_of(matrix: &Array2<f64>, rows: &[usize]) -> Array2<f64> {
    matrix.select(ndarray::Axis(0), rows)
}

fn pca_section(h: &mut String, out: &TrainOutput) {
    let segments = &out.model.segments;
    let k = segments.len();
    let n = out.matrix.nrows().min(out.assignments.labels.len());
    h.push_str("<section id=\"pca\"><h2>Customers in two dimensions (PCA)</h2>");
    if n < 2 || out.matrix.ncols() == 0 {
        h.push_str("<p class=\"note\">Too few customers for a scatter.</p></section>\n");
        return;
    }
    let seed = out.model.seed;
    let labels = &out.assignments.labels[..n];
    // Fit on a uniform sample (the population's shape), draw a stratified one.
    let fit_rows: Vec<usize> = if n <= PCA_FIT_ROWS {
        (0..n).collect()
    } else {
        let mut rng = Xoshiro256Plus::seed_from_u64(seed ^ 0x0070_6361);
        let mut v = rand::seq::index::sample(&mut rng, n, PCA_FIT_ROWS).into_vec();
        v.sort_unstable();
        v
    };
    let pca = Pca::fit(rows_of(&out.matrix, &fit_rows).view(), 2);
    let share = pca.explained_share();
    let picked = scatter_sample(labels, k, SCATTER_POINTS, seed);
    let drawn: usize = picked.iter().map(Vec::len).sum();
    let groups: Vec<PointGroup> = picked
        .iter()
        .enumerate()
        .filter(|(_, rows)| !rows.is_empty())
        .map(|(j, rows)| {
            let p = pca.project(rows_of(&out.matrix, rows).view());
            PointGroup {
                id: segments[j].id,
                name: segments[j].name.clone(),
                points: p.rows().into_iter().map(|r| (r[0], r[1])).collect(),
            }
        })
        .collect();
    let title = format!(
        "PC1 + PC2 explain {} of the variance ({} of {} customers shown)",
        pct(share[0] + share[1]),
        int(drawn as u64),
        int(n as u64)
    );
    h.push_str(&charts::scatter(
        &title,
        &format!("PC1 ({} of variance)", pct(share[0])),
        &format!("PC2 ({} of variance)", pct(share[1])),
        &groups,
    ));
    h.push_str("<div class=\"legend\">");
    for j in by_id(segments) {
        let s = &segments[j];
        let _ = write!(
            h,
            "<span>{}{} ({} shown)</span>",
            swatch(s.id),
            esc(&seg_label(s)),
            int(picked[j].len() as u64)
        );
    }
    let _ = write!(
        h,
        "</div><p class=\"note\">Principal components of the scaled training matrix (the space \
         k-means works in), fitted on {} customers; each segment shows at least {} customers \
         (all when it has fewer), the rest of the {} points in proportion to size.</p></section>",
        int(fit_rows.len() as u64),
        MIN_POINTS_PER_SEGMENT,
        int(SCATTER_POINTS as u64)
    );
    h.push('\n');
}

fn row(h: &mut String, label: &str, value: String) {
    let _ = write!(
        h,
        "<tr><td class=\"l\">{}</td><td>{}</td></tr>",
        esc(label),
        esc(&value)
    );
}

fn cleaning_section(h: &mut String, x: &Metrics, has_table: bool) {
    let d = &x.data;
    h.push_str("<section id=\"cleaning\"><h2>Data cleaning</h2><table>");
    match &d.transactions {
        Some(c) => {
            row(h, "transaction rows read", int(c.rows_read));
            row(h, "rows kept", int(c.rows_kept));
            row(h, "dropped: no customer id", int(c.missing_customer_id));
            row(h, "dropped: missing or invalid date", int(c.bad_date));
            row(h, "dropped: missing or invalid amount", int(c.bad_amount));
            row(h, "dropped: exact duplicate", int(c.duplicate));
            row(h, "kept returns (negative amounts)", int(c.returns));
            row(
                h,
                "transactions on or after as_of (ignored)",
                int(d.transactions_after_as_of),
            );
            row(
                h,
                "transactions before the window (ignored)",
                int(d.transactions_before_window),
            );
            row(
                h,
                "customers without purchases (left out)",
                int(d.customers_without_purchases),
            );
            if has_table {
                row(
                    h,
                    "customers without a customer-table row (imputed)",
                    int(d.customers_without_profile),
                );
                row(
                    h,
                    "customer-table rows without transactions (left out)",
                    int(d.customers_without_transactions),
                );
            }
        }
        None => row(h, "transaction log", "none (customer table only)".into()),
    }
    h.push_str("</table>");
    if !d.features_dropped.is_empty() {
        h.push_str("<h3>Features left out</h3><table><tr><th class=\"l\">feature</th><th class=\"l\">reason</th></tr>");
        for (f, why) in &d.features_dropped {
            let _ = write!(
                h,
                "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
                esc(f),
                esc(why)
            );
        }
        h.push_str("</table>");
    }
    if d.imputed.iter().any(|(_, n)| *n > 0) {
        h.push_str("<h3>Missing values imputed</h3><table><tr><th class=\"l\">feature</th><th>values</th></tr>");
        for (f, n) in d.imputed.iter().filter(|(_, n)| *n > 0) {
            let _ = write!(
                h,
                "<tr><td class=\"l\">{}</td><td>{}</td></tr>",
                esc(f),
                int(*n)
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</section>\n");
}

fn lineage_section(h: &mut String, l: &Lineage, segments: &[Segment]) {
    let _ = write!(
        h,
        "<section id=\"lineage\"><h2>Segment lineage</h2><p class=\"note\">Segments matched \
         one-to-one with v{} by centroid distance; a match counts only when the old centroid \
         lies within the segment's radius, otherwise the segment is new. The next new segment \
         gets id {}.</p><table><tr><th class=\"l\">segment</th><th>previous id</th>\
         <th>centroid distance</th><th>radius</th></tr>",
        l.previous_version, l.next_segment_id
    );
    for m in &l.matches {
        let name = segments
            .iter()
            .find(|s| s.id == m.id)
            .map_or("?", |s| s.name.as_str());
        let _ = write!(
            h,
            "<tr><td class=\"l\">{}{}</td><td>{}</td><td>{}</td><td>{:.3}</td></tr>",
            swatch(m.id),
            esc(&format!("{} · {}", m.id, name)),
            m.previous_id
                .map_or_else(|| "new".to_string(), |p| p.to_string()),
            m.distance
                .map_or_else(|| "–".to_string(), |d| format!("{d:.3}")),
            m.radius
        );
    }
    h.push_str("</table></section>\n");
}

fn migration_section(h: &mut String, mig: &Migration) {
    let _ = write!(
        h,
        "<section id=\"migration\"><h2>Migration v{} → v{}</h2><p class=\"note\">{} customers \
         are in both versions, each version placing them with its own features as of its own \
         date: rows are segments under v{}, columns under v{}; each cell holds the count and \
         the share of its row. Framed cells keep their segment id. {} customers of v{} are not \
         in v{}. <b>{} keep the same segment id.</b></p><table><tr><th class=\"l\">from \\ \
         to</th>",
        mig.from_version,
        mig.to_version,
        int(mig.customers),
        mig.from_version,
        mig.to_version,
        int(mig.only_in_from),
        mig.from_version,
        mig.to_version,
        pct(mig.same_id_share)
    );
    for t in &mig.to_segments {
        let _ = write!(
            h,
            "<th>{}{}</th>",
            swatch(t.id),
            esc(&format!("{} · {}", t.id, t.name))
        );
    }
    h.push_str("<th>total</th></tr>");
    for (i, f) in mig.from_segments.iter().enumerate() {
        let counts = mig.counts.get(i).map(Vec::as_slice).unwrap_or(&[]);
        let total: u64 = counts.iter().sum();
        let _ = write!(
            h,
            "<tr><th class=\"l\">{}{}</th>",
            swatch(f.id),
            esc(&format!("{} · {}", f.id, f.name))
        );
        for (j, t) in mig.to_segments.iter().enumerate() {
            let c = counts.get(j).copied().unwrap_or(0);
            let share = if total > 0 {
                c as f64 / total as f64
            } else {
                0.0
            };
            let alpha = (share * 0.85).clamp(0.0, 0.85);
            let fg = if alpha > 0.5 { "#fff" } else { "#222" };
            let _ = write!(
                h,
                "<td class=\"heat{}\" style=\"background:rgba(31,78,121,{alpha:.3});color:{fg}\">\
                 {}<br><small>{}</small></td>",
                if f.id == t.id { " same" } else { "" },
                int(c),
                pct(share)
            );
        }
        let _ = write!(h, "<td>{}</td></tr>", int(total));
    }
    let _ = write!(h, "<tr><th class=\"l\">new in v{}</th>", mig.to_version);
    for j in 0..mig.to_segments.len() {
        let _ = write!(
            h,
            "<td>{}</td>",
            int(mig.new_customers.get(j).copied().unwrap_or(0))
        );
    }
    let _ = write!(h, "<td>{}</td></tr>", int(mig.new_customers.iter().sum()));
    h.push_str("</table></section>\n");
}

#[cfg(test)]
mod tests;
