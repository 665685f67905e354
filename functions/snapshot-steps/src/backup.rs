//! Backup actions (`statemachines/backup-actions.asl.json`): an AWS Backup job that completed
//! in a chosen vault is exported to S3 as Parquet, optionally restored into a sanitized-snapshot
//! run, and its recovery point deleted only when every chosen action succeeded and deletion is
//! on.
//!
//! Two entry points share this module:
//! - [`start`] receives the EventBridge event (native `Backup Job State Change` or the
//!   CloudTrail-delivered `BackupJobCompleted`), ignores what is not ours with a logged reason,
//!   and starts one execution named after the backup job, so a duplicate event never starts a
//!   second run;
//! - [`run`] is one step of that execution (`{"step", "state"}`), like the sanitized-snapshot
//!   steps.
//!
//! Once an export is `COMPLETE`, [`tables`] reads what it did with each table: a run whose
//! export skipped or failed tables warns (or fails, with `BACKUP_EXPORT_REQUIRE_ALL_TABLES`),
//! and never deletes the recovery point.

pub mod tables;

use aws_sdk_backup::error::ProvideErrorMetadata;
use aws_sdk_backup::types::{BackupJobState, LegalHoldStatus, RecoveryPointStatus};
use aws_sdk_sfn::types::ExecutionStatus;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sluice_runtime::{ErrorKind, StepError};
use sluice_snapshots::backup::{self as rules, Actions, Done, ExportStatus, SourceKind};

use crate::Deps;
use crate::aws::{aws_error, code, gone, made, not_found};
use crate::config::mapping::Selector;
use crate::config::{BackupConfig, ExportConfig, SanitizeSources};
use crate::state::{Kind, Source, State};
use crate::steps::resource_failed;

/// The backup-action step names.
pub const STEPS: &[&str] = &[
    "describe",
    "exportStart",
    "exportWait",
    "sanitizeStart",
    "sanitizeWait",
    "deleteRecoveryPoint",
    "abort",
    "backupNotify",
];

/// The event source of result events.
pub const EVENT_SOURCE: &str = "sluice.backup-actions";

/// The execution input: what the event said about the job, the same whichever shape it came in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    /// The backup job id.
    pub backup_job_id: String,
    /// The vault's name.
    pub vault: String,
    /// The backed-up resource.
    pub resource_arn: String,
    /// `RDS` or `Aurora`.
    pub resource_type: String,
}

/// The export, once started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Export {
    /// The export task identifier.
    pub task_id: String,
    /// Where it writes: `s3://<bucket>/<prefix>/`.
    pub location: String,
    /// When it was started, epoch seconds.
    pub started: i64,
    /// Its last status.
    pub status: String,
    /// A warning RDS reported with the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// What the export did with each table (its status files), once complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables: Option<tables::Tables>,
}

impl Export {
    /// Why the recovery point must stay after this export: tables it left out, or per-table
    /// status never read (fail closed). `None` when every table is in the export.
    fn left_out(&self) -> Option<String> {
        match &self.tables {
            Some(t) => t.summary(&self.task_id),
            None => Some(format!(
                "the per-table status of export {} was not read",
                self.task_id
            )),
        }
    }
}

/// The sanitized-snapshot run, once started; or why none was (`status` [`SKIPPED`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sanitize {
    /// Its execution (none when skipped).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub execution_arn: String,
    /// Its last status, or [`SKIPPED`].
    pub status: String,
    /// Why no run was started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The sanitized snapshot it kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_arn: Option<String>,
}

/// The chosen actions, fixed when the run starts (the ASL's `Choice` states read them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChosenActions {
    /// Export to S3.
    pub export: bool,
    /// Start a sanitized-snapshot run.
    pub sanitize: bool,
    /// Delete the recovery point after success.
    pub delete: bool,
}

impl From<ChosenActions> for Actions {
    fn from(a: ChosenActions) -> Self {
        Actions {
            export: a.export,
            sanitize: a.sanitize,
            delete: a.delete,
        }
    }
}

/// The backup-actions execution state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupState {
    /// The execution input.
    pub input: Job,
    /// The execution name.
    pub run_id: String,
    /// The execution ARN.
    #[serde(default)]
    pub execution_arn: Option<String>,
    /// When `describe` ran, epoch seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<i64>,
    /// The actions this run takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<ChosenActions>,
    /// The recovery point (for RDS, the snapshot's ARN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_point_arn: Option<String>,
    /// The backed-up database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// When the backup was taken, epoch seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_time: Option<i64>,
    /// The export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export: Option<Export>,
    /// The sanitized-snapshot run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sanitize: Option<Sanitize>,
    /// `deleted` once the recovery point is gone; `retained` when a vault lock or a legal hold
    /// forbids deleting it, or its source has no sanitize settings; `kept` otherwise.
    #[serde(default = "kept")]
    pub recovery_point: String,
    /// Why the recovery point was retained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_point_reason: Option<String>,
    /// Everything else (the `error` a `Catch` recorded).
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

fn kept() -> String {
    "kept".into()
}

#[derive(Debug, Deserialize)]
struct Request {
    step: String,
    state: BackupState,
}

fn settings(deps: &Deps) -> Result<&BackupConfig, StepError> {
    deps.backup_config
        .as_ref()
        .map_err(|e| StepError::config(e.to_string()))
}

/// Reads the job out of a native or CloudTrail-delivered completion event.
pub fn job_of(event: &Value) -> Result<(Job, String), String> {
    let detail_type = event["detail-type"].as_str().unwrap_or_default();
    let detail = match detail_type {
        "Backup Job State Change" => &event["detail"],
        "AWS Service Event via CloudTrail" => {
            let name = event["detail"]["eventName"].as_str().unwrap_or_default();
            if name != "BackupJobCompleted" {
                return Err(format!(
                    "CloudTrail event {name:?} is not BackupJobCompleted"
                ));
            }
            &event["detail"]["serviceEventDetails"]
        }
        other => return Err(format!("detail-type {other:?} is not a backup job event")),
    };
    let field = |name: &str| detail[name].as_str().unwrap_or_default().to_owned();
    let job_id = field("backupJobId");
    if job_id.is_empty() {
        return Err("the event has no backupJobId".into());
    }
    let vault = match field("backupVaultName") {
        name if !name.is_empty() => name,
        _ => rules::vault_name(&field("backupVaultArn")).to_owned(),
    };
    let state = match field("state") {
        s if !s.is_empty() => s,
        _ => field("status"),
    };
    Ok((
        Job {
            backup_job_id: job_id,
            vault,
            resource_arn: field("resourceArn"),
            resource_type: field("resourceType"),
        },
        state,
    ))
}

/// Why an event is not acted on, or `None` when it starts a run.
fn ignored(job: &Job, state: &str, config: &BackupConfig) -> Option<String> {
    if state != "COMPLETED" {
        return Some(format!("backup job state is {state:?}, not COMPLETED"));
    }
    if !config.vaults.contains(&job.vault) {
        return Some(format!(
            "vault {:?} is not one of BACKUP_VAULTS {:?}",
            job.vault, config.vaults
        ));
    }
    rules::source_of(&job.resource_type, &job.resource_arn).err()
}

/// Handles an EventBridge event: starts the run for a completed backup of ours, or logs why not.
pub async fn start(event: &Value, deps: &Deps) -> Result<Value, StepError> {
    let config = settings(deps)?;
    let (job, state) = match job_of(event) {
        Ok(parsed) => parsed,
        Err(reason) => {
            tracing::info!(%reason, "event ignored");
            return Ok(json!({"started": false, "reason": reason}));
        }
    };
    if let Some(reason) = ignored(&job, &state, config) {
        tracing::info!(job = %job.backup_job_id, %reason, "backup ignored");
        return Ok(json!({"started": false, "reason": reason}));
    }
    let machine = config
        .state_machine_arn
        .as_deref()
        .ok_or_else(|| StepError::config("BACKUP_STATE_MACHINE_ARN is not set"))?;
    let name = rules::execution_name(&job.backup_job_id);
    let input = serde_json::to_string(&job)
        .map_err(|e| StepError::new(ErrorKind::Internal, e.to_string()))?;
    let (arn, started) = start_once(&deps.sfn, machine, &name, input).await?;
    if started {
        tracing::info!(job = %job.backup_job_id, execution = %arn, "run started");
        Ok(json!({"started": true, "executionArn": arn}))
    } else {
        tracing::info!(job = %job.backup_job_id, execution = %arn, "duplicate event: the run exists");
        Ok(json!({"started": false, "reason": "duplicate event", "executionArn": arn}))
    }
}

/// Starts execution `name` of `machine`, or finds it: Step Functions answers a repeated name
/// and input with the running execution, and refuses the name once that execution has ended
/// (`ExecutionAlreadyExists`). Returns its ARN and whether this call may have started it.
pub(crate) async fn start_once(
    sfn: &aws_sdk_sfn::Client,
    machine: &str,
    name: &str,
    input: String,
) -> Result<(String, bool), StepError> {
    let started = sfn
        .start_execution()
        .state_machine_arn(machine)
        .name(name)
        .input(input)
        .send()
        .await;
    match started {
        Ok(out) => Ok((out.execution_arn().to_owned(), true)),
        Err(e) if code(&e) == Some("ExecutionAlreadyExists") => {
            Ok((execution_arn(machine, name), false))
        }
        Err(e) => Err(aws_error("StartExecution", name, e)),
    }
}

/// The ARN of execution `name` of state machine `machine`.
fn execution_arn(machine: &str, name: &str) -> String {
    format!(
        "{}:{name}",
        machine.replacen(":stateMachine:", ":execution:", 1)
    )
}

/// Runs one backup-action step and returns the new state.
pub async fn run(event: Value, deps: &Deps, now: i64) -> Result<Value, StepError> {
    let Request { step, mut state } = serde_json::from_value(event)
        .map_err(|e| StepError::invalid_input(format!("not a backup-actions request: {e}")))?;
    tracing::info!(%step, run_id = %state.run_id, "step");
    let s = &mut state;
    // Past the run's deadline, every step that would go on waiting or acting fails instead, so
    // that Abort and NotifyFailure run before Step Functions' own timeout could stop the run.
    if !matches!(step.as_str(), "describe" | "abort" | "backupNotify")
        && let (Some(started), Ok(config)) = (s.started, settings(deps))
        && now - started > i64::from(config.deadline_hours) * 3600
    {
        return Err(resource_failed(format!(
            "run {} passed its deadline of {} hours (RUN_DEADLINE_HOURS) at step {step}",
            s.run_id, config.deadline_hours
        )));
    }
    match step.as_str() {
        "describe" => describe(s, deps, now).await?,
        "exportStart" => export_start(s, deps, now).await?,
        "exportWait" => export_wait(s, deps, now).await?,
        "sanitizeStart" => sanitize_start(s, deps).await?,
        "sanitizeWait" => sanitize_wait(s, deps).await?,
        "deleteRecoveryPoint" => delete_recovery_point(s, deps, now).await?,
        "abort" => abort(s, deps).await?,
        "backupNotify" => notify(s, deps, now).await?,
        other => {
            return Err(StepError::invalid_input(format!(
                "unknown step {other:?}; expected one of {STEPS:?}"
            )));
        }
    }
    serde_json::to_value(&state).map_err(|e| StepError::new(ErrorKind::Internal, e.to_string()))
}

/// Confirms the job with AWS Backup (the event may omit the recovery point) and fixes the
/// actions this run takes.
async fn describe(s: &mut BackupState, deps: &Deps, now: i64) -> Result<(), StepError> {
    let config = settings(deps)?;
    let id = &s.input.backup_job_id;
    let job = deps
        .backup
        .describe_backup_job()
        .backup_job_id(id)
        .send()
        .await
        .map_err(|e| aws_error("DescribeBackupJob", id, e))?;
    if job.state() != Some(&BackupJobState::Completed) {
        return Err(resource_failed(format!(
            "backup job {id} is {:?}, not COMPLETED",
            job.state().map(BackupJobState::as_str)
        )));
    }
    let vault = job.backup_vault_name().unwrap_or(&s.input.vault).to_owned();
    if !config.vaults.contains(&vault) {
        return Err(StepError::invalid_input(format!(
            "backup job {id} is in vault {vault:?}, not one of BACKUP_VAULTS {:?}",
            config.vaults
        )));
    }
    let recovery_point = job
        .recovery_point_arn()
        .ok_or_else(|| resource_failed(format!("backup job {id} has no recovery point")))?;
    let resource_type = job.resource_type().unwrap_or(&s.input.resource_type);
    let resource_arn = job.resource_arn().unwrap_or(&s.input.resource_arn);
    let (kind, source) = rules::source_of(resource_type, resource_arn)
        .map_err(|why| StepError::invalid_input(format!("backup job {id}: {why}")))?;
    s.input.vault = vault;
    s.recovery_point_arn = Some(recovery_point.to_owned());
    s.source = Some(Source {
        kind: match kind {
            SourceKind::Instance => Kind::Instance,
            SourceKind::Cluster => Kind::Cluster,
        },
        id: source,
    });
    s.backup_time = Some(job.creation_date().map_or(now, |d| d.secs()));
    s.actions = Some(ChosenActions {
        export: config.actions.export,
        sanitize: config.actions.sanitize,
        delete: config.actions.delete,
    });
    s.started = Some(now);
    s.recovery_point = kept();
    Ok(())
}

fn export_settings(deps: &Deps) -> Result<&ExportConfig, StepError> {
    settings(deps)?
        .export
        .as_ref()
        .ok_or_else(|| StepError::config("BACKUP_EXPORT is not true"))
}

/// Starts the Parquet export of the recovery point (idempotent: the task id is the job's).
async fn export_start(s: &mut BackupState, deps: &Deps, now: i64) -> Result<(), StepError> {
    let export = export_settings(deps)?;
    let recovery_point = State::need(&s.recovery_point_arn, "recoveryPointArn")?;
    let source = State::need(&s.source, "source")?;
    let job = &s.input.backup_job_id;
    let task_id =
        rules::export_task_id(job).map_err(|e| StepError::invalid_input(e.to_string()))?;
    let prefix = rules::export_prefix(
        &export.prefix,
        &s.input.vault,
        &source.id,
        s.backup_time.unwrap_or(now),
        job,
    );
    // AWS runs at most five exports per account at once and documents no error for a sixth:
    // this one waits for a slot (NotReady) rather than fail, within EXPORT_TIMEOUT_MINUTES.
    let slots = running_exports(deps, &task_id).await?;
    if !slots.ours && slots.others >= MAX_RUNNING_EXPORTS {
        let waited = now - s.started.unwrap_or(now);
        if waited > i64::from(export.timeout_minutes) * 60 {
            return Err(resource_failed(format!(
                "export {task_id} could not start in {} minutes (EXPORT_TIMEOUT_MINUTES={}): \
                 {} exports kept running in this account, the most AWS runs at once",
                waited / 60,
                export.timeout_minutes,
                slots.others
            )));
        }
        return Err(StepError::not_ready(format!(
            "{} exports are running in this account, the most AWS runs at once: export \
             {task_id} waits for one to end",
            slots.others
        )));
    }
    let started = deps
        .rds
        .client
        .start_export_task()
        .export_task_identifier(&task_id)
        .source_arn(recovery_point)
        .s3_bucket_name(&export.bucket)
        .s3_prefix(&prefix)
        .iam_role_arn(&export.role_arn)
        .kms_key_id(&export.kms_key)
        .send()
        .await;
    made("StartExportTask", &task_id, started)?;
    s.export = Some(Export {
        location: format!("s3://{}/{prefix}/", export.bucket),
        task_id,
        started: s.export.as_ref().map_or(now, |e| e.started),
        status: "STARTING".into(),
        warning: None,
        tables: None,
    });
    Ok(())
}

/// Snapshot exports AWS runs at once per account and region
/// (<https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ExportSnapshot.html#USER_ExportSnapshot.Limits>).
const MAX_RUNNING_EXPORTS: usize = 5;

/// The account's running exports, seen from one of them.
struct Slots {
    /// Other exports starting or in progress.
    others: usize,
    /// Whether `task_id` itself already exists (an earlier attempt started it).
    ours: bool,
}

/// Lists the account's starting and running exports (every page).
async fn running_exports(deps: &Deps, task_id: &str) -> Result<Slots, StepError> {
    let filter = aws_sdk_rds::types::Filter::builder()
        .name("status")
        .values("starting")
        .values("in_progress")
        .build();
    let mut pages = deps
        .rds
        .client
        .describe_export_tasks()
        .filters(filter)
        .into_paginator()
        .send();
    let mut slots = Slots {
        others: 0,
        ours: false,
    };
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("DescribeExportTasks", "(running)", e))?;
        for task in page.export_tasks() {
            if task.export_task_identifier() == Some(task_id) {
                slots.ours = true;
            } else if rules::export_status(task.status().unwrap_or_default())
                == ExportStatus::Running
            {
                slots.others += 1;
            }
        }
    }
    Ok(slots)
}

/// Waits for the export (`NotReady` while it runs, failing after `EXPORT_TIMEOUT_MINUTES`) and
/// checks its result: complete, and written where it was asked to.
async fn export_wait(s: &mut BackupState, deps: &Deps, now: i64) -> Result<(), StepError> {
    let settings = export_settings(deps)?;
    let export = s
        .export
        .as_mut()
        .ok_or_else(|| StepError::invalid_input("state has no export: exportStart has not run"))?;
    let out = deps
        .rds
        .client
        .describe_export_tasks()
        .export_task_identifier(&export.task_id)
        .send()
        .await
        .map_err(|e| aws_error("DescribeExportTasks", &export.task_id, e))?;
    let task = out
        .export_tasks()
        .first()
        .ok_or_else(|| resource_failed(format!("export task {} vanished", export.task_id)))?;
    let status = task.status().unwrap_or_default();
    export.status = status.to_ascii_uppercase();
    match rules::export_status(status) {
        ExportStatus::Complete => {
            let written = format!(
                "s3://{}/{}/",
                task.s3_bucket().unwrap_or_default(),
                task.s3_prefix().unwrap_or_default()
            );
            if written != export.location {
                return Err(resource_failed(format!(
                    "export {} wrote to {written}, not {}",
                    export.task_id, export.location
                )));
            }
            export.warning = task.warning_message().map(str::to_owned);
            let read = tables::read(
                deps,
                task.s3_bucket().unwrap_or_default(),
                task.s3_prefix().unwrap_or_default(),
                &export.task_id,
            )
            .await?;
            if let Some(summary) = read.summary(&export.task_id) {
                if settings.require_all_tables {
                    return Err(resource_failed(format!(
                        "{summary} (BACKUP_EXPORT_REQUIRE_ALL_TABLES=true; the recovery point \
                         is kept)"
                    )));
                }
                tracing::warn!(
                    export = %export.task_id,
                    skipped = read.skipped,
                    failed = read.failed,
                    "the export left tables out: the recovery point will be kept"
                );
            }
            export.tables = Some(read);
            Ok(())
        }
        ExportStatus::Running => {
            let waited = now - export.started;
            if waited > i64::from(settings.timeout_minutes) * 60 {
                return Err(resource_failed(format!(
                    "export {} is still {} after {} minutes (EXPORT_TIMEOUT_MINUTES={})",
                    export.task_id,
                    export.status,
                    waited / 60,
                    settings.timeout_minutes
                )));
            }
            Err(StepError::not_ready(format!(
                "export {} is {} ({}%)",
                export.task_id,
                export.status,
                task.percent_progress().unwrap_or(0)
            )))
        }
        ExportStatus::Ended(status) => Err(resource_failed(format!(
            "export {} ended {status}: {}",
            export.task_id,
            task.failure_cause().unwrap_or("no cause given")
        ))),
    }
}

/// The sanitize status of a recovery point whose source has no sanitize settings.
pub const SKIPPED: &str = "SKIPPED";

/// Which sanitize settings apply to `source` (backed up as `resource_arn`): the stack's source,
/// a mapping entry by id, or by one of the source's tags (read only when a tag entry exists).
/// `None` when none does.
async fn settings_for(
    sources: &SanitizeSources,
    source: &Source,
    resource_arn: &str,
    deps: &Deps,
) -> Result<Option<String>, StepError> {
    if source.kind.as_str() == sources.kind && source.id == sources.id {
        return Ok(Some("SnapshotSourceId".into()));
    }
    if sources.mappings.contains(&Selector::Id(source.id.clone())) {
        return Ok(Some(source.id.clone()));
    }
    if !sources
        .mappings
        .iter()
        .any(|m| matches!(m, Selector::Tag { .. }))
    {
        return Ok(None);
    }
    let tags = deps.rds.client.list_tags_for_resource();
    let out = tags.resource_name(resource_arn).send().await;
    let out = out.map_err(|e| aws_error("ListTagsForResource", resource_arn, e))?;
    Ok(sources
        .mappings
        .iter()
        .find(|m| match m {
            Selector::Tag { key, value } => out
                .tag_list()
                .iter()
                .any(|t| t.key() == Some(key.as_str()) && t.value() == Some(value.as_str())),
            Selector::Id(_) => false,
        })
        .map(ToString::to_string))
}

/// Starts a sanitized-snapshot run restoring this recovery point (named after the job), when
/// its source has sanitize settings; otherwise records why it is not sanitized.
async fn sanitize_start(s: &mut BackupState, deps: &Deps) -> Result<(), StepError> {
    let config = settings(deps)?;
    let machine = config
        .sanitize_state_machine_arn
        .as_deref()
        .ok_or_else(|| StepError::config("BACKUP_SANITIZE is not true"))?;
    let recovery_point = State::need(&s.recovery_point_arn, "recoveryPointArn")?;
    let source = State::need(&s.source, "source")?;
    if let Some(sources) = &config.sanitize_sources
        && settings_for(sources, source, &s.input.resource_arn, deps)
            .await?
            .is_none()
    {
        let why = format!(
            "{} {} has no sanitize settings: it is not SnapshotSourceId ({}) and no entry of \
             SnapshotSourceMappings names it or one of its tags",
            source.kind.as_str(),
            source.id,
            sources.id
        );
        tracing::info!(%why, "not sanitized");
        s.sanitize = Some(Sanitize {
            status: SKIPPED.into(),
            reason: Some(why),
            ..Sanitize::default()
        });
        return Ok(());
    }
    let name = rules::execution_name(&s.input.backup_job_id);
    let input = json!({"source": source, "snapshot": recovery_point}).to_string();
    let (arn, _) = start_once(&deps.sfn, machine, &name, input).await?;
    s.sanitize = Some(Sanitize {
        execution_arn: arn,
        status: "RUNNING".into(),
        ..Sanitize::default()
    });
    Ok(())
}

/// Waits for the sanitized-snapshot run; anything but `SUCCEEDED` fails this run.
async fn sanitize_wait(s: &mut BackupState, deps: &Deps) -> Result<(), StepError> {
    let run = s.sanitize.as_mut().ok_or_else(|| {
        StepError::invalid_input("state has no sanitize: sanitizeStart has not run")
    })?;
    if run.status == SKIPPED {
        return Ok(());
    }
    let out = deps
        .sfn
        .describe_execution()
        .execution_arn(&run.execution_arn)
        .send()
        .await
        .map_err(|e| aws_error("DescribeExecution", &run.execution_arn, e))?;
    run.status = out.status().as_str().to_owned();
    match out.status() {
        ExecutionStatus::Succeeded => {
            run.snapshot_arn = out
                .output()
                .and_then(|o| serde_json::from_str::<Value>(o).ok())
                .and_then(|o| o["snapshotArn"].as_str().map(str::to_owned));
            Ok(())
        }
        ExecutionStatus::Running | ExecutionStatus::PendingRedrive => {
            Err(StepError::not_ready(format!(
                "sanitized-snapshot run {} is {}",
                run.execution_arn, run.status
            )))
        }
        _ => Err(resource_failed(format!(
            "sanitized-snapshot run {} ended {}: {} {}",
            run.execution_arn,
            run.status,
            out.error().unwrap_or_default(),
            out.cause().unwrap_or_default()
        ))),
    }
}

/// Deletes the recovery point, only when deletion is on and every chosen action succeeded.
impl BackupState {
    /// Keeps the recovery point on purpose (a lock or a hold), saying why: the run succeeds.
    fn retain(&mut self, why: String) {
        tracing::info!(%why, "recovery point retained");
        self.recovery_point = "retained".into();
        self.recovery_point_reason = Some(why);
    }
}

/// Why AWS Backup may not delete the recovery point now, read before trying: the vault's lock
/// (its minimum retention, counted from the backup) or an active legal hold that covers it.
async fn retention_hold(
    s: &BackupState,
    deps: &Deps,
    recovery_point: &str,
    now: i64,
) -> Result<Option<String>, StepError> {
    let vault = &s.input.vault;
    let described = deps
        .backup
        .describe_backup_vault()
        .backup_vault_name(vault)
        .send()
        .await
        .map_err(|e| aws_error("DescribeBackupVault", vault, e))?;
    if described.locked() == Some(true)
        && let Some(days) = described.min_retention_days()
    {
        let age_days = (now - s.backup_time.unwrap_or(now)) / 86_400;
        if age_days < days {
            return Ok(Some(format!(
                "vault {vault} is locked with a minimum retention of {days} days and the \
                 recovery point is {age_days} days old"
            )));
        }
    }
    let mut holds = deps.backup.list_legal_holds().into_paginator().send();
    while let Some(page) = holds.next().await {
        let page = page.map_err(|e| aws_error("ListLegalHolds", "(account)", e))?;
        for hold in page.legal_holds() {
            let Some(id) = hold.legal_hold_id() else {
                continue;
            };
            if hold.status() != Some(&LegalHoldStatus::Active) {
                continue;
            }
            let mut points = deps
                .backup
                .list_recovery_points_by_legal_hold()
                .legal_hold_id(id)
                .into_paginator()
                .send();
            while let Some(page) = points.next().await {
                let page = page.map_err(|e| aws_error("ListRecoveryPointsByLegalHold", id, e))?;
                if page
                    .recovery_points()
                    .iter()
                    .any(|p| p.recovery_point_arn() == Some(recovery_point))
                {
                    return Ok(Some(format!(
                        "legal hold {id} ({}) covers it",
                        hold.title().unwrap_or("untitled")
                    )));
                }
            }
        }
    }
    Ok(None)
}

/// Whether AWS Backup refused a deletion because of a lock or hold it enforces at delete time.
fn refused_by_retention(code: Option<&str>, message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    matches!(
        code,
        Some("InvalidRequestException" | "AccessDeniedException")
    ) && ["lock", "retention", "legal hold"]
        .iter()
        .any(|w| message.contains(w))
}

async fn delete_recovery_point(
    s: &mut BackupState,
    deps: &Deps,
    now: i64,
) -> Result<(), StepError> {
    let config = settings(deps)?;
    let recovery_point = State::need(&s.recovery_point_arn, "recoveryPointArn")?;
    let chosen = *State::need(&s.actions, "actions")?;
    // Not sanitized for want of settings: the recovery point is the only copy anyone could
    // sanitize later, so it stays, and the run still succeeds.
    if let Some(Sanitize {
        status,
        reason: Some(why),
        ..
    }) = &s.sanitize
        && status == SKIPPED
    {
        let why = format!("not sanitized: {why}");
        s.retain(why);
        return Ok(());
    }
    let done = Done {
        exported: s
            .export
            .as_ref()
            .is_some_and(|e| rules::export_status(&e.status) == ExportStatus::Complete),
        sanitized: s.sanitize.as_ref().is_some_and(|r| r.status == "SUCCEEDED"),
    };
    rules::may_delete(chosen.into(), done).map_err(|why| {
        StepError::invalid_input(format!(
            "refusing to delete recovery point {recovery_point}: {why}"
        ))
    })?;
    if !config.vaults.contains(&s.input.vault) {
        return Err(StepError::invalid_input(format!(
            "refusing to delete from vault {:?}: not one of BACKUP_VAULTS",
            s.input.vault
        )));
    }
    // The only full copy of a table the export left out is the recovery point: it stays, and
    // the run still succeeds (the result event carries the warning).
    if chosen.export
        && let Some(why) = s.export.as_ref().and_then(Export::left_out)
    {
        tracing::info!(%why, "recovery point kept");
        s.recovery_point_reason = Some(format!(
            "not deleted: {why}; the recovery point holds the only full copy"
        ));
        return Ok(());
    }
    // A recovery point AWS Backup may not delete is kept on purpose: the run still succeeds.
    if let Some(why) = retention_hold(s, deps, recovery_point, now).await? {
        s.retain(why);
        return Ok(());
    }
    let deleted = deps
        .backup
        .delete_recovery_point()
        .backup_vault_name(&s.input.vault)
        .recovery_point_arn(recovery_point)
        .send()
        .await;
    if let Err(e) = &deleted
        && let Some(service) = e.as_service_error()
        && refused_by_retention(service.code(), service.message().unwrap_or_default())
    {
        s.retain(format!(
            "AWS Backup refused the deletion: {}",
            service.message().unwrap_or_default()
        ));
        return Ok(());
    }
    gone("DeleteRecoveryPoint", recovery_point, deleted)?;
    // AWS Backup answers a deletion it lacks the rights for with success and leaves the
    // recovery point EXPIRED: read it back.
    let after = deps
        .backup
        .describe_recovery_point()
        .backup_vault_name(&s.input.vault)
        .recovery_point_arn(recovery_point)
        .send()
        .await;
    match after {
        Ok(point) if point.status() == Some(&RecoveryPointStatus::Expired) => {
            return Err(resource_failed(format!(
                "AWS Backup did not delete recovery point {recovery_point}: it is EXPIRED \
                 (the function's role may not delete the underlying snapshot) - {}",
                point.status_message().unwrap_or("no message")
            )));
        }
        Ok(_) => {}
        Err(e) if not_found(&e) => {}
        Err(e) => return Err(aws_error("DescribeRecoveryPoint", recovery_point, e)),
    }
    s.recovery_point = "deleted".into();
    Ok(())
}

/// After a failure: cancels an export still running (its partial output is useless), and
/// deletes nothing.
async fn abort(s: &mut BackupState, deps: &Deps) -> Result<(), StepError> {
    let Some(export) = s.export.as_mut() else {
        return Ok(());
    };
    if rules::export_status(&export.status) != ExportStatus::Running {
        return Ok(());
    }
    let canceled = deps
        .rds
        .client
        .cancel_export_task()
        .export_task_identifier(&export.task_id)
        .send()
        .await;
    match canceled {
        Ok(out) => export.status = out.status().unwrap_or("CANCELING").to_ascii_uppercase(),
        // Already finished or gone: nothing to cancel.
        Err(e)
            if matches!(
                code(&e),
                Some("InvalidExportTaskStateFault" | "ExportTaskNotFound")
            ) => {}
        Err(e) => return Err(aws_error("CancelExportTask", &export.task_id, e)),
    }
    Ok(())
}

/// Sends the result event (`sluice.backup-actions`).
async fn notify(s: &mut BackupState, deps: &Deps, now: i64) -> Result<(), StepError> {
    let error = s.rest.get("error");
    let failed = error.is_some();
    let detail = json!({
        "runId": s.run_id,
        "status": if failed { "FAILED" } else { "SUCCEEDED" },
        "backupJobId": s.input.backup_job_id,
        "vault": s.input.vault,
        "recoveryPointArn": s.recovery_point_arn,
        "source": s.source,
        "actions": s.actions,
        "export": s.export,
        "sanitize": s.sanitize,
        "recoveryPoint": s.recovery_point,
        "recoveryPointReason": s.recovery_point_reason,
        "warning": s
            .export
            .as_ref()
            .and_then(|e| e.tables.as_ref()?.summary(&e.task_id)),
        "durationSeconds": s.started.map(|t| now - t),
        "error": error.and_then(|e| e.get("Error")),
        "cause": error.and_then(|e| e.get("Cause")),
    });
    crate::steps::put_event(
        deps,
        EVENT_SOURCE,
        if failed {
            "Backup Actions Failed"
        } else {
            "Backup Actions Succeeded"
        },
        s.recovery_point_arn.clone(),
        detail,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vaults: &[&str]) -> BackupConfig {
        BackupConfig {
            vaults: vaults.iter().map(|v| (*v).to_owned()).collect(),
            state_machine_arn: None,
            actions: Actions::default(),
            export: None,
            sanitize_state_machine_arn: None,
            sanitize_sources: None,
            deadline_hours: 72,
        }
    }

    #[test]
    fn a_deletion_refused_for_a_lock_or_hold_is_told_from_other_refusals() {
        assert!(refused_by_retention(
            Some("InvalidRequestException"),
            "Backup vault is locked"
        ));
        assert!(refused_by_retention(
            Some("InvalidRequestException"),
            "recovery point is under a Legal Hold"
        ));
        assert!(refused_by_retention(
            Some("AccessDeniedException"),
            "deletion violates the vault's minimum retention"
        ));
        assert!(!refused_by_retention(
            Some("InvalidRequestException"),
            "recovery point is being copied"
        ));
        assert!(!refused_by_retention(Some("ThrottlingException"), "lock"));
        assert!(!refused_by_retention(None, "locked"));
    }

    #[test]
    fn execution_arns_follow_the_machine() {
        assert_eq!(
            execution_arn("arn:aws:states:us-east-1:1:stateMachine:sm", "backup-J"),
            "arn:aws:states:us-east-1:1:execution:sm:backup-J"
        );
    }

    #[test]
    fn non_completed_states_other_vaults_and_types_are_ignored_with_reasons() {
        let job = Job {
            backup_job_id: "J".into(),
            vault: "prod".into(),
            resource_arn: "arn:aws:rds:us-east-1:1:db:orders".into(),
            resource_type: "RDS".into(),
        };
        assert_eq!(ignored(&job, "COMPLETED", &config(&["prod"])), None);
        assert!(
            ignored(&job, "FAILED", &config(&["prod"]))
                .unwrap()
                .contains("FAILED")
        );
        assert!(
            ignored(&job, "COMPLETED", &config(&["other"]))
                .unwrap()
                .contains("\"prod\"")
        );
        let dynamo = Job {
            resource_type: "DynamoDB".into(),
            ..job
        };
        assert!(
            ignored(&dynamo, "COMPLETED", &config(&["prod"]))
                .unwrap()
                .contains("DynamoDB")
        );
    }
}
