//! Every step of the sanitized-snapshot state machine
//! (`statemachines/sanitized-snapshot.asl.json`, [`handler`], the `snapshot-steps` binary) and
//! of the backup-actions state machine (`statemachines/backup-actions.asl.json`,
//! [`backup_handler`], the `backup-actions` binary), dispatched on the request's `step` field;
//! an EventBridge event (it has a `detail-type`) is an AWS Backup job completion that may start
//! a backup-actions run (see [`backup`]). The restore-testing validation's steps
//! ([`restore_validation`], the `restore-validator` binary) share the task and S3 helpers.
//!
//! Each step is idempotent: a retried invocation finds by tag (`sluice:run-id`) what it already
//! created and carries on. A step waiting on AWS fails with `NotReady`, which the state
//! machine retries; a status that can never become ready fails with `ResourceFailed`. The
//! production source is only ever described and snapshotted.

pub mod aws;
pub mod backup;
pub mod config;
pub mod keys;
pub mod restore_validation;
pub mod script;
pub mod state;
mod steps;

use aws_config::SdkConfig;
use serde_json::Value;
use sluice_runtime::StepError;

pub use config::{BackupConfig, Config};
pub use state::{Kind, Request, State};

/// Clients and configuration, built once per container.
#[derive(Debug, Clone)]
pub struct Deps {
    /// Sanitized-snapshot configuration; an error fails only the sanitized-snapshot steps (a
    /// stack may run backup actions alone).
    pub config: Result<Config, sluice_runtime::config::ConfigError>,
    /// Backup-action configuration; an error fails only the backup-action steps.
    pub backup_config: Result<BackupConfig, sluice_runtime::config::ConfigError>,
    /// The EventBridge bus of result events.
    pub event_bus: String,
    /// AWS Backup (the job and its recovery point).
    pub backup: aws_sdk_backup::Client,
    /// RDS in the function's region.
    pub rds: aws::Rds,
    /// RDS in the DR region, when configured.
    pub dr_rds: Option<aws::Rds>,
    /// ECS (the sanitizer task).
    pub ecs: aws_sdk_ecs::Client,
    /// Step Functions (the concurrency guard).
    pub sfn: aws_sdk_sfn::Client,
    /// EventBridge (the result event).
    pub events: aws_sdk_eventbridge::Client,
    /// S3 (the pinned sanitizing script, read at `validate`).
    pub s3: aws_sdk_s3::Client,
    /// KMS (`validate` describes the source's and the copies' keys).
    pub kms: aws_sdk_kms::Client,
}

impl Deps {
    /// Clients from one SDK configuration (`env` decides S3's path-style addressing).
    pub fn from_sdk(
        sdk: &SdkConfig,
        env: &sluice_runtime::config::Env,
        config: Result<Config, sluice_runtime::config::ConfigError>,
        backup_config: Result<BackupConfig, sluice_runtime::config::ConfigError>,
        event_bus: String,
    ) -> Self {
        let dr_region = config.as_ref().ok().and_then(|c| c.dr_region.clone());
        let dr_rds = dr_region.map(|region| {
            let conf = aws_sdk_rds::config::Builder::from(sdk)
                .region(aws_sdk_rds::config::Region::new(region))
                .build();
            aws::Rds {
                client: aws_sdk_rds::Client::from_conf(conf),
            }
        });
        Self {
            config,
            backup_config,
            event_bus,
            backup: aws_sdk_backup::Client::new(sdk),
            rds: aws::Rds {
                client: aws_sdk_rds::Client::new(sdk),
            },
            dr_rds,
            ecs: aws_sdk_ecs::Client::new(sdk),
            sfn: aws_sdk_sfn::Client::new(sdk),
            events: aws_sdk_eventbridge::Client::new(sdk),
            s3: sluice_runtime::aws::s3_client(sdk, env),
            kms: aws_sdk_kms::Client::new(sdk),
        }
    }
}

impl Deps {
    /// The sanitized-snapshot configuration, or a `ConfigError` naming what is wrong.
    pub fn config(&self) -> Result<&Config, StepError> {
        self.config
            .as_ref()
            .map_err(|e| StepError::config(e.to_string()))
    }
}

/// The step names, in pipeline order.
pub const STEPS: &[&str] = &[
    "guard",
    "validate",
    "snapshotSource",
    "waitSourceSnapshot",
    "restore",
    "waitRestored",
    "runSanitizer",
    "waitSanitizer",
    "snapshotTemp",
    "waitTempSnapshot",
    "copyEncrypted",
    "waitSnapshot",
    "share",
    "copyToDr",
    "waitDrCopy",
    "prune",
    "attest",
    "cleanup",
    "notify",
];

/// Runs one step of the sanitized-snapshot state machine and returns the new state.
pub async fn handler(event: Value, deps: &Deps) -> Result<Value, StepError> {
    let request: Request = serde_json::from_value(event)
        .map_err(|e| StepError::invalid_input(format!("not a snapshot-steps request: {e}")))?;
    tracing::info!(step = %request.step, run_id = %request.state.run_id, "step");
    let state = steps::run(request, deps, now()).await?;
    serde_json::to_value(&state)
        .map_err(|e| StepError::new(sluice_runtime::ErrorKind::Internal, e.to_string()))
}

/// The backup-actions function: an EventBridge event (it has a `detail-type`) is an AWS Backup
/// job completion that may start a run; anything else is one step of that run.
pub async fn backup_handler(event: Value, deps: &Deps) -> Result<Value, StepError> {
    if event.get("detail-type").is_some() {
        return backup::start(&event, deps).await;
    }
    backup::run(event, deps, now()).await
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
