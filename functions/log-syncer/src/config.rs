//! The log-syncer's settings, from environment variables read once at cold start.

use sluice_rdslogs::copy::{CopyOptions, DEFAULT_PART_SIZE, MIN_PART_SIZE};
use sluice_rdslogs::sync::DEFAULT_MEMORY_BUDGET;
use sluice_rdslogs::{Claim, ListFilter, Selection, SyncOptions};
use sluice_runtime::config::{ConfigError, Env};

/// Bucket the copies go to (required).
pub const LOG_BUCKET: &str = "LOG_BUCKET";
/// Key prefix (default `rds-logs`).
pub const LOG_PREFIX: &str = "LOG_PREFIX";
/// Comma-separated instance ids.
pub const RDS_INSTANCES: &str = "RDS_INSTANCES";
/// `key=value`: every instance carrying this tag.
pub const RDS_INSTANCE_TAG: &str = "RDS_INSTANCE_TAG";
/// Comma-separated engines (`postgres,mysql`): every instance of these engines.
pub const RDS_ENGINES: &str = "RDS_ENGINES";
/// Only log files whose name contains this (`FilenameContains`).
pub const LOG_FILENAME_CONTAINS: &str = "LOG_FILENAME_CONTAINS";
/// Only log files written in the last this many hours (`FileLastWritten`).
pub const LOG_MAX_AGE_HOURS: &str = "LOG_MAX_AGE_HOURS";
/// Multipart part size in MiB (default 8, at least 5; larger for a file that would need more
/// than 9,000 parts).
pub const PART_SIZE_MIB: &str = "PART_SIZE_MIB";
/// Files copied at once across instances, at most (default 4; `MEMORY_BUDGET_MIB` may let
/// fewer).
pub const FILE_CONCURRENCY: &str = "FILE_CONCURRENCY";
/// MiB of part buffers all copies of a run hold at once (default 32, at least 10): each copy
/// needs two parts' worth; what is left lets parts of one file upload at once.
pub const MEMORY_BUDGET_MIB: &str = "MEMORY_BUDGET_MIB";
/// Instances synced at once (default 4).
pub const INSTANCE_CONCURRENCY: &str = "INSTANCE_CONCURRENCY";
/// `true` to gzip copies (`.gz` keys).
pub const GZIP: &str = "GZIP";
/// Hours between reconciliations of an instance (default 24; 0: every run): a reconciling run
/// lists the instance's copies and copies again those gone from S3.
pub const RECONCILE_HOURS: &str = "RECONCILE_HOURS";
/// Every variable this function reads (the template test holds the template to it).
pub const ALL: [&str; 13] = [
    LOG_BUCKET,
    LOG_PREFIX,
    RDS_INSTANCES,
    RDS_INSTANCE_TAG,
    RDS_ENGINES,
    LOG_FILENAME_CONTAINS,
    LOG_MAX_AGE_HOURS,
    PART_SIZE_MIB,
    FILE_CONCURRENCY,
    MEMORY_BUDGET_MIB,
    INSTANCE_CONCURRENCY,
    GZIP,
    RECONCILE_HOURS,
];

/// Everything the handler needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Destination bucket.
    pub bucket: String,
    /// Which instances.
    pub selection: Selection,
    /// Sync settings (prefix, parts, filters, concurrency).
    pub sync: SyncOptions,
    /// `LOG_MAX_AGE_HOURS`, turned into `FileLastWritten` at each run.
    pub max_age_hours: Option<u64>,
}

impl Config {
    /// Reads and checks the settings; errors name the variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let bucket = env.required(LOG_BUCKET)?;
        let tag = match env.optional(RDS_INSTANCE_TAG) {
            None => None,
            Some(v) => match v.split_once('=') {
                Some((k, val)) if !k.trim().is_empty() => {
                    Some((k.trim().to_owned(), val.trim().to_owned()))
                }
                _ => {
                    return Err(ConfigError::invalid(
                        RDS_INSTANCE_TAG,
                        &v,
                        "expected key=value",
                    ));
                }
            },
        };
        let selection = Selection {
            explicit: env.list(RDS_INSTANCES),
            tag,
            engines: env.list(RDS_ENGINES),
        };
        if selection.explicit.is_empty() && !selection.needs_discovery() {
            return Err(ConfigError::Missing {
                var: format!("{RDS_INSTANCES} (or {RDS_INSTANCE_TAG} / {RDS_ENGINES})"),
            });
        }
        let part_mib: usize = env.parse_or(PART_SIZE_MIB, DEFAULT_PART_SIZE / MIB)?;
        if part_mib * 1024 * 1024 < MIN_PART_SIZE || part_mib > 512 {
            return Err(ConfigError::invalid(
                PART_SIZE_MIB,
                &part_mib.to_string(),
                "must be 5..=512",
            ));
        }
        let positive = |var: &str, default: usize| -> Result<usize, ConfigError> {
            let n: usize = env.parse_or(var, default)?;
            if n == 0 {
                return Err(ConfigError::invalid(var, "0", "must be at least 1"));
            }
            Ok(n)
        };
        let sync = SyncOptions {
            prefix: env
                .optional(LOG_PREFIX)
                .unwrap_or_else(|| "rds-logs".into()),
            copy: CopyOptions {
                part_size: part_mib * 1024 * 1024,
                gzip: env.bool_or(GZIP, false)?,
            },
            filter: ListFilter {
                filename_contains: env.optional(LOG_FILENAME_CONTAINS),
                last_written_since: None,
            },
            file_concurrency: positive(FILE_CONCURRENCY, 4)?,
            memory_budget: memory_budget(env)?,
            instance_concurrency: positive(INSTANCE_CONCURRENCY, 4)?,
            claim: Claim::default(),
            reconcile_every_ms: reconcile_every_ms(env)?,
        };
        let max_age_hours = match env.optional(LOG_MAX_AGE_HOURS) {
            None => None,
            Some(_) => Some(env.parse_required(LOG_MAX_AGE_HOURS)?),
        };
        Ok(Self {
            bucket,
            selection,
            sync,
            max_age_hours,
        })
    }
}

/// `MEMORY_BUDGET_MIB` in bytes: at least two 5 MiB parts (one copy's own share), at most
/// 10 GiB (Lambda's largest memory).
fn memory_budget(env: &Env) -> Result<usize, ConfigError> {
    let mib: usize = env.parse_or(MEMORY_BUDGET_MIB, DEFAULT_MEMORY_BUDGET / MIB)?;
    if !(2 * MIN_PART_SIZE / MIB..=10_240).contains(&mib) {
        return Err(ConfigError::invalid(
            MEMORY_BUDGET_MIB,
            &mib.to_string(),
            "must be 10..=10240",
        ));
    }
    Ok(mib * MIB)
}

const MIB: usize = 1024 * 1024;

/// `RECONCILE_HOURS` in ms: at most a year (a larger value is a typo, not a setting).
fn reconcile_every_ms(env: &Env) -> Result<i64, ConfigError> {
    let hours: i64 = env.parse_or(RECONCILE_HOURS, 24)?;
    if !(0..=24 * 366).contains(&hours) {
        return Err(ConfigError::invalid(
            RECONCILE_HOURS,
            &hours.to_string(),
            "must be 0..=8784 (0: every run)",
        ));
    }
    Ok(hours * 3600 * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_minimal_env_then_defaults_apply() {
        let c = Config::from_env(&Env::from_pairs([
            (LOG_BUCKET, "b"),
            (RDS_INSTANCES, "db1, db2"),
        ]))
        .expect("config");
        assert_eq!(
            c.selection.explicit,
            vec!["db1".to_owned(), "db2".to_owned()]
        );
        assert_eq!(c.sync.prefix, "rds-logs");
        assert_eq!(c.sync.copy.part_size, 8 * 1024 * 1024);
        assert!(!c.sync.copy.gzip);
        assert_eq!(c.sync.reconcile_every_ms, 24 * 3600 * 1000, "once a day");
        assert_eq!(c.sync.memory_budget, 32 * MIB);
    }

    #[test]
    fn given_no_bucket_or_no_instances_then_error_names_the_variable() {
        let e =
            Config::from_env(&Env::from_pairs([(RDS_INSTANCES, "db1")])).expect_err("no bucket");
        assert!(e.to_string().contains(LOG_BUCKET));
        let e = Config::from_env(&Env::from_pairs([(LOG_BUCKET, "b")])).expect_err("no instances");
        assert!(e.to_string().contains(RDS_INSTANCES));
    }

    #[test]
    fn given_tag_engines_and_tuning_then_parsed() {
        let env = Env::from_pairs([
            (LOG_BUCKET, "b"),
            (RDS_INSTANCE_TAG, "logsync = on"),
            (RDS_ENGINES, "postgres,mysql"),
            (PART_SIZE_MIB, "16"),
            (GZIP, "true"),
            (LOG_MAX_AGE_HOURS, "24"),
            (RECONCILE_HOURS, "0"),
            (MEMORY_BUDGET_MIB, "96"),
        ]);
        let c = Config::from_env(&env).expect("config");
        assert_eq!(c.selection.tag, Some(("logsync".into(), "on".into())));
        assert_eq!(c.selection.engines.len(), 2);
        assert_eq!(c.sync.copy.part_size, 16 << 20);
        assert!(c.sync.copy.gzip);
        assert_eq!(c.max_age_hours, Some(24));
        assert_eq!(c.sync.reconcile_every_ms, 0, "every run");
        assert_eq!(c.sync.memory_budget, 96 * MIB);
    }

    #[test]
    fn given_bad_values_then_errors_name_them() {
        for (var, value) in [
            (PART_SIZE_MIB, "4"),
            (RDS_INSTANCE_TAG, "novalue"),
            (FILE_CONCURRENCY, "0"),
            (GZIP, "yes"),
            (RECONCILE_HOURS, "-1"),
            (RECONCILE_HOURS, "daily"),
            (MEMORY_BUDGET_MIB, "9"),
            (MEMORY_BUDGET_MIB, "lots"),
        ] {
            let env = Env::from_pairs([(LOG_BUCKET, "b"), (RDS_INSTANCES, "db1"), (var, value)]);
            let e = Config::from_env(&env).expect_err(var);
            assert!(e.to_string().contains(var), "{e}");
        }
    }
}
