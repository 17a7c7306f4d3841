//! A uniform row reader over delimited text (comma, tab, semicolon, pipe, runs of
//! whitespace; optional header; optional gzip) and Parquet. Rows come out as byte records so
//! one unreadable byte in a column nobody uses cannot sink a file; the columns custseg does
//! use are decoded as UTF-8, falling back to Latin-1.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};

use csv::ByteRecord;

use super::source::{self, FileFingerprint, SharedHasher};
use super::DataError;

/// How the fields of a file are separated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One delimiter byte, with CSV quoting rules.
    Delimited(u8),
    /// Fields separated by runs of spaces or tabs (as in `CDNOW_master.txt`).
    Whitespace,
    /// Apache Parquet.
    Parquet,
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Format::Delimited(b'\t') => f.write_str("tab-separated"),
            Format::Delimited(d) => write!(f, "'{}'-separated", *d as char),
            Format::Whitespace => f.write_str("whitespace-separated"),
            Format::Parquet => f.write_str("Parquet"),
        }
    }
}

enum Rows {
    Csv(csv::Reader<Box<dyn Read>>),
    Whitespace {
        reader: BufReader<Box<dyn Read>>,
        line: u64,
        buf: Vec<u8>,
    },
    Parquet(parquet::record::reader::RowIter<'static>, u64),
}

/// An open input table: its columns and a row cursor.
pub struct Table {
    /// The file being read.
    pub path: PathBuf,
    /// Column names: the header, or `column1`, `column2`, … when there is none.
    pub columns: Vec<String>,
    /// Whether the first line was a header.
    pub has_header: bool,
    /// Detected format.
    pub format: Format,
    rows: Rows,
    pending: Option<(ByteRecord, u64)>,
    hasher: Option<SharedHasher>,
    parquet_hash: Option<(String, u64)>,
    rows_read: u64,
}

const SNIFF_BYTES: usize = 64 * 1024;

impl Table {
    /// Opens a file, detecting its format, delimiter and header.
    pub fn open(path: &Path) -> Result<Table, DataError> {
        if source::is_parquet(path) && !source::is_gzip(path) {
            return Self::open_parquet(path);
        }
        let (mut reader, hasher) = source::open_text(path)?;
        let mut head = Vec::with_capacity(SNIFF_BYTES);
        (&mut reader)
            .take(SNIFF_BYTES as u64)
            .read_to_end(&mut head)
            .map_err(|e| unreadable(path, e))?;
        let full = head.len() == SNIFF_BYTES;
        if head
            .strip_prefix(b"\xEF\xBB\xBF")
            .unwrap_or(&head)
            .iter()
            .all(u8::is_ascii_whitespace)
        {
            return Err(DataError::Empty {
                path: path.to_path_buf(),
            });
        }
        let format = sniff_format(&head, full);
        let stream: Box<dyn Read> = Box::new(Cursor::new(head).chain(reader));
        let rows = match format {
            Format::Delimited(d) => Rows::Csv(csv_reader(d, stream)),
            _ => Rows::Whitespace {
                reader: BufReader::with_capacity(1 << 16, stream),
                line: 0,
                buf: Vec::new(),
            },
        };
        let mut table = Table {
            path: path.to_path_buf(),
            columns: Vec::new(),
            has_header: false,
            format,
            rows,
            pending: None,
            hasher: Some(hasher),
            parquet_hash: None,
            rows_read: 0,
        };
        let mut first = ByteRecord::new();
        let Some(line) = table.read_raw(&mut first)? else {
            return Err(DataError::Empty {
                path: path.to_path_buf(),
            });
        };
        if looks_like_header(&first) {
            table.has_header = true;
            table.columns = first.iter().map(|f| decode(f).trim().to_string()).collect();
        } else {
            table.columns = (1..=first.len()).map(|i| format!("column{i}")).collect();
            table.pending = Some((first, line));
        }
        Ok(table)
    }

    fn open_parquet(path: &Path) -> Result<Table, DataError> {
        let hash = source::hash_file(path)?;
        let file = File::open(path).map_err(|e| unreadable(path, e))?;
        let reader = parquet::file::reader::SerializedFileReader::new(file).map_err(|e| {
            DataError::Unreadable {
                path: path.to_path_buf(),
                reason: format!("not a readable Parquet file: {e}"),
            }
        })?;
        use parquet::file::reader::FileReader;
        let columns = reader
            .metadata()
            .file_metadata()
            .schema_descr()
            .root_schema()
            .get_fields()
            .iter()
            .map(|f| f.name().to_string())
            .collect();
        Ok(Table {
            path: path.to_path_buf(),
            columns,
            has_header: true,
            format: Format::Parquet,
            rows: Rows::Parquet(reader.into_iter(), 0),
            pending: None,
            hasher: None,
            parquet_hash: Some(hash),
            rows_read: 0,
        })
    }

    /// Reads the next data row into `rec`; returns its row number in the file: the csv
    /// reader's 1-based line number (it does not count the blank lines it skips, so it can be
    /// short of an editor's; the block readers of `blocks` count lines themselves), the line
    /// of a whitespace-separated file, or the Parquet row from 1; `None` at the end.
    ///
    /// A row with more non-empty fields than the header is an error naming it (a shifted or
    /// mis-delimited row would otherwise be read into the wrong columns); empty extra fields,
    /// as trailing delimiters leave, are allowed. Short rows read their missing fields as empty.
    pub fn next_row(&mut self, rec: &mut ByteRecord) -> Result<Option<u64>, DataError> {
        let got = if let Some((pending, line)) = self.pending.take() {
            *rec = pending;
            Some(line)
        } else {
            self.read_raw(rec)?
        };
        if let Some(line) = got {
            self.rows_read += 1;
            check_width(&self.path, &self.columns, Fields::Csv(rec), line)?;
        }
        Ok(got)
    }

    fn read_raw(&mut self, rec: &mut ByteRecord) -> Result<Option<u64>, DataError> {
        let path = &self.path;
        match &mut self.rows {
            Rows::Csv(reader) => loop {
                match reader.read_byte_record(rec) {
                    Ok(false) => return Ok(None),
                    Ok(true) => {
                        // Skip blank lines, which csv reports as one empty field.
                        if is_blank(rec) {
                            continue;
                        }
                        let line = rec.position().map(|p| p.line()).unwrap_or(0);
                        return Ok(Some(line));
                    }
                    Err(e) => {
                        let line = e.position().map(|p| p.line());
                        return Err(DataError::Malformed {
                            path: path.clone(),
                            row: line,
                            reason: e.to_string(),
                        });
                    }
                }
            },
            Rows::Whitespace { reader, line, buf } => loop {
                buf.clear();
                let n = reader
                    .read_until(b'\n', buf)
                    .map_err(|e| unreadable(path, e))?;
                if n == 0 {
                    return Ok(None);
                }
                *line += 1;
                let mut text: &[u8] = buf;
                if *line == 1 {
                    text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
                }
                rec.clear();
                for field in text
                    .split(|b| b.is_ascii_whitespace())
                    .filter(|f| !f.is_empty())
                {
                    rec.push_field(field);
                }
                if !rec.is_empty() {
                    return Ok(Some(*line));
                }
            },
            Rows::Parquet(iter, n) => match iter.next() {
                None => Ok(None),
                Some(Err(e)) => Err(DataError::Malformed {
                    path: path.clone(),
                    row: Some(*n + 1),
                    reason: e.to_string(),
                }),
                Some(Ok(row)) => {
                    *n += 1;
                    rec.clear();
                    for (_, field) in row.get_column_iter() {
                        rec.push_field(parquet_field_text(field).as_bytes());
                    }
                    Ok(Some(*n))
                }
            },
        }
    }

    /// Data rows read so far.
    pub fn rows_read(&self) -> u64 {
        self.rows_read
    }

    /// The file's fingerprint; complete once all rows have been read.
    pub fn fingerprint(&self) -> FileFingerprint {
        let (sha256, bytes) = match (&self.parquet_hash, &self.hasher) {
            (Some(h), _) => h.clone(),
            (None, Some(h)) => h.finish(),
            (None, None) => (String::new(), 0),
        };
        FileFingerprint {
            path: self.path.display().to_string(),
            sha256,
            bytes,
            rows: self.rows_read,
        }
    }

    /// Finds a column by name (case-insensitive, ignoring spaces, `_`, `-` and other
    /// punctuation) or by 1-based position written as a number.
    pub fn find_column(&self, wanted: &str) -> Option<usize> {
        if let Ok(pos) = wanted.trim().parse::<usize>() {
            return (pos >= 1 && pos <= self.columns.len()).then(|| pos - 1);
        }
        let exact = self.columns.iter().position(|c| c == wanted);
        exact.or_else(|| {
            let key = normalize_name(wanted);
            self.columns.iter().position(|c| normalize_name(c) == key)
        })
    }
}

/// A blank line, which the csv reader reports as one field of spaces (or nothing): skipped.
pub(super) fn is_blank(rec: &ByteRecord) -> bool {
    rec.len() == 1 && rec[0].iter().all(u8::is_ascii_whitespace)
}

/// One record's fields: a record of the csv reader, or a line of UTF-8 text without quotes
/// split at its delimiters (the block readers' fast path, which needs no per-field decoding).
#[derive(Clone, Copy)]
pub enum Fields<'a> {
    Csv(&'a ByteRecord),
    /// `line[starts[i]..ends[i]]` is field `i`.
    Plain {
        line: &'a str,
        starts: &'a [usize],
        ends: &'a [usize],
    },
}

impl<'a> Fields<'a> {
    pub fn len(&self) -> usize {
        match self {
            Fields::Csv(rec) => rec.len(),
            Fields::Plain { ends, .. } => ends.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Field `i`'s bytes; `None` past the last field.
    pub fn bytes(&self, i: usize) -> Option<&'a [u8]> {
        match *self {
            Fields::Csv(rec) => rec.get(i),
            Fields::Plain { line, starts, ends } => {
                Some(&line.as_bytes()[*starts.get(i)?..*ends.get(i)?])
            }
        }
    }

    /// Field `i` as text ([`decode`]d); empty past the last field.
    pub fn text(&self, i: usize) -> Cow<'a, str> {
        match *self {
            Fields::Csv(rec) => decode(rec.get(i).unwrap_or(b"")),
            Fields::Plain { line, starts, ends } => match (starts.get(i), ends.get(i)) {
                (Some(&a), Some(&b)) => Cow::Borrowed(&line[a..b]),
                _ => Cow::Borrowed(""),
            },
        }
    }
}

impl<'a> From<&'a ByteRecord> for Fields<'a> {
    fn from(rec: &'a ByteRecord) -> Fields<'a> {
        Fields::Csv(rec)
    }
}

/// A row with more non-empty fields than the header is an error naming it (a shifted or
/// mis-delimited row would otherwise be read into the wrong columns); empty extra fields, as
/// trailing delimiters leave, are allowed.
pub fn check_width(
    path: &Path,
    columns: &[String],
    rec: Fields,
    line: u64,
) -> Result<(), DataError> {
    let n = columns.len();
    let filled = |i| {
        rec.bytes(i)
            .is_some_and(|f: &[u8]| !f.trim_ascii().is_empty())
    };
    if rec.len() > n && (n..rec.len()).any(filled) {
        return Err(DataError::Malformed {
            path: path.to_path_buf(),
            row: Some(line),
            reason: format!(
                "{} fields, but the header has {n} columns ({})",
                rec.len(),
                columns.join(", ")
            ),
        });
    }
    Ok(())
}

/// The csv reader of every delimited input: no header handling (the caller decides),
/// rows of any length (checked against the header by the caller).
pub(super) fn csv_reader<R: Read>(delimiter: u8, reader: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(reader)
}

fn unreadable(path: &Path, e: std::io::Error) -> DataError {
    DataError::Unreadable {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// A column name reduced to lower-case letters and digits, for forgiving matches.
pub fn normalize_name(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// A column name turned into a feature name: lower-case words joined by `_`
/// (`Annual Income (k$)` → `annual_income_k`).
pub fn feature_name(name: &str) -> String {
    let mut out = String::new();
    for word in name
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push('_');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

/// Decodes a field as UTF-8, or as Latin-1 when it is not valid UTF-8.
pub fn decode(field: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(field) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(field.iter().map(|&b| b as char).collect()),
    }
}

fn parquet_field_text(field: &parquet::record::Field) -> String {
    use parquet::record::Field;
    match field {
        Field::Null => String::new(),
        Field::Str(s) => s.clone(),
        Field::Bytes(b) => decode(b.data()).into_owned(),
        Field::Date(d) => super::dates::format_day(*d),
        Field::TimestampMillis(ms) => super::dates::format_day(ms.div_euclid(86_400_000) as i32),
        Field::TimestampMicros(us) => {
            super::dates::format_day(us.div_euclid(86_400_000_000) as i32)
        }
        Field::Double(v) => v.to_string(),
        Field::Float(v) => v.to_string(),
        other => other.to_string(),
    }
}

/// Counts `delim` outside double quotes in one line.
fn count_outside_quotes(line: &[u8], delim: u8) -> usize {
    let mut quoted = false;
    let mut n = 0;
    for &b in line {
        if b == b'"' {
            quoted = !quoted;
        } else if b == delim && !quoted {
            n += 1;
        }
    }
    n
}

/// Picks the delimiter that splits the first lines into the same number (> 1) of fields,
/// preferring comma, tab, semicolon, pipe; then runs of whitespace.
fn sniff_format(head: &[u8], truncated: bool) -> Format {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let mut lines: Vec<&[u8]> = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .collect();
    if truncated && lines.len() > 1 {
        lines.pop();
    }
    lines.truncate(50);
    let mut best: Option<(usize, u8)> = None;
    for delim in [b',', b'\t', b';', b'|'] {
        let counts: Vec<usize> = lines
            .iter()
            .map(|l| count_outside_quotes(l, delim))
            .collect();
        let first = counts.first().copied().unwrap_or(0);
        if first > 0 && counts.iter().all(|&c| c == first) && best.is_none_or(|(n, _)| first > n) {
            best = Some((first, delim));
        }
    }
    if let Some((_, d)) = best {
        return Format::Delimited(d);
    }
    let ws: Vec<usize> = lines
        .iter()
        .map(|l| {
            l.split(|b| b.is_ascii_whitespace())
                .filter(|f| !f.is_empty())
                .count()
        })
        .collect();
    if ws.first().is_some_and(|&n| n > 1) && ws.iter().all(|&n| n == ws[0]) {
        return Format::Whitespace;
    }
    // Ragged files: fall back to the delimiter that appears on most lines.
    let mut fallback = (0, b',');
    for delim in [b',', b'\t', b';', b'|'] {
        let hits = lines
            .iter()
            .filter(|l| count_outside_quotes(l, delim) > 0)
            .count();
        if hits > fallback.0 {
            fallback = (hits, delim);
        }
    }
    Format::Delimited(fallback.1)
}

/// A first row is a header when none of its fields is a number or a date.
fn looks_like_header(rec: &ByteRecord) -> bool {
    rec.iter().all(|f| {
        let s = decode(f);
        let s = s.trim();
        !s.is_empty()
            && super::parse_number(s).is_none()
            && super::dates::parse_date(s, super::dates::DayOrder::MonthFirst).is_none()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn table_of(name: &str, bytes: &[u8]) -> (tempfile::TempDir, Table) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let t = Table::open(&path).unwrap();
        (dir, t)
    }

    fn all_rows(t: &mut Table) -> Vec<Vec<String>> {
        let mut rec = ByteRecord::new();
        let mut out = Vec::new();
        while t.next_row(&mut rec).unwrap().is_some() {
            out.push(rec.iter().map(|f| decode(f).into_owned()).collect());
        }
        out
    }

    #[test]
    fn sniffs_each_delimiter() {
        for (sep, fmt) in [
            (",", Format::Delimited(b',')),
            ("\t", Format::Delimited(b'\t')),
            (";", Format::Delimited(b';')),
            ("|", Format::Delimited(b'|')),
            ("   ", Format::Whitespace),
        ] {
            let text = format!("id{sep}date{sep}amount\n1{sep}2020-01-01{sep}3.5\n");
            let (_d, mut t) = table_of("x.txt", text.as_bytes());
            assert_eq!(t.format, fmt, "{sep:?}");
            assert_eq!(t.columns, ["id", "date", "amount"]);
            assert_eq!(all_rows(&mut t), [["1", "2020-01-01", "3.5"]]);
        }
    }

    #[test]
    fn headerless_file_gets_numbered_columns() {
        let (_d, mut t) = table_of("x.csv", b"1,20200101,3.5\n2,20200102,4\n");
        assert!(!t.has_header);
        assert_eq!(t.columns, ["column1", "column2", "column3"]);
        assert_eq!(all_rows(&mut t).len(), 2);
        assert_eq!(t.find_column("2"), Some(1));
        assert_eq!(t.find_column("4"), None);
    }

    #[test]
    fn crlf_bom_and_missing_final_newline() {
        let (_d, mut t) = table_of(
            "x.csv",
            b"\xEF\xBB\xBFCustomerID,Genre\r\n0001,Male\r\n0002,Female",
        );
        assert_eq!(t.columns, ["CustomerID", "Genre"]);
        assert_eq!(all_rows(&mut t), [["0001", "Male"], ["0002", "Female"]]);
        assert_eq!(t.find_column("customer_id"), Some(0));
    }

    #[test]
    fn gzip_is_decompressed_and_hashed_raw() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.csv.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(b"a,b\n1,2\n").unwrap();
        let bytes = enc.finish().unwrap();
        std::fs::write(&path, &bytes).unwrap();
        let mut t = Table::open(&path).unwrap();
        assert_eq!(all_rows(&mut t), [["1", "2"]]);
        let fp = t.fingerprint();
        assert_eq!(fp.bytes, bytes.len() as u64);
        assert_eq!(fp.rows, 1);
    }

    #[test]
    fn empty_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.csv");
        std::fs::write(&path, b"\n  \n").unwrap();
        assert!(matches!(Table::open(&path), Err(DataError::Empty { .. })));
    }

    #[test]
    fn rows_longer_than_the_header_are_malformed_unless_the_extras_are_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, b"a,b\n1,2,,\n3,4,5\n").unwrap();
        let mut t = Table::open(&path).unwrap();
        let mut rec = ByteRecord::new();
        assert_eq!(t.next_row(&mut rec).unwrap(), Some(2));
        match t.next_row(&mut rec) {
            Err(DataError::Malformed {
                row: Some(3),
                reason,
                ..
            }) => {
                assert!(reason.contains("3 fields"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn latin1_fields_decode() {
        assert_eq!(decode(b"caf\xe9"), "café");
        assert_eq!(feature_name("Annual Income (k$)"), "annual_income_k");
        assert_eq!(normalize_name("Customer ID"), "customerid");
    }
}
