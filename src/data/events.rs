//! Interaction logs (`events`): what customers do besides buying — views, carts, searches,
//! visits — one row per event with the customer, a timestamp, the event and optionally the
//! product and category. Read from the same files as transaction logs (delimited text,
//! gzip, Parquet); the rules of one event row ([`read_stamp`], [`EventKind::of`]) are shared
//! by the file reader and the HTTP scorer.
//!
//! Columns are found by name ([`EventField::default_names`]) or by `--map
//! events.FIELD=COLUMN`. The timestamp must carry a time of day (sessions need one): a file
//! whose timestamps are all dates alone is an error, as is a file without a timestamp
//! column. A row without a customer id, a readable timestamp or an event is dropped and
//! counted by reason.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::dates::{DayEvidence, DayOrder, Reading};
use super::fasthash::FxBuild;
use super::rows::{self, Cell};
use super::table::{normalize_name, Table};
use super::{ColumnMap, DataError, FileFingerprint, TxnField};
use crate::progress::Progress;

/// What a customer did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    View,
    Cart,
    Search,
    Visit,
    Purchase,
    Other,
}

impl EventKind {
    /// The kind of an event name, compared after [`normalize_name`]: `view`, `page_view`,
    /// `product_view`, `view_item`, `detail` are views; `cart`, `add_to_cart`, `addtocart`,
    /// `add_to_basket` carts; `search`; `visit`, `session_start`, `login`, `app_open` visits;
    /// `purchase`, `transaction`, `order`, `buy` purchases; any other name is an other event
    /// (it still counts as an event and as activity in a session).
    pub fn of(name: &str) -> EventKind {
        match normalize_name(name).as_str() {
            "view" | "pageview" | "productview" | "viewitem" | "viewproduct" | "detail"
            | "productdetail" => EventKind::View,
            "cart" | "addtocart" | "addedtocart" | "cartadd" | "addtobasket" | "basket" => {
                EventKind::Cart
            }
            "search" => EventKind::Search,
            "visit" | "sessionstart" | "login" | "appopen" => EventKind::Visit,
            "purchase" | "transaction" | "order" | "buy" => EventKind::Purchase,
            _ => EventKind::Other,
        }
    }
}

/// One event of one customer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Event {
    /// Seconds since 1970-01-01 00:00 (the clock as written; zones are ignored, as the
    /// transaction dates ignore them).
    pub at: i64,
    pub kind: EventKind,
    /// [`rows::product_key`] of the product (0: none).
    pub product: u64,
    /// 1-based index into the log's category names (0: none).
    pub category: u32,
}

impl Event {
    /// The event's day number.
    pub fn day(&self) -> i32 {
        self.at.div_euclid(86_400) as i32
    }
}

/// A column of an events file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventField {
    CustomerId,
    Timestamp,
    Event,
    Product,
    Category,
}

impl EventField {
    pub const ALL: [EventField; 5] = [
        EventField::CustomerId,
        EventField::Timestamp,
        EventField::Event,
        EventField::Product,
        EventField::Category,
    ];

    /// The field's name after `events.` in a column map.
    pub fn name(self) -> &'static str {
        match self {
            EventField::CustomerId => "customer_id",
            EventField::Timestamp => "timestamp",
            EventField::Event => "event",
            EventField::Product => "product",
            EventField::Category => "category",
        }
    }

    /// The column-map key: `events.timestamp`.
    pub fn map_key(self) -> String {
        format!("{MAP_PREFIX}{}", self.name())
    }

    /// Column names recognized without a map, compared after [`normalize_name`]: the
    /// transaction fields' names for the id, product and category, then the ones event logs
    /// use (`visitorid`, `itemid`, `categoryid`, …).
    pub fn default_names(self) -> impl Iterator<Item = &'static str> {
        let (shared, own): (&[&str], &[&str]) = match self {
            EventField::CustomerId => (
                TxnField::CustomerId.default_names(),
                &["user", "visitorid", "visitor"],
            ),
            EventField::Timestamp => (
                &[],
                &[
                    "timestamp",
                    "eventtime",
                    "eventtimestamp",
                    "time",
                    "datetime",
                    "ts",
                    "date",
                    "createdat",
                    "occurredat",
                ],
            ),
            EventField::Event => (
                &[],
                &[
                    "event",
                    "eventtype",
                    "eventname",
                    "type",
                    "action",
                    "interaction",
                ],
            ),
            EventField::Product => (TxnField::Product.default_names(), &["item"]),
            EventField::Category => (
                TxnField::Category.default_names(),
                &["categorycode", "categoryid"],
            ),
        };
        shared.iter().chain(own).copied()
    }
}

/// Column-map keys of events files start with this.
pub const MAP_PREFIX: &str = "events.";

/// A timestamp as written: Unix seconds (or milliseconds), or a date and a time of day.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stamp {
    /// Seconds since 1970 (a number of 10 digits, or 13 digits of milliseconds).
    Epoch(i64),
    /// A date (both day/month readings) and the milliseconds of its time of day; `clock`
    /// says whether a time was written at all.
    Dated {
        reading: Reading,
        ms: u32,
        clock: bool,
    },
}

impl Stamp {
    /// Seconds since 1970 with day/month order `order` (`None`: only dates that read one
    /// way); `None` when the date is invalid that way round.
    pub fn seconds(self, order: Option<DayOrder>) -> Option<i64> {
        match self {
            Stamp::Epoch(s) => Some(s),
            Stamp::Dated { reading, ms, .. } => {
                Some(i64::from(reading.day(order)?) * 86_400 + i64::from(ms / 1000))
            }
        }
    }

    /// Whether the stamp carries a time of day.
    pub fn has_clock(self) -> bool {
        match self {
            Stamp::Epoch(_) => true,
            Stamp::Dated { clock, .. } => clock,
        }
    }
}

/// The timestamp rule: a JSON number or a text of 10 digits is Unix seconds, 13 digits Unix
/// milliseconds; any other text is a date (any form the transaction logs take) with an
/// optional time of day (`H:MM`, `H:MM:SS`, fractions, AM/PM; a zone is ignored). `None`
/// for a missing value, a date that reads no way round or a time that does not read as one.
pub fn read_stamp(cell: Cell) -> Option<Stamp> {
    let text = match cell {
        Cell::Missing => return None,
        Cell::Number(x) if x.is_finite() && x >= 0.0 => {
            let s = if x >= 1e11 { x / 1000.0 } else { x };
            return Some(Stamp::Epoch(s.floor() as i64));
        }
        Cell::Number(_) => return None,
        Cell::Text(t) => super::unquote(t).trim(),
    };
    if super::is_missing(text) {
        return None;
    }
    if text.bytes().all(|b| b.is_ascii_digit()) && matches!(text.len(), 10 | 13) {
        let n: i64 = text.parse().ok()?;
        return Some(Stamp::Epoch(if text.len() == 13 { n / 1000 } else { n }));
    }
    let reading = super::dates::read_both(text);
    if reading == Reading::Invalid {
        return None;
    }
    let t = rows::time_of_day(text);
    if t >> 63 == 1 {
        return None;
    }
    // Midnight reads as 0 like no time at all: a clock is then one written after the date
    // (the rule of `rows::minute_of_day`).
    let clock =
        t != 0 || (text.find([' ', 'T'])).is_some_and(|at| !text[at + 1..].trim().is_empty());
    Some(Stamp::Dated {
        reading,
        ms: (t % 86_400_000) as u32,
        clock,
    })
}

/// Rows of an events file, by fate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventCounts {
    pub rows_read: u64,
    pub rows_kept: u64,
    /// Dropped: no customer id.
    pub missing_customer_id: u64,
    /// Dropped: timestamp missing, not a date, or a date that reads neither way round.
    pub bad_timestamp: u64,
    /// Dropped: no event name.
    pub missing_event: u64,
}

impl EventCounts {
    /// Rows dropped.
    pub fn dropped(&self) -> u64 {
        self.missing_customer_id + self.bad_timestamp + self.missing_event
    }
}

/// An interaction log: every customer's events in time order.
#[derive(Clone, Debug, Default)]
pub struct EventLog {
    pub customer_ids: Vec<String>,
    /// Per customer (as `customer_ids`), sorted by time (ties in file order).
    pub events: Vec<Vec<Event>>,
    /// Category names; an event's `category` n is `categories[n - 1]`.
    pub categories: Vec<String>,
    /// The header of each field found in the (first) file.
    pub columns: Vec<(EventField, String)>,
    pub files: Vec<FileFingerprint>,
    pub counts: EventCounts,
    /// First and last day of any kept event.
    pub first_day: i32,
    pub last_day: i32,
    index: HashMap<String, usize, FxBuild>,
}

impl EventLog {
    /// The position of customer `id`.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// Whether the log names a category for its events.
    pub fn has_categories(&self) -> bool {
        self.columns.iter().any(|(f, _)| *f == EventField::Category)
    }

    /// Customer `id`'s events (none when the log does not know them).
    pub fn of(&self, id: &str) -> &[Event] {
        self.position(id).map_or(&[], |c| &self.events[c])
    }

    /// The 1-based index of category `name`, added when new.
    fn intern(&mut self, names: &mut HashMap<String, u32, FxBuild>, name: &str) -> u32 {
        if let Some(&n) = names.get(name) {
            return n;
        }
        self.categories.push(name.to_string());
        let n = self.categories.len() as u32;
        names.insert(name.to_string(), n);
        n
    }
}

/// The columns of `table` for each field: mapped by `events.FIELD=COLUMN`, else by a
/// default name. The customer id, timestamp and event are required.
fn resolve(table: &Table, map: &ColumnMap) -> Result<Vec<(EventField, usize)>, DataError> {
    let mut out = Vec::new();
    for f in EventField::ALL {
        let found = match map.get(&f.map_key()) {
            Some(col) => Some(
                table
                    .find_column(col)
                    .ok_or_else(|| DataError::MissingColumn {
                        path: table.path.clone(),
                        field: f.map_key(),
                        hint: format!("the column map {}={col} names no column", f.map_key()),
                        available: table.columns.clone(),
                    })?,
            ),
            None => f
                .default_names()
                .find_map(|n| (table.columns.iter()).position(|c| normalize_name(c) == n)),
        };
        match found {
            Some(i) => out.push((f, i)),
            None if matches!(f, EventField::Product | EventField::Category) => {}
            None => {
                return Err(DataError::MissingColumn {
                    path: table.path.clone(),
                    field: f.name().into(),
                    hint: format!(
                        "an events file needs a customer id, a timestamp and an event; name \
                         the column with the column map {}=COLUMN",
                        f.map_key()
                    ),
                    available: table.columns.clone(),
                })
            }
        }
    }
    Ok(out)
}

/// An event row whose date reads both ways: kept until the file's day order is known.
struct Pending {
    customer: usize,
    stamp: Stamp,
    event: Event,
}

/// Per file: the customer, category and event-name lookups that spare the hot loop an
/// allocation per row.
#[derive(Default)]
struct Lookups {
    categories: HashMap<String, u32, FxBuild>,
    kinds: HashMap<Vec<u8>, EventKind, FxBuild>,
}

/// Reads events from `inputs` (files, directories, globs). Errors ([`DataError::Events`])
/// name the file and column: no timestamp column, timestamps without a time of day, dates
/// whose day/month order cannot be decided, more than `max_dropped_share` of the rows
/// dropped.
pub fn read_events(
    inputs: &[PathBuf],
    map: &ColumnMap,
    max_dropped_share: f64,
    progress: &Progress,
) -> Result<EventLog, DataError> {
    read_all(inputs, map, max_dropped_share, progress).map_err(|e| DataError::Events(Box::new(e)))
}

fn read_all(
    inputs: &[PathBuf],
    map: &ColumnMap,
    max_dropped_share: f64,
    progress: &Progress,
) -> Result<EventLog, DataError> {
    let mut files = Vec::new();
    for input in inputs {
        files.extend(super::source::expand(input)?);
    }
    let bar = progress.spinner("reading events");
    let mut log = EventLog {
        first_day: i32::MAX,
        last_day: i32::MIN,
        ..EventLog::default()
    };
    let mut look = Lookups::default();
    for path in &files {
        read_file(path, map, &mut log, &mut look)?;
    }
    bar.finish_and_clear();
    for events in &mut log.events {
        events.sort_by_key(|e| e.at);
    }
    let c = &log.counts;
    if c.rows_kept == 0 {
        return Err(DataError::NoValidRows {
            what: format!("events {}", list(&files)),
            summary: format!(
                "{} rows read; {} without a customer id, {} without a readable timestamp, {} \
                 without an event",
                c.rows_read, c.missing_customer_id, c.bad_timestamp, c.missing_event
            ),
        });
    }
    let share = c.dropped() as f64 / c.rows_read.max(1) as f64;
    if share > max_dropped_share {
        return Err(DataError::TooManyDropped {
            reason: format!("unusable events in {}", list(&files)),
            count: c.dropped(),
            rows: c.rows_read,
            share,
            limit: max_dropped_share,
            samples: Vec::new(),
        });
    }
    Ok(log)
}

fn list(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads one events file into `log`.
fn read_file(
    path: &Path,
    map: &ColumnMap,
    log: &mut EventLog,
    look: &mut Lookups,
) -> Result<(), DataError> {
    let mut table = Table::open(path)?;
    let cols = resolve(&table, map)?;
    let col = |f| cols.iter().find(|(g, _)| *g == f).map(|&(_, i)| i);
    if log.columns.is_empty() {
        log.columns = cols
            .iter()
            .map(|&(f, i)| (f, table.columns[i].clone()))
            .collect();
    }
    let (id_col, ts_col, ev_col) = (
        col(EventField::CustomerId).unwrap_or(0),
        col(EventField::Timestamp).unwrap_or(0),
        col(EventField::Event).unwrap_or(0),
    );
    let (product_col, category_col) = (col(EventField::Product), col(EventField::Category));
    let ts_header = table.columns[ts_col].clone();
    let mut rec = csv::ByteRecord::new();
    let mut evidence = DayEvidence::default();
    let mut pending: Vec<Pending> = Vec::new();
    let (mut clocks, mut first_row) = (0u64, None);
    while let Some(row) = table.next_row(&mut rec)? {
        log.counts.rows_read += 1;
        let fields = super::table::Fields::Csv(&rec);
        let raw_id = fields.text(id_col);
        let Some(id) = rows::customer_id_text(&raw_id) else {
            log.counts.missing_customer_id += 1;
            continue;
        };
        let ts_text = fields.text(ts_col);
        let Some(stamp) = read_stamp(Cell::Text(&ts_text)) else {
            log.counts.bad_timestamp += 1;
            continue;
        };
        let Some(kind) = look.kind(fields.bytes(ev_col).unwrap_or_default()) else {
            log.counts.missing_event += 1;
            continue;
        };
        if let Stamp::Dated { reading, .. } = stamp {
            evidence.note(reading, &ts_text, row);
        }
        clocks += u64::from(stamp.has_clock());
        first_row.get_or_insert(row);
        let product =
            product_col.map_or(0, |i| rows::product_key(Some(Cell::Text(&fields.text(i)))));
        let category = match category_col.map(|i| fields.text(i)) {
            Some(t) if !super::is_missing(t.trim()) => log.intern(&mut look.categories, t.trim()),
            _ => 0,
        };
        let customer = log.customer(&id);
        let event = Event {
            at: 0,
            kind,
            product,
            category,
        };
        // A date that reads one way needs no day order; one that reads both waits for it.
        match stamp.seconds(None) {
            Some(at) => log.push(customer, Event { at, ..event }),
            None => pending.push(Pending {
                customer,
                stamp,
                event,
            }),
        }
    }
    if let (Some(row), 0) = (first_row, clocks) {
        return Err(DataError::BadValue {
            path: path.to_path_buf(),
            row,
            column: ts_header,
            reason: "the timestamps are dates without a time of day; sessions need \
                     timestamps (date and time, or Unix seconds)"
                .into(),
        });
    }
    let order = evidence.finish().map_err(|problem| DataError::DateOrder {
        path: path.to_path_buf(),
        column: ts_header.clone(),
        problem: Box::new(problem),
    })?;
    for p in pending {
        match p.stamp.seconds(order) {
            Some(at) => log.push(p.customer, Event { at, ..p.event }),
            None => log.counts.bad_timestamp += 1,
        }
    }
    log.files.push(table.fingerprint());
    Ok(())
}

impl Lookups {
    /// The kind of an event name's bytes; `None` for a missing one.
    fn kind(&mut self, raw: &[u8]) -> Option<EventKind> {
        if let Some(&k) = self.kinds.get(raw) {
            return Some(k);
        }
        let text = super::table::decode(raw);
        if super::is_missing(text.trim()) {
            return None;
        }
        let k = EventKind::of(&text);
        self.kinds.insert(raw.to_vec(), k);
        Some(k)
    }
}

impl EventLog {
    /// The position of customer `id`, added when new.
    fn customer(&mut self, id: &str) -> usize {
        if let Some(&c) = self.index.get(id) {
            return c;
        }
        let c = self.customer_ids.len();
        self.index.insert(id.to_string(), c);
        self.customer_ids.push(id.to_string());
        self.events.push(Vec::new());
        c
    }

    /// Keeps event `e` of customer `c`.
    fn push(&mut self, c: usize, e: Event) {
        self.first_day = self.first_day.min(e.day());
        self.last_day = self.last_day.max(e.day());
        self.counts.rows_kept += 1;
        self.events[c].push(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_map_to_kinds() {
        assert_eq!(EventKind::of("view"), EventKind::View);
        assert_eq!(EventKind::of("Page View"), EventKind::View);
        assert_eq!(EventKind::of("addtocart"), EventKind::Cart);
        assert_eq!(EventKind::of("add_to_cart"), EventKind::Cart);
        assert_eq!(EventKind::of("transaction"), EventKind::Purchase);
        assert_eq!(EventKind::of("session_start"), EventKind::Visit);
        assert_eq!(EventKind::of("remove_from_cart"), EventKind::Other);
    }

    #[test]
    fn timestamps_read_as_epoch_or_date_and_time() {
        let s = |t| read_stamp(Cell::Text(t)).and_then(|s| s.seconds(None));
        // 2015-06-02 05:02:12 UTC.
        assert_eq!(s("1433221332"), Some(1_433_221_332));
        assert_eq!(s("1433221332117"), Some(1_433_221_332));
        assert_eq!(s("2015-06-02 05:02:12"), Some(1_433_221_332));
        assert_eq!(s("2015-06-02T05:02:12Z"), Some(1_433_221_332));
        assert_eq!(
            s("2015-06-02 05:02:12 UTC"),
            None,
            "a zone name is no clock"
        );
        assert_eq!(
            read_stamp(Cell::Number(1_433_221_332_117.0)),
            Some(Stamp::Epoch(1_433_221_332))
        );
        assert_eq!(s("6/2/2015 5:02"), None, "needs a day order");
        let st = read_stamp(Cell::Text("6/2/2015 5:02")).unwrap();
        assert_eq!(st.seconds(Some(DayOrder::MonthFirst)), Some(1_433_221_320));
        assert!(!read_stamp(Cell::Text("2015-06-02")).unwrap().has_clock());
        assert!(read_stamp(Cell::Text("NA")).is_none());
        assert!(read_stamp(Cell::Text("soon")).is_none());
        assert!(read_stamp(Cell::Missing).is_none());
    }

    fn read(text: &str) -> Result<EventLog, DataError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.csv");
        std::fs::write(&path, text).unwrap();
        read_events(&[path], &ColumnMap::default(), 0.5, &Progress::hidden())
    }

    #[test]
    fn a_file_reads_into_sorted_events_per_customer() {
        let log = read(
            "user_id,event_time,event_type,product_id,category_code\n\
             7,2024-03-02 10:05:00,view,P1,shoes\n\
             7,2024-03-02 10:00:00,cart,P1,shoes\n\
             8,2024-03-01 09:00:00,view,,\n\
             ,2024-03-01 09:00:00,view,,\n",
        )
        .unwrap();
        assert_eq!(log.customer_ids, ["7", "8"]);
        assert_eq!(log.events[0][0].kind, EventKind::Cart, "sorted by time");
        assert_eq!(log.categories, ["shoes"]);
        assert_eq!(log.events[1][0].category, 0);
        assert_eq!(log.counts.missing_customer_id, 1);
        assert_eq!((log.counts.rows_read, log.counts.rows_kept), (4, 3));
        assert_eq!(log.of("8").len(), 1);
        assert!(log.has_categories());
    }

    #[test]
    fn a_file_without_a_timestamp_column_names_the_field() {
        let e = read("user_id,event\n1,view\n").unwrap_err().to_string();
        assert!(e.contains("events.csv") && e.contains("timestamp"), "{e}");
    }

    #[test]
    fn dates_without_times_are_an_error_naming_the_column() {
        let e = read("user_id,date,event\n1,2024-03-01,view\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("events.csv") && e.contains("column date"), "{e}");
        assert!(e.contains("without a time of day"), "{e}");
    }

    #[test]
    fn an_undecidable_day_order_is_an_error() {
        let e = read("user_id,time,event\n1,03/04/2024 10:00,view\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("column time") && e.contains("day-first"), "{e}");
    }

    #[test]
    fn rows_without_an_event_are_dropped_and_counted() {
        let log = read("user_id,time,event\n1,2024-03-01 10:00,view\n1,2024-03-01 10:00,\n");
        assert_eq!(log.unwrap().counts.missing_event, 1);
        let e = read("user_id,time,event\n1,2024-03-01 10:00,view\n1,x,view\n1,y,view\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("2 of 3 rows") && e.contains("events.csv"), "{e}");
    }
}
