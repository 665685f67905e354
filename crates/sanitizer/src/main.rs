//! `sanitizer`: the Fargate task that sanitizes a temp database and gates it on verification
//! queries. Logs go to stderr as JSON; the summary is the only thing on stdout. Exit code 0
//! means the pipeline may snapshot; anything else means it must not.

use std::io::Write;
use std::process::ExitCode;

use sluice_runtime::config::Env;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .with_env_filter(filter())
        .init();
    let env = Env::from_process();
    let summary = sluice_sanitizer::task::run_task(&env).await;
    tracing::info!(outcome = ?summary.outcome, "finished");
    let json = serde_json::to_string(&summary)
        .unwrap_or_else(|e| format!("{{\"outcome\":\"failed\",\"error\":\"summary: {e}\"}}"));
    let mut out = std::io::stdout().lock();
    let written = writeln!(out, "{json}").and_then(|()| out.flush());
    // The pipeline attests the snapshot from this copy: without it, no snapshot.
    let stored = sluice_sanitizer::task::write_summary(&env, &json).await;
    if let Err(why) = &stored {
        tracing::error!(error = %why, "summary not stored");
    }
    if summary.ok() && written.is_ok() && stored.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `RUST_LOG` (default `info`), but the database drivers never below `info`: at `debug`
/// they log bound parameters, which are the leak check's sampled production values.
fn filter() -> EnvFilter {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    ["tokio_postgres=info", "mysql_async=info"]
        .into_iter()
        .filter_map(|d| d.parse().ok())
        .fold(filter, EnvFilter::add_directive)
}
