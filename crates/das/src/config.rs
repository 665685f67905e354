//! The transformer's settings from environment variables, read once at cold start; every name is
//! a `const` here so the template and tests can be held to it.

use sluice_runtime::config::{ConfigError, Env};

use crate::filter::{Filters, ListRule};
use crate::redact::Redaction;

/// Overrides the resource id taken from the source stream name (`aws-rds-das-<resource id>`).
pub const RESOURCE_ID: &str = "DAS_RESOURCE_ID";
/// Overrides the encryption-context key (`aws:rds:dbc-id` or `aws:rds:db-id`).
pub const CONTEXT_KEY: &str = "DAS_CONTEXT_KEY";
/// Largest decompressed payload of one record, in bytes; over it the record fails.
pub const MAX_PLAINTEXT_BYTES: &str = "DAS_MAX_PLAINTEXT_BYTES";
/// How many distinct decrypted data keys a warm container keeps.
pub const KEY_CACHE_SIZE: &str = "DAS_KEY_CACHE_SIZE";
/// At most this many KMS Decrypt calls in flight while a batch's data keys are decrypted (1–64).
pub const KMS_CONCURRENCY: &str = "DAS_KMS_CONCURRENCY";
/// `true` to write per-command copies to S3.
pub const COPIES_ENABLED: &str = "DAS_COPIES_ENABLED";
/// Bucket of the per-command copies (required when they are enabled).
pub const COPIES_BUCKET: &str = "DAS_COPIES_BUCKET";
/// Key prefix of the per-command copies, before `parsed/…` (may be empty).
pub const COPIES_PREFIX: &str = "DAS_COPIES_PREFIX";
/// Env var: bucket of kept events that do not fit the response ([`crate::spill`]); unset, such
/// records are answered `ProcessingFailed` (to Firehose's error prefix).
pub const SPILL_BUCKET: &str = "DAS_SPILL_BUCKET";
/// Env var: key prefix of spilled events: the delivery stream's, `<DasS3Prefix>/events/`.
pub const SPILL_PREFIX: &str = "DAS_SPILL_PREFIX";
/// `true` to replace the literals of every kept event's `commandText` (and its `paramList`
/// values) by `?` ([`crate::redact`]); default `false`.
pub const REDACT_LITERALS: &str = "DAS_REDACT_LITERALS";
/// Comma-separated drop lists, by dimension.
pub const DROP_CLASSES: &str = "DAS_DROP_CLASSES";
/// See [`DROP_CLASSES`].
pub const DROP_COMMANDS: &str = "DAS_DROP_COMMANDS";
/// See [`DROP_CLASSES`].
pub const DROP_DATABASES: &str = "DAS_DROP_DATABASES";
/// See [`DROP_CLASSES`].
pub const DROP_USERS: &str = "DAS_DROP_USERS";
/// Comma-separated keep-only lists, by dimension (empty keeps everything).
pub const KEEP_CLASSES: &str = "DAS_KEEP_CLASSES";
/// See [`KEEP_CLASSES`].
pub const KEEP_COMMANDS: &str = "DAS_KEEP_COMMANDS";
/// See [`KEEP_CLASSES`].
pub const KEEP_DATABASES: &str = "DAS_KEEP_DATABASES";
/// See [`KEEP_CLASSES`].
pub const KEEP_USERS: &str = "DAS_KEEP_USERS";

/// Every variable the transformer reads, for template consistency checks.
pub const ALL_VARS: [&str; 19] = [
    RESOURCE_ID,
    CONTEXT_KEY,
    MAX_PLAINTEXT_BYTES,
    KEY_CACHE_SIZE,
    KMS_CONCURRENCY,
    COPIES_ENABLED,
    COPIES_BUCKET,
    COPIES_PREFIX,
    SPILL_BUCKET,
    SPILL_PREFIX,
    REDACT_LITERALS,
    DROP_CLASSES,
    DROP_COMMANDS,
    DROP_DATABASES,
    DROP_USERS,
    KEEP_CLASSES,
    KEEP_COMMANDS,
    KEEP_DATABASES,
    KEEP_USERS,
];

/// Default cap on a record's decompressed payload: 16 MiB.
pub const DEFAULT_MAX_PLAINTEXT_BYTES: usize = 16 * 1024 * 1024;
/// Default number of cached data keys: more than a warm container meets in practice.
pub const DEFAULT_KEY_CACHE_SIZE: usize = 16_384;
/// Default number of KMS Decrypt calls in flight.
pub const DEFAULT_KMS_CONCURRENCY: usize = 16;
/// Largest accepted [`KMS_CONCURRENCY`].
pub const MAX_KMS_CONCURRENCY: usize = 64;

/// Where objects the function writes itself go: per-command copies, spilled events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopiesTarget {
    /// The bucket.
    pub bucket: String,
    /// Key prefix (before `parsed/` for copies, before the partition for spills), empty or
    /// ending in `/`.
    pub prefix: String,
}

/// The transformer's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DasConfig {
    /// Fixed resource id, else taken from the source stream ARN.
    pub resource_id: Option<String>,
    /// Fixed encryption-context key, else chosen by the resource id's prefix.
    pub context_key: Option<String>,
    /// Cap on a record's decompressed payload.
    pub max_plaintext_bytes: usize,
    /// Capacity of the data-key cache.
    pub key_cache_size: usize,
    /// KMS Decrypt calls in flight at most (1..=[`MAX_KMS_CONCURRENCY`]).
    pub kms_concurrency: usize,
    /// Per-command copies, when enabled.
    pub copies: Option<CopiesTarget>,
    /// Where events that do not fit the response go ([`crate::spill`]), when set.
    pub spill: Option<CopiesTarget>,
    /// Which events are kept.
    pub filters: Filters,
    /// Whether kept events' statement literals are redacted.
    pub redaction: Redaction,
}

impl Default for DasConfig {
    fn default() -> Self {
        Self {
            resource_id: None,
            context_key: None,
            max_plaintext_bytes: DEFAULT_MAX_PLAINTEXT_BYTES,
            key_cache_size: DEFAULT_KEY_CACHE_SIZE,
            kms_concurrency: DEFAULT_KMS_CONCURRENCY,
            copies: None,
            spill: None,
            filters: Filters::default(),
            redaction: Redaction::Off,
        }
    }
}

impl DasConfig {
    /// Reads the configuration; errors name the variable at fault.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let positive = |var: &str, default: usize| -> Result<usize, ConfigError> {
            let n = env.parse_or(var, default)?;
            if n == 0 {
                return Err(ConfigError::invalid(var, "0", "must be at least 1"));
            }
            Ok(n)
        };
        let kms_concurrency = positive(KMS_CONCURRENCY, DEFAULT_KMS_CONCURRENCY)?;
        if kms_concurrency > MAX_KMS_CONCURRENCY {
            return Err(ConfigError::invalid(
                KMS_CONCURRENCY,
                &kms_concurrency.to_string(),
                format!("must be at most {MAX_KMS_CONCURRENCY}"),
            ));
        }
        let copies = if env.bool_or(COPIES_ENABLED, false)? {
            let mut prefix = env.optional(COPIES_PREFIX).unwrap_or_default();
            if !prefix.is_empty() && !prefix.ends_with('/') {
                prefix.push('/');
            }
            Some(CopiesTarget {
                bucket: env.required(COPIES_BUCKET)?,
                prefix,
            })
        } else {
            None
        };
        let spill = env.optional(SPILL_BUCKET).map(|bucket| {
            let mut prefix = env.optional(SPILL_PREFIX).unwrap_or_default();
            if !prefix.is_empty() && !prefix.ends_with('/') {
                prefix.push('/');
            }
            CopiesTarget { bucket, prefix }
        });
        let redaction = match env.bool_or(REDACT_LITERALS, false)? {
            true => Redaction::Literals,
            false => Redaction::Off,
        };
        let rule = |drop: &str, keep: &str| ListRule::new(env.list(drop), env.list(keep));
        Ok(Self {
            resource_id: env.optional(RESOURCE_ID),
            context_key: env.optional(CONTEXT_KEY),
            max_plaintext_bytes: positive(MAX_PLAINTEXT_BYTES, DEFAULT_MAX_PLAINTEXT_BYTES)?,
            key_cache_size: positive(KEY_CACHE_SIZE, DEFAULT_KEY_CACHE_SIZE)?,
            kms_concurrency,
            copies,
            spill,
            filters: Filters {
                class: rule(DROP_CLASSES, KEEP_CLASSES),
                command: rule(DROP_COMMANDS, KEEP_COMMANDS),
                database: rule(DROP_DATABASES, KEEP_DATABASES),
                user: rule(DROP_USERS, KEEP_USERS),
            },
            redaction,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_empty_env_then_defaults() {
        let c = DasConfig::from_env(&Env::from_pairs([])).expect("defaults");
        assert_eq!(c, DasConfig::default());
    }

    #[test]
    fn given_full_env_then_every_setting_is_read() {
        let env = Env::from_pairs([
            (RESOURCE_ID, "cluster-ABC"),
            (MAX_PLAINTEXT_BYTES, "1024"),
            (COPIES_ENABLED, "true"),
            (COPIES_BUCKET, "audit"),
            (COPIES_PREFIX, "das"),
            (DROP_USERS, "rdsadmin"),
            (KEEP_CLASSES, "DDL, WRITE"),
        ]);
        let c = DasConfig::from_env(&env).expect("valid");
        assert_eq!(c.resource_id.as_deref(), Some("cluster-ABC"));
        assert_eq!(c.max_plaintext_bytes, 1024);
        assert_eq!(
            c.copies,
            Some(CopiesTarget {
                bucket: "audit".into(),
                prefix: "das/".into()
            })
        );
        assert!(!c.filters.user.allows(Some("RdsAdmin")));
        assert!(c.filters.class.allows(Some("write")));
        assert!(!c.filters.class.allows(Some("READ")));
    }

    #[test]
    fn given_copies_without_bucket_then_error_names_bucket_variable() {
        let env = Env::from_pairs([(COPIES_ENABLED, "true")]);
        let err = DasConfig::from_env(&env).expect_err("bucket missing");
        assert!(err.to_string().contains(COPIES_BUCKET));
    }

    #[test]
    fn given_kms_concurrency_then_read_and_held_to_1_through_64() {
        let read = |v: &str| DasConfig::from_env(&Env::from_pairs([(KMS_CONCURRENCY, v)]));
        assert_eq!(read("1").expect("1").kms_concurrency, 1);
        assert_eq!(read("64").expect("64").kms_concurrency, 64);
        for bad in ["0", "65", "-1", "many"] {
            let err = read(bad).expect_err(bad);
            assert!(err.to_string().contains(KMS_CONCURRENCY), "{bad}: {err}");
        }
    }

    #[test]
    fn given_redact_literals_then_on_only_when_true_and_bad_values_name_the_variable() {
        let read = |v: &str| DasConfig::from_env(&Env::from_pairs([(REDACT_LITERALS, v)]));
        assert_eq!(read("true").expect("true").redaction, Redaction::Literals);
        assert_eq!(read("false").expect("false").redaction, Redaction::Off);
        let err = read("sometimes").expect_err("not a bool");
        assert!(err.to_string().contains(REDACT_LITERALS), "{err}");
    }

    #[test]
    fn given_zero_cache_size_then_error_names_variable() {
        let env = Env::from_pairs([(KEY_CACHE_SIZE, "0")]);
        let err = DasConfig::from_env(&env).expect_err("zero");
        assert!(err.to_string().contains(KEY_CACHE_SIZE));
    }
}
