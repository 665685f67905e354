//! The subscriber's settings, read once at cold start from environment variables.
//!
//! | variable | meaning |
//! |---|---|
//! | `DESTINATION_ARN` | required: a Logs Destination ARN (cross-account, no role) or a Kinesis / Firehose ARN |
//! | `ROLE_ARN` | role CloudWatch Logs assumes to write to a Kinesis / Firehose target (required for those, unused for a Destination) |
//! | `FILTER_NAME` | our filter's name (default `sluice-export`); only a filter of this name is ever changed or deleted |
//! | `FILTER_PATTERN` | filter pattern (default empty: every event) |
//! | `LOG_GROUP_PREFIXES` | comma-separated name prefixes to subscribe (empty: every group) |
//! | `INCLUDE_REGEX` / `EXCLUDE_REGEX` | optional: a group's name must match / must not match |
//! | `LOG_GROUP_TAG` | optional `key` or `key=value` a group must carry |
//! | `BACKFILL_MAX_HOURS` | longest window of events written before our filter that are sent when a group is subscribed (default 24; `0` disables). Only with a Kinesis stream target: the events go into that stream |
//! | `SUBSCRIPTION_MODE` | `per-group` (default: our filter on each selected group) or `account-policy` (one account-level subscription filter policy excluding `OWN_LOG_GROUPS`; see [`crate::policy`]) |
//! | `ACCOUNT_POLICY_NAME` | the name of the account policy we own (default `sluice-export`; the template sets `sluice-<stack>-export`); only a policy of this name carrying our marker is ever changed or deleted |
//! | `OWN_LOG_GROUPS` | comma-separated exact names of Sluice's own log groups (never subscribed: no feedback loop), built by the template from its log group resources; the function's own group (`AWS_LAMBDA_LOG_GROUP_NAME`) is always added. Exact names, never prefixes: a group that merely shares a prefix is anyone's |

use std::collections::BTreeSet;

use regex::Regex;
use sluice_runtime::config::{ConfigError, Env};

use crate::kinesis::Retry;

/// Env var: target of our subscription filter.
pub const DESTINATION_ARN: &str = "DESTINATION_ARN";
/// Env var: role for a Kinesis/Firehose target.
pub const ROLE_ARN: &str = "ROLE_ARN";
/// Env var: our filter's name.
pub const FILTER_NAME: &str = "FILTER_NAME";
/// Env var: our filter's pattern.
pub const FILTER_PATTERN: &str = "FILTER_PATTERN";
/// Env var: name prefixes to subscribe.
pub const LOG_GROUP_PREFIXES: &str = "LOG_GROUP_PREFIXES";
/// Env var: regex a group name must match.
pub const INCLUDE_REGEX: &str = "INCLUDE_REGEX";
/// Env var: regex excluding group names.
pub const EXCLUDE_REGEX: &str = "EXCLUDE_REGEX";
/// Env var: tag a group must carry.
pub const LOG_GROUP_TAG: &str = "LOG_GROUP_TAG";
/// Env var: exact names of Sluice's own log groups.
pub const OWN_LOG_GROUPS: &str = "OWN_LOG_GROUPS";
/// Env var: longest backfill window in hours (0 disables).
pub const BACKFILL_MAX_HOURS: &str = "BACKFILL_MAX_HOURS";
/// Env var: `per-group` or `account-policy`.
pub const SUBSCRIPTION_MODE: &str = "SUBSCRIPTION_MODE";
/// Env var: the name of the account subscription filter policy we own.
pub const ACCOUNT_POLICY_NAME: &str = "ACCOUNT_POLICY_NAME";
/// Set by Lambda: the function's own log group.
pub const AWS_LAMBDA_LOG_GROUP_NAME: &str = "AWS_LAMBDA_LOG_GROUP_NAME";

/// Every variable [`Config`] reads from the function's environment that the template sets
/// (the template test holds the two to each other; `AWS_LAMBDA_LOG_GROUP_NAME` comes from Lambda).
pub const ALL_VARS: [&str; 12] = [
    DESTINATION_ARN,
    ROLE_ARN,
    FILTER_NAME,
    FILTER_PATTERN,
    LOG_GROUP_PREFIXES,
    INCLUDE_REGEX,
    EXCLUDE_REGEX,
    LOG_GROUP_TAG,
    OWN_LOG_GROUPS,
    BACKFILL_MAX_HOURS,
    SUBSCRIPTION_MODE,
    ACCOUNT_POLICY_NAME,
];

/// The default of `BACKFILL_MAX_HOURS` (the template parameter's too): a day of missed runs.
pub const DEFAULT_BACKFILL_MAX_HOURS: u32 = 24;

/// The documented default name of Sluice's subscription filter.
pub const DEFAULT_FILTER_NAME: &str = "sluice-export";

/// The default name of the account subscription filter policy we own.
pub const DEFAULT_ACCOUNT_POLICY_NAME: &str = "sluice-export";

/// How log groups are subscribed (template parameter `CwlSubscriptionMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SubscriptionMode {
    /// Our filter on each selected group (prefixes, regexes, tag).
    #[default]
    PerGroup,
    /// One account-level subscription filter policy: every group but Sluice's own.
    AccountPolicy,
}

/// What our filter points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterSpec {
    /// Our filter's name.
    pub name: String,
    /// Its pattern (empty: all events).
    pub pattern: String,
    /// The target ARN.
    pub destination_arn: String,
    /// The role for a Kinesis/Firehose target; `None` for a Logs Destination.
    pub role_arn: Option<String>,
}

/// A tag a log group must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagRule {
    /// The tag key.
    pub key: String,
    /// The value it must have; any value when `None`.
    pub value: Option<String>,
}

/// The subscriber's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The filter we put.
    pub filter: FilterSpec,
    /// Name prefixes to list (empty: all groups).
    pub prefixes: Vec<String>,
    /// A group's name must match this.
    pub include: Option<Regex>,
    /// A group matching this is excluded.
    pub exclude: Option<Regex>,
    /// A group must carry this tag.
    pub tag: Option<TagRule>,
    /// Exact names of Sluice's own log groups.
    pub own_groups: BTreeSet<String>,
    /// Backfill of the events written before our filter; `None` when off (0 hours, or a target
    /// other than a Kinesis stream).
    pub backfill: Option<Backfill>,
    /// How backfill retries the entries `PutRecords` refused (not an env var; tests shorten it).
    pub put_retry: Retry,
    /// Per-group filters or the account policy.
    pub mode: SubscriptionMode,
    /// The name of the account policy we own (used in both modes: removal finds it by name).
    pub policy_name: String,
}

/// Where and how far back the subscriber sends the events a group held before our filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backfill {
    /// Longest window before the filter's creation, in milliseconds.
    pub max_window_ms: i64,
    /// The Kinesis stream our filter targets (its name, from `DESTINATION_ARN`).
    pub stream_name: String,
}

impl Config {
    /// Reads the configuration; errors name the variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let destination_arn = env.required(DESTINATION_ARN)?;
        let is_destination = destination_arn.contains(":destination:");
        let known = is_destination
            || destination_arn.contains(":kinesis:")
            || destination_arn.contains(":firehose:");
        if !destination_arn.starts_with("arn:") || !known {
            return Err(ConfigError::invalid(
                DESTINATION_ARN,
                &destination_arn,
                "expected a Logs Destination, Kinesis stream or Firehose delivery stream ARN",
            ));
        }
        let role_arn = if is_destination {
            None
        } else {
            Some(env.required(ROLE_ARN)?)
        };
        let regex = |var: &str| {
            env.optional(var)
                .map(|v| Regex::new(&v).map_err(|e| ConfigError::invalid(var, &v, e)))
                .transpose()
        };
        let tag = env
            .optional(LOG_GROUP_TAG)
            .map(|t| match t.split_once('=') {
                Some((k, v)) => TagRule {
                    key: k.trim().to_owned(),
                    value: Some(v.trim().to_owned()),
                },
                None => TagRule {
                    key: t,
                    value: None,
                },
            });
        let hours = match env.optional(BACKFILL_MAX_HOURS) {
            None => DEFAULT_BACKFILL_MAX_HOURS,
            Some(v) => v.trim().parse::<u32>().map_err(|e| {
                ConfigError::invalid(BACKFILL_MAX_HOURS, &v, format!("whole hours: {e}"))
            })?,
        };
        let backfill = destination_arn
            .contains(":kinesis:")
            .then(|| destination_arn.split_once(":stream/").map(|(_, n)| n))
            .flatten()
            .filter(|name| hours > 0 && !name.is_empty())
            .map(|name| Backfill {
                max_window_ms: i64::from(hours) * 3_600_000,
                stream_name: name.to_owned(),
            });
        let mode = match env.optional(SUBSCRIPTION_MODE).as_deref().map(str::trim) {
            None | Some("per-group") => SubscriptionMode::PerGroup,
            Some("account-policy") => SubscriptionMode::AccountPolicy,
            Some(other) => {
                return Err(ConfigError::invalid(
                    SUBSCRIPTION_MODE,
                    other,
                    "expected per-group or account-policy",
                ));
            }
        };
        let mut own_groups: BTreeSet<String> = env.list(OWN_LOG_GROUPS).into_iter().collect();
        own_groups.extend(env.optional(AWS_LAMBDA_LOG_GROUP_NAME));
        Ok(Self {
            filter: FilterSpec {
                name: env
                    .optional(FILTER_NAME)
                    .unwrap_or_else(|| DEFAULT_FILTER_NAME.to_owned()),
                pattern: env.optional(FILTER_PATTERN).unwrap_or_default(),
                destination_arn,
                role_arn,
            },
            prefixes: env.list(LOG_GROUP_PREFIXES),
            include: regex(INCLUDE_REGEX)?,
            exclude: regex(EXCLUDE_REGEX)?,
            tag,
            own_groups,
            backfill,
            put_retry: Retry::default(),
            mode,
            policy_name: env
                .optional(ACCOUNT_POLICY_NAME)
                .unwrap_or_else(|| DEFAULT_ACCOUNT_POLICY_NAME.to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINESIS: &str = "arn:aws:kinesis:us-east-1:123456789012:stream/s";
    const DEST: &str = "arn:aws:logs:us-east-1:123456789012:destination:sluice-cwlogs";

    #[test]
    fn given_logs_destination_then_no_role_even_if_set() {
        let c = Config::from_env(&Env::from_pairs([
            (DESTINATION_ARN, DEST),
            (ROLE_ARN, "arn:aws:iam::1:role/r"),
        ]))
        .expect("ok");
        assert_eq!(c.filter.role_arn, None);
        assert_eq!(c.filter.name, DEFAULT_FILTER_NAME);
    }

    #[test]
    fn given_kinesis_target_without_role_then_error_names_role_arn() {
        let err = Config::from_env(&Env::from_pairs([(DESTINATION_ARN, KINESIS)]))
            .expect_err("role needed");
        assert!(err.to_string().contains(ROLE_ARN), "{err}");
    }

    #[test]
    fn given_bad_regex_or_arn_then_error_names_the_variable() {
        let err = Config::from_env(&Env::from_pairs([
            (DESTINATION_ARN, DEST),
            (EXCLUDE_REGEX, "("),
        ]))
        .expect_err("bad regex");
        assert!(err.to_string().contains(EXCLUDE_REGEX), "{err}");
        let err = Config::from_env(&Env::from_pairs([(DESTINATION_ARN, "arn:aws:s3:::b")]))
            .expect_err("bad arn");
        assert!(err.to_string().contains(DESTINATION_ARN), "{err}");
    }

    #[test]
    fn given_a_kinesis_target_then_backfill_into_that_stream_unless_zero_hours() {
        let with = |hours: Option<&str>| {
            let mut pairs = vec![
                (DESTINATION_ARN, KINESIS),
                (ROLE_ARN, "arn:aws:iam::1:role/r"),
            ];
            pairs.extend(hours.map(|h| (BACKFILL_MAX_HOURS, h)));
            Config::from_env(&Env::from_pairs(pairs))
        };
        let default = with(None).expect("ok").backfill.expect("on by default");
        assert_eq!(default.stream_name, "s");
        assert_eq!(default.max_window_ms, 24 * 3_600_000);
        assert_eq!(
            with(Some("2"))
                .expect("ok")
                .backfill
                .map(|b| b.max_window_ms),
            Some(7_200_000)
        );
        assert_eq!(with(Some("0")).expect("ok").backfill, None);
        let err = with(Some("-1")).expect_err("negative");
        assert!(err.to_string().contains(BACKFILL_MAX_HOURS), "{err}");
        // A Logs Destination (member mode) cannot be written to directly: no backfill.
        let c = Config::from_env(&Env::from_pairs([(DESTINATION_ARN, DEST)])).expect("ok");
        assert_eq!(c.backfill, None);
    }

    #[test]
    fn given_subscription_mode_then_parsed_per_group_by_default_and_bad_values_named() {
        let with = |mode: Option<&str>| {
            let mut pairs = vec![(DESTINATION_ARN, DEST)];
            pairs.extend(mode.map(|m| (SUBSCRIPTION_MODE, m)));
            Config::from_env(&Env::from_pairs(pairs))
        };
        let default = with(None).expect("ok");
        assert_eq!(default.mode, SubscriptionMode::PerGroup);
        assert_eq!(default.policy_name, DEFAULT_ACCOUNT_POLICY_NAME);
        assert_eq!(
            with(Some("account-policy")).expect("ok").mode,
            SubscriptionMode::AccountPolicy
        );
        let err = with(Some("account")).expect_err("unknown mode");
        assert!(err.to_string().contains(SUBSCRIPTION_MODE), "{err}");
    }

    #[test]
    fn given_tag_and_own_group_then_parsed() {
        let c = Config::from_env(&Env::from_pairs([
            (DESTINATION_ARN, DEST),
            (LOG_GROUP_TAG, "export = yes"),
            (
                OWN_LOG_GROUPS,
                "/aws/lambda/sluice-a, ,/aws/kinesisfirehose/sluice-cwlogs,",
            ),
            (AWS_LAMBDA_LOG_GROUP_NAME, "/aws/lambda/sub"),
        ]))
        .expect("ok");
        assert_eq!(
            c.tag,
            Some(TagRule {
                key: "export".into(),
                value: Some("yes".into())
            })
        );
        assert_eq!(
            c.own_groups.iter().collect::<Vec<_>>(),
            [
                "/aws/kinesisfirehose/sluice-cwlogs",
                "/aws/lambda/sluice-a",
                "/aws/lambda/sub"
            ]
        );
    }
}
