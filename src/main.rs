//! The `custseg` binary: parse arguments, run, print errors with their causes, and exit with
//! 0 (ok), 2 (bad usage or input), 3 (`drift --fail-on` reached) or 1 (anything else).

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if cause.downcast_ref::<cli::drift::VerdictReached>().is_some() {
            return 3;
        }
        if let Some(e) = cause.downcast_ref::<custseg::Error>() {
            return if e.is_user_error() { 2 } else { 1 };
        }
        if let Some(e) = cause.downcast_ref::<custseg::train::TrainError>() {
            return if e.is_user_error() { 2 } else { 1 };
        }
        if cause.downcast_ref::<cli::UsageError>().is_some()
            || cause.downcast_ref::<custseg::data::DataError>().is_some()
            || cause
                .downcast_ref::<custseg::features::FeatureError>()
                .is_some()
        {
            return 2;
        }
        if cause
            .downcast_ref::<custseg::server::config::ConfigError>()
            .is_some()
        {
            return 2;
        }
        if let Some(e) = cause.downcast_ref::<custseg::changes::ChangesError>() {
            return if e.is_user_error() { 2 } else { 1 };
        }
        if let Some(e) = cause.downcast_ref::<custseg::model::ModelError>() {
            return if e.is_user_error() { 2 } else { 1 };
        }
    }
    1
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colour only for a terminal: log files and collectors get plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CUSTSEG_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = cli::Cli::parse();
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(exit_code(&err))
        }
    }
}
