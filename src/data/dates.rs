//! Calendar dates as day numbers (days since 1970-01-01), parsed from the formats real
//! exports use: ISO dates and datetimes, `YYYYMMDD`, `YYYY/MM/DD`, `M/D/YYYY` (or `D/M/YYYY`),
//! `DD.MM.YYYY`, each optionally followed by a time. Times and time zones are ignored: a
//! transaction belongs to the calendar day written in the file.

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

/// Parses a date or datetime into a day number. Returns `None` for anything that is not a
/// valid calendar date in 1900..=2200.
pub fn parse_date(raw: &str, order: DayOrder) -> Option<i32> {
    let s = raw.trim().trim_matches('"');
    // The date part ends at the first 'T' or space that follows it.
    let date = s.split([' ', 'T']).next()?;
    if date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()) {
        let y = date[0..4].parse().ok()?;
        let m = date[4..6].parse().ok()?;
        let d = date[6..8].parse().ok()?;
        return checked(y, m, d);
    }
    let sep = date.chars().find(|c| matches!(c, '-' | '/' | '.'))?;
    let mut parts = date.split(sep);
    let (a, b, c) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let (na, nb, nc) = (num(a)?, num(b)?, num(c)?);
    if a.len() == 4 {
        return checked(na as i32, nb, nc);
    }
    if c.len() != 4 {
        return None;
    }
    match (sep, order) {
        ('.', _) | (_, DayOrder::DayFirst) => checked(nc as i32, nb, na),
        (_, DayOrder::MonthFirst) => checked(nc as i32, na, nb),
    }
}

/// Guesses the day order of a column from sample values: day-first when any slash date has
/// a first number above 12, month-first otherwise.
pub fn detect_day_order<'a>(samples: impl IntoIterator<Item = &'a str>) -> DayOrder {
    for s in samples {
        let date = s.trim().split([' ', 'T']).next().unwrap_or("");
        let mut parts = date.split('/');
        if let (Some(a), Some(_), Some(c)) = (parts.next(), parts.next(), parts.next()) {
            if c.len() == 4 && num(a).is_some_and(|v| v > 12) {
                return DayOrder::DayFirst;
            }
        }
    }
    DayOrder::MonthFirst
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
            "01.12.2010",
        ] {
            assert_eq!(parse_date(s, DayOrder::MonthFirst), Some(d), "{s}");
        }
        assert_eq!(parse_date("1/12/2010", DayOrder::DayFirst), Some(d));
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
}
