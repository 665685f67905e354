//! An AWS Backup stand-in: moto implements no backup jobs or recovery points.
//!
//! It answers the calls backup actions make (restJson1): `DescribeBackupJob`
//! (`GET /backup-jobs/{id}`), `DeleteRecoveryPoint`
//! (`DELETE /backup-vaults/{vault}/recovery-points/{arn}`) and `DescribeRecoveryPoint` (`GET`
//! on the same path), `DescribeBackupVault` (`GET /backup-vaults/{vault}`, with its lock),
//! `ListLegalHolds` (`GET /legal-holds/`) and `ListRecoveryPointsByLegalHold`
//! (`GET /legal-holds/{id}/recovery-points`); for restore testing, `DescribeRestoreJob` and
//! `PutRestoreValidationResult` (see [`crate::restore_testing`]). The test registers the jobs a
//! simulated AWS Backup completed with [`FakeBackup::add_job`]; for RDS the recovery point is a
//! snapshot the test made in moto, so the export can read it. Product code reaches the stand-in
//! through `AWS_ENDPOINT_URL_BACKUP` = [`FakeBackup::endpoint`]; signatures are not checked.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::restore_testing::{self, PostedResult, RestoreJob};

/// A backup job, as the test says AWS Backup ran it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupJob {
    /// Its id (a UUID on AWS).
    pub job_id: String,
    /// The vault's name.
    pub vault: String,
    /// The recovery point (for RDS, the snapshot's ARN).
    pub recovery_point_arn: String,
    /// The backed-up resource.
    pub resource_arn: String,
    /// `RDS`, `Aurora`, `EBS`, …
    pub resource_type: String,
    /// `COMPLETED`, `FAILED`, …
    pub state: String,
    /// When it was created, epoch seconds.
    pub created: i64,
}

#[derive(Default)]
pub(crate) struct Inner {
    jobs: BTreeMap<String, BackupJob>,
    deleted: Vec<(String, String)>,
    fail_delete: Option<(String, String)>,
    expire_on_delete: bool,
    expired: Vec<String>,
    /// The vault lock's minimum retention in days, when the vaults are locked.
    vault_lock: Option<i64>,
    /// Active legal holds: (id, title, recovery point ARNs).
    legal_holds: Vec<(String, String, Vec<String>)>,
    /// Restore jobs (restore testing).
    pub(crate) restore: crate::restore_testing::RestoreJobs,
    pub(crate) calls: Vec<String>,
}

pub(crate) type Shared = Arc<Mutex<Inner>>;

pub(crate) fn lock(shared: &Shared) -> MutexGuard<'_, Inner> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The running stand-in; it stops serving when dropped.
pub struct FakeBackup {
    shared: Shared,
    port: u16,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl FakeBackup {
    /// Starts the stand-in on a free loopback port.
    pub fn start() -> FakeBackup {
        let shared = Shared::default();
        let (port, stop) = crate::serve::spawn(
            "AWS Backup stand-in",
            axum::Router::new()
                .route("/backup-jobs/{id}", axum::routing::get(describe_backup_job))
                .route(
                    "/backup-vaults/{vault}/recovery-points/{arn}",
                    axum::routing::delete(delete_recovery_point).get(describe_recovery_point),
                )
                .route(
                    "/backup-vaults/{vault}",
                    axum::routing::get(describe_backup_vault),
                )
                .route("/legal-holds", axum::routing::get(list_legal_holds))
                .route("/legal-holds/", axum::routing::get(list_legal_holds))
                .route(
                    "/legal-holds/{id}/recovery-points",
                    axum::routing::get(list_recovery_points_by_legal_hold),
                )
                .route(
                    "/restore-jobs/{id}",
                    axum::routing::get(restore_testing::describe_restore_job),
                )
                .route(
                    "/restore-jobs/{id}/validations",
                    axum::routing::put(restore_testing::put_restore_validation_result),
                )
                .fallback(unknown)
                .with_state(shared.clone()),
        );
        FakeBackup {
            shared,
            port,
            _stop: stop,
        }
    }

    /// The endpoint URL, for `AWS_ENDPOINT_URL_BACKUP`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Registers a job AWS Backup ran.
    pub fn add_job(&self, job: BackupJob) {
        lock(&self.shared).jobs.insert(job.job_id.clone(), job);
    }

    /// Registers a restore job AWS Backup ran (e.g. for a restore testing plan).
    pub fn add_restore_job(&self, job: RestoreJob) {
        let mut inner = lock(&self.shared);
        inner.restore.jobs.insert(job.job_id.clone(), job);
    }

    /// Every restore validation result posted, in order.
    pub fn validation_results(&self) -> Vec<PostedResult> {
        lock(&self.shared).restore.results.clone()
    }

    /// The recovery points deleted, as (vault, ARN), in order.
    pub fn deleted(&self) -> Vec<(String, String)> {
        lock(&self.shared).deleted.clone()
    }

    /// Makes every `DeleteRecoveryPoint` fail with `code`.
    pub fn fail_delete(&self, code: &str, message: &str) {
        lock(&self.shared).fail_delete = Some((code.to_owned(), message.to_owned()));
    }

    /// Makes `DeleteRecoveryPoint` behave as AWS does when the caller may not delete the
    /// underlying snapshot: success, but the recovery point is left `EXPIRED`.
    pub fn expire_on_delete(&self) {
        lock(&self.shared).expire_on_delete = true;
    }

    /// Locks every vault (Vault Lock) with a minimum retention of `days`.
    pub fn lock_vaults(&self, days: i64) {
        lock(&self.shared).vault_lock = Some(days);
    }

    /// Places an active legal hold `id` titled `title` on `recovery_point_arn`.
    pub fn add_legal_hold(&self, id: &str, title: &str, recovery_point_arn: &str) {
        lock(&self.shared).legal_holds.push((
            id.to_owned(),
            title.to_owned(),
            vec![recovery_point_arn.to_owned()],
        ));
    }

    /// The operations called, in order.
    pub fn calls(&self) -> Vec<String> {
        lock(&self.shared).calls.clone()
    }
}

pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::HeaderName::from_static("x-amzn-errortype"), code),
        ],
        json!({"Code": code, "Message": message}).to_string(),
    )
        .into_response()
}

async fn describe_backup_job(State(shared): State<Shared>, Path(id): Path<String>) -> Response {
    let mut inner = lock(&shared);
    inner.calls.push("DescribeBackupJob".into());
    let Some(job) = inner.jobs.get(&id) else {
        return error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("backup job {id} not found"),
        );
    };
    let account = job.recovery_point_arn.split(':').nth(4).unwrap_or_default();
    let region = job.recovery_point_arn.split(':').nth(3).unwrap_or_default();
    let body: Value = json!({
        "BackupJobId": job.job_id,
        "BackupVaultName": job.vault,
        "BackupVaultArn": format!("arn:aws:backup:{region}:{account}:backup-vault:{}", job.vault),
        "RecoveryPointArn": job.recovery_point_arn,
        "ResourceArn": job.resource_arn,
        "ResourceType": job.resource_type,
        "State": job.state,
        "CreationDate": job.created,
        "CompletionDate": job.created + 600,
        "PercentDone": "100.0",
        "AccountId": account,
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn delete_recovery_point(
    State(shared): State<Shared>,
    Path((vault, arn)): Path<(String, String)>,
) -> Response {
    let mut inner = lock(&shared);
    inner.calls.push("DeleteRecoveryPoint".into());
    if let Some((code, message)) = inner.fail_delete.clone() {
        return error(StatusCode::BAD_REQUEST, &code, &message);
    }
    let known = inner
        .jobs
        .values()
        .any(|j| j.vault == vault && j.recovery_point_arn == arn);
    if !known || inner.deleted.iter().any(|(_, a)| *a == arn) {
        return error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("recovery point {arn} not found in vault {vault}"),
        );
    }
    if inner.expire_on_delete {
        inner.expired.push(arn);
    } else {
        inner.deleted.push((vault, arn));
    }
    StatusCode::OK.into_response()
}

async fn describe_recovery_point(
    State(shared): State<Shared>,
    Path((vault, arn)): Path<(String, String)>,
) -> Response {
    let mut inner = lock(&shared);
    inner.calls.push("DescribeRecoveryPoint".into());
    let known = inner
        .jobs
        .values()
        .find(|j| j.vault == vault && j.recovery_point_arn == arn)
        .cloned();
    let Some(job) = known else {
        return error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("recovery point {arn} not found in vault {vault}"),
        );
    };
    let (status, message) = if inner.expired.contains(&arn) {
        (
            "EXPIRED",
            "Insufficient privileges to delete the recovery point",
        )
    } else if inner.deleted.iter().any(|(_, a)| *a == arn) {
        ("DELETING", "")
    } else {
        ("COMPLETED", "")
    };
    let body = json!({
        "RecoveryPointArn": arn,
        "BackupVaultName": vault,
        "ResourceArn": job.resource_arn,
        "ResourceType": job.resource_type,
        "Status": status,
        "StatusMessage": message,
        "CreationDate": job.created,
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn json_ok(body: &Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn describe_backup_vault(
    State(shared): State<Shared>,
    Path(vault): Path<String>,
) -> Response {
    let mut inner = lock(&shared);
    inner.calls.push("DescribeBackupVault".into());
    let mut body = json!({
        "BackupVaultName": vault,
        "BackupVaultArn": format!("arn:aws:backup:us-east-1:{}:backup-vault:{vault}", crate::moto::ACCOUNT),
        "Locked": inner.vault_lock.is_some(),
        "NumberOfRecoveryPoints": inner.jobs.values().filter(|j| j.vault == vault).count(),
    });
    if let Some(days) = inner.vault_lock {
        body["MinRetentionDays"] = json!(days);
    }
    json_ok(&body)
}

async fn list_legal_holds(State(shared): State<Shared>) -> Response {
    let mut inner = lock(&shared);
    inner.calls.push("ListLegalHolds".into());
    let holds: Vec<Value> = inner
        .legal_holds
        .iter()
        .map(|(id, title, _)| {
            json!({
                "LegalHoldId": id,
                "LegalHoldArn": format!("arn:aws:backup:us-east-1:{}:legal-hold:{id}", crate::moto::ACCOUNT),
                "Title": title,
                "Status": "ACTIVE",
            })
        })
        .collect();
    json_ok(&json!({ "LegalHolds": holds }))
}

async fn list_recovery_points_by_legal_hold(
    State(shared): State<Shared>,
    Path(id): Path<String>,
) -> Response {
    let mut inner = lock(&shared);
    inner.calls.push("ListRecoveryPointsByLegalHold".into());
    let points: Vec<Value> = inner
        .legal_holds
        .iter()
        .filter(|(hold, _, _)| *hold == id)
        .flat_map(|(_, _, arns)| arns.iter().map(|a| json!({ "RecoveryPointArn": a })))
        .collect();
    json_ok(&json!({ "RecoveryPoints": points }))
}

async fn unknown(uri: axum::http::Uri) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "InvalidRequestException",
        &format!("the AWS Backup stand-in does not serve {uri}"),
    )
}
