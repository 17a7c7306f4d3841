//! One SQL query that scores a model inside a database or Spark (`custseg export --format
//! sql --dialect …`): from the raw transactions table (and the customer table) it computes
//! the model's features as custseg does and assigns every customer the nearest segment.
//!
//! The query is a chain of common table expressions, each one step of custseg's pipeline:
//! - `lines`: the row rules of [`crate::data::rows`] — the row filters (`--exclude`, `--min-unit-price`
//!   of training), the customer id rule (ASCII spaces and quotes trimmed, missing tokens,
//!   `17850.0` → `17850`) and the order id rule (trimmed, missing tokens are no order);
//! - `deduped`: exact duplicates dropped (`SELECT DISTINCT` over every column of the
//!   training log, with the ids as normalized), unless the model kept them;
//! - `txns`/`windowed`: lines without an id, date or finite amount dropped (amount, else
//!   quantity × unit price, as doubles), then the as-of and window;
//! - `rfm`: [`crate::features::rfm::compute_rfm`] per customer with a purchase, and the
//!   purchased and returned value for `return_rate`;
//! - `profiles`/`features`: the customer table's columns (dates as days since as-of, birth
//!   years as age, labels trimmed), joined to the RFM customers, and imputation;
//! - `scaled`: [`crate::features::Feature::encode`] in the same order of floating-point
//!   operations (`(t − mean) / std · √weight`, `(1[level] − share) · scale · √weight`);
//! - `distances`/`best`: squared distances summed column by column, and the nearest centroid,
//!   the first one on ties ([`crate::geometry::Centroids::nearest`]).
//!
//! Constants are written with Rust's shortest round-trip digits, so every one reads back as
//! the same double. `log1p` is `LN(1 + x)` except in Spark (`LOG1P`): the features can
//! differ in the last bits, far below the 1e-6 the distances are checked to. Features a
//! query cannot compute (behaviour shares, event features) are refused by name.

mod dialect;

pub use dialect::Dialect;

use std::fmt::Write as _;

use crate::data::dates::format_day;
use crate::data::MISSING_TOKENS;
use crate::features::lifecycle::{ValueModel, AT_RISK_AFTER, CHURNED_AFTER};
use crate::features::rfm::RFM_FEATURES;
use crate::features::table::Derivation;
use crate::features::{Encoding, Feature, Source, Transform};
use crate::model::ModelFile;

/// The one behaviour feature the query computes ([`crate::features::behaviour::compute`]):
/// returned value / purchased value, 0 without purchased value.
const RETURN_RATE: &str = crate::features::behaviour::NUMERIC[2];

/// What the query reads and as of when.
#[derive(Clone, Debug)]
pub struct SqlOptions {
    pub dialect: Dialect,
    /// The transactions table (`transactions`, `sales.orders`).
    pub transactions_table: String,
    /// The customer table, for a model with customer-table features.
    pub customers_table: Option<String>,
    /// Features as of this day instead of the model's as-of.
    pub as_of: Option<i32>,
}

/// Why a model cannot be written as a query.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqlError {
    /// A feature SQL cannot compute the way custseg does.
    #[error("feature {feature}: {reason}")]
    Unsupported { feature: String, reason: String },
    /// The model's features need a table that was not named.
    #[error("the model's features {features} come from the customer table: name it")]
    NeedsCustomersTable { features: String },
    /// The model lacks a record the query needs.
    #[error("{what} is not recorded in the model (trained before custseg recorded it); retrain to export it as SQL")]
    NotRecorded { what: String },
    /// The model computes features as of a date but has none and none was given.
    #[error("the model records no as-of date; give one")]
    NoAsOf,
    /// A name or level with a NUL character, which no SQL text can carry.
    #[error("{what} contains a NUL character")]
    Nul { what: String },
    /// Numbers or dimensions the model should not have.
    #[error(transparent)]
    Model(#[from] super::ExportError),
}

/// Writes the query. The result has the columns `customer_id, segment_id, segment, tier,
/// distance`, for models with RFM scores and lifecycle stages `r_score, f_score, m_score,
/// lifecycle`, and last `action` (the segment's playbook code); one row per customer with a purchase before as-of in the window (a
/// model without transaction features: one row per customer-table row).
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let json = std::fs::read("tests/data/golden/v1/model.json")?;
/// # let model = custseg::Model::from_slice(&json, std::path::Path::new("model.json"))?;
/// use custseg::export::sql::{sql, Dialect, SqlOptions};
/// let opts = SqlOptions {
///     dialect: Dialect::DuckDb,
///     transactions_table: "transactions".into(),
///     customers_table: Some("customers".into()),
///     as_of: None,
/// };
/// // The golden model predates the recorded column names: it must be retrained first.
/// assert!(sql(&model.file, &opts).unwrap_err().to_string().contains("retrain"));
/// # Ok(()) }
/// ```
pub fn sql(model: &ModelFile, opts: &SqlOptions) -> Result<String, SqlError> {
    super::pmml::check_numbers(model)?;
    check_text(model)?;
    let q = Query::new(model, opts)?;
    Ok(q.write())
}

/// The query under construction.
struct Query<'a> {
    model: &'a ModelFile,
    d: Dialect,
    opts: &'a SqlOptions,
    /// As-of (`YYYY-MM-DD`) and its day number, for models that need one.
    as_of: Option<(String, i32)>,
    uses_log: bool,
    /// Customer-table features (index into the model's features).
    table_features: Vec<usize>,
    lifecycle: Option<&'a ValueModel>,
}

impl<'a> Query<'a> {
    fn new(model: &'a ModelFile, opts: &'a SqlOptions) -> Result<Query<'a>, SqlError> {
        let spec = &model.features;
        for f in &spec.features {
            supported(f)?;
        }
        let uses_log = spec.uses_transactions();
        let table_features: Vec<usize> = (0..spec.features.len())
            .filter(|&i| spec.features[i].source == Source::Customers)
            .collect();
        if !table_features.is_empty() && opts.customers_table.is_none() {
            let names: Vec<&str> = table_features
                .iter()
                .map(|&i| spec.features[i].name.as_str())
                .collect();
            return Err(SqlError::NeedsCustomersTable {
                features: names.join(", "),
            });
        }
        let needs_as_of = uses_log
            || table_features
                .iter()
                .any(|&i| spec.features[i].derived.is_some());
        let as_of = match (opts.as_of, &model.as_of) {
            (Some(day), _) => Some((format_day(day), day)),
            (None, Some(text)) => {
                let day = crate::data::dates::parse_iso_date(text).ok_or(SqlError::NoAsOf)?;
                Some((text.clone(), day))
            }
            (None, None) if needs_as_of => return Err(SqlError::NoAsOf),
            (None, None) => None,
        };
        if uses_log {
            for role in ["customer_id", "date"] {
                if !model.input.transaction_columns.contains_key(role) {
                    return Err(SqlError::NotRecorded {
                        what: format!("the transaction log's {role} column"),
                    });
                }
            }
        }
        if !table_features.is_empty() && model.input.customer_id_column.is_none() {
            return Err(SqlError::NotRecorded {
                what: "the customer table's id column".into(),
            });
        }
        let lifecycle = model.lifecycle.as_ref().filter(|_| {
            uses_log && crate::features::lifecycle::find_inputs(|n| spec.position(n)).is_some()
        });
        Ok(Query {
            model,
            d: opts.dialect,
            opts,
            as_of,
            uses_log,
            table_features,
            lifecycle,
        })
    }

    fn write(&self) -> String {
        let mut out = String::new();
        self.header(&mut out);
        let mut ctes: Vec<(&str, String)> = Vec::new();
        if self.uses_log {
            ctes.push(("lines", self.lines()));
            ctes.push(("deduped", self.deduped()));
            ctes.push(("txns", self.txns()));
            ctes.push(("windowed", self.windowed()));
            ctes.push(("rfm", self.rfm()));
        }
        if !self.table_features.is_empty() {
            ctes.push(("profiles", self.profiles()));
        }
        ctes.push(("features", self.features()));
        ctes.push(("scaled", self.scaled()));
        ctes.push(("distances", self.distances()));
        ctes.push(("best", self.best()));
        out.push_str("WITH\n");
        let n = ctes.len();
        for (i, (name, body)) in ctes.into_iter().enumerate() {
            // Steps whose columns the next step reads many times are computed once.
            let once = match name {
                "features" | "scaled" | "distances" => self.d.materialized(),
                _ => "",
            };
            let _ = write!(out, "{name} AS {once}(\n{body})");
            out.push_str(if i + 1 < n { ",\n" } else { "\n" });
        }
        out.push_str(&self.select());
        out
    }

    fn header(&self, out: &mut String) {
        let m = self.model;
        let d = self.d;
        d.comment(
            out,
            &format!(
                "custseg model {} v{} ({} segments) as one {} query, written by custseg {}",
                m.name,
                m.version,
                m.segments.len(),
                d.name(),
                env!("CARGO_PKG_VERSION")
            ),
        );
        if let Some((as_of, _)) = &self.as_of {
            d.comment(out, &format!("features as of {as_of} (exclusive)"));
        }
        if self.uses_log {
            d.comment(
                out,
                &format!("transactions: {}", self.opts.transactions_table),
            );
        }
        if let Some(t) = self
            .opts
            .customers_table
            .as_ref()
            .filter(|_| !self.table_features.is_empty())
        {
            d.comment(out, &format!("customers: {t}"));
        }
    }

    fn col(&self, header: &str) -> String {
        self.d.ident(header)
    }

    fn role(&self, role: &str) -> Option<&'a String> {
        self.model.input.transaction_columns.get(role)
    }

    /// A double constant.
    fn num(&self, v: f64) -> String {
        self.d.number(v)
    }

    /// The customer id rule on `x`.
    fn customer_id(&self, x: &str) -> String {
        let d = self.d;
        let t = d.trim(&d.trim(&d.trim(&d.to_text(x), " "), "\""), " ");
        format!(
            "CASE WHEN {} THEN NULL ELSE {} END",
            self.missing(&t),
            d.integer_text(&t)
        )
    }

    /// True when text `t` is a missing token (blank, `NA`, `null`, …).
    fn missing(&self, t: &str) -> String {
        let tokens: Vec<String> = MISSING_TOKENS.iter().map(|m| self.d.string(m)).collect();
        format!(
            "(TRIM({t}) = '' OR LOWER(TRIM({t})) IN ({}))",
            tokens.join(", ")
        )
    }

    /// A text value trimmed, NULL for a missing token (order ids, labels).
    fn label(&self, x: &str) -> String {
        let t = format!("TRIM({})", self.d.to_text(x));
        format!("CASE WHEN {} THEN NULL ELSE {t} END", self.missing(&t))
    }

    /// The header of the training log matching `name` as the reader finds columns
    /// (case-insensitively), else `name` itself.
    fn header_of(&self, name: &str) -> String {
        self.model
            .input
            .transaction_header
            .iter()
            .find(|h| h.trim().eq_ignore_ascii_case(name.trim()))
            .cloned()
            .unwrap_or_else(|| name.to_string())
    }

    fn lines(&self) -> String {
        let mut cols = vec![
            format!(
                "    {} AS cs_customer",
                self.customer_id(&self.col(self.role("customer_id").map_or("", String::as_str)))
            ),
            format!(
                "    {} AS cs_when",
                self.col(self.role("date").map_or("", String::as_str))
            ),
        ];
        cols.push(match self.role("order_id") {
            Some(o) => format!("    {} AS cs_order", self.label(&self.col(o))),
            None => format!("    CAST(NULL AS {}) AS cs_order", self.d.text()),
        });
        for (role, alias) in [
            ("amount", "cs_a"),
            ("quantity", "cs_q"),
            ("unit_price", "cs_p"),
        ] {
            if let Some(c) = self.role(role) {
                cols.push(format!("    {} AS {alias}", self.col(c)));
            }
        }
        let roles: Vec<&String> = self.model.input.transaction_columns.values().collect();
        let others = self
            .model
            .input
            .transaction_header
            .iter()
            .filter(|h| !roles.contains(h));
        for (i, h) in others.enumerate() {
            cols.push(format!("    {} AS cs_x{i}", self.col(h)));
        }
        let mut out = format!(
            "  SELECT\n{}\n  FROM {}\n",
            cols.join(",\n"),
            self.d.table(&self.opts.transactions_table)
        );
        let filters = self.filters();
        if !filters.is_empty() {
            let _ = writeln!(out, "  WHERE {}", filters.join("\n    AND "));
        }
        out
    }

    /// The model's row filters as conditions a kept line meets.
    fn filters(&self) -> Vec<String> {
        let d = self.d;
        let f = &self.model.params.filters;
        let mut out = Vec::new();
        for e in &f.exclude {
            let field = format!(
                "COALESCE(TRIM({}), '')",
                d.to_text(&self.col(&self.header_of(&e.column)))
            );
            out.push(format!("NOT {}", d.full_match(&field, &e.pattern)));
        }
        if let (Some(min), Some(p)) = (f.min_unit_price, self.role("unit_price")) {
            out.push(format!(
                "NOT COALESCE({} < {}, FALSE)",
                d.to_double(&self.col(p)),
                self.num(min)
            ));
        }
        out
    }

    fn deduped(&self) -> String {
        if self.model.params.keep_duplicates {
            "  SELECT * FROM lines\n".into()
        } else {
            "  SELECT DISTINCT * FROM lines\n".into()
        }
    }

    fn txns(&self) -> String {
        let d = self.d;
        let amount = if self.role("amount").is_some() {
            d.to_double("cs_a")
        } else {
            format!("{} * {}", d.to_double("cs_q"), d.to_double("cs_p"))
        };
        format!(
            "  SELECT cs_customer, {} AS cs_day, {amount} AS cs_amount, cs_order\n  FROM deduped\n  WHERE cs_customer IS NOT NULL AND cs_when IS NOT NULL\n",
            d.to_date("cs_when")
        )
    }

    fn as_of_date(&self) -> String {
        let iso = self
            .as_of
            .as_ref()
            .map_or("1970-01-01", |(s, _)| s.as_str());
        self.d.date(iso)
    }

    fn windowed(&self) -> String {
        let d = self.d;
        let as_of = self.as_of_date();
        let mut cond = vec![
            "cs_amount IS NOT NULL".to_string(),
            format!("ABS(cs_amount) <= {}", self.num(f64::MAX)),
            format!("cs_day < {as_of}"),
        ];
        if let (Some(w), Some((_, day))) = (self.model.params.window_days, &self.as_of) {
            cond.push(format!("cs_day >= {}", d.date(&format_day(day - w as i32))));
        }
        format!(
            "  SELECT cs_customer, {} AS cs_ago, cs_amount, cs_order\n  FROM txns\n  WHERE {}\n",
            d.days_between("cs_day", &as_of),
            cond.join("\n    AND ")
        )
    }

    fn rfm(&self) -> String {
        let d = self.d;
        let buy = "cs_amount >= 0";
        let zero = self.num(0.0);
        format!(
            "  SELECT cs_customer,
    {} AS cs_recency,
    {} AS cs_tenure,
    {} AS cs_frequency,
    SUM(cs_amount) AS cs_monetary,
    SUM(CASE WHEN {buy} THEN cs_amount ELSE {zero} END) AS cs_bought,
    SUM(CASE WHEN {buy} THEN {zero} ELSE -cs_amount END) AS cs_returned
  FROM windowed
  GROUP BY cs_customer
  HAVING MAX(CASE WHEN {buy} THEN 1 ELSE 0 END) = 1\n",
            d.to_double(&format!("MIN(CASE WHEN {buy} THEN cs_ago END)")),
            d.to_double(&format!("MAX(CASE WHEN {buy} THEN cs_ago END)")),
            d.to_double(&format!(
                "COUNT(DISTINCT CASE WHEN {buy} AND cs_order IS NOT NULL THEN cs_order END) + COUNT(DISTINCT CASE WHEN {buy} AND cs_order IS NULL THEN cs_ago END)"
            )),
        )
    }

    /// Customer-table features: the raw value of each (a label, a number, or derived).
    fn profiles(&self) -> String {
        let d = self.d;
        let id = self.model.input.customer_id_column.as_deref().unwrap_or("");
        let mut cols = vec![format!(
            "    {} AS cs_customer",
            self.customer_id(&self.col(id))
        )];
        for &i in &self.table_features {
            let f = &self.model.features.features[i];
            let c = self.col(f.column.as_deref().unwrap_or(&f.name));
            let v = match (&f.encoding, &f.derived) {
                (Encoding::Categorical { .. }, _) => self.label(&c),
                (Encoding::Numeric { .. }, None) => d.to_double(&c),
                (Encoding::Numeric { .. }, Some(Derivation::DaysSince { .. })) => {
                    d.to_double(&d.days_between(&d.to_date(&c), &self.as_of_date()))
                }
                (Encoding::Numeric { .. }, Some(Derivation::AgeFromBirthYear { .. })) => {
                    let y = d.to_double(&c);
                    format!(
                        "CASE WHEN {y} = FLOOR({y}) AND {y} >= 1900 AND {y} <= 2200 THEN {} - {y} END",
                        d.to_double(&d.year(&self.as_of_date()))
                    )
                }
            };
            cols.push(format!("    {v} AS cs_f{i}"));
        }
        format!(
            "  SELECT\n{}\n  FROM {}\n",
            cols.join(",\n"),
            d.table(self.opts.customers_table.as_deref().unwrap_or("customers"))
        )
    }

    /// Every customer's raw feature values in model order (`cs_v0`, …), imputed.
    fn features(&self) -> String {
        let spec = &self.model.features;
        let mut cols = vec!["    p.cs_customer AS cs_customer".to_string()];
        if self.uses_log {
            cols[0] = "    r.cs_customer AS cs_customer".into();
            for c in ["cs_recency", "cs_frequency", "cs_monetary", "cs_tenure"] {
                cols.push(format!("    r.{c} AS {c}"));
            }
        }
        for (i, f) in spec.features.iter().enumerate() {
            let raw = match f.source {
                Source::Transactions => match f.name.as_str() {
                    "recency_days" => "r.cs_recency".to_string(),
                    "frequency" => "r.cs_frequency".into(),
                    "monetary" => "r.cs_monetary".into(),
                    "avg_order_value" => "r.cs_monetary / r.cs_frequency".into(),
                    RETURN_RATE => format!(
                        "CASE WHEN r.cs_bought > 0 THEN r.cs_returned / r.cs_bought ELSE {} END",
                        self.num(0.0)
                    ),
                    _ => "r.cs_tenure".into(),
                },
                Source::Customers => format!("p.cs_f{i}"),
            };
            let v = match &f.encoding {
                Encoding::Numeric { impute, .. } => {
                    format!("COALESCE({raw}, {})", self.num(*impute))
                }
                Encoding::Categorical { impute, .. } => {
                    format!("COALESCE({raw}, {})", self.d.string(impute))
                }
            };
            cols.push(format!("    {v} AS cs_v{i}"));
        }
        let from = match (self.uses_log, self.table_features.is_empty()) {
            (true, true) => "rfm r".to_string(),
            (true, false) => "rfm r LEFT JOIN profiles p ON p.cs_customer = r.cs_customer".into(),
            _ => "profiles p".into(),
        };
        format!("  SELECT\n{}\n  FROM {from}\n", cols.join(",\n"))
    }

    /// The lifecycle inputs carried through to the final select.
    fn carried(&self) -> &'static str {
        if self.lifecycle.is_some() {
            "cs_customer, cs_recency, cs_frequency, cs_monetary, cs_tenure"
        } else {
            "cs_customer"
        }
    }

    fn scaled(&self) -> String {
        let mut cols = vec![format!("    {}", self.carried())];
        let mut j = 0;
        for (i, f) in self.model.features.features.iter().enumerate() {
            for expr in self.encode(f, &format!("cs_v{i}")) {
                cols.push(format!("    {expr} AS cs_s{j}"));
                j += 1;
            }
        }
        format!("  SELECT\n{}\n  FROM features\n", cols.join(",\n"))
    }

    /// [`Feature::encode`] of value `v`: one expression per scaled column.
    fn encode(&self, f: &Feature, v: &str) -> Vec<String> {
        let w = self.num(f.weight.sqrt());
        match &f.encoding {
            Encoding::Numeric {
                transform,
                mean,
                std,
                ..
            } => {
                let t = match transform {
                    Transform::None => v.to_string(),
                    Transform::Log1p => format!(
                        "CASE WHEN {v} < 0 THEN -({}) ELSE {} END",
                        self.d.ln_1p(&format!("-({v})")),
                        self.d.ln_1p(v)
                    ),
                };
                vec![format!(
                    "({t} - {}) / {} * {w}",
                    self.num(*mean),
                    self.num(*std)
                )]
            }
            Encoding::Categorical {
                levels,
                shares,
                scale,
                ..
            } => levels
                .iter()
                .zip(shares)
                .map(|(level, share)| {
                    format!(
                        "(CASE WHEN {v} = {} THEN {} ELSE {} END - {}) * {} * {w}",
                        self.d.string(level),
                        self.num(1.0),
                        self.num(0.0),
                        self.num(*share),
                        self.num(*scale)
                    )
                })
                .collect(),
        }
    }

    fn distances(&self) -> String {
        let mut cols = vec![format!("    {}", self.carried())];
        for (j, c) in self.model.centroids.iter().enumerate() {
            let terms: Vec<String> = c
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let x = self.num(*v);
                    format!("(cs_s{i} - {x}) * (cs_s{i} - {x})")
                })
                .collect();
            cols.push(format!("    {} AS cs_d{j}", terms.join("\n      + ")));
        }
        format!("  SELECT\n{}\n  FROM scaled\n", cols.join(",\n"))
    }

    fn best(&self) -> String {
        let k = self.model.centroids.len();
        let least = if k == 1 {
            "cs_d0".to_string()
        } else {
            let ds: Vec<String> = (0..k).map(|j| format!("cs_d{j}")).collect();
            format!("LEAST({})", ds.join(", "))
        };
        format!("  SELECT distances.*, {least} AS cs_best\n  FROM distances\n")
    }

    fn select(&self) -> String {
        let d = self.d;
        let pick = |value: &dyn Fn(usize) -> String| {
            let arms: Vec<String> = (0..self.model.segments.len())
                .map(|j| format!("WHEN cs_d{j} = cs_best THEN {}", value(j)))
                .collect();
            format!("CASE {} END", arms.join(" "))
        };
        let segs = &self.model.segments;
        let mut cols = vec![
            "  cs_customer AS customer_id".to_string(),
            format!("  {} AS segment_id", pick(&|j| segs[j].id.to_string())),
            format!("  {} AS segment", pick(&|j| d.string(&segs[j].name))),
            format!(
                "  {} AS tier",
                pick(&|j| d.string(&segs[j].tier.to_string()))
            ),
            "  SQRT(cs_best) AS distance".to_string(),
        ];
        if let Some(vm) = self.lifecycle {
            cols.extend(self.lifecycle_columns(vm));
        }
        // Last, so the columns before keep their places.
        cols.push(format!(
            "  {} AS action",
            pick(&|j| d.string(&crate::model::playbook::of_segment(&segs[j]).code))
        ));
        format!("SELECT\n{}\nFROM best\n", cols.join(",\n"))
    }

    /// RFM quintile scores and the lifecycle stage ([`ValueModel::scores`],
    /// [`ValueModel::stage`]). The engine adds a customer's amounts in its own order, not
    /// the file's, so a monetary value equal to a cut point (a percentile, itself some
    /// customer's sum) can land one unit in the last place on the other side of it: its
    /// M score then differs by one.
    fn lifecycle_columns(&self, vm: &ValueModel) -> Vec<String> {
        let above = |x: &str, cuts: &[f64; 4]| {
            let terms: Vec<String> = cuts
                .iter()
                .map(|c| format!("CASE WHEN {x} > {} THEN 1 ELSE 0 END", self.num(*c)))
                .collect();
            format!("({})", terms.join(" + "))
        };
        let typical = self.num(vm.typical_interval_days);
        let interval = format!(
            "CASE WHEN cs_frequency >= 2 AND cs_tenure - cs_recency > 0 THEN (cs_tenure - cs_recency) / (cs_frequency - {}) ELSE {typical} END",
            self.num(1.0)
        );
        let s = |t: &str| self.d.string(t);
        vec![
            format!("  5 - {} AS r_score", above("cs_recency", &vm.recency_cuts)),
            format!("  1 + {} AS f_score", above("cs_frequency", &vm.frequency_cuts)),
            format!("  1 + {} AS m_score", above("cs_monetary", &vm.monetary_cuts)),
            format!(
                "  CASE WHEN cs_tenure < {typical} THEN {}\n    WHEN cs_recency <= {} * ({interval}) THEN {}\n    WHEN cs_recency <= {} * ({interval}) THEN {}\n    ELSE {} END AS lifecycle",
                s("new"),
                self.num(AT_RISK_AFTER),
                s("active"),
                self.num(CHURNED_AFTER),
                s("at_risk"),
                s("churned"),
            ),
        ]
    }
}

/// Refuses a feature the query cannot compute as custseg does.
fn supported(f: &Feature) -> Result<(), SqlError> {
    let refuse = |reason: &str| {
        Err(SqlError::Unsupported {
            feature: f.name.clone(),
            reason: reason.into(),
        })
    };
    match f.source {
        Source::Transactions if RFM_FEATURES.contains(&f.name.as_str()) || f.name == RETURN_RATE => {
            if f.is_numeric() {
                Ok(())
            } else {
                refuse("an RFM feature encoded as categorical")
            }
        }
        Source::Transactions => refuse(
            "a behaviour or event feature (shares, product variety, discounts, weekends, visits); SQL export computes RFM, return_rate and customer-table features only",
        ),
        Source::Customers if f.column.is_none() => {
            refuse("its customer-table column is not recorded in the model")
        }
        Source::Customers => match (&f.derived, &f.encoding) {
            (Some(_), Encoding::Categorical { .. }) => {
                refuse("a derived column encoded as categorical")
            }
            _ => Ok(()),
        },
    }
}

/// Rejects text no SQL string can carry (a NUL character).
fn check_text(model: &ModelFile) -> Result<(), SqlError> {
    let nul = |what: String, s: &str| {
        if s.contains('\0') {
            Err(SqlError::Nul { what })
        } else {
            Ok(())
        }
    };
    for s in &model.segments {
        nul(format!("segment {} name", s.id), &s.name)?;
    }
    for f in &model.features.features {
        nul(format!("feature name {:?}", f.name), &f.name)?;
        if let Some(c) = &f.column {
            nul(format!("feature {} column", f.name), c)?;
        }
        if let Encoding::Categorical { levels, impute, .. } = &f.encoding {
            for l in levels.iter().chain([impute]) {
                nul(format!("feature {} level", f.name), l)?;
            }
        }
    }
    let columns = model.input.transaction_columns.values();
    for c in columns
        .chain(&model.input.transaction_header)
        .chain(&model.input.customer_id_column)
    {
        nul("a column name".into(), c)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
