//! Customer tables: one row per customer with precomputed features and/or demographics.
//! The id column is found like a transaction log's (`--map customer_id=…` or a common name);
//! every other column is a candidate feature, named by [`feature_name`] of its header unless
//! `--map FEATURE=COLUMN` renames it. Values stay raw text here; typing, imputation and
//! encoding happen in `features`.

use std::collections::HashMap;

use super::fasthash::FxBuild;
use std::path::PathBuf;

use csv::ByteRecord;

use super::source::FileFingerprint;
use super::table::{decode, feature_name, normalize_name, Table};
use super::transactions::{ColumnMap, TxnField};
use super::{is_missing, rows, DataError};
use crate::progress::Progress;

/// One candidate feature column of a customer table.
#[derive(Clone, Debug)]
pub struct CustomerColumn {
    /// Feature name (`annual_income_k`).
    pub name: String,
    /// Header as written in the file (`Annual Income (k$)`).
    pub header: String,
    /// Raw values per customer row; `None` when missing.
    pub values: Vec<Option<String>>,
    /// Row number in the file of each value, for error messages.
    pub rows: Vec<u64>,
}

/// A customer table held in memory.
#[derive(Clone, Debug, Default)]
pub struct CustomerTable {
    /// Source files.
    pub files: Vec<FileFingerprint>,
    /// The id column's header; empty when the table has none and rows are numbered.
    pub id_column: String,
    /// True when the table has no id column: ids are 1-based row numbers over all files.
    pub numbered: bool,
    /// Customer ids, in file order.
    pub ids: Vec<String>,
    /// Feature columns, in file order.
    pub columns: Vec<CustomerColumn>,
    index: HashMap<String, usize, FxBuild>,
}

impl CustomerTable {
    /// Row index of a customer id.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// File that the table came from (the first one when several).
    pub fn path(&self) -> PathBuf {
        self.files
            .first()
            .map(|f| PathBuf::from(&f.path))
            .unwrap_or_default()
    }
}

/// Id names besides a transaction log's, then the index columns R (`rownames`) and pandas
/// (`Unnamed: 0`) write, normalized.
const EXTRA_ID_NAMES: [&str; 4] = ["id", "customerkey", "rownames", "unnamed0"];

/// The id column of a customer table (`None` when it has none: rows are then numbered) and
/// every column's feature name: renamed by `--map FEATURE=COLUMN`, else derived from the
/// header. A `--map customer_id=COLUMN` naming no column is an error.
pub fn resolve_columns(
    table: &Table,
    map: &ColumnMap,
) -> Result<(Option<usize>, Vec<String>), DataError> {
    let path = &table.path;
    let id_col = match map.get(TxnField::CustomerId.name()) {
        Some(col) => Some(
            table
                .find_column(col)
                .ok_or_else(|| DataError::MissingColumn {
                    path: path.clone(),
                    field: "customer_id".into(),
                    hint: format!("--map customer_id={col} names no column"),
                    available: table.columns.clone(),
                })?,
        ),
        None => TxnField::CustomerId
            .default_names()
            .iter()
            .chain(EXTRA_ID_NAMES.iter())
            .find_map(|n| table.columns.iter().position(|c| normalize_name(c) == *n)),
    };
    let mut names: Vec<String> = table.columns.iter().map(|c| feature_name(c)).collect();
    for (feat, col) in &map.pairs {
        if TxnField::from_name(feat).is_some() {
            continue;
        }
        let i = table
            .find_column(col)
            .ok_or_else(|| DataError::MissingColumn {
                path: path.clone(),
                field: feat.clone(),
                hint: format!("--map {feat}={col} names no column"),
                available: table.columns.clone(),
            })?;
        names[i] = feature_name(feat);
    }
    Ok((id_col, names))
}

/// The normalized customer id in column `col` of a row; a missing id is an error naming it.
pub fn row_id(rec: &ByteRecord, col: usize, table: &Table, row: u64) -> Result<String, DataError> {
    let raw_id = decode(rec.get(col).unwrap_or(b""));
    rows::customer_id(&raw_id).ok_or_else(|| DataError::BadValue {
        path: table.path.clone(),
        row,
        column: table.columns[col].clone(),
        reason: "customer id is missing".into(),
    })
}

/// Reads a customer table from one or more files with the same columns. A table without an
/// id column gets 1-based row numbers (over all its files, in order) as ids and
/// [`CustomerTable::numbered`] set, which callers must report loudly.
pub fn read_customers(
    inputs: &[PathBuf],
    map: &ColumnMap,
    progress: &Progress,
) -> Result<CustomerTable, DataError> {
    let mut files = Vec::new();
    for input in inputs {
        files.extend(super::source::expand(input)?);
    }
    let bar = progress.spinner("reading customers");
    let mut out = CustomerTable::default();
    let mut first_rows: HashMap<String, u64, FxBuild> = HashMap::default();
    let mut first_path: Option<PathBuf> = None;
    for path in &files {
        let mut table = Table::open(path)?;
        let (id_col, names) = resolve_columns(&table, map)?;
        let feature_cols: Vec<usize> = (0..table.columns.len())
            .filter(|&i| Some(i) != id_col)
            .collect();
        match &first_path {
            None => {
                first_path = Some(path.clone());
                out.numbered = id_col.is_none();
                out.id_column = id_col.map(|i| table.columns[i].clone()).unwrap_or_default();
                out.columns = feature_cols
                    .iter()
                    .map(|&i| CustomerColumn {
                        name: names[i].clone(),
                        header: table.columns[i].clone(),
                        values: Vec::new(),
                        rows: Vec::new(),
                    })
                    .collect();
            }
            Some(first) => {
                if out.numbered != id_col.is_none() {
                    return Err(DataError::InconsistentColumns {
                        path: path.clone(),
                        first: first.clone(),
                        reason: "one has a customer id column and the other has none".into(),
                    });
                }
                let these: Vec<&str> = feature_cols.iter().map(|&i| names[i].as_str()).collect();
                let before: Vec<&str> = out.columns.iter().map(|c| c.name.as_str()).collect();
                if these != before {
                    return Err(DataError::InconsistentColumns {
                        path: path.clone(),
                        first: first.clone(),
                        reason: format!("[{}] vs [{}]", these.join(", "), before.join(", ")),
                    });
                }
            }
        }
        let mut rec = ByteRecord::new();
        while let Some(row) = table.next_row(&mut rec)? {
            bar.tick();
            let id = match id_col {
                Some(c) => row_id(&rec, c, &table, row)?,
                None => (out.ids.len() + 1).to_string(),
            };
            if let Some(&first_row) = first_rows.get(&id) {
                return Err(DataError::DuplicateCustomer {
                    path: path.clone(),
                    row,
                    first_row,
                });
            }
            first_rows.insert(id.clone(), row);
            out.index.insert(id.clone(), out.ids.len());
            out.ids.push(id);
            for (col, &i) in out.columns.iter_mut().zip(&feature_cols) {
                let v = decode(rec.get(i).unwrap_or(b""));
                let v = v.trim();
                col.values
                    .push((!is_missing(v)).then(|| v.trim_matches('"').to_string()));
                col.rows.push(row);
            }
        }
        out.files.push(table.fingerprint());
    }
    bar.finish_and_clear();
    if out.ids.is_empty() {
        return Err(DataError::NoValidRows {
            what: files
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            summary: "the customer table has a header but no rows".into(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, map: &[&str]) -> Result<CustomerTable, DataError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        std::fs::write(&p, text).unwrap();
        read_customers(&[p], &ColumnMap::parse(map).unwrap(), &Progress::hidden())
    }

    #[test]
    fn a_table_without_an_id_column_numbers_its_rows() {
        let t = read("age;balance\n30;100\n41;7\n", &[]).unwrap();
        assert!(t.numbered);
        assert_eq!(t.ids, ["1", "2"]);
        assert_eq!(t.columns.len(), 2);
        assert_eq!(t.position("2"), Some(1));
    }

    #[test]
    fn r_and_pandas_index_columns_are_ids() {
        for h in ["rownames", "Unnamed: 0"] {
            let t = read(&format!("{h},age\nA,30\nB,41\n"), &[]).unwrap();
            assert!(!t.numbered, "{h}");
            assert_eq!(t.ids, ["A", "B"]);
            assert_eq!(t.columns.len(), 1);
        }
        // A real id column wins over an index column.
        let t = read("Unnamed: 0,CustomerID,age\n0,c7,30\n1,c8,41\n", &[]).unwrap();
        assert_eq!(t.ids, ["c7", "c8"]);
    }

    #[test]
    fn map_customer_id_still_names_the_id_and_must_exist() {
        let t = read("ref,age\nx1,30\nx2,41\n", &["customer_id=ref"]).unwrap();
        assert_eq!(t.ids, ["x1", "x2"]);
        let e = read("ref,age\nx1,30\n", &["customer_id=nope"]).unwrap_err();
        assert!(matches!(e, DataError::MissingColumn { .. }), "{e}");
    }
}
