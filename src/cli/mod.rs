//! The `custseg` command line: clap arguments are parsed into raw structs, merged with the
//! optional config file (flags win), validated, then run.

mod changes;
mod config;
mod diff;
pub mod drift;
mod evaluate;
mod output;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use linfa::ParamGuard;

use custseg::data::ColumnMap;
use custseg::progress::Progress;
use custseg::store::{Registry, View};
use custseg::train::{self, KChoice, TrainInputs, TrainParams};

/// The views the CLI saves with every version: its report.
const REPORT: &[View] = &[View {
    file: "report.html",
    render: &custseg::report::render_or_notice,
}];

pub use config::ConfigFile;

/// A usage error: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

#[derive(Parser, Debug)]
#[command(
    name = "custseg",
    version,
    about = "Customer segmentation: RFM + demographics, k-means, versioned models"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write realistic synthetic transactions.csv and customers.csv.
    Generate(GenerateArgs),
    /// Fit and save a model version.
    Train(Box<TrainArgs>),
    /// List, inspect, promote and roll back model versions.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Score a file of customers or transactions with a model version.
    Score(ScoreArgs),
    /// Compare a new population with a model's training population: per-feature PSI and
    /// KS / chi-square, the segment mix, warning shares and a stable/watch/retrain verdict.
    Drift(Box<drift::DriftArgs>),
    /// Export a model version for other scoring systems (PMML 4.4, or one SQL query).
    Export(ExportArgs),
    /// Who entered, left or moved (segment, tier or lifecycle stage) between two versions:
    /// CSV, JSON Lines, a CRM import file, or signed batches to a webhook.
    Changes(Box<changes::ChangesArgs>),
    /// Check a model's value predictions on a holdout: predict as of the log's end minus
    /// --holdout-days and compare with what the customers did.
    Evaluate(Box<evaluate::EvaluateArgs>),
    /// Serve models over HTTP.
    Serve(Box<ServeArgs>),
    /// Train on the bundled sample (if needed), print the segments, and serve the model.
    Demo(DemoArgs),
    /// Developer tool for benches/compare_sklearn.py: fit k-means on a float64 .npy matrix
    /// exactly as the trainer does and print timings and inertia as JSON.
    #[command(hide = true)]
    BenchKmeans(BenchKmeansArgs),
    /// Developer tool for benches/compare_sklearn.py: read a transaction log and compute
    /// every customer's RFM features exactly as the trainer does; print timings as JSON.
    #[command(hide = true)]
    BenchRfm(BenchRfmArgs),
}

#[derive(Args, Debug)]
pub struct BenchRfmArgs {
    #[arg(long)]
    pub transactions: Vec<PathBuf>,
    #[arg(long = "map", value_name = "FIELD=COLUMN")]
    pub map: Vec<String>,
}

#[derive(Args, Debug)]
pub struct BenchKmeansArgs {
    /// `(n, d)` little-endian float64 C-order .npy file.
    #[arg(long)]
    pub npy: PathBuf,
    #[arg(long)]
    pub k: usize,
    #[arg(long, default_value_t = 10)]
    pub n_init: usize,
    #[arg(long, default_value_t = 300)]
    pub max_iter: u64,
    #[arg(long, default_value_t = 1e-4)]
    pub tol: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// A transaction log (for models with transaction features) or a customer table.
    #[arg(long)]
    pub input: Vec<PathBuf>,
    /// Output CSV (written atomically), or `-` for stdout (messages then go to stderr).
    #[arg(long)]
    pub output: PathBuf,
    /// A CSV for people: cells a spreadsheet would run as a formula (starting with =, +, -,
    /// @, tab or CR, except plain numbers) get a leading ' so they show as text. Without it,
    /// ids are written byte-exact for joins.
    #[arg(long)]
    pub spreadsheet_safe: bool,
    #[command(flatten)]
    pub with: ScoringArgs,
}

/// The model and the input options of a command that scores files with it (`score`,
/// `drift`).
#[derive(Args, Debug)]
pub struct ScoringArgs {
    /// Model folder: models/NAME (its CURRENT version) or models/NAME/vN.
    #[arg(long)]
    pub model: PathBuf,
    /// Customer table with demographics, alongside a transaction log.
    #[arg(long)]
    pub customers: Vec<PathBuf>,
    /// Interaction log, for a model with event features (repeatable).
    #[arg(long = "events", value_name = "PATH")]
    pub events: Vec<PathBuf>,
    /// Column mapping FIELD=COLUMN (the model's own mapping applies first).
    #[arg(long = "map", value_name = "FIELD=COLUMN")]
    pub map: Vec<String>,
    /// Features as of this date (default: day after the last transaction in the input).
    #[arg(long)]
    pub as_of: Option<String>,
    /// How the transaction dates are written, e.g. `%d-%m-%Y` (default: decided per file).
    #[arg(long, value_name = "FMT")]
    pub date_format: Option<String>,
    /// Stop when one reason drops more than this share of the rows (1.0 disables).
    #[arg(long, value_name = "SHARE")]
    pub max_dropped_share: Option<f64>,
    /// Score a customer table without some of the model's feature columns, imputing them
    /// (training median/mode) for every row; without it such a table is an error.
    #[arg(long)]
    pub allow_missing_features: bool,
    /// Model store: `--model NAME[/vN]` is then looked up in it.
    #[arg(long)]
    pub models_dir: Option<PathBuf>,
    /// Read a model whose folder is a symbolic link out of the model store.
    #[arg(long, env = "CUSTSEG_ALLOW_SYMLINKS")]
    pub allow_symlinks: bool,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Model folder: models/NAME (its CURRENT version) or models/NAME/vN.
    #[arg(long)]
    pub model: PathBuf,
    /// Model store: `--model NAME[/vN]` is then looked up in it.
    #[arg(long)]
    pub models_dir: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// SQL dialect (`--format sql`): duckdb, spark, postgres, bigquery or snowflake.
    #[arg(long)]
    pub dialect: Option<String>,
    /// Table the query reads transactions from (`--format sql`), with the training log's
    /// column names.
    #[arg(long, default_value = "transactions")]
    pub transactions_table: String,
    /// Table the query reads customer-table features from (`--format sql`), with the
    /// training table's column names.
    #[arg(long)]
    pub customers_table: Option<String>,
    /// Features as of this date (`--format sql`; default: the model's as-of).
    #[arg(long)]
    pub as_of: Option<String>,
    /// Output file (written atomically; not inside the model's folder), or `-` for stdout.
    #[arg(long)]
    pub output: PathBuf,
    /// Read a model whose folder is a symbolic link out of the model store.
    #[arg(long, env = "CUSTSEG_ALLOW_SYMLINKS")]
    pub allow_symlinks: bool,
}

/// Formats `custseg export` writes.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// PMML 4.4 ClusteringModel (jpmml, pypmml, PMML4S, Spark via jpmml-evaluator-spark).
    Pmml,
    /// One SQL query computing the features and segments inside the engine (`--dialect`).
    Sql,
}

#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    /// TOML file with server settings (flags and environment win).
    #[arg(long, env = "CUSTSEG_SERVER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Model store.
    #[arg(long, env = "CUSTSEG_MODELS_DIR")]
    pub models_dir: Option<PathBuf>,
    /// Listen address (default 127.0.0.1:8080).
    #[arg(long, env = "CUSTSEG_BIND")]
    pub bind: Option<String>,
    /// Model behind POST /v1/score (default `default`).
    #[arg(long, env = "CUSTSEG_DEFAULT_MODEL")]
    pub default_model: Option<String>,
    /// Comma-separated keys that may score.
    #[arg(
        long,
        env = "CUSTSEG_API_KEYS",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub api_keys: Vec<String>,
    /// Comma-separated keys that may also reload.
    #[arg(
        long,
        env = "CUSTSEG_ADMIN_KEYS",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub admin_keys: Vec<String>,
    /// File of `score:KEY` / `admin:KEY` lines.
    #[arg(long, env = "CUSTSEG_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// Allow a non-loopback bind without keys.
    #[arg(long)]
    pub allow_unauthenticated: bool,
    #[arg(long, env = "CUSTSEG_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    #[arg(long, env = "CUSTSEG_MAX_CUSTOMERS")]
    pub max_customers: Option<usize>,
    #[arg(long, env = "CUSTSEG_MAX_TRANSACTIONS")]
    pub max_transactions: Option<usize>,
    #[arg(long, env = "CUSTSEG_MAX_JSON_DEPTH")]
    pub max_json_depth: Option<usize>,
    /// Worker threads (default: one per core).
    #[arg(long, env = "CUSTSEG_WORKERS")]
    pub workers: Option<usize>,
    /// Seconds in-flight requests get on SIGTERM (default 30).
    #[arg(long, env = "CUSTSEG_SHUTDOWN_TIMEOUT")]
    pub shutdown_timeout: Option<u64>,
    /// How often CURRENT files are checked, in ms (default 2000; 0 = only SIGHUP/reload).
    #[arg(long, env = "CUSTSEG_WATCH_INTERVAL_MS")]
    pub watch_interval_ms: Option<u64>,
    /// Largest model.json / metrics.json read, in bytes (default 268435456).
    #[arg(long, env = "CUSTSEG_MAX_MODEL_BYTES")]
    pub max_model_bytes: Option<u64>,
    /// As-of date of requests without `as_of`: `today` (UTC, default) or `model` (the served
    /// model's own as-of date).
    #[arg(long, env = "CUSTSEG_DEFAULT_AS_OF", value_name = "today|model")]
    pub default_as_of: Option<custseg::server::config::DefaultAsOf>,
    /// Largest share of a model's features a customer may leave out (default 0.5).
    #[arg(long, env = "CUSTSEG_MAX_MISSING_SHARE")]
    pub max_missing_share: Option<f64>,
    /// Seconds a client gets to send a request body (default 30; 408 after).
    #[arg(long, env = "CUSTSEG_BODY_TIMEOUT")]
    pub body_timeout: Option<u64>,
    /// Milliseconds a connection gets to send its request head (default 5000).
    #[arg(long, env = "CUSTSEG_HEADER_TIMEOUT_MS")]
    pub header_timeout_ms: Option<u64>,
    /// Bytes of request bodies held at once across connections (default 134217728; 503 over).
    #[arg(long, env = "CUSTSEG_MAX_INFLIGHT_BODY_BYTES")]
    pub max_inflight_body_bytes: Option<usize>,
    /// Scoring threads, apart from the HTTP workers (default: one per core).
    #[arg(long, env = "CUSTSEG_SCORING_THREADS")]
    pub scoring_threads: Option<usize>,
    /// Scoring requests that may wait for a thread (default 256; 503 over).
    #[arg(long, env = "CUSTSEG_SCORING_QUEUE")]
    pub scoring_queue: Option<usize>,
    /// Open connections (default: `ulimit -n` less 64).
    #[arg(long, env = "CUSTSEG_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Also serve /healthz, /readyz and /metrics on this address, with connections of its own.
    #[arg(long, env = "CUSTSEG_HEALTH_BIND")]
    pub health_bind: Option<String>,
    /// Serve model and version folders that are symbolic links out of the model store
    /// (refused by default; links inside it are fine).
    #[arg(long, env = "CUSTSEG_ALLOW_SYMLINKS")]
    pub allow_symlinks: bool,
}

impl ServeArgs {
    /// Defaults, then the file, then environment and flags.
    pub fn into_config(self) -> Result<custseg::server::ServerConfig> {
        let mut c = match &self.config {
            Some(p) => custseg::server::ServerConfig::from_file(p)?,
            None => custseg::server::ServerConfig::default(),
        };
        macro_rules! set {
            ($($flag:ident => $field:ident),* $(,)?) => {
                $(if let Some(v) = self.$flag {
                    c.$field = v;
                })*
            };
        }
        set!(
            models_dir => models_dir,
            bind => bind,
            default_model => default_model,
            max_body_bytes => max_body_bytes,
            max_customers => max_customers,
            max_transactions => max_transactions,
            max_json_depth => max_json_depth,
            workers => workers,
            shutdown_timeout => shutdown_timeout_s,
            watch_interval_ms => watch_interval_ms,
            max_model_bytes => max_model_bytes,
            default_as_of => default_as_of,
            max_missing_share => max_missing_share,
            body_timeout => body_timeout_s,
            header_timeout_ms => header_timeout_ms,
            max_inflight_body_bytes => max_inflight_body_bytes,
            scoring_threads => scoring_threads,
            scoring_queue => scoring_queue,
            max_connections => max_connections,
        );
        if !self.api_keys.is_empty() {
            c.api_keys = self.api_keys;
        }
        if !self.admin_keys.is_empty() {
            c.admin_keys = self.admin_keys;
        }
        if let Some(v) = self.key_file {
            c.key_file = Some(v);
        }
        c.allow_unauthenticated |= self.allow_unauthenticated;
        c.allow_symlinks |= self.allow_symlinks;
        if self.health_bind.is_some() {
            c.health_bind = self.health_bind;
        }
        c.validate()?;
        Ok(c)
    }
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Number of customers.
    #[arg(long)]
    pub customers: u64,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Also write category, channel, country and discount columns, times of day, and
    /// `events.csv` (views, carts, purchases) following shopping personas.
    #[arg(long)]
    pub behaviour: bool,
}

#[derive(Args, Debug, Default)]
pub struct TrainArgs {
    /// Transaction log: a file, a folder of files or a glob (repeatable).
    #[arg(long = "transactions", value_name = "PATH")]
    pub transactions: Vec<PathBuf>,
    /// Customer table: one row per customer (repeatable for split files).
    #[arg(long = "customers", value_name = "PATH")]
    pub customers: Vec<PathBuf>,
    /// Interaction log (views, carts, searches, visits): customer id, timestamp, event,
    /// optional product and category (repeatable).
    #[arg(long = "events", value_name = "PATH")]
    pub events: Vec<PathBuf>,
    /// Segment customers with events but no purchase too (default: left out and counted).
    #[arg(long)]
    pub include_browsers: bool,
    /// Column mapping FIELD=COLUMN (name or 1-based position), repeatable.
    #[arg(long = "map", value_name = "FIELD=COLUMN")]
    pub map: Vec<String>,
    /// Compute features as of this date (default: day after the last transaction).
    #[arg(long)]
    pub as_of: Option<String>,
    /// How the transaction dates are written, e.g. `%d-%m-%Y` (default: decided per file).
    #[arg(long, value_name = "FMT")]
    pub date_format: Option<String>,
    /// Stop when one reason drops more than this share of the rows (default 0.05; 1.0
    /// disables).
    #[arg(long, value_name = "SHARE")]
    pub max_dropped_share: Option<f64>,
    /// Only count transactions in the last N days before --as-of.
    #[arg(long)]
    pub window_days: Option<u32>,
    /// Number of segments, or `auto` (default) to search --k-min..=--k-max.
    #[arg(long)]
    pub k: Option<String>,
    #[arg(long)]
    pub k_min: Option<usize>,
    #[arg(long)]
    pub k_max: Option<usize>,
    /// k-means++ initializations (default 10).
    #[arg(long)]
    pub n_init: Option<usize>,
    /// Random seed (default 0); recorded in the model.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Lloyd iterations per initialization at most (default 300).
    #[arg(long)]
    pub max_iter: Option<u64>,
    /// Convergence tolerance on centroid movement (default 1e-4).
    #[arg(long)]
    pub tol: Option<f64>,
    /// Customers sampled for the k search (default 50000).
    #[arg(long)]
    pub k_sample: Option<usize>,
    /// Customers sampled for the silhouette (default 5000).
    #[arg(long)]
    pub silhouette_sample: Option<usize>,
    /// Keep exact-duplicate transaction lines (default: drop and count them); for logs
    /// without order or line ids, where identical lines can be genuine repeat purchases.
    /// Recorded in the model, so scoring with it does the same.
    #[arg(long)]
    pub keep_duplicates: bool,
    /// Drop transaction lines whose COLUMN matches REGEX in full (repeatable), before any
    /// other rule: e.g. --exclude 'StockCode=POST|M|DOT|AMAZONFEE|BANK CHARGES'. Counted per
    /// filter and recorded in the model, so batch and HTTP scoring drop the same lines.
    #[arg(long, value_name = "COLUMN=REGEX")]
    pub exclude: Vec<String>,
    /// Drop transaction lines whose unit price is below X (needs a unit price column).
    #[arg(long, value_name = "X")]
    pub min_unit_price: Option<f64>,
    /// Predictive value model: bg_nbd (BG/NBD + Gamma-Gamma, default), pareto_nbd or none.
    #[arg(long, value_name = "MODEL")]
    pub value_model: Option<String>,
    /// Days after --as-of that expected orders and predicted CLV cover (default 365).
    #[arg(long, value_name = "DAYS")]
    pub horizon_days: Option<u32>,
    /// Annual discount rate of the predicted CLV (default 0.10).
    #[arg(long, value_name = "RATE")]
    pub discount_rate: Option<f64>,
    /// Keep the last DAYS before --as-of out: train as of --as-of minus DAYS, then check the
    /// value predictions against what the customers did in those days (metrics.json
    /// `holdout`, the report). A backtest: retrain without it for the model you serve.
    #[arg(long, value_name = "DAYS")]
    pub holdout_days: Option<u32>,
    /// TOML config: features, mapping, segment names, training defaults.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Model name (default `default`).
    #[arg(long)]
    pub name: Option<String>,
    /// Model store (default `models`).
    #[arg(long, default_value = "models")]
    pub models_dir: PathBuf,
    /// Save the version without making it CURRENT (the first version is always CURRENT).
    #[arg(long)]
    pub no_promote: bool,
    /// After saving, keep only the newest N versions (CURRENT is always kept).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep: Option<u32>,
}

#[derive(Subcommand, Debug)]
pub enum ModelsCommand {
    /// List model names and versions.
    List(StoreArg),
    /// Show a model version: features, segments, metrics.
    Show {
        /// NAME (its CURRENT version) or NAME/vN.
        model: String,
        #[command(flatten)]
        store: StoreArg,
        /// Print model.json instead of the summary.
        #[arg(long)]
        json: bool,
    },
    /// Make a version CURRENT.
    Promote {
        name: String,
        /// Version such as v3.
        version: String,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Make the version before CURRENT current again.
    Rollback {
        name: String,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Compare two versions: which segments are the same groups, and where the customers
    /// both versions have are under each (migration matrix).
    Diff {
        name: String,
        /// Earlier version such as v3.
        from: String,
        /// Later version such as v4.
        to: String,
        #[command(flatten)]
        store: StoreArg,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Delete all but the newest N versions; the CURRENT version is never deleted.
    Prune {
        name: String,
        /// Versions to keep.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        keep: u32,
        #[command(flatten)]
        store: StoreArg,
    },
}

#[derive(Args, Debug)]
pub struct StoreArg {
    /// Model store.
    #[arg(long, default_value = "models")]
    pub models_dir: PathBuf,
    /// Also read model and version folders that are symbolic links out of the store.
    #[arg(long, env = "CUSTSEG_ALLOW_SYMLINKS")]
    pub allow_symlinks: bool,
}

impl StoreArg {
    fn registry(&self) -> Registry {
        Registry::new(&self.models_dir).allow_symlinks(self.allow_symlinks)
    }
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Model store.
    #[arg(long, default_value = "models")]
    pub models_dir: PathBuf,
    /// Bundled sample folder (default: data/sample of this checkout).
    #[arg(long)]
    pub sample: Option<PathBuf>,
    /// Train a new version even if the current one was trained on this sample.
    #[arg(long)]
    pub retrain: bool,
    /// Address the demo server listens on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Train and print, but do not start the server.
    #[arg(long)]
    pub no_serve: bool,
}

/// Runs a parsed command.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Generate(a) => {
            let g = custseg::generate::generate_with(a.customers, a.seed, &a.out, a.behaviour)?;
            println!(
                "wrote {} customers, {} orders, {} transaction lines to {}",
                g.customers,
                g.orders,
                g.lines,
                a.out.display()
            );
            if a.behaviour {
                println!(
                    "  with category, channel, country, discount and times; events.csv: {} \
                     events, {} customers who browse but never buy",
                    g.events, g.browsers
                );
            }
            Ok(())
        }
        Command::Train(a) => {
            let (name, registry, inputs, params, promote) = prepare_train(&a)?;
            let progress = Progress::auto();
            let previous = registry.previous(&name);
            let mut out = train::train(&inputs, &params, previous.as_ref(), &progress)
                .map_err(|e| flag_hint(e.into()))?;
            if let Some(days) = params.holdout_days {
                evaluate::after_training(&mut out, &inputs, days);
            }
            let (version, dir) = registry.save_with(&name, &mut out, promote, REPORT)?;
            output::print_trained(&out, version, &dir, registry.current(&name)?);
            let cells = custseg::store::assignments_formula_cells(&out);
            if cells > 0 {
                println!(
                    "  {}",
                    formula_warning(cells, &dir.join("assignments.csv").display().to_string())
                );
            }
            if let Some(keep) = a.keep {
                print_pruned(&name, &registry.prune(&name, keep as usize)?);
            }
            Ok(())
        }
        Command::Models(m) => models(m).map_err(flag_hint),
        Command::Score(a) => score(a).map_err(flag_hint),
        Command::Drift(a) => drift::run(*a),
        Command::Export(a) => export(a).map_err(flag_hint),
        Command::Changes(a) => changes::run(*a).map_err(flag_hint),
        Command::Evaluate(a) => evaluate::run(*a).map_err(flag_hint),
        Command::Serve(a) => custseg::server::run(a.into_config()?),
        Command::Demo(a) => demo(a),
        Command::BenchKmeans(a) => bench_kmeans(a),
        Command::BenchRfm(a) => bench_rfm(a),
    }
}

fn bench_rfm(a: BenchRfmArgs) -> Result<()> {
    let t0 = std::time::Instant::now();
    let map = ColumnMap::parse(&a.map).map_err(|e| UsageError(e.to_string()))?;
    let rules = custseg::data::RowRules::default();
    let log = custseg::data::read_transactions(&a.transactions, &map, &rules, &Progress::hidden())?;
    let read_s = t0.elapsed().as_secs_f64();
    let t1 = std::time::Instant::now();
    let as_of = log.last_day + 1;
    let rfm: Vec<[f64; 5]> = log
        .txns
        .iter()
        .filter_map(|t| custseg::features::rfm::compute_rfm(t, as_of, None).map(|r| r.values()))
        .collect();
    let rfm_s = t1.elapsed().as_secs_f64();
    let monetary: f64 = rfm.iter().map(|r| r[2]).sum();
    let frequency: f64 = rfm.iter().map(|r| r[1]).sum();
    println!(
        "{}",
        serde_json::json!({
            "rows_kept": log.cleaning.rows_kept, "customers": rfm.len(),
            "read_s": read_s, "rfm_s": rfm_s, "total_s": t0.elapsed().as_secs_f64(),
            "sum_monetary": monetary, "sum_frequency": frequency,
        })
    );
    Ok(())
}

fn bench_kmeans(a: BenchKmeansArgs) -> Result<()> {
    let t0 = std::time::Instant::now();
    let (values, d) = custseg::npy::read_f64_matrix(&a.npy)?;
    let n = values.len() / d;
    let x = ndarray::Array2::from_shape_vec((n, d), values)?;
    let load_s = t0.elapsed().as_secs_f64();
    if a.k < 1 || a.k > n || a.n_init == 0 {
        return Err(UsageError(format!("need 1 ≤ k ≤ {n} and n_init ≥ 1")).into());
    }
    let t1 = std::time::Instant::now();
    let f = custseg::train::kmeans::fit(x.view(), a.k, a.n_init, a.max_iter, a.tol, a.seed)?;
    let fit_s = t1.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "n": n, "d": d, "k": a.k, "n_init": a.n_init, "seed": a.seed,
            "threads": rayon::current_num_threads(),
            "load_s": load_s, "fit_s": fit_s, "inertia": f.inertia,
            "iterations": f.iterations, "run_inertias": f.run_inertias,
            "total_iterations": f.run_iterations.iter().sum::<u64>(),
        })
    );
    Ok(())
}

/// An ISO 8601 as-of date; `what` names where it came from (`--as-of`, the config key).
fn parse_as_of(raw: &str, what: &str) -> Result<i32, UsageError> {
    custseg::data::dates::parse_iso_date(raw).ok_or_else(|| {
        UsageError(format!(
            "{what} '{raw}': expected an ISO 8601 date, YYYY-MM-DD (e.g. 2011-10-12), or an \
             RFC 3339 date-time such as 2011-10-12T00:00:00Z"
        ))
    })
}

fn parse_date_format(
    raw: &str,
    what: &str,
) -> Result<custseg::data::dates::DateFormat, UsageError> {
    custseg::data::dates::DateFormat::parse(raw).map_err(|e| UsageError(format!("{what}: {e}")))
}

/// Adds the flag that resolves a library error (libraries never name flags).
fn flag_hint(err: anyhow::Error) -> anyhow::Error {
    use custseg::data::DataError;
    let data = err.chain().find_map(|c| {
        c.downcast_ref::<DataError>()
            .or_else(|| c.downcast_ref::<custseg::Error>()?.data_error())
            .or_else(|| c.downcast_ref::<custseg::train::TrainError>()?.data_error())
    });
    let outside = err.chain().any(|c| {
        matches!(
            c.downcast_ref::<custseg::model::ModelError>().or_else(|| {
                match c.downcast_ref::<custseg::Error>() {
                    Some(custseg::Error::Model(m)) => Some(m),
                    _ => None,
                }
            }),
            Some(custseg::model::ModelError::OutsideStore { .. })
        )
    });
    if outside {
        return UsageError(format!(
            "{err:#}; pass --allow-symlinks (or set CUSTSEG_ALLOW_SYMLINKS=true) to read it anyway"
        ))
        .into();
    }
    let train = err
        .chain()
        .find_map(|c| c.downcast_ref::<custseg::train::TrainError>());
    if let Some(flags) = train.and_then(train_flags) {
        return UsageError(format!("{err:#} (set with {flags})")).into();
    }
    let hint = match data {
        Some(DataError::NoEvents { .. }) => "pass the interaction log with --events PATH".to_string(),
        Some(DataError::Events(_)) => {
            "events files are read by --events PATH; their columns are mapped with --map \
             events.FIELD=COLUMN (customer_id, timestamp, event, product, category)"
                .to_string()
        }
        Some(
            DataError::MissingColumn { .. }
            | DataError::UnknownField { .. }
            | DataError::BadMapArg { .. },
        ) => "columns are mapped with --map FIELD=COLUMN or in the config's [map]".to_string(),
        Some(DataError::DateOrder { .. }) => {
            "pass --date-format FMT (e.g. --date-format %d-%m-%Y), or set date_format in the config's [map]".to_string()
        }
        Some(DataError::TooManyDropped { .. }) => {
            "fix the input or --map, or raise --max-dropped-share (1.0 disables the check)"
                .to_string()
        }
        Some(DataError::MissingFeatures { missing, .. }) => {
            let maps: Vec<String> = missing
                .iter()
                .filter_map(|(f, c)| c.as_ref().map(|c| format!("--map {f}={c}")))
                .collect();
            let rename = if maps.is_empty() {
                String::new()
            } else {
                format!("rename the column or pass {}; ", maps.join(" "))
            };
            format!("{rename}pass --allow-missing-features to impute them on purpose")
        }
        _ => return err,
    };
    UsageError(format!("{err:#}; {hint}")).into()
}

/// The flags behind a training parameter error.
fn train_flags(e: &custseg::train::TrainError) -> Option<&'static str> {
    use custseg::train::TrainError as E;
    Some(match e {
        E::KRangeInverted { .. } => {
            "--k-min and --k-max, or k_min and k_max in the config's [train]"
        }
        E::NInitZero => "--n-init",
        E::MaxIterZero => "--max-iter",
        E::BadTolerance { .. } => "--tol",
        E::WindowZero => "--window-days",
        E::NoInputs => "--transactions and/or --customers",
        E::EventsWithoutTransactions => "--transactions beside --events",
        E::KTooSmall { .. } => "--k",
        E::SampleTooSmall {
            what: "k_sample", ..
        } => "--k-sample",
        E::SampleTooSmall { .. } => "--silhouette-sample",
        E::BadHorizon { .. } => "--horizon-days",
        E::BadDiscountRate { .. } => "--discount-rate",
        E::HoldoutZero => "--holdout-days",
        _ => return None,
    })
}

/// `--exclude` and `--min-unit-price` (the config's `exclude` and `min_unit_price` when no
/// flag is given), checked: a bad pattern or price is a usage error naming the flag.
fn row_filters(a: &TrainArgs, t: &config::TrainSection) -> Result<custseg::data::RowFilters> {
    let (raw, flag) = if a.exclude.is_empty() && !t.exclude.is_empty() {
        (t.exclude.clone(), "exclude in the config's [train]")
    } else {
        (a.exclude.clone(), "--exclude")
    };
    let mut filters = custseg::data::RowFilters::default();
    for arg in &raw {
        let Some((column, pattern)) = arg.split_once('=') else {
            anyhow::bail!(UsageError(format!("{flag} '{arg}': expected COLUMN=REGEX")));
        };
        filters.exclude.push(custseg::data::Exclude {
            column: column.trim().to_string(),
            pattern: pattern.to_string(),
        });
    }
    let (price, price_flag) = match (a.min_unit_price, t.min_unit_price) {
        (Some(p), _) => (Some(p), "--min-unit-price"),
        (None, p) => (p, "min_unit_price in the config's [train]"),
    };
    filters.min_unit_price = price;
    match custseg::data::RowRules::new(false, filters.clone()) {
        Ok(_) => Ok(filters),
        Err(e @ custseg::data::FilterError::BadMinUnitPrice { .. }) => {
            Err(UsageError(format!("{price_flag}: {e}")).into())
        }
        Err(e) => Err(UsageError(format!("{flag}: {e}")).into()),
    }
}

fn parse_k(raw: &str) -> Result<Option<usize>, UsageError> {
    if raw.eq_ignore_ascii_case("auto") {
        return Ok(None);
    }
    raw.parse()
        .map(Some)
        .map_err(|_| UsageError(format!("--k '{raw}': expected a number or 'auto'")))
}

type Prepared = (String, Registry, TrainInputs, train::TrainValidParams, bool);

/// Merges flags over the config file and validates everything before any data is read.
pub fn prepare_train(a: &TrainArgs) -> Result<Prepared> {
    let cfg = match &a.config {
        Some(p) => ConfigFile::load(p)?,
        None => ConfigFile::default(),
    };
    let t = &cfg.train;
    let k_raw = a.k.clone().or_else(|| t.k.clone());
    let fixed = match k_raw.as_deref() {
        Some(raw) => parse_k(raw)?,
        None => None,
    };
    let k = match fixed {
        Some(k) => KChoice::Fixed(k),
        None => KChoice::Auto {
            min: a.k_min.or(t.k_min).unwrap_or(2),
            max: a.k_max.or(t.k_max).unwrap_or(10),
        },
    };
    let as_of = match (&a.as_of, &t.as_of) {
        (Some(raw), _) => Some(parse_as_of(raw, "--as-of")?),
        (None, Some(raw)) => Some(parse_as_of(raw, "as_of in the config")?),
        (None, None) => None,
    };
    let defaults = TrainParams::new().check()?;
    let params = TrainParams::new()
        .k(k)
        .n_init(a.n_init.or(t.n_init).unwrap_or(defaults.n_init))
        .seed(a.seed.or(t.seed).unwrap_or(defaults.seed))
        .max_iter(a.max_iter.or(t.max_iter).unwrap_or(defaults.max_iter))
        .tol(a.tol.or(t.tol).unwrap_or(defaults.tol))
        .as_of(as_of)
        .window_days(a.window_days.or(t.window_days))
        .k_sample(a.k_sample.or(t.k_sample).unwrap_or(defaults.k_sample))
        .silhouette_sample(
            a.silhouette_sample
                .or(t.silhouette_sample)
                .unwrap_or(defaults.silhouette_sample),
        )
        .max_dropped_share(
            a.max_dropped_share
                .or(t.max_dropped_share)
                .unwrap_or(defaults.max_dropped_share),
        )
        .keep_duplicates(a.keep_duplicates || t.keep_duplicates.unwrap_or(false))
        .filters(row_filters(a, t)?)
        .value(value_params(a, t)?)
        .holdout_days(a.holdout_days.or(t.holdout_days))
        .check()
        .map_err(|e| match e {
            custseg::train::TrainError::BadDroppedShare { share } => UsageError(format!(
                "--max-dropped-share {share}: expected a share between 0 and 1 (1 disables the check)"
            ))
            .into(),
            e => flag_hint(e.into()),
        })?;
    let mut pairs: Vec<String> = cfg
        .map
        .iter()
        .filter(|(f, _)| f.as_str() != config::DATE_FORMAT_KEY)
        .map(|(f, c)| format!("{f}={c}"))
        .collect();
    pairs.extend(a.map.iter().cloned());
    let mut map = ColumnMap::parse(&pairs)?;
    map.date_format = match (&a.date_format, cfg.map.get(config::DATE_FORMAT_KEY)) {
        (Some(f), _) => Some(parse_date_format(f, "--date-format")?),
        (None, Some(f)) => Some(parse_date_format(f, "date_format in the config's [map]")?),
        (None, None) => None,
    };
    let name = a
        .name
        .clone()
        .or_else(|| t.name.clone())
        .unwrap_or_else(|| "default".into());
    custseg::store::check_name(&name)?;
    let inputs = TrainInputs {
        transactions: a.transactions.clone(),
        customers: a.customers.clone(),
        map,
        features: cfg.feature_config(),
        segment_names: cfg.segments.names.clone(),
        playbooks: cfg.segments.playbooks.clone(),
        value_feature: cfg.segments.value_feature.clone(),
        tier_by_predicted_clv: cfg.segments.tier_by == Some(config::TierBy::PredictedClv),
        events: a.events.clone(),
        include_browsers: a.include_browsers || t.include_browsers.unwrap_or(false),
    };
    if inputs.transactions.is_empty() && inputs.customers.is_empty() {
        return Err(UsageError("give --transactions PATH and/or --customers PATH".into()).into());
    }
    Ok((
        name,
        Registry::new(&a.models_dir),
        inputs,
        params,
        !a.no_promote,
    ))
}

/// The value model from the flags, then the config, then the defaults.
fn value_params(a: &TrainArgs, t: &config::TrainSection) -> Result<custseg::train::ValueParams> {
    let defaults = custseg::train::ValueParams::default();
    let kind = match (&a.value_model, &t.value_model) {
        (Some(v), _) => Some((v, "--value-model")),
        (None, Some(v)) => Some((v, "value_model in the config")),
        (None, None) => None,
    };
    let kind = match kind {
        None => defaults.kind,
        Some((v, what)) => custseg::train::ValueKind::parse(v).ok_or_else(|| {
            UsageError(format!("{what} '{v}': expected bg_nbd, pareto_nbd or none"))
        })?,
    };
    Ok(custseg::train::ValueParams {
        kind,
        horizon_days: a
            .horizon_days
            .or(t.horizon_days)
            .unwrap_or(defaults.horizon_days),
        discount_rate: a
            .discount_rate
            .or(t.discount_rate)
            .unwrap_or(defaults.discount_rate),
    })
}

fn models(cmd: ModelsCommand) -> Result<()> {
    match cmd {
        ModelsCommand::List(s) => {
            let reg = s.registry();
            let list = reg.list()?;
            if list.is_empty() {
                println!("no models in {}", s.models_dir.display());
            }
            for m in list {
                let versions: Vec<String> = m
                    .versions
                    .iter()
                    .map(|v| {
                        if Some(*v) == m.current {
                            format!("v{v}*")
                        } else {
                            format!("v{v}")
                        }
                    })
                    .collect();
                println!("{:<24} {}", m.name, versions.join(" "));
            }
            if !reg.list()?.is_empty() {
                println!("(* = CURRENT)");
            }
            Ok(())
        }
        ModelsCommand::Show { model, store, json } => {
            let reg = store.registry();
            let (_, _, dir) = reg.resolve(&model)?;
            let m = custseg::Model::load(&dir)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&m.file)?);
                return Ok(());
            }
            let metrics: Option<custseg::model::Metrics> = std::fs::read(dir.join("metrics.json"))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            output::print_model(&m, metrics.as_ref(), &dir);
            Ok(())
        }
        ModelsCommand::Promote {
            name,
            version,
            store,
        } => {
            let reg = store.registry();
            let v = version
                .trim_start_matches('v')
                .parse::<u32>()
                .map_err(|_| UsageError(format!("version '{version}': expected vN")))?;
            reg.set_current(&name, v)?;
            println!("{name}: CURRENT is now v{v}");
            Ok(())
        }
        ModelsCommand::Rollback { name, store } => {
            let reg = store.registry();
            let current = reg
                .current(&name)?
                .ok_or_else(|| UsageError(format!("model '{name}' has no CURRENT version")))?;
            let previous = reg
                .versions(&name)?
                .into_iter()
                .rfind(|v| *v < current)
                .ok_or_else(|| UsageError(format!("{name}: no version before v{current}")))?;
            reg.set_current(&name, previous)?;
            println!("{name}: CURRENT rolled back from v{current} to v{previous}");
            Ok(())
        }
        ModelsCommand::Diff {
            name,
            from,
            to,
            store,
            json,
        } => {
            let d = diff::compute(&store.registry(), &name, &from, &to)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&d)?);
            } else {
                diff::print(&d);
            }
            Ok(())
        }
        ModelsCommand::Prune { name, keep, store } => {
            let reg = store.registry();
            print_pruned(&name, &reg.prune(&name, keep as usize)?);
            Ok(())
        }
    }
}

fn print_pruned(name: &str, removed: &[u32]) {
    if removed.is_empty() {
        println!("{name}: nothing to prune");
    } else {
        let list: Vec<String> = removed.iter().map(|v| format!("v{v}")).collect();
        println!("{name}: removed {}", list.join(" "));
    }
}

fn sample_dir(given: Option<PathBuf>) -> PathBuf {
    given.unwrap_or_else(|| {
        let local = PathBuf::from("data/sample");
        if local.join("transactions.csv").is_file() {
            local
        } else {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample")
        }
    })
}

fn demo(a: DemoArgs) -> Result<()> {
    let sample = sample_dir(a.sample);
    let tx = sample.join("transactions.csv");
    let cu = sample.join("customers.csv");
    if !tx.is_file() || !cu.is_file() {
        anyhow::bail!(UsageError(format!(
            "{}: bundled sample not found (expected transactions.csv and customers.csv)",
            sample.display()
        )));
    }
    let reg = Registry::new(&a.models_dir);
    let reuse = if a.retrain {
        None
    } else {
        current_trained_on(&reg, "default", &[&tx, &cu])
    };
    let (version, dir) = match reuse {
        Some(found) => {
            println!("Model 'default' v{} was already trained on this sample (use --retrain for a new version).", found.0);
            found
        }
        None => {
            let config = sample.join("demo.toml");
            let args = TrainArgs {
                transactions: vec![tx.clone()],
                customers: vec![cu.clone()],
                config: config.is_file().then_some(config),
                models_dir: a.models_dir.clone(),
                name: Some("default".into()),
                ..Default::default()
            };
            let (name, registry, inputs, params, promote) = prepare_train(&args)?;
            let previous = registry.previous(&name);
            let mut out = train::train(&inputs, &params, previous.as_ref(), &Progress::auto())?;
            let (version, dir) = registry.save_with(&name, &mut out, promote, REPORT)?;
            println!(
                "Trained model 'default' v{version} on {} in {:.1} s.",
                sample.display(),
                out.metrics.timings.total_s
            );
            (version, dir)
        }
    };
    let model = custseg::Model::load(&dir).with_context(|| format!("loading {}", dir.display()))?;
    println!();
    output::print_segment_table(&model.file);
    println!();
    output::print_value_table(&model.file);
    println!();
    output::print_name_reasons(&model.file);
    println!();
    println!("Model files: {}", dir.display());
    println!("Report:      {}", dir.join("report.html").display());
    println!("Inspect:     cargo run --release -- models show default/v{version}");
    if a.no_serve {
        return Ok(());
    }
    custseg::server::run_with(
        custseg::server::ServerConfig {
            bind: a.bind,
            models_dir: a.models_dir,
            ..Default::default()
        },
        |addrs| {
            if let Some(addr) = addrs.first() {
                println!();
                println!("Scoring server is up; try (Ctrl-C stops it):");
                println!();
                println!(
                    "curl -s http://{addr}/v1/score -H 'Content-Type: application/json' -d '{}'",
                    demo_body()
                );
                println!();
            }
        },
    )
}

/// A request body for the demo model: one customer by features, one by raw transactions.
fn demo_body() -> String {
    serde_json::json!({
        "as_of": "2026-07-01",
        "customers": [
            {"customer_id": "c1", "recency_days": 12, "frequency": 9, "monetary": 1420.5,
             "avg_order_value": 157.8, "tenure_days": 610, "age": 41, "gender": "F",
             "annual_income": 72000, "occupation": "Manager", "region": "North", "signup_channel": "app"},
            {"customer_id": "c2", "age": 29, "gender": "M", "region": "West",
             "transactions": [
                {"date": "2025-03-02", "amount": 35.0, "order_id": "o1"},
                {"date": "2025-05-17", "amount": 20.0, "order_id": "o2"}]}
        ]
    })
    .to_string()
}

/// The model version folder `--model` names: a version folder, a model folder (its CURRENT
/// version), or `NAME[/vN]` in `--models-dir`. A path that is no folder says where it looked
/// and suggests `models/NAME` when that exists.
/// Folders of a model store (`STORE/NAME/vN`) are checked by the store's rules, so a
/// symbolic link out of it is refused unless `allow_symlinks`.
fn resolve_model_path(
    path: &Path,
    models_dir: Option<&Path>,
    allow_symlinks: bool,
) -> Result<PathBuf> {
    let store = |root: &Path| Registry::new(root).allow_symlinks(allow_symlinks);
    if let Some(root) = models_dir.filter(|_| !path.join("model.json").is_file()) {
        let spec = path
            .to_str()
            .ok_or_else(|| UsageError(format!("--model {}: not a model name", path.display())))?;
        let (_, _, dir) = store(root).resolve(spec)?;
        return Ok(dir);
    }
    if path.join("model.json").is_file() {
        // A version folder of a store: STORE/NAME/vN.
        let parts = (|| {
            let v = path.file_name()?.to_str()?.strip_prefix('v')?;
            v.parse::<u32>().ok()?;
            let model = path.parent()?;
            let name = model.file_name()?.to_str()?;
            custseg::store::check_name(name).ok()?;
            Some((model.parent()?, format!("{name}/v{v}")))
        })();
        if let Some((root, spec)) = parts {
            store(root).resolve(&spec)?;
        }
        return Ok(path.to_path_buf());
    }
    if !path.is_dir() {
        let looked = std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf());
        let mut msg = format!(
            "--model {}: no model folder {}",
            path.display(),
            looked.display()
        );
        let guess = Path::new("models").join(path);
        if path.is_relative() && guess.is_dir() {
            msg.push_str(&format!(
                "; {} exists: use --model {} (or --models-dir models --model {})",
                guess.display(),
                guess.display(),
                path.display()
            ));
        } else {
            msg.push_str(" (give models/NAME, models/NAME/vN, or NAME with --models-dir DIR)");
        }
        anyhow::bail!(UsageError(msg));
    }
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| UsageError(format!("--model {}: not a model folder", path.display())))?;
    let root = path.parent().unwrap_or(Path::new("."));
    let (_, _, dir) = store(root).resolve(name)?;
    Ok(dir)
}

/// Loud warnings for imputation a batch run did on purpose or found in the file.
fn print_imputed(model: &custseg::Model, s: &custseg::score::batch::BatchSummary) {
    if !s.missing_columns.is_empty() {
        eprintln!(
            "warning: no column for {}: imputed with the training median/mode for every row (--allow-missing-features)",
            s.missing_columns.join(", ")
        );
    }
    let counts: Vec<String> = model
        .file
        .features
        .features
        .iter()
        .zip(&s.imputed_rows)
        .filter(|(_, n)| **n > 0)
        .map(|(f, n)| format!("{} {n}", f.name))
        .collect();
    if !counts.is_empty() {
        eprintln!(
            "warning: rows with an imputed value, per feature: {}",
            counts.join(", ")
        );
    }
}

/// `--map` pairs and `--date-format` of a command that reads data for a model.
fn scoring_map(pairs: &[String], date_format: Option<&str>) -> Result<ColumnMap> {
    let mut map = ColumnMap::parse(pairs)?;
    map.date_format = date_format
        .map(|f| parse_date_format(f, "--date-format"))
        .transpose()?;
    Ok(map)
}

/// The model and the batch input of a scoring command, checked; `input` is what is scored.
fn scoring_input(
    a: ScoringArgs,
    input: Vec<PathBuf>,
) -> Result<(custseg::Model, custseg::score::batch::BatchInput)> {
    let dir = resolve_model_path(&a.model, a.models_dir.as_deref(), a.allow_symlinks)?;
    let model = custseg::Model::load(&dir)?;
    let map = scoring_map(&a.map, a.date_format.as_deref())?;
    if let Some(share) = a.max_dropped_share.filter(|s| !(0.0..=1.0).contains(s)) {
        anyhow::bail!(UsageError(format!(
            "--max-dropped-share {share}: expected a share between 0 and 1 (1 disables the check)"
        )));
    }
    let input = custseg::score::batch::BatchInput {
        input,
        customers: a.customers,
        events: a.events,
        map,
        as_of: a
            .as_of
            .as_deref()
            .map(|raw| parse_as_of(raw, "--as-of"))
            .transpose()?,
        max_dropped_share: a.max_dropped_share,
        allow_missing_features: a.allow_missing_features,
        spreadsheet_safe: false,
    };
    Ok((model, input))
}

fn score(a: ScoreArgs) -> Result<()> {
    if a.input.is_empty() {
        anyhow::bail!(UsageError("give --input PATH".into()));
    }
    let (model, mut input) = scoring_input(a.with, a.input)?;
    input.spreadsheet_safe = a.spreadsheet_safe;
    let to_stdout = is_stdout(&a.output);
    let s = if to_stdout {
        let mut out = std::io::stdout().lock();
        custseg::score::batch::score_to(
            &model,
            &input,
            &mut out,
            Path::new("<stdout>"),
            &Progress::auto(),
        )
    } else {
        custseg::score::batch::score_files(&model, &input, &a.output, &Progress::auto())
    }
    .map_err(|e| flag_hint(e.into()))?;
    print_imputed(&model, &s);
    // With the CSV on stdout, every message goes to stderr.
    let mut say: Box<dyn std::io::Write> = if to_stdout {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    };
    let shown = match to_stdout {
        true => "stdout".to_string(),
        false => a.output.display().to_string(),
    };
    print_scored(&mut say, &model, &s, &shown, a.spreadsheet_safe)
        .context("writing the summary")?;
    Ok(())
}

/// The summary of a batch run.
fn print_scored(
    say: &mut dyn std::io::Write,
    model: &custseg::Model,
    s: &custseg::score::batch::BatchSummary,
    output: &str,
    spreadsheet_safe: bool,
) -> std::io::Result<()> {
    writeln!(
        say,
        "scored {} customers with {} v{} -> {}",
        s.scored, model.file.name, model.file.version, output
    )?;
    if s.ids_numbered {
        writeln!(say, "  warning: the input has no customer id column: rows are numbered 1, 2, … as ids, as in training (name one with --map customer_id=COLUMN)")?;
    }
    if s.formula_cells > 0 && !spreadsheet_safe {
        writeln!(say, "  {}", formula_warning(s.formula_cells, output))?;
    }
    if let Some(as_of) = &s.as_of {
        writeln!(
            say,
            "  as of {as_of}; {} customers without a purchase before it (written with an empty segment and the warning no_purchases)",
            s.no_purchase
        )?;
    }
    if let Some(c) = &s.cleaning {
        writeln!(say, "  transactions: {}", c.summary())?;
    }
    writeln!(
        say,
        "  {} customers with warnings (see the warnings column)",
        s.with_warnings
    )?;
    for (seg, n) in model.file.segments.iter().zip(&s.per_segment) {
        writeln!(say, "  {:>3}  {:<24} {n}", seg.id, seg.name)?;
    }
    Ok(())
}

/// The warning for a machine CSV with cells a spreadsheet would run as formulas: their count
/// and the file, never the cells themselves (they are customer ids).
fn formula_warning(cells: u64, file: &str) -> String {
    format!(
        "warning: {cells} cells of {file} start with =, +, -, @, tab or CR and are written exactly (for joins); a spreadsheet may run them as formulas: for a copy to open in one, use custseg score --spreadsheet-safe"
    )
}

/// The one rule for `--output -`: standard output.
fn is_stdout(path: &Path) -> bool {
    path == Path::new("-")
}

fn export(a: ExportArgs) -> Result<()> {
    let dir = resolve_model_path(&a.model, a.models_dir.as_deref(), a.allow_symlinks)?;
    let model = custseg::Model::load(&dir)?;
    let (text, what) = match a.format {
        ExportFormat::Pmml => (export_pmml(&model.file, &dir)?, "PMML 4.4".to_string()),
        ExportFormat::Sql => export_sql(&a, &model.file)?,
    };
    if is_stdout(&a.output) {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .context("writing to stdout")?;
        return Ok(());
    }
    // Model folders are immutable: never write into one (any version of this model).
    let model_root = match dir.parent() {
        Some(p) if p.file_name() == Some(model.file.name.as_ref()) => p,
        _ => &dir,
    };
    if custseg::export::is_inside(&a.output, model_root) {
        anyhow::bail!(UsageError(format!(
            "--output {}: is inside the model folder {}; model folders are never written into",
            a.output.display(),
            model_root.display()
        )));
    }
    custseg::export::write_atomic(&a.output, text.as_bytes())?;
    println!(
        "exported {} v{} ({} segments, {} scaled columns) as {what} -> {}",
        model.file.name,
        model.file.version,
        model.file.centroids.len(),
        model.file.features.n_columns(),
        a.output.display()
    );
    Ok(())
}

fn export_pmml(model: &custseg::model::ModelFile, dir: &Path) -> Result<String> {
    custseg::export::pmml(model).map_err(|e| {
        custseg::model::ModelError::Invalid {
            path: dir.join("model.json"),
            reason: format!("cannot export as PMML: {e}"),
        }
        .into()
    })
}

/// The query of `--format sql` and what it is (`DuckDB SQL`); a dialect that is missing or
/// unknown, a bad `--as-of` and a model the query cannot express are usage errors.
fn export_sql(a: &ExportArgs, model: &custseg::model::ModelFile) -> Result<(String, String)> {
    use custseg::export::{Dialect, SqlOptions};
    let names = Dialect::ALL.map(Dialect::name).join(", ");
    let raw = a
        .dialect
        .as_deref()
        .ok_or_else(|| UsageError(format!("--format sql needs --dialect (one of {names})")))?;
    let dialect = Dialect::from_name(raw)
        .ok_or_else(|| UsageError(format!("--dialect {raw}: unknown; expected one of {names}")))?;
    let as_of = a
        .as_of
        .as_deref()
        .map(|s| parse_as_of(s, "--as-of"))
        .transpose()?;
    let opts = SqlOptions {
        dialect,
        transactions_table: a.transactions_table.clone(),
        customers_table: a.customers_table.clone(),
        as_of,
    };
    let query = custseg::export::sql(model, &opts).map_err(|e| {
        let hint = match e {
            custseg::export::SqlError::NeedsCustomersTable { .. } => " (--customers-table)",
            custseg::export::SqlError::NoAsOf => " (--as-of)",
            _ => "",
        };
        UsageError(format!("cannot export as SQL: {e}{hint}"))
    })?;
    Ok((query, format!("{} SQL", dialect.name())))
}

/// The CURRENT version of `name` if it was trained on exactly these files (same bytes).
fn current_trained_on(reg: &Registry, name: &str, files: &[&Path]) -> Option<(u32, PathBuf)> {
    let (_, v, dir) = reg.resolve(name).ok()?;
    let m = custseg::Model::load(&dir).ok()?;
    let recorded: Vec<&str> = m
        .file
        .input
        .transactions
        .iter()
        .chain(&m.file.input.customers)
        .map(|f| f.sha256.as_str())
        .collect();
    let now: Vec<String> = files
        .iter()
        .map(|p| custseg::data::source::hash_file(p).map(|h| h.0))
        .collect::<Result<_, _>>()
        .ok()?;
    (recorded == now.iter().map(String::as_str).collect::<Vec<_>>()).then_some((v, dir))
}
