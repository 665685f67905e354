//! The CloudWatch Logs calls the subscriber needs, behind a small trait, and the real adapter
//! over `aws-sdk-cloudwatchlogs`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata;
use aws_sdk_cloudwatchlogs::types::{PolicyType, Scope};

use crate::config::FilterSpec;
use crate::plan::ExistingFilter;
use crate::policy::{AccountPolicy, POLICY_TYPE, PolicySpec};

/// A boxed, sendable future, so [`Logs`] works as `&dyn Logs`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A log group as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogGroup {
    /// Its name.
    pub name: String,
    /// Its ARN without the trailing `:*` (what `ListTagsForResource` takes).
    pub arn: String,
    /// When it was created, epoch milliseconds (`creationTime`).
    pub creation_time: Option<i64>,
}

/// One event `FilterLogEvents` returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundEvent {
    /// The log stream it was written to.
    pub log_stream: String,
    /// CloudWatch's event id.
    pub id: String,
    /// Event time, epoch milliseconds.
    pub timestamp: i64,
    /// The log line.
    pub message: String,
}

/// One page of `FilterLogEvents`.
#[derive(Debug, Clone, Default)]
pub struct EventPage {
    /// The events on this page.
    pub events: Vec<FoundEvent>,
    /// Token for the next page; `None` on the last.
    pub next_token: Option<String>,
}

/// What to read from a group: events of `[start, end]` (epoch ms, both included) matching
/// `pattern` (empty: all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventQuery<'a> {
    /// The log group's name.
    pub group: &'a str,
    /// The filter pattern (our filter's).
    pub pattern: &'a str,
    /// First event time read.
    pub start: i64,
    /// Last event time read.
    pub end: i64,
}

/// One page of `DescribeLogGroups`.
#[derive(Debug, Clone, Default)]
pub struct GroupPage {
    /// The groups on this page.
    pub groups: Vec<LogGroup>,
    /// Token for the next page; `None` on the last.
    pub next_token: Option<String>,
}

/// A failed CloudWatch Logs call.
#[derive(Debug, thiserror::Error)]
#[error("{operation} on {resource} failed ({code})")]
pub struct LogsError {
    /// The API operation.
    pub operation: &'static str,
    /// The log group (or prefix) it was about.
    pub resource: String,
    /// The service's error code, or `unknown`.
    pub code: String,
    /// The SDK error.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// The CloudWatch Logs capability the subscriber needs.
pub trait Logs: Send + Sync {
    /// One page of log groups, optionally under a name prefix.
    fn describe_groups<'a>(
        &'a self,
        prefix: Option<&'a str>,
        token: Option<String>,
    ) -> BoxFuture<'a, Result<GroupPage, LogsError>>;
    /// The subscription filters of a group.
    fn filters<'a>(
        &'a self,
        group: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ExistingFilter>, LogsError>>;
    /// The tags of a group.
    fn tags<'a>(
        &'a self,
        group: &'a LogGroup,
    ) -> BoxFuture<'a, Result<HashMap<String, String>, LogsError>>;
    /// Puts (creates or replaces) our filter on a group.
    fn put_filter<'a>(
        &'a self,
        group: &'a str,
        filter: &'a FilterSpec,
    ) -> BoxFuture<'a, Result<(), LogsError>>;
    /// Deletes the named filter from a group.
    fn delete_filter<'a>(
        &'a self,
        group: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), LogsError>>;
    /// One page of a group's events in a time range (`FilterLogEvents`).
    fn filter_events<'a>(
        &'a self,
        query: EventQuery<'a>,
        token: Option<String>,
    ) -> BoxFuture<'a, Result<EventPage, LogsError>>;
    /// Sets one tag on a group (`TagResource`).
    fn tag<'a>(
        &'a self,
        group: &'a LogGroup,
        key: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<(), LogsError>>;
    /// The account's subscription filter policies (`DescribeAccountPolicies`, every page).
    /// Default: none (an in-memory stand-in without account policies).
    fn account_policies(&self) -> BoxFuture<'_, Result<Vec<AccountPolicy>, LogsError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    /// Puts (creates or replaces) an account subscription filter policy (`PutAccountPolicy`).
    fn put_account_policy<'a>(
        &'a self,
        spec: &'a PolicySpec,
    ) -> BoxFuture<'a, Result<(), LogsError>> {
        Box::pin(async move { Err(unsupported("PutAccountPolicy", &spec.name)) })
    }
    /// Deletes the account subscription filter policy `name` (`DeleteAccountPolicy`).
    fn delete_account_policy<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), LogsError>> {
        Box::pin(async move { Err(unsupported("DeleteAccountPolicy", name)) })
    }
}

fn unsupported(operation: &'static str, resource: &str) -> LogsError {
    LogsError {
        operation,
        resource: resource.to_owned(),
        code: "NotImplemented".into(),
        source: "this Logs adapter has no account policies".into(),
    }
}

/// The real adapter.
#[derive(Debug, Clone)]
pub struct AwsLogs {
    client: Client,
}

impl AwsLogs {
    /// Wraps a client built once at cold start.
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

fn error<E>(
    operation: &'static str,
    resource: &str,
    e: aws_sdk_cloudwatchlogs::error::SdkError<E>,
) -> LogsError
where
    aws_sdk_cloudwatchlogs::error::SdkError<E>:
        ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    LogsError {
        operation,
        resource: resource.to_owned(),
        code: e.code().unwrap_or("unknown").to_owned(),
        source: Box::new(e),
    }
}

impl Logs for AwsLogs {
    fn describe_groups<'a>(
        &'a self,
        prefix: Option<&'a str>,
        token: Option<String>,
    ) -> BoxFuture<'a, Result<GroupPage, LogsError>> {
        Box::pin(async move {
            let out = self
                .client
                .describe_log_groups()
                .set_log_group_name_prefix(prefix.map(str::to_owned))
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| error("DescribeLogGroups", prefix.unwrap_or("*"), e))?;
            let groups = out
                .log_groups()
                .iter()
                .filter_map(|g| {
                    let name = g.log_group_name()?.to_owned();
                    let arn = g
                        .log_group_arn()
                        .map(str::to_owned)
                        .or_else(|| g.arn().map(|a| a.trim_end_matches(":*").to_owned()))
                        .unwrap_or_default();
                    Some(LogGroup {
                        name,
                        arn,
                        creation_time: g.creation_time(),
                    })
                })
                .collect();
            Ok(GroupPage {
                groups,
                next_token: out.next_token().map(str::to_owned),
            })
        })
    }

    fn filters<'a>(
        &'a self,
        group: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ExistingFilter>, LogsError>> {
        Box::pin(async move {
            let out = self
                .client
                .describe_subscription_filters()
                .log_group_name(group)
                .send()
                .await
                .map_err(|e| error("DescribeSubscriptionFilters", group, e))?;
            Ok(out
                .subscription_filters()
                .iter()
                .map(|f| ExistingFilter {
                    name: f.filter_name().unwrap_or_default().to_owned(),
                    destination_arn: f.destination_arn().unwrap_or_default().to_owned(),
                    pattern: f.filter_pattern().unwrap_or_default().to_owned(),
                    role_arn: f.role_arn().map(str::to_owned),
                    creation_time: f.creation_time(),
                })
                .collect())
        })
    }

    fn tags<'a>(
        &'a self,
        group: &'a LogGroup,
    ) -> BoxFuture<'a, Result<HashMap<String, String>, LogsError>> {
        Box::pin(async move {
            match self
                .client
                .list_tags_for_resource()
                .resource_arn(&group.arn)
                .send()
                .await
            {
                Ok(out) => Ok(out.tags().cloned().unwrap_or_default()),
                // Older partitions / stand-ins: fall back to the log-group call.
                Err(first) => {
                    tracing::debug!(group = group.name, error = %first, "ListTagsForResource failed, trying ListTagsLogGroup");
                    #[allow(deprecated)]
                    let out = self
                        .client
                        .list_tags_log_group()
                        .log_group_name(&group.name)
                        .send()
                        .await
                        .map_err(|e| error("ListTagsLogGroup", &group.name, e))?;
                    Ok(out.tags().cloned().unwrap_or_default())
                }
            }
        })
    }

    fn put_filter<'a>(
        &'a self,
        group: &'a str,
        filter: &'a FilterSpec,
    ) -> BoxFuture<'a, Result<(), LogsError>> {
        Box::pin(async move {
            self.client
                .put_subscription_filter()
                .log_group_name(group)
                .filter_name(&filter.name)
                .filter_pattern(&filter.pattern)
                .destination_arn(&filter.destination_arn)
                .set_role_arn(filter.role_arn.clone())
                .send()
                .await
                .map_err(|e| error("PutSubscriptionFilter", group, e))?;
            Ok(())
        })
    }

    fn delete_filter<'a>(
        &'a self,
        group: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), LogsError>> {
        Box::pin(async move {
            self.client
                .delete_subscription_filter()
                .log_group_name(group)
                .filter_name(name)
                .send()
                .await
                .map_err(|e| error("DeleteSubscriptionFilter", group, e))?;
            Ok(())
        })
    }

    fn filter_events<'a>(
        &'a self,
        query: EventQuery<'a>,
        token: Option<String>,
    ) -> BoxFuture<'a, Result<EventPage, LogsError>> {
        Box::pin(async move {
            let out = self
                .client
                .filter_log_events()
                .log_group_name(query.group)
                .set_filter_pattern((!query.pattern.is_empty()).then(|| query.pattern.to_owned()))
                .start_time(query.start)
                .end_time(query.end)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| error("FilterLogEvents", query.group, e))?;
            let events = out
                .events()
                .iter()
                .map(|e| FoundEvent {
                    log_stream: e.log_stream_name().unwrap_or_default().to_owned(),
                    id: e.event_id().unwrap_or_default().to_owned(),
                    timestamp: e.timestamp().unwrap_or_default(),
                    message: e.message().unwrap_or_default().to_owned(),
                })
                .collect();
            Ok(EventPage {
                events,
                next_token: out.next_token().map(str::to_owned),
            })
        })
    }

    fn tag<'a>(
        &'a self,
        group: &'a LogGroup,
        key: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<(), LogsError>> {
        Box::pin(async move {
            self.client
                .tag_resource()
                .resource_arn(&group.arn)
                .tags(key, value)
                .send()
                .await
                .map_err(|e| error("TagResource", &group.name, e))?;
            Ok(())
        })
    }

    fn account_policies(&self) -> BoxFuture<'_, Result<Vec<AccountPolicy>, LogsError>> {
        Box::pin(async move {
            let mut out = Vec::new();
            let mut token = None;
            loop {
                let page = self
                    .client
                    .describe_account_policies()
                    .policy_type(PolicyType::from(POLICY_TYPE))
                    .set_next_token(token.take())
                    .send()
                    .await
                    .map_err(|e| error("DescribeAccountPolicies", POLICY_TYPE, e))?;
                out.extend(page.account_policies().iter().map(|p| AccountPolicy {
                    name: p.policy_name().unwrap_or_default().to_owned(),
                    document: p.policy_document().unwrap_or_default().to_owned(),
                    selection_criteria: p.selection_criteria().map(str::to_owned),
                    scope: p.scope().map(|s| s.as_str().to_owned()),
                }));
                match page.next_token() {
                    Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                    _ => return Ok(out),
                }
            }
        })
    }

    fn put_account_policy<'a>(
        &'a self,
        spec: &'a PolicySpec,
    ) -> BoxFuture<'a, Result<(), LogsError>> {
        Box::pin(async move {
            self.client
                .put_account_policy()
                .policy_name(&spec.name)
                .policy_type(PolicyType::from(POLICY_TYPE))
                .policy_document(&spec.document)
                .scope(Scope::All)
                .selection_criteria(&spec.selection_criteria)
                .send()
                .await
                .map_err(|e| error("PutAccountPolicy", &spec.name, e))?;
            Ok(())
        })
    }

    fn delete_account_policy<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), LogsError>> {
        Box::pin(async move {
            self.client
                .delete_account_policy()
                .policy_name(name)
                .policy_type(PolicyType::from(POLICY_TYPE))
                .send()
                .await
                .map_err(|e| error("DeleteAccountPolicy", name, e))?;
            Ok(())
        })
    }
}
