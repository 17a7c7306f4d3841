//! Customer-table columns as they come → candidate features. One place decides, for the
//! trainer, what a column is, and one place ([`Derivation::apply`]) turns a raw value of a
//! derived column into its feature value, for the trainer, batch scoring and HTTP alike.
//!
//! Rules, in order, for a column without a declared kind (a declared `kind` always wins):
//! 1. **Outcome**: a column named `y`, `target`, `label`, `response`, `churn`, `churned`,
//!    `converted` or `outcome` (ignoring case and punctuation) is what segments might
//!    predict, not a trait: it is left out with a note unless the config declares it.
//! 2. **Birth year**: a column named like `Year_Birth`/`birth_year`/`YearOfBirth`/`yob` whose
//!    values are all whole years from 1900 to the as-of year becomes `age` = as-of year −
//!    birth year ([`Derivation::AgeFromBirthYear`]).
//! 3. **Integer codes**: whole numbers with 2 to [`MAX_CODE_LEVELS`] distinct values, not a
//!    0/1 flag, in a column named like a code (a word such as `code`, `channel`, `region`,
//!    `type`, `category`, `segment`, `class`, `group`, `id`) are categorical, with a note.
//!    Counts such as `Kidhome` (0, 1, 2) stay numeric.
//! 4. **Dates**: a column whose present values read as dates (at least 90% of them, the
//!    day/month order taken from the values' evidence) becomes `<column>_days` = as-of − date
//!    ([`Derivation::DaysSince`]); unreadable values are missing (imputed and counted). A
//!    column whose dates read both ways with different results is left out with a note.
//! 5. Otherwise numeric when every present value is a finite number, categorical when not.

use serde::{Deserialize, Serialize};

use super::spec::{Candidate, Feature, RawColumn, Source};
use super::{FeatureConfig, FeatureError, Kind, RawValue};
use crate::data::customers::{CustomerColumn, CustomerTable};
use crate::data::dates::{self, DayOrder};
use crate::data::table::normalize_name;

/// How a feature's value is computed from a raw customer-table value and the as-of day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Derivation {
    /// Days from the date in `source` to as-of (`Dt_Customer` → `dt_customer_days`).
    DaysSince {
        /// Feature name of the source column (`dt_customer`).
        source: String,
        /// Day/month order of its dates, decided from the training values.
        day_first: bool,
    },
    /// As-of year − the birth year in `source` (`Year_Birth` → `age`).
    AgeFromBirthYear {
        /// Feature name of the source column (`year_birth`).
        source: String,
    },
}

impl Derivation {
    /// Feature name of the column (or JSON field) the value is derived from.
    pub fn source(&self) -> &str {
        match self {
            Derivation::DaysSince { source, .. } | Derivation::AgeFromBirthYear { source } => {
                source
            }
        }
    }

    /// The feature value of raw text `raw` as of day `as_of`; the error says what was
    /// expected.
    ///
    /// ```
    /// use custseg::features::table::Derivation;
    /// let d = Derivation::DaysSince { source: "joined".into(), day_first: true };
    /// let as_of = custseg::data::dates::days_from_civil(2014, 6, 30);
    /// assert_eq!(d.apply("20-06-2014", as_of), Ok(10.0));
    /// ```
    pub fn apply(&self, raw: &str, as_of: i32) -> Result<f64, String> {
        match self {
            Derivation::DaysSince { day_first, .. } => parse_table_date(raw, *day_first)
                .map(|day| f64::from(as_of - day))
                .ok_or_else(|| {
                    let order = if *day_first {
                        "day-first"
                    } else {
                        "month-first"
                    };
                    format!("expected a date ({order}, as in training)")
                }),
            Derivation::AgeFromBirthYear { .. } => birth_year(raw)
                .map(|y| f64::from(year_of(as_of) - y))
                .ok_or_else(|| "expected a birth year (1900 or later)".to_string()),
        }
    }
}

/// Reads a date of a customer-table column in the order decided in training.
fn parse_table_date(raw: &str, day_first: bool) -> Option<i32> {
    let order = if day_first {
        DayOrder::DayFirst
    } else {
        DayOrder::MonthFirst
    };
    dates::parse_date(raw, order)
}

/// The day/month order of a column's dates from its values, or `None` when the values read
/// both ways with different results and nothing tells them apart. This is the one call into
/// date-order detection for customer tables, so it can follow `data::dates` in one place.
pub fn column_day_order(values: &[&str]) -> Option<DayOrder> {
    let mut detector = dates::DayOrderDetector::default();
    for (row, v) in values.iter().enumerate() {
        detector.observe(v, row as u64 + 1).ok()?;
    }
    // No date settles the order: fine when every date reads the same both ways.
    detector.finish().ok().map(Option::unwrap_or_default)
}

fn year_of(day: i32) -> i32 {
    dates::civil_from_days(day).0
}

fn whole(raw: &str) -> Option<i64> {
    let x = crate::data::parse_number(raw)?;
    (x.fract() == 0.0 && x.abs() < 1e15).then_some(x as i64)
}

fn birth_year(raw: &str) -> Option<i32> {
    whole(raw)
        .filter(|y| (1900..=2200).contains(y))
        .map(|y| y as i32)
}

/// Names of likely outcome columns (normalized: lower-case letters and digits).
pub const OUTCOME_NAMES: [&str; 8] = [
    "y",
    "target",
    "label",
    "response",
    "churn",
    "churned",
    "converted",
    "outcome",
];

/// True for a column named like an outcome to predict.
pub fn is_outcome_name(header: &str) -> bool {
    OUTCOME_NAMES.contains(&normalize_name(header).as_str())
}

/// True for a column named like a birth year.
pub fn is_birth_year_name(header: &str) -> bool {
    let n = normalize_name(header);
    matches!(n.as_str(), "yob" | "birthyr" | "byear")
        || (n.contains("birth") && (n.contains("year") || n.ends_with("yr")))
}

/// Most distinct values an integer column may have to be read as codes.
pub const MAX_CODE_LEVELS: usize = 10;

/// Words of a column name that mark integer codes.
const CODE_WORDS: [&str; 16] = [
    "code", "channel", "region", "type", "category", "segment", "class", "group", "kind", "zone",
    "area", "status", "cluster", "id", "store", "branch",
];

/// True for a column named like a code (`Channel`, `region_code`, `StoreType`).
pub fn is_code_name(header: &str) -> bool {
    let words = split_words(header);
    words.iter().any(|w| CODE_WORDS.contains(&w.as_str()))
        || words
            .iter()
            .any(|w| CODE_WORDS.iter().any(|c| c.len() > 3 && w.ends_with(c)))
}

/// A header's words, lower case, split at punctuation and camel-case humps.
fn split_words(header: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for ch in header.chars() {
        if !ch.is_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if ch.is_uppercase() && prev_lower && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        prev_lower = ch.is_lowercase() || ch.is_ascii_digit();
        cur.extend(ch.to_lowercase());
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// True when whole numbers `values` look like codes: 2..=[`MAX_CODE_LEVELS`] distinct values
/// that are not just 0 and 1.
pub fn looks_like_codes(values: &[f64]) -> bool {
    if values.iter().any(|v| v.fract() != 0.0) {
        return false;
    }
    let mut distinct: Vec<i64> = values.iter().map(|v| *v as i64).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let flag = distinct.iter().all(|v| *v == 0 || *v == 1);
    (2..=MAX_CODE_LEVELS).contains(&distinct.len()) && !flag
}

/// What the table rules made of one column.
#[derive(Clone, Debug)]
pub enum Typed {
    /// A feature, maybe derived, with a note for the summary when a rule changed its kind.
    Feature {
        candidate: Candidate,
        derivation: Option<Derivation>,
        note: Option<String>,
    },
    /// Left out, with the reason.
    LeftOut(String),
}

/// Types one customer-table column for training by the rules in this module. `rows` maps
/// each segmented customer to its table row; `as_of` is the day features are computed at;
/// `taken` holds the feature names already used (a derived `age` does not shadow a column).
pub fn type_table_column(
    table: &CustomerTable,
    col: &CustomerColumn,
    config: &FeatureConfig,
    rows: &[Option<usize>],
    as_of: i32,
    taken: &[String],
) -> Result<Typed, FeatureError> {
    let declared = config.features.get(&col.name).and_then(|d| d.kind);
    if declared.is_none()
        && !config.features.contains_key(&col.name)
        && is_outcome_name(&col.header)
    {
        return Ok(Typed::LeftOut(format!(
            "looks like an outcome to predict, not a customer trait; declare [features.{}] in the config to use it",
            col.name
        )));
    }
    let numbers = parse_numbers(table, col, declared)?;
    let all_numeric = numbers
        .iter()
        .zip(col.values.iter())
        .all(|(n, v)| n.is_some() || v.is_none())
        && numbers.iter().any(Option::is_some);
    let present: Vec<&str> = col.values.iter().flatten().collect();
    let pick = |f: &dyn Fn(usize) -> Option<f64>| -> Vec<Option<f64>> {
        rows.iter().map(|r| r.and_then(f)).collect()
    };
    let feature = |name: String, values: RawColumn, derivation, note| Typed::Feature {
        candidate: Candidate {
            name,
            source: Source::Customers,
            column: Some(col.header.clone()),
            values,
        },
        derivation,
        note,
    };
    match declared {
        Some(Kind::Numeric) => {
            return Ok(feature(
                col.name.clone(),
                RawColumn::Numbers(pick(&|i| numbers[i])),
                None,
                None,
            ))
        }
        Some(Kind::Categorical) => {
            return Ok(feature(col.name.clone(), labels(col, rows), None, None))
        }
        None => {}
    }
    let present_numbers: Vec<f64> = numbers.iter().flatten().copied().collect();
    if all_numeric && is_birth_year_name(&col.header) {
        let year = year_of(as_of);
        if present_numbers
            .iter()
            .all(|y| y.fract() == 0.0 && (1900.0..=f64::from(year)).contains(y))
        {
            let d = Derivation::AgeFromBirthYear {
                source: col.name.clone(),
            };
            let name = if taken.iter().any(|t| t == "age") {
                format!("{}_age", col.name)
            } else {
                "age".into()
            };
            let values = pick(&|i| col.values.get(i).and_then(|s| d.apply(s, as_of).ok()));
            let note = format!("birth years as {name} (as-of year {year} − {})", col.header);
            return Ok(feature(
                name,
                RawColumn::Numbers(values),
                Some(d),
                Some(note),
            ));
        }
    }
    let eight_digits = present.iter().all(|s| s.trim().len() == 8);
    if !all_numeric || eight_digits {
        if let Some(typed) = date_column(col, &present, rows, as_of, &feature) {
            return Ok(typed);
        }
    }
    if all_numeric {
        if is_code_name(&col.header) && looks_like_codes(&present_numbers) {
            let mut levels = present_numbers.clone();
            levels.sort_by(f64::total_cmp);
            levels.dedup();
            let note = format!(
                "integer codes ({} levels) treated as categorical",
                levels.len()
            );
            return Ok(feature(
                col.name.clone(),
                labels(col, rows),
                None,
                Some(note),
            ));
        }
        return Ok(feature(
            col.name.clone(),
            RawColumn::Numbers(pick(&|i| numbers[i])),
            None,
            None,
        ));
    }
    Ok(feature(col.name.clone(), labels(col, rows), None, None))
}

/// Share of a column's present values that must read as dates for it to be a date column.
const MIN_DATE_SHARE: f64 = 0.9;

fn date_column(
    col: &CustomerColumn,
    present: &[&str],
    rows: &[Option<usize>],
    as_of: i32,
    feature: &dyn Fn(String, RawColumn, Option<Derivation>, Option<String>) -> Typed,
) -> Option<Typed> {
    if present.is_empty() {
        return None;
    }
    let readable = |o| {
        present
            .iter()
            .filter(|v| dates::parse_date(v, o).is_some())
            .count()
    };
    let best = readable(DayOrder::MonthFirst).max(readable(DayOrder::DayFirst));
    if (best as f64) < MIN_DATE_SHARE * present.len() as f64 {
        return None;
    }
    let Some(order) = column_day_order(present) else {
        return Some(Typed::LeftOut(
            "dates whose day/month order the values do not tell (every day is 12 or less); write them as YYYY-MM-DD".into(),
        ));
    };
    let d = Derivation::DaysSince {
        source: col.name.clone(),
        day_first: order == DayOrder::DayFirst,
    };
    let values = rows
        .iter()
        .map(|r| r.and_then(|i| col.values.get(i).and_then(|s| d.apply(s, as_of).ok())))
        .collect();
    let order_text = if order == DayOrder::DayFirst {
        "day-first"
    } else {
        "month-first"
    };
    let name = format!("{}_days", col.name);
    let note = format!(
        "dates ({order_text}) as {name} = days from {} to as-of {}",
        col.header,
        dates::format_day(as_of)
    );
    Some(feature(
        name,
        RawColumn::Numbers(values),
        Some(d),
        Some(note),
    ))
}

fn labels(col: &CustomerColumn, rows: &[Option<usize>]) -> RawColumn {
    RawColumn::Labels(
        rows.iter()
            .map(|r| r.and_then(|i| col.values.get(i).map(str::to_string)))
            .collect(),
    )
}

/// Parses every value as a number (`None` where it is not one). Infinite numbers are an
/// error naming the row unless the column is declared categorical; a declared-numeric column
/// with text is an error.
fn parse_numbers(
    table: &CustomerTable,
    col: &CustomerColumn,
    declared: Option<Kind>,
) -> Result<Vec<Option<f64>>, FeatureError> {
    let path = table.path().display().to_string();
    let mut numbers = Vec::with_capacity(col.values.len());
    for (v, &row) in col.values.iter().zip(&table.rows) {
        let Some(s) = v else {
            numbers.push(None);
            continue;
        };
        let x = crate::data::parse_number(s);
        if x.is_none() {
            let non_finite = s.trim().parse::<f64>().is_ok_and(|x| !x.is_finite());
            if non_finite && declared != Some(Kind::Categorical) {
                return Err(FeatureError::BadValue {
                    path,
                    row,
                    column: col.header.clone(),
                    reason: "infinite number".into(),
                });
            }
            if declared == Some(Kind::Numeric) {
                return Err(FeatureError::BadValue {
                    path,
                    row,
                    column: col.header.clone(),
                    reason: "not a number (the config declares this feature numeric)".into(),
                });
            }
        }
        numbers.push(x);
    }
    Ok(numbers)
}

/// The raw value of derived feature `f` from `text`, the value of its source column or field
/// (a date, a birth year), as of day `as_of`: the one conversion the trainer, batch scoring
/// and HTTP share. Errors name the feature.
pub fn derived_value(
    f: &Feature,
    text: &str,
    as_of: Option<i32>,
) -> Result<RawValue, FeatureError> {
    let Some(d) = &f.derived else {
        return Err(FeatureError::WrongType {
            feature: f.name.clone(),
            reason: "is not derived from another column".into(),
        });
    };
    let Some(as_of) = as_of else {
        return Err(FeatureError::WrongType {
            feature: f.name.clone(),
            reason: "derived from a date, but the model records no as-of date".into(),
        });
    };
    d.apply(text, as_of)
        .map(RawValue::Num)
        .map_err(|reason| FeatureError::WrongType {
            feature: d.source().to_string(),
            reason,
        })
}

/// Position of the column to read feature `f` from among a table's feature names, and
/// whether it is the feature's source column (to be converted with [`derived_value`]) rather
/// than the feature itself (`dt_customer_days`, as in a model's own `assignments.csv`).
pub fn column_for(f: &Feature, names: &[String], skip: Option<usize>) -> Option<(usize, bool)> {
    let find = |wanted: &str| {
        names
            .iter()
            .enumerate()
            .position(|(i, n)| Some(i) != skip && n == wanted)
    };
    find(&f.name).map(|i| (i, false)).or_else(|| {
        f.derived
            .as_ref()
            .and_then(|d| find(d.source()))
            .map(|i| (i, true))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::customers::TextColumn;
    use crate::features::FeatureDecl;

    fn table(header: &str, values: &[&str]) -> (CustomerTable, Vec<Option<usize>>) {
        let mut t = CustomerTable::default();
        t.columns.push(CustomerColumn {
            name: crate::data::table::feature_name(header),
            header: header.into(),
            values: TextColumn::of(values.iter().map(|v| Some(*v))),
        });
        t.rows = (2..2 + values.len() as u64).collect();
        let rows = (0..values.len()).map(Some).collect();
        (t, rows)
    }

    fn typed(header: &str, values: &[&str], config: &FeatureConfig) -> Typed {
        let (t, rows) = table(header, values);
        let as_of = dates::days_from_civil(2014, 7, 1);
        type_table_column(&t, &t.columns[0], config, &rows, as_of, &[]).unwrap()
    }

    fn feature_of(t: Typed) -> (Candidate, Option<Derivation>, Option<String>) {
        match t {
            Typed::Feature {
                candidate,
                derivation,
                note,
            } => (candidate, derivation, note),
            Typed::LeftOut(why) => panic!("left out: {why}"),
        }
    }

    #[test]
    fn outcome_columns_are_left_out_unless_declared() {
        let v = ["0", "1", "0", "1"];
        for h in ["Response", "y", "TARGET", "churned", "Converted"] {
            assert!(
                matches!(typed(h, &v, &FeatureConfig::default()), Typed::LeftOut(_)),
                "{h}"
            );
        }
        let mut cfg = FeatureConfig::default();
        cfg.features
            .insert("response".into(), FeatureDecl::default());
        let (c, _, _) = feature_of(typed("Response", &v, &cfg));
        assert_eq!(c.name, "response");
        assert!(!is_outcome_name("responses_count"));
    }

    #[test]
    fn birth_year_becomes_age_as_of_the_as_of_year() {
        let (c, d, note) = feature_of(typed(
            "Year_Birth",
            &["1970", "1985", ""],
            &FeatureConfig::default(),
        ));
        assert_eq!(c.name, "age");
        let RawColumn::Numbers(v) = c.values else {
            panic!("numeric")
        };
        assert_eq!(v, [Some(44.0), Some(29.0), None]);
        assert_eq!(
            d,
            Some(Derivation::AgeFromBirthYear {
                source: "year_birth".into()
            })
        );
        assert!(note.unwrap().contains("2014"));
        for h in ["birth_year", "YearOfBirth", "yob"] {
            assert!(is_birth_year_name(h), "{h}");
        }
        // Not years: stays a number.
        let (c, d, _) = feature_of(typed(
            "Year_Birth",
            &["12", "30"],
            &FeatureConfig::default(),
        ));
        assert_eq!((c.name.as_str(), d), ("year_birth", None));
    }

    #[test]
    fn integer_codes_are_categorical_and_counts_stay_numeric() {
        let codes = ["1", "2", "3", "3", "1", "2"];
        let (c, _, note) = feature_of(typed("Region", &codes, &FeatureConfig::default()));
        assert!(matches!(c.values, RawColumn::Labels(_)));
        assert!(note.unwrap().contains("3 levels"));
        let (c, _, note) = feature_of(typed(
            "Channel",
            &["1", "2", "2"],
            &FeatureConfig::default(),
        ));
        assert!(matches!(c.values, RawColumn::Labels(_)) && note.is_some());
        // A count (Kidhome 0/1/2), a flag and a many-valued code stay numeric.
        for (h, v) in [
            ("Kidhome", &["0", "1", "2", "1"][..]),
            ("region_code", &["0", "1", "1", "0"][..]),
            (
                "store_type",
                &["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"][..],
            ),
            ("Region", &["1.5", "2", "3"][..]),
        ] {
            let (c, _, _) = feature_of(typed(h, v, &FeatureConfig::default()));
            assert!(matches!(c.values, RawColumn::Numbers(_)), "{h}");
        }
    }

    #[test]
    fn declared_kind_wins_over_every_rule() {
        let mut cfg = FeatureConfig::default();
        cfg.features.insert(
            "region".into(),
            FeatureDecl {
                kind: Some(Kind::Numeric),
                ..Default::default()
            },
        );
        let (c, _, note) = feature_of(typed("Region", &["1", "2", "3"], &cfg));
        assert!(matches!(c.values, RawColumn::Numbers(_)) && note.is_none());
        cfg.features.insert(
            "dt_customer".into(),
            FeatureDecl {
                kind: Some(Kind::Categorical),
                ..Default::default()
            },
        );
        let (c, d, _) = feature_of(typed("Dt_Customer", &["21-08-2013", "10-01-2014"], &cfg));
        assert!(matches!(c.values, RawColumn::Labels(_)) && d.is_none());
    }

    #[test]
    fn date_columns_become_days_since_as_of() {
        let v = ["04-09-2012", "21-08-2013", "", "10-02-2014", "not a date"];
        // 4 of 5 present values… 80% is below the date share: stays text.
        assert!(matches!(
            feature_of(typed("Dt_Customer", &v, &FeatureConfig::default()))
                .0
                .values,
            RawColumn::Labels(_)
        ));
        let (c, d, note) = feature_of(typed("Dt_Customer", &v[..4], &FeatureConfig::default()));
        assert_eq!(c.name, "dt_customer_days");
        let RawColumn::Numbers(days) = c.values else {
            panic!("numeric")
        };
        let as_of = dates::days_from_civil(2014, 7, 1);
        assert_eq!(
            days[0],
            Some(f64::from(as_of - dates::days_from_civil(2012, 9, 4)))
        );
        assert_eq!(days[2], None);
        assert_eq!(
            d,
            Some(Derivation::DaysSince {
                source: "dt_customer".into(),
                day_first: true
            })
        );
        assert!(note.unwrap().contains("day-first"));
        // ISO and YYYYMMDD dates too.
        let (c, _, _) = feature_of(typed(
            "signup",
            &["2013-01-05", "2014-02-01"],
            &FeatureConfig::default(),
        ));
        assert_eq!(c.name, "signup_days");
        let (c, _, _) = feature_of(typed(
            "signup",
            &["20130105", "20140201"],
            &FeatureConfig::default(),
        ));
        assert_eq!(c.name, "signup_days");
    }

    #[test]
    fn day_order_comes_from_evidence_for_every_separator() {
        for v in [
            ["13-05-2014", "01-02-2013"],
            ["13/05/2014", "01/02/2013"],
            ["13.05.2014", "01.02.2013"],
        ] {
            assert_eq!(column_day_order(&v), Some(DayOrder::DayFirst), "{v:?}");
        }
        assert_eq!(
            column_day_order(&["05-13-2014", "01-02-2013"]),
            Some(DayOrder::MonthFirst)
        );
        assert_eq!(
            column_day_order(&["2014-05-13"]),
            Some(DayOrder::MonthFirst)
        );
        // Both readings valid and different, no evidence: undecided.
        assert_eq!(column_day_order(&["01-02-2013", "03-04-2013"]), None);
        assert!(matches!(
            typed(
                "joined",
                &["01-02-2013", "03-04-2013"],
                &FeatureConfig::default()
            ),
            Typed::LeftOut(_)
        ));
    }

    #[test]
    fn derived_values_are_converted_as_of_the_scoring_day() {
        let d = Derivation::DaysSince {
            source: "dt_customer".into(),
            day_first: true,
        };
        let as_of = dates::days_from_civil(2014, 7, 1);
        assert_eq!(d.apply("30-06-2014", as_of), Ok(1.0));
        assert_eq!(d.apply("30-06-2014", as_of + 10), Ok(11.0));
        assert!(d.apply("2014-13-40", as_of).is_err());
        let a = Derivation::AgeFromBirthYear {
            source: "year_birth".into(),
        };
        assert_eq!(a.apply("1970", as_of), Ok(44.0));
        assert!(a.apply("abc", as_of).is_err());
    }
}
