//! Transaction logs: one row per order line (or per order), mapped onto the fields
//! `customer_id`, `date`, `amount` (or `quantity` × `unit_price`) and optionally `order_id`.
//!
//! Every row goes through the row rules of [`super::rows`] (shared with HTTP scoring), each
//! drop counted: rows without a customer id, rows whose date or amount cannot be parsed
//! (including NaN and infinities), and exact duplicates of an earlier row (every field equal
//! in canonical form, across all files of the log; kept with `keep_duplicates`). Negative
//! amounts are kept: they are returns and reduce the customer's monetary value without
//! counting as orders.

use std::collections::BTreeMap;
use std::hash::Hash;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::dates::DateFormat;
use super::log_reader::{FileRules, LogState};
use super::rows::{self, Levels, RowRules, Txn, TxnBehaviour};
use super::source::FileFingerprint;
use super::table::{normalize_name, Format, Table};
use super::DataError;
use crate::progress::Progress;

/// The fields a transaction log can map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TxnField {
    CustomerId,
    Date,
    Amount,
    OrderId,
    Quantity,
    UnitPrice,
    /// Behaviour fields ([`TxnField::BEHAVIOUR`]): read for behaviour features, never a
    /// reason to drop a line.
    Category,
    Channel,
    Country,
    Product,
    Discount,
}

impl TxnField {
    /// All fields, in the order they are documented.
    pub const ALL: [TxnField; 11] = [
        TxnField::CustomerId,
        TxnField::Date,
        TxnField::Amount,
        TxnField::OrderId,
        TxnField::Quantity,
        TxnField::UnitPrice,
        TxnField::Category,
        TxnField::Channel,
        TxnField::Country,
        TxnField::Product,
        TxnField::Discount,
    ];

    /// The behaviour fields, in [`Columns::behaviour`] order.
    pub const BEHAVIOUR: [TxnField; 5] = [
        TxnField::Category,
        TxnField::Channel,
        TxnField::Country,
        TxnField::Product,
        TxnField::Discount,
    ];

    /// The name used in `--map`.
    pub fn name(self) -> &'static str {
        match self {
            TxnField::CustomerId => "customer_id",
            TxnField::Date => "date",
            TxnField::Amount => "amount",
            TxnField::OrderId => "order_id",
            TxnField::Quantity => "quantity",
            TxnField::UnitPrice => "unit_price",
            TxnField::Category => "category",
            TxnField::Channel => "channel",
            TxnField::Country => "country",
            TxnField::Product => "product",
            TxnField::Discount => "discount",
        }
    }

    /// Parses a `--map` field name.
    pub fn from_name(name: &str) -> Option<TxnField> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Column names recognized without `--map`, compared after [`normalize_name`].
    pub fn default_names(self) -> &'static [&'static str] {
        match self {
            TxnField::CustomerId => &[
                "customerid",
                "custid",
                "customer",
                "customerno",
                "customernumber",
                "customeruniqueid",
                "clientid",
                "client",
                "userid",
                "memberid",
                "accountid",
                "buyerid",
                "shopperid",
            ],
            TxnField::Date => &[
                "invoicedate",
                "date",
                "orderdate",
                "transactiondate",
                "purchasedate",
                "saledate",
                "txndate",
                "timestamp",
                "datetime",
                "orderpurchasetimestamp",
                "ordertimestamp",
                "createdat",
                "transactiontime",
                "purchasetime",
            ],
            TxnField::Amount => &[
                "amount",
                "totalamount",
                "total",
                "sales",
                "salesamount",
                "revenue",
                "value",
                "ordervalue",
                "dollarvalue",
                "totalprice",
                "linetotal",
                "spend",
                "netamount",
                "paymentvalue",
                "price_total",
                "purchaseamount",
            ],
            TxnField::OrderId => &[
                "invoiceno",
                "invoice",
                "invoiceid",
                "invoicenumber",
                "orderid",
                "order",
                "ordernumber",
                "orderno",
                "transactionid",
                "txnid",
                "receiptid",
                "receipt",
                "basketid",
            ],
            TxnField::Quantity => &["quantity", "qty", "units", "numberofitems", "numberofcds"],
            TxnField::UnitPrice => &["unitprice", "price", "itemprice", "priceeach"],
            TxnField::Category => &[
                "category",
                "productcategory",
                "productcategoryname",
                "categoryname",
                "itemcategory",
                "department",
            ],
            TxnField::Channel => &["channel", "saleschannel", "orderchannel", "purchasechannel"],
            TxnField::Country => &["country", "region", "countryregion", "countrycode"],
            TxnField::Product => &[
                "stockcode",
                "sku",
                "productid",
                "productcode",
                "itemid",
                "itemcode",
                "product",
                "asin",
            ],
            TxnField::Discount => &[
                "discount",
                "discountamount",
                "discountapplied",
                "promo",
                "promocode",
                "coupon",
                "couponcode",
            ],
        }
    }
}

/// `--map FIELD=COLUMN` pairs. A column is a header name (case-insensitive) or a 1-based
/// position. Fields that are not transaction fields rename customer-table columns.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ColumnMap {
    /// `(field, column)` in the order given.
    pub pairs: Vec<(String, String)>,
    /// How the date column is written; `None`: day/month order decided per file from
    /// evidence (see [`super::dates::DayEvidence`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_format: Option<DateFormat>,
}

impl ColumnMap {
    /// Parses `FIELD=COLUMN` arguments.
    pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<ColumnMap, DataError> {
        let mut pairs = Vec::new();
        for arg in args {
            let arg = arg.as_ref();
            let (field, column) = arg
                .split_once('=')
                .filter(|(f, c)| !f.trim().is_empty() && !c.trim().is_empty())
                .ok_or_else(|| DataError::BadMapArg { arg: arg.into() })?;
            pairs.push((field.trim().to_string(), column.trim().to_string()));
        }
        Ok(ColumnMap {
            pairs,
            date_format: None,
        })
    }

    /// The column mapped to a field, if any.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(f, _)| f == field)
            .map(|(_, c)| c.as_str())
    }

    /// Fails on field names that are neither transaction fields nor allowed extra names.
    pub fn check_transaction_fields(&self, customers_given: bool) -> Result<(), DataError> {
        for (field, _) in &self.pairs {
            if let Some(f) = field.strip_prefix(super::events::MAP_PREFIX) {
                use super::events::EventField;
                if EventField::ALL.iter().any(|e| e.name() == f) {
                    continue;
                }
                return Err(DataError::UnknownField {
                    field: field.clone(),
                    valid: EventField::ALL.map(EventField::map_key).join(", "),
                });
            }
            if TxnField::from_name(field).is_none() && !customers_given {
                return Err(DataError::UnknownField {
                    field: field.clone(),
                    valid: TxnField::ALL.map(TxnField::name).join(", "),
                });
            }
        }
        Ok(())
    }
}

/// Counts of rows read, used and dropped, by reason.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Cleaning {
    /// Data rows read from all files.
    pub rows_read: u64,
    /// Rows kept.
    pub rows_kept: u64,
    /// Dropped: no customer id.
    pub missing_customer_id: u64,
    /// Dropped: date missing or not a valid date.
    pub bad_date: u64,
    /// Dropped: amount (or quantity/unit price) missing, not a number, NaN or infinite.
    pub bad_amount: u64,
    /// Dropped: exact duplicate of an earlier row.
    pub duplicate: u64,
    /// Kept rows with a negative amount (returns).
    pub returns: u64,
    /// Rows dropped on purpose by each row filter, in the filters' order (none when no
    /// filter was given).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filtered: Vec<FilterCount>,
    /// First place each drop reason happened (`file row N column C`), for finding them.
    pub first_seen: BTreeMap<String, String>,
    /// Up to [`SAMPLES_PER_REASON`] dropped rows per reason as `file:row column C 'raw'`
    /// (not stored in the model: raw values stay with the data).
    #[serde(skip)]
    pub samples: BTreeMap<String, Vec<String>>,
    /// How each file's day/month order was decided, by path: `format %d-%m-%Y`, or the
    /// order and the first date that proved it. Files whose dates read one way only are
    /// not listed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub date_orders: BTreeMap<String, String>,
}

/// The rows one row filter dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterCount {
    /// The filter ([`super::RowFilters::labels`]): `StockCode=POST|M`, `min_unit_price=0.01`.
    pub filter: String,
    pub rows: u64,
}

/// A raw value cut to at most 40 characters for a message.
fn clip(v: &str) -> String {
    match v.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &v[..i]),
        None => v.to_string(),
    }
}

/// Dropped rows kept as samples per reason.
pub const SAMPLES_PER_REASON: usize = 3;

/// Default of the largest share of a file set's rows one drop reason may take.
pub const DEFAULT_MAX_DROPPED_SHARE: f64 = 0.05;

impl Cleaning {
    /// Rows dropped for any reason.
    pub fn dropped(&self) -> u64 {
        self.missing_customer_id + self.bad_date + self.bad_amount + self.duplicate
    }

    pub(super) fn note(
        &mut self,
        reason: &str,
        path: &Path,
        row: u64,
        column: &str,
        raw: Option<&str>,
    ) {
        self.first_seen
            .entry(reason.to_string())
            .or_insert_with(|| format!("{} row {row} column {column}", path.display()));
        let samples = self.samples.entry(reason.to_string()).or_default();
        if samples.len() < SAMPLES_PER_REASON {
            let value = raw
                .map(|v| format!(" '{}'", clip(v.trim())))
                .unwrap_or_default();
            samples.push(format!("{}:{row} column {column}{value}", path.display()));
        }
    }

    /// The drop reasons with their counts, in summary order.
    pub fn reasons(&self) -> [(&'static str, u64); 4] {
        [
            ("missing_customer_id", self.missing_customer_id),
            ("bad_date", self.bad_date),
            ("bad_amount", self.bad_amount),
            ("duplicate", self.duplicate),
        ]
    }

    /// Fails when one reason dropped more than `max_share` of the rows read (1.0 never
    /// fails), naming the reason, the count and up to three samples with file:row.
    pub fn check_dropped_share(&self, max_share: f64) -> Result<(), DataError> {
        if self.rows_read == 0 || max_share >= 1.0 {
            return Ok(());
        }
        for (reason, count) in self.reasons() {
            let share = count as f64 / self.rows_read as f64;
            if share > max_share {
                return Err(DataError::TooManyDropped {
                    reason: reason.to_string(),
                    count,
                    rows: self.rows_read,
                    share,
                    limit: max_share,
                    samples: self.samples.get(reason).cloned().unwrap_or_default(),
                });
            }
        }
        Ok(())
    }

    /// One-line summary such as `rows 100, kept 90, dropped: bad_date 10`.
    pub fn summary(&self) -> String {
        let mut parts = vec![format!(
            "rows read {}, kept {}",
            self.rows_read, self.rows_kept
        )];
        for (name, n) in [
            ("missing customer id", self.missing_customer_id),
            ("bad date", self.bad_date),
            ("bad amount", self.bad_amount),
            ("duplicate", self.duplicate),
        ] {
            if n > 0 {
                parts.push(format!("{name} {n}"));
            }
        }
        for f in &self.filtered {
            parts.push(format!("filtered {} {}", f.filter, f.rows));
        }
        parts.join(", ")
    }
}

/// Every customer's transactions, held in a few flat arrays (one per reader partition)
/// rather than one allocation per customer.
#[derive(Debug, Default)]
pub struct CustomerTxns {
    parts: Vec<FlatTxns>,
    /// Customer `c` is customer `order[c].1` of part `order[c].0`.
    order: Vec<(u32, u32)>,
}

/// Transactions of several customers, customer `i`'s at `txns[offsets[i]..offsets[i + 1]]`.
#[derive(Debug, Default)]
pub(super) struct FlatTxns {
    pub offsets: Vec<usize>,
    pub txns: Vec<Txn>,
    /// Each transaction's behaviour, or empty when none of these customers has any.
    pub behaviour: Vec<TxnBehaviour>,
}

impl CustomerTxns {
    pub(super) fn new(parts: Vec<FlatTxns>, order: Vec<(u32, u32)>) -> CustomerTxns {
        CustomerTxns { parts, order }
    }

    /// Customers.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// True when there is no customer.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Customer `c`'s transactions in file order.
    pub fn get(&self, c: usize) -> &[Txn] {
        let (p, i) = self.order[c];
        let part = &self.parts[p as usize];
        let i = i as usize;
        &part.txns[part.offsets[i]..part.offsets[i + 1]]
    }

    /// Customer `c`'s behaviour fields, one per transaction; empty when the log has none
    /// for them.
    pub fn behaviour(&self, c: usize) -> &[TxnBehaviour] {
        let (p, i) = self.order[c];
        let part = &self.parts[p as usize];
        let i = i as usize;
        part.behaviour
            .get(part.offsets[i]..part.offsets[i + 1])
            .unwrap_or(&[])
    }

    /// Every customer's transactions, in customer order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[Txn]> + '_ {
        (0..self.len()).map(|c| self.get(c))
    }
}

/// A cleaned transaction log grouped by customer.
#[derive(Debug, Default)]
pub struct TransactionLog {
    /// Customer ids in order of first appearance.
    pub customer_ids: Vec<String>,
    /// Each customer's transactions, in file order.
    pub txns: CustomerTxns,
    /// True when at least one file mapped an order id column.
    pub has_order_ids: bool,
    /// Earliest and latest transaction day.
    pub first_day: i32,
    /// Latest transaction day.
    pub last_day: i32,
    /// Per-file fingerprints.
    pub files: Vec<FileFingerprint>,
    /// What cleaning did.
    pub cleaning: Cleaning,
    /// The level names of the behaviour fields ([`CustomerTxns::behaviour`]).
    pub levels: Levels,
    /// Each behaviour field some file maps, with the header of the first such file.
    pub behaviour_columns: Vec<(TxnField, String)>,
    /// True when some kept line's date carries a time of day.
    pub has_times: bool,
    /// The first file's header of each row role it maps (customer id, date, amount, order
    /// id, quantity, unit price), in [`TxnField::ALL`] order.
    pub role_columns: Vec<(TxnField, String)>,
    /// The first file's columns, in order: every field that takes part in duplicate keys.
    pub header: Vec<String>,
}

/// The columns of one file in their roles.
pub(super) struct Columns {
    pub customer: usize,
    pub date: usize,
    pub amount: Option<usize>,
    pub order: Option<usize>,
    pub quantity: Option<usize>,
    pub unit_price: Option<usize>,
    /// The columns of [`TxnField::BEHAVIOUR`], in that order.
    pub behaviour: [Option<usize>; 5],
}

impl Columns {
    /// The header of each row role this file maps, in [`TxnField::ALL`] order.
    fn roles(&self, columns: &[String]) -> Vec<(TxnField, String)> {
        [
            (TxnField::CustomerId, Some(self.customer)),
            (TxnField::Date, Some(self.date)),
            (TxnField::Amount, self.amount),
            (TxnField::OrderId, self.order),
            (TxnField::Quantity, self.quantity),
            (TxnField::UnitPrice, self.unit_price),
        ]
        .into_iter()
        .filter_map(|(f, i)| Some((f, columns.get(i?)?.clone())))
        .collect()
    }

    /// True when a behaviour field has a column.
    pub fn has_behaviour(&self) -> bool {
        self.behaviour.iter().any(Option::is_some)
    }

    /// The columns in no role, each with its name's seed for [`OtherFields`].
    fn others(&self, columns: &[String]) -> Vec<(usize, u64)> {
        let roles = [
            Some(self.customer),
            Some(self.date),
            self.amount,
            self.order,
            self.quantity,
            self.unit_price,
        ];
        (0..columns.len())
            .filter(|i| !roles.contains(&Some(*i)))
            .map(|i| (i, rows::name_seed(&columns[i])))
            .collect()
    }
}

/// The column of each of `rules`' excludes in `table` (by header, as `--map` finds columns);
/// an error names a filter's column the file does not have, and a minimum unit price in a
/// file without unit prices.
fn filter_columns(
    table: &Table,
    cols: &Columns,
    rules: &RowRules,
) -> Result<Vec<usize>, DataError> {
    let f = rules.filters();
    if f.min_unit_price.is_some() && cols.unit_price.is_none() {
        return Err(DataError::MissingColumn {
            path: table.path.clone(),
            field: "unit_price".into(),
            hint: "the minimum unit price filter needs a unit price column".into(),
            available: table.columns.clone(),
        });
    }
    f.exclude
        .iter()
        .map(|e| {
            table
                .find_column(&e.column)
                .ok_or_else(|| DataError::MissingColumn {
                    path: table.path.clone(),
                    field: e.column.clone(),
                    hint: format!("the row filter {}={} names no column", e.column, e.pattern),
                    available: table.columns.clone(),
                })
        })
        .collect()
}

fn resolve(table: &Table, map: &ColumnMap) -> Result<Columns, DataError> {
    let find = |field: TxnField| -> Result<Option<usize>, DataError> {
        if let Some(col) = map.get(field.name()) {
            return table
                .find_column(col)
                .map(Some)
                .ok_or_else(|| DataError::MissingColumn {
                    path: table.path.clone(),
                    field: field.name().into(),
                    hint: format!("the column map {}={col} names no column", field.name()),
                    available: table.columns.clone(),
                });
        }
        Ok(field.default_names().iter().find_map(|name| {
            table
                .columns
                .iter()
                .position(|c| normalize_name(c) == *name)
        }))
    };
    let missing = |field: TxnField, hint: &str| DataError::MissingColumn {
        path: table.path.clone(),
        field: field.name().into(),
        hint: hint.into(),
        available: table.columns.clone(),
    };
    let header_hint = if table.has_header {
        ""
    } else {
        "; the file has no header, so columns are numbered from 1"
    };
    let customer = find(TxnField::CustomerId)?.ok_or_else(|| {
        missing(
            TxnField::CustomerId,
            &format!("map customer_id to a column{header_hint}"),
        )
    })?;
    let date = find(TxnField::Date)?.ok_or_else(|| {
        missing(
            TxnField::Date,
            &format!("map date to a column{header_hint}"),
        )
    })?;
    let amount = find(TxnField::Amount)?;
    let quantity = find(TxnField::Quantity)?;
    let unit_price = find(TxnField::UnitPrice)?;
    if amount.is_none() && (quantity.is_none() || unit_price.is_none()) {
        return Err(missing(
            TxnField::Amount,
            &format!("map amount to a column, or map quantity and unit_price{header_hint}"),
        ));
    }
    let mut behaviour = [None; 5];
    for (slot, f) in behaviour.iter_mut().zip(TxnField::BEHAVIOUR) {
        // A column already in a role (an order id named `product`) stays in that role only.
        *slot = find(f)?.filter(|i| {
            map.get(f.name()).is_some()
                || ![Some(customer), Some(date), amount, quantity, unit_price].contains(&Some(*i))
        });
    }
    Ok(Columns {
        customer,
        date,
        amount,
        order: find(TxnField::OrderId)?,
        quantity,
        unit_price,
        behaviour,
    })
}

/// Reads and cleans every file of a transaction log.
///
/// `inputs` are the paths the user gave (files, directories or globs); every row goes through
/// the row rules of [`super::rows`] with `rules`. Dropped rows are counted in the returned
/// [`Cleaning`]; an error is returned only for unreadable files, unmappable columns, a date
/// column whose day/month order cannot be decided, or when no valid row remains. Files are
/// parsed in parallel blocks (see `log_reader`); the result does not depend on the number of
/// threads.
pub fn read_transactions(
    inputs: &[PathBuf],
    map: &ColumnMap,
    rules: &RowRules,
    progress: &Progress,
) -> Result<TransactionLog, DataError> {
    let mut files = Vec::new();
    for input in inputs {
        files.extend(super::source::expand(input)?);
    }
    let bar = progress.bytes_bar(
        "reading transactions",
        files
            .iter()
            .filter_map(|f| f.metadata().ok())
            .map(|m| m.len())
            .sum(),
    );
    let mut state = LogState::new(rules);
    let mut has_order_ids = false;
    let mut behaviour_columns = Vec::new();
    // The first file's role headers and columns.
    let mut first_columns = None;
    let mut prints = Vec::with_capacity(files.len());
    for (i, path) in files.iter().enumerate() {
        let table = Table::open(path)?;
        let cols = resolve(&table, map)?;
        has_order_ids |= cols.order.is_some();
        for (f, col) in TxnField::BEHAVIOUR.iter().zip(&cols.behaviour) {
            if let Some(i) = col {
                if !behaviour_columns.iter().any(|(g, _)| g == f) {
                    behaviour_columns.push((*f, table.columns[*i].clone()));
                }
            }
        }
        let columns = table.columns.clone();
        if first_columns.is_none() {
            first_columns = Some((cols.roles(&columns), columns.clone()));
        }
        let file = FileRules {
            path,
            cols: &cols,
            columns: &columns,
            format: map.date_format.as_ref(),
            decimal_comma: table.format == Format::Delimited(b';'),
            others: cols.others(&columns),
            filter_columns: filter_columns(&table, &cols, rules)?,
            row_rules: rules,
        };
        prints.push(state.read_file(i as u32, &file, table, &bar)?);
    }
    bar.finish_and_clear();
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let mut log = state.finish(&paths, has_order_ids, prints);
    behaviour_columns.sort();
    log.behaviour_columns = behaviour_columns;
    (log.role_columns, log.header) = first_columns.unwrap_or_default();
    if log.cleaning.rows_kept == 0 {
        return Err(DataError::NoValidRows {
            what: files
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            summary: log.cleaning.summary(),
        });
    }
    Ok(log)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cleaning(rows: u64, bad_date: u64) -> Cleaning {
        let mut c = Cleaning {
            rows_read: rows,
            bad_date,
            ..Default::default()
        };
        for row in 2..2 + bad_date {
            c.note(
                "bad_date",
                Path::new("f.csv"),
                row,
                "date",
                Some("31/02/2011"),
            );
        }
        c
    }

    #[test]
    fn dropped_share_above_the_limit_stops_with_three_samples() {
        let err = cleaning(100, 6).check_dropped_share(0.05).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("6 of 100 rows (6.0%) would be dropped as bad_date"),
            "{text}"
        );
        assert!(
            text.contains("f.csv:2 column date '31/02/2011'; f.csv:3"),
            "{text}"
        );
        assert!(
            text.contains("f.csv:4 column date") && !text.contains("f.csv:5"),
            "{text}"
        );
        assert!(!text.contains("--"), "library errors name no flag: {text}");
        assert!(cleaning(100, 5).check_dropped_share(0.05).is_ok());
        assert!(cleaning(100, 100).check_dropped_share(1.0).is_ok());
    }

    #[test]
    fn samples_clip_long_raw_values() {
        let mut c = Cleaning::default();
        c.note(
            "bad_amount",
            Path::new("f.csv"),
            3,
            "amount",
            Some(&"9".repeat(5000)),
        );
        let s = &c.samples["bad_amount"][0];
        assert!(s.len() < 80 && s.ends_with("…'"), "{s}");
    }
}
