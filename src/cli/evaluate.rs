//! `custseg evaluate` and the holdout step of `train --holdout-days`: the check itself is
//! [`custseg::evaluate`]; this prints its tables and writes its JSON.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;

use custseg::evaluate::{HoldoutInputs, ValueSource};
use custseg::model::format::HoldoutRecord;
use custseg::progress::Progress;
use custseg::value::holdout::GroupRow;

use super::{parse_as_of, resolve_model_path, scoring_map, UsageError};

#[derive(Args, Debug)]
pub struct EvaluateArgs {
    /// Model folder: models/NAME (its CURRENT version) or models/NAME/vN.
    #[arg(long)]
    pub model: PathBuf,
    /// Transaction log covering the calibration and the holdout (repeatable).
    #[arg(long = "transactions", value_name = "PATH")]
    pub transactions: Vec<PathBuf>,
    /// Customer table, for models with customer-table features.
    #[arg(long)]
    pub customers: Vec<PathBuf>,
    /// Interaction log, for models with event features (repeatable).
    #[arg(long = "events", value_name = "PATH")]
    pub events: Vec<PathBuf>,
    /// Days at the end of the log kept out of calibration and compared with the predictions.
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    pub holdout_days: u32,
    /// End of the holdout (exclusive; default the day after the last transaction).
    #[arg(long)]
    pub as_of: Option<String>,
    /// Fit the value model again on the calibration data instead of using the model's own
    /// parameters (use it when the model was trained on data after the calibration end).
    #[arg(long)]
    pub refit: bool,
    /// Column mapping FIELD=COLUMN (the model's own mapping applies first).
    #[arg(long = "map", value_name = "FIELD=COLUMN")]
    pub map: Vec<String>,
    /// How the transaction dates are written, e.g. `%d-%m-%Y`.
    #[arg(long, value_name = "FMT")]
    pub date_format: Option<String>,
    /// Also write the check as JSON here (written atomically).
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Model store: `--model NAME[/vN]` is then looked up in it.
    #[arg(long)]
    pub models_dir: Option<PathBuf>,
    /// Read a model whose folder is a symbolic link out of the model store.
    #[arg(long, env = "CUSTSEG_ALLOW_SYMLINKS")]
    pub allow_symlinks: bool,
}

/// `custseg evaluate`.
pub fn run(a: EvaluateArgs) -> Result<()> {
    if a.transactions.is_empty() {
        anyhow::bail!(UsageError("give --transactions PATH".into()));
    }
    let dir = resolve_model_path(&a.model, a.models_dir.as_deref(), a.allow_symlinks)?;
    let model = custseg::Model::load(&dir)?;
    let map = scoring_map(&a.map, a.date_format.as_deref())?;
    let inputs = HoldoutInputs {
        transactions: a.transactions,
        customers: a.customers,
        events: a.events,
        map,
        as_of: a
            .as_of
            .as_deref()
            .map(|raw| parse_as_of(raw, "--as-of"))
            .transpose()?,
        holdout_days: a.holdout_days,
        value: if a.refit {
            ValueSource::Refit
        } else {
            ValueSource::Model
        },
    };
    let record = custseg::evaluate::holdout(&model, &inputs, &Progress::auto())?;
    if !a.refit && custseg::evaluate::model_saw_holdout(&model, &record) {
        println!(
            "warning: the model is as of {}, after the calibration end {}: its value parameters \
             saw part of the holdout; add --refit for an out-of-time check",
            model.file.as_of.as_deref().unwrap_or("-"),
            record.calibration_end
        );
    }
    print(&record);
    if let Some(path) = &a.output {
        let bytes = serde_json::to_vec_pretty(&record)?;
        custseg::atomic::write_bytes(path, &bytes, |p: &Path, e| custseg::Error::io(p, e))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// The holdout step of `train --holdout-days`: the check of the freshly trained model (as of
/// the holdout's start) on the days after it. A check that cannot run is a warning.
pub fn after_training(
    out: &mut custseg::TrainOutput,
    inputs: &custseg::train::TrainInputs,
    holdout_days: u32,
) {
    let started = std::time::Instant::now();
    let model = match custseg::Model::from_file(out.model.clone(), Path::new("(new model)")) {
        Ok(m) => m,
        Err(e) => {
            println!("  warning: no holdout check: {e}");
            return;
        }
    };
    let Some(start) = out
        .model
        .as_of
        .as_deref()
        .and_then(custseg::data::dates::parse_iso_date)
    else {
        println!("  warning: no holdout check: the model has no as-of date (no transactions)");
        return;
    };
    let check = HoldoutInputs {
        transactions: inputs.transactions.clone(),
        customers: inputs.customers.clone(),
        events: inputs.events.clone(),
        map: inputs.map.clone(),
        as_of: Some(start + holdout_days as i32),
        holdout_days,
        value: ValueSource::Model,
    };
    match custseg::evaluate::holdout(&model, &check, &Progress::hidden()) {
        Ok(r) => out.metrics.holdout = Some(r),
        Err(e) => println!("  warning: no holdout check: {e:#}"),
    }
    let s = started.elapsed().as_secs_f64();
    out.metrics.timings.value_s += s;
    out.metrics.timings.total_s += s;
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.digits$}"))
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{:+.1}%", 100.0 * v))
}

/// The check as tables: totals, ranking, per segment, per stage, by calibration frequency.
pub fn print(r: &HoldoutRecord) {
    let s = &r.summary;
    println!(
        "Holdout check: calibration until {} (exclusive), holdout {} days to {}; {} customers, \
         value model {} ({})",
        r.calibration_end,
        r.holdout_days,
        r.holdout_end,
        r.customers,
        r.purchases.kind(),
        if r.value_model == "refit" {
            "refitted on the calibration data"
        } else {
            "the model's own parameters"
        }
    );
    println!(
        "  orders: predicted {:.1}, actual {:.0} ({}); spend: predicted {:.2}, actual {:.2} ({})",
        s.orders.predicted_total,
        s.orders.actual_total,
        pct(s.orders.relative_error),
        s.spend.predicted_total,
        s.spend.actual_total,
        pct(s.spend.relative_error)
    );
    println!(
        "  per customer: orders MAE {:.3}, RMSE {:.3}; spend MAE {:.2}, RMSE {:.2}",
        s.orders.mean_absolute_error, s.orders.rmse, s.spend.mean_absolute_error, s.spend.rmse
    );
    println!(
        "  AUC of any repurchase: by P(alive) {}, by expected orders {}; Spearman orders {}, spend {}",
        opt(s.repurchase_auc_p_alive, 3),
        opt(s.repurchase_auc_predicted_orders, 3),
        opt(s.spearman_orders, 3),
        opt(s.spearman_spend, 3)
    );
    println!();
    print_groups("segment", &r.by_segment);
    if !r.by_stage.is_empty() {
        println!();
        print_groups("stage", &r.by_stage);
    }
    println!();
    println!("  calibration repeat days   customers   actual orders   predicted orders");
    for f in &s.by_calibration_frequency {
        println!(
            "  {:>23}   {:>9}   {:>13}   {:>16}",
            f.label,
            f.customers,
            opt(f.mean_actual_orders, 3),
            opt(f.mean_predicted_orders, 3)
        );
    }
}

fn print_groups(what: &str, rows: &[GroupRow]) {
    let w = rows
        .iter()
        .map(|g| g.group.chars().count())
        .max()
        .unwrap_or(7)
        .max(what.len());
    println!(
        "  {what:<w$}  {:>9}  {:>8}  {:>9}  {:>8}  {:>10}  {:>10}  {:>9}  {:>8}",
        "customers",
        "P(alive)",
        "pred. ord",
        "act. ord",
        "pred spend",
        "act. spend",
        "bought",
        "ord. err"
    );
    for g in rows {
        println!(
            "  {:<w$}  {:>9}  {:>8}  {:>9}  {:>8}  {:>10}  {:>10}  {:>9}  {:>8}",
            g.group,
            g.customers,
            opt(g.mean_p_alive, 3),
            opt(g.mean_predicted_orders, 3),
            opt(g.mean_actual_orders, 3),
            opt(g.mean_predicted_spend, 2),
            opt(g.mean_actual_spend, 2),
            g.repurchase_share
                .map_or("-".into(), |v| format!("{:.0}%", 100.0 * v)),
            pct(g.orders_relative_error)
        );
    }
}
