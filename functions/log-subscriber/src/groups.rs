//! The per-group work: listing groups, one pass over them (subscribe or remove our filter),
//! and the one group a `CreateLogGroup` event names.

use std::collections::{HashMap, HashSet};

use crate::backfill::{self, BackfillError};
use crate::config::Config;
use crate::event::Mode;
use crate::logs::{LogGroup, Logs, LogsError};
use crate::plan::{self, Action, Selection};
use crate::{Aws, Report, SubscribeError};

/// One pass over every listed group: subscribe (under the configured prefixes) or remove our
/// filter (from every group: the selection may have changed since it was put). A group that
/// fails is counted and logged; the pass goes on.
pub(crate) async fn pass(
    mode: Mode,
    config: &Config,
    aws: Aws<'_>,
    report: &mut Report,
) -> Result<(), SubscribeError> {
    let prefixes = match mode {
        Mode::Subscribe | Mode::NewGroup => config.prefixes.clone(),
        Mode::Remove => Vec::new(),
    };
    let groups = list_groups(aws.logs, &prefixes).await?;
    report.groups += groups.len() as u64;
    for group in &groups {
        let step = match mode {
            Mode::Subscribe | Mode::NewGroup => subscribe(group, config, aws, report).await,
            Mode::Remove => remove(group, config, aws.logs, report)
                .await
                .map_err(GroupError::from),
        };
        if let Err(e) = step {
            report.failed += 1;
            tracing::error!(group = group.name, error = %e, "log group not handled");
        }
    }
    Ok(())
}

/// Subscribes the group a `CreateLogGroup` event named, by the same rules as a pass: name rules
/// first (no call for an own or excluded group), then the tag, then its existing filters.
pub(crate) async fn new_group(
    name: &str,
    config: &Config,
    aws: Aws<'_>,
) -> Result<Report, SubscribeError> {
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
pub(crate) enum GroupError {
    #[error(transparent)]
    Logs(#[from] LogsError),
    #[error(transparent)]
    Backfill(#[from] BackfillError),
}

pub(crate) async fn subscribe(
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

pub(crate) async fn remove(
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
