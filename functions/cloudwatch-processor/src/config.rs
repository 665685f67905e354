//! The processor's settings, read once at cold start from environment variables.
//!
//! | variable | values | default |
//! |---|---|---|
//! | `OUTPUT_FORMAT` | `raw`, `raw-timestamp`, `jsonl` | `raw` |
//! | `REINGEST_TARGET` | `auto`, `firehose`, `kinesis` | `auto` |
//! | `REINGEST_MAX_ATTEMPTS` | attempts per re-ingest batch (≥ 1) | `6` |
//! | `REINGEST_BACKOFF_MS` | first retry delay, doubled per attempt | `100` |
//! | `MAX_DECOMPRESSED_BYTES` | cap on one record's gunzipped size | `67108864` |

use std::time::Duration;

use sluice_cwlogs::Format;
use sluice_runtime::config::{ConfigError, Env};

/// Env var: how log events are written (`raw`, `raw-timestamp`, `jsonl`).
pub const OUTPUT_FORMAT: &str = "OUTPUT_FORMAT";
/// Env var: where records that do not fit the response go back to (`auto`, `firehose`, `kinesis`).
pub const REINGEST_TARGET: &str = "REINGEST_TARGET";
/// Env var: attempts per re-ingest batch before the invocation fails.
pub const REINGEST_MAX_ATTEMPTS: &str = "REINGEST_MAX_ATTEMPTS";
/// Env var: first retry delay in milliseconds (doubled on each further attempt).
pub const REINGEST_BACKOFF_MS: &str = "REINGEST_BACKOFF_MS";
/// Env var: cap on one record's decompressed size (a gzip bomb becomes `ProcessingFailed`).
pub const MAX_DECOMPRESSED_BYTES: &str = "MAX_DECOMPRESSED_BYTES";

/// Every variable [`Config::from_env`] reads (the template's environment must match).
pub const ALL_VARS: [&str; 5] = [
    OUTPUT_FORMAT,
    REINGEST_TARGET,
    REINGEST_MAX_ATTEMPTS,
    REINGEST_BACKOFF_MS,
    MAX_DECOMPRESSED_BYTES,
];

/// Where re-ingested records are put.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetChoice {
    /// The source Kinesis stream when the event names one (`sourceKinesisStreamArn`), otherwise
    /// the delivery stream. A delivery stream fed by Kinesis refuses `PutRecordBatch`, so this is
    /// the only choice that works for both kinds of delivery stream.
    Auto,
    /// Always the delivery stream (`PutRecordBatch`); only valid for a Direct PUT stream.
    Firehose,
    /// Always the source Kinesis stream (`PutRecords`); an event without one fails.
    Kinesis,
}

/// The processor's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Output format of the delivered log text.
    pub format: Format,
    /// Where records that do not fit go back to.
    pub target: TargetChoice,
    /// Attempts per re-ingest batch (first call included).
    pub max_attempts: u32,
    /// Delay before the first retry; doubled for each further one.
    pub backoff: Duration,
    /// Cap on one record's decompressed size.
    pub max_decompressed: usize,
    /// Largest output one record may carry (Firehose's limit; tests shrink it).
    pub max_record: usize,
    /// Largest response JSON (6 MB minus headroom; tests shrink it).
    pub response_limit: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            format: Format::Raw {
                timestamp_prefix: false,
            },
            target: TargetChoice::Auto,
            max_attempts: 6,
            backoff: Duration::from_millis(100),
            max_decompressed: 64 << 20,
            max_record: sluice_firehose::MAX_RECORD_BYTES,
            response_limit: sluice_firehose::ResponseBudget::new().limit(),
        }
    }
}

impl Config {
    /// Reads the configuration; errors name the variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let d = Self::default();
        let format = match env.optional(OUTPUT_FORMAT).as_deref() {
            None | Some("raw") => d.format,
            Some("raw-timestamp") => Format::Raw {
                timestamp_prefix: true,
            },
            Some("jsonl") => Format::JsonLines,
            Some(other) => {
                return Err(ConfigError::invalid(
                    OUTPUT_FORMAT,
                    other,
                    "expected raw, raw-timestamp or jsonl",
                ));
            }
        };
        let target = match env.optional(REINGEST_TARGET).as_deref() {
            None | Some("auto") => TargetChoice::Auto,
            Some("firehose") => TargetChoice::Firehose,
            Some("kinesis") => TargetChoice::Kinesis,
            Some(other) => {
                return Err(ConfigError::invalid(
                    REINGEST_TARGET,
                    other,
                    "expected auto, firehose or kinesis",
                ));
            }
        };
        let max_attempts = env.parse_or(REINGEST_MAX_ATTEMPTS, d.max_attempts)?;
        if max_attempts == 0 {
            return Err(ConfigError::invalid(
                REINGEST_MAX_ATTEMPTS,
                "0",
                "at least one attempt is needed",
            ));
        }
        let backoff_ms = env.parse_or(REINGEST_BACKOFF_MS, 100u64)?;
        Ok(Self {
            format,
            target,
            max_attempts,
            backoff: Duration::from_millis(backoff_ms),
            max_decompressed: env.parse_or(MAX_DECOMPRESSED_BYTES, d.max_decompressed)?,
            ..d
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_no_variables_then_defaults() {
        assert_eq!(
            Config::from_env(&Env::from_pairs([])).expect("ok"),
            Config::default()
        );
    }

    #[test]
    fn given_each_format_then_parsed() {
        for (v, f) in [
            (
                "raw-timestamp",
                Format::Raw {
                    timestamp_prefix: true,
                },
            ),
            ("jsonl", Format::JsonLines),
        ] {
            let c = Config::from_env(&Env::from_pairs([(OUTPUT_FORMAT, v)])).expect("ok");
            assert_eq!(c.format, f);
        }
    }

    #[test]
    fn given_bad_values_then_errors_name_the_variable() {
        for (var, v) in [
            (OUTPUT_FORMAT, "xml"),
            (REINGEST_TARGET, "s3"),
            (REINGEST_MAX_ATTEMPTS, "0"),
            (REINGEST_BACKOFF_MS, "soon"),
        ] {
            let err = Config::from_env(&Env::from_pairs([(var, v)])).expect_err("invalid");
            assert!(err.to_string().contains(var), "{err}");
        }
    }

    #[test]
    fn given_kinesis_target_then_parsed() {
        let c = Config::from_env(&Env::from_pairs([(REINGEST_TARGET, "kinesis")])).expect("ok");
        assert_eq!(c.target, TargetChoice::Kinesis);
    }
}
