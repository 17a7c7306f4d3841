//! Segment profiles and names. Each cluster is described in original units (size, share of
//! customers and revenue, mean and median of every numeric feature, level shares of every
//! categorical one), given a value tier, and named:
//!
//! - with R, F and M available, by the RFM convention: the percentile standing of the
//!   segment's median recency (inverted: recent is high), frequency, monetary value and
//!   tenure is compared with a prototype for each of the eleven classic RFM segment names,
//!   and names are assigned one-to-one by minimum total distance (Hungarian algorithm);
//! - otherwise, from the two features that set the segment furthest apart from the
//!   population ("High Spending Score (1-100), Low Annual Income (k$)").
//!
//! Tier: the percentile of the segment's median value among all customers: ≥ 2/3 high, < 1/3
//! low, medium in between. The value column is `monetary`, else the configured value
//! feature, else the spend-like column or the sum of several ([`value_column`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::assign::hungarian;
use super::TrainError;
use crate::features::spec::{median, Candidate, RawColumn};

/// Value tier of a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    High,
    Medium,
    Low,
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Tier::High => "high",
            Tier::Medium => "medium",
            Tier::Low => "low",
        })
    }
}

/// Percentile standing (0..1) of a segment's medians among all customers.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Standing {
    /// 1 = most recent.
    pub recency: f64,
    pub frequency: f64,
    pub monetary: f64,
    /// 1 = longest-standing customers; absent without tenure.
    pub tenure: Option<f64>,
}

/// Share of one category level.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LevelShare {
    pub level: String,
    pub share: f64,
}

/// A feature's profile within a segment, in original units.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeatureProfile {
    Numeric {
        feature: String,
        mean: f64,
        median: f64,
    },
    Categorical {
        feature: String,
        shares: Vec<LevelShare>,
    },
}

/// One segment of a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// Index of its centroid.
    pub id: usize,
    /// Business name, unique within the model.
    pub name: String,
    /// Value tier.
    pub tier: Tier,
    /// Training customers in the segment.
    pub size: u64,
    /// Share of training customers.
    pub share_customers: f64,
    /// Share of net revenue (monetary), when known.
    pub share_revenue: Option<f64>,
    /// RFM standing of the segment's medians, when R, F and M are known.
    pub standing: Option<Standing>,
    /// Per-feature profile.
    pub profile: Vec<FeatureProfile>,
    /// 99th percentile of the training customers' distance to this centroid; scoring warns
    /// beyond it. Absent in models written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distance_p99: Option<f64>,
    /// Historical value and lifecycle mix (models trained on transactions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<crate::features::lifecycle::SegmentValue>,
}

/// The eleven RFM names and their prototype standing (recency, frequency, monetary, tenure).
pub const RFM_PROTOTYPES: [(&str, [f64; 4]); 11] = [
    ("Champions", [0.85, 0.85, 0.85, 0.7]),
    ("Loyal", [0.6, 0.75, 0.7, 0.75]),
    ("Potential Loyalist", [0.8, 0.45, 0.5, 0.4]),
    ("New", [0.9, 0.1, 0.3, 0.05]),
    ("Promising", [0.75, 0.2, 0.25, 0.3]),
    ("Need Attention", [0.5, 0.5, 0.5, 0.5]),
    ("About to Sleep", [0.35, 0.25, 0.25, 0.5]),
    ("At Risk", [0.2, 0.65, 0.65, 0.7]),
    ("Can't Lose Them", [0.1, 0.9, 0.9, 0.85]),
    ("Hibernating", [0.2, 0.2, 0.2, 0.6]),
    ("Lost", [0.05, 0.05, 0.1, 0.6]),
];

/// Mid-rank percentile of `x` in a sorted population.
pub fn percentile(sorted: &[f64], x: f64) -> f64 {
    if sorted.is_empty() {
        return 0.5;
    }
    let below = sorted.partition_point(|v| *v < x);
    let through = sorted.partition_point(|v| *v <= x);
    (below as f64 + 0.5 * (through - below) as f64) / sorted.len() as f64
}

fn numbers<'a>(
    candidates: &'a [Candidate],
    names: &[&str],
) -> Option<(&'a Candidate, &'a [Option<f64>])> {
    names.iter().find_map(|n| {
        candidates
            .iter()
            .find(|c| c.name == *n)
            .and_then(|c| match &c.values {
                RawColumn::Numbers(v) => Some((c, v.as_slice())),
                RawColumn::Labels(_) => None,
            })
    })
}

fn sorted_present(v: &[Option<f64>]) -> Vec<f64> {
    let mut s: Vec<f64> = v.iter().flatten().copied().collect();
    s.sort_by(f64::total_cmp);
    s
}

fn segment_median(v: &[Option<f64>], members: &[usize]) -> Option<f64> {
    let vals: Vec<f64> = members.iter().filter_map(|&i| v[i]).collect();
    (!vals.is_empty()).then(|| median(&vals))
}

/// What segment building needs.
pub struct SegmentInput<'a> {
    /// Training columns in original units (all candidates, used or not).
    pub candidates: &'a [Candidate],
    /// Names of the features the model uses (profiles cover these).
    pub used: &'a [String],
    /// Segment of each customer.
    pub labels: &'a [usize],
    /// Number of segments.
    pub k: usize,
    /// Value feature for tiers when there is no `monetary`.
    pub value_feature: Option<&'a str>,
    /// Name overrides: default name or segment id → name.
    pub overrides: &'a BTreeMap<String, String>,
    /// Segment id of each cluster (by position); empty: ids 0..k.
    pub ids: &'a [usize],
    /// Name a cluster keeps from the previous version (by position); empty: none.
    pub inherited: &'a [Option<String>],
}

/// The column that tiers and revenue shares come from.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueColumn {
    /// What it is, for the summary: `monetary`, `income_spend`, `sum of mnt_wines, …`.
    pub label: String,
    /// Positions of the summed candidates (one for a single column).
    pub columns: Vec<usize>,
    /// True when it is money (its share per segment is a revenue share); a spend-like
    /// *score* only sets tiers.
    pub money: bool,
}

impl ValueColumn {
    /// Per-customer value: the column, or the sum of the present values of several (missing
    /// when all are missing).
    pub fn values(&self, candidates: &[Candidate]) -> Vec<Option<f64>> {
        let cols: Vec<&[Option<f64>]> = self
            .columns
            .iter()
            .filter_map(|&j| match &candidates[j].values {
                RawColumn::Numbers(v) => Some(v.as_slice()),
                RawColumn::Labels(_) => None,
            })
            .collect();
        let n = cols.first().map_or(0, |c| c.len());
        (0..n)
            .map(|i| {
                let present: Vec<f64> = cols.iter().filter_map(|c| c[i]).collect();
                (!present.is_empty()).then(|| present.iter().sum())
            })
            .collect()
    }
}

/// True for a feature named like spend: `spend`, `spent`, `revenue`, `sales`, `amount`,
/// `clv`, `value`, or `Mnt…` (Kaggle's "amount spent on …"). Income is not spend.
pub fn is_spend_name(name: &str) -> bool {
    name.starts_with("mnt")
        || [
            "spend", "spent", "revenue", "sales", "amount", "clv", "value",
        ]
        .iter()
        .any(|w| name.contains(w))
}

/// The value column: `monetary` when there is one; else the configured `value_feature` (one
/// feature, or several joined by `+` to be summed); else the model's one spend-like numeric
/// feature ([`is_spend_name`]), or the sum of all of them when there are several (`Mnt*`).
/// `None` when there is no such column: every tier is then medium.
pub fn value_column(
    candidates: &[Candidate],
    used: &[String],
    configured: Option<&str>,
) -> Option<ValueColumn> {
    let numeric = |j: &usize| matches!(candidates[*j].values, RawColumn::Numbers(_));
    let named = |name: &str| {
        (0..candidates.len())
            .filter(numeric)
            .find(|&j| candidates[j].name == name)
    };
    let one = |j: usize, label: &str| ValueColumn {
        label: label.to_string(),
        columns: vec![j],
        money: !label.contains("score"),
    };
    if let Some(j) = named("monetary").or_else(|| named("monetary_value")) {
        return Some(one(j, &candidates[j].name));
    }
    let sum = |cols: Vec<usize>| {
        let names: Vec<&str> = cols.iter().map(|&j| candidates[j].name.as_str()).collect();
        ValueColumn {
            label: format!("sum of {}", names.join(", ")),
            money: !names.iter().any(|n| n.contains("score")),
            columns: cols,
        }
    };
    if let Some(conf) = configured {
        let cols: Option<Vec<usize>> = conf.split('+').map(|n| named(n.trim())).collect();
        match cols {
            Some(c) if c.len() == 1 => return Some(one(c[0], &candidates[c[0]].name)),
            Some(c) if !c.is_empty() => return Some(sum(c)),
            _ => {}
        }
    }
    let spend: Vec<usize> = (0..candidates.len())
        .filter(numeric)
        .filter(|&j| used.contains(&candidates[j].name) && is_spend_name(&candidates[j].name))
        .collect();
    match spend.len() {
        0 => None,
        1 => Some(one(spend[0], &candidates[spend[0]].name)),
        _ => Some(sum(spend)),
    }
}

/// Profiles, tiers and names for every segment.
pub fn build_segments(input: &SegmentInput) -> Result<Vec<Segment>, TrainError> {
    let n = input.labels.len();
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); input.k];
    for (i, &l) in input.labels.iter().enumerate() {
        members[l].push(i);
    }
    let monetary = numbers(input.candidates, &["monetary", "monetary_value"]);
    let value_col = value_column(input.candidates, input.used, input.value_feature);
    let value: Option<Vec<Option<f64>>> = value_col.as_ref().map(|c| c.values(input.candidates));
    let revenue = value
        .as_ref()
        .filter(|_| value_col.as_ref().is_some_and(|c| c.money));
    let revenue_total: Option<f64> = revenue.map(|v| v.iter().flatten().sum());

    let mut segments: Vec<Segment> = (0..input.k)
        .map(|j| {
            let size = members[j].len();
            let share_revenue = revenue.zip(revenue_total).map(|(v, total)| {
                let s: f64 = members[j].iter().filter_map(|&i| v[i]).sum();
                if total != 0.0 {
                    s / total
                } else {
                    0.0
                }
            });
            Segment {
                id: j,
                name: String::new(),
                tier: Tier::Medium,
                size: size as u64,
                share_customers: size as f64 / n.max(1) as f64,
                share_revenue,
                standing: None,
                profile: profile(input, &members[j]),
                distance_p99: None,
                value: None,
            }
        })
        .collect();

    // Tiers from the value column.
    if let Some(v) = &value {
        let sorted = sorted_present(v);
        for s in &mut segments {
            if let Some(m) = segment_median(v, &members[s.id]) {
                let p = percentile(&sorted, m);
                s.tier = if p >= 2.0 / 3.0 {
                    Tier::High
                } else if p < 1.0 / 3.0 {
                    Tier::Low
                } else {
                    Tier::Medium
                };
            }
        }
    }

    let r = numbers(input.candidates, &["recency_days", "recency"]);
    let f = numbers(input.candidates, &["frequency"]);
    let t = numbers(input.candidates, &["tenure_days", "tenure"]);
    if let (Some((_, r)), Some((_, f)), Some((_, m))) = (r, f, monetary) {
        let (rs, fs, ms) = (sorted_present(r), sorted_present(f), sorted_present(m));
        let ts = t.map(|(_, t)| sorted_present(t));
        for s in &mut segments {
            let mem = &members[s.id];
            let stand = |v: &[Option<f64>], sorted: &[f64]| {
                segment_median(v, mem).map_or(0.5, |x| percentile(sorted, x))
            };
            s.standing = Some(Standing {
                recency: 1.0 - stand(r, &rs),
                frequency: stand(f, &fs),
                monetary: stand(m, &ms),
                tenure: t.zip(ts.as_ref()).map(|((_, t), ts)| stand(t, ts)),
            });
        }
        name_by_rfm(&mut segments, input.inherited, input.overrides);
    } else {
        name_by_profile(input, &mut segments, &members);
    }
    for (j, s) in segments.iter_mut().enumerate() {
        if let Some(id) = input.ids.get(j) {
            s.id = *id;
        }
    }
    apply_overrides(&mut segments, input.overrides)?;
    Ok(segments)
}

fn profile(input: &SegmentInput, members: &[usize]) -> Vec<FeatureProfile> {
    let mut out = Vec::new();
    for name in input.used {
        let Some(c) = input.candidates.iter().find(|c| &c.name == name) else {
            continue;
        };
        match &c.values {
            RawColumn::Numbers(v) => {
                let vals: Vec<f64> = members.iter().filter_map(|&i| v[i]).collect();
                let (mean, med) = if vals.is_empty() {
                    (f64::NAN, f64::NAN)
                } else {
                    (vals.iter().sum::<f64>() / vals.len() as f64, median(&vals))
                };
                out.push(FeatureProfile::Numeric {
                    feature: name.clone(),
                    mean: finite_or_zero(mean),
                    median: finite_or_zero(med),
                });
            }
            RawColumn::Labels(v) => {
                let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
                let mut present = 0;
                for &i in members {
                    if let Some(l) = &v[i] {
                        *counts.entry(l.as_str()).or_default() += 1;
                        present += 1;
                    }
                }
                let mut shares: Vec<LevelShare> = counts
                    .into_iter()
                    .map(|(level, c)| LevelShare {
                        level: level.to_string(),
                        share: c as f64 / present.max(1) as f64,
                    })
                    .collect();
                shares.sort_by(|a, b| b.share.total_cmp(&a.share).then(a.level.cmp(&b.level)));
                out.push(FeatureProfile::Categorical {
                    feature: name.clone(),
                    shares,
                });
            }
        }
    }
    out
}

fn finite_or_zero(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        0.0
    }
}

/// The name of RFM prototype column `col` (prototypes repeat with a number when k > 11).
fn rfm_name(col: usize) -> String {
    let base = RFM_PROTOTYPES[col % RFM_PROTOTYPES.len()].0;
    match col / RFM_PROTOTYPES.len() {
        0 => base.to_string(),
        copy => format!("{base} {}", copy + 1),
    }
}

/// Names segments one-to-one after the closest RFM prototypes. Segments with an inherited
/// name keep it, and the names they hold are not given to the others.
///
/// A default name the config renames (`"Loyal" = "Core"`) counts as taken when its new name
/// is, so an override never produces a second `Core`.
fn name_by_rfm(
    segments: &mut [Segment],
    inherited: &[Option<String>],
    overrides: &BTreeMap<String, String>,
) {
    let fixed = |j: usize| inherited.get(j).cloned().flatten();
    let taken: Vec<String> = (0..segments.len()).filter_map(fixed).collect();
    let is_taken = |name: &str| {
        taken.iter().any(|t| t == name) || overrides.get(name).is_some_and(|o| taken.contains(o))
    };
    let free: Vec<usize> = (0..segments.len())
        .filter(|&j| fixed(j).is_none())
        .collect();
    let copies = (segments.len() + taken.len()).div_ceil(RFM_PROTOTYPES.len());
    let cost: Vec<Vec<f64>> = free
        .iter()
        .map(|&j| &segments[j])
        .map(|s| {
            let st = s.standing.expect("standing set before naming");
            let mut row = Vec::new();
            for c in 0..copies {
                for (_, p) in RFM_PROTOTYPES {
                    let mut d = (st.recency - p[0]).powi(2)
                        + (st.frequency - p[1]).powi(2)
                        + (st.monetary - p[2]).powi(2);
                    if let Some(t) = st.tenure {
                        d += 0.5 * (t - p[3]).powi(2);
                    }
                    let col = row.len();
                    let penalty = if is_taken(&rfm_name(col)) { 1e6 } else { 0.0 };
                    row.push(d + c as f64 * 0.01 + penalty);
                }
            }
            row
        })
        .collect();
    for (&j, col) in free.iter().zip(hungarian(&cost)) {
        segments[j].name = rfm_name(col);
    }
    for (j, s) in segments.iter_mut().enumerate() {
        if let Some(name) = fixed(j) {
            s.name = name;
        }
    }
}

fn name_by_profile(input: &SegmentInput, segments: &mut [Segment], members: &[Vec<usize>]) {
    let mut taken: Vec<String> = input.inherited.iter().flatten().cloned().collect();
    for (j, s) in segments.iter_mut().enumerate() {
        if let Some(Some(name)) = input.inherited.get(j) {
            s.name = name.clone();
            continue;
        }
        let mut descriptors: Vec<(f64, String)> = Vec::new();
        for c in input
            .candidates
            .iter()
            .filter(|c| input.used.contains(&c.name))
        {
            let label = c.column.clone().unwrap_or_else(|| c.name.replace('_', " "));
            match &c.values {
                RawColumn::Numbers(v) => {
                    let sorted = sorted_present(v);
                    if let Some(m) = segment_median(v, &members[s.id]) {
                        let p = percentile(&sorted, m);
                        let word = if p >= 2.0 / 3.0 {
                            "High"
                        } else if p < 1.0 / 3.0 {
                            "Low"
                        } else {
                            "Mid"
                        };
                        descriptors.push(((p - 0.5).abs(), format!("{word} {label}")));
                    }
                }
                RawColumn::Labels(v) => {
                    let seg: Vec<&str> = members[s.id]
                        .iter()
                        .filter_map(|&i| v[i].as_deref())
                        .collect();
                    let all: Vec<&str> = v.iter().flatten().map(String::as_str).collect();
                    if let Some(top) = mode(&seg) {
                        let share_in =
                            seg.iter().filter(|l| **l == top).count() as f64 / seg.len() as f64;
                        let share_all = all.iter().filter(|l| **l == top).count() as f64
                            / all.len().max(1) as f64;
                        if share_in >= 0.75 {
                            descriptors
                                .push(((share_in - share_all).min(0.5), format!("{label}: {top}")));
                        }
                    }
                }
            }
        }
        descriptors.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut name = descriptors
            .iter()
            .take(2)
            .map(|(_, d)| d.clone())
            .collect::<Vec<_>>()
            .join(", ");
        if name.is_empty() {
            name = format!("Segment {}", input.ids.get(j).copied().unwrap_or(s.id));
        }
        let base = name.clone();
        let mut n = 2;
        while taken.contains(&name) {
            name = format!("{base} ({n})");
            n += 1;
        }
        taken.push(name.clone());
        s.name = name;
    }
}

fn mode<'a>(values: &[&'a str]) -> Option<&'a str> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(l, _)| l)
}

fn apply_overrides(
    segments: &mut [Segment],
    overrides: &BTreeMap<String, String>,
) -> Result<(), TrainError> {
    for s in segments.iter_mut() {
        if let Some(new) = overrides
            .get(&s.name)
            .or_else(|| overrides.get(&s.id.to_string()))
        {
            s.name = new.clone();
        }
    }
    let mut names: Vec<&str> = segments.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(TrainError::DuplicateSegmentName {
            name: w[0].to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::spec::Source;

    fn num(name: &str, v: Vec<f64>) -> Candidate {
        Candidate {
            name: name.into(),
            source: Source::Transactions,
            column: None,
            values: RawColumn::Numbers(v.into_iter().map(Some).collect()),
        }
    }

    #[test]
    fn percentile_uses_mid_ranks() {
        let s = [1.0, 2.0, 2.0, 3.0];
        assert_eq!(percentile(&s, 2.0), 0.5);
        assert_eq!(percentile(&s, 0.0), 0.0);
        assert_eq!(percentile(&s, 9.0), 1.0);
    }

    #[test]
    fn rfm_names_follow_standing_and_are_unique() {
        // Segment 0: two recent, frequent, big spenders; segment 1: eight lapsed one-timers.
        let lapsed = |base: f64| (0..8).map(move |i| base + f64::from(i));
        let cands = vec![
            num(
                "recency_days",
                [1.0, 2.0].into_iter().chain(lapsed(300.0)).collect(),
            ),
            num(
                "frequency",
                [30.0, 40.0]
                    .into_iter()
                    .chain(lapsed(1.0).map(|_| 1.0))
                    .collect(),
            ),
            num(
                "monetary",
                [1000.0, 2000.0].into_iter().chain(lapsed(10.0)).collect(),
            ),
        ];
        let labels = [0, 0, 1, 1, 1, 1, 1, 1, 1, 1];
        let used: Vec<String> = cands.iter().map(|c| c.name.clone()).collect();
        let segs = build_segments(&SegmentInput {
            candidates: &cands,
            used: &used,
            labels: &labels,
            k: 2,
            value_feature: None,
            overrides: &BTreeMap::new(),
            ids: &[],
            inherited: &[],
        })
        .unwrap();
        assert_eq!(segs[0].name, "Champions");
        assert_ne!(segs[1].name, "Champions");
        let st = segs[0].standing.unwrap();
        assert!((st.recency - 0.9).abs() < 1e-12 && (st.frequency - 0.9).abs() < 1e-12);
        assert_eq!(segs[0].tier, Tier::High);
        assert_ne!(segs[1].tier, Tier::High);
        let rev = segs[0].share_revenue.unwrap();
        assert!((rev - 3000.0 / 3108.0).abs() < 1e-12);
    }

    #[test]
    fn overrides_rename_and_duplicates_are_rejected() {
        let cands = vec![num("x", vec![1.0, 2.0, 10.0, 11.0])];
        let used = vec!["x".to_string()];
        let mut o = BTreeMap::new();
        o.insert("0".to_string(), "Small".to_string());
        let segs = build_segments(&SegmentInput {
            candidates: &cands,
            used: &used,
            labels: &[0, 0, 1, 1],
            k: 2,
            value_feature: None,
            overrides: &o,
            ids: &[],
            inherited: &[],
        })
        .unwrap();
        assert_eq!(segs[0].name, "Small");
        assert_eq!(segs[1].name, "High x");
        o.insert("1".to_string(), "Small".to_string());
        let err = build_segments(&SegmentInput {
            candidates: &cands,
            used: &used,
            labels: &[0, 0, 1, 1],
            k: 2,
            value_feature: None,
            overrides: &o,
            ids: &[],
            inherited: &[],
        });
        assert!(matches!(err, Err(TrainError::DuplicateSegmentName { .. })));
    }

    #[test]
    fn more_segments_than_names_get_numbered() {
        let n = 13;
        let v: Vec<f64> = (0..n).map(f64::from).collect();
        let cands = vec![
            num("recency_days", v.clone()),
            num("frequency", v.clone()),
            num("monetary", v),
        ];
        let used: Vec<String> = cands.iter().map(|c| c.name.clone()).collect();
        let labels: Vec<usize> = (0..n as usize).collect();
        let segs = build_segments(&SegmentInput {
            candidates: &cands,
            used: &used,
            labels: &labels,
            k: n as usize,
            value_feature: None,
            overrides: &BTreeMap::new(),
            ids: &[],
            inherited: &[],
        })
        .unwrap();
        let mut names: Vec<&str> = segs.iter().map(|s| s.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n as usize);
    }

    fn used(c: &[Candidate]) -> Vec<String> {
        c.iter().map(|c| c.name.clone()).collect()
    }

    /// Segments of four customers: the first two, the last two.
    fn two_segments(cands: &[Candidate], used: &[String]) -> Vec<Segment> {
        build_segments(&SegmentInput {
            candidates: cands,
            used,
            labels: &[0, 0, 1, 1],
            k: 2,
            value_feature: None,
            overrides: &BTreeMap::new(),
            ids: &[],
            inherited: &[],
        })
        .unwrap()
    }

    #[test]
    fn spend_columns_are_summed_into_the_value_column() {
        let cands = vec![
            num("income", vec![90.0, 10.0, 50.0, 60.0]),
            num("mntwines", vec![100.0, 90.0, 1.0, 2.0]),
            num("mntfruits", vec![50.0, 40.0, 0.0, 1.0]),
            num("z_revenue", vec![11.0; 4]),
        ];
        // z_revenue is not a model feature (a constant column the fit left out).
        let used = vec!["income".into(), "mntwines".into(), "mntfruits".into()];
        let v = value_column(&cands, &used, None).unwrap();
        assert_eq!(v.label, "sum of mntwines, mntfruits");
        assert!(v.money);
        assert_eq!(
            v.values(&cands),
            [Some(150.0), Some(130.0), Some(1.0), Some(3.0)]
        );
        let segs = two_segments(&cands, &used);
        assert_eq!(segs[0].tier, Tier::High);
        assert_eq!(segs[1].tier, Tier::Low);
        assert!((segs[0].share_revenue.unwrap() - 280.0 / 284.0).abs() < 1e-12);
    }

    #[test]
    fn value_column_prefers_monetary_then_the_configured_sum() {
        let cands = vec![
            num("fresh", vec![1.0, 2.0]),
            num("milk", vec![3.0, 4.0]),
            num("spending_score", vec![5.0, 6.0]),
        ];
        let u = used(&cands);
        let v = value_column(&cands, &u, Some("fresh + milk")).unwrap();
        assert_eq!(
            (v.label.as_str(), v.values(&cands)),
            ("sum of fresh, milk", vec![Some(4.0), Some(6.0)])
        );
        // A spend-like score sets tiers but is no revenue.
        let v = value_column(&cands, &u, None).unwrap();
        assert_eq!(v.label, "spending_score");
        assert!(!v.money);
        let mut with_m = cands.clone();
        with_m.push(num("monetary", vec![7.0, 8.0]));
        assert_eq!(
            value_column(&with_m, &u, Some("fresh")).unwrap().label,
            "monetary"
        );
    }

    #[test]
    fn no_value_column_means_medium_tiers_and_no_revenue_share() {
        let cands = vec![num("income", vec![1.0, 2.0, 30.0, 40.0])];
        let u = used(&cands);
        assert!(value_column(&cands, &u, None).is_none());
        let segs = two_segments(&cands, &u);
        assert!(segs
            .iter()
            .all(|s| s.tier == Tier::Medium && s.share_revenue.is_none()));
    }
}
