//! Restore-testing validation (the `restore-validator` binary and
//! `statemachines/restore-validation.asl.json`): when an AWS Backup restore testing plan has
//! restored an RDS instance or an Aurora cluster, run Sluice's verification gate read-only
//! against it (the sanitizer task with `SANITIZER_MODE=validate`) and post the outcome with
//! `PutRestoreValidationResult`. It describes the restore job and the restored database, runs
//! one task and writes one result: it never changes the database, the recovery point or the
//! restore job otherwise.
//!
//! An EventBridge `Restore Job State Change` event starts a run (one per restore job, named
//! after it) only for a job [`sluice_snapshots::restore_testing::target`] accepts; anything
//! else is one step of that run. Steps: `describe`, `startTask`, `waitTask`, `post`; every
//! failure after `describe` identified the job goes to `postFailure`, which posts `FAILED` with
//! the reason (column names and counts only) and the run ends FAILED.
//!
//! | Variable | Meaning |
//! |---|---|
//! | `RESTORE_TESTING_PLANS` | plan names acted on, comma-separated (empty: every plan) |
//! | `VALIDATION_STATE_MACHINE_ARN` | the state machine an event starts |
//! | `ECS_CLUSTER`, `TASK_DEFINITION`, `CONTAINER_NAME` | the validation task (container default `sanitizer`) |
//! | `TASK_SUBNETS`, `TASK_SECURITY_GROUPS` | the task's awsvpc network, which must reach the restored database |
//! | `SCRIPT_URI`, `SCRIPT_SHA256` | the script whose verify queries and leak settings run, pinned |
//! | `DATABASE_NAME` | the database the gate runs in |
//! | `VALIDATION_SECRET_ARN` | credentials of a read-only user of the restored database |
//! | `VALIDATION_DEADLINE_MINUTES` | past this, a step fails and `FAILED` is posted (default 120) |

use aws_config::SdkConfig;
use aws_sdk_backup::types::RestoreValidationStatus;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sluice_runtime::config::{ConfigError, Env};
use sluice_runtime::pin::Sha256Pin;
use sluice_runtime::{ErrorKind, StepError};
use sluice_snapshots::backup::SourceKind;
use sluice_snapshots::restore_testing::{self, RestoreJob, ValidationStatus};
use sluice_snapshots::status::Readiness;

use crate::aws::{self, aws_error};
use crate::script::split_s3_uri;
use crate::state::Kind;
use crate::steps::{
    TaskSpec, read_json, resource_failed, run_task, started_by, started_task, task_readiness,
};

/// Variables read by [`ValidationConfig::from_env`], for the template consistency test.
pub const VARS: &[&str] = &[
    "RESTORE_TESTING_PLANS",
    "VALIDATION_STATE_MACHINE_ARN",
    "ECS_CLUSTER",
    "TASK_DEFINITION",
    "CONTAINER_NAME",
    "TASK_SUBNETS",
    "TASK_SECURITY_GROUPS",
    "SCRIPT_URI",
    "SCRIPT_SHA256",
    "DATABASE_NAME",
    "VALIDATION_SECRET_ARN",
    "VALIDATION_DEADLINE_MINUTES",
];

/// The longest `VALIDATION_DEADLINE_MINUTES`: the state machine's `TimeoutSeconds` (2 days)
/// outlasts it and its waits, so `postFailure` always runs.
pub const MAX_DEADLINE_MINUTES: u32 = 1440;

/// Where the task writes its summary: `sanitized-reports/restore-validations/<job>/`.
const SUMMARY_PREFIX: &str = "sanitized-reports/restore-validations/";

/// The validation's settings.
#[derive(Debug, Clone)]
pub struct ValidationConfig {
    /// Plan names acted on (empty: every plan).
    pub plans: Vec<String>,
    /// The state machine an event starts.
    pub state_machine_arn: Option<String>,
    /// ECS cluster of the task.
    pub ecs_cluster: String,
    /// Its task definition.
    pub task_definition: String,
    /// Its container.
    pub container_name: String,
    /// Its subnets.
    pub task_subnets: Vec<String>,
    /// Its security groups.
    pub task_security_groups: Vec<String>,
    /// The script (`s3://bucket/key`).
    pub script_uri: String,
    /// Its pinned SHA-256.
    pub script_sha256: Sha256Pin,
    /// The database the gate runs in.
    pub database: String,
    /// Credentials of a read-only user.
    pub secret_arn: String,
    /// Minutes a run may take before it posts `FAILED`.
    pub deadline_minutes: u32,
}

fn non_empty(env: &Env, var: &str) -> Result<Vec<String>, ConfigError> {
    let list = env.list(var);
    if list.is_empty() {
        return Err(ConfigError::Missing { var: var.into() });
    }
    Ok(list)
}

impl ValidationConfig {
    /// Reads the configuration; every error names its variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let script_uri = env.required("SCRIPT_URI")?;
        if split_s3_uri(&script_uri).is_none() {
            return Err(ConfigError::invalid(
                "SCRIPT_URI",
                &script_uri,
                "expected s3://bucket/key",
            ));
        }
        let deadline_minutes: u32 = env.parse_or("VALIDATION_DEADLINE_MINUTES", 120)?;
        if !(10..=MAX_DEADLINE_MINUTES).contains(&deadline_minutes) {
            return Err(ConfigError::invalid(
                "VALIDATION_DEADLINE_MINUTES",
                &deadline_minutes.to_string(),
                "expected 10 to 1440 minutes",
            ));
        }
        Ok(Self {
            plans: env.list("RESTORE_TESTING_PLANS"),
            state_machine_arn: env.optional("VALIDATION_STATE_MACHINE_ARN"),
            ecs_cluster: env.required("ECS_CLUSTER")?,
            task_definition: env.required("TASK_DEFINITION")?,
            container_name: env
                .optional("CONTAINER_NAME")
                .unwrap_or_else(|| "sanitizer".into()),
            task_subnets: non_empty(env, "TASK_SUBNETS")?,
            task_security_groups: non_empty(env, "TASK_SECURITY_GROUPS")?,
            script_uri,
            script_sha256: env.parse_required("SCRIPT_SHA256")?,
            database: env.required("DATABASE_NAME")?,
            secret_arn: env.required("VALIDATION_SECRET_ARN")?,
            deadline_minutes,
        })
    }

    /// Where the task writes its summary for restore job `job`.
    fn summary_uri(&self, job: &str) -> String {
        let bucket = split_s3_uri(&self.script_uri).map_or("", |(b, _)| b);
        format!("s3://{bucket}/{SUMMARY_PREFIX}{job}/sanitizer.json")
    }
}

/// Clients and configuration, built once per container.
#[derive(Debug, Clone)]
pub struct ValidatorDeps {
    /// The configuration, or what is wrong with it (fails every step).
    pub config: Result<ValidationConfig, ConfigError>,
    /// AWS Backup (the restore job and its result).
    pub backup: aws_sdk_backup::Client,
    /// RDS (the restored database, read only).
    pub rds: aws::Rds,
    /// ECS (the validation task).
    pub ecs: aws_sdk_ecs::Client,
    /// S3 (the task's summary).
    pub s3: aws_sdk_s3::Client,
    /// Step Functions (the run an event starts).
    pub sfn: aws_sdk_sfn::Client,
}

impl ValidatorDeps {
    /// Clients from one SDK configuration.
    pub fn from_sdk(sdk: &SdkConfig, env: &Env) -> Self {
        Self {
            config: ValidationConfig::from_env(env),
            backup: aws_sdk_backup::Client::new(sdk),
            rds: aws::Rds {
                client: aws_sdk_rds::Client::new(sdk),
            },
            ecs: aws_sdk_ecs::Client::new(sdk),
            s3: sluice_runtime::aws::s3_client(sdk, env),
            sfn: aws_sdk_sfn::Client::new(sdk),
        }
    }

    fn config(&self) -> Result<&ValidationConfig, StepError> {
        self.config
            .as_ref()
            .map_err(|e| StepError::config(e.to_string()))
    }
}

/// A run's state, carried between the steps.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationState {
    /// The execution's name.
    pub run_id: String,
    /// The restore job validated.
    pub restore_job_id: String,
    /// When `describe` first ran (epoch seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started: Option<i64>,
    /// The restore testing plan, once the job is known to be one of its.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// `instance` or `cluster`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    /// The restored database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_id: Option<String>,
    /// Its endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Its port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// Its engine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// The validation task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    /// The result posted (`SUCCESSFUL` or `FAILED`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// The message posted with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The caught error (`Error`, `Cause`), on the failure path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct Request {
    step: String,
    state: ValidationState,
}

/// The function: an EventBridge event (it has a `detail-type`) may start a run; anything else
/// is one step of that run.
pub async fn handler(event: Value, deps: &ValidatorDeps) -> Result<Value, StepError> {
    if event.get("detail-type").is_some() {
        return start(&event, deps).await;
    }
    let Request { step, mut state } = serde_json::from_value(event)
        .map_err(|e| StepError::invalid_input(format!("not a restore-validation request: {e}")))?;
    tracing::info!(%step, run_id = %state.run_id, "step");
    let now = crate::now();
    let s = &mut state;
    if matches!(step.as_str(), "startTask" | "waitTask" | "post") {
        past_deadline(s, deps.config()?, now, &step)?;
    }
    match step.as_str() {
        "describe" => describe(s, deps, now).await?,
        "startTask" => start_task(s, deps).await?,
        "waitTask" => wait_task(s, deps).await?,
        "post" => post(s, deps).await?,
        "postFailure" => post_failure(s, deps).await?,
        other => {
            return Err(StepError::invalid_input(format!(
                "unknown step {other:?}; expected describe, startTask, waitTask, post or postFailure"
            )));
        }
    }
    serde_json::to_value(&state).map_err(|e| StepError::new(ErrorKind::Internal, e.to_string()))
}

fn past_deadline(
    s: &ValidationState,
    c: &ValidationConfig,
    now: i64,
    step: &str,
) -> Result<(), StepError> {
    match s.started {
        Some(started) if now - started > i64::from(c.deadline_minutes) * 60 => {
            Err(resource_failed(format!(
                "the validation passed its deadline of {} minutes (VALIDATION_DEADLINE_MINUTES) at step {step}",
                c.deadline_minutes
            )))
        }
        _ => Ok(()),
    }
}

/// The restore job as AWS Backup describes it, and the target it is, or why it is none.
async fn target_of(
    deps: &ValidatorDeps,
    plans: &[String],
    job_id: &str,
) -> Result<Result<restore_testing::Target, String>, StepError> {
    let out = deps
        .backup
        .describe_restore_job()
        .restore_job_id(job_id)
        .send()
        .await
        .map_err(|e| aws_error("DescribeRestoreJob", job_id, e))?;
    let job = RestoreJob {
        status: out.status().map_or("", |s| s.as_str()),
        restore_testing_plan_arn: out.created_by().and_then(|c| c.restore_testing_plan_arn()),
        resource_type: out.resource_type().unwrap_or_default(),
        created_resource_arn: out.created_resource_arn(),
    };
    Ok(restore_testing::target(&job, plans))
}

/// An EventBridge `Restore Job State Change`: starts the run of a restore job a chosen restore
/// testing plan completed, or logs why not (nothing is posted for any other restore).
async fn start(event: &Value, deps: &ValidatorDeps) -> Result<Value, StepError> {
    let c = deps.config()?;
    let detail_type = event["detail-type"].as_str().unwrap_or_default();
    let job_id = event["detail"]["restoreJobId"].as_str().unwrap_or_default();
    if detail_type != "Restore Job State Change" || job_id.is_empty() {
        let reason =
            format!("detail-type {detail_type:?} with no restoreJobId is not a restore job event");
        tracing::info!(%reason, "event ignored");
        return Ok(json!({"started": false, "reason": reason}));
    }
    if let Err(reason) = target_of(deps, &c.plans, job_id).await? {
        tracing::info!(job = %job_id, %reason, "restore job not validated");
        return Ok(json!({"started": false, "reason": reason}));
    }
    let machine = c
        .state_machine_arn
        .as_deref()
        .ok_or_else(|| StepError::config("VALIDATION_STATE_MACHINE_ARN is not set"))?;
    let name = started_by(&format!("restore-{job_id}"))
        .chars()
        .take(80)
        .collect::<String>();
    let input = json!({"restoreJobId": job_id}).to_string();
    let (arn, started) = crate::backup::start_once(&deps.sfn, machine, &name, input).await?;
    tracing::info!(job = %job_id, execution = %arn, started, "validation run");
    Ok(json!({"started": started, "executionArn": arn}))
}

/// Confirms the job (again: the run's input is only an id) and describes the restored
/// database; waits while it is not yet available.
async fn describe(
    s: &mut ValidationState,
    deps: &ValidatorDeps,
    now: i64,
) -> Result<(), StepError> {
    let c = deps.config()?;
    s.started.get_or_insert(now);
    let target = target_of(deps, &c.plans, &s.restore_job_id)
        .await?
        .map_err(|why| {
            StepError::invalid_input(format!(
                "restore job {} is not validated: {why}",
                s.restore_job_id
            ))
        })?;
    let kind = match target.kind {
        SourceKind::Instance => Kind::Instance,
        SourceKind::Cluster => Kind::Cluster,
    };
    s.plan = Some(target.plan);
    s.kind = Some(kind);
    s.db_id = Some(target.id.clone());
    let db = deps.rds.db(kind, &target.id).await?.ok_or_else(|| {
        resource_failed(format!(
            "the restored database {} does not exist (its validation window may have ended)",
            target.id
        ))
    })?;
    if db.status != "available" {
        return Err(StepError::not_ready(format!(
            "restored database {} is {}",
            db.id, db.status
        )));
    }
    s.endpoint =
        Some(db.endpoint.ok_or_else(|| {
            resource_failed(format!("restored database {} has no endpoint", db.id))
        })?);
    s.port = db.port;
    s.engine = Some(db.engine);
    Ok(())
}

fn need<'a>(v: &'a Option<String>, name: &str) -> Result<&'a str, StepError> {
    v.as_deref()
        .ok_or_else(|| StepError::invalid_input(format!("the state has no {name}")))
}

/// Starts the validation task (once per run): endpoint, names and ARNs only in the overrides.
async fn start_task(s: &mut ValidationState, deps: &ValidatorDeps) -> Result<(), StepError> {
    let c = deps.config()?;
    let by = started_by(&s.run_id);
    if let Some(arn) = started_task(&deps.ecs, &c.ecs_cluster, &by).await? {
        s.task_arn = Some(arn);
        return Ok(());
    }
    let port = s.port.map(|p| p.to_string()).unwrap_or_default();
    let pin = c.script_sha256.to_string();
    let summary = c.summary_uri(&s.restore_job_id);
    let env = [
        ("SANITIZER_MODE", "validate"),
        ("SANITIZER_ENDPOINT", need(&s.endpoint, "endpoint")?),
        ("SANITIZER_PORT", port.as_str()),
        ("SANITIZER_ENGINE", need(&s.engine, "engine")?),
        ("SANITIZER_DATABASE", c.database.as_str()),
        ("SANITIZER_SECRET_ARN", c.secret_arn.as_str()),
        ("SANITIZER_SCRIPT_URI", c.script_uri.as_str()),
        ("SANITIZER_SCRIPT_SHA256", pin.as_str()),
        ("SANITIZER_SUMMARY_URI", summary.as_str()),
    ];
    let task = TaskSpec {
        cluster: &c.ecs_cluster,
        task_definition: &c.task_definition,
        container: &c.container_name,
        subnets: &c.task_subnets,
        security_groups: &c.task_security_groups,
        started_by: &by,
        run_id: &s.run_id,
    };
    s.task_arn = Some(run_task(&deps.ecs, &task, &env).await?);
    Ok(())
}

/// Waits for the task to stop: exit code 0 is a passed gate.
async fn wait_task(s: &mut ValidationState, deps: &ValidatorDeps) -> Result<(), StepError> {
    let c = deps.config()?;
    let arn = need(&s.task_arn, "taskArn")?;
    match task_readiness(&deps.ecs, &c.ecs_cluster, &c.container_name, arn).await? {
        Readiness::Ready => Ok(()),
        Readiness::NotReady(m) => Err(StepError::not_ready(m)),
        Readiness::Failed(m) => Err(StepError::new(ErrorKind::VerificationFailed, m)),
    }
}

async fn put_result(
    s: &mut ValidationState,
    deps: &ValidatorDeps,
    status: ValidationStatus,
    message: String,
) -> Result<(), StepError> {
    let api = match status {
        ValidationStatus::Successful => RestoreValidationStatus::Successful,
        ValidationStatus::Failed => RestoreValidationStatus::Failed,
    };
    deps.backup
        .put_restore_validation_result()
        .restore_job_id(&s.restore_job_id)
        .validation_status(api)
        .validation_status_message(&message)
        .send()
        .await
        .map_err(|e| aws_error("PutRestoreValidationResult", &s.restore_job_id, e))?;
    tracing::info!(job = %s.restore_job_id, status = status.as_str(), "validation result posted");
    s.result = Some(status.as_str().to_owned());
    s.message = Some(message);
    Ok(())
}

/// Posts `SUCCESSFUL`, once the task's summary says the gate passed read-only.
async fn post(s: &mut ValidationState, deps: &ValidatorDeps) -> Result<(), StepError> {
    let c = deps.config()?;
    let summary = read_json(&deps.s3, &c.summary_uri(&s.restore_job_id)).await?;
    if summary["outcome"] != "validation_passed" || summary["read_only"] != true {
        return Err(StepError::new(
            ErrorKind::VerificationFailed,
            failure_reason(&summary).unwrap_or_else(|| {
                "the task's summary does not say the gate passed read-only".to_owned()
            }),
        ));
    }
    let queries = summary["verification"].as_array().map_or(0, Vec::len) as u64;
    let columns = summary["leak_check"]["text_columns_scanned"]
        .as_u64()
        .unwrap_or(0);
    let message = restore_testing::passed_message(queries, columns);
    put_result(s, deps, ValidationStatus::Successful, message).await
}

/// Posts `FAILED` with the reason: the task's summary when it says why, else the caught error.
/// A run whose job was never identified as a restore test's posts nothing.
async fn post_failure(s: &mut ValidationState, deps: &ValidatorDeps) -> Result<(), StepError> {
    let cause = s
        .error
        .as_ref()
        .and_then(|e| e["Cause"].as_str())
        .map(cause_message)
        .unwrap_or_else(|| "the validation failed".to_owned());
    if s.plan.is_none() {
        tracing::warn!(job = %s.restore_job_id, %cause, "not a restore test: no result posted");
        return Ok(());
    }
    let from_summary = match (deps.config(), s.task_arn.is_some()) {
        (Ok(c), true) => read_json(&deps.s3, &c.summary_uri(&s.restore_job_id))
            .await
            .ok()
            .and_then(|summary| failure_reason(&summary)),
        _ => None,
    };
    let message = restore_testing::failed_message(&from_summary.unwrap_or(cause));
    put_result(s, deps, ValidationStatus::Failed, message).await
}

/// A step's `Cause` is the error's JSON (`{"errorType", "errorMessage"}`) or plain text.
fn cause_message(cause: &str) -> String {
    serde_json::from_str::<Value>(cause)
        .ok()
        .and_then(|v| v["errorMessage"].as_str().map(str::to_owned))
        .unwrap_or_else(|| cause.to_owned())
}

/// Why a summary says the gate failed, in column names and counts, if it does.
pub fn failure_reason(summary: &Value) -> Option<String> {
    if summary["outcome"] == "validation_passed" {
        return None;
    }
    let mut parts = Vec::new();
    for hit in summary["leak_check"]["hits"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if hit["allowed"] != true {
            parts.push(format!(
                "{} holds {} values on {} rows",
                hit["column"].as_str().unwrap_or("?"),
                hit["detector"].as_str().unwrap_or("?"),
                hit["rows"].as_u64().unwrap_or(0)
            ));
        }
    }
    for v in summary["verification"].as_array().into_iter().flatten() {
        if v["passed"] != true {
            parts.push(match v["rows"].as_u64() {
                Some(rows) => format!(
                    "verify query {} returned {rows} rows",
                    v["index"].as_u64().unwrap_or(0)
                ),
                None => format!(
                    "verify query {} did not run",
                    v["index"].as_u64().unwrap_or(0)
                ),
            });
        }
    }
    if let Some(error) = summary["error"].as_str() {
        parts.push(error.to_owned());
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_leaking_summary_then_the_reason_names_columns_and_counts_only() {
        let summary = json!({
            "outcome": "verification_failed",
            "read_only": true,
            "verification": [
                {"index": 1, "rows": 0, "passed": true},
                {"index": 2, "rows": 25, "passed": false},
            ],
            "leak_check": {"text_columns_scanned": 3, "hits": [
                {"column": "public.customers.email", "detector": "email", "rows": 25, "allowed": false},
                {"column": "public.customers.note", "detector": "card", "rows": 2, "allowed": true},
            ]},
            "error": null,
        });
        assert_eq!(
            failure_reason(&summary).as_deref(),
            Some(
                "public.customers.email holds email values on 25 rows; verify query 2 returned 25 rows"
            )
        );
        let passed = json!({"outcome": "validation_passed", "read_only": true});
        assert_eq!(failure_reason(&passed), None);
    }

    #[test]
    fn given_a_lambda_error_cause_then_its_message_is_read() {
        assert_eq!(
            cause_message(r#"{"errorType":"ResourceFailed","errorMessage":"RunTask failed: x"}"#),
            "RunTask failed: x"
        );
        assert_eq!(cause_message("plain"), "plain");
    }

    #[test]
    fn given_settings_then_every_error_names_its_variable() {
        let base = [
            ("ECS_CLUSTER", "c"),
            ("TASK_DEFINITION", "t"),
            ("TASK_SUBNETS", "subnet-1"),
            ("TASK_SECURITY_GROUPS", "sg-1"),
            ("SCRIPT_URI", "s3://b/v.sql"),
            (
                "SCRIPT_SHA256",
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            ("DATABASE_NAME", "app"),
            (
                "VALIDATION_SECRET_ARN",
                "arn:aws:secretsmanager:us-east-1:1:secret:ro",
            ),
        ];
        let c = ValidationConfig::from_env(&Env::from_pairs(base)).expect("valid");
        assert_eq!(c.deadline_minutes, 120);
        assert_eq!(
            c.summary_uri("J1"),
            "s3://b/sanitized-reports/restore-validations/J1/sanitizer.json"
        );
        for (var, value) in [
            ("SCRIPT_URI", "b/v.sql"),
            ("VALIDATION_DEADLINE_MINUTES", "5"),
            ("SCRIPT_SHA256", "abc"),
        ] {
            let pairs = base
                .iter()
                .copied()
                .filter(|(k, _)| *k != var)
                .chain([(var, value)]);
            let err = ValidationConfig::from_env(&Env::from_pairs(pairs)).unwrap_err();
            assert!(err.to_string().contains(var), "{err}");
        }
        let missing = base
            .iter()
            .copied()
            .filter(|(k, _)| *k != "VALIDATION_SECRET_ARN");
        let err = ValidationConfig::from_env(&Env::from_pairs(missing)).unwrap_err();
        assert!(err.to_string().contains("VALIDATION_SECRET_ARN"), "{err}");
    }
}
