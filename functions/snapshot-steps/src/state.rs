//! The execution state every step receives and returns.
//!
//! The state machine passes the whole state to each step (`{"step": …, "state.$": "$"}`) and
//! replaces it with what the step returns; fields a step does not know (the `error` a `Catch`
//! adds) are kept. Nothing secret is ever put here: the temp database's password stays in the
//! RDS-managed Secrets Manager secret, and only that secret's ARN travels.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An RDS instance or an Aurora cluster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A DB instance.
    #[default]
    Instance,
    /// A DB cluster (Aurora, also Serverless v2).
    Cluster,
}

impl Kind {
    /// `instance` or `cluster`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Instance => "instance",
            Self::Cluster => "cluster",
        }
    }
}

/// The production database a run sanitizes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// Instance or cluster.
    pub kind: Kind,
    /// Its identifier.
    pub id: String,
}

/// The execution input.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    /// What to sanitize.
    pub source: Source,
    /// `new` (default: snapshot the source now), `latest` (newest existing automated, manual or
    /// AWS Backup snapshot) or a snapshot identifier / ARN.
    #[serde(default)]
    pub snapshot: Option<String>,
    /// A dry run: the script runs in the temp database and is rolled back (the task's
    /// `SANITIZER_DRY_RUN`); nothing is snapshotted or shared, and the temp resources are
    /// cleaned up as after any run.
    #[serde(default)]
    pub dry_run: bool,
}

/// The run's state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// The execution input, as given.
    pub input: Input,
    /// The execution's name: the `sluice:run-id` tag of everything the run creates.
    pub run_id: String,
    /// The execution's ARN.
    #[serde(default)]
    pub execution_arn: Option<String>,
    /// The state machine's ARN (for the concurrency guard).
    #[serde(default)]
    pub state_machine_arn: Option<String>,
    /// When the run started, epoch seconds (set by the guard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<i64>,
    /// When the action the next wait waits on began, epoch seconds (set by each step that
    /// starts something to wait on: a wait's limit counts from it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase_started: Option<i64>,
    /// The run's sanitize settings: resolved by validate from the deployed configuration (the
    /// mapping entry of the source, or the single configuration), never from the input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<crate::config::mapping::Resolved>,
    /// The source's engine (set by validate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// The temp instance class (cluster sources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_class: Option<String>,
    /// Accounts the snapshot is shared with (checked by validate).
    #[serde(default)]
    pub accounts: Vec<String>,
    /// The snapshot the temp database is restored from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_from: Option<String>,
    /// The temp cluster is a copy-on-write clone of the Aurora source (no source snapshot).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub clone: bool,
    /// The temp database's identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temp_id: Option<String>,
    /// Its writer endpoint, once available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Its port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// ARN of its RDS-managed master secret (never the secret's value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_arn: Option<String>,
    /// The sanitizer task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    /// The snapshot of the sanitized temp database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temp_snapshot: Option<String>,
    /// The sanitized snapshot kept and shared (the re-encrypted copy when configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// Its ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_arn: Option<String>,
    /// The DR-region copy's ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dr_snapshot_arn: Option<String>,
    /// Sanitized snapshots pruned by this run.
    #[serde(default)]
    pub pruned: Vec<String>,
    /// Seconds each awaited phase took, by phase (`restore`, `sanitize`, …).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub durations: std::collections::BTreeMap<String, i64>,
    /// The attestation report of the kept snapshot, `s3://bucket/key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
    /// Its SHA-256 (also the kept snapshot's `sluice:report-sha256` tag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_sha256: Option<String>,
    /// Everything else (e.g. the `error` a `Catch` recorded).
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl State {
    /// The source.
    pub fn source(&self) -> &Source {
        &self.input.source
    }

    /// The settings `validate` resolved; a run that has none (started before they were carried
    /// in the state) uses the single configuration's.
    pub fn settings(&self, c: &crate::config::Config) -> crate::config::mapping::Resolved {
        self.settings
            .clone()
            .unwrap_or_else(|| crate::config::mapping::Resolved {
                mapping: "SnapshotSourceId".into(),
                script_uri: c.script_uri.clone(),
                script_sha256: c.script_sha256.to_string(),
                database: c.database.clone(),
                prefix: c.snapshot_prefix.clone(),
                kms_key: c.kms_key.clone(),
            })
    }

    /// A field set by an earlier step, or an `InvalidInput` error naming it.
    pub fn need<'a, T>(
        value: &'a Option<T>,
        field: &str,
    ) -> Result<&'a T, sluice_runtime::StepError> {
        value.as_ref().ok_or_else(|| {
            sluice_runtime::StepError::invalid_input(format!(
                "state has no {field}: the step that sets it has not run"
            ))
        })
    }
}

/// What the Lambda receives.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// Which step.
    pub step: String,
    /// Cleanup after a failure (also deletes this run's sanitized snapshots).
    #[serde(default)]
    pub failed: bool,
    /// The state.
    pub state: State,
}
