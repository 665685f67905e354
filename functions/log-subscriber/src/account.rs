//! Account-level mode, the calls: put our account subscription filter policy (refusing one that
//! is not ours), and delete ours (only ours). Decisions are in [`crate::policy`].
//!
//! Permissions, as AWS documents them for this policy type
//! (<https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutAccountPolicy.html>,
//! `API_DescribeAccountPolicies.html`, `API_DeleteAccountPolicy.html`): `logs:PutAccountPolicy`
//! with `logs:PutSubscriptionFilter` and `iam:PassRole` on the policy's `RoleArn`;
//! `logs:DescribeAccountPolicies` with `logs:DescribeSubscriptionFilters`;
//! `logs:DeleteAccountPolicy` with `logs:DeleteSubscriptionFilter`.

use serde::Serialize;

use crate::config::Config;
use crate::logs::{Logs, LogsError};
use crate::policy::{self, PolicyAction, PolicyError};

/// Why the account policy was not put or deleted.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// A policy that is not ours is in the way, or ours cannot be built.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A CloudWatch Logs call failed.
    #[error(transparent)]
    Logs(#[from] LogsError),
}

/// What happened to our account policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyOutcome {
    /// Put where there was none.
    Created,
    /// Put again: it differed.
    Updated,
    /// Already as configured.
    Unchanged,
    /// Ours was deleted.
    Deleted,
    /// There was none of ours to delete (a foreign one, if any, was left alone).
    Absent,
}

/// Puts our policy unless it is already as configured; refuses, without writing, when the
/// account holds a subscription filter policy that is not ours.
pub async fn ensure(config: &Config, logs: &dyn Logs) -> Result<PolicyOutcome, AccountError> {
    let spec = policy::spec(config)?;
    let existing = logs.account_policies().await?;
    let outcome = match policy::decide(&existing, &spec)? {
        PolicyAction::Already => return Ok(PolicyOutcome::Unchanged),
        PolicyAction::Create => PolicyOutcome::Created,
        PolicyAction::Update => PolicyOutcome::Updated,
    };
    logs.put_account_policy(&spec).await?;
    tracing::info!(
        policy = spec.name,
        ?outcome,
        "account subscription filter policy put"
    );
    Ok(outcome)
}

/// Deletes our policy if the account has it; any other policy (another name, or ours by name
/// without our marker) is left alone.
pub async fn delete_ours(config: &Config, logs: &dyn Logs) -> Result<PolicyOutcome, AccountError> {
    let existing = logs.account_policies().await?;
    let name = config.policy_name.as_str();
    if !existing.iter().any(|p| policy::is_ours(p, name)) {
        if let Some(other) = existing.first() {
            tracing::info!(
                policy = other.name,
                "account subscription filter policy is not ours; left in place"
            );
        }
        return Ok(PolicyOutcome::Absent);
    }
    logs.delete_account_policy(name).await?;
    tracing::info!(policy = name, "account subscription filter policy deleted");
    Ok(PolicyOutcome::Deleted)
}
