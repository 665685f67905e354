//! CloudWatch Logs export: the scheduled subscriber. It lists log groups (paginated), selects
//! them (prefixes, include/exclude regex, tag; never Sluice's own groups), reads each group's
//! subscription filters and puts ours (`sluice-export` by default) only where it is missing or
//! different, never as a third filter. Invoked with `{"mode":"remove"}` it deletes only our
//! filter, from every group that has it. With the optional `CreateLogGroup` rule (CloudTrail via
//! EventBridge), it also subscribes each new group as it is created, by the same rules; the
//! schedule stays the source of truth, so CloudTrail is never required. A group it subscribes
//! also gets the events written before the filter existed ([`backfill`]).
//!
//! Flow: [`handle`] → [`event::request_of`] → [`plan::select`] / [`plan::decide`] (pure) →
//! [`logs::Logs`] (adapter); [`backfill::run`] → [`kinesis::put_all`] → [`kinesis::Stream`].

pub mod backfill;
pub mod config;
pub mod event;
pub mod kinesis;
pub mod logs;
pub mod plan;

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use serde_json::Value;
use sluice_runtime::metrics::Metrics;
use sluice_runtime::{ErrorKind, StepError};

use backfill::BackfillError;
pub use config::Config;
pub use event::{EventError, Mode, Request, request_of};
use kinesis::Stream;
use logs::{LogGroup, Logs, LogsError};
use plan::{Action, Selection};

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
}

impl From<SubscribeError> for lambda_runtime::Diagnostic {
    fn from(e: SubscribeError) -> Self {
        let kind = match e {
            SubscribeError::Event(_) => ErrorKind::InvalidInput,
            SubscribeError::List(_) => ErrorKind::Aws,
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

/// Runs one subscribe or remove pass, or subscribes one new group (see [`event`]).
pub async fn handle(
    event: &Value,
    config: &Config,
    aws: Aws<'_>,
) -> Result<Report, SubscribeError> {
    let logs = aws.logs;
    let mode = match request_of(event)? {
        Request::Pass(mode) => mode,
        Request::NewGroup(name) => return new_group(&name, config, aws).await,
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
    // Remove lists every group: the selection may have changed since our filter was put.
    let prefixes = match mode {
        Mode::Subscribe | Mode::NewGroup => config.prefixes.clone(),
        Mode::Remove => Vec::new(),
    };
    let groups = list_groups(logs, &prefixes).await?;
    let mut report = Report {
        mode: Some(mode),
        groups: groups.len() as u64,
        ..Report::default()
    };
    for group in &groups {
        let step = match mode {
            Mode::Subscribe | Mode::NewGroup => subscribe(group, config, aws, &mut report).await,
            Mode::Remove => remove(group, config, logs, &mut report)
                .await
                .map_err(GroupError::from),
        };
        if let Err(e) = step {
            report.failed += 1;
            tracing::error!(group = group.name, error = %e, "log group not handled");
        }
    }
    tracing::info!(?report, "done");
    Ok(report)
}

/// Subscribes the group a `CreateLogGroup` event named, by the same rules as a pass: name rules
/// first (no call for an own or excluded group), then the tag, then its existing filters.
async fn new_group(name: &str, config: &Config, aws: Aws<'_>) -> Result<Report, SubscribeError> {
    let mut report = Report {
        mode: Some(Mode::NewGroup),
        ..Report::default()
    };
    match plan::select(name, config) {
        Selection::Own => report.own += 1,
        Selection::Excluded => report.excluded += 1,
        Selection::Selected => match find_group(aws.logs, name).await? {
            None => tracing::info!(group = name, "new log group is already gone"),
            Some(group) => {
                report.groups = 1;
                if let Err(e) = subscribe(&group, config, aws, &mut report).await {
                    // Recovered: the next scheduled pass tries this group again.
                    report.failed += 1;
                    tracing::warn!(group = name, error = %e, "new log group not handled");
                }
            }
        },
    }
    tracing::info!(?report, "done");
    Ok(report)
}

/// The group named exactly `name`, listed with `name` as the prefix (it sorts first among the
/// groups that prefix matches, so this is usually one page).
pub async fn find_group(logs: &dyn Logs, name: &str) -> Result<Option<LogGroup>, SubscribeError> {
    let mut token = None;
    loop {
        let page = logs
            .describe_groups(Some(name), token.take())
            .await
            .map_err(SubscribeError::List)?;
        if let Some(g) = page.groups.into_iter().find(|g| g.name == name) {
            return Ok(Some(g));
        }
        match page.next_token {
            Some(t) => token = Some(t),
            None => return Ok(None),
        }
    }
}

/// Every log group under `prefixes` (all groups when empty), each once, following next tokens.
pub async fn list_groups(
    logs: &dyn Logs,
    prefixes: &[String],
) -> Result<Vec<LogGroup>, SubscribeError> {
    let prefixes: Vec<Option<&str>> = if prefixes.is_empty() {
        vec![None]
    } else {
        prefixes.iter().map(|p| Some(p.as_str())).collect()
    };
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for prefix in prefixes {
        let mut token = None;
        loop {
            let page = logs
                .describe_groups(prefix, token.take())
                .await
                .map_err(SubscribeError::List)?;
            out.extend(
                page.groups
                    .into_iter()
                    .filter(|g| seen.insert(g.name.clone())),
            );
            match page.next_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
    }
    Ok(out)
}

/// Why one group was not handled (logged and counted; the run goes on).
#[derive(Debug, thiserror::Error)]
enum GroupError {
    #[error(transparent)]
    Logs(#[from] LogsError),
    #[error(transparent)]
    Backfill(#[from] BackfillError),
}

async fn subscribe(
    group: &LogGroup,
    config: &Config,
    aws: Aws<'_>,
    report: &mut Report,
) -> Result<(), GroupError> {
    let logs = aws.logs;
    match plan::select(&group.name, config) {
        Selection::Own => {
            report.own += 1;
            return Ok(());
        }
        Selection::Excluded => {
            report.excluded += 1;
            return Ok(());
        }
        Selection::Selected => {}
    }
    let tags = if config.tag.is_some() || config.backfill.is_some() {
        logs.tags(group).await?
    } else {
        HashMap::new()
    };
    if !plan::tags_match(&tags, config) {
        report.excluded += 1;
        return Ok(());
    }
    let marker = tags.get(backfill::MARKER_KEY).map(String::as_str);
    let existing = logs.filters(&group.name).await?;
    let ours_created = |filters: &[plan::ExistingFilter]| {
        filters
            .iter()
            .find(|f| f.name == config.filter.name)
            .and_then(|f| f.creation_time)
    };
    // When our filter came to be, for a backfill still to do (`None`: nothing to backfill).
    let filter_created = match plan::decide(&existing, &config.filter) {
        Action::SkipTwoFilters => {
            tracing::warn!(
                group = group.name,
                "two subscription filters already; skipped"
            );
            report.skipped_two_filters += 1;
            None
        }
        Action::Already => {
            report.already += 1;
            (marker == Some(backfill::PENDING)).then(|| ours_created(&existing))
        }
        Action::Update => {
            logs.put_filter(&group.name, &config.filter).await?;
            report.updated += 1;
            (marker == Some(backfill::PENDING)).then(|| ours_created(&existing))
        }
        Action::Subscribe => {
            let backfill_due = config.backfill.is_some() && marker != Some(backfill::DONE);
            if backfill_due && marker != Some(backfill::PENDING) {
                // Before the filter: a run that stops after it still finds the backfill due.
                logs.tag(group, backfill::MARKER_KEY, backfill::PENDING)
                    .await?;
            }
            logs.put_filter(&group.name, &config.filter).await?;
            report.subscribed += 1;
            if backfill_due {
                Some(ours_created(&logs.filters(&group.name).await?))
            } else {
                None
            }
        }
    };
    if let (Some(created), Some(settings)) = (filter_created, &config.backfill) {
        let created = created.unwrap_or_else(now_ms);
        let sent = backfill::run(group, created, config, settings, logs, aws.stream).await?;
        report.backfilled += 1;
        report.backfill_events += sent.events;
        report.backfill_records += sent.records;
    }
    Ok(())
}

/// The current time, epoch milliseconds (a filter whose creation time was not reported).
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

async fn remove(
    group: &LogGroup,
    config: &Config,
    logs: &dyn Logs,
    report: &mut Report,
) -> Result<(), LogsError> {
    let existing = logs.filters(&group.name).await?;
    if existing.iter().any(|f| f.name == config.filter.name) {
        logs.delete_filter(&group.name, &config.filter.name).await?;
        report.removed += 1;
    }
    Ok(())
}
