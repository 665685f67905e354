//! The function's configuration, read once at cold start from its environment.
//!
//! | Variable | Meaning |
//! |---|---|
//! | `SOURCE_KIND`, `SOURCE_ID` | the database this stack sanitizes with the settings below (`instance`/`cluster`, its id; required): `validate` refuses any other that `SOURCE_MAPPINGS` does not map |
//! | `SOURCE_KMS_KEY_ARN` | the source's customer managed key, when it has one (the stack grants RDS its use) |
//! | `TEMP_PREFIX` | prefix of temporary resource ids (default `sluice-tmp`) |
//! | `SNAPSHOT_PREFIX` | prefix of sanitized snapshot ids (default `sluice-sanitized`) |
//! | `SUBNET_GROUP` | the isolated DB subnet group the temp database is restored into (required) |
//! | `SECURITY_GROUP_IDS` | its VPC security groups, comma-separated (required) |
//! | `INSTANCE_CLASS` | class of the temp instance; required for an Aurora Serverless v2 source |
//! | `AURORA_CLONE` | `true`/`false` (default true): an Aurora source with `snapshot: new` is cloned (copy-on-write, same region) instead of snapshotted and restored |
//! | `SHARE_ACCOUNTS` | accounts the sanitized snapshot is shared with (at most 20) |
//! | `KMS_KEY_ARN` | customer-managed key of the re-encrypting copy (needed to share an encrypted source) |
//! | `KEEP` | sanitized snapshots kept per source (default 7, at least 1) |
//! | `DR_REGION`, `DR_KMS_KEY_ARN` | optional copy to a disaster-recovery region, under that region's key |
//! | `ECS_CLUSTER`, `TASK_DEFINITION`, `CONTAINER_NAME` | the sanitizer task (container default `sanitizer`) |
//! | `TASK_SUBNETS`, `TASK_SECURITY_GROUPS` | the task's awsvpc network (required) |
//! | `SCRIPT_URI` | the sanitizing script, `s3://bucket/key` (required) |
//! | `SCRIPT_SHA256` | the script's SHA-256, 64 hex digits (required): `validate` and the task refuse any other content |
//! | `DATABASE_NAME` | the database the script runs in (required) |
//! | `SOURCE_MAPPINGS` | per-database settings (JSON list, see [`mapping`]; empty: `SOURCE_ID` only) |
//! | `MAPPED_SOURCE_IDS` | every database a mapping may apply to (what the role may reach), comma-separated |
//! | `MAPPED_KMS_KEY_ARNS` | keys a mapping may re-encrypt under (what RDS may be granted), comma-separated |
//! | `EVENT_BUS` | where result events of both pipelines go (default `default`; read by [`event_bus`]) |
//! | `SNAPSHOT_WAIT_MINUTES`, `RESTORE_WAIT_MINUTES`, `SANITIZE_WAIT_MINUTES` | how long a snapshot or copy, the restore, and the sanitizer task may take before the run fails (default 1440 each, 1 to 2880; the state machine polls for up to 49 hours) |
//!
//! Backup actions (read into [`BackupConfig`]; an error there fails only backup-action steps):
//!
//! | Variable | Meaning |
//! |---|---|
//! | `BACKUP_VAULTS` | vault names whose completed backups are acted on (none: every event ignored) |
//! | `BACKUP_STATE_MACHINE_ARN` | the backup-actions state machine the event handler starts |
//! | `BACKUP_EXPORT` | `true`/`false` (default false): export each backup to S3 as Parquet |
//! | `EXPORT_BUCKET`, `EXPORT_ROLE_ARN`, `EXPORT_KMS_KEY_ARN` | the export's bucket, the role RDS assumes, its key (required with export) |
//! | `EXPORT_PREFIX` | the bucket prefix every export is written under (default `backup-exports`): the export role may write only there |
//! | `EXPORT_TIMEOUT_MINUTES` | how long an export may run before the run fails (default 720, at most 2880) |
//! | `BACKUP_EXPORT_REQUIRE_ALL_TABLES` | `true`/`false` (default false): a run whose export skipped or failed a table fails, instead of succeeding with a warning (the recovery point is kept either way) |
//! | `BACKUP_SANITIZE` | `true`/`false` (default false): start a sanitized-snapshot run from the backup |
//! | `SANITIZE_STATE_MACHINE_ARN` | the sanitized-snapshot state machine (required with sanitize) |
//! | `SOURCE_KIND`, `SOURCE_ID`, `SOURCE_MAPPINGS` | with sanitize: which sources have sanitize settings (a recovery point of any other is not sanitized) |
//! | `BACKUP_DELETE` | `true`/`false` (default false): delete the recovery point once every chosen action succeeded |
//! | `RUN_DEADLINE_HOURS` | how long a backup-actions run may last before its steps fail it, so that it aborts and notifies before the state machine's 7-day timeout (default 72, 1 to 144) |

pub mod mapping;

use sluice_runtime::config::{ConfigError, Env};
use sluice_runtime::pin::Sha256Pin;

use mapping::{Mapping, Resolved, Selector};

/// Configuration of every step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The only source this stack may sanitize: `instance` or `cluster`.
    pub source_kind: String,
    /// Its identifier.
    pub source_id: String,
    /// The source's customer managed key, when declared.
    pub source_kms_key: Option<String>,
    /// Prefix of temporary resource ids.
    pub temp_prefix: String,
    /// Prefix of sanitized snapshot ids.
    pub snapshot_prefix: String,
    /// The isolated DB subnet group.
    pub subnet_group: String,
    /// The temp database's security groups.
    pub security_groups: Vec<String>,
    /// Class of the temp instance, when set.
    pub instance_class: Option<String>,
    /// Clone an Aurora source (copy-on-write) instead of snapshotting and restoring it.
    pub aurora_clone: bool,
    /// Accounts to share with (unchecked; `validate` checks them).
    pub share_accounts: Vec<String>,
    /// Key of the re-encrypting copy.
    pub kms_key: Option<String>,
    /// Sanitized snapshots kept per source.
    pub keep: usize,
    /// Disaster-recovery region.
    pub dr_region: Option<String>,
    /// Key of the DR copy.
    pub dr_kms_key: Option<String>,
    /// ECS cluster of the sanitizer task.
    pub ecs_cluster: String,
    /// Task definition of the sanitizer.
    pub task_definition: String,
    /// Container name in that task definition.
    pub container_name: String,
    /// The task's subnets.
    pub task_subnets: Vec<String>,
    /// The task's security groups.
    pub task_security_groups: Vec<String>,
    /// The sanitizing script's S3 URI.
    pub script_uri: String,
    /// The SHA-256 the script must have (checked at `validate` and by the task).
    pub script_sha256: Sha256Pin,
    /// The database the script runs in.
    pub database: String,
    /// Per-database settings (`SOURCE_MAPPINGS`).
    pub mappings: Vec<Mapping>,
    /// Every database a mapping may apply to (`MAPPED_SOURCE_IDS`).
    pub mapped_ids: Vec<String>,
    /// How long each wait may last.
    pub waits: WaitLimits,
}

/// How long each kind of wait may last, in minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitLimits {
    /// A snapshot of the source or temp database, or a copy.
    pub snapshot: u32,
    /// The temp database's restore (until it is available with its managed password).
    pub restore: u32,
    /// The sanitizer task.
    pub sanitize: u32,
}

/// The longest configurable wait: the state machine's retries poll for about 49 hours.
pub const MAX_WAIT_MINUTES: u32 = 2880;

fn wait_minutes(env: &Env, var: &str) -> Result<u32, ConfigError> {
    let minutes: u32 = env.parse_or(var, 1440)?;
    if !(1..=MAX_WAIT_MINUTES).contains(&minutes) {
        return Err(ConfigError::invalid(
            var,
            &minutes.to_string(),
            "expected 1 to 2880 minutes",
        ));
    }
    Ok(minutes)
}

/// Variables read by [`Config::from_env`], for the template consistency test.
pub const VARS: &[&str] = &[
    "SOURCE_KIND",
    "SOURCE_ID",
    "SOURCE_KMS_KEY_ARN",
    "TEMP_PREFIX",
    "SNAPSHOT_PREFIX",
    "SUBNET_GROUP",
    "SECURITY_GROUP_IDS",
    "INSTANCE_CLASS",
    "AURORA_CLONE",
    "SHARE_ACCOUNTS",
    "KMS_KEY_ARN",
    "KEEP",
    "DR_REGION",
    "DR_KMS_KEY_ARN",
    "ECS_CLUSTER",
    "TASK_DEFINITION",
    "CONTAINER_NAME",
    "TASK_SUBNETS",
    "TASK_SECURITY_GROUPS",
    "SCRIPT_URI",
    "SCRIPT_SHA256",
    "DATABASE_NAME",
    "SOURCE_MAPPINGS",
    "MAPPED_SOURCE_IDS",
    "MAPPED_KMS_KEY_ARNS",
    "EVENT_BUS",
    "SNAPSHOT_WAIT_MINUTES",
    "RESTORE_WAIT_MINUTES",
    "SANITIZE_WAIT_MINUTES",
];

/// Variables read by [`BackupConfig::from_env`] (and `EVENT_BUS`): the environment of a
/// function that runs the backup-action steps.
pub const BACKUP_VARS: &[&str] = &[
    "EVENT_BUS",
    "BACKUP_VAULTS",
    "BACKUP_STATE_MACHINE_ARN",
    "BACKUP_EXPORT",
    "EXPORT_BUCKET",
    "EXPORT_ROLE_ARN",
    "EXPORT_KMS_KEY_ARN",
    "EXPORT_PREFIX",
    "EXPORT_TIMEOUT_MINUTES",
    "BACKUP_EXPORT_REQUIRE_ALL_TABLES",
    "BACKUP_SANITIZE",
    "SANITIZE_STATE_MACHINE_ARN",
    "SOURCE_KIND",
    "SOURCE_ID",
    "SOURCE_MAPPINGS",
    "BACKUP_DELETE",
    "RUN_DEADLINE_HOURS",
];

/// The longest `RUN_DEADLINE_HOURS`: the backup-actions state machine's `TimeoutSeconds` is 7
/// days, past the sum of its waits and this deadline.
pub const MAX_RUN_DEADLINE_HOURS: u32 = 144;

/// The EventBridge bus result events go to (`EVENT_BUS`, default `default`).
pub fn event_bus(env: &Env) -> String {
    env.optional("EVENT_BUS")
        .unwrap_or_else(|| "default".into())
}

/// Where backups are exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportConfig {
    /// The bucket.
    pub bucket: String,
    /// The role RDS assumes to write it (trusted by `export.rds.amazonaws.com`).
    pub role_arn: String,
    /// The key the export is encrypted with.
    pub kms_key: String,
    /// The bucket prefix every export is written under, without slashes at either end.
    pub prefix: String,
    /// How long an export may run.
    pub timeout_minutes: u32,
    /// Whether a table the export skipped or failed fails the run (else: a warning).
    pub require_all_tables: bool,
}

/// `EXPORT_PREFIX` without slashes at either end; `backup-exports` when unset. An empty
/// prefix is refused: exports at the bucket root would need the export role to write anywhere.
fn export_root(value: Option<String>) -> Result<String, ConfigError> {
    let Some(value) = value else {
        return Ok("backup-exports".to_owned());
    };
    let trimmed = value.trim_matches('/');
    if trimmed.is_empty() {
        return Err(ConfigError::invalid(
            "EXPORT_PREFIX",
            &value,
            "expected a prefix such as backup-exports (exports never go to the bucket root)",
        ));
    }
    Ok(trimmed.to_owned())
}

/// Configuration of the backup-action steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupConfig {
    /// Vault names acted on.
    pub vaults: Vec<String>,
    /// The backup-actions state machine (for the event handler).
    pub state_machine_arn: Option<String>,
    /// The actions, checked (deletion needs another action before it).
    pub actions: sluice_snapshots::backup::Actions,
    /// The export settings, when exporting.
    pub export: Option<ExportConfig>,
    /// The sanitized-snapshot state machine, when sanitizing.
    pub sanitize_state_machine_arn: Option<String>,
    /// The sources that have sanitize settings, when sanitizing.
    pub sanitize_sources: Option<SanitizeSources>,
    /// How long a run may last before its steps fail it.
    pub deadline_hours: u32,
}

impl BackupConfig {
    /// Reads the backup-action configuration; every error names its variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let actions = sluice_snapshots::backup::Actions {
            export: env.bool_or("BACKUP_EXPORT", false)?,
            sanitize: env.bool_or("BACKUP_SANITIZE", false)?,
            delete: env.bool_or("BACKUP_DELETE", false)?,
        };
        let actions = actions
            .check()
            .map_err(|why| ConfigError::invalid("BACKUP_DELETE", "true", why))?;
        let export = if actions.export {
            let timeout_minutes: u32 = env.parse_or("EXPORT_TIMEOUT_MINUTES", 720)?;
            if !(1..=2880).contains(&timeout_minutes) {
                return Err(ConfigError::invalid(
                    "EXPORT_TIMEOUT_MINUTES",
                    &timeout_minutes.to_string(),
                    "expected 1 to 2880 minutes",
                ));
            }
            Some(ExportConfig {
                bucket: env.required("EXPORT_BUCKET")?,
                role_arn: env.required("EXPORT_ROLE_ARN")?,
                kms_key: env.required("EXPORT_KMS_KEY_ARN")?,
                prefix: export_root(env.optional("EXPORT_PREFIX"))?,
                timeout_minutes,
                require_all_tables: env.bool_or("BACKUP_EXPORT_REQUIRE_ALL_TABLES", false)?,
            })
        } else {
            None
        };
        let (sanitize_state_machine_arn, sanitize_sources) = if actions.sanitize {
            let sources = SanitizeSources {
                kind: env.optional("SOURCE_KIND").unwrap_or_default(),
                id: env.optional("SOURCE_ID").unwrap_or_default(),
                mappings: mapping::selectors(&env.optional(mapping::VAR).unwrap_or_default())?,
            };
            (
                Some(env.required("SANITIZE_STATE_MACHINE_ARN")?),
                Some(sources),
            )
        } else {
            (None, None)
        };
        let deadline_hours: u32 = env.parse_or("RUN_DEADLINE_HOURS", 72)?;
        if !(1..=MAX_RUN_DEADLINE_HOURS).contains(&deadline_hours) {
            return Err(ConfigError::invalid(
                "RUN_DEADLINE_HOURS",
                &deadline_hours.to_string(),
                "expected 1 to 144 hours",
            ));
        }
        Ok(Self {
            deadline_hours,
            vaults: env.list("BACKUP_VAULTS"),
            state_machine_arn: env.optional("BACKUP_STATE_MACHINE_ARN"),
            actions,
            export,
            sanitize_state_machine_arn,
            sanitize_sources,
        })
    }
}

/// What backup actions know of the sanitize settings: which sources have some.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SanitizeSources {
    /// The single configuration's source kind (`SOURCE_KIND`).
    pub kind: String,
    /// Its id (`SOURCE_ID`).
    pub id: String,
    /// The mapping entries' sources (`SOURCE_MAPPINGS`).
    pub mappings: Vec<Selector>,
}

fn non_empty_list(env: &Env, var: &str) -> Result<Vec<String>, ConfigError> {
    let list = env.list(var);
    if list.is_empty() {
        return Err(ConfigError::Missing { var: var.into() });
    }
    Ok(list)
}

impl Config {
    /// Reads the configuration; every error names its variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let keep: usize = env.parse_or("KEEP", 7)?;
        if keep == 0 {
            return Err(ConfigError::invalid(
                "KEEP",
                "0",
                "at least the snapshot just made must be kept",
            ));
        }
        let script_uri = env.required("SCRIPT_URI")?;
        if !script_uri.starts_with("s3://") {
            return Err(ConfigError::invalid(
                "SCRIPT_URI",
                &script_uri,
                "expected s3://bucket/key",
            ));
        }
        let mapped_ids = env.list("MAPPED_SOURCE_IDS");
        let mappings = mapping::parse(
            &env.optional(mapping::VAR).unwrap_or_default(),
            &mapped_ids,
            &env.list("MAPPED_KMS_KEY_ARNS"),
            env.optional("KMS_KEY_ARN").as_deref(),
        )?;
        let source_kind = env.required("SOURCE_KIND")?;
        if !matches!(source_kind.as_str(), "instance" | "cluster") {
            return Err(ConfigError::invalid(
                "SOURCE_KIND",
                &source_kind,
                "expected instance or cluster",
            ));
        }
        Ok(Self {
            source_kind,
            source_id: env.required("SOURCE_ID")?,
            source_kms_key: env.optional("SOURCE_KMS_KEY_ARN"),
            temp_prefix: env
                .optional("TEMP_PREFIX")
                .unwrap_or_else(|| "sluice-tmp".into()),
            snapshot_prefix: env
                .optional("SNAPSHOT_PREFIX")
                .unwrap_or_else(|| "sluice-sanitized".into()),
            subnet_group: env.required("SUBNET_GROUP")?,
            security_groups: non_empty_list(env, "SECURITY_GROUP_IDS")?,
            instance_class: env.optional("INSTANCE_CLASS"),
            aurora_clone: env.bool_or("AURORA_CLONE", true)?,
            share_accounts: env.list("SHARE_ACCOUNTS"),
            kms_key: env.optional("KMS_KEY_ARN"),
            keep,
            dr_region: env.optional("DR_REGION"),
            dr_kms_key: env.optional("DR_KMS_KEY_ARN"),
            ecs_cluster: env.required("ECS_CLUSTER")?,
            task_definition: env.required("TASK_DEFINITION")?,
            container_name: env
                .optional("CONTAINER_NAME")
                .unwrap_or_else(|| "sanitizer".into()),
            task_subnets: non_empty_list(env, "TASK_SUBNETS")?,
            task_security_groups: non_empty_list(env, "TASK_SECURITY_GROUPS")?,
            script_uri,
            script_sha256: env.parse_required("SCRIPT_SHA256")?,
            database: env.required("DATABASE_NAME")?,
            mappings,
            mapped_ids,
            waits: WaitLimits {
                snapshot: wait_minutes(env, "SNAPSHOT_WAIT_MINUTES")?,
                restore: wait_minutes(env, "RESTORE_WAIT_MINUTES")?,
                sanitize: wait_minutes(env, "SANITIZE_WAIT_MINUTES")?,
            },
        })
    }
}

impl Config {
    /// The settings of a run on source `kind` `id` carrying `tags` (see [`mapping`]): a
    /// mapping entry by id, then by tag, then the single configuration for `SOURCE_ID`. The
    /// error says which source has no mapping, or why its entry cannot apply.
    pub fn resolve(
        &self,
        kind: &str,
        id: &str,
        tags: &[(String, String)],
    ) -> Result<Resolved, String> {
        let configured = kind == self.source_kind && id == self.source_id;
        let Some(m) = mapping::find(&self.mappings, id, tags) else {
            if configured {
                return Ok(Resolved {
                    mapping: "SnapshotSourceId".into(),
                    script_uri: self.script_uri.clone(),
                    script_sha256: self.script_sha256.to_string(),
                    database: self.database.clone(),
                    prefix: self.snapshot_prefix.clone(),
                    kms_key: self.kms_key.clone(),
                });
            }
            return Err(format!(
                "source {kind} {id} has no sanitize settings: it is not this stack's source \
                 ({} {}, SnapshotSourceId) and no entry of SnapshotSourceMappings \
                 (SOURCE_MAPPINGS) names it or one of its tags",
                self.source_kind, self.source_id
            ));
        };
        let entry = m.source.to_string();
        if !configured && !self.mapped_ids.iter().any(|x| x == id) {
            return Err(format!(
                "source {kind} {id} matches mapping {entry}, but is not in \
                 SnapshotMappedSourceIds (MAPPED_SOURCE_IDS): the stack's role may not reach it"
            ));
        }
        let prefix = m
            .prefix
            .clone()
            .unwrap_or_else(|| format!("{id}-sanitized"));
        if !prefix.starts_with(&format!("{id}-")) {
            return Err(format!(
                "mapping {entry}: prefix {prefix:?} does not start with {id}- (the role names \
                 kept snapshots <source id>-* only)"
            ));
        }
        let (script_uri, pin) = match &m.script {
            Some((key, pin)) => {
                let bucket =
                    crate::script::split_s3_uri(&self.script_uri).map_or("", |(bucket, _)| bucket);
                (format!("s3://{bucket}/{key}"), pin.to_string())
            }
            None => (self.script_uri.clone(), self.script_sha256.to_string()),
        };
        Ok(Resolved {
            mapping: entry,
            script_uri,
            script_sha256: pin,
            database: m.database.clone().unwrap_or_else(|| self.database.clone()),
            prefix,
            kms_key: m.kms_key.clone().or_else(|| self.kms_key.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("SOURCE_KIND", "instance"),
            ("SOURCE_ID", "prod"),
            ("SUBNET_GROUP", "iso"),
            ("SECURITY_GROUP_IDS", "sg-1"),
            ("ECS_CLUSTER", "c"),
            ("TASK_DEFINITION", "td"),
            ("TASK_SUBNETS", "subnet-1"),
            ("TASK_SECURITY_GROUPS", "sg-2"),
            ("SCRIPT_URI", "s3://b/k.sql"),
            ("SCRIPT_SHA256", PIN),
            ("DATABASE_NAME", "app"),
        ]
    }

    /// SHA-256 of `abc`.
    const PIN: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn defaults_apply_and_missing_names_the_variable() {
        let c = Config::from_env(&Env::from_pairs(base())).expect("config");
        assert_eq!(c.keep, 7);
        assert_eq!(c.temp_prefix, "sluice-tmp");
        assert_eq!(c.container_name, "sanitizer");
        assert!(
            c.aurora_clone,
            "Aurora sources are cloned unless told otherwise"
        );
        for skip in [
            "SOURCE_KIND",
            "SOURCE_ID",
            "SUBNET_GROUP",
            "TASK_SUBNETS",
            "SCRIPT_URI",
            "SCRIPT_SHA256",
            "DATABASE_NAME",
        ] {
            let pairs = base().into_iter().filter(|(k, _)| *k != skip);
            let err = Config::from_env(&Env::from_pairs(pairs)).expect_err(skip);
            assert!(err.to_string().contains(skip), "{err}");
        }
    }

    #[test]
    fn waits_default_to_a_day_and_stay_within_what_the_state_machine_polls() {
        let c = Config::from_env(&Env::from_pairs(base())).expect("config");
        assert_eq!(
            c.waits,
            WaitLimits {
                snapshot: 1440,
                restore: 1440,
                sanitize: 1440
            }
        );
        for bad in ["0", "2881"] {
            let pairs = base().into_iter().chain([("RESTORE_WAIT_MINUTES", bad)]);
            let err = Config::from_env(&Env::from_pairs(pairs)).expect_err(bad);
            assert!(err.to_string().contains("RESTORE_WAIT_MINUTES"), "{err}");
        }
    }

    #[test]
    fn run_deadline_defaults_to_three_days_and_stays_under_the_machine_timeout() {
        let ok = BackupConfig::from_env(&Env::from_pairs([("BACKUP_VAULTS", "prod")])).unwrap();
        assert_eq!(ok.deadline_hours, 72);
        for bad in ["0", "145"] {
            let err = BackupConfig::from_env(&Env::from_pairs([("RUN_DEADLINE_HOURS", bad)]))
                .expect_err(bad);
            assert!(err.to_string().contains("RUN_DEADLINE_HOURS"), "{err}");
        }
    }

    #[test]
    fn require_all_tables_is_a_strict_boolean_read_with_export() {
        let with = |value: &'static str| {
            BackupConfig::from_env(&Env::from_pairs([
                ("BACKUP_EXPORT", "true"),
                ("EXPORT_BUCKET", "b"),
                ("EXPORT_ROLE_ARN", "arn:aws:iam::1:role/x"),
                ("EXPORT_KMS_KEY_ARN", "arn:aws:kms:us-east-1:1:key/k"),
                ("BACKUP_EXPORT_REQUIRE_ALL_TABLES", value),
            ]))
        };
        let on = with("true").expect("true").export.expect("export");
        assert!(on.require_all_tables);
        let err = with("all").expect_err("not a boolean").to_string();
        assert!(
            err.contains("BACKUP_EXPORT_REQUIRE_ALL_TABLES") && err.contains("all"),
            "{err}"
        );
    }

    #[test]
    fn source_kind_is_instance_or_cluster() {
        let pairs = base().into_iter().map(|(k, v)| {
            if k == "SOURCE_KIND" {
                (k, "db")
            } else {
                (k, v)
            }
        });
        let err = Config::from_env(&Env::from_pairs(pairs)).expect_err("kind");
        assert!(err.to_string().contains("SOURCE_KIND"), "{err}");
    }

    #[test]
    fn backup_booleans_are_strict_and_chosen_actions_need_their_settings() {
        let ok = BackupConfig::from_env(&Env::from_pairs([
            ("BACKUP_VAULTS", "prod, audit"),
            ("BACKUP_EXPORT", "true"),
            ("EXPORT_BUCKET", "b"),
            ("EXPORT_ROLE_ARN", "arn:aws:iam::1:role/x"),
            ("EXPORT_KMS_KEY_ARN", "arn:aws:kms:us-east-1:1:key/k"),
            ("BACKUP_DELETE", "false"),
        ]))
        .expect("config");
        assert_eq!(ok.vaults, vec!["prod".to_owned(), "audit".to_owned()]);
        assert!(ok.actions.export && !ok.actions.delete && !ok.actions.sanitize);
        let export = ok.export.expect("export");
        assert_eq!(export.timeout_minutes, 720);
        assert!(
            !export.require_all_tables,
            "a skipped table warns by default"
        );
        assert_eq!(export.prefix, "backup-exports");
        let with = |prefix: &'static str| {
            BackupConfig::from_env(&Env::from_pairs([
                ("BACKUP_EXPORT", "true"),
                ("EXPORT_BUCKET", "b"),
                ("EXPORT_ROLE_ARN", "arn:aws:iam::1:role/x"),
                ("EXPORT_KMS_KEY_ARN", "arn:aws:kms:us-east-1:1:key/k"),
                ("EXPORT_PREFIX", prefix),
            ]))
        };
        let given = with("/exports/rds/").expect("prefix");
        assert_eq!(given.export.expect("export").prefix, "exports/rds");
        let err = with("/").expect_err("root").to_string();
        assert!(
            err.contains("EXPORT_PREFIX") && err.contains("root"),
            "{err}"
        );
        for bad in ["yes", "1", "flase", ""] {
            let err = BackupConfig::from_env(&Env::from_pairs([("BACKUP_DELETE", bad)]));
            if bad.is_empty() {
                // An empty variable is unset: the default (false) applies.
                assert!(!err.expect("empty").actions.delete);
                continue;
            }
            let err = err.expect_err(bad).to_string();
            assert!(err.contains("BACKUP_DELETE") && err.contains(bad), "{err}");
        }
        let err = BackupConfig::from_env(&Env::from_pairs([("BACKUP_DELETE", "true")]))
            .expect_err("delete alone");
        assert!(err.to_string().contains("BACKUP_DELETE"), "{err}");
        let err = BackupConfig::from_env(&Env::from_pairs([("BACKUP_EXPORT", "true")]))
            .expect_err("no bucket");
        assert!(err.to_string().contains("EXPORT_BUCKET"), "{err}");
        let err = BackupConfig::from_env(&Env::from_pairs([("BACKUP_SANITIZE", "TRUE")]))
            .expect_err("no machine");
        assert!(
            err.to_string().contains("SANITIZE_STATE_MACHINE_ARN"),
            "{err}"
        );
    }

    const KEY: &str = "arn:aws:kms:us-east-1:1:key/mapped";

    fn mapped(mappings: &str) -> Config {
        let pairs = base().into_iter().chain([
            ("SOURCE_MAPPINGS", mappings),
            ("MAPPED_SOURCE_IDS", "orders,ledger"),
            ("MAPPED_KMS_KEY_ARNS", KEY),
            ("KMS_KEY_ARN", "arn:aws:kms:us-east-1:1:key/stack"),
            ("SNAPSHOT_PREFIX", "prod-sanitized"),
        ]);
        Config::from_env(&Env::from_pairs(pairs)).expect("config")
    }

    #[test]
    fn given_a_mapped_source_then_its_entry_overrides_the_single_configuration_field_by_field() {
        let other = "cd0aa9856147b6c5b4ff2b7dfee5da20aa38253099ef1b4a64aced233c9afe29";
        let c = mapped(&format!(
            r#"[{{"source":"orders","scriptKey":"sanitize-scripts/orders.sql","scriptSha256":"{other}",
                 "database":"shop","prefix":"orders-dev","kmsKeyArn":"{KEY}"}},
                {{"source":"tag:team=ledger"}}]"#
        ));
        let r = c.resolve("instance", "orders", &[]).expect("orders");
        assert_eq!(r.mapping, "orders");
        assert_eq!(r.script_uri, "s3://b/sanitize-scripts/orders.sql");
        assert_eq!(r.script_sha256, other);
        assert_eq!(r.database, "shop");
        assert_eq!(r.prefix, "orders-dev");
        assert_eq!(r.kms_key.as_deref(), Some(KEY));
        // A tag entry with no fields: the single configuration's, under the source's own prefix.
        let tags = [("team".to_owned(), "ledger".to_owned())];
        let r = c.resolve("cluster", "ledger", &tags).expect("ledger");
        assert_eq!(r.mapping, "tag:team=ledger");
        assert_eq!(
            (r.script_uri.as_str(), r.script_sha256.as_str()),
            ("s3://b/k.sql", PIN)
        );
        assert_eq!(
            (r.database.as_str(), r.prefix.as_str()),
            ("app", "ledger-sanitized")
        );
        assert_eq!(
            r.kms_key.as_deref(),
            Some("arn:aws:kms:us-east-1:1:key/stack")
        );
        // The stack's own source keeps its single configuration.
        let r = c.resolve("instance", "prod", &[]).expect("prod");
        assert_eq!(
            (r.mapping.as_str(), r.prefix.as_str()),
            ("SnapshotSourceId", "prod-sanitized")
        );
    }

    #[test]
    fn given_a_source_without_settings_then_resolve_says_which_and_why() {
        let c = mapped(r#"[{"source":"tag:team=ledger"}]"#);
        let err = c.resolve("instance", "billing", &[]).expect_err("unmapped");
        assert!(
            err.contains("billing") && err.contains("no sanitize settings"),
            "{err}"
        );
        // A tag match on a database the role may not reach.
        let tags = [("team".to_owned(), "ledger".to_owned())];
        let err = c
            .resolve("instance", "billing", &tags)
            .expect_err("not granted");
        assert!(
            err.contains("MAPPED_SOURCE_IDS") && err.contains("billing"),
            "{err}"
        );
        // The stack's source id with the other kind is not the stack's source.
        assert!(c.resolve("cluster", "prod", &[]).is_err());
    }

    #[test]
    fn given_a_bad_mapping_then_the_configuration_names_the_entry() {
        let pairs = base()
            .into_iter()
            .chain([("SOURCE_MAPPINGS", r#"[{"source":"orders"}]"#)]);
        let err = Config::from_env(&Env::from_pairs(pairs)).expect_err("unmapped id");
        let err = err.to_string();
        assert!(
            err.contains("SOURCE_MAPPINGS") && err.contains("entry 1"),
            "{err}"
        );
    }

    #[test]
    fn keep_zero_and_non_s3_script_are_refused() {
        let mut pairs = base();
        pairs.push(("KEEP", "0"));
        let err = Config::from_env(&Env::from_pairs(pairs)).expect_err("keep 0");
        assert!(err.to_string().contains("KEEP"), "{err}");
        let mut pairs = base();
        pairs.retain(|(k, _)| *k != "SCRIPT_URI");
        pairs.push(("SCRIPT_URI", "/tmp/x.sql"));
        let err = Config::from_env(&Env::from_pairs(pairs)).expect_err("script");
        assert!(err.to_string().contains("SCRIPT_URI"), "{err}");
    }

    fn with_pin(pin: &str) -> Result<Config, ConfigError> {
        let pairs = base()
            .into_iter()
            .filter(|(k, _)| *k != "SCRIPT_SHA256")
            .chain([("SCRIPT_SHA256", pin)]);
        Config::from_env(&Env::from_pairs(pairs))
    }

    #[test]
    fn given_a_script_pin_then_it_is_read_in_either_case_and_anything_else_is_refused() {
        let c = with_pin(PIN).expect("config");
        assert_eq!(c.script_sha256.to_string(), PIN);
        let c = with_pin(&PIN.to_ascii_uppercase()).expect("upper case");
        assert_eq!(c.script_sha256.to_string(), PIN);
        for bad in ["abc", "sha256:ba7816bf", &PIN[1..]] {
            let text = with_pin(bad).expect_err(bad).to_string();
            assert!(
                text.contains("SCRIPT_SHA256") && text.contains("64 hex digits"),
                "{text}"
            );
        }
    }
}
