//! The holdout check of a model's value predictions (`custseg evaluate`, `train
//! --holdout-days`): split a transaction log at `calibration_end = as_of − holdout_days`,
//! assign every customer who bought before it as of that day (segment, lifecycle stage, the
//! model's features exactly as scoring computes them), predict their orders and spend over
//! the holdout from their calibration purchase summary, and compare with what they did
//! ([`crate::value::holdout`]).
//!
//! With [`ValueSource::Refit`] the value model is fitted again on the calibration summaries
//! (the honest check of a training configuration: nothing from the holdout is seen); with
//! [`ValueSource::Model`] the model's own parameters are used, which is honest only when the
//! model was trained as of `calibration_end` or earlier.

use std::path::PathBuf;

use rayon::prelude::*;

use crate::data::dates::format_day;
use crate::data::{self, ColumnMap};
use crate::error::{Error, Result};
use crate::features::lifecycle::Stage;
use crate::features::rfm::{compute_rfm, holdout_actuals, purchase_summary};
use crate::model::format::HoldoutRecord;
use crate::model::Model;
use crate::progress::Progress;
use crate::score::batch::Profiles;
use crate::train::TrainError;
use crate::value::holdout::{self, HoldoutCustomer};
use crate::value::{ClvSettings, ValueModel};

/// Where the value predictions come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueSource {
    /// The model's `value_model`.
    Model,
    /// A fit of the same kind on the calibration summaries.
    Refit,
}

/// What to check the model on.
#[derive(Clone, Debug)]
pub struct HoldoutInputs {
    pub transactions: Vec<PathBuf>,
    pub customers: Vec<PathBuf>,
    /// Interaction logs, for a model with event features.
    pub events: Vec<PathBuf>,
    /// Column mapping beside the model's own.
    pub map: ColumnMap,
    /// End of the holdout (exclusive); default the day after the last transaction.
    pub as_of: Option<i32>,
    pub holdout_days: u32,
    pub value: ValueSource,
}

/// One checked customer: calibration RFM, purchase summary and holdout actuals.
struct Row {
    id: usize,
    rfm: crate::features::rfm::Rfm,
    summary: crate::value::Rfm,
    behaviour: Option<crate::features::behaviour::Behaviour>,
    orders: f64,
    spend: f64,
}

fn holdout_error(reason: String) -> Error {
    TrainError::Holdout { reason }.into()
}

/// Runs the holdout check of `model` on `inputs`.
pub fn holdout(
    model: &Model,
    inputs: &HoldoutInputs,
    progress: &Progress,
) -> Result<HoldoutRecord> {
    let map = model.column_map_with(&inputs.map);
    let rules = &model.row_rules;
    let log = data::read_transactions(&inputs.transactions, &map, rules, progress)?;
    let as_of = inputs.as_of.unwrap_or(log.last_day + 1);
    let cal_end = as_of - inputs.holdout_days as i32;
    if cal_end <= log.first_day {
        return Err(holdout_error(format!(
            "the calibration would end on {} but the first transaction is on {}: use fewer \
             holdout days",
            format_day(cal_end),
            format_day(log.first_day)
        )));
    }
    let window = model.file.params.window_days;
    let max_dropped = crate::data::transactions::DEFAULT_MAX_DROPPED_SHARE;
    let events =
        crate::score::batch::model_events(model, &inputs.events, &map, max_dropped, progress)?;
    let activity = crate::score::batch::Activity::of(model, events.as_ref(), cal_end);
    let with_behaviour = crate::features::behaviour::uses_behaviour(&model.file.features);
    let rows: Vec<Row> = (0..log.txns.len())
        .into_par_iter()
        .filter_map(|c| {
            let txns = log.txns.get(c);
            let rfm = compute_rfm(txns, cal_end, window)?;
            let summary = purchase_summary(txns, cal_end, window)?;
            let (orders, spend) = holdout_actuals(txns, cal_end, as_of);
            let mut behaviour = with_behaviour
                .then(|| {
                    let b = log.txns.behaviour(c);
                    crate::features::behaviour::compute(txns, b, &log.levels, cal_end, window)
                })
                .flatten();
            if let (Some(a), Some(b)) = (&activity, behaviour.as_mut()) {
                a.add(b, &log.customer_ids[c], rfm.frequency);
            }
            Some(Row {
                id: c,
                rfm,
                summary,
                behaviour,
                orders,
                spend: spend.max(0.0),
            })
        })
        .collect();
    if rows.is_empty() {
        return Err(holdout_error(format!(
            "no customer bought before the calibration end {}",
            format_day(cal_end)
        )));
    }
    let summaries: Vec<crate::value::Rfm> = rows.iter().map(|r| r.summary).collect();
    let value = value_model(model, inputs.value, &summaries)?;
    let settings = ClvSettings {
        horizon_days: f64::from(inputs.holdout_days),
        annual_discount_rate: 0.0,
        ..ClvSettings::default()
    };
    let table = if inputs.customers.is_empty() {
        None
    } else {
        Some(data::read_customers(&inputs.customers, &map, progress)?)
    };
    let profiles = Profiles::new(model, table.as_ref());
    let scored: Vec<(HoldoutCustomer, usize, Option<Stage>)> = rows
        .par_iter()
        .map_init(
            || (Vec::new(), crate::score::Scratch::default()),
            |(raw, scratch), r| {
                let id = &log.customer_ids[r.id];
                profiles.raw(model, id, &r.rfm, r.behaviour.as_ref(), cal_end, raw)?;
                let s = model.score(raw, Some(&r.summary), scratch)?;
                let v = value
                    .predict(&r.summary, &settings)
                    .map_err(|e| holdout_error(format!("a customer's prediction failed: {e}")))?;
                let customer = HoldoutCustomer {
                    calibration_x: r.summary.x,
                    p_alive: v.p_alive,
                    predicted_orders: v.expected_orders,
                    actual_orders: r.orders,
                    predicted_spend: v.expected_orders * v.expected_spend_per_order,
                    actual_spend: r.spend,
                };
                Ok((customer, s.index, s.lifecycle))
            },
        )
        .collect::<Result<_>>()?;
    record(model, inputs, value, cal_end, as_of, &scored)
}

/// The value model the check predicts with.
fn value_model(
    model: &Model,
    source: ValueSource,
    summaries: &[crate::value::Rfm],
) -> Result<ValueModel> {
    let Some(own) = &model.file.value_model else {
        return Err(holdout_error(
            "the model has no value model to check (it was trained without one)".into(),
        ));
    };
    if source == ValueSource::Model {
        return Ok(own.model());
    }
    let kind = match own.purchases {
        crate::value::PurchaseModel::BgNbd(_) => crate::train::ValueKind::BgNbd,
        crate::value::PurchaseModel::ParetoNbd(_) => crate::train::ValueKind::ParetoNbd,
    };
    let params = crate::train::ValueParams {
        kind,
        horizon_days: own.horizon_days.round() as u32,
        discount_rate: own.discount_rate,
    };
    match crate::train::value::fit(summaries, &params) {
        Ok(Some(r)) => Ok(r.model()),
        Ok(None) => Err(holdout_error("no value model to refit".into())),
        Err(why) => Err(holdout_error(format!(
            "the value model cannot be fitted on the calibration data: {why}"
        ))),
    }
}

/// The record of a finished check: totals, per segment and per stage.
fn record(
    model: &Model,
    inputs: &HoldoutInputs,
    value: ValueModel,
    cal_end: i32,
    as_of: i32,
    scored: &[(HoldoutCustomer, usize, Option<Stage>)],
) -> Result<HoldoutRecord> {
    let bad = |e: holdout::HoldoutError| holdout_error(e.to_string());
    let customers: Vec<HoldoutCustomer> = scored.iter().map(|s| s.0).collect();
    let summary = holdout::evaluate(&customers, f64::from(inputs.holdout_days)).map_err(bad)?;
    let names: Vec<String> = model.file.segments.iter().map(|s| s.name.clone()).collect();
    let labels: Vec<usize> = scored.iter().map(|s| s.1).collect();
    let by_segment = holdout::by_group(&customers, &labels, &names).map_err(bad)?;
    let stages: Option<Vec<usize>> = scored
        .iter()
        .map(|s| s.2.and_then(|st| Stage::ALL.iter().position(|x| *x == st)))
        .collect();
    let by_stage = match stages {
        Some(st) => {
            let names: Vec<String> = Stage::ALL.iter().map(|s| s.as_str().into()).collect();
            holdout::by_group(&customers, &st, &names).map_err(bad)?
        }
        None => Vec::new(),
    };
    Ok(HoldoutRecord {
        calibration_end: format_day(cal_end),
        holdout_end: format_day(as_of),
        holdout_days: inputs.holdout_days,
        value_model: match inputs.value {
            ValueSource::Model => "model",
            ValueSource::Refit => "refit",
        }
        .into(),
        purchases: value.purchases,
        spend: value.spend,
        customers: customers.len() as u64,
        summary,
        by_segment,
        by_stage,
    })
}

/// True when the model saw transactions after `calibration_end` (its as-of is later), so its
/// own value parameters saw part of the holdout.
pub fn model_saw_holdout(model: &Model, record: &HoldoutRecord) -> bool {
    model
        .file
        .as_of
        .as_deref()
        .zip(Some(record.calibration_end.as_str()))
        .is_some_and(|(m, c)| m > c)
}
