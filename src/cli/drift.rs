//! `custseg drift`: compares a new population with a model's training population and prints
//! the per-feature statistics, the segment mix, the warning shares and a verdict (a table, or
//! JSON with `--json`). The exit code is 0 whatever the verdict unless `--fail-on` is given.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use serde::Deserialize;

use custseg::drift::{self, DriftReport, Thresholds, Verdict};
use custseg::progress::Progress;

use super::{flag_hint, scoring_input, ScoringArgs, UsageError};

#[derive(Args, Debug)]
pub struct DriftArgs {
    /// The new population's transaction log (for a model with transaction features); for a
    /// model of customer-table features, give the table with --customers.
    #[arg(long)]
    pub transactions: Vec<PathBuf>,
    #[command(flatten)]
    pub with: ScoringArgs,
    /// Print the report as JSON (for schedulers).
    #[arg(long)]
    pub json: bool,
    /// PSI from which a feature or the segment mix is `watch` (default 0.1).
    #[arg(long, value_name = "PSI")]
    pub psi_watch: Option<f64>,
    /// PSI above which it is `retrain` (default 0.25).
    #[arg(long, value_name = "PSI")]
    pub psi_retrain: Option<f64>,
    /// Exit with code 3 when the verdict is this or worse (`watch` or `retrain`); without
    /// it the exit code is 0 whatever the verdict.
    #[arg(long, value_name = "VERDICT")]
    pub fail_on: Option<String>,
    /// Config file: its `[drift]` section sets psi_watch, psi_retrain and fail_on (flags win).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// The config file's `[drift]` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftSection {
    pub psi_watch: Option<f64>,
    pub psi_retrain: Option<f64>,
    /// `watch` or `retrain`.
    pub fail_on: Option<String>,
}

/// The verdict reached `--fail-on`: exit code 3, after the report was printed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct VerdictReached(pub String);

/// Flags over the config's `[drift]` over the defaults, checked.
fn settings(a: &DriftArgs) -> Result<(Thresholds, Option<Verdict>)> {
    let section = match &a.config {
        Some(p) => super::ConfigFile::load(p)?.drift,
        None => DriftSection::default(),
    };
    let d = Thresholds::default();
    let t = Thresholds {
        psi_watch: a.psi_watch.or(section.psi_watch).unwrap_or(d.psi_watch),
        psi_retrain: a
            .psi_retrain
            .or(section.psi_retrain)
            .unwrap_or(d.psi_retrain),
    };
    t.validate().map_err(|e| {
        UsageError(format!(
            "--psi-watch / --psi-retrain (or psi_watch / psi_retrain in the config's [drift]): {e}"
        ))
    })?;
    let fail_on = match (&a.fail_on, &section.fail_on) {
        (Some(v), _) => Some((v, "--fail-on")),
        (None, Some(v)) => Some((v, "fail_on in the config's [drift]")),
        (None, None) => None,
    };
    let fail_on = fail_on
        .map(|(v, what)| {
            Verdict::parse(v)
                .filter(|v| *v > Verdict::Stable)
                .ok_or_else(|| UsageError(format!("{what} '{v}': expected watch or retrain")))
        })
        .transpose()?;
    Ok((t, fail_on))
}

/// Runs `custseg drift`.
pub fn run(a: DriftArgs) -> Result<()> {
    let (thresholds, fail_on) = settings(&a)?;
    let json = a.json;
    let mut with = a.with;
    let input = if a.transactions.is_empty() {
        std::mem::take(&mut with.customers)
    } else {
        a.transactions
    };
    if input.is_empty() {
        anyhow::bail!(UsageError(
            "give --transactions PATH (or --customers PATH for a model of customer-table features)"
                .into()
        ));
    }
    let (model, input) = scoring_input(with, input)?;
    let progress = Progress::auto();
    let (reference, source) = drift::reference_of(&model, &progress)?;
    let (counts, _) =
        drift::measure(&model, &reference, &input, &progress).map_err(|e| flag_hint(e.into()))?;
    let report = drift::compare(&model, &reference, source, &counts, &thresholds);
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &report).context("writing the report")?;
        writeln!(out).context("writing the report")?;
    } else {
        print_table(&mut out, &report).context("writing the report")?;
    }
    match fail_on {
        Some(level) if report.verdict >= level => Err(VerdictReached(format!(
            "drift verdict {} reaches --fail-on {}",
            report.verdict.as_str(),
            level.as_str()
        ))
        .into()),
        _ => Ok(()),
    }
}

/// A share as a percentage.
fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// A p-value, tiny ones as a bound.
fn p_value(p: f64) -> String {
    if p < 1e-4 {
        "<1e-4".into()
    } else {
        format!("{p:.4}")
    }
}

/// The human-readable report.
fn print_table(out: &mut dyn Write, r: &DriftReport) -> std::io::Result<()> {
    writeln!(
        out,
        "drift of {} v{}: {} customers against {} training customers (reference: {})",
        r.model, r.version, r.customers, r.training_customers, r.reference
    )?;
    let width = r
        .features
        .iter()
        .map(|f| f.feature.len())
        .max()
        .unwrap_or(7)
        .max(7);
    writeln!(
        out,
        "  {:width$}  {:11}  {:>7}  {:7}  {:16}  {:>8}",
        "feature", "kind", "PSI", "verdict", "test", "p-value"
    )?;
    for f in &r.features {
        let test = match (f.test, f.df) {
            ("ks", _) => format!("KS D {:.3}", f.statistic),
            (_, Some(df)) => format!("chi2 {:.1} df {df}", f.statistic),
            _ => format!("{:.3}", f.statistic),
        };
        writeln!(
            out,
            "  {:width$}  {:11}  {:>7.3}  {:7}  {:16}  {:>8}",
            f.feature,
            f.kind,
            f.psi,
            f.verdict.as_str(),
            test,
            p_value(f.p_value)
        )?;
    }
    writeln!(
        out,
        "segment mix: PSI {:.3} ({})",
        r.segments.psi,
        r.segments.verdict.as_str()
    )?;
    let sw = (r.segments.shares.iter())
        .map(|s| s.name.len() + s.id.to_string().len() + 3)
        .max()
        .unwrap_or(7)
        .max(17);
    writeln!(out, "  {:sw$}  {:>8}  {:>8}", "segment", "training", "now")?;
    for s in &r.segments.shares {
        let label = format!("{} ({})", s.name, s.id);
        writeln!(
            out,
            "  {label:sw$}  {:>8}  {:>8}",
            pct(s.training_share),
            pct(s.share)
        )?;
    }
    writeln!(
        out,
        "warnings: {:>sw$}  {:>8}",
        "training",
        "now",
        sw = sw + 1
    )?;
    for (name, w) in [
        ("out_of_range", r.warnings.out_of_range),
        ("far_from_centroid", r.warnings.far_from_centroid),
    ] {
        writeln!(
            out,
            "  {name:sw$}  {:>8}  {:>8}",
            pct(w.training_share),
            pct(w.share)
        )?;
    }
    writeln!(
        out,
        "verdict: {} (PSI >= {} watch, > {} retrain)",
        r.verdict.as_str(),
        r.thresholds.psi_watch,
        r.thresholds.psi_retrain
    )?;
    for reason in &r.reasons {
        writeln!(out, "  {reason}")?;
    }
    Ok(())
}
