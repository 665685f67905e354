//! The CloudFormation custom resource `CwlAccountSubscriptionPolicy` (account-policy mode):
//! CloudFormation invokes the subscriber on Create, Update and Delete, so the account policy
//! comes and goes with the stack and the mode.
//!
//! - **Create / Update**: put our policy (refusing one that is not ours), then delete our
//!   per-group filters, which would deliver every event a second time.
//! - **Delete** (stack deleted, or `CwlSubscriptionMode` set back to `per-group`): when the
//!   function's mode is now `per-group`, first put our per-group filters (without backfill: the
//!   policy delivered those events), so no event is lost between the two; then delete our policy,
//!   only ours: a foreign policy, or the one a failed Create refused, stays.
//!
//! The answer goes to the request's pre-signed `ResponseURL` (HTTP PUT, empty content type), as
//! <https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html>
//! describes; a failure is answered `FAILED` with the reason CloudFormation shows in the stack's
//! events, never left unanswered.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::account::{self, AccountError};
use crate::config::{Config, SubscriptionMode};
use crate::event::Mode;
use crate::logs::BoxFuture;
use crate::{Aws, Report, SubscribeError, groups};

/// CloudFormation reads at most this much of a response body; longer reasons are cut.
const REASON_MAX_CHARS: usize = 2_000;

/// A custom resource request, the fields used
/// (<https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requests.html>).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CfnRequest {
    /// `Create`, `Update` or `Delete`.
    pub request_type: String,
    /// Where the answer goes (a pre-signed S3 URL).
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    /// The stack's ARN.
    pub stack_id: String,
    /// The request's id.
    pub request_id: String,
    /// The resource's logical id.
    pub logical_resource_id: String,
    /// Set on Update and Delete.
    #[serde(default)]
    pub physical_resource_id: Option<String>,
}

/// The request, when `event` is a CloudFormation custom resource request.
pub fn request_of(event: &Value) -> Option<CfnRequest> {
    event.get("ResponseURL")?;
    serde_json::from_value(event.clone()).ok()
}

/// Why the answer did not reach CloudFormation.
#[derive(Debug, thiserror::Error)]
#[error("answering CloudFormation failed: {0}")]
pub struct RespondError(
    /// What went wrong (the HTTP error or status).
    pub String,
);

/// Sends a custom resource's answer.
pub trait Responder: Send + Sync {
    /// PUTs `body` to the pre-signed `url`.
    fn respond<'a>(&'a self, url: &'a str, body: String)
    -> BoxFuture<'a, Result<(), RespondError>>;
}

/// The real responder (HTTPS PUT with an empty content type, as the pre-signed URL was signed).
#[derive(Debug, Clone, Default)]
pub struct HttpResponder {
    client: reqwest::Client,
}

impl Responder for HttpResponder {
    fn respond<'a>(
        &'a self,
        url: &'a str,
        body: String,
    ) -> BoxFuture<'a, Result<(), RespondError>> {
        Box::pin(async move {
            let answer = self
                .client
                .put(url)
                .header(reqwest::header::CONTENT_TYPE, "")
                .body(body)
                .send()
                .await
                .map_err(|e| RespondError(e.to_string()))?;
            if answer.status().is_success() {
                Ok(())
            } else {
                Err(RespondError(format!("HTTP {}", answer.status())))
            }
        })
    }
}

/// The answer's body: `SUCCESS`, or `FAILED` with `reason`; the physical id is the policy's name.
pub fn response_body(request: &CfnRequest, config: &Config, failure: Option<&str>) -> String {
    let physical = request
        .physical_resource_id
        .clone()
        .unwrap_or_else(|| config.policy_name.clone());
    let mut body = json!({
        "Status": if failure.is_some() { "FAILED" } else { "SUCCESS" },
        "PhysicalResourceId": physical,
        "StackId": request.stack_id,
        "RequestId": request.request_id,
        "LogicalResourceId": request.logical_resource_id,
        "Data": {"PolicyName": config.policy_name},
    });
    if let Some(reason) = failure {
        body["Reason"] = json!(reason.chars().take(REASON_MAX_CHARS).collect::<String>());
    }
    body.to_string()
}

/// Carries out the request and answers CloudFormation; fails only if the answer was not sent.
pub async fn run(
    request: &CfnRequest,
    config: &Config,
    aws: Aws<'_>,
    responder: &dyn Responder,
) -> Result<Report, SubscribeError> {
    let mut report = Report::default();
    let outcome = apply(request, config, aws, &mut report).await;
    let failure = outcome.as_ref().err().map(ToString::to_string);
    if let Some(reason) = &failure {
        tracing::error!(
            request_type = request.request_type,
            reason,
            "custom resource request failed"
        );
    }
    let body = response_body(request, config, failure.as_deref());
    responder
        .respond(&request.response_url, body)
        .await
        .map_err(SubscribeError::Respond)?;
    tracing::info!(request_type = request.request_type, ?report, "done");
    Ok(report)
}

/// Why a request was answered `FAILED`.
#[derive(Debug, thiserror::Error)]
enum ApplyError {
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Pass(#[from] SubscribeError),
    #[error(
        "the subscriber's SUBSCRIPTION_MODE is per-group: the account policy is only put in account-policy mode"
    )]
    PerGroup,
    #[error("unknown RequestType {0:?}")]
    Unknown(String),
}

async fn apply(
    request: &CfnRequest,
    config: &Config,
    aws: Aws<'_>,
    report: &mut Report,
) -> Result<(), ApplyError> {
    match request.request_type.as_str() {
        "Create" | "Update" => {
            if config.mode != SubscriptionMode::AccountPolicy {
                return Err(ApplyError::PerGroup);
            }
            report.policy = Some(account::ensure(config, aws.logs).await?);
            report.mode = Some(Mode::Remove);
            groups::pass(Mode::Remove, config, aws, report).await?;
        }
        "Delete" => {
            if config.mode == SubscriptionMode::PerGroup {
                let no_backfill = Config {
                    backfill: None,
                    ..config.clone()
                };
                report.mode = Some(Mode::Subscribe);
                groups::pass(Mode::Subscribe, &no_backfill, aws, report).await?;
            }
            report.policy = Some(account::delete_ours(config, aws.logs).await?);
        }
        other => return Err(ApplyError::Unknown(other.to_owned())),
    }
    Ok(())
}
