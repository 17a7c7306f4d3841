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

use rayon::prelude::*;

use super::assign::hungarian;
use super::TrainError;
use crate::features::lifecycle::{SegmentValue, Stage, ValueModel};
use crate::features::spec::{median, Candidate, RawColumn};
use crate::model::segment::base_name;

pub use crate::model::segment::{FeatureProfile, LevelShare, Rename, Segment, Standing, Tier};

/// Segments and the renames of kept segments.
#[derive(Clone, Debug, PartialEq)]
pub struct Built {
    pub segments: Vec<Segment>,
    pub renames: Vec<Rename>,
}

/// Mid-rank percentile of `x` in a sorted population.
pub fn percentile(sorted: &[f64], x: f64) -> f64 {
    let below = sorted.partition_point(|v| *v < x);
    let through = sorted.partition_point(|v| *v <= x);
    mid_rank(below, through, sorted.len())
}

/// Mid-rank percentile from the counts of values below and at or below a value among `n`
/// (0.5 in an empty population).
fn mid_rank(below: usize, through: usize, n: usize) -> f64 {
    if n == 0 {
        return 0.5;
    }
    (below as f64 + 0.5 * (through - below) as f64) / n as f64
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

fn segment_median(v: &[Option<f64>], members: &[usize]) -> Option<f64> {
    let vals: Vec<f64> = members.iter().filter_map(|&i| v[i]).collect();
    (!vals.is_empty()).then(|| median(&vals))
}

/// Each segment's median of `v` and its mid-rank percentile among all present values of
/// `v` (what [`percentile`] gives on the sorted population), by counting in one parallel
/// pass rather than sorting; `None` for a segment without a present value.
fn median_percentiles(v: &[Option<f64>], members: &[Vec<usize>]) -> Vec<Option<(f64, f64)>> {
    let medians: Vec<Option<f64>> = members.par_iter().map(|m| segment_median(v, m)).collect();
    let xs: Vec<f64> = medians.iter().flatten().copied().collect();
    // (present values, values below each x, values at or below each x); integer sums, so
    // the chunking does not change them.
    let (n, below, through) = v
        .par_chunks(1 << 16)
        .map(|chunk| {
            let present: Vec<f64> = chunk.iter().flatten().copied().collect();
            let below = counts(&present, &xs, |w, x| w < x);
            (present.len(), below, counts(&present, &xs, |w, x| w <= x))
        })
        .reduce(
            || (0, vec![0; xs.len()], vec![0; xs.len()]),
            |(n, mut b, mut t), (n2, b2, t2)| {
                b.iter_mut().zip(b2).for_each(|(a, c)| *a += c);
                t.iter_mut().zip(t2).for_each(|(a, c)| *a += c);
                (n + n2, b, t)
            },
        );
    let mut ranks = below
        .into_iter()
        .zip(through)
        .map(|(b, t)| mid_rank(b, t, n));
    medians
        .iter()
        .map(|m| m.and_then(|x| Some((x, ranks.next()?))))
        .collect()
}

/// For each of `xs`, how many of `values` `keep(value, x)` holds for.
fn counts(values: &[f64], xs: &[f64], keep: impl Fn(f64, f64) -> bool) -> Vec<usize> {
    let n = |x: f64| values.iter().filter(|&&w| keep(w, x)).count();
    xs.iter().map(|&x| n(x)).collect()
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
    /// Name a cluster keeps from the previous version (by position) while it still fits;
    /// empty: none.
    pub inherited: &'a [Option<String>],
    /// Fitted RFM cut points and purchase rhythm (models on transactions), for the scores and
    /// lifecycle stages names are judged by.
    pub lifecycle: Option<&'a ValueModel>,
    /// Value and lifecycle mix of each cluster (by position); empty without a lifecycle.
    pub values: &'a [SegmentValue],
    /// Per-customer values tiers come from instead of the value column (predicted CLV), if
    /// any; revenue shares stay the value column's.
    pub tier_values: Option<&'a [f64]>,
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

/// Profiles, tiers and names for every segment, and the renames of kept segments.
pub fn build_segments(input: &SegmentInput) -> Result<Built, TrainError> {
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

    // Segments in parallel (each profile gathers and selects over its members).
    let mut segments: Vec<Segment> = (0..input.k)
        .into_par_iter()
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
                size: size as u64,
                share_customers: size as f64 / n.max(1) as f64,
                share_revenue,
                profile: profile(input, &members[j]),
                value: input.values.get(j).cloned(),
                ..Segment::empty(j, "", Tier::Medium)
            }
        })
        .collect();

    // Tiers from the value column, or from the given per-customer values.
    let tier_values: Option<Vec<Option<f64>>> = input
        .tier_values
        .map(|v| v.iter().map(|x| Some(*x)).collect())
        .or_else(|| value.clone());
    if let Some(v) = &tier_values {
        let standing = median_percentiles(v, &members);
        for s in &mut segments {
            if let Some((_, p)) = standing[s.id] {
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
    let mut renames = Vec::new();
    if let (Some((_, r)), Some((_, f)), Some((_, m))) = (r, f, monetary) {
        let stand = |v: &[Option<f64>]| -> Vec<f64> {
            let p = median_percentiles(v, &members);
            p.into_iter().map(|p| p.map_or(0.5, |(_, p)| p)).collect()
        };
        let (rs, fs, ms) = (stand(r), stand(f), stand(m));
        let ts = t.map(|(_, t)| stand(t));
        for s in &mut segments {
            let j = s.id;
            s.standing = Some(Standing {
                recency: 1.0 - rs[j],
                frequency: fs[j],
                monetary: ms[j],
                tenure: ts.as_ref().map(|ts| ts[j]),
            });
        }
        let ev = evidence(input, [r, f, m], &members);
        for (s, e) in segments.iter_mut().zip(&ev) {
            if e.returner() {
                s.tier = Tier::Low;
            }
        }
        renames = name_by_rfm(&mut segments, &ev, input.inherited, input.overrides);
        warn_contradicting_overrides(&segments, &ev, input.overrides, input.ids);
    } else {
        name_by_profile(input, &mut segments, &members);
    }
    for (j, s) in segments.iter_mut().enumerate() {
        if let Some(id) = input.ids.get(j) {
            s.id = *id;
        }
    }
    let ids: Vec<usize> = renames.iter().map(|r| segments[r.0].id).collect();
    apply_overrides(&mut segments, input.overrides)?;
    let renames = finish_renames(&segments, renames, &ids);
    Ok(Built { segments, renames })
}

/// Renames (position, old name, why) with the final ids and names; a segment whose final
/// name is its old one (an override) is not renamed.
fn finish_renames(
    segments: &[Segment],
    renames: Vec<(usize, String, String)>,
    ids: &[usize],
) -> Vec<Rename> {
    renames
        .into_iter()
        .zip(ids)
        .filter_map(|((j, from, reason), &id)| {
            let to = segments[j].name.clone();
            (to != from).then_some(Rename {
                id,
                from,
                to,
                reason,
            })
        })
        .collect()
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
                    missing_share: 1.0 - present as f64 / members.len().max(1) as f64,
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

/// Which lifecycle condition a convention name needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Group {
    /// Champions, Loyal, Potential Loyalist, New, Promising: fewer than half churned.
    Active,
    /// Need Attention, About to Sleep: fewer than half churned.
    Drifting,
    /// At Risk, Can't Lose Them, Hibernating, Lost: fewer than half active or new.
    Lapsed,
}

/// The RFM convention for one name: score ranges (1..5, inclusive), the lifecycle group, the
/// least median M score, and a prototype (mean scores, churned share) that orders the names a
/// segment is allowed.
struct NameRule {
    name: &'static str,
    r: (u8, u8),
    f: (u8, u8),
    m: (u8, u8),
    group: Group,
    min_m: u8,
    target: [f64; 3],
    churned: f64,
}

const fn rule(
    name: &'static str,
    r: (u8, u8),
    f: (u8, u8),
    m: (u8, u8),
    group: Group,
    target: [f64; 3],
    churned: f64,
) -> NameRule {
    NameRule {
        name,
        r,
        f,
        m,
        group,
        min_m: 1,
        target,
        churned,
    }
}

/// The eleven RFM convention names. Hibernating and Lost share their score ranges; Lost is
/// the lower-recency, more-churned of the two.
const RULES: [NameRule; 11] = [
    rule(
        "Champions",
        (4, 5),
        (4, 5),
        (4, 5),
        Group::Active,
        [5.0, 5.0, 5.0],
        0.05,
    ),
    rule(
        "Loyal",
        (2, 5),
        (3, 5),
        (3, 5),
        Group::Active,
        [4.0, 4.0, 4.0],
        0.1,
    ),
    rule(
        "Potential Loyalist",
        (3, 5),
        (1, 3),
        (1, 3),
        Group::Active,
        [4.5, 2.5, 2.5],
        0.05,
    ),
    rule(
        "New",
        (4, 5),
        (1, 1),
        (1, 1),
        Group::Active,
        [5.0, 1.0, 1.0],
        0.0,
    ),
    rule(
        "Promising",
        (3, 4),
        (1, 1),
        (1, 1),
        Group::Active,
        [3.5, 1.0, 1.0],
        0.1,
    ),
    rule(
        "Need Attention",
        (2, 3),
        (2, 3),
        (2, 3),
        Group::Drifting,
        [2.5, 2.5, 2.5],
        0.3,
    ),
    rule(
        "About to Sleep",
        (2, 3),
        (1, 2),
        (1, 2),
        Group::Drifting,
        [2.5, 1.5, 1.5],
        0.4,
    ),
    NameRule {
        min_m: 3,
        ..rule(
            "At Risk",
            (1, 2),
            (2, 5),
            (2, 5),
            Group::Lapsed,
            [1.5, 3.5, 3.5],
            0.6,
        )
    },
    NameRule {
        min_m: 3,
        ..rule(
            "Can't Lose Them",
            (1, 1),
            (4, 5),
            (4, 5),
            Group::Lapsed,
            [1.0, 4.5, 4.5],
            0.6,
        )
    },
    rule(
        "Hibernating",
        (1, 2),
        (1, 2),
        (1, 2),
        Group::Lapsed,
        [1.8, 1.5, 1.5],
        0.6,
    ),
    rule(
        "Lost",
        (1, 2),
        (1, 2),
        (1, 2),
        Group::Lapsed,
        [1.0, 1.0, 1.0],
        0.9,
    ),
];

/// The name of segments whose median net monetary is zero or less.
pub const RETURNERS: &str = "Returners";

/// The name of segments whose median member never bought (customers with events only,
/// segmented with `include_browsers`).
pub const BROWSERS: &str = "Browsers";

/// The numbers a segment's name is judged by.
#[derive(Clone, Debug, PartialEq)]
pub struct NameEvidence {
    /// Median R, F and M quintile scores of the members (the lower middle value for an even
    /// count).
    pub scores: [u8; 3],
    /// Mean R, F and M scores (order the allowed names).
    pub mean_scores: [f64; 3],
    /// Shares new, active, at_risk, churned; None without a lifecycle.
    pub stages: Option<[f64; 4]>,
    /// Median net monetary of the members.
    pub median_monetary: Option<f64>,
    /// Median frequency of the members.
    pub median_frequency: Option<f64>,
}

impl NameEvidence {
    /// Median net monetary ≤ 0: returns cancel the purchases (and the members bought).
    pub fn returner(&self) -> bool {
        !self.browser() && self.median_monetary.is_some_and(|m| m <= 0.0)
    }

    /// Median frequency 0: most members never bought.
    pub fn browser(&self) -> bool {
        self.median_frequency == Some(0.0)
    }

    fn churned(&self) -> Option<f64> {
        self.stages.map(|s| s[Stage::Churned as usize])
    }

    fn active_or_new(&self) -> Option<f64> {
        self.stages
            .map(|s| s[Stage::Active as usize] + s[Stage::New as usize])
    }

    /// `median R2 F1 M2; 31% churned, 40% active, 3% new`.
    pub fn describe(&self) -> String {
        let [r, f, m] = self.scores;
        let mix = match self.stages {
            Some(s) => format!(
                "{:.0}% churned, {:.0}% at risk, {:.0}% active, {:.0}% new",
                100.0 * s[3],
                100.0 * s[2],
                100.0 * s[1],
                100.0 * s[0]
            ),
            None => "lifecycle unknown (no tenure)".to_string(),
        };
        format!("median R{r} F{f} M{m}; {mix}")
    }
}

fn lower_median(mut v: Vec<u8>) -> u8 {
    v.sort_unstable();
    v.get(v.len().saturating_sub(1) / 2).copied().unwrap_or(3)
}

/// Per segment: median and mean RFM scores (the model's cut points, or cut points fitted on
/// these customers when the model has no lifecycle), lifecycle mix and median monetary.
fn evidence(
    input: &SegmentInput,
    [r, f, m]: [&[Option<f64>]; 3],
    members: &[Vec<usize>],
) -> Vec<NameEvidence> {
    let local;
    let vm = match input.lifecycle {
        Some(vm) => vm,
        None => {
            let rows: Vec<[f64; 3]> = (0..r.len())
                .filter_map(|i| Some([r[i]?, f[i]?, m[i]?]))
                .collect();
            let col = |j: usize| rows.iter().map(|x| x[j]).collect::<Vec<f64>>();
            // Only the cut points are used: without tenure there are no stages.
            local = ValueModel::fit(&col(0), &col(1), &col(2), &col(0));
            match &local {
                Some(vm) => vm,
                None => return Vec::new(),
            }
        }
    };
    members
        .iter()
        .enumerate()
        .map(|(j, mem)| {
            let sc: Vec<[u8; 3]> = mem
                .iter()
                .filter_map(|&i| {
                    let s = vm.scores(r[i]?, f[i]?, m[i]?);
                    Some([s.r, s.f, s.m])
                })
                .collect();
            let pick = |d: usize| sc.iter().map(|s| s[d]).collect::<Vec<u8>>();
            let mean =
                |d: usize| sc.iter().map(|s| f64::from(s[d])).sum::<f64>() / sc.len().max(1) as f64;
            let stages = input.values.get(j).and_then(|v| {
                let total = v.stages.iter().sum::<u64>();
                (total > 0).then(|| v.stages.map(|c| c as f64 / total as f64))
            });
            NameEvidence {
                scores: [
                    lower_median(pick(0)),
                    lower_median(pick(1)),
                    lower_median(pick(2)),
                ],
                mean_scores: [mean(0), mean(1), mean(2)],
                stages,
                median_monetary: segment_median(m, mem),
                median_frequency: segment_median(f, mem),
            }
        })
        .collect()
}

fn rule_of(name: &str) -> Option<&'static NameRule> {
    RULES.iter().find(|r| r.name.eq_ignore_ascii_case(name))
}

/// Why `rule` does not fit `ev`, or None when it fits.
fn misfit(rule: &NameRule, ev: &NameEvidence) -> Option<String> {
    if ev.browser() {
        return Some("median frequency 0 (browsers who never bought)".into());
    }
    if ev.returner() {
        return Some(format!(
            "median net monetary {} ≤ 0 (returners)",
            fmt_money(ev.median_monetary)
        ));
    }
    let within = |x: u8, (lo, hi): (u8, u8)| x + 1 >= lo && x <= hi + 1;
    for (letter, x, range) in [
        ('R', ev.scores[0], rule.r),
        ('F', ev.scores[1], rule.f),
        ('M', ev.scores[2], rule.m),
    ] {
        if !within(x, range) {
            return Some(format!(
                "median {letter}{x} is more than one level outside {letter}{}-{} for {}",
                range.0, range.1, rule.name
            ));
        }
    }
    if ev.scores[2] < rule.min_m {
        return Some(format!(
            "median M{} is below M{} for {}",
            ev.scores[2], rule.min_m, rule.name
        ));
    }
    match rule.group {
        Group::Active | Group::Drifting => ev
            .churned()
            .filter(|c| *c >= 0.5)
            .map(|c| format!("{:.0}% churned (needs < 50% for {})", 100.0 * c, rule.name)),
        Group::Lapsed => ev.active_or_new().filter(|a| *a >= 0.5).map(|a| {
            format!(
                "{:.0}% active or new (needs < 50% for {})",
                100.0 * a,
                rule.name
            )
        }),
    }
}

fn fmt_money(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.2}"))
}

/// Distance of the median scores (and, a tenth as much, the mean scores) and the churned
/// share to the name's prototype.
fn rule_cost(rule: &NameRule, ev: &NameEvidence) -> f64 {
    let d: f64 = (0..3)
        .map(|i| {
            let t = rule.target[i];
            (f64::from(ev.scores[i]) - t).powi(2) + 0.1 * (ev.mean_scores[i] - t).powi(2)
        })
        .sum();
    d + ev
        .churned()
        .map_or(0.0, |c| 4.0 * (c - rule.churned).powi(2))
}

/// A descriptive name from the numbers, for a segment no convention name fits:
/// `{Lapsed|Fading|Active|Recent} {one-time|occasional|frequent} {low|mid|high} spenders`.
pub fn descriptive_name(ev: &NameEvidence) -> String {
    let [r, f, m] = ev.scores;
    let state = match (ev.churned(), ev.active_or_new()) {
        (Some(c), _) if c >= 0.5 => "Lapsed",
        (Some(_), Some(a)) if a >= 0.5 && r >= 4 => "Recent",
        (Some(_), Some(a)) if a >= 0.5 => "Active",
        (Some(_), _) => "Fading",
        _ if r >= 4 => "Recent",
        _ if r == 3 => "Fading",
        _ => "Lapsed",
    };
    let freq = match f {
        0 | 1 => "one-time",
        2 | 3 => "occasional",
        _ => "frequent",
    };
    let spend = match m {
        0..=2 => "low",
        3 => "mid",
        _ => "high",
    };
    format!("{state} {freq} {spend} spenders")
}

/// Why `name` (a name custseg gave) does not fit `ev`, or None when it still does.
fn name_misfit(name: &str, ev: &NameEvidence) -> Option<String> {
    let base = base_name(name);
    if ev.browser() {
        return (base != BROWSERS).then(|| "median frequency 0 (browsers)".to_string());
    }
    if ev.returner() {
        return (base != RETURNERS).then(|| {
            format!(
                "median net monetary {} ≤ 0 (returners)",
                fmt_money(ev.median_monetary)
            )
        });
    }
    if let Some(rule) = rule_of(base) {
        return misfit(rule, ev);
    }
    let now = descriptive_name(ev);
    (base != now).then(|| format!("{} describes it now", now))
}

fn unique(name: String, ev: &NameEvidence, taken: &[String]) -> String {
    if !taken.contains(&name) {
        return name;
    }
    let [r, f, m] = ev.scores;
    let with_scores = format!("{name} (R{r} F{f} M{m})");
    if !taken.contains(&with_scores) {
        return with_scores;
    }
    (2..)
        .map(|n| format!("{name} ({n})"))
        .find(|c| !taken.contains(c))
        .unwrap_or(name)
}

/// Names segments after the RFM convention, among the names their own numbers allow, one
/// to one at the least total distance to the names' prototypes (Hungarian algorithm); a
/// segment no free name fits gets a descriptive name, and returners are `Returners`. A kept
/// segment keeps its inherited name while it still fits. Returns the kept segments renamed:
/// (position, old name, why).
///
/// A default name the config renames (`"Loyal" = "Core"`) counts as taken when its new name
/// is, so an override never produces a second `Core`.
fn name_by_rfm(
    segments: &mut [Segment],
    ev: &[NameEvidence],
    inherited: &[Option<String>],
    overrides: &BTreeMap<String, String>,
) -> Vec<(usize, String, String)> {
    let k = segments.len();
    let mut renames = Vec::new();
    let mut fixed: Vec<Option<String>> = vec![None; k];
    for j in 0..k {
        let Some(old) = inherited.get(j).cloned().flatten() else {
            continue;
        };
        // An inherited override's value is judged as the default name it replaced.
        let default = overrides
            .iter()
            .find(|(key, v)| **v == old && rule_of(key).is_some())
            .map_or(old.clone(), |(key, _)| key.clone());
        match name_misfit(&default, &ev[j]) {
            None => {
                fixed[j] = Some(default);
                segments[j].name_reason = Some(format!(
                    "{}; kept from the previous version",
                    ev[j].describe()
                ));
            }
            Some(why) => renames.push((j, old, why)),
        }
    }
    for j in 0..k {
        if fixed[j].is_none() && ev[j].browser() {
            let taken: Vec<String> = fixed.iter().flatten().cloned().collect();
            fixed[j] = Some(unique(BROWSERS.to_string(), &ev[j], &taken));
            segments[j].name_reason = Some(format!(
                "median frequency 0: most members browse but never bought; {}",
                ev[j].describe()
            ));
        }
        if fixed[j].is_none() && ev[j].returner() {
            let taken: Vec<String> = fixed.iter().flatten().cloned().collect();
            fixed[j] = Some(unique(RETURNERS.to_string(), &ev[j], &taken));
            segments[j].name_reason = Some(format!(
                "median net monetary {} ≤ 0: returns cancel the purchases; {}",
                fmt_money(ev[j].median_monetary),
                ev[j].describe()
            ));
        }
    }
    let taken: Vec<String> = fixed
        .iter()
        .flatten()
        .map(|n| base_name(n).to_string())
        .collect();
    let is_taken = |name: &str| {
        taken.iter().any(|t| t == name) || overrides.get(name).is_some_and(|o| taken.contains(o))
    };
    let free: Vec<usize> = (0..k).filter(|&j| fixed[j].is_none()).collect();
    // Columns: the eleven names, then one descriptive fallback per free segment.
    let cost: Vec<Vec<f64>> = free
        .iter()
        .map(|&j| {
            let mut row: Vec<f64> = RULES
                .iter()
                .map(|r| match misfit(r, &ev[j]) {
                    None if !is_taken(r.name) => rule_cost(r, &ev[j]),
                    _ => 1e9,
                })
                .collect();
            row.extend(std::iter::repeat_n(1e6, free.len()));
            row
        })
        .collect();
    for (row, (&j, col)) in free.iter().zip(hungarian(&cost)).enumerate() {
        let reason = ev[j].describe();
        if cost[row][col] < 1e6 {
            fixed[j] = Some(RULES[col].name.to_string());
            segments[j].name_reason = Some(reason);
        } else {
            let fits: Vec<&str> = RULES
                .iter()
                .filter(|r| misfit(r, &ev[j]).is_none())
                .map(|r| r.name)
                .collect();
            let why = if fits.is_empty() {
                "no RFM name fits".to_string()
            } else {
                format!("{} fits but is taken", fits.join(", "))
            };
            let taken: Vec<String> = fixed.iter().flatten().cloned().collect();
            fixed[j] = Some(unique(descriptive_name(&ev[j]), &ev[j], &taken));
            segments[j].name_reason = Some(format!("{reason}; {why}"));
        }
    }
    for (s, name) in segments.iter_mut().zip(fixed) {
        s.name = name.unwrap_or_default();
    }
    renames
}

/// Warns, naming the segment, where a config override gives a convention name (or
/// `Returners`) its numbers contradict. The override still wins.
fn warn_contradicting_overrides(
    segments: &[Segment],
    ev: &[NameEvidence],
    overrides: &BTreeMap<String, String>,
    ids: &[usize],
) {
    for (j, s) in segments.iter().enumerate() {
        let id = ids.get(j).copied().unwrap_or(s.id);
        let Some(new) = overrides
            .get(&s.name)
            .or_else(|| overrides.get(&id.to_string()))
        else {
            continue;
        };
        let judged = rule_of(new).is_some() || [RETURNERS, BROWSERS].contains(&base_name(new));
        if let Some(why) = judged.then(|| name_misfit(new, &ev[j])).flatten() {
            tracing::warn!(
                "segment {id} is named '{new}' by the config's [segments.names], but its numbers contradict it: {why} ({})",
                ev[j].describe()
            );
        }
    }
}

fn name_by_profile(input: &SegmentInput, segments: &mut [Segment], members: &[Vec<usize>]) {
    let mut taken: Vec<String> = input.inherited.iter().flatten().cloned().collect();
    let used: Vec<&Candidate> = input
        .candidates
        .iter()
        .filter(|c| input.used.contains(&c.name))
        .collect();
    // Each numeric column's segment medians and their percentiles, once for all segments.
    let standing: Vec<Vec<Option<(f64, f64)>>> = used
        .iter()
        .map(|c| match &c.values {
            RawColumn::Numbers(v) => median_percentiles(v, members),
            RawColumn::Labels(_) => Vec::new(),
        })
        .collect();
    for (j, s) in segments.iter_mut().enumerate() {
        if let Some(Some(name)) = input.inherited.get(j) {
            s.name = name.clone();
            s.name_reason = Some("kept from the previous version".into());
            continue;
        }
        let mut descriptors: Vec<(f64, String, String)> = Vec::new();
        for (c, standing) in used.iter().zip(&standing) {
            let label = c.column.clone().unwrap_or_else(|| c.name.replace('_', " "));
            match &c.values {
                RawColumn::Numbers(_) => {
                    if let Some((m, p)) = standing[s.id] {
                        let word = if p >= 2.0 / 3.0 {
                            "High"
                        } else if p < 1.0 / 3.0 {
                            "Low"
                        } else {
                            "Mid"
                        };
                        descriptors.push((
                            (p - 0.5).abs(),
                            format!("{word} {label}"),
                            format!(
                                "median {label} {} at percentile {:.0}",
                                fmt_money(Some(m)),
                                100.0 * p
                            ),
                        ));
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
                            descriptors.push((
                                (share_in - share_all).min(0.5),
                                format!("{label}: {top}"),
                                format!(
                                    "{:.0}% {label} {top} ({:.0}% overall)",
                                    100.0 * share_in,
                                    100.0 * share_all
                                ),
                            ));
                        }
                    }
                }
            }
        }
        descriptors.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut name = descriptors
            .iter()
            .take(2)
            .map(|(_, d, _)| d.clone())
            .collect::<Vec<_>>()
            .join(", ");
        let reason = descriptors
            .iter()
            .take(2)
            .map(|(_, _, r)| r.clone())
            .collect::<Vec<_>>()
            .join("; ");
        s.name_reason = Some(if reason.is_empty() {
            "no feature sets it apart".to_string()
        } else {
            reason
        });
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
    if let Some((key, name)) = overrides
        .iter()
        .find(|(_, n)| crate::data::is_formula_like(n))
    {
        return Err(TrainError::FormulaSegmentName {
            key: key.clone(),
            name: name.clone(),
        });
    }
    for s in segments.iter_mut() {
        if let Some(new) = overrides
            .get(&s.name)
            .or_else(|| overrides.get(&s.id.to_string()))
        {
            let numbers = s
                .name_reason
                .as_deref()
                .map(|r| format!(" (default name {}: {r})", s.name))
                .unwrap_or_default();
            s.name_reason = Some(format!("set in config{numbers}"));
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
    fn median_percentiles_equal_percentiles_in_the_sorted_population() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_xoshiro::Xoshiro256Plus::seed_from_u64(4);
        // 200k values over 4 parallel chunks: few distinct (ties), a fifth missing, one
        // segment without a present value.
        let v: Vec<Option<f64>> = (0..200_000)
            .map(|i| (i % 5 != 0).then(|| f64::from(rng.gen_range(-20..40i32)) / 4.0))
            .collect();
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); 6];
        for i in 0..v.len() {
            members[rng.gen_range(0..5)].push(i);
        }
        members[5] = (0..v.len()).step_by(5).collect();
        let mut sorted: Vec<f64> = v.iter().flatten().copied().collect();
        sorted.sort_by(f64::total_cmp);
        let got = median_percentiles(&v, &members);
        for (j, m) in members.iter().enumerate() {
            let want = segment_median(&v, m).map(|x| (x, percentile(&sorted, x)));
            assert_eq!(got[j], want, "segment {j}");
        }
        assert_eq!(got[5], None);
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
            lifecycle: None,
            values: &[],
            tier_values: None,
        })
        .unwrap()
        .segments;
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
            lifecycle: None,
            values: &[],
            tier_values: None,
        })
        .unwrap()
        .segments;
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
            lifecycle: None,
            values: &[],
            tier_values: None,
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
            lifecycle: None,
            values: &[],
            tier_values: None,
        })
        .unwrap()
        .segments;
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
            lifecycle: None,
            values: &[],
            tier_values: None,
        })
        .unwrap()
        .segments
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

    fn ev(scores: [u8; 3], churned: f64, active: f64) -> NameEvidence {
        NameEvidence {
            scores,
            mean_scores: scores.map(f64::from),
            stages: Some([0.0, active, 1.0 - churned - active, churned]),
            median_monetary: Some(50.0),
            median_frequency: Some(3.0),
        }
    }

    fn fits(name: &str, e: &NameEvidence) -> bool {
        misfit(rule_of(name).unwrap(), e).is_none()
    }

    fn blank(n: usize) -> Vec<Segment> {
        let s = Segment {
            size: 1,
            ..Segment::empty(0, "", Tier::Medium)
        };
        (0..n).map(|id| Segment { id, ..s.clone() }).collect()
    }

    #[test]
    fn scores_must_fit_within_one_level() {
        assert!(fits("Champions", &ev([3, 4, 5], 0.1, 0.8)));
        assert!(!fits("Champions", &ev([2, 5, 5], 0.1, 0.8)));
        assert!(fits("New", &ev([4, 2, 2], 0.0, 1.0)));
        assert!(!fits("New", &ev([5, 3, 1], 0.0, 1.0)));
        assert!(fits("Can't Lose Them", &ev([2, 3, 3], 0.6, 0.1)));
        assert!(!fits("Can't Lose Them", &ev([3, 5, 5], 0.6, 0.1)));
    }

    #[test]
    fn active_and_drifting_names_need_fewer_than_half_churned() {
        // CDNOW at k = 2: median R2 F1 M2, 92% churned was `About to Sleep`.
        let e = ev([2, 1, 2], 0.92, 0.05);
        assert!(!fits("About to Sleep", &e));
        assert!(!fits("Need Attention", &e));
        assert!(fits("About to Sleep", &ev([2, 1, 2], 0.49, 0.3)));
        assert!(!fits("Potential Loyalist", &ev([3, 2, 2], 0.5, 0.3)));
    }

    #[test]
    fn lapsed_names_need_fewer_than_half_active_or_new() {
        let e = ev([2, 1, 1], 0.2, 0.6);
        for n in ["Hibernating", "Lost", "At Risk"] {
            assert!(!fits(n, &e), "{n}");
        }
        assert!(fits("Hibernating", &ev([2, 1, 1], 0.4, 0.4)));
    }

    #[test]
    fn at_risk_and_cant_lose_them_need_m_score_three() {
        assert!(!fits("At Risk", &ev([1, 3, 2], 0.8, 0.1)));
        assert!(fits("At Risk", &ev([1, 3, 3], 0.8, 0.1)));
        assert!(!fits("Can't Lose Them", &ev([1, 5, 2], 0.8, 0.1)));
    }

    #[test]
    fn lost_is_the_more_churned_of_hibernating_and_lost() {
        let mut segs = blank(2);
        let e = [ev([2, 1, 1], 0.95, 0.02), ev([2, 1, 1], 0.6, 0.2)];
        name_by_rfm(&mut segs, &e, &[], &BTreeMap::new());
        assert_eq!(segs[0].name, "Lost");
        assert_eq!(segs[1].name, "Hibernating");
        assert!(segs[0]
            .name_reason
            .as_deref()
            .unwrap()
            .contains("95% churned"));
    }

    #[test]
    fn returners_are_named_for_it_with_tier_low() {
        // Customers 0-1 spend, 2-3 returned everything (net monetary 0 and below).
        let cands = vec![
            num("recency_days", vec![5.0, 8.0, 100.0, 120.0]),
            num("frequency", vec![4.0, 5.0, 1.0, 1.0]),
            num("monetary", vec![500.0, 800.0, 0.0, -3.0]),
        ];
        let used: Vec<String> = cands.iter().map(|c| c.name.clone()).collect();
        let b = build_segments(&SegmentInput {
            candidates: &cands,
            used: &used,
            labels: &[0, 0, 1, 1],
            k: 2,
            value_feature: None,
            overrides: &BTreeMap::new(),
            ids: &[],
            inherited: &[],
            lifecycle: None,
            values: &[],
            tier_values: None,
        })
        .unwrap();
        assert_eq!(b.segments[1].name, RETURNERS);
        assert_eq!(b.segments[1].tier, Tier::Low);
        let reason = b.segments[1].name_reason.as_deref().unwrap();
        assert!(reason.contains("≤ 0"), "{reason}");
        assert_ne!(b.segments[0].name, RETURNERS);
    }

    #[test]
    fn descriptive_name_where_no_rfm_name_fits_and_names_stay_unique() {
        // Recent one-time buyers, mostly churned: no convention name fits.
        let e = ev([5, 1, 1], 0.7, 0.1);
        assert!(RULES.iter().all(|r| misfit(r, &e).is_some()));
        let mut segs = blank(3);
        name_by_rfm(&mut segs, &[e.clone(), e.clone(), e], &[], &BTreeMap::new());
        assert_eq!(segs[0].name, "Lapsed one-time low spenders");
        assert!(segs[0]
            .name_reason
            .as_deref()
            .unwrap()
            .contains("no RFM name fits"));
        let mut names: Vec<&str> = segs.iter().map(|s| s.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 3, "{names:?}");
    }

    #[test]
    fn fitting_names_taken_give_a_descriptive_name() {
        let e = ev([5, 5, 5], 0.05, 0.9);
        let mut segs = blank(2);
        name_by_rfm(&mut segs, &[e.clone(), e], &[], &BTreeMap::new());
        let names: Vec<&str> = segs.iter().map(|s| s.name.as_str()).collect();
        assert!(
            names.contains(&"Champions") || names.contains(&"Loyal"),
            "{names:?}"
        );
        assert!(segs.iter().all(|s| !s.name.is_empty()));
        assert_ne!(segs[0].name, segs[1].name);
    }

    #[test]
    fn a_kept_segment_is_renamed_when_its_name_no_longer_fits() {
        let mut segs = blank(2);
        let e = [ev([2, 1, 2], 0.92, 0.05), ev([5, 5, 5], 0.05, 0.9)];
        let inherited = [
            Some("About to Sleep".to_string()),
            Some("Champions".to_string()),
        ];
        let renames = name_by_rfm(&mut segs, &e, &inherited, &BTreeMap::new());
        assert_eq!(segs[1].name, "Champions", "a name that still fits is kept");
        assert!(segs[1].name_reason.as_deref().unwrap().contains("kept"));
        assert_ne!(segs[0].name, "About to Sleep");
        assert_eq!(renames.len(), 1);
        let (pos, from, why) = &renames[0];
        assert_eq!((*pos, from.as_str()), (0, "About to Sleep"));
        assert!(why.contains("92% churned"), "{why}");
    }

    #[test]
    fn a_kept_segment_that_became_returners_is_renamed() {
        let mut segs = blank(1);
        let mut e = ev([2, 1, 1], 0.4, 0.3);
        e.median_monetary = Some(0.0);
        let renames = name_by_rfm(
            &mut segs,
            &[e],
            &[Some("About to Sleep".into())],
            &BTreeMap::new(),
        );
        assert_eq!(segs[0].name, RETURNERS);
        assert_eq!(renames.len(), 1);
    }

    #[test]
    fn an_override_that_contradicts_the_numbers_wins_and_says_set_in_config() {
        let mut segs = blank(1);
        let e = [ev([1, 1, 1], 0.95, 0.0)];
        name_by_rfm(&mut segs, &e, &[], &BTreeMap::new());
        let mut o = BTreeMap::new();
        o.insert("0".to_string(), "Champions".to_string());
        warn_contradicting_overrides(&segs, &e, &o, &[]);
        apply_overrides(&mut segs, &o).unwrap();
        assert_eq!(segs[0].name, "Champions");
        assert!(segs[0]
            .name_reason
            .as_deref()
            .unwrap()
            .starts_with("set in config"));
        assert!(name_misfit("Champions", &e[0]).is_some());
    }

    #[test]
    fn an_override_that_a_spreadsheet_would_run_is_refused() {
        let mut segs = blank(1);
        let mut o = BTreeMap::new();
        o.insert("0".to_string(), "=HYPERLINK(\"http://x\")".to_string());
        let err = apply_overrides(&mut segs, &o);
        assert!(
            matches!(&err, Err(TrainError::FormulaSegmentName { key, .. }) if key == "0"),
            "{err:?}"
        );
        assert_ne!(segs[0].name, o["0"]);
    }
}
