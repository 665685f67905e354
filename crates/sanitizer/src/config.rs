//! The task's settings, from environment variables read once at start.
//!
//! The task gets only the ARN of the RDS-managed secret (`{"username", "password"}`); the
//! password is fetched at run time and never enters the environment, logs or the summary.
//!
//! | variable | meaning |
//! |---|---|
//! | `SANITIZER_ENDPOINT` | database host (required) |
//! | `SANITIZER_PORT` | port (default 5432 for PostgreSQL engines, 3306 for MySQL engines) |
//! | `SANITIZER_ENGINE` | `postgres`, `aurora-postgresql`, `mysql`, `mariadb`, `aurora-mysql` (required) |
//! | `SANITIZER_DATABASE` | database name (required) |
//! | `SANITIZER_SECRET_ARN` | Secrets Manager secret with `username` and `password` (required) |
//! | `SANITIZER_SCRIPT` | the script, inline (this or `SANITIZER_SCRIPT_URI`) |
//! | `SANITIZER_SCRIPT_URI` | the script at `s3://bucket/key` |
//! | `SANITIZER_SCRIPT_SHA256` | the script's SHA-256, 64 hex digits: required with `SANITIZER_SCRIPT_URI`; a script with any other digest is refused before connecting |
//! | `SANITIZER_VERIFY` | more verification queries, inline (added after the script's `-- @verify` section) |
//! | `SANITIZER_STATEMENT_TIMEOUT_SECONDS` | per-statement limit (default 3600) |
//! | `SANITIZER_MODE` | `sanitize` (default) or `validate`: only the verify queries and the leak check's detectors, in a read-only transaction (restore testing) |
//! | `SANITIZER_DRY_RUN` | `true`: run everything, then roll back (default `false`) |
//! | `SANITIZER_TLS` | `require` (default), `verify-full` (needs `SANITIZER_CA_BUNDLE`), `disable` (local tests only) |
//! | `SANITIZER_CA_BUNDLE` | path of a PEM CA bundle, e.g. the RDS global bundle |
//! | `SANITIZER_LEAK_SAMPLE_VALUES` | leak check: distinct values sampled per `-- @sensitive` column (default 1000) |
//! | `SANITIZER_LEAK_SCAN_ROWS` | leak check: rows of each text column the detectors read (default 10000) |
//! | `SANITIZER_LEAK_PATTERNS` | leak check: more detectors, a JSON object `{"name": "regex"}` (default none) |

use std::path::PathBuf;

use sluice_runtime::config::{ConfigError, Env};
use sluice_runtime::pin::Sha256Pin;

use crate::engine::{Engine, Family, Mode, TlsMode};
use crate::leak::LeakSettings;

/// Database host name.
pub const ENDPOINT: &str = "SANITIZER_ENDPOINT";
/// Database port.
pub const PORT: &str = "SANITIZER_PORT";
/// RDS engine name.
pub const ENGINE: &str = "SANITIZER_ENGINE";
/// Database name.
pub const DATABASE: &str = "SANITIZER_DATABASE";
/// ARN of the RDS-managed credentials secret.
pub const SECRET_ARN: &str = "SANITIZER_SECRET_ARN";
/// Inline script.
pub const SCRIPT: &str = "SANITIZER_SCRIPT";
/// Script location, `s3://bucket/key`.
pub const SCRIPT_URI: &str = "SANITIZER_SCRIPT_URI";
/// The SHA-256 the script must have (required with [`SCRIPT_URI`]).
pub const SCRIPT_SHA256: &str = "SANITIZER_SCRIPT_SHA256";
/// Inline verification queries.
pub const VERIFY: &str = "SANITIZER_VERIFY";
/// Per-statement timeout in seconds.
pub const STATEMENT_TIMEOUT_SECONDS: &str = "SANITIZER_STATEMENT_TIMEOUT_SECONDS";
/// `sanitize` or `validate`.
pub const MODE: &str = "SANITIZER_MODE";
/// `true` for a dry run.
pub const DRY_RUN: &str = "SANITIZER_DRY_RUN";
/// TLS mode.
pub const TLS: &str = "SANITIZER_TLS";
/// CA bundle path for `verify-full`.
pub const CA_BUNDLE: &str = "SANITIZER_CA_BUNDLE";
/// Leak check: distinct values sampled per sensitive column.
pub const LEAK_SAMPLE_VALUES: &str = "SANITIZER_LEAK_SAMPLE_VALUES";
/// Leak check: rows per text column the detectors read.
pub const LEAK_SCAN_ROWS: &str = "SANITIZER_LEAK_SCAN_ROWS";
/// Leak check: configured detectors, a JSON object of names to regular expressions.
pub const LEAK_PATTERNS: &str = "SANITIZER_LEAK_PATTERNS";
/// Every variable the task reads (the template test holds the task definition to it).
pub const ALL: [&str; 17] = [
    ENDPOINT,
    PORT,
    ENGINE,
    DATABASE,
    SECRET_ARN,
    SCRIPT,
    SCRIPT_URI,
    SCRIPT_SHA256,
    VERIFY,
    STATEMENT_TIMEOUT_SECONDS,
    MODE,
    DRY_RUN,
    TLS,
    CA_BUNDLE,
    LEAK_SAMPLE_VALUES,
    LEAK_SCAN_ROWS,
    LEAK_PATTERNS,
];

/// Where the script comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptSource {
    /// The script text itself.
    Inline(String),
    /// An S3 object.
    S3 {
        /// Bucket name.
        bucket: String,
        /// Object key.
        key: String,
    },
}

/// Everything a run needs except the credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Engine.
    pub engine: Engine,
    /// Host.
    pub endpoint: String,
    /// Port.
    pub port: u16,
    /// Database name.
    pub database: String,
    /// Credentials secret ARN.
    pub secret_arn: String,
    /// The script.
    pub script: ScriptSource,
    /// The SHA-256 the script must have (always set for an S3 script).
    pub script_sha256: Option<Sha256Pin>,
    /// Extra verification queries (inline).
    pub verify: Option<String>,
    /// Per-statement timeout in seconds.
    pub statement_timeout_seconds: u64,
    /// Sanitize, or only validate read-only.
    pub mode: Mode,
    /// Roll everything back at the end.
    pub dry_run: bool,
    /// TLS mode.
    pub tls: TlsMode,
    /// CA bundle for `verify-full`.
    pub ca_bundle: Option<PathBuf>,
    /// What the leak check reads.
    pub leak: LeakSettings,
}

/// Splits `s3://bucket/key` into bucket and key.
pub fn parse_s3_uri(uri: &str) -> Option<(String, String)> {
    let rest = uri.strip_prefix("s3://")?;
    let (bucket, key) = rest.split_once('/')?;
    (!bucket.is_empty() && !key.is_empty()).then(|| (bucket.to_owned(), key.to_owned()))
}

impl Config {
    /// Reads and checks the settings; errors name the variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let engine: Engine = env.parse_required(ENGINE)?;
        let default_port = match engine.family() {
            Family::Postgres => 5432,
            Family::Mysql => 3306,
        };
        let port: u16 = env.parse_or(PORT, default_port)?;
        if port == 0 {
            return Err(ConfigError::invalid(PORT, "0", "must be 1..=65535"));
        }
        let script = match (env.optional(SCRIPT), env.optional(SCRIPT_URI)) {
            (Some(text), None) => ScriptSource::Inline(text),
            (None, Some(uri)) => {
                let (bucket, key) = parse_s3_uri(&uri).ok_or_else(|| {
                    ConfigError::invalid(SCRIPT_URI, &uri, "expected s3://bucket/key")
                })?;
                ScriptSource::S3 { bucket, key }
            }
            (Some(_), Some(_)) => {
                return Err(ConfigError::invalid(
                    SCRIPT_URI,
                    "(set)",
                    format!("set either {SCRIPT} or {SCRIPT_URI}, not both"),
                ));
            }
            (None, None) => {
                return Err(ConfigError::Missing {
                    var: format!("{SCRIPT} (or {SCRIPT_URI})"),
                });
            }
        };
        // Whoever can write the object could otherwise turn sanitizing and verification off.
        let script_sha256 = match env.optional(SCRIPT_SHA256) {
            Some(v) => Some(
                v.parse::<Sha256Pin>()
                    .map_err(|e| ConfigError::invalid(SCRIPT_SHA256, &v, e))?,
            ),
            None if matches!(script, ScriptSource::S3 { .. }) => {
                return Err(ConfigError::Missing {
                    var: format!("{SCRIPT_SHA256} (required with {SCRIPT_URI})"),
                });
            }
            None => None,
        };
        let statement_timeout_seconds: u64 = env.parse_or(STATEMENT_TIMEOUT_SECONDS, 3600)?;
        if !(1..=86_400).contains(&statement_timeout_seconds) {
            return Err(ConfigError::invalid(
                STATEMENT_TIMEOUT_SECONDS,
                &statement_timeout_seconds.to_string(),
                "must be 1..=86400",
            ));
        }
        let tls: TlsMode = env.parse_or(TLS, TlsMode::Require)?;
        let ca_bundle = env.optional(CA_BUNDLE).map(PathBuf::from);
        if tls == TlsMode::VerifyFull && ca_bundle.is_none() {
            return Err(ConfigError::Missing {
                var: format!("{CA_BUNDLE} (required by {TLS}=verify-full)"),
            });
        }
        let leak = leak_settings(env)?;
        let mode: Mode = env.parse_or(MODE, Mode::Sanitize)?;
        let dry_run = env.bool_or(DRY_RUN, false)?;
        if mode == Mode::Validate && dry_run {
            return Err(ConfigError::invalid(
                DRY_RUN,
                "true",
                format!("{MODE}=validate never writes: a dry run has no meaning there"),
            ));
        }
        Ok(Self {
            engine,
            endpoint: env.required(ENDPOINT)?,
            port,
            database: env.required(DATABASE)?,
            secret_arn: env.required(SECRET_ARN)?,
            script,
            script_sha256,
            verify: env.optional(VERIFY),
            statement_timeout_seconds,
            mode,
            dry_run,
            tls,
            ca_bundle,
            leak,
        })
    }
}

/// The leak check's settings; errors name the variable.
fn leak_settings(env: &Env) -> Result<LeakSettings, ConfigError> {
    let defaults = LeakSettings::default();
    let bounded = |var: &str, default: u64| -> Result<u64, ConfigError> {
        let n: u64 = env.parse_or(var, default)?;
        if (1..=1_000_000).contains(&n) {
            Ok(n)
        } else {
            Err(ConfigError::invalid(
                var,
                &n.to_string(),
                "must be 1..=1000000",
            ))
        }
    };
    let patterns = match env.optional(LEAK_PATTERNS) {
        Some(json) => crate::detect::parse_patterns(&json)
            .map_err(|e| ConfigError::invalid(LEAK_PATTERNS, "(set)", e))?,
        None => Vec::new(),
    };
    Ok(LeakSettings {
        sample_values: bounded(LEAK_SAMPLE_VALUES, defaults.sample_values)?,
        scan_rows: bounded(LEAK_SCAN_ROWS, defaults.scan_rows)?,
        patterns,
    })
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
