//! Customer tables: one row per customer with precomputed features and/or demographics.
//! The id column is found like a transaction log's (`--map customer_id=…` or a common name);
//! every other column is a candidate feature, named by [`feature_name`] of its header unless
//! `--map FEATURE=COLUMN` renames it. Values stay raw text here; typing, imputation and
//! encoding happen in `features`.

use std::path::{Path, PathBuf};

use csv::ByteRecord;
use rayon::prelude::*;

use super::blocks::{each_block, records};
use super::fasthash::IdIndex;
use super::source::FileFingerprint;
use super::table::{check_width, feature_name, normalize_name, Fields, Format, Table};
use super::transactions::{ColumnMap, TxnField};
use super::{is_missing, rows, DataError};
use crate::progress::Progress;

/// The raw text values of one column, in one buffer: a value is a range of it, and a
/// missing value an empty range (a present value is never empty: blanks are missing).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TextColumn {
    text: String,
    ends: Vec<usize>,
}

impl TextColumn {
    /// A column of the given values (`None` or `""`: missing).
    pub fn of<'a>(values: impl IntoIterator<Item = Option<&'a str>>) -> TextColumn {
        let mut c = TextColumn::default();
        for v in values {
            c.push(v);
        }
        c
    }

    /// Rows in the column.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Row `i`'s value; `None` when it is missing (or past the end).
    pub fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        (end > start).then(|| &self.text[start..end])
    }

    /// Every row's value in order.
    pub fn iter(&self) -> impl Iterator<Item = Option<&str>> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Adds a row.
    pub fn push(&mut self, value: Option<&str>) {
        self.text.push_str(value.unwrap_or(""));
        self.ends.push(self.text.len());
    }

    /// Adds the rows of `other` after these.
    pub fn append(&mut self, other: &TextColumn) {
        let base = self.text.len();
        self.text.push_str(&other.text);
        self.ends.extend(other.ends.iter().map(|e| e + base));
    }
}

/// One candidate feature column of a customer table.
#[derive(Clone, Debug)]
pub struct CustomerColumn {
    /// Feature name (`annual_income_k`).
    pub name: String,
    /// Header as written in the file (`Annual Income (k$)`).
    pub header: String,
    /// Raw values per customer row.
    pub values: TextColumn,
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
    /// Each customer's row number in its file, for messages.
    pub rows: Vec<u64>,
    /// Feature columns, in file order.
    pub columns: Vec<CustomerColumn>,
    index: IdIndex,
    /// Where each file's customers start in `ids`, with its path (for messages).
    file_starts: Vec<(usize, PathBuf)>,
}

impl CustomerTable {
    /// Row index of a customer id.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.index
            .get(id, rows::id_hash(id), |p| self.ids[p].as_str())
    }

    /// File that the table came from (the first one when several).
    pub fn path(&self) -> PathBuf {
        self.files
            .first()
            .map(|f| PathBuf::from(&f.path))
            .unwrap_or_default()
    }

    /// The file of the customer at `position`.
    fn file_of(&self, position: usize) -> Option<&Path> {
        let i = self
            .file_starts
            .partition_point(|(start, _)| *start <= position);
        i.checked_sub(1).map(|i| self.file_starts[i].1.as_path())
    }

    /// Appends one chunk's rows in order: ids numbered when the table has no id column, the
    /// first repeated id an error naming both rows, then the chunk's own error if it had one.
    fn append(&mut self, path: &Path, chunk: ChunkRows) -> Result<(), DataError> {
        if self.file_starts.last().is_none_or(|(_, p)| p != path) {
            self.file_starts.push((self.ids.len(), path.to_path_buf()));
        }
        for (id, &row) in chunk.ids.into_iter().zip(&chunk.rows) {
            let id = if self.numbered {
                (self.ids.len() + 1).to_string()
            } else {
                id
            };
            let (next, ids) = (self.ids.len(), &self.ids);
            if let Ok(first) =
                self.index
                    .get_or_insert(&id, rows::id_hash(&id), |p| ids[p].as_str(), next)
            {
                return Err(DataError::DuplicateCustomer {
                    path: path.to_path_buf(),
                    row,
                    first_row: self.rows[first],
                    first_path: self
                        .file_of(first)
                        .filter(|p| *p != path)
                        .map(Path::to_path_buf),
                });
            }
            self.ids.push(id);
            self.rows.push(row);
        }
        for (mine, theirs) in self.columns.iter_mut().zip(&chunk.columns) {
            mine.values.append(theirs);
        }
        chunk.error.map_or(Ok(()), Err)
    }
}

/// The rows of one chunk of a customer file, parsed apart from the others; parsing stops at
/// the first bad row, whose error comes after the rows before it.
struct ChunkRows {
    ids: Vec<String>,
    rows: Vec<u64>,
    columns: Vec<TextColumn>,
    error: Option<DataError>,
}

/// Where one file's columns go.
struct Layout<'a> {
    path: &'a Path,
    columns: &'a [String],
    format: Format,
    has_header: bool,
    id_col: Option<usize>,
    feature_cols: Vec<usize>,
}

impl ChunkRows {
    fn new(width: usize) -> ChunkRows {
        ChunkRows {
            ids: Vec::new(),
            rows: Vec::new(),
            columns: vec![TextColumn::default(); width],
            error: None,
        }
    }

    fn take(&mut self, layout: &Layout, rec: Fields, row: u64) {
        if self.error.is_some() {
            return;
        }
        let l = layout;
        let id = check_width(l.path, l.columns, rec, row).and_then(|()| match l.id_col {
            Some(c) => row_id(rec, c, l.path, l.columns, row),
            None => Ok(String::new()),
        });
        let id = match id {
            Ok(id) => id,
            Err(e) => {
                self.error = Some(e);
                return;
            }
        };
        self.ids.push(id);
        self.rows.push(row);
        for (col, &i) in self.columns.iter_mut().zip(&layout.feature_cols) {
            let v = rec.text(i);
            let v = v.trim();
            col.push((!is_missing(v)).then(|| v.trim_matches('"')));
        }
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
                    hint: format!("the column map customer_id={col} names no column"),
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
        if TxnField::from_name(feat).is_some() || feat.starts_with(super::events::MAP_PREFIX) {
            continue;
        }
        let i = table
            .find_column(col)
            .ok_or_else(|| DataError::MissingColumn {
                path: path.clone(),
                field: feat.clone(),
                hint: format!("the column map {feat}={col} names no column"),
                available: table.columns.clone(),
            })?;
        names[i] = feature_name(feat);
    }
    Ok((id_col, names))
}

/// The normalized customer id in column `col` of row `row` of `path` (whose headers are
/// `columns`); a missing id is an error naming it.
pub fn row_id(
    rec: Fields,
    col: usize,
    path: &Path,
    columns: &[String],
    row: u64,
) -> Result<String, DataError> {
    let raw_id = rec.text(col);
    rows::customer_id(&raw_id).ok_or_else(|| DataError::BadValue {
        path: path.to_path_buf(),
        row,
        column: columns[col].clone(),
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
    let mut first_path: Option<PathBuf> = None;
    for path in &files {
        let table = Table::open(path)?;
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
                        values: TextColumn::default(),
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
        let layout = Layout {
            path,
            columns: &table.columns,
            format: table.format,
            has_header: table.has_header,
            id_col,
            feature_cols,
        };
        let fingerprint = read_rows(&mut out, &layout, &bar)?;
        out.files.push(fingerprint);
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

/// Reads one file's rows into `out`: text in parallel blocks, Parquet from its cursor.
fn read_rows(
    out: &mut CustomerTable,
    layout: &Layout,
    bar: &indicatif::ProgressBar,
) -> Result<FileFingerprint, DataError> {
    let t = layout;
    let width = layout.feature_cols.len();
    if t.format == Format::Parquet {
        let (mut table, mut rec) = (Table::open(t.path)?, ByteRecord::new());
        let mut chunk = ChunkRows::new(width);
        while let Some(row) = table.next_row(&mut rec)? {
            chunk.take(layout, (&rec).into(), row);
        }
        out.append(t.path, chunk)?;
        return Ok(table.fingerprint());
    }
    let mut rows = 0;
    let (sha256, bytes) = each_block(t.path, t.format, t.has_header, |chunks| {
        let parsed: Vec<ChunkRows> = chunks
            .par_iter()
            .map(|c| {
                let mut chunk = ChunkRows::new(width);
                let take = |row, rec: Fields| chunk.take(layout, rec, row);
                if let Err(e) = records(t.path, *c, t.format, take) {
                    chunk.error.get_or_insert(e);
                }
                chunk
            })
            .collect();
        for chunk in parsed {
            rows += chunk.rows.len() as u64;
            out.append(t.path, chunk)?;
        }
        bar.tick();
        Ok::<_, DataError>(())
    })?;
    Ok(FileFingerprint {
        path: t.path.display().to_string(),
        sha256,
        bytes,
        rows,
    })
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
    fn an_id_repeated_in_a_later_file_names_both_files() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
        std::fs::write(&a, "CustomerID,age\nc1,30\nc2,41\n").unwrap();
        std::fs::write(&b, "CustomerID,age\nc3,30\nc2,41\n").unwrap();
        let read = |files: &[PathBuf]| {
            read_customers(files, &ColumnMap::default(), &Progress::hidden()).unwrap_err()
        };
        let e = read(&[a.clone(), b.clone()]);
        let want = format!(
            "{} row 3: customer id already appeared at row 3 of {} (",
            b.display(),
            a.display()
        );
        assert!(e.to_string().starts_with(&want), "{e}");
        // Within one file, the message names the file once.
        std::fs::write(&b, "CustomerID,age\nc3,30\nc3,41\n").unwrap();
        let e = read(&[a, b.clone()]).to_string();
        assert!(
            e.starts_with(&format!(
                "{} row 3: customer id already appeared at row 2 (",
                b.display()
            )),
            "{e}"
        );
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

    #[test]
    fn text_columns_keep_missing_values_apart_from_present_ones() {
        let mut c = TextColumn::of([Some("a"), None, Some("bc"), Some("")]);
        c.append(&TextColumn::of([Some("d")]));
        let got: Vec<Option<&str>> = c.iter().collect();
        assert_eq!(got, [Some("a"), None, Some("bc"), None, Some("d")]);
        assert_eq!((c.len(), c.get(9)), (5, None));
    }

    fn read_with(text: &str, block: usize, threads: usize) -> Result<CustomerTable, DataError> {
        super::super::blocks::with_blocks(block, threads, || read(text, &[]))
    }

    #[test]
    fn blocks_and_threads_do_not_change_the_table_or_its_first_error() {
        let mut text = String::from("CustomerID,age,note\n");
        for i in 0..500 {
            text.push_str(&format!("c{i},{},\"x, {i}\"\n", 20 + i % 50));
        }
        let one = read_with(&text, 1 << 20, 1).unwrap();
        for (block, threads) in [(61, 3), (1000, 2)] {
            let t = read_with(&text, block, threads).unwrap();
            assert_eq!(
                (&t.ids, &t.rows),
                (&one.ids, &one.rows),
                "{block}/{threads}"
            );
            for (a, b) in t.columns.iter().zip(&one.columns) {
                assert_eq!(a.values, b.values);
            }
        }
        assert_eq!(one.position("c499"), Some(499));
        assert_eq!(one.rows[0], 2);
        // A repeated id at row 300 comes before a missing id at row 400, whatever the chunks.
        let mut bad: Vec<String> = text.lines().map(String::from).collect();
        bad[299] = "c5,30,x".into();
        bad[399] = ",30,x".into();
        let bad = bad.join("\n");
        for (block, threads) in [(1 << 20, 1), (61, 3)] {
            let e = read_with(&bad, block, threads).unwrap_err();
            assert!(
                matches!(
                    e,
                    DataError::DuplicateCustomer {
                        row: 300,
                        first_row: 7,
                        ..
                    }
                ),
                "{e}"
            );
        }
    }
}
