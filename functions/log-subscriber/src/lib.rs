//! CloudWatch Logs export: the scheduled subscriber. It lists log groups (paginated), selects
//! them (prefixes, include/exclude regex, tag; never Sluice's own groups), reads each group's
//! subscription filters and puts ours (`sluice-export` by default) only where it is missing or
//! different, never as a third filter. Invoked with `{"mode":"remove"}` it deletes only our
//! filter, from every group that has it. With the optional `CreateLogGroup` rule (CloudTrail via
//! EventBridge), it also subscribes each new group as it is created, by the same rules; the
//! schedule stays the source of truth, so CloudTrail is never required. A group it subscribes
//! also gets the events written before the filter existed ([`backfill`]).
//!
//! In account-policy mode (`SUBSCRIPTION_MODE=account-policy`) it keeps one account-level
//! subscription filter policy instead ([`policy`], [`account`]): every group but Sluice's own,
//! current and future, in one call; it refuses to overwrite a policy that is not ours. The
//! custom resource ([`custom_resource`]) puts it with the stack and deletes it with the stack or
//! when the mode goes back to per-group.
//!
//! Flow: [`handle`] → [`event::request_of`] → [`plan::select`] / [`plan::decide`] (pure) →
//! [`logs::Logs`] (adapter); [`backfill::run`] → [`kinesis::put_all`] → [`kinesis::Stream`];
//! account mode: [`account::ensure`] / [`account::delete_ours`] → [`policy::decide`] (pure).

pub mod account;
pub mod backfill;
pub mod config;
pub mod custom_resource;
pub mod event;
mod groups;
pub mod kinesis;
pub mod logs;
pub mod plan;
pub mod policy;

use serde::Serialize;
use serde_json::Value;
use sluice_runtime::metrics::Metrics;
use sluice_runtime::{ErrorKind, StepError};

use account::{AccountError, PolicyOutcome};
pub use config::Config;
use config::SubscriptionMode;
use custom_resource::RespondError;
pub use event::{EventError, Mode, Request, request_of};
pub use groups::{find_group, list_groups};
use kinesis::Stream;
use logs::{Logs, LogsError};

/// The invocation's result, also emitted as EMF metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The mode that ran.
    pub mode: Option<Mode>,
    /// Log groups listed (for a new group: 1 once found, 0 when it is already gone).
    pub groups: u64,
    /// Groups our filter was put on.
    pub subscribed: u64,
    /// Groups that already had our filter, unchanged.
    pub already: u64,
    /// Groups whose filter of our name was replaced (target, pattern or role differed).
    pub updated: u64,
    /// Groups skipped because they hold two other filters.
    pub skipped_two_filters: u64,
    /// Groups not selected (prefix, regex or tag).
    pub excluded: u64,
    /// Sluice's own groups, never subscribed.
    pub own: u64,
    /// Groups our filter was removed from (remove mode).
    pub removed: u64,
    /// Groups where a call failed (logged; the run goes on).
    pub failed: u64,
    /// Groups whose events from before our filter were sent (and marked done).
    pub backfilled: u64,
    /// Log events those backfills sent.
    pub backfill_events: u64,
    /// Kinesis records those backfills put.
    pub backfill_records: u64,
    /// Account-policy mode, and removal: what happened to our account subscription filter policy
    /// (in the result and the log line; a failure to put it fails the run, which the Errors alarm
    /// shows, so it is no metric).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyOutcome>,
}

impl Report {
    /// EMF metrics for this report.
    pub fn metrics(&self) -> Metrics {
        let mut m = Metrics::new("Sluice").dimension("Function", "log-subscriber");
        m.count("GroupsListed", self.groups)
            .count("Subscribed", self.subscribed)
            .count("AlreadySubscribed", self.already)
            .count("Updated", self.updated)
            .count("SkippedTwoFilters", self.skipped_two_filters)
            .count("Excluded", self.excluded + self.own)
            .count("Removed", self.removed)
            .count("GroupsFailed", self.failed)
            .count("GroupsBackfilled", self.backfilled)
            .count("BackfillEvents", self.backfill_events)
            .count("BackfillRecords", self.backfill_records);
        m
    }
}

/// Why an invocation failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum SubscribeError {
    /// The event is not a request this function understands.
    #[error(transparent)]
    Event(#[from] EventError),
    /// Listing log groups failed.
    #[error("listing log groups failed")]
    List(#[source] LogsError),
    /// The account subscription filter policy was not put or deleted (e.g. one that is not
    /// ours is in the way).
    #[error("account subscription filter policy: {0}")]
    Policy(#[source] AccountError),
    /// A custom resource's answer did not reach CloudFormation.
    #[error(transparent)]
    Respond(RespondError),
}

impl From<SubscribeError> for lambda_runtime::Diagnostic {
    fn from(e: SubscribeError) -> Self {
        let kind = match e {
            SubscribeError::Event(_) => ErrorKind::InvalidInput,
            SubscribeError::List(_) | SubscribeError::Respond(_) => ErrorKind::Aws,
            SubscribeError::Policy(AccountError::Policy(_)) => ErrorKind::Config,
            SubscribeError::Policy(AccountError::Logs(_)) => ErrorKind::Aws,
        };
        let mut message = e.to_string();
        if let Some(source) = std::error::Error::source(&e) {
            message = format!("{message}: {source}");
        }
        StepError::new(kind, message).into()
    }
}

/// The AWS capabilities a run uses.
#[derive(Clone, Copy)]
pub struct Aws<'a> {
    /// CloudWatch Logs.
    pub logs: &'a dyn Logs,
    /// The Kinesis stream backfills go to (unused without [`Config::backfill`]).
    pub stream: &'a dyn Stream,
}

/// Runs one subscribe or remove pass, subscribes one new group (see [`event`]), or in
/// account-policy mode keeps the account policy. CloudFormation's custom resource requests go to
/// [`custom_resource::run`] instead (they need a [`custom_resource::Responder`]).
pub async fn handle(
    event: &Value,
    config: &Config,
    aws: Aws<'_>,
) -> Result<Report, SubscribeError> {
    let account_mode = config.mode == SubscriptionMode::AccountPolicy;
    let mode = match request_of(event)? {
        Request::Pass(mode) => mode,
        Request::NewGroup(name) if account_mode => {
            tracing::info!(group = name, "new log group: the account policy covers it");
            return Ok(Report {
                mode: Some(Mode::NewGroup),
                ..Report::default()
            });
        }
        Request::NewGroup(name) => return groups::new_group(&name, config, aws).await,
        Request::FailedCall { error_code } => {
            tracing::info!(
                error_code,
                "CreateLogGroup call failed; nothing to subscribe"
            );
            return Ok(Report {
                mode: Some(Mode::NewGroup),
                ..Report::default()
            });
        }
    };
    let mut report = Report {
        mode: Some(mode),
        ..Report::default()
    };
    match (mode, account_mode) {
        // Account mode's scheduled pass: the policy as configured (put again if it was deleted
        // or changed), and none of our per-group filters, which would deliver events twice.
        (Mode::Subscribe | Mode::NewGroup, true) => {
            report.policy = Some(
                account::ensure(config, aws.logs)
                    .await
                    .map_err(SubscribeError::Policy)?,
            );
            groups::pass(Mode::Remove, config, aws, &mut report).await?;
        }
        (Mode::Subscribe | Mode::NewGroup, false) => {
            groups::pass(mode, config, aws, &mut report).await?;
        }
        // Remove everything Sluice put: our filters, and our account policy (only ours).
        (Mode::Remove, _) => {
            groups::pass(Mode::Remove, config, aws, &mut report).await?;
            report.policy = Some(
                account::delete_ours(config, aws.logs)
                    .await
                    .map_err(SubscribeError::Policy)?,
            );
        }
    }
    tracing::info!(?report, "done");
    Ok(report)
}
