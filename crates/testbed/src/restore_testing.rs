//! Restore testing in the AWS Backup stand-in ([`crate::backup::FakeBackup`], which AWS's one
//! Backup endpoint serves them from): moto implements no restore jobs and no
//! `PutRestoreValidationResult`.
//!
//! The stand-in answers, in AWS's restJson1 shapes, `DescribeRestoreJob` (`GET /restore-jobs/{id}`,
//! <https://docs.aws.amazon.com/aws-backup/latest/devguide/API_DescribeRestoreJob.html>) and
//! `PutRestoreValidationResult` (`PUT /restore-jobs/{id}/validations`, `204` with no body,
//! <https://docs.aws.amazon.com/aws-backup/latest/devguide/API_PutRestoreValidationResult.html>),
//! and records every posted result. The test registers the restore jobs a simulated AWS Backup
//! ran with [`crate::backup::FakeBackup::add_restore_job`]; the restored database itself is a
//! local engine, its RDS record moto's.
//!
//! Assumption, not documented by AWS: a result for a restore job that no restore testing plan
//! created is refused (`InvalidRequestException`), so a validation that posts one fails its test.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::backup::{Shared, error, lock};

/// `ValidationStatus` values AWS accepts.
pub const VALIDATION_STATUSES: [&str; 4] = ["FAILED", "SUCCESSFUL", "TIMED_OUT", "VALIDATING"];

/// A restore job, as the test says AWS Backup ran it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreJob {
    /// Its id.
    pub job_id: String,
    /// `PENDING`, `RUNNING`, `COMPLETED`, `ABORTED` or `FAILED`.
    pub status: String,
    /// The restore testing plan that started it (`CreatedBy.RestoreTestingPlanArn`), if any.
    pub restore_testing_plan_arn: Option<String>,
    /// `RDS`, `Aurora`, `EBS`, …
    pub resource_type: String,
    /// The restored resource (`CreatedResourceArn`).
    pub created_resource_arn: String,
    /// The recovery point it restored.
    pub recovery_point_arn: String,
}

/// A result a validation posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedResult {
    /// The restore job.
    pub job_id: String,
    /// `ValidationStatus`.
    pub status: String,
    /// `ValidationStatusMessage`, when sent.
    pub message: Option<String>,
}

/// The restore jobs and the results posted for them.
#[derive(Default)]
pub(crate) struct RestoreJobs {
    pub(crate) jobs: BTreeMap<String, RestoreJob>,
    pub(crate) results: Vec<PostedResult>,
}

fn not_found(id: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "ResourceNotFoundException",
        &format!("restore job {id} not found"),
    )
}

pub(crate) async fn describe_restore_job(
    State(shared): State<Shared>,
    Path(id): Path<String>,
) -> Response {
    let mut inner = lock(&shared);
    inner.calls.push("DescribeRestoreJob".into());
    let Some(job) = inner.restore.jobs.get(&id) else {
        return not_found(&id);
    };
    let account = job.recovery_point_arn.split(':').nth(4).unwrap_or_default();
    let mut body = json!({
        "AccountId": account,
        "RestoreJobId": job.job_id,
        "RecoveryPointArn": job.recovery_point_arn,
        "CreatedResourceArn": job.created_resource_arn,
        "ResourceType": job.resource_type,
        "Status": job.status,
        "CreationDate": 1_765_000_000,
        "CompletionDate": 1_765_000_900,
        "PercentDone": "100.0",
    });
    if let Some(plan) = &job.restore_testing_plan_arn {
        body["CreatedBy"] = json!({ "RestoreTestingPlanArn": plan });
        // A restore test waits for a validation until a result arrives or its window ends.
        body["ValidationStatus"] = json!("VALIDATING");
    }
    if let Some(posted) = inner.restore.results.iter().rev().find(|r| r.job_id == id) {
        body["ValidationStatus"] = json!(posted.status);
        if let Some(message) = &posted.message {
            body["ValidationStatusMessage"] = json!(message);
        }
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

pub(crate) async fn put_restore_validation_result(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let mut inner = lock(&shared);
    inner.calls.push("PutRestoreValidationResult".into());
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestException",
            "the body is not JSON",
        );
    };
    let Some(status) = request["ValidationStatus"].as_str() else {
        return error(
            StatusCode::BAD_REQUEST,
            "MissingParameterValueException",
            "ValidationStatus is required",
        );
    };
    if !VALIDATION_STATUSES.contains(&status) {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValueException",
            &format!("ValidationStatus {status:?} is not one of {VALIDATION_STATUSES:?}"),
        );
    }
    let Some(job) = inner.restore.jobs.get(&id) else {
        return not_found(&id);
    };
    if job.restore_testing_plan_arn.is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestException",
            &format!("restore job {id} was not created by a restore testing plan"),
        );
    }
    inner.restore.results.push(PostedResult {
        job_id: id,
        status: status.to_owned(),
        message: request["ValidationStatusMessage"]
            .as_str()
            .map(str::to_owned),
    });
    StatusCode::NO_CONTENT.into_response()
}
