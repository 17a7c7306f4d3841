//! `custseg changes NAME vN vM`: who entered, left or moved between two versions, as CSV,
//! JSON Lines or a CRM import file, or delivered to a webhook.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

use custseg::changes::{self, webhook, Format};

use super::{diff, is_stdout, StoreArg, UsageError};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ChangesFormat {
    /// One row per change: both versions' segment ids, names, tiers and stages.
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// CRM import: customer_id, segment, tier, action, changed_at.
    Crm,
}

#[derive(Args, Debug)]
pub struct ChangesArgs {
    /// Model name.
    pub name: String,
    /// Earlier version, such as v3.
    pub from: String,
    /// Later version, such as v4.
    pub to: String,
    #[command(flatten)]
    pub store: StoreArg,
    /// Output format.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: ChangesFormat,
    /// Output file (written atomically), or `-` for stdout. Default: stdout, unless
    /// --webhook is given.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Deliver the changes to this http(s) URL as signed JSON batches.
    #[arg(long, value_name = "URL")]
    pub webhook: Option<String>,
    /// Environment variable holding the webhook's shared secret (HMAC-SHA256 key).
    #[arg(long, value_name = "VAR", default_value = "CUSTSEG_WEBHOOK_SECRET")]
    pub secret_env: String,
    /// Changes per webhook batch.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch_size: u32,
    /// Attempts per batch before it goes to the dead-letter file.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: u32,
    /// Per-request timeout, milliseconds.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_ms: u64,
    /// First retry's backoff, milliseconds (doubling, capped at 30 s, full jitter).
    #[arg(long, default_value_t = 500)]
    pub retry_base_ms: u64,
    /// Acknowledged batches, for resuming (default: custseg-changes-NAME-vN-vM.acked here).
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Batches never acknowledged (default: custseg-changes-NAME-vN-vM.dead.jsonl here).
    #[arg(long)]
    pub dead_letter: Option<PathBuf>,
}

pub fn run(a: ChangesArgs) -> Result<()> {
    let reg = a.store.registry();
    // Check what can be checked before reading anything large.
    let secret = match &a.webhook {
        Some(url) => {
            webhook::check_url(url).context("--webhook")?;
            let secret = std::env::var(&a.secret_env).unwrap_or_default();
            if secret.is_empty() {
                return Err(changes::ChangesError::MissingSecret {
                    var: a.secret_env.clone(),
                })
                .context("--webhook (--secret-env names the variable)");
            }
            Some(secret.into_bytes())
        }
        None => None,
    };
    let from = diff::load_version(&reg, &a.name, &a.from)?;
    let to = diff::load_version(&reg, &a.name, &a.to)?;
    if from.file.version == to.file.version {
        anyhow::bail!(UsageError(format!(
            "{} and {} are the same version",
            a.from, a.to
        )));
    }
    let ch = changes::compute(&a.name, &from, &to)?;
    let [entered, left, moved] = ch.counts();
    eprintln!(
        "{} v{} -> v{}: {} customers then, {} now; {entered} entered, {left} left, {moved} moved",
        a.name, ch.from_version, ch.to_version, ch.customers_from, ch.customers_to
    );
    if !ch.same_lineage {
        eprintln!(
            "warning: v{} was not trained on an earlier version's lineage, so its segment ids may not name the same groups as v{}'s (see custseg models diff)",
            ch.to_version, ch.from_version
        );
    }
    let format = match a.format {
        ChangesFormat::Csv => Format::Csv,
        ChangesFormat::Jsonl => Format::Jsonl,
        ChangesFormat::Crm => Format::Crm,
    };
    match (&a.output, &a.webhook) {
        (Some(out), _) if !is_stdout(out) => {
            let folder = a.store.models_dir.join(&a.name);
            if custseg::export::is_inside(out, &folder) {
                anyhow::bail!(UsageError(format!(
                    "--output {}: is inside the model folder {}; model folders are never written into",
                    out.display(),
                    folder.display()
                )));
            }
            custseg::export::write_atomic(out, &changes::render(&ch, format))?;
            eprintln!("wrote {} changes to {}", ch.changes.len(), out.display());
        }
        (Some(_), _) | (None, None) => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            (out.write_all(&changes::render(&ch, format)))
                .and_then(|()| out.flush())
                .context("writing to stdout")?;
        }
        (None, Some(_)) => {}
    }
    if let (Some(url), Some(secret)) = (&a.webhook, secret) {
        let stem = format!(
            "custseg-changes-{}-v{}-v{}",
            a.name, ch.from_version, ch.to_version
        );
        let d = webhook::Delivery {
            url: url.clone(),
            secret,
            batch_size: a.batch_size as usize,
            max_attempts: a.max_attempts,
            timeout: Duration::from_millis(a.timeout_ms),
            backoff: Duration::from_millis(a.retry_base_ms),
            state: a
                .state
                .clone()
                .unwrap_or_else(|| format!("{stem}.acked").into()),
            dead_letter: (a.dead_letter.clone())
                .unwrap_or_else(|| format!("{stem}.dead.jsonl").into()),
        };
        let r = webhook::deliver(&ch, &d, |i, n, what| {
            eprintln!("  batch {}/{n}: {what}", i + 1)
        })?;
        eprintln!(
            "webhook: {} batches, {} acknowledged now, {} already acknowledged earlier, {} retries",
            r.batches, r.acknowledged, r.skipped, r.retries
        );
    }
    Ok(())
}
