//! The row rules: the one implementation of what a transaction line means, shared by the
//! trainer ([`super::read_transactions`]), batch scoring of transaction files (which reads
//! them the same way) and the HTTP raw-transaction path (`score::request`), so the three
//! cannot drift apart.
//!
//! A line is given as [`Cell`]s in roles (customer id, date, amount or quantity × unit price,
//! order id) plus any other fields (CSV columns, JSON attributes), which only take part in
//! duplicate detection. The rules, in the order they are applied:
//! - **customer id**: surrounding ASCII spaces trimmed, nothing else (a tab or control
//!   character is part of the id, so `\t=1+1` is never read as `=1+1`); a missing token
//!   (blank, `NA`, `null`, …, see [`super::is_missing`]) drops the line as
//!   `missing_customer_id`; float-formatted integers (`17850.0`) become `17850`
//!   ([`customer_id`]);
//! - **date**: a line whose date does not parse is dropped as `bad_date` (the caller's date
//!   parser decides the day; this module reads the time of day for duplicate keys);
//! - **amount**: the amount field when the line has one, else quantity × unit price; a
//!   missing token, text that is not a number, NaN, an infinity or a product that overflows
//!   drops the line as `bad_amount`, naming the field;
//! - **purchase vs return**: an amount ≥ 0 is a purchase, a negative amount is a return
//!   ([`is_purchase`]); returns reduce monetary value and are never orders;
//! - **order identity**: [`order_key`] of the trimmed order id text; a missing token means the
//!   line has no order (frequency then counts purchase days);
//! - **exact duplicates**: a line whose [`DupKey`] equals an earlier line's is dropped as
//!   `duplicate`, unless [`RowRules::keep_duplicates`]. The key covers every field in a
//!   canonical form: the customer id as normalized, the day and the time of day as parsed
//!   (`12/1/2010 8:26` and `2010-12-01T08:26:00` are the same instant, two lines at different
//!   times are different lines), amount, quantity and unit price as numbers (`2.55`, `2.550`
//!   and the JSON number 2.55 are equal), the order id text, and the *set* of the other fields
//!   as (name, value) pairs where a value is a number when its trimmed text is one, else the
//!   trimmed text, and missing values are left out. So a CSV row and a JSON line carrying the
//!   same attributes under the CSV header names are duplicates or not in the same way.

use std::collections::HashSet;
use std::num::NonZeroU64;

use serde::{Deserialize, Serialize};

use super::fasthash::FxBuild;
use super::transactions::TxnField;
use super::{is_missing, parse_number_with};

/// One transaction of one customer, after the row rules.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Txn {
    /// Day number (days since 1970-01-01).
    pub day: i32,
    /// Amount; negative for a return.
    pub amount: f64,
    /// Hash of the order id ([`order_key`]); `None` when the line has no order id.
    pub order: Option<NonZeroU64>,
    /// Minute of the day the date carries ([`minute_of_day`]); −1 for a date without a time.
    pub minute: i16,
}

/// A transaction's behaviour fields, for logs (and HTTP customers) that map any: the
/// category, channel and country as level numbers (1-based into the log's [`Levels`]; 0 for
/// none), the product as a hash ([`product_key`]; 0 for none) and whether the line carries a
/// discount ([`discounted`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxnBehaviour {
    pub levels: [u32; 3],
    pub product: u64,
    pub discount: bool,
}

/// The level names of the category, channel and country fields ([`TxnBehaviour::levels`]
/// order), each sorted, so a level number means the same whatever the number of threads
/// that read the log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Levels {
    pub names: [Vec<String>; 3],
}

impl Levels {
    /// Level `n` (1-based) of field `f` (0 category, 1 channel, 2 country); `None` for 0.
    pub fn name(&self, f: usize, n: u32) -> Option<&str> {
        let i = (n as usize).checked_sub(1)?;
        self.names[f].get(i).map(String::as_str)
    }

    /// The number of `name` in field `f`, adding it when new (for one HTTP customer, whose
    /// levels need no sorting).
    pub fn intern(&mut self, f: usize, name: &str) -> u32 {
        let names = &mut self.names[f];
        match names.iter().position(|n| n == name) {
            Some(i) => i as u32 + 1,
            None => {
                names.push(name.to_string());
                names.len() as u32
            }
        }
    }
}

/// A level field's value: the trimmed text (a JSON number as its text); `None` for a missing
/// token or blank.
pub fn level_text(cell: Cell<'_>) -> Option<std::borrow::Cow<'_, str>> {
    match cell {
        Cell::Text(s) if !is_missing(s) => Some(std::borrow::Cow::Borrowed(s.trim())),
        Cell::Number(x) => Some(std::borrow::Cow::Owned(number_text(x))),
        _ => None,
    }
}

/// The product rule: a hash of the trimmed text (a JSON number as its text), 0 for none.
pub fn product_key(cell: Option<Cell>) -> u64 {
    match cell.and_then(level_text) {
        Some(t) => twox_hash::XxHash3_64::oneshot_with_seed(5, t.as_bytes()) | 1,
        None => 0,
    }
}

/// The discount rule: a number above 0 (an amount or a rate), or a text that is not a
/// number and not a no (`no`, `false`, `n`, `f`, `none`; a coupon code counts), is a
/// discount; 0, a no, blank and missing tokens are not.
pub fn discounted(cell: Option<Cell>, decimal_comma: bool) -> bool {
    match cell {
        Some(Cell::Number(x)) => x > 0.0,
        Some(Cell::Text(s)) if !is_missing(s) => {
            let t = s.trim();
            match parse_number_with(t, decimal_comma) {
                Some(x) => x > 0.0,
                None => !["no", "false", "n", "f", "none"]
                    .iter()
                    .any(|no| t.eq_ignore_ascii_case(no)),
            }
        }
        _ => false,
    }
}

/// The minute of the day a date carries (`12/1/2010 8:26` → 506), −1 when it carries none
/// (a date alone, or a time that does not read as a clock).
pub fn minute_of_day(date_text: &str) -> i16 {
    minute_from(date_text, time_of_day(date_text))
}

/// [`minute_of_day`] given the date's [`time_of_day`] `t`.
fn minute_from(date_text: &str, t: u64) -> i16 {
    if t != 0 {
        // A parsed clock (not midnight), or a time that does not read as one.
        return if t >> 63 == 1 {
            -1
        } else {
            ((t / 60_000) % 1440) as i16
        };
    }
    // Midnight written out, or no time at all.
    let s = super::unquote(date_text).trim();
    let has_clock = s
        .find([' ', 'T'])
        .is_some_and(|at| !s[at + 1..].trim().is_empty());
    if has_clock {
        0
    } else {
        -1
    }
}

/// Hash of an order id, used to count distinct orders (never zero, so a transaction's
/// optional order takes no more room than the hash).
pub fn order_key(id: &str) -> NonZeroU64 {
    NonZeroU64::new(twox_hash::XxHash3_64::oneshot_with_seed(3, id.as_bytes()))
        .unwrap_or(NonZeroU64::MIN)
}

/// Purchase vs return: an amount ≥ 0 is a purchase, a negative one a return.
#[inline]
pub fn is_purchase(amount: f64) -> bool {
    amount >= 0.0
}

/// The customer id rule, the one place an id is read (transaction logs, customer tables,
/// batch scoring and HTTP): surrounding ASCII spaces (and stray double quotes) are trimmed
/// and float-formatted integers (`17850.0`, as spreadsheets and pandas write them) become
/// their integer text; nothing else is changed, so an id is never trimmed into a different
/// one: `\t=1+1` stays `\t=1+1` (a tab, CR, LF or other control character is part of the
/// id), and leading zeros stay. `None` for a missing id: blank (whitespace only) or a
/// missing token such as `NA` ([`super::is_missing`]).
///
/// ```
/// use custseg::data::rows::customer_id;
/// assert_eq!(customer_id("17850.0").as_deref(), Some("17850"));
/// assert_eq!(customer_id(" 0001 ").as_deref(), Some("0001"));
/// assert_eq!(customer_id("\t=1+1").as_deref(), Some("\t=1+1"));
/// assert_eq!(customer_id("").as_deref(), None);
/// ```
pub fn customer_id(raw: &str) -> Option<String> {
    customer_id_text(raw).map(std::borrow::Cow::into_owned)
}

/// [`customer_id`] without copying the id when the rule leaves it a slice of `raw`.
pub fn customer_id_text(raw: &str) -> Option<std::borrow::Cow<'_, str>> {
    let edge = |b: Option<&u8>| matches!(b, Some(b' ' | b'"'));
    let s = if edge(raw.as_bytes().first()) || edge(raw.as_bytes().last()) {
        raw.trim_matches(' ').trim_matches('"').trim_matches(' ')
    } else {
        raw
    };
    if is_missing(s) {
        return None;
    }
    if let Some((int, frac)) = s.split_once('.') {
        let int_ok = !int.is_empty()
            && int
                .strip_prefix('-')
                .unwrap_or(int)
                .bytes()
                .all(|b| b.is_ascii_digit());
        if int_ok && !frac.is_empty() && frac.bytes().all(|b| b == b'0') {
            return Some(int.into());
        }
    }
    Some(s.into())
}

/// Choices of the row rules that a model records, so batch and HTTP scoring with that model
/// apply the same ones as its training.
#[derive(Clone, Debug, Default)]
pub struct RowRules {
    /// Keep exact-duplicate lines instead of dropping them (logs without order or line ids,
    /// where identical lines can be genuine repeat purchases).
    pub keep_duplicates: bool,
    filters: RowFilters,
    /// `filters.exclude`'s patterns, compiled to match a whole field.
    compiled: Vec<regex::Regex>,
}

impl PartialEq for RowRules {
    fn eq(&self, other: &Self) -> bool {
        self.keep_duplicates == other.keep_duplicates && self.filters == other.filters
    }
}

/// Lines dropped on purpose, before any other rule (postage and fee lines, test orders):
/// every [`Exclude`], and lines whose unit price is below `min_unit_price`. Each is counted
/// in the cleaning report as its own reason ([`RowFilters::labels`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RowFilters {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<Exclude>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_unit_price: Option<f64>,
}

/// Drop a line whose field `column` (a file's column by its header, an HTTP transaction's
/// attribute by that name) matches `pattern`, a regular expression, in full.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exclude {
    pub column: String,
    pub pattern: String,
}

/// A row filter that cannot be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FilterError {
    /// The pattern is not a regular expression.
    #[error("exclude {column}={pattern}: not a regular expression: {reason}")]
    BadPattern {
        column: String,
        pattern: String,
        reason: String,
    },
    /// No column name.
    #[error("exclude ={pattern}: no column name (expected COLUMN=REGEX)")]
    NoColumn { pattern: String },
    /// The minimum unit price is negative or not finite.
    #[error("min unit price {value}: must be a finite number >= 0")]
    BadMinUnitPrice { value: f64 },
}

impl RowFilters {
    /// No filter at all.
    pub fn is_empty(&self) -> bool {
        self.exclude.is_empty() && self.min_unit_price.is_none()
    }

    /// One label per filter, in counting order: `StockCode=POST|M`, …, then
    /// `min_unit_price=0.01`.
    pub fn labels(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .exclude
            .iter()
            .map(|e| format!("{}={}", e.column, e.pattern))
            .collect();
        if let Some(p) = self.min_unit_price {
            out.push(format!("min_unit_price={p}"));
        }
        out
    }
}

impl RowRules {
    /// The rules with `filters`, checked and compiled.
    pub fn new(keep_duplicates: bool, filters: RowFilters) -> Result<RowRules, FilterError> {
        let mut compiled = Vec::with_capacity(filters.exclude.len());
        for e in &filters.exclude {
            if e.column.trim().is_empty() {
                return Err(FilterError::NoColumn {
                    pattern: e.pattern.clone(),
                });
            }
            let whole = format!("^(?:{})$", e.pattern);
            let re = regex::RegexBuilder::new(&whole)
                .size_limit(1 << 20)
                .build()
                .map_err(|err| FilterError::BadPattern {
                    column: e.column.clone(),
                    pattern: e.pattern.clone(),
                    reason: err
                        .to_string()
                        .lines()
                        .last()
                        .unwrap_or("")
                        .trim()
                        .to_string(),
                })?;
            compiled.push(re);
        }
        if let Some(value) = filters.min_unit_price {
            if !(value.is_finite() && value >= 0.0) {
                return Err(FilterError::BadMinUnitPrice { value });
            }
        }
        Ok(RowRules {
            keep_duplicates,
            filters,
            compiled,
        })
    }

    /// The filters these rules apply.
    pub fn filters(&self) -> &RowFilters {
        &self.filters
    }

    /// The first filter that drops a line (its position in [`RowFilters::labels`]), given
    /// the line's field for each [`Exclude`] in order (`None`: the line has no such field,
    /// which no pattern matches) and its unit price cell.
    pub fn filtered<'a>(
        &self,
        field: impl Fn(usize) -> Option<Cell<'a>>,
        unit_price: Option<Cell>,
        decimal_comma: bool,
    ) -> Option<usize> {
        for (k, re) in self.compiled.iter().enumerate() {
            let hit = match field(k) {
                Some(Cell::Text(s)) => re.is_match(s.trim()),
                Some(Cell::Number(x)) => re.is_match(&number_text(x)),
                Some(Cell::Missing) => re.is_match(""),
                None => false,
            };
            if hit {
                return Some(k);
            }
        }
        let min = self.filters.min_unit_price?;
        let price = role_value(unit_price?, decimal_comma).ok()?;
        (price < min).then_some(self.compiled.len())
    }
}

/// One field of a line as read: text from a file or a JSON string, a JSON number, or nothing
/// (an absent attribute, JSON `null`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cell<'a> {
    /// No value.
    Missing,
    /// Text; missing tokens such as `NA` count as no value.
    Text(&'a str),
    /// A number (JSON).
    Number(f64),
}

/// Why a line was dropped; the names are [`super::Cleaning`]'s counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    MissingCustomerId,
    BadDate,
    BadAmount,
    Duplicate,
}

impl Reason {
    /// The counter name (`bad_amount`).
    pub fn name(self) -> &'static str {
        match self {
            Reason::MissingCustomerId => "missing_customer_id",
            Reason::BadDate => "bad_date",
            Reason::BadAmount => "bad_amount",
            Reason::Duplicate => "duplicate",
        }
    }
}

/// A dropped line: the reason and the field that caused it (`None` for a duplicate, which is
/// every field).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dropped {
    pub reason: Reason,
    pub field: Option<TxnField>,
}

/// A line in roles. `None` for a role means the line has no such field (no column mapped, no
/// JSON attribute); [`Cell::Missing`] means the field is there without a value.
#[derive(Clone, Copy, Debug)]
pub struct Line<'a> {
    /// The customer id as normalized by [`customer_id`].
    pub customer: &'a str,
    /// The day, as the caller's date parser read it (`None`: not a date).
    pub day: Option<i32>,
    /// The date as written, for the time of day.
    pub date_text: &'a str,
    pub amount: Option<Cell<'a>>,
    pub quantity: Option<Cell<'a>>,
    pub unit_price: Option<Cell<'a>>,
    pub order: Option<Cell<'a>>,
}

/// A number role's value: `Ok` when it is a finite number, `Err(())` for a missing token,
/// text that is not a number, NaN or an infinity. Each role's text is parsed once; the amount
/// rule and the duplicate key both use the result.
fn role_value(cell: Cell, decimal_comma: bool) -> Result<f64, ()> {
    match cell {
        Cell::Number(x) if x.is_finite() => Ok(x),
        Cell::Text(s) => parse_number_with(s, decimal_comma).ok_or(()),
        _ => Err(()),
    }
}

/// The parsed number roles of a line (`None`: the line has no such field).
#[derive(Clone, Copy)]
struct Numbers {
    amount: Option<Result<f64, ()>>,
    quantity: Option<Result<f64, ()>>,
    unit_price: Option<Result<f64, ()>>,
}

impl Numbers {
    fn of(line: &Line, dc: bool) -> Numbers {
        let v = |c: Option<Cell>| c.map(|c| role_value(c, dc));
        Numbers {
            amount: v(line.amount),
            quantity: v(line.quantity),
            unit_price: v(line.unit_price),
        }
    }

    /// The amount rule on parsed roles.
    fn amount(self) -> Result<f64, TxnField> {
        match (self.amount, self.quantity, self.unit_price) {
            (Some(a), _, _) => a.map_err(|()| TxnField::Amount),
            (None, Some(q), Some(p)) => {
                let q = q.map_err(|()| TxnField::Quantity)?;
                let a = q * p.map_err(|()| TxnField::UnitPrice)?;
                if a.is_finite() {
                    Ok(a)
                } else {
                    Err(TxnField::UnitPrice)
                }
            }
            _ => Err(TxnField::Amount),
        }
    }
}

/// The amount rule: the amount field, else quantity × unit price; finite or an error naming
/// the field at fault.
pub fn amount(line: &Line, decimal_comma: bool) -> Result<f64, TxnField> {
    Numbers::of(line, decimal_comma).amount()
}

/// The order identity rule: [`order_key`] of the trimmed text; no order for a missing token.
/// A JSON number is its decimal text.
pub fn order(cell: Option<Cell>) -> Option<NonZeroU64> {
    match cell? {
        Cell::Text(s) if !is_missing(s) => Some(order_key(s.trim())),
        Cell::Number(x) => Some(order_key(&number_text(x))),
        _ => None,
    }
}

/// Integers as integers (`536365`), other numbers in Rust's shortest round-trip form.
fn number_text(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        x.to_string()
    }
}

/// Applies every rule to one line: the kept transaction, or why it is dropped. `others` is
/// the [`OtherFields`] digest of the line's other fields; `seen` remembers duplicate keys
/// across the lines of one log (or one HTTP customer).
pub fn judge(
    rules: &RowRules,
    line: &Line,
    others: &OtherFields,
    decimal_comma: bool,
    seen: &mut HashSet<u64, FxBuild>,
) -> Result<Txn, Dropped> {
    let day = line.day.ok_or(Dropped {
        reason: Reason::BadDate,
        field: Some(TxnField::Date),
    })?;
    let checked = check(line, others, decimal_comma)?;
    admit(rules, &checked, day, seen)
}

/// A line that passed every rule but the duplicate rule: its amount, its order and its
/// duplicate key without the day (which a log reader may settle later, once the file has
/// proven its day/month order).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Checked {
    pub amount: f64,
    pub order: Option<NonZeroU64>,
    pub key: LineKey,
    /// [`id_hash`] of the customer id (the key's first word), for readers that index ids.
    pub customer_hash: u64,
    /// [`minute_of_day`] of the date.
    pub minute: i16,
}

/// The rules that need nothing but the line itself (amount, purchase or return, order):
/// the first half of [`judge`], which readers can run in parallel. The day is not checked.
pub fn check(line: &Line, others: &OtherFields, dc: bool) -> Result<Checked, Dropped> {
    let numbers = Numbers::of(line, dc);
    let amount = numbers.amount().map_err(|f| Dropped {
        reason: Reason::BadAmount,
        field: Some(f),
    })?;
    let order = order(line.order);
    let customer_hash = id_hash(line.customer);
    let time = time_of_day(line.date_text);
    let key = LineKey::of(line, customer_hash, numbers, order, others, time);
    Ok(Checked {
        amount,
        order,
        key,
        customer_hash,
        minute: minute_from(line.date_text, time),
    })
}

/// The duplicate rule, the second half of [`judge`]: the transaction, or `duplicate` when a
/// line with the same key and day came before (unless duplicates are kept).
pub fn admit(
    rules: &RowRules,
    c: &Checked,
    day: i32,
    seen: &mut HashSet<u64, FxBuild>,
) -> Result<Txn, Dropped> {
    if !rules.keep_duplicates && !seen.insert(c.key.with_day(day).0) {
        return Err(Dropped {
            reason: Reason::Duplicate,
            field: None,
        });
    }
    Ok(Txn {
        day,
        amount: c.amount,
        order: c.order,
        minute: c.minute,
    })
}

/// Tags keep a missing value, a number and a text apart.
const TAG_ABSENT: u64 = 0x9e37_79b9_7f4a_7c15;

fn canonical_bits(x: f64) -> u64 {
    // -0.0 and 0.0 are the same amount.
    (if x == 0.0 { 0.0 } else { x }).to_bits()
}

fn role_number(cell: Option<Cell>, value: Option<Result<f64, ()>>) -> u64 {
    match (cell, value) {
        (None, _) => TAG_ABSENT,
        (Some(_), Some(Ok(x))) => canonical_bits(x),
        (Some(Cell::Text(s)), _) => {
            twox_hash::XxHash3_64::oneshot_with_seed(1, s.trim().as_bytes())
        }
        (Some(_), _) => TAG_ABSENT ^ 1,
    }
}

/// The 64-bit hash of a customer id, the first word of every duplicate key; readers also
/// use it to spread customers over partitions.
pub fn id_hash(customer: &str) -> u64 {
    twox_hash::XxHash3_64::oneshot(customer.as_bytes())
}

/// A line's duplicate key without its day ([`Self::with_day`] completes it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineKey(u64);

impl LineKey {
    fn of(
        line: &Line,
        customer_hash: u64,
        numbers: Numbers,
        order: Option<NonZeroU64>,
        others: &OtherFields,
        time: u64,
    ) -> LineKey {
        let words = [
            customer_hash,
            time,
            role_number(line.amount, numbers.amount),
            role_number(line.quantity, numbers.quantity),
            role_number(line.unit_price, numbers.unit_price),
            order.map_or(TAG_ABSENT, NonZeroU64::get),
            others.0,
        ];
        let mut buf = [0u8; 56];
        for (chunk, w) in buf.chunks_exact_mut(8).zip(words) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        LineKey(twox_hash::XxHash3_64::oneshot(&buf))
    }

    /// The whole line's key.
    pub fn with_day(self, day: i32) -> DupKey {
        let mut buf = [0u8; 16];
        buf[..8].copy_from_slice(&self.0.to_le_bytes());
        buf[8..].copy_from_slice(&(day as u32 as u64).to_le_bytes());
        DupKey(twox_hash::XxHash3_64::oneshot(&buf))
    }
}

/// Canonical 64-bit key of a whole line for exact-duplicate detection (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DupKey(pub u64);

/// Digest of the *set* of a line's other fields: each (name, canonical value) pair hashed on
/// its own and summed, so field order does not matter; missing values are left out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OtherFields(u64);

/// A field name's seed for [`OtherFields::add`]; compute it once per column.
pub fn name_seed(name: &str) -> u64 {
    twox_hash::XxHash3_64::oneshot(name.trim().as_bytes())
}

impl OtherFields {
    /// Adds one field; `seed` is [`name_seed`] of its name.
    pub fn add(&mut self, seed: u64, cell: Cell) {
        let value = match cell {
            Cell::Missing => return,
            Cell::Number(x) => Some(x),
            Cell::Text(s) => {
                if is_missing(s) {
                    return;
                }
                let t = s.trim();
                match t.parse::<f64>() {
                    Ok(x) if x.is_finite() => Some(x),
                    _ => {
                        let h = twox_hash::XxHash3_64::oneshot_with_seed(seed, t.as_bytes());
                        self.0 = self.0.wrapping_add(h);
                        return;
                    }
                }
            }
        };
        if let Some(x) = value {
            let mut b = [0u8; 9];
            b[0] = 0xff; // no UTF-8 text starts with 0xff
            b[1..].copy_from_slice(&canonical_bits(x).to_le_bytes());
            self.0 = self
                .0
                .wrapping_add(twox_hash::XxHash3_64::oneshot_with_seed(seed, &b));
        }
    }
}

/// The time of day written after a date, as milliseconds since midnight, for duplicate keys:
/// `H:MM`, `H:MM:SS` or `H:MM:SS.fff`, optionally with `AM`/`PM`; a zone (`Z`, `+02:00`) is
/// ignored like the day ignores it. No time is midnight; a time that does not parse is hashed
/// as its text (so two different ones stay different).
pub fn time_of_day(date_text: &str) -> u64 {
    if date_text.len() <= 10 && !date_text.contains([' ', 'T']) {
        // A date alone (`2024-07-01`, `7/1/2024`): midnight.
        return 0;
    }
    let s = super::unquote(date_text).trim();
    let Some(at) = s.find([' ', 'T']) else {
        return 0;
    };
    let rest = s[at + 1..].trim();
    if rest.is_empty() {
        return 0;
    }
    parse_time(rest)
        .unwrap_or_else(|| twox_hash::XxHash3_64::oneshot_with_seed(2, rest.as_bytes()) | (1 << 63))
}

fn parse_time(rest: &str) -> Option<u64> {
    let upper = rest.len() >= 2 && rest[rest.len() - 2..].eq_ignore_ascii_case("pm");
    let ampm = upper || (rest.len() >= 2 && rest[rest.len() - 2..].eq_ignore_ascii_case("am"));
    let clock = if ampm {
        rest[..rest.len() - 2].trim_end()
    } else {
        rest
    };
    // The zone starts at 'Z', '+' or a '-' after the clock.
    let end = clock.find(['Z', 'z', '+', '-']).unwrap_or(clock.len());
    let mut parts = clock[..end].split(':');
    let digits = |p: &str| !p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit());
    let h = parts.next().filter(|p| digits(p))?.parse::<u64>().ok()?;
    let m = parts.next().filter(|p| digits(p))?.parse::<u64>().ok()?;
    let (sec, ms) = match parts.next() {
        None => (0, 0),
        Some(p) => {
            let (whole, frac) = p.split_once('.').unwrap_or((p, ""));
            if !digits(whole) || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let ms = format!("{frac:0<3}")[..3].parse::<u64>().ok()?;
            (whole.parse::<u64>().ok()?, ms)
        }
    };
    if parts.next().is_some() || m > 59 || sec > 60 {
        return None;
    }
    let h = match (ampm, upper, h) {
        (false, _, h) if h <= 23 => h,
        (true, false, 12) => 0,
        (true, true, h) if h < 12 => h + 12,
        (true, _, h) if (1..=12).contains(&h) => h,
        _ => return None,
    };
    Some(((h * 60 + m) * 60 + sec) * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(date: &'a str, q: Cell<'a>, p: Cell<'a>, order: Cell<'a>) -> Line<'a> {
        Line {
            customer: "17850",
            day: Some(14_944),
            date_text: date,
            amount: None,
            quantity: Some(q),
            unit_price: Some(p),
            order: Some(order),
        }
    }

    fn others(pairs: &[(&str, Cell)]) -> OtherFields {
        let mut o = OtherFields::default();
        for (n, c) in pairs {
            o.add(name_seed(n), *c);
        }
        o
    }

    fn judge_all(rules: &RowRules, lines: &[(Line, OtherFields)]) -> Vec<Result<Txn, Dropped>> {
        let mut seen = HashSet::default();
        lines
            .iter()
            .map(|(l, o)| judge(rules, l, o, false, &mut seen))
            .collect()
    }

    #[test]
    fn missing_customer_id_tokens_drop_the_line() {
        for s in ["", " ", "NA", "null", "NaN", "?"] {
            assert_eq!(customer_id(s), None, "{s:?}");
        }
        assert_eq!(customer_id("17850.0").as_deref(), Some("17850"));
    }

    #[test]
    fn ids_keep_leading_zeros_and_drop_float_suffix() {
        assert_eq!(customer_id("12346.00").as_deref(), Some("12346"));
        assert_eq!(customer_id("12346.5").as_deref(), Some("12346.5"));
        assert_eq!(customer_id("A-17").as_deref(), Some("A-17"));
        assert_eq!(customer_id(".0").as_deref(), Some(".0"));
        assert_eq!(customer_id(" 0001 ").as_deref(), Some("0001"));
    }

    #[test]
    fn ids_are_never_trimmed_into_a_different_id() {
        for id in ["\t=2+2", "=1+1\t", "\r@x", "c1\n", "\u{0}c1", "\u{a0}c1"] {
            assert_eq!(customer_id(id).as_deref(), Some(id), "{id:?}");
        }
        // Only ASCII spaces around the id go; a tab inside the spaces stays.
        assert_eq!(customer_id("  \t=2+2 ").as_deref(), Some("\t=2+2"));
        assert_eq!(customer_id(" \"=1+1\" ").as_deref(), Some("=1+1"));
        // Whitespace only is still a missing id.
        assert_eq!(customer_id("\t"), None);
        assert_eq!(customer_id(" \r\n "), None);
    }

    #[test]
    fn amount_is_quantity_times_unit_price_and_finite() {
        let l = line("", Cell::Text("6"), Cell::Text("2.55"), Cell::Missing);
        assert!((amount(&l, false).unwrap() - 15.3).abs() < 1e-12);
        let l = line("", Cell::Number(-2.0), Cell::Number(2.5), Cell::Missing);
        assert_eq!(amount(&l, false), Ok(-5.0));
        let l = line("", Cell::Text("NA"), Cell::Text("2"), Cell::Missing);
        assert_eq!(amount(&l, false), Err(TxnField::Quantity));
        let l = line("", Cell::Text("3"), Cell::Missing, Cell::Missing);
        assert_eq!(amount(&l, false), Err(TxnField::UnitPrice));
        let l = line("", Cell::Number(1e300), Cell::Number(1e300), Cell::Missing);
        assert_eq!(amount(&l, false), Err(TxnField::UnitPrice));
        let mut l = line("", Cell::Text("x"), Cell::Text("x"), Cell::Missing);
        l.amount = Some(Cell::Text("$1,234.50"));
        assert_eq!(amount(&l, false), Ok(1234.5), "the amount field wins");
        l.amount = Some(Cell::Text("inf"));
        assert_eq!(amount(&l, false), Err(TxnField::Amount));
    }

    #[test]
    fn purchase_vs_return_is_the_sign_of_the_amount() {
        assert!(is_purchase(0.0));
        assert!(is_purchase(3.0));
        assert!(!is_purchase(-0.01));
    }

    #[test]
    fn order_identity_is_the_trimmed_text_and_missing_tokens_are_no_order() {
        assert_eq!(order(Some(Cell::Text(" A1 "))), Some(order_key("A1")));
        assert_eq!(
            order(Some(Cell::Number(536365.0))),
            Some(order_key("536365"))
        );
        assert_eq!(order(Some(Cell::Text("536365"))), Some(order_key("536365")));
        for c in [
            Cell::Text("NA"),
            Cell::Text(""),
            Cell::Text("null"),
            Cell::Missing,
        ] {
            assert_eq!(order(Some(c)), None, "{c:?}");
        }
        assert_eq!(order(None), None);
    }

    #[test]
    fn duplicates_are_exact_over_every_field_in_canonical_form() {
        let rules = RowRules::default();
        let csv = line(
            "12/1/2010 8:26",
            Cell::Text("6"),
            Cell::Text("2.55"),
            Cell::Text("536365"),
        );
        let json = line(
            "2010-12-01T08:26:00",
            Cell::Number(6.0),
            Cell::Number(2.55),
            Cell::Number(536365.0),
        );
        let a = others(&[
            ("StockCode", Cell::Text("85123A")),
            ("Country", Cell::Text("United Kingdom ")),
            ("Description", Cell::Text("")),
        ]);
        let a_json = others(&[
            ("Country", Cell::Text("United Kingdom")),
            ("StockCode", Cell::Text("85123A")),
        ]);
        let b = others(&[
            ("StockCode", Cell::Text("71053")),
            ("Country", Cell::Text("United Kingdom")),
        ]);
        let later = line(
            "12/1/2010 8:27",
            Cell::Text("6"),
            Cell::Text("2.55"),
            Cell::Text("536365"),
        );
        let out = judge_all(&rules, &[(csv, a), (json, a_json), (csv, b), (later, a)]);
        let dup = Dropped {
            reason: Reason::Duplicate,
            field: None,
        };
        assert!(out[0].is_ok());
        assert_eq!(out[1], Err(dup), "same line as CSV text and JSON numbers");
        assert!(out[2].is_ok(), "another product on the same invoice");
        assert!(out[3].is_ok(), "another time of day");
        let kept = judge_all(
            &RowRules::new(true, RowFilters::default()).unwrap(),
            &[(csv, a), (json, a_json)],
        );
        assert!(
            kept.iter().all(Result::is_ok),
            "--keep-duplicates keeps them"
        );
    }

    #[test]
    fn other_fields_compare_numbers_as_numbers() {
        let n = |c| others(&[("CustomerNo", c)]);
        assert_eq!(n(Cell::Text("17850.0")), n(Cell::Number(17850.0)));
        assert_eq!(n(Cell::Text(" 2.550")), n(Cell::Number(2.55)));
        assert_ne!(n(Cell::Text("2.55")), n(Cell::Text("2.56")));
        assert_eq!(n(Cell::Text("NA")), OtherFields::default());
        assert_eq!(n(Cell::Missing), OtherFields::default());
        assert_ne!(
            others(&[("a", Cell::Text("1"))]),
            others(&[("b", Cell::Text("1"))])
        );
    }

    #[test]
    fn bad_dates_and_amounts_drop_with_their_field() {
        let mut l = line("", Cell::Text("1"), Cell::Text("x"), Cell::Missing);
        let out = judge_all(&RowRules::default(), &[(l, OtherFields::default())]);
        assert_eq!(
            out[0],
            Err(Dropped {
                reason: Reason::BadAmount,
                field: Some(TxnField::UnitPrice)
            })
        );
        l.day = None;
        let out = judge_all(&RowRules::default(), &[(l, OtherFields::default())]);
        assert_eq!(out[0].unwrap_err().reason.name(), "bad_date");
    }

    #[test]
    fn minute_of_day_is_minus_one_without_a_time() {
        assert_eq!(minute_of_day("2010-12-01"), -1);
        assert_eq!(minute_of_day("19970101"), -1);
        assert_eq!(minute_of_day("2010-12-01T00:00:00Z"), 0);
        assert_eq!(minute_of_day("12/1/2010 8:26"), 506);
        assert_eq!(minute_of_day("2010-12-01 11:59 PM"), 1439);
        assert_eq!(minute_of_day("2010-12-01 noon"), -1);
    }

    #[test]
    fn a_discount_is_a_positive_number_or_a_code_and_a_level_is_trimmed() {
        let d = |s: &str| discounted(Some(Cell::Text(s)), false);
        assert!(d("0.15") && d("5") && d("SUMMER10") && d("yes"));
        assert!(!d("0") && !d("no") && !d("FALSE") && !d("") && !d("NA"));
        assert!(discounted(Some(Cell::Number(2.0)), false));
        assert!(!discounted(None, false));
        assert!(discounted(Some(Cell::Text("0,5")), true));
        assert_eq!(level_text(Cell::Text(" Wine ")).as_deref(), Some("Wine"));
        assert_eq!(level_text(Cell::Text("NA")), None);
        assert_eq!(level_text(Cell::Number(44.0)).as_deref(), Some("44"));
        assert_eq!(
            product_key(Some(Cell::Number(71053.0))),
            product_key(Some(Cell::Text("71053 ")))
        );
        assert_eq!(product_key(Some(Cell::Text(""))), 0);
    }

    #[test]
    fn time_of_day_reads_clock_forms_and_ignores_zones() {
        let t = |h: u64, m: u64, s: u64| ((h * 60 + m) * 60 + s) * 1000;
        assert_eq!(time_of_day("2010-12-01"), 0);
        assert_eq!(time_of_day("2010-12-01T00:00:00Z"), 0);
        assert_eq!(time_of_day("12/1/2010 8:26"), t(8, 26, 0));
        assert_eq!(time_of_day("2010-12-01T08:26:00+02:00"), t(8, 26, 0));
        assert_eq!(time_of_day("2010-12-01 20:26:05.5"), t(20, 26, 5) + 500);
        assert_eq!(time_of_day("12/1/2010 8:26 PM"), t(20, 26, 0));
        assert_eq!(time_of_day("12/1/2010 12:05 AM"), t(0, 5, 0));
        assert_ne!(
            time_of_day("2010-12-01 noon"),
            time_of_day("2010-12-01 dusk")
        );
        assert_ne!(time_of_day("2010-12-01 noon"), 0);
    }

    fn rules(
        exclude: &[(&str, &str)],
        min_unit_price: Option<f64>,
    ) -> Result<RowRules, FilterError> {
        let filters = RowFilters {
            exclude: exclude
                .iter()
                .map(|(c, p)| Exclude {
                    column: c.to_string(),
                    pattern: p.to_string(),
                })
                .collect(),
            min_unit_price,
        };
        RowRules::new(false, filters)
    }

    #[test]
    fn an_exclude_pattern_must_be_a_regular_expression() {
        let e = rules(&[("StockCode", "POST|(M")], None).unwrap_err();
        assert!(
            matches!(&e, FilterError::BadPattern { column, pattern, .. } if column == "StockCode" && pattern == "POST|(M"),
            "{e}"
        );
        assert!(e.to_string().contains("not a regular expression"), "{e}");
    }

    #[test]
    fn an_exclude_needs_a_column() {
        let e = rules(&[(" ", "POST")], None).unwrap_err();
        assert_eq!(
            e,
            FilterError::NoColumn {
                pattern: "POST".into()
            }
        );
    }

    #[test]
    fn a_minimum_unit_price_must_be_finite_and_not_negative() {
        for bad in [-0.5, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                rules(&[], Some(bad)),
                Err(FilterError::BadMinUnitPrice { .. })
            ));
        }
        assert!(rules(&[], Some(0.0)).is_ok());
    }

    #[test]
    fn an_exclude_matches_the_whole_trimmed_field() {
        let r = rules(
            &[
                ("StockCode", "POST|M|BANK CHARGES"),
                ("Country", "Unspecified"),
            ],
            None,
        )
        .unwrap();
        let at = |code: &'static str, country: &'static str| {
            let cells = [Cell::Text(code), Cell::Text(country)];
            r.filtered(|k| cells.get(k).copied(), None, false)
        };
        assert_eq!(at("POST", "France"), Some(0));
        assert_eq!(at(" M ", "France"), Some(0), "trimmed like every field");
        assert_eq!(at("BANK CHARGES", "France"), Some(0));
        assert_eq!(
            at("POSTAGE", "France"),
            None,
            "the whole field, not a prefix"
        );
        assert_eq!(at("85123A", "France"), None);
        assert_eq!(at("85123A", "Unspecified"), Some(1));
        // A JSON number is read as its text; a line without the field is never excluded.
        let n = rules(&[("InvoiceNo", "5363.*")], None).unwrap();
        assert_eq!(
            n.filtered(|_| Some(Cell::Number(536365.0)), None, false),
            Some(0)
        );
        assert_eq!(n.filtered(|_| None, None, false), None);
        assert_eq!(
            r.filters().labels(),
            ["StockCode=POST|M|BANK CHARGES", "Country=Unspecified"]
        );
    }

    #[test]
    fn a_unit_price_below_the_minimum_is_filtered_after_the_excludes() {
        let r = rules(&[("StockCode", "POST")], Some(0.01)).unwrap();
        let f = |code: &'static str, price: Option<Cell<'static>>| {
            r.filtered(|_| Some(Cell::Text(code)), price, false)
        };
        assert_eq!(f("85123A", Some(Cell::Text("0.00"))), Some(1));
        assert_eq!(f("85123A", Some(Cell::Number(0.001))), Some(1));
        assert_eq!(f("85123A", Some(Cell::Text("0.01"))), None, "not below");
        assert_eq!(
            f("POST", Some(Cell::Text("0.00"))),
            Some(0),
            "first filter wins"
        );
        // Unreadable or absent prices are left to the amount rule.
        assert_eq!(f("85123A", Some(Cell::Text("n/a"))), None);
        assert_eq!(f("85123A", None), None);
        let dc = r.filtered(|_| Some(Cell::Text("x")), Some(Cell::Text("0,005")), true);
        assert_eq!(dc, Some(1), "decimal comma files");
        assert_eq!(r.filters().labels()[1], "min_unit_price=0.01");
    }
}
