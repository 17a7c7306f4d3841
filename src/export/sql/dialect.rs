//! What differs between the SQL engines the query is written for: identifier quoting, string
//! literals, the double and text types, date arithmetic, trimming, regular expressions and
//! `ln(1 + x)`. Everything else in the query is the SQL these engines share.

use std::fmt::Write as _;

/// A SQL engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    DuckDb,
    Spark,
    Postgres,
    BigQuery,
    Snowflake,
}

impl Dialect {
    /// Every dialect, in documentation order.
    pub const ALL: [Dialect; 5] = [
        Dialect::DuckDb,
        Dialect::Spark,
        Dialect::Postgres,
        Dialect::BigQuery,
        Dialect::Snowflake,
    ];

    /// The dialect's name (`duckdb`, `spark`, `postgres`, `bigquery`, `snowflake`).
    pub fn name(self) -> &'static str {
        match self {
            Dialect::DuckDb => "duckdb",
            Dialect::Spark => "spark",
            Dialect::Postgres => "postgres",
            Dialect::BigQuery => "bigquery",
            Dialect::Snowflake => "snowflake",
        }
    }

    /// The dialect named `name` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Dialect> {
        Self::ALL
            .into_iter()
            .find(|d| d.name().eq_ignore_ascii_case(name.trim()))
    }

    /// A quoted identifier: any name, quotes inside it doubled (backticks escaped with a
    /// backslash in BigQuery), so a name can never end the identifier early.
    pub fn ident(self, name: &str) -> String {
        match self {
            Dialect::Spark => format!("`{}`", name.replace('`', "``")),
            Dialect::BigQuery => format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`")),
            Dialect::DuckDb | Dialect::Postgres | Dialect::Snowflake => {
                format!("\"{}\"", name.replace('"', "\"\""))
            }
        }
    }

    /// A table name as given (`db.schema.table`): each dot-separated part quoted.
    pub fn table(self, name: &str) -> String {
        name.split('.')
            .map(|part| self.ident(part))
            .collect::<Vec<_>>()
            .join(".")
    }

    /// A string literal. DuckDB and Postgres read backslashes as themselves and double
    /// quotes; Spark, BigQuery and Snowflake read backslash escapes, so backslashes are
    /// escaped too (and Spark and BigQuery take `\'` for a quote).
    pub fn string(self, s: &str) -> String {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('\'');
        for c in s.chars() {
            match (self, c) {
                (Dialect::Spark | Dialect::BigQuery, '\'') => out.push_str("\\'"),
                (_, '\'') => out.push_str("''"),
                (Dialect::Spark | Dialect::BigQuery | Dialect::Snowflake, '\\') => {
                    out.push_str("\\\\")
                }
                (Dialect::Spark | Dialect::BigQuery | Dialect::Snowflake, '\n') => {
                    out.push_str("\\n")
                }
                (Dialect::Spark | Dialect::BigQuery | Dialect::Snowflake, '\r') => {
                    out.push_str("\\r")
                }
                (Dialect::Spark | Dialect::BigQuery | Dialect::Snowflake, '\t') => {
                    out.push_str("\\t")
                }
                (_, c) => out.push(c),
            }
        }
        out.push('\'');
        out
    }

    /// The 64-bit floating-point type.
    pub fn double(self) -> &'static str {
        match self {
            Dialect::DuckDb | Dialect::Spark | Dialect::Snowflake => "DOUBLE",
            Dialect::Postgres => "DOUBLE PRECISION",
            Dialect::BigQuery => "FLOAT64",
        }
    }

    /// The text type.
    pub fn text(self) -> &'static str {
        match self {
            Dialect::DuckDb | Dialect::Snowflake => "VARCHAR",
            Dialect::Spark | Dialect::BigQuery => "STRING",
            Dialect::Postgres => "TEXT",
        }
    }

    /// A double constant that reads back as exactly `v`: Rust's shortest round-trip digits
    /// in exponent form, cast to the double type (Postgres would read a bare decimal as
    /// NUMERIC and compute in decimal).
    pub fn number(self, v: f64) -> String {
        let digits = format!("{v:e}");
        match self {
            Dialect::DuckDb | Dialect::Spark | Dialect::BigQuery => {
                if v < 0.0 {
                    format!("({digits})")
                } else {
                    digits
                }
            }
            Dialect::Postgres | Dialect::Snowflake => {
                format!("CAST({digits} AS {})", self.double())
            }
        }
    }

    /// `x` as a double.
    pub fn to_double(self, x: &str) -> String {
        format!("CAST({x} AS {})", self.double())
    }

    /// `x` as text.
    pub fn to_text(self, x: &str) -> String {
        format!("CAST({x} AS {})", self.text())
    }

    /// A DATE constant (`YYYY-MM-DD`).
    pub fn date(self, iso: &str) -> String {
        format!("DATE {}", self.string(iso))
    }

    /// `x` (a DATE, TIMESTAMP or date text) as a DATE.
    pub fn to_date(self, x: &str) -> String {
        format!("CAST({x} AS DATE)")
    }

    /// Whole days from DATE `from` to DATE `to` (`to − from`), as an integer.
    pub fn days_between(self, from: &str, to: &str) -> String {
        match self {
            Dialect::DuckDb => format!("DATE_DIFF('day', {from}, {to})"),
            Dialect::Spark => format!("DATEDIFF({to}, {from})"),
            Dialect::Postgres => format!("({to} - {from})"),
            Dialect::BigQuery => format!("DATE_DIFF({to}, {from}, DAY)"),
            Dialect::Snowflake => format!("DATEDIFF(day, {from}, {to})"),
        }
    }

    /// `x` with the characters of `chars` removed from both ends.
    pub fn trim(self, x: &str, chars: &str) -> String {
        let c = self.string(chars);
        match self {
            Dialect::DuckDb | Dialect::Postgres | Dialect::Spark => {
                format!("TRIM(BOTH {c} FROM {x})")
            }
            Dialect::BigQuery | Dialect::Snowflake => format!("TRIM({x}, {c})"),
        }
    }

    /// True when text `x` matches regular expression `pattern` in full.
    pub fn full_match(self, x: &str, pattern: &str) -> String {
        match self {
            // Snowflake's REGEXP_LIKE is anchored at both ends and has no `(?:`.
            Dialect::Snowflake => {
                format!("REGEXP_LIKE({x}, {})", self.string(&format!("({pattern})")))
            }
            _ => {
                let p = self.string(&format!("^(?:{pattern})$"));
                match self {
                    Dialect::DuckDb => format!("REGEXP_MATCHES({x}, {p})"),
                    Dialect::Spark => format!("({x} RLIKE {p})"),
                    Dialect::Postgres => format!("({x} ~ {p})"),
                    _ => format!("REGEXP_CONTAINS({x}, {p})"),
                }
            }
        }
    }

    /// `x` with a float-formatted integer (`17850.0`, `-3.00`) cut to its integer part.
    pub fn integer_text(self, x: &str) -> String {
        let pattern = self.string("^(-?[0-9]+)[.]0+$");
        let group = match self {
            Dialect::Spark => "$1",
            _ => "\\1",
        };
        format!("REGEXP_REPLACE({x}, {pattern}, {})", self.string(group))
    }

    /// `ln(1 + x)` for `x ≥ 0` (Spark's `LOG1P`; elsewhere `LN(1 + x)`, which rounds `1 + x`
    /// first: at most a few units in the last place of the feature).
    pub fn ln_1p(self, x: &str) -> String {
        match self {
            Dialect::Spark => format!("LOG1P({x})"),
            _ => format!("LN({} + {x})", self.number(1.0)),
        }
    }

    /// The calendar year of DATE `x`, as an integer.
    pub fn year(self, x: &str) -> String {
        format!("EXTRACT(YEAR FROM {x})")
    }

    /// The keyword that makes a common table expression computed once (Postgres inlines
    /// the others and would repeat a column's expression wherever it is read).
    pub fn materialized(self) -> &'static str {
        match self {
            Dialect::Postgres => "MATERIALIZED ",
            _ => "",
        }
    }

    /// A comment line (`-- …`) with line ends removed from `text`.
    pub fn comment(self, out: &mut String, text: &str) {
        let flat: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let _ = writeln!(out, "-- {flat}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_cannot_be_broken_out_of() {
        assert_eq!(Dialect::DuckDb.ident(r#"a"b"#), r#""a""b""#);
        assert_eq!(
            Dialect::Postgres.ident("Annual Income (k$)"),
            r#""Annual Income (k$)""#
        );
        assert_eq!(Dialect::Snowflake.ident(r#"x""#), r#""x""""#);
        assert_eq!(Dialect::Spark.ident("a`b"), "`a``b`");
        assert_eq!(Dialect::BigQuery.ident(r"a`b\"), r"`a\`b\\`");
        assert_eq!(
            Dialect::BigQuery.table("proj.sales.orders"),
            "`proj`.`sales`.`orders`"
        );
    }

    #[test]
    fn string_literals_escape_quotes_and_backslashes_per_dialect() {
        let s = r"O'Brien \ 'x'";
        assert_eq!(Dialect::DuckDb.string(s), r"'O''Brien \ ''x'''");
        assert_eq!(Dialect::Postgres.string(s), r"'O''Brien \ ''x'''");
        assert_eq!(Dialect::Snowflake.string(s), r"'O''Brien \\ ''x'''");
        assert_eq!(Dialect::Spark.string(s), r"'O\'Brien \\ \'x\''");
        assert_eq!(Dialect::BigQuery.string(s), r"'O\'Brien \\ \'x\''");
        assert_eq!(Dialect::Spark.string("a\nb"), r"'a\nb'");
        assert_eq!(Dialect::Postgres.string("a\nb"), "'a\nb'");
    }

    #[test]
    fn numbers_read_back_exactly_and_are_doubles() {
        for v in [0.1, -2.5e-300, 12656.619999999995, 1.0 / 3.0, 0.0, 1e16] {
            let s = Dialect::DuckDb.number(v);
            let digits = s.trim_matches(['(', ')']);
            assert_eq!(digits.parse::<f64>().unwrap().to_bits(), v.to_bits(), "{s}");
        }
        assert_eq!(Dialect::DuckDb.number(0.25), "2.5e-1");
        assert_eq!(Dialect::DuckDb.number(-0.25), "(-2.5e-1)");
        assert_eq!(
            Dialect::Postgres.number(0.25),
            "CAST(2.5e-1 AS DOUBLE PRECISION)"
        );
        assert_eq!(Dialect::BigQuery.double(), "FLOAT64");
        assert_eq!(Dialect::Spark.text(), "STRING");
    }

    #[test]
    fn date_differences_follow_each_engine() {
        let (a, b) = ("d", "DATE '2024-01-31'");
        assert_eq!(
            Dialect::DuckDb.days_between(a, b),
            "DATE_DIFF('day', d, DATE '2024-01-31')"
        );
        assert_eq!(
            Dialect::Spark.days_between(a, b),
            "DATEDIFF(DATE '2024-01-31', d)"
        );
        assert_eq!(
            Dialect::Postgres.days_between(a, b),
            "(DATE '2024-01-31' - d)"
        );
        assert_eq!(
            Dialect::BigQuery.days_between(a, b),
            "DATE_DIFF(DATE '2024-01-31', d, DAY)"
        );
        assert_eq!(
            Dialect::Snowflake.days_between(a, b),
            "DATEDIFF(day, d, DATE '2024-01-31')"
        );
    }

    #[test]
    fn trimming_and_regular_expressions_use_each_engines_functions() {
        assert_eq!(Dialect::Postgres.trim("x", " "), "TRIM(BOTH ' ' FROM x)");
        assert_eq!(Dialect::BigQuery.trim("x", "\""), "TRIM(x, '\"')");
        assert_eq!(
            Dialect::Snowflake.full_match("x", "POST|M"),
            "REGEXP_LIKE(x, '(POST|M)')"
        );
        assert_eq!(
            Dialect::BigQuery.full_match("x", "POST|M"),
            "REGEXP_CONTAINS(x, '^(?:POST|M)$')"
        );
        assert!(Dialect::Spark.integer_text("x").ends_with("'$1')"));
        assert!(Dialect::Snowflake.integer_text("x").ends_with(r"'\\1')"));
        assert!(Dialect::DuckDb.integer_text("x").ends_with(r"'\1')"));
        assert_eq!(Dialect::Spark.ln_1p("x"), "LOG1P(x)");
    }

    #[test]
    fn dialect_names_round_trip() {
        for d in Dialect::ALL {
            assert_eq!(Dialect::from_name(d.name()), Some(d));
        }
        assert_eq!(Dialect::from_name("DuckDB"), Some(Dialect::DuckDb));
        assert_eq!(Dialect::from_name("mysql"), None);
    }
}
