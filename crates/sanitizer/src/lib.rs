//! The sanitizer task: runs a sanitizing SQL script on a temp database restored from a
//! snapshot, then a verification gate, and reports a JSON summary on stdout.
//!
//! Flow: [`config::Config`] from the environment → credentials from the RDS-managed secret
//! and the script from S3 or inline ([`aws`]) → [`script::parse`] → a [`run::Session`] per
//! engine ([`pg`] with [`pg_message`], [`mysql`] with [`mysql_message`], both
//! over [`redact`] and [`tls`]) → [`run::run`] (with the [`leak`] check over the
//! [`catalog`], its [`detect`] detectors and the script's [`directive`] lists) →
//! [`summary::Summary`]. With `SANITIZER_MODE=validate`, [`validate::validate`] runs instead
//! of [`run::run`]: the gate alone, read-only (AWS Backup restore testing). Any failure, including a verification query that returns rows or a
//! leak the check finds, exits non-zero, and the pipeline then neither snapshots nor shares.

pub mod aws;
pub mod catalog;
pub mod config;
pub mod detect;
pub mod directive;
pub mod engine;
pub mod leak;
pub mod mysql;
pub mod mysql_message;
pub mod pg;
pub mod pg_message;
pub mod redact;
pub mod run;
pub mod script;
pub mod summary;
pub mod task;
pub mod tls;
pub mod validate;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::Config;
use crate::engine::{Engine, Family, Mode, TlsMode};
use crate::run::RunOptions;
use crate::summary::Summary;

/// Database user and password from the secret. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// Where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Engine.
    pub engine: Engine,
    /// Host.
    pub endpoint: String,
    /// Port.
    pub port: u16,
    /// Database name.
    pub database: String,
    /// TLS mode.
    pub tls: TlsMode,
    /// CA bundle for `verify-full`.
    pub ca_bundle: Option<PathBuf>,
}

impl From<&Config> for Target {
    fn from(c: &Config) -> Self {
        Self {
            engine: c.engine,
            endpoint: c.endpoint.clone(),
            port: c.port,
            database: c.database.clone(),
            tls: c.tls,
            ca_bundle: c.ca_bundle.clone(),
        }
    }
}

/// Parses the script (plus inline verification queries), connects and runs it. The summary
/// never holds the password.
pub async fn sanitize(config: &Config, creds: &Credentials, script_text: &str) -> Summary {
    let family = config.engine.family();
    let mut summary = match plan(script_text, config.verify.as_deref(), family) {
        Err(e) => {
            let mut s = Summary::new(config.dry_run);
            s.fail(&e.to_string());
            s
        }
        Ok(plan) => {
            let target = Target::from(config);
            let opts = RunOptions {
                family,
                dry_run: config.dry_run,
                statement_timeout: Duration::from_secs(config.statement_timeout_seconds),
                leak: config.leak.clone(),
            };
            tracing::info!(
                engine = %config.engine,
                endpoint = %config.endpoint,
                database = %config.database,
                statements = plan.statements.len(),
                verification_queries = plan.verify.len(),
                dry_run = config.dry_run,
                mode = ?config.mode,
                tls = ?config.tls,
                "connecting"
            );
            let connected = match family {
                Family::Postgres => match pg::PgSession::connect(&target, creds).await {
                    Ok(mut s) => Ok(run_mode(&mut s, &plan, opts, config.mode).await),
                    Err(e) => Err(e),
                },
                Family::Mysql => match mysql::MySession::connect(&target, creds).await {
                    Ok(mut s) => Ok(run_mode(&mut s, &plan, opts, config.mode).await),
                    Err(e) => Err(e),
                },
            };
            connected.unwrap_or_else(|e| {
                let mut s = Summary::new(config.dry_run);
                s.fail(&format!(
                    "connecting to {}:{}: {e}",
                    config.endpoint, config.port
                ));
                s
            })
        }
    };
    summary.engine = Some(config.engine.name().to_owned());
    summary.database = Some(config.database.clone());
    summary.redact(&creds.password);
    summary
}

/// Sanitizes (statements, then the gate) or only validates, read-only.
async fn run_mode<S: run::Session>(
    session: &mut S,
    plan: &script::Plan,
    opts: RunOptions,
    mode: Mode,
) -> Summary {
    match mode {
        Mode::Sanitize => run::run(session, plan, opts).await,
        Mode::Validate => validate::validate(session, plan, opts).await,
    }
}

/// The script's statements and verification queries, plus inline verification queries.
pub fn plan(
    script_text: &str,
    inline_verify: Option<&str>,
    family: Family,
) -> Result<script::Plan, script::ScriptError> {
    let mut plan = script::parse(script_text, family)?;
    if let Some(extra) = inline_verify {
        plan.verify.extend(script::split_statements(extra, family)?);
    }
    Ok(plan)
}
