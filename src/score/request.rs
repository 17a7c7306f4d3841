//! One customer from a JSON request → raw feature values in model order.
//!
//! A customer is an object with an optional `customer_id` (string or integer, echoed back),
//! feature values by name, and/or `transactions: [{date, amount | quantity + unit_price,
//! order_id?, …other attributes}]`. Transactions go through the trainer's row rules
//! ([`crate::data::rows`], with the model's recorded choices) and the RFM features are
//! computed exactly as in training ([`compute_rfm`] as of the request's `as_of`, with the
//! model's window); giving both transactions and a transaction feature is an error. A
//! customer whose transactions hold no purchase is valid but unscored (`no_purchases`).
//! Absent or `null` features are imputed (with a warning); fields the model does not use are
//! reported as warnings.

use serde::Serialize;
use serde_json::Value;

use std::collections::HashSet;

use super::request_events::{parse_events, Events};
use crate::data::dates::parse_iso_date;
use crate::data::fasthash::FxBuild;
use crate::data::rows::{self, Cell, Line, OtherFields, RowRules, Txn};
use crate::data::rows::{Levels, TxnBehaviour};
use crate::data::TxnField;
use crate::features::behaviour::{
    add_events, browser, compute as compute_behaviour, transaction_value, unseen_levels,
    uses_behaviour, uses_events,
};
use crate::features::rfm::{compute_rfm, purchase_summary};
use crate::features::spec::format_number_label;
use crate::features::{consistency, FeatureSpec, FeatureWarning, RawValue, Source};
use crate::model::format::EventsRecord;

/// A problem with one customer's input. `field` is relative to the customer
/// (`age`, `transactions[2].amount`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InputError {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

pub(super) fn err(
    field: impl Into<String>,
    code: &'static str,
    message: impl Into<String>,
) -> InputError {
    InputError {
        field: field.into(),
        code,
        message: message.into(),
    }
}

/// A validated customer.
#[derive(Clone, Debug, PartialEq)]
pub struct Prepared {
    /// The id as given (string or integer), or `null`.
    pub customer_id: Value,
    /// Raw values in model feature order.
    pub raw: Vec<RawValue>,
    /// Warnings found while reading the input (encoding adds its own).
    pub warnings: Vec<FeatureWarning>,
    /// A valid customer whose transactions hold no purchase before `as_of` in the model's
    /// window (only returns, or all later): not scored, `raw` is empty and `warnings` carries
    /// [`FeatureWarning::NoPurchases`].
    pub no_purchases: bool,
    /// The purchase summary of a customer given by transactions, for the value model.
    pub summary: Option<crate::value::Rfm>,
}

/// Features that cannot be negative.
const NON_NEGATIVE: [&str; 3] = ["recency_days", "frequency", "tenure_days"];

fn number(v: &Value, field: &str) -> Result<f64, InputError> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .filter(|x| x.is_finite())
            .ok_or_else(|| err(field, "not_finite", "must be a finite number")),
        _ => Err(err(
            field,
            "invalid_type",
            format!("expected a number, got {}", kind(v)),
        )),
    }
}

pub(super) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The JSON names of the transaction roles; every other attribute only counts for duplicates.
const ROLES: [&str; 5] = ["date", "amount", "quantity", "unit_price", "order_id"];

/// A role attribute as a [`Cell`]: `None` when absent, [`Cell::Missing`] for `null`.
fn role_cell<'a>(
    o: &'a serde_json::Map<String, Value>,
    name: &str,
    field: &dyn Fn(&str) -> String,
    text_ok: bool,
) -> Result<Option<Cell<'a>>, InputError> {
    match o.get(name) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(Cell::Missing)),
        Some(Value::Number(n)) => Ok(n.as_f64().map(Cell::Number)),
        Some(Value::String(s)) if text_ok => Ok(Some(Cell::Text(s))),
        Some(other) => Err(err(
            field(name),
            "invalid_type",
            format!(
                "expected {}, got {}",
                if text_ok {
                    "a string or number"
                } else {
                    "a number"
                },
                kind(other)
            ),
        )),
    }
}

/// The digest of a transaction's other attributes (strings, numbers or null).
fn other_attributes(
    o: &serde_json::Map<String, Value>,
    field: &dyn Fn(&str) -> String,
) -> Result<OtherFields, InputError> {
    let mut others = OtherFields::default();
    for (k, v) in o.iter().filter(|(k, _)| !ROLES.contains(&k.as_str())) {
        let cell = match v {
            Value::Null => Cell::Missing,
            Value::String(s) => Cell::Text(s),
            Value::Number(n) => n.as_f64().map_or(Cell::Missing, Cell::Number),
            other => {
                return Err(err(
                    field(k),
                    "invalid_type",
                    format!("expected a string, number or null, got {}", kind(other)),
                ))
            }
        };
        others.add(rows::name_seed(k), cell);
    }
    Ok(others)
}

/// An attribute's value as a cell: a string, a number or null ([`Cell::Missing`]; `None` for
/// a number JSON cannot hold as f64); anything else is `invalid_type` naming it.
fn attribute_cell<'a>(
    k: &str,
    v: &'a Value,
    at: &dyn Fn(&str) -> String,
) -> Result<Option<Cell<'a>>, InputError> {
    match v {
        Value::Null => Ok(Some(Cell::Missing)),
        Value::String(s) => Ok(Some(Cell::Text(s))),
        Value::Number(n) => Ok(n.as_f64().map(Cell::Number)),
        other => Err(err(
            at(k),
            "invalid_type",
            format!("expected a string, number or null, got {}", kind(other)),
        )),
    }
}

/// Whether the model's row filters drop a transaction: each exclude reads the attribute named
/// like its column (exactly, else ignoring case), the minimum unit price `unit_price`.
fn filtered_out(
    rules: &RowRules,
    o: &serde_json::Map<String, Value>,
    at: &dyn Fn(&str) -> String,
) -> Result<bool, InputError> {
    let f = rules.filters();
    if f.is_empty() {
        return Ok(false);
    }
    let mut cells = Vec::with_capacity(f.exclude.len());
    for e in &f.exclude {
        let found = attribute_named(o, &e.column);
        cells.push(
            found
                .map(|(k, v)| attribute_cell(k, v, at))
                .transpose()?
                .flatten(),
        );
    }
    let price = role_cell(o, "unit_price", at, false)?;
    Ok(rules
        .filtered(|k| cells.get(k).copied().flatten(), price, false)
        .is_some())
}

/// The error for a transaction the row rules drop (duplicates are not errors).
fn dropped_error(
    d: rows::Dropped,
    o: &serde_json::Map<String, Value>,
    at: &dyn Fn(&str) -> String,
) -> InputError {
    let name = d.field.map_or("", |f| f.name());
    match d.reason {
        rows::Reason::BadDate => err(at("date"), "invalid_date", crate::score::ISO_DATE_EXPECTED),
        rows::Reason::BadAmount if o.get(name).is_some_and(|v| !v.is_null()) => err(
            at("amount"),
            "not_finite",
            "quantity × unit_price overflows",
        ),
        _ => err(
            at("amount"),
            "missing_field",
            "every transaction needs an amount (or quantity and unit_price)",
        ),
    }
}

/// Parses a customer's transactions through the trainer's row rules ([`crate::data::rows`]):
/// `date`, `amount` or `quantity` + `unit_price`, `order_id`, and any other string, number
/// or null attributes, which count only for exact-duplicate detection. Exact duplicates are
/// dropped and counted (unless the model keeps them); a line the trainer would drop for its
/// date or amount is an error naming the field.
fn parse_transactions(
    v: &Value,
    max: usize,
    customer: &str,
    rules: &RowRules,
    behaviour: Option<&BehaviourColumns>,
) -> Result<Parsed, InputError> {
    let Value::Array(items) = v else {
        return Err(err(
            "transactions",
            "invalid_type",
            format!("expected an array, got {}", kind(v)),
        ));
    };
    if items.len() > max {
        return Err(err(
            "transactions",
            "too_many_transactions",
            format!("{} transactions, the limit is {max}", items.len()),
        ));
    }
    let mut p = Parsed {
        txns: Vec::with_capacity(items.len()),
        ..Parsed::default()
    };
    let mut seen = HashSet::with_capacity_and_hasher(items.len(), FxBuild::default());
    for (i, t) in items.iter().enumerate() {
        let at = |f: &str| format!("transactions[{i}].{f}");
        let Value::Object(o) = t else {
            return Err(err(
                format!("transactions[{i}]"),
                "invalid_type",
                format!("expected an object, got {}", kind(t)),
            ));
        };
        if filtered_out(rules, o, &at)? {
            p.filtered += 1;
            continue;
        }
        let others = other_attributes(o, &at)?;
        let date = match o.get("date") {
            Some(Value::String(s)) => s.as_str(),
            Some(other) => {
                return Err(err(
                    at("date"),
                    "invalid_type",
                    format!("expected a date string, got {}", kind(other)),
                ))
            }
            None => {
                return Err(err(
                    at("date"),
                    "missing_field",
                    "every transaction needs a date",
                ))
            }
        };
        let line = Line {
            customer,
            day: parse_iso_date(date),
            date_text: date,
            amount: role_cell(o, "amount", &at, false)?,
            quantity: role_cell(o, "quantity", &at, false)?,
            unit_price: role_cell(o, "unit_price", &at, false)?,
            order: role_cell(o, "order_id", &at, true)?,
        };
        match rows::judge(rules, &line, &others, false, &mut seen) {
            Ok(t) => {
                p.txns.push(t);
                if let Some(cols) = behaviour {
                    let b = behaviour_of(o, cols, &mut p.levels, &at)?;
                    p.behaviour.push(b);
                }
            }
            Err(d) if d.reason == rows::Reason::Duplicate => p.duplicates += 1,
            Err(d) => return Err(dropped_error(d, o, &at)),
        }
    }
    Ok(p)
}

/// A customer's transactions after the row rules, with their behaviour fields when the model
/// uses them, and the lines dropped as duplicates and by the row filters.
#[derive(Default)]
struct Parsed {
    txns: Vec<Txn>,
    behaviour: Vec<TxnBehaviour>,
    levels: Levels,
    duplicates: usize,
    filtered: usize,
}

/// The training log's header of each behaviour field (`product` → `StockCode`), so an HTTP
/// transaction may carry a field under its role name or under that header.
pub type BehaviourColumns = std::collections::BTreeMap<String, String>;

/// A transaction's attribute for behaviour field `f`: the role name (`country`), else the
/// training header (exactly, else ignoring case).
fn behaviour_attribute<'a>(
    o: &'a serde_json::Map<String, Value>,
    cols: &BehaviourColumns,
    f: TxnField,
) -> Option<(&'a String, &'a Value)> {
    o.get_key_value(f.name())
        .or_else(|| attribute_named(o, cols.get(f.name())?))
}

/// The attribute named like a log's column header: exactly, else ignoring case.
fn attribute_named<'a>(
    o: &'a serde_json::Map<String, Value>,
    header: &str,
) -> Option<(&'a String, &'a Value)> {
    o.get_key_value(header)
        .or_else(|| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(header)))
}

/// A transaction's behaviour fields by the trainer's rules ([`rows::level_text`],
/// [`rows::product_key`], [`rows::discounted`]); levels numbered in `levels`.
fn behaviour_of(
    o: &serde_json::Map<String, Value>,
    cols: &BehaviourColumns,
    levels: &mut Levels,
    at: &dyn Fn(&str) -> String,
) -> Result<TxnBehaviour, InputError> {
    let mut cells = [None; 5];
    for (cell, f) in cells.iter_mut().zip(TxnField::BEHAVIOUR) {
        *cell = match behaviour_attribute(o, cols, f) {
            Some((k, v)) => attribute_cell(k, v, at)?.filter(|c| !matches!(c, Cell::Missing)),
            None => None,
        };
    }
    let mut b = TxnBehaviour {
        levels: [0; 3],
        product: rows::product_key(cells[3]),
        discount: rows::discounted(cells[4], false),
    };
    for (f, n) in b.levels.iter_mut().enumerate() {
        if let Some(t) = cells[f].and_then(rows::level_text) {
            *n = levels.intern(f, &t);
        }
    }
    Ok(b)
}

/// A derived feature given by its source field (`dt_customer` as a date string for
/// `dt_customer_days`, `year_birth` for `age`), converted as of `as_of` exactly as in
/// training; `Missing` when the source is absent too.
fn source_value(
    f: &crate::features::Feature,
    obj: &serde_json::Map<String, Value>,
    as_of: i32,
) -> Result<RawValue, InputError> {
    let Some(d) = &f.derived else {
        return Ok(RawValue::Missing);
    };
    let text = match obj.get(d.source()) {
        None | Some(Value::Null) => return Ok(RawValue::Missing),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => {
            return Err(err(
                d.source(),
                "invalid_type",
                format!("expected a string or number, got {}", kind(other)),
            ))
        }
    };
    crate::features::table::derived_value(f, &text, Some(as_of))
        .map_err(|e| err(d.source(), "invalid_value", e.to_string()))
}

/// The customer id as the row rules key it (empty when none was given).
fn customer_key(id: &Value) -> String {
    match id {
        Value::String(s) => rows::customer_id(s).unwrap_or_default(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

/// Validates one customer and computes its raw values for `spec`, with features from
/// transactions as of day `as_of` over `window_days` and the model's row `rules`.
pub fn prepare(
    spec: &FeatureSpec,
    customer: &Value,
    as_of: i32,
    window_days: Option<u32>,
    max_transactions: usize,
    rules: &RowRules,
) -> Result<Prepared, InputError> {
    let none = BehaviourColumns::new();
    let limits = (as_of, window_days, max_transactions);
    prepare_with(spec, customer, limits, rules, &none, None)
}

/// RFM features, purchase summary and behaviour features of a customer's transactions.
type TxnValues = (
    crate::features::rfm::Rfm,
    crate::value::Rfm,
    Option<crate::features::behaviour::Behaviour>,
);

/// A customer's features from activity: RFM, the purchase summary (none for a browser)
/// and the behaviour features.
type Activity = (
    crate::features::rfm::Rfm,
    Option<crate::value::Rfm>,
    Option<crate::features::behaviour::Behaviour>,
);

/// [`prepare`] for a model whose training log had behaviour columns (`behaviour`: the
/// model's [`BehaviourColumns`]) or an interaction log (`events`: the model's settings);
/// `limits` are the as-of day, the window and the most transactions (and events) a customer
/// may carry.
pub fn prepare_with(
    spec: &FeatureSpec,
    customer: &Value,
    limits: (i32, Option<u32>, usize),
    rules: &RowRules,
    behaviour: &BehaviourColumns,
    events: Option<&EventsRecord>,
) -> Result<Prepared, InputError> {
    let Value::Object(obj) = customer else {
        return Err(err(
            "",
            "invalid_type",
            format!("a customer must be an object, got {}", kind(customer)),
        ));
    };
    let as_of = limits.0;
    let customer_id = customer_id_of(obj)?;
    let mut warnings = Vec::new();
    let activity = events_of(spec, obj, limits.2, &mut warnings)?;
    let rfm = match activity_of(
        spec,
        obj,
        &customer_id,
        limits,
        (rules, behaviour),
        (events, activity.as_ref()),
        &mut warnings,
    )? {
        Some(a) => a,
        None => {
            warnings.push(FeatureWarning::NoPurchases);
            return Ok(Prepared {
                customer_id,
                raw: Vec::new(),
                warnings,
                no_purchases: true,
                summary: None,
            });
        }
    };
    if let Some((_, _, Some(b))) = &rfm {
        for block in unseen_levels(spec, b) {
            warnings.push(FeatureWarning::UnknownCategory {
                feature: block.to_string(),
            });
        }
    }
    let mut raw = Vec::with_capacity(spec.features.len());
    for f in &spec.features {
        raw.push(match (&rfm, f.source) {
            (Some((r, _, b)), Source::Transactions) => {
                transaction_value(spec, &f.name, r, b.as_ref())
            }
            _ => match obj.get(&f.name) {
                None | Some(Value::Null) => source_value(f, obj, as_of)?,
                Some(v) => feature_value(f, v)?,
            },
        });
    }
    // Features computed from transactions agree by construction (a browser's recency has
    // no first purchase to precede); given ones are checked.
    if rfm.is_none() {
        consistency::check(spec, &raw).map_err(|e| err(e.fields[0], e.code(), e.to_string()))?;
    }
    unknown_field_warnings(spec, obj, &raw, &mut warnings);
    Ok(Prepared {
        customer_id,
        raw,
        warnings,
        no_purchases: false,
        summary: rfm.and_then(|(_, s, _)| s),
    })
}

/// The customer's `events` list, for a model with event features (none given: an empty
/// list and [`FeatureWarning::NoEvents`]); `None` for other models.
fn events_of(
    spec: &FeatureSpec,
    obj: &serde_json::Map<String, Value>,
    max: usize,
    warnings: &mut Vec<FeatureWarning>,
) -> Result<Option<Events>, InputError> {
    if !uses_events(spec) {
        return Ok(None);
    }
    match obj.get("events") {
        Some(v @ Value::Array(_)) => parse_events(v, max).map(Some),
        _ => {
            warnings.push(FeatureWarning::NoEvents);
            Ok(Some(Events::default()))
        }
    }
}

/// The customer's features from transactions (and events): `Ok(None)` for a customer with
/// transactions but no purchase (and no browsing the model segments), `Ok(Some(None))` for
/// one given by features. Events alone stand for no transactions unless transaction
/// features are given by name.
fn activity_of(
    spec: &FeatureSpec,
    obj: &serde_json::Map<String, Value>,
    customer_id: &Value,
    (as_of, window_days, max_transactions): (i32, Option<u32>, usize),
    rules: (&RowRules, &BehaviourColumns),
    (model_events, events): (Option<&EventsRecord>, Option<&Events>),
    warnings: &mut Vec<FeatureWarning>,
) -> Result<Option<Option<Activity>>, InputError> {
    let none = Value::Array(Vec::new());
    let by_name = spec.features.iter().any(|f| {
        f.source == Source::Transactions && obj.get(&f.name).is_some_and(|v| !v.is_null())
    });
    let txns = match obj.get("transactions") {
        None if obj.contains_key("events") && events.is_some() && !by_name => Some(&none),
        t => t,
    };
    let t = match txns {
        Some(t) if spec.uses_transactions() => t,
        Some(_) => {
            warnings.push(FeatureWarning::unknown_field("transactions", []));
            return Ok(Some(None));
        }
        None => return Ok(Some(None)),
    };
    let key = customer_key(customer_id);
    let limits = (as_of, window_days, max_transactions);
    let settings = model_events
        .zip(events)
        .map(|(rec, e)| (e, rec.no_visit_days, rec.include_browsers));
    match rfm_of(spec, obj, t, &key, limits, rules, warnings)? {
        Some((r, s, mut b)) => {
            if let (Some((e, nv, _)), Some(b)) = (settings, b.as_mut()) {
                add_events(
                    b,
                    &e.events,
                    &e.categories,
                    as_of,
                    window_days,
                    r.frequency,
                    nv,
                );
            }
            Ok(Some(Some((r, Some(s), b))))
        }
        None => match settings {
            Some((e, nv, true)) => {
                let Some((r, b)) = browser(&e.events, &e.categories, as_of, window_days, nv) else {
                    return Ok(None);
                };
                warnings.push(FeatureWarning::Browser);
                Ok(Some(Some((r, None, Some(b)))))
            }
            _ => Ok(None),
        },
    }
}

/// The `customer_id` as given (string or integer), or `null`.
fn customer_id_of(obj: &serde_json::Map<String, Value>) -> Result<Value, InputError> {
    match obj.get("customer_id") {
        None | Some(Value::Null) => Ok(Value::Null),
        Some(v @ Value::String(_)) => Ok(v.clone()),
        Some(v @ Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(v.clone()),
        Some(v) => Err(err(
            "customer_id",
            "invalid_type",
            format!("expected a string or integer, got {}", kind(v)),
        )),
    }
}

/// The RFM features and purchase summary of a customer's raw transactions as of `limits.0`
/// over the window `limits.1` (at most `limits.2` lines), with the duplicate and late-line
/// warnings; `None` when there is no purchase. Giving transaction features beside them is an
/// error.
fn rfm_of(
    spec: &FeatureSpec,
    obj: &serde_json::Map<String, Value>,
    transactions: &Value,
    key: &str,
    (as_of, window_days, max_transactions): (i32, Option<u32>, usize),
    (rules, behaviour): (&RowRules, &BehaviourColumns),
    warnings: &mut Vec<FeatureWarning>,
) -> Result<Option<TxnValues>, InputError> {
    if let Some(f) = spec.features.iter().find(|f| {
        f.source == Source::Transactions && obj.get(&f.name).is_some_and(|v| !v.is_null())
    }) {
        return Err(err(
            f.name.clone(),
            "conflicting_inputs",
            "give either transactions or transaction features such as this one, not both",
        ));
    }
    let with = uses_behaviour(spec).then_some(behaviour);
    let p = parse_transactions(transactions, max_transactions, key, rules, with)?;
    if p.filtered > 0 {
        warnings.push(FeatureWarning::FilteredTransactions { count: p.filtered });
    }
    if p.duplicates > 0 {
        warnings.push(FeatureWarning::DuplicateTransactions {
            count: p.duplicates,
        });
    }
    let late = p.txns.iter().filter(|t| t.day >= as_of).count();
    if late > 0 {
        warnings.push(FeatureWarning::TransactionsAfterAsOf { count: late });
    }
    // Only a model with behaviour features pays for them.
    let b =
        with.and_then(|_| compute_behaviour(&p.txns, &p.behaviour, &p.levels, as_of, window_days));
    Ok(compute_rfm(&p.txns, as_of, window_days)
        .zip(purchase_summary(&p.txns, as_of, window_days))
        .map(|(r, s)| (r, s, b)))
}

/// One feature's value as given: a finite number (non-negative for RFM counts) for a
/// numeric feature, a string or number label for a categorical one.
fn feature_value(f: &crate::features::Feature, v: &Value) -> Result<RawValue, InputError> {
    if f.is_numeric() {
        let x = number(v, &f.name)?;
        if x < 0.0 && NON_NEGATIVE.contains(&f.name.as_str()) {
            return Err(err(f.name.clone(), "out_of_range", "cannot be negative"));
        }
        return Ok(RawValue::Num(x));
    }
    match v {
        Value::String(s) => Ok(RawValue::Text(s.clone())),
        Value::Number(n) => Ok(RawValue::Text(
            n.as_f64()
                .map(format_number_label)
                .unwrap_or_else(|| n.to_string()),
        )),
        other => Err(err(
            f.name.clone(),
            "invalid_type",
            format!("expected a string, got {}", kind(other)),
        )),
    }
}

/// A warning per field the model does not use; hints point at the features this customer
/// left out (imputed).
fn unknown_field_warnings(
    spec: &FeatureSpec,
    obj: &serde_json::Map<String, Value>,
    raw: &[RawValue],
    warnings: &mut Vec<FeatureWarning>,
) {
    let imputed: Vec<&str> = spec
        .features
        .iter()
        .zip(raw)
        .filter(|(_, v)| **v == RawValue::Missing)
        .map(|(f, _)| f.name.as_str())
        .collect();
    for key in obj.keys() {
        let known = key == "customer_id"
            || key == "transactions"
            || (key == "events" && uses_events(spec))
            || spec.position(key).is_some()
            || spec
                .features
                .iter()
                .any(|f| f.derived.as_ref().is_some_and(|d| d.source() == key));
        if !known {
            warnings.push(FeatureWarning::unknown_field(key, imputed.iter().copied()));
        }
    }
}

/// Fails a customer with more than `max_share` of the model's features imputed
/// (`too_many_missing`), naming them, each with the field it was probably given as
/// (`did you mean`).
pub fn check_missing(spec: &FeatureSpec, p: &Prepared, max_share: f64) -> Result<(), InputError> {
    let missing: Vec<&str> = spec
        .features
        .iter()
        .zip(&p.raw)
        .filter(|(_, v)| **v == RawValue::Missing)
        .map(|(f, _)| f.name.as_str())
        .collect();
    let n = spec.features.len();
    if n == 0 || missing.len() as f64 <= max_share * n as f64 {
        return Ok(());
    }
    let named: Vec<String> = missing
        .iter()
        .map(|f| {
            let given = p.warnings.iter().find_map(|w| match w {
                FeatureWarning::UnknownField {
                    field,
                    did_you_mean: Some(d),
                    ..
                } if d == f => Some(field),
                _ => None,
            });
            match given {
                Some(g) => format!("{f} (given as {g}: did you mean {f}?)"),
                None => f.to_string(),
            }
        })
        .collect();
    Err(err(
        "",
        "too_many_missing",
        format!(
            "{} of the model's {n} features are missing and would be imputed (more than {}%): {}",
            missing.len(),
            format_number_label((max_share * 1000.0).round() / 10.0),
            named.join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::spec::{fit, Candidate, RawColumn};
    use crate::features::FeatureConfig;
    use serde_json::json;

    fn spec() -> FeatureSpec {
        let n = |name: &str, v: Vec<f64>, source| Candidate {
            name: name.into(),
            source,
            column: None,
            values: RawColumn::Numbers(v.into_iter().map(Some).collect()),
        };
        let cands = vec![
            n("recency_days", vec![1.0, 5.0, 9.0], Source::Transactions),
            n("frequency", vec![1.0, 2.0, 4.0], Source::Transactions),
            n("monetary", vec![10.0, 20.0, 45.0], Source::Transactions),
            Candidate {
                name: "gender".into(),
                source: Source::Customers,
                column: Some("Gender".into()),
                values: RawColumn::Labels(vec![
                    Some("F".into()),
                    Some("M".into()),
                    Some("F".into()),
                ]),
            },
        ];
        fit(&cands, &FeatureConfig::default()).unwrap().0
    }

    fn code(v: Value) -> &'static str {
        prepare(&spec(), &v, 100, None, 10, &RowRules::default())
            .unwrap_err()
            .code
    }

    #[test]
    fn features_by_name_with_imputation_and_unknown_fields() {
        let p = prepare(&spec(), &json!({"customer_id": 7, "recency_days": 3, "frequency": 2, "gender": "F", "colour": "red"}), 100, None, 10, &RowRules::default()).unwrap();
        assert_eq!(p.customer_id, json!(7));
        assert_eq!(p.raw[0], RawValue::Num(3.0));
        assert_eq!(p.raw[2], RawValue::Missing);
        assert_eq!(p.raw[3], RawValue::Text("F".into()));
        assert_eq!(p.warnings, [FeatureWarning::unknown_field("colour", [])]);
    }

    #[test]
    fn misspelled_fields_say_did_you_mean() {
        let p = prepare(
            &spec(),
            &json!({"Recency": 3, "frequncy": 2, "monetary": 5}),
            100,
            None,
            10,
            &RowRules::default(),
        )
        .unwrap();
        let hints: Vec<_> = p
            .warnings
            .iter()
            .map(|w| match w {
                FeatureWarning::UnknownField {
                    did_you_mean,
                    message,
                    ..
                } => (did_you_mean.clone(), message.clone()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(hints[0].0.as_deref(), Some("recency_days"));
        assert!(hints[0]
            .1
            .as_deref()
            .unwrap()
            .contains("did you mean recency_days"));
        assert_eq!(hints[1].0.as_deref(), Some("frequency"));
        // A given feature is never suggested.
        let p = prepare(
            &spec(),
            &json!({"recency_days": 1, "recency": 3}),
            100,
            None,
            10,
            &RowRules::default(),
        )
        .unwrap();
        assert_eq!(p.warnings, [FeatureWarning::unknown_field("recency", [])]);
    }

    #[test]
    fn impossible_combinations_name_both_fields() {
        let mut s = spec();
        s.features[2].name = "tenure_days".into();
        let e = prepare(
            &s,
            &json!({"recency_days": 500, "tenure_days": 10}),
            100,
            None,
            10,
            &RowRules::default(),
        )
        .unwrap_err();
        assert_eq!(
            (e.code, e.field.as_str()),
            ("inconsistent_features", "recency_days")
        );
        assert!(
            e.message.contains("recency_days and tenure_days"),
            "{}",
            e.message
        );
        assert_eq!(
            code(json!({"frequency": 0, "monetary": 5})),
            "inconsistent_features"
        );
        assert_eq!(code(json!({"frequency": 1.5})), "invalid_value");
    }

    #[test]
    fn too_many_missing_names_the_imputed_features_with_hints() {
        let s = spec();
        let p = prepare(
            &s,
            &json!({"recency": 3, "gender": "F"}),
            100,
            None,
            10,
            &RowRules::default(),
        )
        .unwrap();
        let e = check_missing(&s, &p, 0.5).unwrap_err();
        assert_eq!(e.code, "too_many_missing");
        assert!(
            e.message.starts_with("3 of the model's 4 features"),
            "{}",
            e.message
        );
        assert!(
            e.message.contains(
                "recency_days (given as recency: did you mean recency_days?), frequency, monetary"
            ),
            "{}",
            e.message
        );
        // Half is not more than half; a share of 1 never fails.
        let p = prepare(
            &s,
            &json!({"recency_days": 3, "gender": "F"}),
            100,
            None,
            10,
            &RowRules::default(),
        )
        .unwrap();
        assert!(check_missing(&s, &p, 0.5).is_ok());
        let p = prepare(&s, &json!({}), 100, None, 10, &RowRules::default()).unwrap();
        assert!(check_missing(&s, &p, 1.0).is_ok());
        assert!(check_missing(&s, &p, 0.0).is_err());
    }

    #[test]
    fn transactions_give_the_same_values_as_compute_rfm() {
        let c = json!({"transactions": [
            {"date": "1970-02-01", "amount": 10.0, "order_id": "a"},
            {"date": "1970-02-01", "amount": 5.0, "order_id": "a"},
            {"date": "1970-03-01", "quantity": 2, "unit_price": 2.5},
            {"date": "1970-03-05", "amount": -1.0},
            {"date": "1970-12-01", "amount": 99.0}
        ]});
        let p = prepare(&spec(), &c, 100, None, 10, &RowRules::default()).unwrap();
        // as_of = day 100 = 1970-04-11; last purchase 1970-03-01 = day 59; first = day 31.
        assert_eq!(p.raw[0], RawValue::Num(41.0));
        assert_eq!(p.raw[1], RawValue::Num(2.0));
        assert_eq!(p.raw[2], RawValue::Num(19.0));
        assert_eq!(
            p.warnings,
            [FeatureWarning::TransactionsAfterAsOf { count: 1 }]
        );
    }

    #[test]
    fn exact_duplicate_transactions_are_dropped_like_in_training() {
        let c = json!({"transactions": [
            {"date": "1970-02-01", "amount": 10.0, "order_id": "a"},
            {"order_id": "a", "amount": 10.0, "date": "1970-02-01"},
            {"date": "1970-02-01", "amount": 10.0, "order_id": "b"}
        ]});
        let p = prepare(&spec(), &c, 100, None, 10, &RowRules::default()).unwrap();
        assert_eq!(p.raw[1], RawValue::Num(2.0));
        assert_eq!(p.raw[2], RawValue::Num(20.0));
        assert_eq!(
            p.warnings,
            [FeatureWarning::DuplicateTransactions { count: 1 }]
        );
    }

    #[test]
    fn a_customer_must_be_an_object() {
        assert_eq!(code(json!([1, 2])), "invalid_type");
    }

    #[test]
    fn customer_id_must_be_string_or_integer() {
        assert_eq!(code(json!({"customer_id": 1.5})), "invalid_type");
        assert_eq!(code(json!({"customer_id": {"a": 1}})), "invalid_type");
    }

    #[test]
    fn numeric_features_must_be_numbers() {
        let e = prepare(
            &spec(),
            &json!({"recency_days": "3"}),
            100,
            None,
            10,
            &RowRules::default(),
        )
        .unwrap_err();
        assert_eq!((e.code, e.field.as_str()), ("invalid_type", "recency_days"));
    }

    #[test]
    fn rfm_features_cannot_be_negative() {
        assert_eq!(code(json!({"frequency": -1})), "out_of_range");
    }

    #[test]
    fn categories_must_be_strings_or_numbers() {
        assert_eq!(code(json!({"gender": true})), "invalid_type");
        assert!(prepare(
            &spec(),
            &json!({"gender": 3}),
            100,
            None,
            10,
            &RowRules::default()
        )
        .is_ok());
    }

    #[test]
    fn transactions_and_rfm_features_conflict() {
        assert_eq!(
            code(json!({"recency_days": 1, "transactions": [{"date": "1970-01-02", "amount": 1}]})),
            "conflicting_inputs"
        );
    }

    #[test]
    fn transactions_must_be_an_array_of_objects() {
        assert_eq!(code(json!({"transactions": {}})), "invalid_type");
        assert_eq!(code(json!({"transactions": [3]})), "invalid_type");
    }

    #[test]
    fn transaction_count_is_limited() {
        let many: Vec<Value> = (0..11)
            .map(|_| json!({"date": "1970-01-02", "amount": 1}))
            .collect();
        assert_eq!(code(json!({"transactions": many})), "too_many_transactions");
    }

    #[test]
    fn transaction_fields_are_checked() {
        // A misspelt role is just another attribute: the amount is then missing.
        assert_eq!(
            code(json!({"transactions": [{"date": "1970-01-02", "ammount": 1}]})),
            "missing_field"
        );
        let e = prepare(
            &spec(),
            &json!({"transactions": [{"date": "1970-01-02", "amount": 1, "tags": {"a": 1}}]}),
            100,
            None,
            10,
            &RowRules::default(),
        )
        .unwrap_err();
        assert_eq!(
            (e.code, e.field.as_str()),
            ("invalid_type", "transactions[0].tags")
        );
        assert_eq!(
            code(json!({"transactions": [{"amount": 1}]})),
            "missing_field"
        );
        assert_eq!(
            code(json!({"transactions": [{"date": "1970-01-02"}]})),
            "missing_field"
        );
        assert_eq!(
            code(json!({"transactions": [{"date": "yesterday", "amount": 1}]})),
            "invalid_date"
        );
        assert_eq!(
            code(json!({"transactions": [{"date": 19700102, "amount": 1}]})),
            "invalid_type"
        );
        assert_eq!(
            code(json!({"transactions": [{"date": "1970-01-02", "amount": "1"}]})),
            "invalid_type"
        );
        assert_eq!(
            code(json!({"transactions": [{"date": "1970-01-02", "amount": 1, "order_id": [1]}]})),
            "invalid_type"
        );
        let e = prepare(&spec(), &json!({"transactions": [{"date": "1970-01-02", "amount": 1}, {"date": "x", "amount": 1}]}), 100, None, 10, &RowRules::default()).unwrap_err();
        assert_eq!(e.field, "transactions[1].date");
    }

    #[test]
    fn only_returns_or_only_future_is_no_purchase() {
        for t in [
            json!([{"date": "1970-01-02", "amount": -5}]),
            json!([{"date": "1999-01-02", "amount": 5}]),
        ] {
            let p = prepare(
                &spec(),
                &json!({"customer_id": "c", "transactions": t}),
                100,
                None,
                10,
                &RowRules::default(),
            )
            .unwrap();
            assert!(p.no_purchases);
            assert!(p.raw.is_empty());
            assert!(
                p.warnings.contains(&FeatureWarning::NoPurchases),
                "{:?}",
                p.warnings
            );
        }
    }

    #[test]
    fn other_attributes_count_for_duplicates_only() {
        let c = json!({"transactions": [
            {"date": "1970-02-01", "quantity": 6, "unit_price": 2.55, "order_id": 536365, "StockCode": "85123A", "Country": "UK"},
            {"date": "1970-02-01", "quantity": 6, "unit_price": 2.55, "order_id": 536365, "StockCode": "71053", "Country": "UK"},
            {"date": "1970-02-01", "quantity": 6, "unit_price": 2.55, "order_id": "536365", "StockCode": "71053", "Country": "UK", "Description": null}
        ]});
        let p = prepare(&spec(), &c, 100, None, 10, &RowRules::default()).unwrap();
        assert_eq!(p.raw[1], RawValue::Num(1.0));
        assert!(
            (matches!(p.raw[2], RawValue::Num(m) if (m - 30.6).abs() < 1e-9)),
            "{:?}",
            p.raw
        );
        assert_eq!(
            p.warnings,
            [FeatureWarning::DuplicateTransactions { count: 1 }]
        );
        let keep = RowRules::new(true, crate::data::RowFilters::default()).unwrap();
        let p = prepare(&spec(), &c, 100, None, 10, &keep).unwrap();
        assert!(p.warnings.is_empty());
        assert!(
            (matches!(p.raw[2], RawValue::Num(m) if (m - 45.9).abs() < 1e-9)),
            "{:?}",
            p.raw
        );
    }

    #[test]
    fn derived_features_are_read_from_their_source_field() {
        let mut spec = spec();
        let days = Candidate {
            name: "joined_days".into(),
            source: Source::Customers,
            column: Some("Joined".into()),
            values: RawColumn::Numbers(vec![Some(1.0), Some(30.0), Some(90.0)]),
        };
        let (extra, _) = fit(&[days], &FeatureConfig::default()).unwrap();
        spec.features.extend(extra.features);
        let j = spec.features.len() - 1;
        spec.features[j].derived = Some(crate::features::table::Derivation::DaysSince {
            source: "joined".into(),
            day_first: true,
        });
        let as_of = crate::data::dates::days_from_civil(2014, 7, 1);
        let p = prepare(
            &spec,
            &json!({"joined": "21-06-2014"}),
            as_of,
            None,
            10,
            &RowRules::default(),
        )
        .unwrap();
        assert_eq!(p.raw[j], RawValue::Num(10.0));
        assert!(p
            .warnings
            .iter()
            .all(|w| !matches!(w, FeatureWarning::UnknownField { .. })));
        // The feature itself wins; an unreadable source date names the field.
        let p = prepare(
            &spec,
            &json!({"joined_days": 3, "joined": "x"}),
            as_of,
            None,
            10,
            &RowRules::default(),
        )
        .unwrap();
        assert_eq!(p.raw[j], RawValue::Num(3.0));
        let e = prepare(
            &spec,
            &json!({"joined": "2014-31-31"}),
            as_of,
            None,
            10,
            &RowRules::default(),
        )
        .unwrap_err();
        assert_eq!((e.field.as_str(), e.code), ("joined", "invalid_value"));
    }

    #[test]
    fn missing_order_tokens_are_no_order_as_in_files() {
        // Two purchase days, no order: frequency counts days, as a file's `NA` order id does.
        let c = json!({"transactions": [
            {"date": "1970-02-01", "amount": 1, "order_id": "NA"},
            {"date": "1970-02-01", "amount": 2, "order_id": ""},
            {"date": "1970-02-03", "amount": 3, "order_id": null}
        ]});
        let p = prepare(&spec(), &c, 100, None, 10, &RowRules::default()).unwrap();
        assert_eq!(p.raw[1], RawValue::Num(2.0));
    }
}
