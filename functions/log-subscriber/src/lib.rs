//! CloudWatch Logs export: the scheduled subscriber. It lists log groups (paginated), selects
//! them (prefixes, include/exclude regex, tag; never Sluice's own groups), reads each group's
//! subscription filters and puts ours (`sluice-export` by default) only where it is missing or
//! different, never as a third filter. Invoked with `{"mode":"remove"}` it deletes only our
//! filter, from every group that has it.
//!
//! Flow: [`handle`] → [`plan::select`] / [`plan::decide`] (pure) → [`logs::Logs`] (adapter).

pub mod config;
pub mod logs;
pub mod plan;

use std::collections::HashSet;

use serde::Serialize;
use serde_json::Value;
use sluice_runtime::metrics::Metrics;
use sluice_runtime::{ErrorKind, StepError};

pub use config::Config;
use logs::{LogGroup, Logs, LogsError};
use plan::{Action, Selection};

/// What an invocation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Put our filter where it is missing or different (the schedule's default).
    Subscribe,
    /// Delete our filter (only ours) wherever it is.
    Remove,
}

/// The invocation's result, also emitted as EMF metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The mode that ran.
    pub mode: Option<Mode>,
    /// Log groups listed.
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
            .count("GroupsFailed", self.failed);
        m
    }
}

/// Why an invocation failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum SubscribeError {
    /// The payload asked for an unknown mode.
    #[error("unknown mode {0:?}: expected \"subscribe\" or \"remove\"")]
    UnknownMode(String),
    /// Listing log groups failed.
    #[error("listing log groups failed")]
    List(#[source] LogsError),
}

impl From<SubscribeError> for lambda_runtime::Diagnostic {
    fn from(e: SubscribeError) -> Self {
        let kind = match e {
            SubscribeError::UnknownMode(_) => ErrorKind::InvalidInput,
            SubscribeError::List(_) => ErrorKind::Aws,
        };
        let mut message = e.to_string();
        if let Some(source) = std::error::Error::source(&e) {
            message = format!("{message}: {source}");
        }
        StepError::new(kind, message).into()
    }
}

/// The mode an event asks for: `{"mode":"remove"}`; anything else (a schedule event) subscribes.
pub fn mode_of(event: &Value) -> Result<Mode, SubscribeError> {
    match event.get("mode").and_then(Value::as_str) {
        None | Some("subscribe") => Ok(Mode::Subscribe),
        Some("remove") => Ok(Mode::Remove),
        Some(other) => Err(SubscribeError::UnknownMode(other.to_owned())),
    }
}

/// Runs one subscribe or remove pass.
pub async fn handle(
    event: &Value,
    config: &Config,
    logs: &dyn Logs,
) -> Result<Report, SubscribeError> {
    let mode = mode_of(event)?;
    // Remove lists every group: the selection may have changed since our filter was put.
    let prefixes = match mode {
        Mode::Remove => Vec::new(),
        Mode::Subscribe => config.prefixes.clone(),
    };
    let groups = list_groups(logs, &prefixes).await?;
    let mut report = Report {
        mode: Some(mode),
        groups: groups.len() as u64,
        ..Report::default()
    };
    for group in &groups {
        let step = match mode {
            Mode::Subscribe => subscribe(group, config, logs, &mut report).await,
            Mode::Remove => remove(group, config, logs, &mut report).await,
        };
        if let Err(e) = step {
            report.failed += 1;
            tracing::error!(group = group.name, error = %e, "log group not handled");
        }
    }
    tracing::info!(?report, "done");
    Ok(report)
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

async fn subscribe(
    group: &LogGroup,
    config: &Config,
    logs: &dyn Logs,
    report: &mut Report,
) -> Result<(), LogsError> {
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
    if config.tag.is_some() && !plan::tags_match(&logs.tags(group).await?, config) {
        report.excluded += 1;
        return Ok(());
    }
    let existing = logs.filters(&group.name).await?;
    match plan::decide(&existing, &config.filter) {
        Action::Already => report.already += 1,
        Action::SkipTwoFilters => {
            tracing::warn!(
                group = group.name,
                "two subscription filters already; skipped"
            );
            report.skipped_two_filters += 1;
        }
        Action::Subscribe => {
            logs.put_filter(&group.name, &config.filter).await?;
            report.subscribed += 1;
        }
        Action::Update => {
            logs.put_filter(&group.name, &config.filter).await?;
            report.updated += 1;
        }
    }
    Ok(())
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
