//! Calendar dates as day numbers (days since 1970-01-01), parsed from the formats real
//! exports use: ISO dates and datetimes, `YYYYMMDD`, `YYYY/MM/DD`, `M/D/YYYY` (or `D/M/YYYY`),
//! `DD.MM.YYYY`, each optionally followed by a time. Times and time zones are ignored: a
//! transaction belongs to the calendar day written in the file.
//!
//! Day/month order is never assumed: [`DayOrderDetector`] decides it per column from
//! evidence (a first field above 12 is day-first, a second field above 12 month-first) with
//! the same rule for `/`, `-` and `.`; a column whose dates read both ways with different
//! results and no evidence, or with evidence both ways, needs an explicit [`DateFormat`].
//! Dates given to the API (`as_of`, HTTP transactions) are ISO 8601 only
//! ([`parse_iso_date`]).

use serde::{Deserialize, Serialize};

/// Order of day and month in slash-separated dates such as `03/04/2024`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DayOrder {
    /// `M/D/YYYY` (US exports such as the UCI Online Retail log).
    #[default]
    MonthFirst,
    /// `D/M/YYYY`.
    DayFirst,
}

/// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i32;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The `(year, month, day)` of a day number; inverse of [`days_from_civil`].
pub fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Formats a day number as `YYYY-MM-DD`.
///
/// ```
/// use custseg::data::dates::{format_day, parse_date, DayOrder};
/// let d = parse_date("19970101", DayOrder::MonthFirst).unwrap();
/// assert_eq!(format_day(d), "1997-01-01");
/// ```
pub fn format_day(day: i32) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Years outside this range are treated as unparsable: they are typos, not customers.
const MIN_YEAR: i32 = 1900;
const MAX_YEAR: i32 = 2200;

fn checked(y: i32, m: u32, d: u32) -> Option<i32> {
    if !(MIN_YEAR..=MAX_YEAR).contains(&y) || !(1..=12).contains(&m) {
        return None;
    }
    if d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

fn num(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// How a date string reads under both day/month orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    /// Not a valid date in either order (or not a date at all).
    Invalid,
    /// One day whatever the order: ISO, `YYYYMMDD`, `YYYY/MM/DD`, or day = month.
    Same(i32),
    /// Valid only day-first (the first field is above 12): evidence for day-first.
    DayFirstOnly(i32),
    /// Valid only month-first (the second field is above 12): evidence for month-first.
    MonthFirstOnly(i32),
    /// Valid both ways with different days: the file must say which.
    Either { month_first: i32, day_first: i32 },
}

/// Reads a date or datetime both ways round. Any of `/`, `-`, `.` separates the fields of
/// `D?M?YYYY` dates; the same rule holds for all three.
pub fn read_both(raw: &str) -> Reading {
    read_both_opt(raw).unwrap_or(Reading::Invalid)
}

fn read_both_opt(raw: &str) -> Option<Reading> {
    let s = super::unquote(raw);
    if let Some(day) = iso_day_prefix(s.as_bytes()) {
        return day.map(Reading::Same);
    }
    // The date part ends at the first 'T' or space that follows it.
    let date = s.split([' ', 'T']).next()?;
    if date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()) {
        let y = date[0..4].parse().ok()?;
        let m = date[4..6].parse().ok()?;
        let d = date[6..8].parse().ok()?;
        return checked(y, m, d).map(Reading::Same);
    }
    let sep = date.chars().find(|c| matches!(c, '-' | '/' | '.'))?;
    let mut parts = date.split(sep);
    let (a, b, c) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let (na, nb, nc) = (num(a)?, num(b)?, num(c)?);
    if a.len() == 4 {
        return checked(na as i32, nb, nc).map(Reading::Same);
    }
    if c.len() != 4 {
        return None;
    }
    let y = nc as i32;
    Some(match (checked(y, na, nb), checked(y, nb, na)) {
        (Some(mf), Some(df)) if mf == df => Reading::Same(mf),
        (Some(month_first), Some(day_first)) => Reading::Either {
            month_first,
            day_first,
        },
        (Some(mf), None) => Reading::MonthFirstOnly(mf),
        (None, Some(df)) => Reading::DayFirstOnly(df),
        (None, None) => Reading::Invalid,
    })
}

/// The common `YYYY-MM-DD` shape (alone or before a time), read without splitting:
/// `Some(day or None)` when `s` has that shape, `None` when the general reader must decide.
#[inline]
fn iso_day_prefix(s: &[u8]) -> Option<Option<i32>> {
    if s.len() < 10
        || s[4] != b'-'
        || s[7] != b'-'
        || !(s.len() == 10 || matches!(s[10], b' ' | b'T'))
    {
        return None;
    }
    let mut n = [0u32; 8];
    for (slot, &b) in n
        .iter_mut()
        .zip(s[..4].iter().chain(&s[5..7]).chain(&s[8..10]))
    {
        if !b.is_ascii_digit() {
            return None;
        }
        *slot = u32::from(b - b'0');
    }
    let y = n[0] * 1000 + n[1] * 100 + n[2] * 10 + n[3];
    Some(checked(y as i32, n[4] * 10 + n[5], n[6] * 10 + n[7]))
}

impl Reading {
    /// The day under `order`; `None` when the date is invalid that way round.
    pub fn day(self, order: Option<DayOrder>) -> Option<i32> {
        match (self, order) {
            (Reading::Same(d), _) => Some(d),
            (Reading::DayFirstOnly(d), None | Some(DayOrder::DayFirst)) => Some(d),
            (Reading::MonthFirstOnly(d), None | Some(DayOrder::MonthFirst)) => Some(d),
            (Reading::Either { month_first, .. }, Some(DayOrder::MonthFirst)) => Some(month_first),
            (Reading::Either { day_first, .. }, Some(DayOrder::DayFirst)) => Some(day_first),
            _ => None,
        }
    }

    /// The order this date proves, if any.
    pub fn evidence(self) -> Option<DayOrder> {
        match self {
            Reading::DayFirstOnly(_) => Some(DayOrder::DayFirst),
            Reading::MonthFirstOnly(_) => Some(DayOrder::MonthFirst),
            _ => None,
        }
    }
}

/// Parses a date or datetime into a day number with a known day order. Returns `None` for
/// anything that is not a valid calendar date in 1900..=2200 that way round.
pub fn parse_date(raw: &str, order: DayOrder) -> Option<i32> {
    read_both(raw).day(Some(order))
}

/// Guesses the day order of a column from sample values: day-first when any `D?M?YYYY`
/// date (any separator) has a first number above 12, month-first otherwise. Prefer
/// [`DayOrderDetector`], which also reports ambiguity and contradictions.
pub fn detect_day_order<'a>(samples: impl IntoIterator<Item = &'a str>) -> DayOrder {
    samples
        .into_iter()
        .find_map(|s| read_both(s).evidence())
        .unwrap_or_default()
}

/// A date that settled (or would settle) a column's day order: 1-based row and raw text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    pub row: u64,
    pub raw: String,
    pub order: DayOrder,
}

/// Why a column's dates cannot be read without a stated format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderProblem {
    /// Dates such as `raw` at `row` read both ways and no date settles the order.
    Ambiguous { row: u64, raw: String },
    /// One date can only be day-first and another only month-first.
    Contradictory { first: Evidence, second: Evidence },
}

impl DayOrder {
    /// `day-first` or `month-first`.
    pub fn name(self) -> &'static str {
        match self {
            DayOrder::DayFirst => "day-first",
            DayOrder::MonthFirst => "month-first",
        }
    }
}

impl std::fmt::Display for Evidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (row {} '{}')", self.order.name(), self.row, self.raw)
    }
}

impl std::fmt::Display for OrderProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = DayOrder::name;
        match self {
            OrderProblem::Ambiguous { row, raw } => write!(
                f,
                "dates such as '{raw}' (row {row}) read both day-first and month-first with \
                 different results and no date in the file settles the order (no day above 12); \
                 the date format must be given, e.g. %d-%m-%Y or %m/%d/%Y"
            ),
            OrderProblem::Contradictory { first, second } => write!(
                f,
                "row {} '{}' can only be {} but row {} '{}' can only be {}; \
                 the date format must be given, e.g. %d-%m-%Y or %m/%d/%Y",
                first.row,
                first.raw,
                name(first.order),
                second.row,
                second.raw,
                name(second.order)
            ),
        }
    }
}

/// The evidence a run of dates holds about their day/month order: the first date that can
/// only be day-first, the first that can only be month-first, and the first that reads both
/// ways. Runs read in parallel are [`merge`](Self::merge)d in file order; the rule that
/// decides (or refuses) the order is [`order`](Self::order), the one place it is written.
#[derive(Clone, Debug, Default)]
pub struct DayEvidence {
    day_first: Option<Evidence>,
    month_first: Option<Evidence>,
    ambiguous: Option<(u64, String)>,
}

impl DayEvidence {
    /// Records one date (`reading` is [`read_both`] of `raw`) at `row`.
    pub fn note(&mut self, reading: Reading, raw: &str, row: u64) {
        let Some(order) = reading.evidence() else {
            if matches!(reading, Reading::Either { .. }) && self.ambiguous.is_none() {
                self.ambiguous = Some((row, raw.trim().to_string()));
            }
            return;
        };
        let slot = match order {
            DayOrder::DayFirst => &mut self.day_first,
            DayOrder::MonthFirst => &mut self.month_first,
        };
        if slot.is_none() {
            *slot = Some(Evidence {
                row,
                raw: raw.trim().to_string(),
                order,
            });
        }
    }

    /// Adds the evidence of the dates that follow these.
    pub fn merge(&mut self, later: DayEvidence) {
        for (mine, theirs) in [
            (&mut self.day_first, later.day_first),
            (&mut self.month_first, later.month_first),
        ] {
            if mine.is_none() {
                *mine = theirs;
            }
        }
        if self.ambiguous.is_none() {
            self.ambiguous = later.ambiguous;
        }
    }

    /// The order the dates prove: the first proof wins, a date proving the other order is an
    /// error naming both; `None` while nothing proved it.
    pub fn order(&self) -> Result<Option<DayOrder>, OrderProblem> {
        match (&self.day_first, &self.month_first) {
            (Some(a), Some(b)) => {
                let (first, second) = if a.row <= b.row { (a, b) } else { (b, a) };
                Err(OrderProblem::Contradictory {
                    first: first.clone(),
                    second: second.clone(),
                })
            }
            (Some(e), None) | (None, Some(e)) => Ok(Some(e.order)),
            (None, None) => Ok(None),
        }
    }

    /// The date that proved the order, if any (and no date contradicts it).
    pub fn proof(&self) -> Option<&Evidence> {
        match (&self.day_first, &self.month_first) {
            (Some(e), None) | (None, Some(e)) => Some(e),
            _ => None,
        }
    }

    /// The first date that read both ways.
    pub fn ambiguous(&self) -> Option<&(u64, String)> {
        self.ambiguous.as_ref()
    }

    /// At the end of the column: the order, or an error when ambiguous dates were seen and
    /// nothing settled their order.
    pub fn finish(&self) -> Result<Option<DayOrder>, OrderProblem> {
        match (self.order()?, &self.ambiguous) {
            (None, Some((row, raw))) => Err(OrderProblem::Ambiguous {
                row: *row,
                raw: raw.clone(),
            }),
            (order, _) => Ok(order),
        }
    }
}

/// Decides one column's day order from evidence in every row: feed each date to
/// [`observe`](Self::observe) in file order; a date that reads both ways before the order is
/// known returns `false` (the caller rereads from there once [`order`](Self::order) is set).
#[derive(Clone, Debug, Default)]
pub struct DayOrderDetector {
    seen: DayEvidence,
}

impl DayOrderDetector {
    /// The order once a date has proven it.
    pub fn order(&self) -> Option<DayOrder> {
        self.seen.proof().map(|e| e.order)
    }

    /// The first date that proved the order, if any.
    pub fn evidence(&self) -> Option<&Evidence> {
        self.seen.proof()
    }

    /// Records one date. `Ok(true)`: rows up to here can be read with [`Self::order`];
    /// `Ok(false)`: this date reads both ways and the order is not known yet.
    pub fn observe(&mut self, raw: &str, row: u64) -> Result<bool, OrderProblem> {
        let reading = read_both(raw);
        self.seen.note(reading, raw, row);
        let order = self.seen.order()?;
        Ok(!(matches!(reading, Reading::Either { .. }) && order.is_none()))
    }

    /// At the end of the column: an error when ambiguous dates were seen and nothing
    /// settled their order.
    pub fn finish(&self) -> Result<Option<DayOrder>, OrderProblem> {
        self.seen.finish()
    }
}

/// An explicit date format: a strftime-style subset. `%Y` (4-digit year), `%y` (2-digit
/// year, 1969..=2068 as POSIX), `%m`, `%d`, `%H`, `%M`, `%S` (1 or 2 digits), `%%` (a
/// literal `%`); every other character must appear as written. Text after the format that
/// starts with a space or `T` (a time the format does not describe) is ignored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DateFormat {
    text: String,
    items: Vec<FmtItem>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FmtItem {
    Year4,
    Year2,
    Month,
    Day,
    Time(u32),
    Lit(char),
}

impl TryFrom<String> for DateFormat {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        DateFormat::parse(&s)
    }
}

impl From<DateFormat> for String {
    fn from(f: DateFormat) -> String {
        f.text
    }
}

impl std::fmt::Display for DateFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl DateFormat {
    /// Parses a format such as `%d-%m-%Y`; the error says what is wrong with it.
    ///
    /// ```
    /// use custseg::data::dates::{format_day, DateFormat};
    /// let f = DateFormat::parse("%d.%m.%Y").unwrap();
    /// assert_eq!(f.parse_day("03.04.2011").map(format_day), Some("2011-04-03".into()));
    /// assert!(DateFormat::parse("%d-%m").is_err());
    /// ```
    pub fn parse(fmt: &str) -> Result<DateFormat, String> {
        let mut items = Vec::new();
        let mut chars = fmt.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                items.push(FmtItem::Lit(c));
                continue;
            }
            items.push(match chars.next() {
                Some('Y') => FmtItem::Year4,
                Some('y') => FmtItem::Year2,
                Some('m') => FmtItem::Month,
                Some('d') => FmtItem::Day,
                Some('H') => FmtItem::Time(23),
                Some('M') => FmtItem::Time(59),
                Some('S') => FmtItem::Time(60),
                Some('%') => FmtItem::Lit('%'),
                Some(o) => {
                    return Err(format!(
                        "date format '{fmt}': %{o} is not supported (use %Y %y %m %d %H %M %S %%)"
                    ))
                }
                None => return Err(format!("date format '{fmt}': ends with a lone %")),
            });
        }
        let count = |want: &[FmtItem]| items.iter().filter(|i| want.contains(i)).count();
        if count(&[FmtItem::Year4, FmtItem::Year2]) != 1
            || count(&[FmtItem::Month]) != 1
            || count(&[FmtItem::Day]) != 1
        {
            return Err(format!(
                "date format '{fmt}': needs a year (%Y or %y), %m and %d, each once"
            ));
        }
        Ok(DateFormat {
            text: fmt.to_string(),
            items,
        })
    }

    /// The day number of `raw` read with this format; `None` when it does not match or is
    /// not a valid date in 1900..=2200.
    pub fn parse_day(&self, raw: &str) -> Option<i32> {
        let mut s = super::unquote(raw);
        let (mut y, mut m, mut d) = (None, None, None);
        for item in &self.items {
            match *item {
                FmtItem::Lit(c) => s = s.strip_prefix(c)?,
                FmtItem::Year4 => y = Some(take_digits(&mut s, 4, 4)? as i32),
                FmtItem::Year2 => {
                    let v = take_digits(&mut s, 2, 2)? as i32;
                    y = Some(if v < 69 { 2000 + v } else { 1900 + v });
                }
                FmtItem::Month => m = Some(take_digits(&mut s, 1, 2)?),
                FmtItem::Day => d = Some(take_digits(&mut s, 1, 2)?),
                FmtItem::Time(max) => {
                    if take_digits(&mut s, 1, 2)? > max {
                        return None;
                    }
                }
            }
        }
        if !(s.is_empty() || s.starts_with([' ', 'T'])) {
            return None;
        }
        checked(y?, m?, d?)
    }
}

fn take_digits(s: &mut &str, min: usize, max: usize) -> Option<u32> {
    let n = s.bytes().take(max).take_while(u8::is_ascii_digit).count();
    if n < min {
        return None;
    }
    let v = s[..n].parse().ok()?;
    *s = &s[n..];
    Some(v)
}

/// An ISO 8601 date as `--as-of` and the HTTP API take it: `YYYY-MM-DD`, or an RFC 3339
/// date-time (`YYYY-MM-DDTHH:MM:SS` with optional fraction and `Z`/`±HH:MM`; a space may
/// stand for the `T`), whose calendar day as written is used. Anything else is `None`.
///
/// ```
/// use custseg::data::dates::{format_day, parse_iso_date};
/// assert_eq!(parse_iso_date("2011-10-12").map(format_day), Some("2011-10-12".into()));
/// assert_eq!(parse_iso_date("2011-10-12T08:00:00Z").map(format_day), Some("2011-10-12".into()));
/// assert_eq!(parse_iso_date("10/12/2011"), None);
/// ```
pub fn parse_iso_date(raw: &str) -> Option<i32> {
    let s = raw.trim();
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| {
        s.get(r.clone())
            .filter(|t| t.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|t| t.parse::<u32>().ok())
    };
    let day = checked(digits(0..4)? as i32, digits(5..7)?, digits(8..10)?)?;
    if b.len() == 10 {
        return Some(day);
    }
    if !matches!(b[10], b'T' | b't' | b' ') || !iso_time(&s[11..]) {
        return None;
    }
    Some(day)
}

/// `HH:MM:SS[.fff][Z|±HH:MM]`.
fn iso_time(t: &str) -> bool {
    let b = t.as_bytes();
    let two = |i: usize, max: u32| {
        t.get(i..i + 2)
            .filter(|x| x.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|x| x.parse::<u32>().ok())
            .is_some_and(|v| v <= max)
    };
    if b.len() < 8 || !two(0, 23) || b[2] != b':' || !two(3, 59) || b[5] != b':' || !two(6, 60) {
        return false;
    }
    let mut rest = &t[8..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    match rest {
        "" | "Z" | "z" => true,
        _ => {
            let o = rest.as_bytes();
            o.len() == 6 && matches!(o[0], b'+' | b'-') && o[3] == b':' && {
                let off = &rest[1..];
                off.get(0..2)
                    .is_some_and(|h| h.parse::<u32>().is_ok_and(|v| v <= 23))
                    && off
                        .get(3..5)
                        .is_some_and(|m| m.parse::<u32>().is_ok_and(|v| v <= 59))
            }
        }
    }
}

/// Today's day number from the system clock (UTC).
pub fn today() -> i32 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    (secs / 86_400) as i32
}

/// The current time as an RFC 3339 UTC timestamp, second precision.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let day = (secs / 86_400) as i32;
    let rem = secs % 86_400;
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        format_day(day),
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_over_three_centuries() {
        for day in days_from_civil(1900, 1, 1)..days_from_civil(2200, 12, 31) {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn parses_every_supported_shape() {
        let d = days_from_civil(2010, 12, 1);
        for s in [
            "2010-12-01",
            "2010-12-01 08:26:00",
            "2010-12-01T08:26:00Z",
            "2010-12-01T08:26:00+02:00",
            "20101201",
            "2010/12/01",
            "12/1/2010 8:26",
            "12/01/2010",
            " 2010-12-01 ",
        ] {
            assert_eq!(parse_date(s, DayOrder::MonthFirst), Some(d), "{s}");
        }
        assert_eq!(parse_date("1/12/2010", DayOrder::DayFirst), Some(d));
        assert_eq!(parse_date("01.12.2010", DayOrder::DayFirst), Some(d));
        assert_eq!(parse_date("01-12-2010", DayOrder::DayFirst), Some(d));
    }

    #[test]
    fn rejects_invalid_dates() {
        for s in [
            "",
            "abc",
            "2010-13-01",
            "2010-02-30",
            "20101301",
            "1/2/10",
            "99999999",
            "1800-01-01",
            "2010-1",
            "2010-12-01-02",
            "+2010-12-01",
        ] {
            assert_eq!(parse_date(s, DayOrder::MonthFirst), None, "{s}");
        }
        assert_eq!(
            parse_date("2012-02-29", DayOrder::MonthFirst).map(format_day),
            Some("2012-02-29".into())
        );
        assert_eq!(parse_date("2011-02-29", DayOrder::MonthFirst), None);
    }

    #[test]
    fn day_order_is_detected_from_samples() {
        assert_eq!(
            detect_day_order(["12/1/2010", "1/2/2011"]),
            DayOrder::MonthFirst
        );
        assert_eq!(
            detect_day_order(["12/1/2010", "13/2/2011"]),
            DayOrder::DayFirst
        );
    }

    #[test]
    fn every_separator_follows_the_same_day_order_rule() {
        for sep in ['/', '-', '.'] {
            let day_first = format!("13{sep}01{sep}1997");
            let month_first = format!("01{sep}13{sep}1997");
            let either = format!("03{sep}04{sep}1997");
            assert_eq!(
                read_both(&day_first),
                Reading::DayFirstOnly(days_from_civil(1997, 1, 13))
            );
            assert_eq!(
                read_both(&month_first),
                Reading::MonthFirstOnly(days_from_civil(1997, 1, 13))
            );
            assert_eq!(
                read_both(&either),
                Reading::Either {
                    month_first: days_from_civil(1997, 3, 4),
                    day_first: days_from_civil(1997, 4, 3)
                }
            );
            assert_eq!(
                read_both(&format!("05{sep}05{sep}1997")),
                Reading::Same(days_from_civil(1997, 5, 5))
            );
        }
        assert_eq!(
            detect_day_order(["01-02-2011", "13-02-2011"]),
            DayOrder::DayFirst
        );
    }

    #[test]
    fn day_order_is_decided_by_evidence_from_any_row() {
        let mut d = DayOrderDetector::default();
        assert_eq!(d.observe("1997-01-01", 1), Ok(true));
        assert_eq!(d.observe("01-02-1997", 2), Ok(false));
        assert_eq!(d.order(), None);
        for row in 3..5000 {
            assert_eq!(d.observe("02-03-1997", row), Ok(false));
        }
        assert_eq!(d.observe("13-03-1997", 5000), Ok(true));
        assert_eq!(d.order(), Some(DayOrder::DayFirst));
        assert_eq!(d.observe("02-03-1997", 5001), Ok(true));
        assert_eq!(d.finish(), Ok(Some(DayOrder::DayFirst)));
    }

    #[test]
    fn ambiguous_dates_without_evidence_are_an_error() {
        let mut d = DayOrderDetector::default();
        assert_eq!(d.observe("03.04.2011", 2), Ok(false));
        assert_eq!(d.observe("05.05.2011", 3), Ok(true));
        let err = d.finish().unwrap_err();
        assert_eq!(
            err,
            OrderProblem::Ambiguous {
                row: 2,
                raw: "03.04.2011".into()
            }
        );
        assert!(err.to_string().contains("'03.04.2011' (row 2)"));
        let mut same = DayOrderDetector::default();
        assert_eq!(same.observe("05/05/2011", 2), Ok(true));
        assert_eq!(same.finish(), Ok(None));
    }

    #[test]
    fn contradictory_evidence_is_an_error() {
        let mut d = DayOrderDetector::default();
        assert_eq!(d.observe("13/01/2011", 2), Ok(true));
        let err = d.observe("01/13/2011", 7).unwrap_err();
        assert!(matches!(err, OrderProblem::Contradictory { .. }));
        let text = err.to_string();
        assert!(
            text.contains("row 2 '13/01/2011' can only be day-first"),
            "{text}"
        );
        assert!(
            text.contains("row 7 '01/13/2011' can only be month-first"),
            "{text}"
        );
    }

    #[test]
    fn date_format_reads_the_supported_strftime_subset() {
        let f = DateFormat::parse("%d-%m-%Y").unwrap();
        assert_eq!(f.parse_day("03-04-2011"), Some(days_from_civil(2011, 4, 3)));
        assert_eq!(
            f.parse_day("3-4-2011 08:26"),
            Some(days_from_civil(2011, 4, 3))
        );
        assert_eq!(f.parse_day("2011-04-03"), None);
        assert_eq!(f.parse_day("31-02-2011"), None);
        let t = DateFormat::parse("%m/%d/%y %H:%M:%S").unwrap();
        assert_eq!(
            t.parse_day("12/01/10 08:26:00"),
            Some(days_from_civil(2010, 12, 1))
        );
        assert_eq!(t.parse_day("12/01/10 25:26:00"), None);
        assert_eq!(
            DateFormat::parse("%Y%m%d").unwrap().parse_day("19970101"),
            Some(days_from_civil(1997, 1, 1))
        );
        for bad in ["%d-%m", "%d-%m-%Y-%Y", "%b %d %Y", "%d/%m/%Y%"] {
            assert!(DateFormat::parse(bad).is_err(), "{bad}");
        }
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(json, "\"%d-%m-%Y\"");
        assert_eq!(serde_json::from_str::<DateFormat>(&json).unwrap(), f);
    }

    #[test]
    fn api_dates_are_iso_8601_only() {
        let d = days_from_civil(2011, 10, 12);
        for ok in [
            "2011-10-12",
            "2011-10-12T08:26:00Z",
            "2011-10-12T08:26:00.125+02:00",
            "2011-10-12 08:26:00",
            " 2011-10-12 ",
        ] {
            assert_eq!(parse_iso_date(ok), Some(d), "{ok}");
        }
        for bad in [
            "10/12/2011",
            "12.10.2011",
            "12-10-2011",
            "20111012",
            "2011/10/12",
            "2011-10-12T25:00:00Z",
            "2011-10-12T08:26",
            "2011-10-12junk",
            "2011-13-01",
            "",
        ] {
            assert_eq!(parse_iso_date(bad), None, "{bad}");
        }
    }
}
