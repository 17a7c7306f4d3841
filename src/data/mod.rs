//! Ingestion: reading transaction logs and customer tables from CSV/TSV/semicolon/whitespace
//! text (optionally gzipped) and Parquet, mapping their columns, and cleaning rows with every
//! dropped row counted by reason. Inputs are only ever read.

pub mod blocks;
pub mod csv_out;
pub mod customers;
pub mod dates;
pub mod events;
pub mod fasthash;
mod log_reader;
pub mod rows;
pub mod source;
pub mod spreadsheet;
pub mod table;
pub mod transactions;

use std::path::{Path, PathBuf};

pub use customers::{read_customers, CustomerTable};
pub use rows::{Exclude, FilterError, RowFilters, RowRules};
pub use source::FileFingerprint;
pub use spreadsheet::{is_formula_like, spreadsheet_safe};
pub use transactions::{read_transactions, Cleaning, ColumnMap, TransactionLog, TxnField};

/// Errors from reading input data. Messages name the file, and the row and column when
/// there is one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file cannot be opened or read.
    #[error("{}: cannot read: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
    /// The file holds no rows at all.
    #[error("{}: file is empty", path.display())]
    Empty { path: PathBuf },
    /// The file's structure is broken (bad quoting, corrupt Parquet page, …).
    #[error("{}{}: malformed: {reason}", path.display(), row.map(|r| format!(" row {r}")).unwrap_or_default())]
    Malformed {
        path: PathBuf,
        row: Option<u64>,
        reason: String,
    },
    /// A field the job needs has no column.
    #[error("{}: no column for {field} ({hint}); columns are: {}", path.display(), quoted(available))]
    MissingColumn {
        path: PathBuf,
        field: String,
        hint: String,
        available: Vec<String>,
    },
    /// `--map` names a field custseg does not know.
    #[error("column map {field}=…: unknown field '{field}'; transaction fields are {valid}")]
    UnknownField { field: String, valid: String },
    /// A `--map` argument is not `FIELD=COLUMN`.
    #[error("column map '{arg}': expected FIELD=COLUMN")]
    BadMapArg { arg: String },
    /// A row filter that cannot be compiled.
    #[error(transparent)]
    Filter(#[from] rows::FilterError),
    /// A value that cannot be used and cannot be skipped.
    #[error("{} row {row} column {column}: {reason}", path.display())]
    BadValue {
        path: PathBuf,
        row: u64,
        column: String,
        reason: String,
    },
    /// The same customer appears twice in a customer table (of one file or several).
    #[error("{} row {row}: customer id already appeared at row {first_row}{} (a customer table needs one row per customer)", path.display(), of_file(first_path.as_deref()))]
    DuplicateCustomer {
        path: PathBuf,
        row: u64,
        first_row: u64,
        /// The file of the first row, when it is another file than `path`.
        first_path: Option<PathBuf>,
    },
    /// After cleaning, nothing is left to train on.
    #[error("{what}: no valid rows after cleaning ({summary})")]
    NoValidRows { what: String, summary: String },
    /// A date column whose day/month order cannot be decided from its dates.
    #[error("{} column {column}: {problem}", path.display())]
    DateOrder {
        path: PathBuf,
        column: String,
        problem: Box<dates::OrderProblem>,
    },
    /// One drop reason took more than the allowed share of the rows.
    #[error(
        "{count} of {rows} rows ({:.1}%) would be dropped as {reason}, more than the limit of {:.1}%{}",
        share * 100.0,
        limit * 100.0,
        if samples.is_empty() { String::new() } else { format!("; e.g. {}", samples.join("; ")) }
    )]
    TooManyDropped {
        reason: String,
        count: u64,
        rows: u64,
        share: f64,
        limit: f64,
        samples: Vec<String>,
    },
    /// A customer table to score has no column for some of the model's features; each with
    /// the column it was probably meant to be (`did you mean`).
    #[error("{}: no column for model feature(s) {}; scoring would impute them for every row", path.display(), missing_features(missing))]
    MissingFeatures {
        path: PathBuf,
        /// Feature, and the file's column close to its name.
        missing: Vec<(String, Option<String>)>,
    },
    /// A model with event features scored without an interaction log.
    #[error("the model uses features from an interaction log ({}) and no events were given; scoring without them would count no activity for every customer", features.join(", "))]
    NoEvents { features: Vec<String> },
    /// An error reading an interaction log.
    #[error("interaction log: {0}")]
    Events(Box<DataError>),
    /// Files of one input disagree on their columns.
    #[error("{}: columns differ from {}: {reason}", path.display(), first.display())]
    InconsistentColumns {
        path: PathBuf,
        first: PathBuf,
        reason: String,
    },
}

/// " of FILE" for a message about a row of another file, else nothing.
fn of_file(p: Option<&Path>) -> String {
    p.map(|p| format!(" of {}", p.display()))
        .unwrap_or_default()
}

/// Column names as `'a', 'b'`, so a header read with the wrong delimiter shows as one name.
fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `recency_days (the file has 'recency': did you mean recency_days?), monetary`.
fn missing_features(missing: &[(String, Option<String>)]) -> String {
    missing
        .iter()
        .map(|(f, close)| match close {
            Some(c) => format!("{f} (the file has '{c}': did you mean {f}?)"),
            None => f.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl DataError {
    /// All data errors are the user's input, except I/O failures other than a missing file.
    pub fn is_user_error(&self) -> bool {
        true
    }
}

/// Tokens read as a missing value (case-insensitive), besides the empty string.
/// The tokens that mean "no value" (compared ignoring case), besides blank.
pub const MISSING_TOKENS: [&str; 8] = ["na", "n/a", "nan", "null", "none", "nil", "?", "-"];

/// True when a raw field means "no value".
pub fn is_missing(raw: &str) -> bool {
    let s = raw.trim();
    // The longest token has 4 letters.
    s.is_empty() || (s.len() <= 4 && MISSING_TOKENS.iter().any(|m| s.eq_ignore_ascii_case(m)))
}

/// Parses a finite number, tolerating a leading currency sign and `,` thousands separators.
/// `NaN`, infinities and overflow (`1e309`) are rejected.
///
/// ```
/// use custseg::data::parse_number;
/// assert_eq!(parse_number("$1,234.50"), Some(1234.5));
/// assert_eq!(parse_number("-3"), Some(-3.0));
/// assert_eq!(parse_number("NaN"), None);
/// assert_eq!(parse_number("1e309"), None);
/// ```
pub fn parse_number(raw: &str) -> Option<f64> {
    parse_number_with(raw, false)
}

/// `raw` without surrounding white space and then without the double quotes around it
/// (`raw.trim().trim_matches('"')`), quick for the common field that has neither.
pub fn unquote(raw: &str) -> &str {
    let s = raw.trim();
    if s.starts_with('"') || s.ends_with('"') {
        s.trim_matches('"')
    } else {
        s
    }
}

/// Like [`parse_number`]; with `decimal_comma`, `1.234,5` means 1234.5 (semicolon files).
pub fn parse_number_with(raw: &str, decimal_comma: bool) -> Option<f64> {
    let mut s = unquote(raw).trim();
    let negative = s.starts_with('-');
    if negative {
        s = &s[1..];
    }
    if let Some(v) = plain_decimal(s) {
        return Some(if negative { -v } else { v });
    }
    // Plain numbers (the common case) skip the currency signs, which are not ASCII digits.
    if !s.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        for sign in ['$', '€', '£', '¥'] {
            if let Some(rest) = s.strip_prefix(sign) {
                s = rest.trim_start();
            }
        }
    }
    if s.is_empty() || !s.starts_with(|c: char| c.is_ascii_digit() || c == '.' || c == '+') {
        return None;
    }
    let cleaned: std::borrow::Cow<str> = if decimal_comma && s.contains(',') {
        s.replace('.', "").replace(',', ".").into()
    } else if s.contains(',') {
        s.replace(',', "").into()
    } else {
        s.into()
    };
    let v: f64 = cleaned.parse().ok()?;
    let v = if negative { -v } else { v };
    v.is_finite().then_some(v)
}

/// Powers of ten that are exact doubles.
pub(crate) const EXACT_TENS: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The value of `digits[.digits]` with at most 15 digits in all, else `None`. The digits
/// form an integer below 2^53 and the power of ten is exact, so one correctly rounded
/// division gives the correctly rounded value, the same double `str::parse` gives (Clinger's
/// fast path).
fn plain_decimal(s: &str) -> Option<f64> {
    let (mut int, mut digits, mut frac) = (0u64, 0usize, None::<usize>);
    for &b in s.as_bytes() {
        match b {
            b'0'..=b'9' => {
                int = int * 10 + u64::from(b - b'0');
                digits += 1;
                if let Some(f) = frac.as_mut() {
                    *f += 1;
                }
            }
            b'.' if frac.is_none() => frac = Some(0),
            _ => return None,
        }
        if digits > 15 {
            return None;
        }
    }
    if digits == 0 {
        return None;
    }
    Some(int as f64 / EXACT_TENS[frac.unwrap_or(0)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_decimals_read_as_str_parse_reads_them() {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for _ in 0..200_000 {
            let digits = 1 + (next() % 15) as usize;
            let text: String = (0..digits)
                .map(|_| char::from(b'0' + (next() % 10) as u8))
                .collect();
            let at = (next() % (digits as u64 + 1)) as usize;
            let s = format!("{}.{}", &text[..at], &text[at..]);
            for t in [s.as_str(), text.as_str()] {
                assert_eq!(plain_decimal(t), Some(t.parse::<f64>().unwrap()), "{t}");
            }
        }
        for t in [
            "",
            ".",
            "1e5",
            "1.2.3",
            "1,5",
            "+3",
            "1234567890123456",
            "12a",
        ] {
            assert_eq!(plain_decimal(t), None, "{t}");
        }
        assert_eq!(parse_number("-0.1"), Some(-0.1));
        assert_eq!(parse_number(" \"32.27\" "), Some(32.27));
    }

    #[test]
    fn missing_tokens_are_recognized() {
        for s in ["", "  ", "NA", "nan", "NULL", "None", "?"] {
            assert!(is_missing(s), "{s:?}");
        }
        assert!(!is_missing("0"));
        assert!(!is_missing("Male"));
    }

    #[test]
    fn numbers_reject_non_finite_and_text() {
        for s in [
            "inf", "-inf", "Infinity", "NaN", "1e309", "abc", "", "1.2.3", "--1",
        ] {
            assert_eq!(parse_number(s), None, "{s}");
        }
        assert_eq!(parse_number("12,5"), Some(125.0));
        assert_eq!(parse_number_with("1.234,5", true), Some(1234.5));
        assert_eq!(parse_number("-€ 3.5"), Some(-3.5));
        assert_eq!(parse_number("+2"), Some(2.0));
        assert_eq!(parse_number(".5"), Some(0.5));
    }
}
