//! The training pipeline: read and clean inputs, compute features as of a date, fit the
//! feature spec, search k on a seeded sample (or use the given k), fit k-means on all
//! customers, then profile and name the segments.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use rayon::prelude::*;

use ndarray::{Array2, Axis};

use super::kmeans::{self, KmFit};
use super::lineage;
use super::params::{KChoice, TrainValidParams};
use super::quality::{calinski_harabasz, davies_bouldin, sample_rows, silhouette, silhouettes};
use super::segments::{build_segments, SegmentInput};
use super::TrainError;
use crate::data::dates::format_day;
use crate::data::events::EventLog;
use crate::data::{self, ColumnMap, CustomerTable, TransactionLog, TxnField};
use crate::features::behaviour::{compute as compute_behaviour, Behaviour};
use crate::features::lifecycle::{SegmentValue, ValueModel};
use crate::features::rfm::{compute_rfm, in_window, purchase_summary, RFM_FEATURES};
use crate::features::spec::{self, Candidate, RawColumn, Source};
use crate::features::table::{Derivation, Typed};
use crate::features::{self, FeatureConfig, FeatureError, RawValue};
use crate::model::format::{
    DataReport, InputRecord, KPoint, Metrics, ModelFile, ParamsRecord, Timings, FORMAT_VERSION,
};
use crate::model::Model;
use crate::progress::Progress;

/// Training's result: a [`TrainError`], which carries the data and feature errors too.
pub type Result<T, E = TrainError> = std::result::Result<T, E>;

/// What to train on.
#[derive(Clone, Debug, Default)]
pub struct TrainInputs {
    /// Transaction log paths (files, directories, globs).
    pub transactions: Vec<PathBuf>,
    /// Customer table paths.
    pub customers: Vec<PathBuf>,
    /// `--map` pairs.
    pub map: ColumnMap,
    /// Feature declarations.
    pub features: FeatureConfig,
    /// Segment name overrides (default name or id → name).
    pub segment_names: BTreeMap<String, String>,
    /// Playbook overrides (segment name or id → the fields to replace).
    pub playbooks: BTreeMap<String, crate::model::PlaybookOverride>,
    /// Value feature for tiers when there is no `monetary`.
    pub value_feature: Option<String>,
    /// Tiers by the segments' median predicted CLV instead of the value column (`tier_by =
    /// "predicted_clv"`), when the model has a value model.
    pub tier_by_predicted_clv: bool,
    /// Interaction log paths (beside a transaction log).
    pub events: Vec<PathBuf>,
    /// Segment customers with events but no purchase in the window too (`include_browsers`).
    pub include_browsers: bool,
}

/// Per-customer training results.
#[derive(Clone, Debug, Default)]
pub struct Assignments {
    /// Customer ids.
    pub ids: Vec<String>,
    /// Feature values in original units (the features the model uses).
    pub columns: Vec<Candidate>,
    /// Segment of each customer.
    pub labels: Vec<usize>,
    /// Euclidean distance to the segment's centroid (scaled space).
    pub distances: Vec<f64>,
    /// Predicted value of each customer (empty without a value model).
    pub values: Vec<crate::value::CustomerValue>,
}

/// Everything a model version holds. `model.name`, `version` and `created_at` are filled
/// in by the registry when it saves the version.
#[derive(Clone, Debug)]
pub struct TrainOutput {
    pub model: ModelFile,
    pub metrics: Metrics,
    pub assignments: Assignments,
    /// Scaled training matrix (rows in assignment order).
    pub matrix: Array2<f64>,
}

struct Population {
    ids: Vec<String>,
    rfm: Vec<[f64; 5]>,
    /// Purchase summaries for the value model (customers from transactions).
    summaries: Vec<crate::value::Rfm>,
    /// The behaviour features the log offers, and each customer's (empty when none).
    offered: Vec<&'static str>,
    behaviour: Vec<Behaviour>,
    table_rows: Vec<Option<usize>>,
    /// The `days_since_visit` of a customer without events (with an interaction log).
    no_visit_days: Option<f64>,
}

/// The behaviour features `log` offers ([`features::behaviour::Offered`]).
fn offered(log: &TransactionLog, events: Option<&EventLog>) -> Vec<&'static str> {
    let mapped = |f| log.behaviour_columns.iter().any(|(g, _)| *g == f);
    features::behaviour::Offered {
        product: mapped(TxnField::Product),
        country: mapped(TxnField::Country),
        discount: mapped(TxnField::Discount),
        returns: log.cleaning.returns > 0,
        times: log.has_times,
        category: mapped(TxnField::Category),
        channel: mapped(TxnField::Channel),
        events: events.is_some(),
        event_categories: events.is_some_and(EventLog::has_categories),
    }
    .features()
}

/// The days a customer without an event in the window counts since their last visit (and a
/// browser since their last purchase): the window, else from the inputs' first day.
fn no_visit_days(log: &TransactionLog, events: &EventLog, as_of: i32, window: Option<u32>) -> f64 {
    match window {
        Some(w) => f64::from(w),
        None => f64::from(as_of - log.first_day.min(events.first_day)),
    }
}

/// Adds the event features of every customer of `pop` from `events`, then, with
/// `include_browsers`, the customers with an event in the window and no purchase (their RFM
/// that of no purchase: recency the `no_visit_days`, the rest 0); browsers are counted
/// either way.
fn add_activity(
    pop: &mut Population,
    events: &EventLog,
    (as_of, window, no_visit): (i32, Option<u32>, f64),
    include_browsers: bool,
    report: &mut DataReport,
) {
    use features::behaviour::add_events;
    let cats = &events.categories;
    let rfm = &pop.rfm;
    let ids = &pop.ids;
    pop.behaviour.par_iter_mut().enumerate().for_each(|(i, b)| {
        add_events(
            b,
            events.of(&ids[i]),
            cats,
            as_of,
            window,
            rfm[i][1],
            no_visit,
        )
    });
    report.customers_without_events =
        pop.behaviour.iter().filter(|b| b.events == 0.0).count() as u64;
    let buyers: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
    let mut browsers = Vec::new();
    for (c, id) in events.customer_ids.iter().enumerate() {
        if buyers.contains(id.as_str()) {
            continue;
        }
        // Counted either way; made only when segmented.
        let evs = &events.events[c];
        if !include_browsers {
            browsers.extend(features::behaviour::active(evs, as_of, window).then_some(None));
            continue;
        }
        let made = features::behaviour::browser(evs, cats, as_of, window, no_visit);
        browsers.extend(made.map(|(r, b)| Some((c, r, b))));
    }
    report.browsers = browsers.len() as u64;
    report.browsers_included = include_browsers;
    for (c, r, b) in browsers.into_iter().flatten() {
        pop.ids.push(events.customer_ids[c].clone());
        pop.rfm.push(r.values());
        pop.behaviour.push(b);
    }
}

fn population(
    (log, events, table): (
        Option<&TransactionLog>,
        Option<&EventLog>,
        Option<&CustomerTable>,
    ),
    as_of: Option<i32>,
    window: Option<u32>,
    include_browsers: bool,
    report: &mut DataReport,
) -> Population {
    let mut pop = Population {
        ids: Vec::new(),
        rfm: Vec::new(),
        summaries: Vec::new(),
        offered: Vec::new(),
        behaviour: Vec::new(),
        table_rows: Vec::new(),
        no_visit_days: None,
    };
    match (log, as_of) {
        (Some(log), Some(as_of)) => {
            pop.offered = offered(log, events);
            let with_behaviour = !pop.offered.is_empty();
            // Per customer in parallel: (lines after as-of, lines before the window, id, RFM,
            // purchase summary and behaviour).
            type Per = (
                u64,
                u64,
                Option<(String, [f64; 5], crate::value::Rfm, Behaviour)>,
            );
            let per: Vec<Per> = (0..log.txns.len())
                .into_par_iter()
                .map(|c| {
                    let txns = log.txns.get(c);
                    let after = txns.iter().filter(|t| t.day >= as_of).count() as u64;
                    let before = txns
                        .iter()
                        .filter(|t| t.day < as_of && !in_window(t.day, as_of, window))
                        .count() as u64;
                    let behaviour = || match with_behaviour {
                        true => {
                            let b = log.txns.behaviour(c);
                            compute_behaviour(txns, b, &log.levels, as_of, window)
                        }
                        false => Some(Behaviour::default()),
                    };
                    let rfm = compute_rfm(txns, as_of, window).and_then(|r| {
                        Some((
                            log.customer_ids[c].clone(),
                            r.values(),
                            purchase_summary(txns, as_of, window)?,
                            behaviour()?,
                        ))
                    });
                    (after, before, rfm)
                })
                .collect();
            for (after, before, rfm) in per {
                report.transactions_after_as_of += after;
                report.transactions_before_window += before;
                match rfm {
                    Some((id, r, summary, b)) => {
                        pop.ids.push(id);
                        pop.rfm.push(r);
                        pop.summaries.push(summary);
                        if with_behaviour {
                            pop.behaviour.push(b);
                        }
                    }
                    None => report.customers_without_purchases += 1,
                }
            }
            if let Some(events) = events {
                let no_visit = no_visit_days(log, events, as_of, window);
                pop.no_visit_days = Some(no_visit);
                add_activity(
                    &mut pop,
                    events,
                    (as_of, window, no_visit),
                    include_browsers,
                    report,
                );
            }
            if let Some(table) = table {
                pop.table_rows = pop.ids.par_iter().map(|id| table.position(id)).collect();
                let matched = pop.table_rows.iter().flatten().count() as u64;
                report.customers_without_profile = pop.ids.len() as u64 - matched;
                report.customers_without_transactions = table.ids.len() as u64 - matched;
            }
        }
        _ => {
            if let Some(table) = table {
                pop.ids = table.ids.clone();
                pop.table_rows = (0..table.ids.len()).map(Some).collect();
            }
        }
    }
    pop
}

/// Derived features by name.
type Derivations = Vec<(String, Derivation)>;

/// Candidate features, and the derivation of every derived one (a date → days since `as_of`,
/// a birth year → age); customer-table columns are typed by [`features::table`].
fn candidates(
    pop: &Population,
    has_log: bool,
    table: Option<&CustomerTable>,
    config: &FeatureConfig,
    as_of: i32,
    report: &mut DataReport,
) -> Result<(Vec<Candidate>, Derivations)> {
    let mut out = Vec::new();
    let mut derivations = Vec::new();
    let mut available: Vec<String> = Vec::new();
    if has_log {
        for (j, name) in RFM_FEATURES.iter().enumerate() {
            available.push(name.to_string());
            if config.enabled(name, name) {
                out.push(Candidate {
                    name: name.to_string(),
                    source: Source::Transactions,
                    column: None,
                    values: RawColumn::Numbers(pop.rfm.iter().map(|r| Some(r[j])).collect()),
                });
            }
        }
        for name in &pop.offered {
            available.push(name.to_string());
            if !config.enabled(name, name) {
                continue;
            }
            match features::behaviour::SHARE_BLOCKS
                .iter()
                .position(|(b, _)| b == name)
            {
                Some(k) => match share_candidates(pop, k, config) {
                    Ok(c) => out.extend(c),
                    Err(reason) => report.features_dropped.push((name.to_string(), reason)),
                },
                None => out.push(behaviour_candidate(pop, name)),
            }
        }
    }
    if let Some(table) = table {
        use rayon::prelude::*;
        // Why a column is not typed: `Some(None)` silently, `Some(Some(reason))` reported.
        let skip = |col: &crate::data::customers::CustomerColumn| -> Option<Option<&'static str>> {
            if !config.enabled(&col.name, &col.header) {
                return Some(None);
            }
            if has_log
                && (RFM_FEATURES.contains(&col.name.as_str())
                    || pop.offered.contains(&col.name.as_str()))
            {
                return Some(Some(
                    "customer-table column shadowed by the feature computed from transactions",
                ));
            }
            col.name.is_empty().then_some(None)
        };
        let taken: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
        // The columns are typed in parallel, then taken in column order (so the first bad
        // column's error is the one reported).
        let typed: Vec<Option<Result<Typed, FeatureError>>> = table
            .columns
            .par_iter()
            .map(|col| {
                skip(col).is_none().then(|| {
                    let rows = &pop.table_rows;
                    features::table::type_table_column(table, col, config, rows, as_of, &taken)
                })
            })
            .collect();
        for (col, typed) in table.columns.iter().zip(typed) {
            available.push(col.name.clone());
            let Some(typed) = typed else {
                if let Some(Some(reason)) = skip(col) {
                    report
                        .features_dropped
                        .push((col.name.clone(), reason.into()));
                }
                continue;
            };
            match typed? {
                Typed::Feature {
                    candidate,
                    derivation,
                    note,
                } => {
                    if let Some(note) = note {
                        report.feature_notes.push((candidate.name.clone(), note));
                    }
                    if let Some(d) = derivation {
                        derivations.push((candidate.name.clone(), d));
                    }
                    out.push(candidate);
                }
                Typed::LeftOut(reason) => report.features_dropped.push((col.name.clone(), reason)),
            }
        }
    }
    for name in config.features.keys() {
        if !available.contains(name) && !out.iter().any(|c| &c.name == name) {
            return Err(FeatureError::UnknownFeature {
                name: name.clone(),
                available: available.join(", "),
            }
            .into());
        }
    }
    Ok((out, derivations))
}

/// Share block `k`'s columns: its top levels by purchase value over all customers (ties by
/// name), and `(other)` when there are more; an error when fewer than two levels exist.
fn share_candidates(
    pop: &Population,
    k: usize,
    config: &FeatureConfig,
) -> std::result::Result<Vec<Candidate>, String> {
    use features::behaviour::{share_feature, DEFAULT_SHARE_LEVELS, OTHER_LEVEL, SHARE_BLOCKS};
    let mut totals: BTreeMap<&str, f64> = BTreeMap::new();
    for b in &pop.behaviour {
        for (level, v) in &b.spend[k] {
            *totals.entry(level.as_str()).or_default() += v;
        }
    }
    if totals.len() < 2 {
        return Err(format!(
            "{} level(s) in the log, a share needs two",
            totals.len()
        ));
    }
    let mut ranked: Vec<(&str, f64)> = totals.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let n = config.share_levels.unwrap_or(DEFAULT_SHARE_LEVELS);
    let tops: Vec<&str> = ranked.iter().take(n).map(|(l, _)| *l).collect();
    let mut levels = tops.clone();
    if ranked.len() > n {
        levels.push(OTHER_LEVEL);
    }
    let block = SHARE_BLOCKS[k].0;
    Ok(levels
        .iter()
        .map(|level| Candidate {
            name: share_feature(block, level),
            source: Source::Transactions,
            column: None,
            values: RawColumn::Numbers(
                (pop.behaviour.iter())
                    .map(|b| Some(b.share(k, level, &tops)))
                    .collect(),
            ),
        })
        .collect())
}

/// `config` with a declaration for each share column among `cands`: no transform, and the
/// block's weight (1 unless declared) split evenly over its columns.
fn with_share_weights(config: &FeatureConfig, cands: &[Candidate]) -> FeatureConfig {
    use features::behaviour::{parse_share, SHARE_BLOCKS};
    let mut out = config.clone();
    for (k, (block, _)) in SHARE_BLOCKS.iter().enumerate() {
        let cols: Vec<&Candidate> = (cands.iter())
            .filter(|c| parse_share(&c.name).is_some_and(|(j, _)| j == k))
            .collect();
        let decl = config.features.get(*block).cloned().unwrap_or_default();
        let weight = decl.weight.unwrap_or(1.0) / cols.len().max(1) as f64;
        for c in cols {
            out.features.insert(
                c.name.clone(),
                features::FeatureDecl {
                    kind: Some(features::Kind::Numeric),
                    transform: Some(features::TransformChoice::None),
                    weight: Some(weight),
                    enabled: None,
                },
            );
        }
    }
    out
}

/// The training values of behaviour feature `name`.
fn behaviour_candidate(pop: &Population, name: &str) -> Candidate {
    let values = pop.behaviour.iter().map(|b| b.value(name));
    let values = if name == features::behaviour::MAIN_COUNTRY {
        RawColumn::Labels(
            values
                .map(|v| match v {
                    RawValue::Text(s) => Some(s),
                    _ => None,
                })
                .collect(),
        )
    } else {
        RawColumn::Numbers(
            values
                .map(|v| match v {
                    RawValue::Num(x) => Some(x),
                    _ => None,
                })
                .collect(),
        )
    };
    Candidate {
        name: name.to_string(),
        source: Source::Transactions,
        column: None,
        values,
    }
}

/// Ranks (1 = best) of `values`, ties sharing the mean rank.
fn ranks(values: &[f64], higher_is_better: bool) -> Vec<f64> {
    values
        .iter()
        .map(|&v| {
            let better = values
                .iter()
                .filter(|&&o| if higher_is_better { o > v } else { o < v })
                .count();
            let equal = values.iter().filter(|&&o| o == v).count();
            better as f64 + (equal as f64 + 1.0) / 2.0
        })
        .collect()
}

/// Picks k by the mean rank over silhouette (higher better), Calinski–Harabasz (higher
/// better) and Davies–Bouldin (lower better); ties go to the higher silhouette, then the
/// smaller k.
pub fn choose_k(points: &mut [KPoint]) -> usize {
    let sil: Vec<f64> = points.iter().map(|p| p.silhouette).collect();
    let ch: Vec<f64> = points.iter().map(|p| p.calinski_harabasz).collect();
    let db: Vec<f64> = points.iter().map(|p| p.davies_bouldin).collect();
    let (rs, rc, rd) = (ranks(&sil, true), ranks(&ch, true), ranks(&db, false));
    for (i, p) in points.iter_mut().enumerate() {
        p.mean_rank = (rs[i] + rc[i] + rd[i]) / 3.0;
    }
    let best = (0..points.len())
        .min_by(|&a, &b| {
            let (pa, pb) = (&points[a], &points[b]);
            pa.mean_rank
                .total_cmp(&pb.mean_rank)
                .then(pb.silhouette.total_cmp(&pa.silhouette))
                .then(pa.k.cmp(&pb.k))
        })
        .unwrap_or(0);
    points[best].chosen = true;
    points[best].k
}

fn labels_of(x: &Array2<f64>, centroids: &Array2<f64>) -> (Vec<usize>, Vec<f64>) {
    kmeans::labels_and_distances(x.view(), centroids)
}

fn parse_as_of(raw: &str) -> std::result::Result<i32, TrainError> {
    data::dates::parse_iso_date(raw).ok_or_else(|| TrainError::BadAsOf { value: raw.into() })
}

/// Parses a `--as-of` value.
pub fn as_of_day(raw: &str) -> Result<i32> {
    parse_as_of(raw)
}

/// The inputs as read and cleaned.
struct Loaded {
    log: Option<TransactionLog>,
    events: Option<EventLog>,
    table: Option<CustomerTable>,
}

impl Loaded {
    /// Frees the rows once the features hold what they say (the fit and the model file need
    /// only the inputs' fingerprints and counts).
    fn release_rows(&mut self) {
        if let Some(t) = self.table.as_mut() {
            for c in &mut t.columns {
                c.values = Default::default();
            }
        }
        if let Some(l) = self.log.as_mut() {
            l.txns = Default::default();
        }
        if let Some(e) = self.events.as_mut() {
            e.events = Default::default();
        }
    }
}

/// The customers, their candidate features, the fitted spec and the scaled matrix.
struct Featured {
    as_of: Option<i32>,
    /// Derived table columns are as of the training as-of, or today for a table alone.
    table_as_of: i32,
    report: DataReport,
    pop: Population,
    cands: Vec<Candidate>,
    spec: features::FeatureSpec,
    x: Array2<f64>,
}

/// The fitted clustering, segments in id order.
struct Clustered {
    centroids: Array2<f64>,
    labels: Vec<usize>,
    distances: Vec<f64>,
    identity: Option<lineage::Identity>,
}

/// Trains a model on `inputs` with `params`: load → features → choose k → fit → identity →
/// segments → assemble, each timed.
///
/// With a `previous` version of the model, segments that are the same groups keep their ids
/// and names (see [`super::lineage`]) and the output records where the training customers
/// land under both versions.
pub fn train(
    inputs: &TrainInputs,
    params: &TrainValidParams,
    previous: Option<&Model>,
    progress: &Progress,
) -> Result<TrainOutput> {
    let start = Instant::now();
    let mut loaded = load(inputs, params, progress)?;
    let read_s = start.elapsed().as_secs_f64();
    let t_feat = Instant::now();
    let mut f = featurize(inputs, params, &mut loaded)?;
    let features_s = t_feat.elapsed().as_secs_f64();
    let t_search = Instant::now();
    let (fitted, k_search, k_search_sample, k_search_s) = choose_and_fit(&f.x, params, progress)?;
    let KmFit {
        centroids,
        iterations,
        run_inertias,
        ..
    } = fitted;
    let fit_s = t_search.elapsed().as_secs_f64() - k_search_s;
    let t_segments = Instant::now();
    let mut c = identify(&f, centroids, previous);
    let k = c.centroids.nrows();
    let t_value = Instant::now();
    let predicted = Predicted::of(&f.pop.summaries, params, &c.labels, k)?;
    let value_s = t_value.elapsed().as_secs_f64();
    let used: Vec<String> = f.spec.features.iter().map(|x| x.name.clone()).collect();
    let (segments, lifecycle) = name_segments(inputs, &f, &mut c, &used, &predicted)?;
    let migration = migration_from(previous, &f.pop.ids, &segments, &c.labels);
    let quality = Quality::of(&f.x, &c, params);
    let value_column =
        super::segments::value_column(&f.cands, &used, inputs.value_feature.as_deref()).map(|v| {
            if v.money {
                v.label
            } else {
                format!("{} (a score: tiers only, no revenue share)", v.label)
            }
        });
    let named = Named {
        segments,
        lifecycle,
        value_column,
        inertia: quality.inertia,
        value_model: predicted.record,
    };
    let model = model_file(inputs, params, &loaded, &mut f, &c, named);
    let metrics = Metrics {
        k,
        inertia: quality.inertia,
        silhouette: quality.silhouette,
        silhouette_sample: params.silhouette_sample.min(f.pop.ids.len()),
        calinski_harabasz: quality.calinski_harabasz,
        davies_bouldin: quality.davies_bouldin,
        iterations,
        run_inertias,
        k_search,
        k_search_sample,
        data: std::mem::take(&mut f.report),
        timings: Timings {
            read_s,
            features_s,
            k_search_s,
            fit_s,
            segments_s: t_segments.elapsed().as_secs_f64() - value_s,
            value_s,
            write_s: 0.0,
            total_s: start.elapsed().as_secs_f64(),
        },
        migration,
        value_skipped: predicted.skipped,
        holdout: None,
    };
    let columns = f
        .cands
        .into_iter()
        .filter(|x| used.contains(&x.name))
        .collect();
    Ok(TrainOutput {
        model,
        metrics,
        assignments: Assignments {
            ids: f.pop.ids,
            columns,
            labels: c.labels,
            distances: c.distances,
            values: predicted.values,
        },
        matrix: f.x,
    })
}

/// Reads and cleans the transaction log and the customer table (either may be absent, not
/// both).
fn load(inputs: &TrainInputs, params: &TrainValidParams, progress: &Progress) -> Result<Loaded> {
    if inputs.transactions.is_empty() && inputs.customers.is_empty() {
        return Err(TrainError::NoInputs);
    }
    inputs
        .map
        .check_transaction_fields(!inputs.customers.is_empty())?;
    inputs.features.validate()?;
    let log = if inputs.transactions.is_empty() {
        None
    } else {
        let log = data::read_transactions(
            &inputs.transactions,
            &inputs.map,
            &data::RowRules::new(params.keep_duplicates, params.filters.clone())
                .map_err(data::DataError::from)?,
            progress,
        )?;
        log.cleaning.check_dropped_share(params.max_dropped_share)?;
        Some(log)
    };
    let table = if inputs.customers.is_empty() {
        None
    } else {
        Some(data::read_customers(
            &inputs.customers,
            &inputs.map,
            progress,
        )?)
    };
    let events = match (&log, inputs.events.is_empty()) {
        (_, true) => None,
        (None, false) => return Err(TrainError::EventsWithoutTransactions),
        (Some(_), false) => Some(data::events::read_events(
            &inputs.events,
            &inputs.map,
            params.max_dropped_share,
            progress,
        )?),
    };
    Ok(Loaded { log, events, table })
}

/// The customers as of the training date, their candidate features, the fitted feature spec
/// and the scaled matrix. The input rows are freed as soon as the candidates hold them,
/// before the matrix is built.
fn featurize(
    inputs: &TrainInputs,
    params: &TrainValidParams,
    loaded: &mut Loaded,
) -> Result<Featured> {
    let (log, table) = (loaded.log.as_ref(), loaded.table.as_ref());
    let events = loaded.events.as_ref();
    // With a holdout the model is trained as of its start: the last days are the check's.
    let as_of = params
        .as_of
        .or(log.map(|l| l.last_day + 1))
        .map(|d| d - params.holdout_days.unwrap_or(0) as i32);
    let mut report = DataReport {
        transactions: log.map(|l| l.cleaning.clone()),
        events: events.map(|e| e.counts.clone()),
        ..Default::default()
    };
    let pop = population(
        (log, events, table),
        as_of,
        params.window_days,
        inputs.include_browsers,
        &mut report,
    );
    if report.browsers > 0 && !inputs.include_browsers {
        tracing::warn!(
            "{} customers with events but no purchase in the window are left out; \
             include_browsers = true segments them with their events",
            report.browsers
        );
    }
    if pop.ids.is_empty() {
        return Err(TrainError::NoCustomers {
            reason: format!(
                "{} customers had no purchase before {}{}",
                report.customers_without_purchases,
                as_of.map(format_day).unwrap_or_default(),
                params
                    .window_days
                    .map(|w| format!(" in a {w}-day window"))
                    .unwrap_or_default()
            ),
        });
    }
    if table.is_some_and(|t| t.numbered) {
        report.customer_ids_numbered = true;
        tracing::warn!(
            "the customer table has no customer id column: rows are numbered 1, 2, … as ids"
        );
    }
    let table_as_of = as_of.unwrap_or_else(data::dates::today);
    let (cands, derivations) = candidates(
        &pop,
        log.is_some(),
        table,
        &inputs.features,
        table_as_of,
        &mut report,
    )?;
    loaded.release_rows();
    let (mut spec, fit_report) = spec::fit(&cands, &with_share_weights(&inputs.features, &cands))?;
    for f in &mut spec.features {
        f.derived = derivations
            .iter()
            .find(|(n, _)| *n == f.name)
            .map(|(_, d)| d.clone());
    }
    for (k, (block, _)) in features::behaviour::SHARE_BLOCKS.iter().enumerate() {
        let has = (spec.features.iter())
            .any(|f| features::behaviour::parse_share(&f.name).is_some_and(|(j, _)| j == k));
        if has {
            let seen = features::behaviour::seen_levels(&pop.behaviour, k);
            spec.share_levels.insert(block.to_string(), seen);
        }
    }
    report.features_dropped.extend(fit_report.dropped);
    report.imputed = fit_report.imputed;
    let x = encode_matrix(&spec, &cands, pop.ids.len())?;
    Ok(Featured {
        as_of,
        table_as_of,
        report,
        pop,
        cands,
        spec,
        x,
    })
}

/// The scaled `(n, d)` matrix of the candidates the spec uses (blocks of rows in parallel;
/// the error, if any, is the first feature's first bad row, as a feature-by-feature pass
/// would find it).
fn encode_matrix(
    spec: &features::FeatureSpec,
    cands: &[Candidate],
    n: usize,
) -> Result<Array2<f64>> {
    const BLOCK: usize = 1 << 13;
    let d = spec.n_columns();
    if d == 0 {
        return Ok(Array2::zeros((n, 0)));
    }
    let cols: Vec<&Candidate> = spec
        .features
        .iter()
        .map(|f| {
            cands
                .iter()
                .find(|c| c.name == f.name)
                .expect("spec comes from candidates")
        })
        .collect();
    let mut x = Array2::<f64>::zeros((n, d));
    let data = x.as_slice_mut().expect("fresh array is contiguous");
    let first_error = data
        .par_chunks_mut(BLOCK * d)
        .enumerate()
        .filter_map(|(block, rows)| {
            let mut warnings = Vec::new();
            let mut at = 0;
            for (j, (f, cand)) in spec.features.iter().zip(&cols).enumerate() {
                let w = f.width();
                for (r, row) in rows.chunks_exact_mut(d).enumerate() {
                    let i = block * BLOCK + r;
                    if let Err(e) =
                        f.encode(&cand.values.get(i), &mut row[at..at + w], &mut warnings)
                    {
                        return Some(((j, i), e));
                    }
                    warnings.clear();
                }
                at += w;
            }
            None
        })
        .min_by_key(|(at, _)| *at);
    match first_error {
        Some((_, e)) => Err(e.into()),
        None => Ok(x),
    }
}

/// k-means with the given k, or with the k chosen on a seeded sample (then refined on all
/// customers); also the k search's points, sample size and seconds.
fn choose_and_fit(
    x: &Array2<f64>,
    params: &TrainValidParams,
    progress: &Progress,
) -> Result<(KmFit, Vec<KPoint>, usize, f64)> {
    let n = x.nrows();
    let (min, max) = match params.k {
        KChoice::Fixed(k) => {
            if k > n {
                return Err(TrainError::TooFewCustomers { k, n });
            }
            let bar = progress.spinner(&format!("fitting k = {k}"));
            let f = kmeans::fit(
                x.view(),
                k,
                params.n_init,
                params.max_iter,
                params.tol,
                params.seed,
            )?;
            bar.finish_and_clear();
            return Ok((f, Vec::new(), 0, 0.0));
        }
        KChoice::Auto { min, max } => (min, max.min(n.saturating_sub(1))),
    };
    if min > max {
        return Err(TrainError::TooFewCustomers { k: min, n });
    }
    let idx = sample_rows(n, params.k_sample, params.seed);
    let xs = if idx.len() == n {
        x.clone()
    } else {
        x.select(Axis(0), &idx)
    };
    let t = Instant::now();
    let (mut k_search, mut fits) = search_k(&xs, min, max, params, progress)?;
    let search_s = t.elapsed().as_secs_f64();
    let k = choose_k(&mut k_search);
    let best = fits.swap_remove(k - min);
    if idx.len() == n {
        return Ok((best, k_search, idx.len(), search_s));
    }
    let bar = progress.spinner(&format!("fitting k = {k} on all customers"));
    let f = kmeans::refine(x.view(), &best.centroids, params.max_iter, params.tol)?;
    bar.finish_and_clear();
    Ok((f, k_search, idx.len(), search_s))
}

/// One fit and its quality scores per k in `min..=max`, on the sample `xs`.
fn search_k(
    xs: &Array2<f64>,
    min: usize,
    max: usize,
    params: &TrainValidParams,
    progress: &Progress,
) -> Result<(Vec<KPoint>, Vec<KmFit>)> {
    let bar = progress.bar("searching k", (max - min + 1) as u64);
    let mut points = Vec::new();
    let mut fits = Vec::new();
    let mut labellings = Vec::new();
    for k in min..=max {
        let f = kmeans::fit(
            xs.view(),
            k,
            params.n_init,
            params.max_iter,
            params.tol,
            params.seed,
        )?;
        let (labels, _) = labels_of(xs, &f.centroids);
        points.push(KPoint {
            k,
            inertia: f.inertia,
            silhouette: f64::NAN,
            calinski_harabasz: calinski_harabasz(xs.view(), &labels, k),
            davies_bouldin: davies_bouldin(xs.view(), &labels, k),
            iterations: f.iterations,
            mean_rank: 0.0,
            chosen: false,
        });
        labellings.push((labels, k));
        fits.push(f);
        bar.inc(1);
    }
    let each: Vec<(&[usize], usize)> = labellings.iter().map(|(l, k)| (&l[..], *k)).collect();
    let scores = silhouettes(xs.view(), &each, params.silhouette_sample, params.seed);
    for (p, s) in points.iter_mut().zip(scores) {
        p.silhouette = s;
    }
    bar.finish_and_clear();
    Ok((points, fits))
}

/// Labels every customer; with a previous version, continues its segment ids where a segment
/// is the same group and orders the segments by id.
fn identify(f: &Featured, centroids: Array2<f64>, previous: Option<&Model>) -> Clustered {
    let k = centroids.nrows();
    let (mut labels, mut distances) = labels_of(&f.x, &centroids);
    let mut centroids = centroids;
    let identity = previous.map(|p| {
        let radii = lineage::radii(&labels, &distances, k);
        let mut id = lineage::match_segments(&p.file, &f.spec, centroids.view(), &radii);
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by_key(|&j| id.ids[j]);
        if order.iter().enumerate().any(|(i, &j)| i != j) {
            centroids = centroids.select(Axis(0), &order);
            (labels, distances) = labels_of(&f.x, &centroids);
            id.ids = order.iter().map(|&j| id.ids[j]).collect();
            id.inherited = order.iter().map(|&j| id.inherited[j].clone()).collect();
            id.lineage.matches = order
                .iter()
                .map(|&j| id.lineage.matches[j].clone())
                .collect();
        }
        id
    });
    Clustered {
        centroids,
        labels,
        distances,
        identity,
    }
}

/// The value model of a training run and what it predicts.
struct Predicted {
    record: Option<crate::model::format::ValueModelRecord>,
    /// Per customer (empty without a model).
    values: Vec<crate::value::CustomerValue>,
    /// Per segment, by position (empty without a model).
    segments: Vec<crate::model::segment::SegmentPrediction>,
    /// Why a model trained on transactions has no value model.
    skipped: Option<String>,
}

impl Predicted {
    fn of(
        summaries: &[crate::value::Rfm],
        params: &TrainValidParams,
        labels: &[usize],
        k: usize,
    ) -> Result<Predicted> {
        let mut p = Predicted {
            record: None,
            values: Vec::new(),
            segments: Vec::new(),
            skipped: None,
        };
        if summaries.is_empty() {
            return Ok(p);
        }
        match super::value::fit(summaries, &params.value) {
            Ok(None) => {}
            Ok(Some(record)) => {
                p.values = super::value::predict_all(&record, summaries)
                    .map_err(|reason| TrainError::Holdout { reason })?;
                p.segments = super::value::segment_predictions(&p.values, labels, k);
                p.record = Some(record);
            }
            Err(reason) => {
                tracing::warn!(
                    "no value model: {reason}; the model is saved without predicted value \
                     (p_alive, expected orders, predicted CLV)"
                );
                p.skipped = Some(reason);
            }
        }
        Ok(p)
    }
}

/// Profiles, tiers (by the value column, or by predicted CLV when asked and known), names,
/// distance percentiles and predicted value of the segments, with the lifecycle model.
fn name_segments(
    inputs: &TrainInputs,
    f: &Featured,
    c: &mut Clustered,
    used: &[String],
    predicted: &Predicted,
) -> Result<(Vec<super::Segment>, Option<ValueModel>)> {
    let k = c.centroids.nrows();
    let (lifecycle, values) = value_model(&f.cands, used, &c.labels, k).unzip();
    let clv: Vec<f64> = predicted.values.iter().map(|v| v.predicted_clv).collect();
    if inputs.tier_by_predicted_clv && clv.is_empty() {
        tracing::warn!(
            "tiers by predicted CLV were asked for, but the model has no value model: tiers \
             come from the value column"
        );
    }
    let built = build_segments(&SegmentInput {
        candidates: &f.cands,
        used,
        labels: &c.labels,
        k,
        value_feature: inputs.value_feature.as_deref(),
        overrides: &inputs.segment_names,
        ids: c.identity.as_ref().map_or(&[], |i| &i.ids),
        inherited: c.identity.as_ref().map_or(&[], |i| &i.inherited),
        lifecycle: lifecycle.as_ref(),
        values: values.as_deref().unwrap_or_default(),
        tier_values: (inputs.tier_by_predicted_clv && !clv.is_empty()).then_some(&clv),
    })?;
    let mut segments = built.segments;
    if let Some(id) = c.identity.as_mut() {
        id.lineage.renames = built.renames;
    }
    set_distance_p99(&mut segments, &c.labels, &c.distances);
    super::mix::describe(&mut segments);
    for (s, p) in segments.iter_mut().zip(&predicted.segments) {
        s.predicted = Some(p.clone());
    }
    for key in crate::model::playbook::assign(&mut segments, &inputs.playbooks) {
        tracing::warn!("playbook {key:?}: no segment has that name or id; it was not used");
    }
    Ok((segments, lifecycle))
}

/// Each segment's 99th-percentile distance of its customers to its centroid.
fn set_distance_p99(segments: &mut [super::Segment], labels: &[usize], distances: &[f64]) {
    for (j, s) in segments.iter_mut().enumerate() {
        let mut d: Vec<f64> = labels
            .iter()
            .zip(distances)
            .filter(|(l, _)| **l == j)
            .map(|(_, d)| *d)
            .collect();
        if !d.is_empty() {
            // The value a full sort would put at the 99th-percentile rank.
            let rank = ((d.len() - 1) as f64 * 0.99).round() as usize;
            s.distance_p99 = Some(*d.select_nth_unstable_by(rank, f64::total_cmp).1);
        }
    }
}

/// Where the previous version's customers are now. A previous version whose assignments
/// cannot be read only loses the matrix.
fn migration_from(
    previous: Option<&Model>,
    ids: &[String],
    segments: &[super::Segment],
    labels: &[usize],
) -> Option<crate::model::format::Migration> {
    let p = previous?;
    let saved = lineage::saved_labels(p)
        .map_err(|e| tracing::warn!("no migration matrix: {e}"))
        .ok()?;
    let (from, only_in_from) = lineage::join_labels(&saved, ids);
    Some(lineage::migration(
        p.file.version,
        &p.file.segments,
        &from,
        segments,
        labels,
        only_in_from,
    ))
}

/// The clustering's quality on all customers.
struct Quality {
    inertia: f64,
    silhouette: f64,
    calinski_harabasz: f64,
    davies_bouldin: f64,
}

impl Quality {
    fn of(x: &Array2<f64>, c: &Clustered, params: &TrainValidParams) -> Quality {
        let k = c.centroids.nrows();
        Quality {
            inertia: c.distances.iter().map(|d| d * d).sum(),
            silhouette: silhouette(
                x.view(),
                &c.labels,
                k,
                params.silhouette_sample,
                params.seed,
            ),
            calinski_harabasz: calinski_harabasz(x.view(), &c.labels, k),
            davies_bouldin: davies_bouldin(x.view(), &c.labels, k),
        }
    }
}

/// What the segments turned out to be, for the model file.
struct Named {
    segments: Vec<super::Segment>,
    lifecycle: Option<ValueModel>,
    value_column: Option<String>,
    inertia: f64,
    value_model: Option<crate::model::format::ValueModelRecord>,
}

/// The model file of a training run (name, version and creation time are the registry's).
fn model_file(
    inputs: &TrainInputs,
    params: &TrainValidParams,
    loaded: &Loaded,
    f: &mut Featured,
    c: &Clustered,
    named: Named,
) -> ModelFile {
    let (log, table) = (loaded.log.as_ref(), loaded.table.as_ref());
    let (k_mode, k_min, k_max) = match params.k {
        KChoice::Fixed(k) => ("fixed", k, k),
        KChoice::Auto { min, max } => ("auto", min, max),
    };
    let derived = f.spec.features.iter().any(|x| x.derived.is_some());
    let reference = training_reference(&f.spec, &f.cands, c, &named.segments);
    ModelFile {
        format_version: FORMAT_VERSION,
        name: String::new(),
        version: 0,
        created_at: String::new(),
        custseg_version: env!("CARGO_PKG_VERSION").to_string(),
        seed: params.seed,
        k: c.centroids.nrows(),
        params: ParamsRecord {
            k_mode: k_mode.into(),
            k_min,
            k_max,
            n_init: params.n_init,
            max_iter: params.max_iter,
            tol: params.tol,
            window_days: params.window_days,
            k_sample: params.k_sample,
            silhouette_sample: params.silhouette_sample,
            as_of_requested: params.as_of.map(format_day),
            keep_duplicates: params.keep_duplicates,
            filters: params.filters.clone(),
            behaviour_columns: match log {
                Some(l) if features::behaviour::uses_behaviour(&f.spec) => l
                    .behaviour_columns
                    .iter()
                    .map(|(field, header)| (field.name().to_string(), header.clone()))
                    .collect(),
                _ => Default::default(),
            },
            events: loaded
                .events
                .as_ref()
                .map(|e| crate::model::format::EventsRecord {
                    no_visit_days: f.pop.no_visit_days.unwrap_or(0.0),
                    include_browsers: inputs.include_browsers,
                    columns: e
                        .columns
                        .iter()
                        .map(|(field, header)| (field.name().to_string(), header.clone()))
                        .collect(),
                }),
        },
        input: InputRecord {
            transactions: log.map(|l| l.files.clone()).unwrap_or_default(),
            customers: table.map(|t| t.files.clone()).unwrap_or_default(),
            column_map: inputs.map.pairs.clone(),
            transaction_rows: log.map_or(0, |l| l.cleaning.rows_read),
            transaction_rows_kept: log.map_or(0, |l| l.cleaning.rows_kept),
            customer_rows: table.map_or(0, |t| t.ids.len() as u64),
            customers_segmented: f.pop.ids.len() as u64,
            events: loaded
                .events
                .as_ref()
                .map(|e| e.files.clone())
                .unwrap_or_default(),
            event_rows: loaded.events.as_ref().map_or(0, |e| e.counts.rows_read),
            event_rows_kept: loaded.events.as_ref().map_or(0, |e| e.counts.rows_kept),
            transaction_columns: log
                .map(|l| {
                    (l.role_columns.iter())
                        .map(|(field, header)| (field.name().to_string(), header.clone()))
                        .collect()
                })
                .unwrap_or_default(),
            transaction_header: log.map(|l| l.header.clone()).unwrap_or_default(),
            customer_id_column: table
                .filter(|t| !t.numbered && !t.id_column.is_empty())
                .map(|t| t.id_column.clone()),
        },
        as_of: if log.is_some() {
            f.as_of.map(format_day)
        } else {
            derived.then(|| format_day(f.table_as_of))
        },
        features: std::mem::take(&mut f.spec),
        centroids: c.centroids.rows().into_iter().map(|r| r.to_vec()).collect(),
        segments: named.segments,
        inertia: named.inertia,
        lineage: c.identity.as_ref().map(|i| i.lineage.clone()),
        lifecycle: named.lifecycle,
        value_column: named.value_column,
        value_model: named.value_model,
        reference: Some(reference),
    }
}

/// The training population in brief ([`crate::model::reference`]): each customer's values
/// as the model encodes them, its segment, and the warnings scoring would give it (the
/// encoding's `out_of_range`, and `far_from_centroid` beyond its segment's `distance_p99`).
fn training_reference(
    spec: &features::FeatureSpec,
    cands: &[Candidate],
    c: &Clustered,
    segments: &[super::Segment],
) -> crate::model::reference::Reference {
    use crate::model::reference::{warning_flags, ReferenceBuilder};
    let cols: Vec<&Candidate> = spec
        .features
        .iter()
        .filter_map(|f| cands.iter().find(|x| x.name == f.name))
        .collect();
    // Blocks of customers in parallel, merged in order.
    const BLOCK: usize = 1 << 14;
    let n = c.labels.len();
    let parts: Vec<ReferenceBuilder> = (0..n.div_ceil(BLOCK))
        .into_par_iter()
        .map(|block| {
            let mut b = ReferenceBuilder::new(spec, segments.len());
            let mut raw = Vec::with_capacity(cols.len());
            let mut scratch = vec![0.0; spec.n_columns()];
            let mut warnings = Vec::new();
            for i in block * BLOCK..n.min((block + 1) * BLOCK) {
                let (label, distance) = (c.labels[i], c.distances[i]);
                raw.clear();
                raw.extend(cols.iter().map(|x| x.values.get(i)));
                warnings.clear();
                // The matrix was encoded from the same values, so this cannot fail.
                let _ = spec.encode_row(&raw, &mut scratch, &mut warnings);
                let far = segments[label].distance_p99.is_some_and(|p| distance > p);
                b.push(spec, &raw, label, (warning_flags(&warnings).0, far));
            }
            b
        })
        .collect();
    let mut b = ReferenceBuilder::new(spec, segments.len());
    for part in parts {
        b.merge(part);
    }
    b.finish(spec)
}

/// Fits RFM score cut points and the typical purchase interval on the training customers
/// and computes each cluster's value (by position), when recency, frequency, monetary and tenure were
/// computed from transactions and are features of the model (so the scorer has them too and
/// every customer gets scores, not only the segments).
fn value_model(
    cands: &[Candidate],
    used: &[String],
    labels: &[usize],
    k: usize,
) -> Option<(ValueModel, Vec<SegmentValue>)> {
    let col = |name: &str| {
        if !used.iter().any(|u| u == name) {
            return None;
        }
        cands.iter().find_map(|c| match &c.values {
            RawColumn::Numbers(v) if c.name == name && c.source == Source::Transactions => {
                Some(v.as_slice())
            }
            _ => None,
        })
    };
    let cols = crate::features::lifecycle::find_inputs(col)?;
    let mut rows: Vec<[f64; 4]> = Vec::with_capacity(labels.len());
    let mut seg_of = Vec::with_capacity(labels.len());
    for (i, &l) in labels.iter().enumerate() {
        if let [Some(r), Some(f), Some(m), Some(t)] = cols.map(|c| c[i]) {
            rows.push([r, f, m, t]);
            seg_of.push(l);
        }
    }
    let pick = |j: usize| rows.iter().map(move |r| r[j]).collect::<Vec<f64>>();
    let vm = ValueModel::fit(&pick(0), &pick(1), &pick(2), &pick(3))?;
    let values = (0..k)
        .map(|j| {
            let members: Vec<[f64; 4]> = rows
                .iter()
                .zip(&seg_of)
                .filter(|(_, &l)| l == j)
                .map(|(r, _)| *r)
                .collect();
            vm.segment_value(&members)
        })
        .collect();
    Some((vm, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(k: usize, s: f64, ch: f64, db: f64) -> KPoint {
        KPoint {
            k,
            inertia: 0.0,
            silhouette: s,
            calinski_harabasz: ch,
            davies_bouldin: db,
            iterations: 0,
            mean_rank: 0.0,
            chosen: false,
        }
    }

    #[test]
    fn k_choice_uses_mean_rank_of_three_indices() {
        // k=3 wins two of three indices.
        let mut pts = vec![
            point(2, 0.5, 100.0, 0.9),
            point(3, 0.45, 150.0, 0.7),
            point(4, 0.3, 120.0, 0.8),
        ];
        assert_eq!(choose_k(&mut pts), 3);
        assert!(pts[1].chosen && !pts[0].chosen);
    }

    #[test]
    fn k_choice_ties_go_to_higher_silhouette() {
        // k=2 and k=3 tie on mean rank (5.5/3 each); k=3 has the higher silhouette.
        let mut pts = vec![
            point(2, 0.4, 300.0, 0.8),
            point(3, 0.5, 200.0, 0.8),
            point(4, 0.3, 100.0, 0.5),
        ];
        assert_eq!(choose_k(&mut pts), 3);
        assert!((pts[0].mean_rank - pts[1].mean_rank).abs() < 1e-12);
    }

    #[test]
    fn as_of_must_be_a_date() {
        assert!(matches!(
            parse_as_of("yesterday"),
            Err(TrainError::BadAsOf { .. })
        ));
        assert_eq!(parse_as_of("1970-01-02").unwrap(), 1);
    }
}
