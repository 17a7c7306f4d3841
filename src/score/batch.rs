//! Batch scoring of files (`custseg score`): a transaction log (features computed exactly as
//! in training, demographics from an optional customer table) or a customer table (features
//! and demographics in original units, by feature name), written
//! as one CSV row per customer. The output is written to a temporary file and renamed, so a
//! failed run never leaves a half-written file.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::data::{self, ColumnMap, CustomerTable, DataError};
use crate::error::{Error, Result};
use crate::features::rfm::{compute_rfm, RFM_FEATURES};
use crate::features::{FeatureWarning, RawValue, Source};
use crate::model::Model;
use crate::progress::Progress;

/// What to score.
#[derive(Clone, Debug, Default)]
pub struct BatchInput {
    /// A transaction log (when the model uses transaction features) or a customer table.
    pub input: Vec<PathBuf>,
    /// Optional customer table with demographics, alongside a transaction log.
    pub customers: Vec<PathBuf>,
    /// Column mapping; the model's own mapping applies first.
    pub map: ColumnMap,
    /// Features as of this day (default: the day after the last transaction).
    pub as_of: Option<i32>,
}

/// What a batch run did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BatchSummary {
    /// Customers scored.
    pub scored: u64,
    /// Customers per segment id.
    pub per_segment: Vec<u64>,
    /// Customers left out: no purchase before `as_of`.
    pub no_purchase: u64,
    /// Customers with at least one warning.
    pub with_warnings: u64,
    /// The as-of date used, for transaction input.
    pub as_of: Option<String>,
    /// Transaction cleaning counts, for transaction input.
    pub cleaning: Option<data::Cleaning>,
}

fn warning_text(w: &FeatureWarning) -> String {
    match w {
        FeatureWarning::Imputed { feature } => format!("imputed:{feature}"),
        FeatureWarning::UnknownCategory { feature } => format!("unknown_category:{feature}"),
        FeatureWarning::OutOfRange { feature } => format!("out_of_range:{feature}"),
        FeatureWarning::FarFromCentroid { .. } => "far_from_centroid".into(),
        FeatureWarning::UnknownField { field } => format!("unknown_field:{field}"),
        FeatureWarning::TransactionsAfterAsOf { count } => {
            format!("transactions_after_as_of:{count}")
        }
        FeatureWarning::DuplicateTransactions { count } => {
            format!("duplicate_transactions:{count}")
        }
    }
}

fn table_value(
    table: &CustomerTable,
    row: Option<usize>,
    feature: &str,
    numeric: bool,
) -> Result<RawValue, DataError> {
    let Some(col) = table.columns.iter().find(|c| c.name == feature) else {
        return Ok(RawValue::Missing);
    };
    let Some(i) = row else {
        return Ok(RawValue::Missing);
    };
    let Some(s) = &col.values[i] else {
        return Ok(RawValue::Missing);
    };
    if !numeric {
        return Ok(RawValue::Text(s.clone()));
    }
    data::parse_number(s)
        .map(RawValue::Num)
        .ok_or_else(|| DataError::BadValue {
            path: table.path(),
            row: col.rows[i],
            column: col.header.clone(),
            reason: "not a finite number (the model's feature is numeric)".into(),
        })
}

/// True when the input's first file has a column named like a transaction feature of the model
/// (`recency_days`, `frequency`, …): it is then read as a customer table of features (missing
/// ones imputed, with a warning) rather than as a transaction log.
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
            .any(|f| table.find_column(&f.name).is_some()))
}

/// Scores every customer of `input` with `model` and writes `output`. The input is a
/// transaction log when the model uses transaction features, unless it already carries them
/// as columns (a customer table of features, e.g. a model's own `assignments.csv`).
pub fn score_files(
    model: &Model,
    input: &BatchInput,
    output: &Path,
    progress: &Progress,
) -> Result<BatchSummary> {
    let spec = &model.file.features;
    let mut map = ColumnMap {
        pairs: model.file.input.column_map.clone(),
    };
    map.pairs.extend(input.map.pairs.iter().cloned());
    let mut summary = BatchSummary {
        per_segment: vec![0; model.file.k],
        ..Default::default()
    };
    // Customers as (id, transaction features, table row).
    let mut ids: Vec<String> = Vec::new();
    let mut rfm: Vec<Option<[f64; 5]>> = Vec::new();
    let mut rows: Vec<Option<usize>> = Vec::new();
    let table;
    if spec.uses_transactions() && !has_transaction_features(&input.input, model)? {
        let log = data::read_transactions(&input.input, &map, progress)?;
        let as_of = input.as_of.unwrap_or(log.last_day + 1);
        summary.as_of = Some(data::dates::format_day(as_of));
        table = if input.customers.is_empty() {
            None
        } else {
            Some(data::read_customers(&input.customers, &map, progress)?)
        };
        for (c, txns) in log.txns.iter().enumerate() {
            match compute_rfm(txns, as_of, model.file.params.window_days) {
                Some(r) => {
                    let id = &log.customer_ids[c];
                    rows.push(table.as_ref().and_then(|t| t.position(id)));
                    ids.push(id.clone());
                    rfm.push(Some(r.values()));
                }
                None => summary.no_purchase += 1,
            }
        }
        summary.cleaning = Some(log.cleaning);
    } else {
        let t = data::read_customers(&input.input, &map, progress)?;
        ids = t.ids.clone();
        rows = (0..t.ids.len()).map(Some).collect();
        rfm = vec![None; ids.len()];
        table = Some(t);
    }

    let tmp = output.with_file_name(format!(
        ".{}.tmp-{}",
        output
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("scores"),
        std::process::id()
    ));
    let result = (|| -> Result<()> {
        let file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let mut w = csv::Writer::from_writer(std::io::BufWriter::with_capacity(1 << 20, file));
        let csv_err = |e: csv::Error| Error::io(&tmp, std::io::Error::other(e));
        w.write_record([
            "customer_id",
            "segment_id",
            "segment",
            "tier",
            "distance",
            "margin",
            "warnings",
        ])
        .map_err(csv_err)?;
        let bar = progress.bar("scoring", ids.len() as u64);
        let mut scratch = Vec::new();
        let mut raw = Vec::with_capacity(spec.features.len());
        for (i, id) in ids.iter().enumerate() {
            raw.clear();
            for f in &spec.features {
                let v = match (f.source, &rfm[i]) {
                    (Source::Transactions, Some(r)) => {
                        let j = RFM_FEATURES.iter().position(|n| *n == f.name).unwrap_or(0);
                        RawValue::Num(r[j])
                    }
                    _ => match &table {
                        Some(t) => table_value(t, rows[i], &f.name, f.is_numeric())?,
                        None => RawValue::Missing,
                    },
                };
                raw.push(v);
            }
            let s = model.score(&raw, &mut scratch)?;
            summary.scored += 1;
            summary.per_segment[s.segment_id] += 1;
            if !s.warnings.is_empty() {
                summary.with_warnings += 1;
            }
            let seg = &model.file.segments[s.segment_id];
            let warnings: Vec<String> = s.warnings.iter().map(warning_text).collect();
            w.write_record([
                id.as_str(),
                &s.segment_id.to_string(),
                &seg.name,
                &seg.tier.to_string(),
                &format!("{:.6}", s.distance),
                &format!("{:.6}", s.margin),
                &warnings.join(";"),
            ])
            .map_err(csv_err)?;
            if i % 4096 == 0 {
                bar.set_position(i as u64);
            }
        }
        bar.finish_and_clear();
        let mut inner = w
            .into_inner()
            .map_err(|e| Error::io(&tmp, std::io::Error::other(e.to_string())))?;
        inner.flush().map_err(|e| Error::io(&tmp, e))?;
        inner.get_ref().sync_all().map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, output).map_err(|e| Error::io(output, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result?;
    Ok(summary)
}
