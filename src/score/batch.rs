//! Batch scoring of files (`custseg score`): a transaction log (features computed exactly as
//! in training, demographics from an optional customer table) or a customer table (features
//! and demographics in original units, by feature name), written
//! as one CSV row per customer. The output is written to a temporary file and renamed, so a
//! failed run never leaves a half-written file.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::data::blocks::{each_block, records, Chunk};
use crate::data::events::EventLog;
use crate::data::fasthash::FxBuild;
use crate::data::table::{check_width, Fields, Format, Table};
use crate::data::{self, ColumnMap, CustomerTable, DataError};
use crate::error::{Error, Result};
use crate::features::behaviour::{
    add_events, compute as compute_behaviour, transaction_value, uses_behaviour, uses_events,
    Behaviour,
};
use crate::features::rfm::{compute_rfm, purchase_summary, Rfm};
use crate::features::table::{column_for, derived_value};
use crate::features::{
    consistency, suggest, Feature, FeatureSpec, FeatureWarning, RawValue, Source,
};
use crate::model::Model;
use crate::progress::Progress;

/// What to score.
#[derive(Clone, Debug, Default)]
pub struct BatchInput {
    /// A transaction log (when the model uses transaction features) or a customer table.
    pub input: Vec<PathBuf>,
    /// Optional customer table with demographics, alongside a transaction log.
    pub customers: Vec<PathBuf>,
    /// Interaction logs, for a model with event features.
    pub events: Vec<PathBuf>,
    /// Column mapping; the model's own mapping applies first.
    pub map: ColumnMap,
    /// Features as of this day (default: the day after the last transaction).
    pub as_of: Option<i32>,
    /// Largest share of the log's rows one drop reason may take (None: the default 5%).
    pub max_dropped_share: Option<f64>,
    /// Score a customer table that lacks some model feature columns, imputing them (else
    /// [`DataError::MissingFeatures`]).
    pub allow_missing_features: bool,
    /// People-facing output: write formula-like cells ([`data::is_formula_like`]) with a
    /// leading `'` so a spreadsheet shows them as text. Off (the default), every cell is
    /// byte-exact for joins, and such cells are only counted
    /// ([`BatchSummary::formula_cells`]).
    pub spreadsheet_safe: bool,
}

/// What a batch run did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BatchSummary {
    /// Customers scored.
    pub scored: u64,
    /// Customers per segment (by position in the model).
    pub per_segment: Vec<u64>,
    /// Customers without a purchase before `as_of` (only returns, or all later): written
    /// with an empty segment and the warning `no_purchases`, as HTTP scoring answers them.
    pub no_purchase: u64,
    /// Customers with at least one warning.
    pub with_warnings: u64,
    /// The as-of date used, for transaction input.
    pub as_of: Option<String>,
    /// Transaction cleaning counts, for transaction input.
    pub cleaning: Option<data::Cleaning>,
    /// The customer table had no id column: its rows were numbered 1, 2, … as ids.
    pub ids_numbered: bool,
    /// Model features a customer table had no column for (imputed for every row, allowed by
    /// [`BatchInput::allow_missing_features`]).
    pub missing_columns: Vec<String>,
    /// Rows with an imputed value, per model feature (model order), for customer tables.
    pub imputed_rows: Vec<u64>,
    /// Cells that start like a spreadsheet formula ([`data::is_formula_like`]): written
    /// exactly, or prefixed with `'` when [`BatchInput::spreadsheet_safe`].
    pub formula_cells: u64,
}

/// A row's warnings as its `warnings` cell shows them: codes separated by `;`.
struct Warnings<'a>(&'a [FeatureWarning]);

impl std::fmt::Display for Warnings<'_> {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, w) in self.0.iter().enumerate() {
            if i > 0 {
                out.write_str(";")?;
            }
            match w {
                FeatureWarning::Imputed { feature } => write!(out, "imputed:{feature}"),
                FeatureWarning::UnknownCategory { feature } => {
                    write!(out, "unknown_category:{feature}")
                }
                FeatureWarning::OutOfRange { feature } => write!(out, "out_of_range:{feature}"),
                FeatureWarning::FarFromCentroid { .. } => out.write_str("far_from_centroid"),
                FeatureWarning::UnknownField { field, .. } => write!(out, "unknown_field:{field}"),
                FeatureWarning::TransactionsAfterAsOf { count } => {
                    write!(out, "transactions_after_as_of:{count}")
                }
                FeatureWarning::DuplicateTransactions { count } => {
                    write!(out, "duplicate_transactions:{count}")
                }
                FeatureWarning::FilteredTransactions { count } => {
                    write!(out, "filtered_transactions:{count}")
                }
                FeatureWarning::NoPurchases => out.write_str(NO_PURCHASES),
                FeatureWarning::NoEvents => out.write_str("no_events"),
                FeatureWarning::Browser => out.write_str("browser"),
                FeatureWarning::ValueFromFeatures => out.write_str("value_from_features"),
                FeatureWarning::ValueUnavailable => out.write_str("value_unavailable"),
            }?;
        }
        Ok(())
    }
}

/// A customer-table value for feature `f`: from column `at` of the table (the feature's own
/// column, or its source column to derive it from as of `as_of`).
fn table_value(
    table: &CustomerTable,
    row: Option<usize>,
    f: &Feature,
    at: Option<(usize, bool)>,
    as_of: Option<i32>,
) -> Result<RawValue> {
    let (Some((c, from_source)), Some(i)) = (at, row) else {
        return Ok(RawValue::Missing);
    };
    let col = &table.columns[c];
    let Some(s) = col.values.get(i) else {
        return Ok(RawValue::Missing);
    };
    let bad = |reason: String| DataError::BadValue {
        path: table.path(),
        row: table.rows[i],
        column: col.header.clone(),
        reason,
    };
    if from_source {
        return derived_value(f, s, as_of).map_err(|e| bad(e.to_string()).into());
    }
    if !f.is_numeric() {
        return Ok(RawValue::Text(s.to_string()));
    }
    data::parse_number(s)
        .map(RawValue::Num)
        .ok_or_else(|| bad("not a finite number (the model's feature is numeric)".into()).into())
}

/// The day derived table columns (a date → days, a birth year → age) are computed at when
/// scoring a customer table: `--as-of` when given, else the model's own as-of, as in
/// training.
fn table_as_of(model: &Model, given: Option<i32>) -> Option<i32> {
    given.or_else(|| {
        model
            .file
            .as_of
            .as_deref()
            .and_then(|d| data::dates::parse_date(d, data::dates::DayOrder::MonthFirst))
    })
}

/// True when the input's first file has a column named like (or close to, see
/// [`suggest`]) a transaction feature of the model (`recency_days`, `frequency`, …): it is
/// then read as a customer table of features rather than as a transaction log.
fn has_transaction_features(input: &[PathBuf], model: &Model) -> Result<bool> {
    let Some(first) = input.first() else {
        return Ok(false);
    };
    let Some(file) = data::source::expand(first)?.into_iter().next() else {
        return Ok(false);
    };
    let table = data::table::Table::open(&file)?;
    Ok(table.has_header
        && model
            .file
            .features
            .features
            .iter()
            .filter(|f| f.source == Source::Transactions)
            .any(|f| {
                table.find_column(&f.name).is_some()
                    || table.columns.iter().any(|c| suggest::is_close(c, &f.name))
            }))
}

/// Scores every customer of `input` with `model` and writes `output`, atomically (a
/// temporary file renamed into place). See [`score_to`].
pub fn score_files(
    model: &Model,
    input: &BatchInput,
    output: &Path,
    progress: &Progress,
) -> Result<BatchSummary> {
    crate::atomic::write_with(
        output,
        |w, tmp| score_to(model, input, w, tmp, progress),
        |p, e| Error::io(p, e),
    )
}

/// Sees every customer a batch run scores, in input order: its raw values in feature order
/// (as the model encoded them) and its assignment with the warnings the CSV carries.
/// `custseg drift` bins them against the training population.
pub trait Observer {
    fn scored(&mut self, raw: &[RawValue], s: &super::Scored);
}

/// Scores every customer of `input` with `model` and writes the CSV to `w` (`name` names it
/// in errors), flushing it at the end. The input is a transaction log when the model uses
/// transaction features, unless it already carries them as columns (a customer table of
/// features, e.g. a model's own `assignments.csv`), which is streamed row by row.
pub fn score_to(
    model: &Model,
    input: &BatchInput,
    w: &mut dyn Write,
    name: &Path,
    progress: &Progress,
) -> Result<BatchSummary> {
    score_observed(model, input, w, name, progress, None)
}

/// [`score_to`], showing every scored customer to `observer` too.
pub fn score_observed<'w>(
    model: &Model,
    input: &BatchInput,
    w: &'w mut dyn Write,
    name: &Path,
    progress: &Progress,
    observer: Option<&'w mut dyn Observer>,
) -> Result<BatchSummary> {
    let map = model.column_map_with(&input.map);
    let mut summary = BatchSummary {
        per_segment: vec![0; model.file.k],
        ..Default::default()
    };
    let as_log =
        model.file.features.uses_transactions() && !has_transaction_features(&input.input, model)?;
    let mut out = ScoreWriter {
        w,
        path: name.to_path_buf(),
        fmt: RowFormatter::new(
            input.spreadsheet_safe,
            model,
            table_as_of(model, input.as_of),
        ),
        buf: Vec::new(),
        observer,
    };
    out.header()?;
    if as_log {
        score_log(model, input, &map, &mut out, &mut summary, progress)?;
    } else {
        score_table(model, input, &map, &mut out, &mut summary, progress)?;
    }
    summary.formula_cells += out.fmt.cells.formula;
    out.w.flush().map_err(|e| Error::io(name, e))?;
    Ok(summary)
}

/// The warning of a customer without a purchase, as HTTP scoring names it.
const NO_PURCHASES: &str = "no_purchases";

/// The output CSV.
struct ScoreWriter<'w> {
    w: &'w mut dyn Write,
    path: PathBuf,
    fmt: RowFormatter,
    buf: Vec<u8>,
    observer: Option<&'w mut dyn Observer>,
}

impl ScoreWriter<'_> {
    /// Appends pre-formatted CSV bytes.
    fn raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.w
            .write_all(bytes)
            .map_err(|e| Error::io(&self.path, e))
    }

    fn header(&mut self) -> Result<()> {
        self.raw(b"customer_id,segment_id,segment,tier,distance,margin,warnings,r_score,f_score,m_score,lifecycle,action")?;
        if self.fmt.value_columns {
            for c in crate::features::rfm::VALUE_COLUMNS {
                self.raw(b",")?;
                self.raw(c.as_bytes())?;
            }
        }
        self.raw(b"\n")
    }

    /// A customer without a purchase: no segment, the `no_purchases` warning.
    fn unscored_row(&mut self, id: &str) -> Result<()> {
        self.buf.clear();
        self.fmt.cells.put(&mut self.buf, id);
        self.buf.extend_from_slice(b",,,,,,");
        self.buf.extend_from_slice(NO_PURCHASES.as_bytes());
        self.buf.extend_from_slice(b",,,,,");
        if self.fmt.value_columns {
            self.buf.extend_from_slice(b",,,,,");
        }
        self.buf.push(b'\n');
        self.w
            .write_all(&self.buf)
            .map_err(|e| Error::io(&self.path, e))
    }

    fn row(
        &mut self,
        model: &Model,
        id: &str,
        raw: &[RawValue],
        s: &super::Scored,
        summary: &mut BatchSummary,
    ) -> Result<()> {
        if let Some(o) = self.observer.as_mut() {
            o.scored(raw, s);
        }
        summary.scored += 1;
        summary.per_segment[s.index] += 1;
        if !s.warnings.is_empty() {
            summary.with_warnings += 1;
        }
        self.buf.clear();
        self.fmt.write(&mut self.buf, model, id, s);
        self.w
            .write_all(&self.buf)
            .map_err(|e| Error::io(&self.path, e))
    }
}

/// A transaction log (plus an optional customer table for demographics, and the
/// interaction log of a model with event features).
fn score_log(
    model: &Model,
    input: &BatchInput,
    map: &ColumnMap,
    out: &mut ScoreWriter<'_>,
    summary: &mut BatchSummary,
    progress: &Progress,
) -> Result<()> {
    let spec = &model.file.features;
    let rules = &model.row_rules;
    let log = data::read_transactions(&input.input, map, rules, progress)?;
    let max_dropped = input
        .max_dropped_share
        .unwrap_or(data::transactions::DEFAULT_MAX_DROPPED_SHARE);
    log.cleaning.check_dropped_share(max_dropped)?;
    let events = model_events(model, &input.events, map, max_dropped, progress)?;
    let as_of = input.as_of.unwrap_or(log.last_day + 1);
    summary.as_of = Some(data::dates::format_day(as_of));
    out.fmt.as_of = Some(as_of);
    let table = if input.customers.is_empty() {
        None
    } else {
        Some(data::read_customers(&input.customers, map, progress)?)
    };
    let lookup = Profiles::new(model, table.as_ref());
    let activity = Activity::of(model, events.as_ref(), as_of);
    let bar = progress.bar("scoring", log.txns.len() as u64);
    let mut scratch = super::Scratch::default();
    let mut raw = Vec::with_capacity(spec.features.len());
    // One customer's row: unscored without features, a browser (no purchase summary)
    // flagged so.
    let mut score_one = |id: &str, x: Option<(&Rfm, Option<&crate::value::Rfm>, &Behaviour)>| {
        let Some((r, p, b)) = x else {
            summary.no_purchase += 1;
            return out.unscored_row(id);
        };
        lookup.raw(model, id, r, Some(b), as_of, &mut raw)?;
        let mut s = model.score(&raw, p, &mut scratch)?;
        for block in crate::features::behaviour::unseen_levels(spec, b) {
            s.warnings.insert(
                0,
                FeatureWarning::UnknownCategory {
                    feature: block.to_string(),
                },
            );
        }
        if p.is_none() {
            s.warnings.insert(0, FeatureWarning::Browser);
        }
        out.row(model, id, &raw, &s, summary)
    };
    let with_behaviour = uses_behaviour(spec);
    let window = model.file.params.window_days;
    for (c, txns) in log.txns.iter().enumerate() {
        let id = &log.customer_ids[c];
        if c % 4096 == 0 {
            bar.set_position(c as u64);
        }
        let Some((r, purchases)) =
            compute_rfm(txns, as_of, window).zip(purchase_summary(txns, as_of, window))
        else {
            let browser = activity.as_ref().and_then(|a| a.browser(id));
            score_one(id, browser.as_ref().map(|(r, b)| (r, None, b)))?;
            continue;
        };
        let mut behaviour = with_behaviour
            .then(|| compute_behaviour(txns, log.txns.behaviour(c), &log.levels, as_of, window))
            .flatten();
        if let (Some(a), Some(b)) = (&activity, behaviour.as_mut()) {
            a.add(b, id, r.frequency);
        }
        let none = Behaviour::default();
        let b = behaviour.as_ref().unwrap_or(&none);
        score_one(id, Some((&r, Some(&purchases), b)))?;
    }
    bar.finish_and_clear();
    // Browsers the log does not know, after its customers (in the events' order).
    if let Some(a) = activity.as_ref().filter(|a| a.include_browsers) {
        let known: std::collections::HashSet<&str, FxBuild> =
            log.customer_ids.iter().map(String::as_str).collect();
        for id in a
            .log
            .customer_ids
            .iter()
            .filter(|id| !known.contains(id.as_str()))
        {
            if let Some((r, b)) = a.browser(id) {
                score_one(id, Some((&r, None, &b)))?;
            }
        }
    }
    summary.cleaning = Some(log.cleaning);
    Ok(())
}

/// The interaction log of a model with event features, read from `paths`: an error naming
/// the features when none is given; `None` for a model without them.
pub fn model_events(
    model: &Model,
    paths: &[PathBuf],
    map: &ColumnMap,
    max_dropped_share: f64,
    progress: &Progress,
) -> Result<Option<EventLog>> {
    let spec = &model.file.features;
    if !uses_events(spec) {
        return Ok(None);
    }
    if paths.is_empty() {
        return Err(DataError::NoEvents {
            features: (spec.features.iter())
                .filter(|f| crate::features::behaviour::is_event_feature(&f.name))
                .map(|f| f.name.clone())
                .collect(),
        }
        .into());
    }
    let log = data::events::read_events(paths, map, max_dropped_share, progress)?;
    Ok(Some(log))
}

/// A model's event settings with the interaction log a run scores with.
pub struct Activity<'a> {
    pub log: &'a EventLog,
    pub as_of: i32,
    pub window: Option<u32>,
    pub no_visit_days: f64,
    pub include_browsers: bool,
}

impl<'a> Activity<'a> {
    /// `None` without a log (a model without event features).
    pub fn of(model: &Model, log: Option<&'a EventLog>, as_of: i32) -> Option<Activity<'a>> {
        let rec = model.file.params.events.as_ref();
        Some(Activity {
            log: log?,
            as_of,
            window: model.file.params.window_days,
            no_visit_days: rec.map_or(0.0, |r| r.no_visit_days),
            include_browsers: rec.is_some_and(|r| r.include_browsers),
        })
    }

    /// Adds customer `id`'s event features to `b` (`orders`: their frequency).
    pub fn add(&self, b: &mut Behaviour, id: &str, orders: f64) {
        let (log, events) = (self.log, self.log.of(id));
        let (as_of, window, nv) = (self.as_of, self.window, self.no_visit_days);
        add_events(b, events, &log.categories, as_of, window, orders, nv);
    }

    /// A browser's RFM and behaviour, when the model segments browsers and `id` has an event
    /// in the window.
    pub fn browser(&self, id: &str) -> Option<(crate::features::rfm::Rfm, Behaviour)> {
        let (events, cats) = (self.log.of(id), &self.log.categories);
        (self.include_browsers)
            .then(|| {
                crate::features::behaviour::browser(
                    events,
                    cats,
                    self.as_of,
                    self.window,
                    self.no_visit_days,
                )
            })
            .flatten()
    }
}

/// A customer's raw values from their transactions' RFM features and their customer-table
/// row (if any): what batch scoring of a log and the holdout check feed the model.
pub struct Profiles<'a> {
    table: Option<&'a CustomerTable>,
    /// Per model feature: its table column and whether it is derived from it.
    cols: Vec<Option<(usize, bool)>>,
}

impl<'a> Profiles<'a> {
    /// The lookup of `model`'s customer-table features in `table`.
    pub fn new(model: &Model, table: Option<&'a CustomerTable>) -> Profiles<'a> {
        let cols = match table {
            Some(t) => {
                let names: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
                model
                    .file
                    .features
                    .features
                    .iter()
                    .map(|f| column_for(f, &names, None))
                    .collect()
            }
            None => Vec::new(),
        };
        Profiles { table, cols }
    }

    /// Fills `raw` with customer `id`'s values in feature order, table values as of `as_of`.
    pub fn raw(
        &self,
        model: &Model,
        id: &str,
        rfm: &crate::features::rfm::Rfm,
        behaviour: Option<&Behaviour>,
        as_of: i32,
        raw: &mut Vec<RawValue>,
    ) -> Result<()> {
        let row = self.table.and_then(|t| t.position(id));
        raw.clear();
        for (j, f) in model.file.features.features.iter().enumerate() {
            raw.push(match f.source {
                Source::Transactions => {
                    transaction_value(&model.file.features, &f.name, rfm, behaviour)
                }
                Source::Customers => match self.table {
                    Some(t) => table_value(t, row, f, self.cols[j], Some(as_of))?,
                    None => RawValue::Missing,
                },
            });
        }
        Ok(())
    }
}

/// Rows read from a Parquet table's cursor per batch; each batch is scored in parallel while
/// its order is kept.
const BATCH_ROWS: usize = 16_384;
/// Rows per parallel work item within a Parquet batch.
const WORK_ROWS: usize = 1024;

/// What one work item (a chunk of a text block, or a share of a Parquet batch) produced: its
/// output CSV bytes, the ids and rows it scored (for the duplicate check, in order), its share
/// of the summary, and the first error.
struct ScoredChunk {
    bytes: Vec<u8>,
    ids: Vec<(String, u64)>,
    per_segment: Vec<u64>,
    with_warnings: u64,
    /// Rows with an imputed value, per feature.
    imputed: Vec<u64>,
    /// Formula-like cells written.
    formula_cells: u64,
    /// Raw values and assignment of each scored row, when the run has an [`Observer`].
    observed: Vec<(Vec<RawValue>, super::Scored)>,
    error: Option<Error>,
}

/// Where each model feature is in a customer table being scored, and how to read it.
struct Layout<'a> {
    /// Column of each model feature, if any.
    cols: Vec<Option<usize>>,
    /// True where that column is a derived feature's source (a date, a birth year).
    from_source: Vec<bool>,
    /// The id column; `None`: the table has none and rows are numbered, as in training.
    id_col: Option<usize>,
    /// The file's headers.
    columns: &'a [String],
    path: &'a Path,
    /// As-of day for derived features.
    as_of: Option<i32>,
    /// Prefix formula-like cells ([`BatchInput::spreadsheet_safe`]).
    spreadsheet_safe: bool,
    /// Keep each row's raw values and assignment for an [`Observer`].
    observe: bool,
}

/// Reads one trimmed cell for feature `f` into `slot`: missing, a derived feature's source
/// value (converted as of `as_of`), a number, or a label (reusing the slot's buffer).
fn read_cell(
    f: &Feature,
    v: &str,
    from_source: bool,
    as_of: Option<i32>,
    slot: &mut RawValue,
) -> std::result::Result<(), String> {
    if data::is_missing(v) {
        *slot = RawValue::Missing;
    } else if from_source {
        *slot = derived_value(f, v.trim_matches('"'), as_of).map_err(|e| e.to_string())?;
    } else if f.is_numeric() {
        let x =
            data::parse_number(v).ok_or("not a finite number (the model's feature is numeric)")?;
        *slot = RawValue::Num(x);
    } else {
        let label = v.trim_matches('"');
        // Reuse the previous row's string buffer.
        if let RawValue::Text(t) = slot {
            t.clear();
            t.push_str(label);
        } else {
            *slot = RawValue::Text(label.to_string());
        }
    }
    Ok(())
}

/// Parses, validates and scores the rows of one work item in order, into a [`ScoredChunk`];
/// the first bad row stops it (later rows are ignored).
struct ChunkScorer<'a> {
    model: &'a Model,
    layout: &'a Layout<'a>,
    /// Rows of the input before the next one (the next row-number id, less one).
    ordinal: u64,
    raw: Vec<RawValue>,
    scratch: super::Scratch,
    line: RowFormatter,
    out: ScoredChunk,
}

impl<'a> ChunkScorer<'a> {
    /// A scorer of rows whose first is preceded by `first` rows of the input.
    fn new(model: &'a Model, layout: &'a Layout<'a>, first: u64) -> ChunkScorer<'a> {
        let n = model.file.features.features.len();
        ChunkScorer {
            model,
            layout,
            ordinal: first,
            raw: vec![RawValue::Missing; n],
            scratch: super::Scratch::default(),
            line: RowFormatter::new(layout.spreadsheet_safe, model, layout.as_of),
            out: ScoredChunk {
                bytes: Vec::new(),
                ids: Vec::new(),
                per_segment: vec![0; model.file.k],
                with_warnings: 0,
                imputed: vec![0; n],
                formula_cells: 0,
                observed: Vec::new(),
                error: None,
            },
        }
    }

    /// Scores row `row` of the file, unless an earlier one failed.
    fn take(&mut self, row: u64, rec: Fields) {
        if self.out.error.is_none() {
            if let Err(e) = self.score(row, rec) {
                self.out.error = Some(e);
            }
        }
    }

    /// The work item's result; `failed`: the error of reading it, after its rows.
    fn finish(mut self, failed: Option<DataError>) -> ScoredChunk {
        if let Some(e) = failed {
            self.out.error.get_or_insert(e.into());
        }
        self.out.formula_cells = self.line.cells.formula;
        self.out
    }

    fn score(&mut self, row: u64, rec: Fields) -> Result<()> {
        let (model, layout) = (self.model, self.layout);
        let (cols, table_columns, path) = (&layout.cols, layout.columns, layout.path);
        let spec = &model.file.features;
        check_width(path, table_columns, rec, row)?;
        self.ordinal += 1;
        let id = match layout.id_col {
            None => self.ordinal.to_string(),
            Some(c) => data::customers::row_id(rec, c, path, table_columns, row)?,
        };
        for (j, ((f, col), slot)) in spec
            .features
            .iter()
            .zip(cols)
            .zip(self.raw.iter_mut())
            .enumerate()
        {
            let cell = col.map(|i| rec.text(i));
            let v = cell.as_deref().map(str::trim).unwrap_or("");
            read_cell(f, v, layout.from_source[j], layout.as_of, slot).map_err(|reason| {
                DataError::BadValue {
                    path: path.to_path_buf(),
                    row,
                    column: col.map(|i| table_columns[i].clone()).unwrap_or_default(),
                    reason,
                }
            })?;
        }
        if let Err(e) = consistency::check(spec, &self.raw) {
            return Err(inconsistent_row(spec, &e, cols, table_columns, path, row));
        }
        let out = &mut self.out;
        for (n, v) in out.imputed.iter_mut().zip(&self.raw) {
            *n += u64::from(*v == RawValue::Missing);
        }
        let s = (model.score(&self.raw, None, &mut self.scratch))
            .map_err(|e| unscorable_row(spec, e, layout, row))?;
        out.per_segment[s.index] += 1;
        if !s.warnings.is_empty() {
            out.with_warnings += 1;
        }
        self.line.write(&mut out.bytes, model, &id, &s);
        if layout.observe {
            out.observed.push((self.raw.clone(), s));
        }
        out.ids.push((id, row));
        Ok(())
    }
}

/// A row the model cannot score, naming the file, row and column when the problem is one
/// value.
fn unscorable_row(
    spec: &FeatureSpec,
    e: crate::features::FeatureError,
    layout: &Layout,
    row: u64,
) -> Error {
    let column = match &e {
        crate::features::FeatureError::Unscorable { feature, .. }
        | crate::features::FeatureError::WrongType { feature, .. } => spec
            .features
            .iter()
            .position(|f| f.name == *feature)
            .and_then(|j| layout.cols[j])
            .map(|i| layout.columns[i].clone()),
        _ => None,
    };
    match column {
        Some(column) => DataError::BadValue {
            path: layout.path.to_path_buf(),
            row,
            column,
            reason: e.to_string(),
        }
        .into(),
        None => e.into(),
    }
}

/// A row breaking a [`consistency`] rule, naming the file, row and every column involved.
fn inconsistent_row(
    spec: &FeatureSpec,
    e: &consistency::Inconsistency,
    cols: &[Option<usize>],
    table_columns: &[String],
    path: &Path,
    row: u64,
) -> Error {
    let column = e
        .fields
        .iter()
        .map(|f| {
            spec.position(f)
                .and_then(|j| cols[j])
                .map_or_else(|| f.to_string(), |i| table_columns[i].clone())
        })
        .collect::<Vec<_>>()
        .join(" and ");
    DataError::BadValue {
        path: path.to_path_buf(),
        row,
        column,
        reason: e.reason.to_string(),
    }
    .into()
}

/// Model features `cols` has no column for, each with the file's unused column closest to its
/// name; an error unless `allow`, else added to `summary.missing_columns`.
fn check_missing_columns(
    spec: &FeatureSpec,
    cols: &[Option<usize>],
    id_col: Option<usize>,
    table_columns: &[String],
    path: &Path,
    allow: bool,
    summary: &mut BatchSummary,
) -> Result<(), DataError> {
    let unused: Vec<&str> = table_columns
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != id_col && !cols.contains(&Some(*i)))
        .map(|(_, c)| c.as_str())
        .collect();
    let missing: Vec<(String, Option<String>)> = spec
        .features
        .iter()
        .zip(cols)
        .filter(|(_, c)| c.is_none())
        .map(|(f, _)| {
            let close = unused
                .iter()
                .copied()
                .find(|c| suggest::is_close(c, &f.name));
            (f.name.clone(), close.map(str::to_string))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !allow {
        return Err(DataError::MissingFeatures {
            path: path.to_path_buf(),
            missing,
        });
    }
    for (f, _) in missing {
        if !summary.missing_columns.contains(&f) {
            summary.missing_columns.push(f);
        }
    }
    Ok(())
}

/// Formats output rows as CSV with a reusable buffer.
struct RowFormatter {
    /// One cell's text while it is formatted.
    cell: String,
    cells: Cells,
    /// The model has a value model: rows carry [`crate::features::rfm::VALUE_COLUMNS`].
    value_columns: bool,
    /// The scoring as-of, for the next-order date.
    as_of: Option<i32>,
}

/// Writes CSV cells, counting formula-like ones and, in the spreadsheet-safe mode, prefixing
/// them with `'` ([`data::spreadsheet_safe`]).
struct Cells {
    safe: bool,
    formula: u64,
}

impl Cells {
    fn put(&mut self, out: &mut Vec<u8>, f: &str) {
        if data::is_formula_like(f) {
            self.formula += 1;
            if self.safe {
                data::csv_out::field(out, &data::spreadsheet_safe(f));
                return;
            }
        }
        data::csv_out::field(out, f);
    }
}

impl RowFormatter {
    fn new(spreadsheet_safe: bool, model: &Model, as_of: Option<i32>) -> Self {
        RowFormatter {
            value_columns: model.file.value_model.is_some(),
            as_of,
            cell: String::new(),
            cells: Cells {
                safe: spreadsheet_safe,
                formula: 0,
            },
        }
    }

    fn write(&mut self, out: &mut Vec<u8>, model: &Model, id: &str, s: &super::Scored) {
        use std::fmt::Write as _;
        let seg = &model.file.segments[s.index];
        let (cell, cells) = (&mut self.cell, &mut self.cells);
        // Each cell is formatted in `cell`, then written, after a comma but for the first.
        let mut first = true;
        let mut put = |out: &mut Vec<u8>, text: std::fmt::Arguments| {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            cell.clear();
            let _ = cell.write_fmt(text);
            cells.put(out, cell);
        };
        put(out, format_args!("{id}"));
        put(out, format_args!("{}", seg.id));
        put(out, format_args!("{}", seg.name));
        put(out, format_args!("{}", seg.tier));
        put(out, format_args!("{:.6}", s.distance));
        put(out, format_args!("{:.6}", s.margin));
        put(out, format_args!("{}", Warnings(&s.warnings)));
        for score in s.rfm.map(|x| [x.r, x.f, x.m].map(Some)).unwrap_or_default() {
            match score {
                Some(v) => put(out, format_args!("{v}")),
                None => put(out, format_args!("")),
            }
        }
        put(
            out,
            format_args!("{}", s.lifecycle.map_or("", |st| st.as_str())),
        );
        let code = seg.playbook.as_ref().map_or("", |p| p.code.as_str());
        put(out, format_args!("{code}"));
        if self.value_columns {
            match &s.value {
                Some(v) => crate::features::rfm::each_value_cell(self.as_of, v, cell, |c| {
                    out.push(b',');
                    data::csv_out::field(out, c);
                }),
                None => {
                    for _ in crate::features::rfm::VALUE_COLUMNS {
                        out.push(b',');
                    }
                }
            }
        }
        out.push(b'\n');
    }
}

/// A customer table of features, streamed: text block by block, each block cut into chunks
/// of whole records as `read_customers` reads a table ([`data::blocks`]), Parquet in batches
/// of rows from its cursor. A block's (or batch's) pieces are parsed, validated and scored in
/// parallel, then written in input order before the next is read, so memory does not grow
/// with the file. The first bad row (in file order) stops the run.
fn score_table(
    model: &Model,
    input: &BatchInput,
    map: &ColumnMap,
    out: &mut ScoreWriter<'_>,
    summary: &mut BatchSummary,
    progress: &Progress,
) -> Result<()> {
    use rayon::prelude::*;
    let spec = &model.file.features;
    let mut files = Vec::new();
    for i in &input.input {
        files.extend(data::source::expand(i)?);
    }
    let bar = progress.spinner("scoring");
    summary.imputed_rows = vec![0; spec.features.len()];
    let mut seen = Seen::default();
    for path in &files {
        seen.enter(path);
        let mut table = Table::open(path)?;
        let (id_col, names) = data::customers::resolve_columns(&table, map)?;
        // The header, kept apart so a Parquet table's own cursor can go on reading.
        let columns = table.columns.clone();
        // Column of each model feature in this file, if any.
        let found: Vec<Option<(usize, bool)>> = spec
            .features
            .iter()
            .map(|f| column_for(f, &names, id_col))
            .collect();
        summary.ids_numbered |= id_col.is_none();
        let cols: Vec<Option<usize>> = found.iter().map(|c| c.map(|(i, _)| i)).collect();
        check_missing_columns(
            spec,
            &cols,
            id_col,
            &columns,
            path,
            input.allow_missing_features,
            summary,
        )?;
        let layout = Layout {
            cols,
            from_source: found.iter().map(|c| c.is_some_and(|(_, s)| s)).collect(),
            id_col,
            columns: &columns,
            path,
            as_of: table_as_of(model, input.as_of),
            spreadsheet_safe: input.spreadsheet_safe,
            observe: out.observer.is_some(),
        };
        let format = table.format;
        if format == Format::Parquet {
            score_cursor(model, &mut table, &layout, &mut seen, summary, out, &bar)?;
            continue;
        }
        // Block n is scored in parallel while block n − 1's rows are checked and written on
        // this thread; a block's error still comes before any later block's.
        let mut pending: Vec<ScoredChunk> = Vec::new();
        let read = each_block(path, format, table.has_header, |chunks| {
            let before = seen.rows() + pending.iter().map(|c| c.ids.len() as u64).sum::<u64>();
            let firsts = first_ordinals(chunks, &layout, format, before);
            let mut scored = Vec::new();
            rayon::in_place_scope(|scope| {
                scope.spawn(|_| {
                    scored = chunks
                        .par_iter()
                        .zip(firsts)
                        .map(|(c, first)| {
                            let mut s = ChunkScorer::new(model, &layout, first);
                            let failed =
                                records(path, *c, format, |row, rec| s.take(row, rec)).err();
                            s.finish(failed)
                        })
                        .collect();
                });
                merge_chunks(std::mem::take(&mut pending), path, &mut seen, summary, out)
            })?;
            pending = scored;
            bar.tick();
            Ok::<_, Error>(())
        });
        merge_chunks(pending, path, &mut seen, summary, out)?;
        read?;
    }
    bar.finish_and_clear();
    if seen.rows() == 0 {
        return Err(DataError::NoValidRows {
            what: files
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            summary: "the customer table has a header but no rows".into(),
        }
        .into());
    }
    Ok(())
}

/// For each chunk of a block, the rows of the input before its first (`before`: before the
/// block's), which a table without an id column numbers its rows from; zeros (unused) when
/// the table has an id column. Counting the chunks' records first lets them be scored in
/// parallel.
fn first_ordinals(chunks: &[Chunk], layout: &Layout, format: Format, before: u64) -> Vec<u64> {
    use rayon::prelude::*;
    if layout.id_col.is_some() {
        return vec![0; chunks.len()];
    }
    let counts: Vec<u64> = chunks
        .par_iter()
        .map(|c| {
            let mut n = 0;
            // A chunk that fails to parse fails in scoring too, before any later row counts.
            let _ = records(layout.path, *c, format, |_, _| n += 1);
            n
        })
        .collect();
    let mut at = before;
    counts
        .iter()
        .map(|n| {
            at += n;
            at - n
        })
        .collect()
}

/// A Parquet table from its cursor: [`BATCH_ROWS`] rows at a time, scored in parallel in
/// [`WORK_ROWS`] pieces; an unreadable row stops the run after the rows before it.
fn score_cursor(
    model: &Model,
    table: &mut Table,
    layout: &Layout,
    seen: &mut Seen,
    summary: &mut BatchSummary,
    out: &mut ScoreWriter<'_>,
    bar: &indicatif::ProgressBar,
) -> Result<()> {
    use rayon::prelude::*;
    let mut batch: Vec<(csv::ByteRecord, u64)> = Vec::new();
    loop {
        let (mut len, mut failed) = (0, None);
        while len < BATCH_ROWS && failed.is_none() {
            if batch.len() == len {
                batch.push((csv::ByteRecord::new(), 0));
            }
            match table.next_row(&mut batch[len].0) {
                Ok(Some(row)) => {
                    batch[len].1 = row;
                    len += 1;
                }
                Ok(None) => break,
                Err(e) => failed = Some(e),
            }
        }
        let before = seen.rows();
        let pieces = batch[..len].par_chunks(WORK_ROWS).enumerate();
        let mut scored: Vec<ScoredChunk> = pieces
            .map(|(n, rows)| {
                let mut s = ChunkScorer::new(model, layout, before + (n * WORK_ROWS) as u64);
                for (rec, row) in rows {
                    s.take(*row, rec.into());
                }
                s.finish(None)
            })
            .collect();
        let end = failed.is_some() || len < BATCH_ROWS;
        if let Some(e) = failed {
            // After the rows read before it.
            match scored.last_mut() {
                Some(last) => _ = last.error.get_or_insert(e.into()),
                None => return Err(e.into()),
            }
        }
        merge_chunks(scored, layout.path, seen, summary, out)?;
        bar.tick();
        if end {
            return Ok(());
        }
    }
}

/// The ids a run has scored, with their rows (the first repeated one is an error).
#[derive(Default)]
struct Seen {
    /// Each id's first row, with its file's index in `files` in the top 16 bits.
    first_rows: std::collections::HashMap<String, u64, FxBuild>,
    /// The files read so far; the last one is being read.
    files: Vec<PathBuf>,
}

/// Bits of a [`Seen`] entry that hold the row (the rest hold the file).
const ROW_BITS: u32 = 48;

impl Seen {
    /// Rows scored so far.
    fn rows(&self) -> u64 {
        self.first_rows.len() as u64
    }

    /// Starts reading the next file.
    fn enter(&mut self, path: &Path) {
        self.files.push(path.to_path_buf());
    }

    /// The entry of `row` of the file being read.
    fn entry_of(&self, row: u64) -> u64 {
        (self.files.len().saturating_sub(1) as u64) << ROW_BITS | (row & ((1 << ROW_BITS) - 1))
    }

    /// The row of an entry and its file, when that is not the file being read.
    fn row_of(&self, entry: u64) -> (u64, Option<PathBuf>) {
        let file = (entry >> ROW_BITS) as usize;
        let other = (file + 1 < self.files.len()).then(|| self.files[file].clone());
        (entry & ((1 << ROW_BITS) - 1), other)
    }
}

/// [`merge_chunk`] of each chunk in order, up to the first error.
fn merge_chunks(
    chunks: Vec<ScoredChunk>,
    path: &Path,
    seen: &mut Seen,
    summary: &mut BatchSummary,
    out: &mut ScoreWriter<'_>,
) -> Result<()> {
    for c in chunks {
        merge_chunk(c, path, seen, summary, out)?;
    }
    Ok(())
}

/// Adds one scored work item to the run, in input order: its ids (the first repeated one is
/// an error), its counts, its first error, its rows for the observer and its CSV bytes.
fn merge_chunk(
    c: ScoredChunk,
    path: &Path,
    seen: &mut Seen,
    summary: &mut BatchSummary,
    out: &mut ScoreWriter<'_>,
) -> Result<()> {
    use std::collections::hash_map::Entry;
    for (id, row) in c.ids {
        let entry = seen.entry_of(row);
        let repeated = match seen.first_rows.entry(id) {
            Entry::Occupied(first) => *first.get(),
            Entry::Vacant(v) => {
                v.insert(entry);
                summary.scored += 1;
                continue;
            }
        };
        let (first_row, first_path) = seen.row_of(repeated);
        return Err(DataError::DuplicateCustomer {
            path: path.to_path_buf(),
            row,
            first_row,
            first_path,
        }
        .into());
    }
    for (t, n) in summary.per_segment.iter_mut().zip(&c.per_segment) {
        *t += n;
    }
    summary.with_warnings += c.with_warnings;
    summary.formula_cells += c.formula_cells;
    for (t, n) in summary.imputed_rows.iter_mut().zip(&c.imputed) {
        *t += n;
    }
    if let Some(e) = c.error {
        return Err(e);
    }
    if let Some(o) = out.observer.as_mut() {
        for (raw, s) in &c.observed {
            o.scored(raw, s);
        }
    }
    out.raw(&c.bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_like_cells_are_counted_and_prefixed_only_in_the_safe_mode() {
        let cells = ["=1+1", "\t=2+2", "-5", "c1", "@SUM(A1)"];
        let write = |safe: bool| {
            let mut c = Cells { safe, formula: 0 };
            let mut out = Vec::new();
            for f in cells {
                c.put(&mut out, f);
                out.push(b'|');
            }
            (String::from_utf8(out).unwrap(), c.formula)
        };
        assert_eq!(write(false), ("=1+1|\"\t=2+2\"|-5|c1|@SUM(A1)|".into(), 3));
        assert_eq!(
            write(true),
            ("'=1+1|\"'\t=2+2\"|-5|c1|'@SUM(A1)|".into(), 3)
        );
    }
}
