//! Account-level mode, the decisions (pure): the account subscription filter policy we put, and
//! whether an existing one is ours to replace or delete.
//!
//! CloudWatch Logs' `PutAccountPolicy` with `policyType` `SUBSCRIPTION_FILTER_POLICY`
//! (<https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutAccountPolicy.html>)
//! subscribes every current and future log group of the account and Region in one call, besides
//! (not instead of) the up to two per-group filters each group may hold. An account has **one**
//! such policy per Region; `selectionCriteria` (only `LogGroupName NOT IN [...]`, at most 25 KB
//! of UTF-8) excludes groups by exact name: we list Sluice's own groups (`OWN_LOG_GROUPS`), so
//! no export feeds itself (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/Subscriptions-recursion-prevention.html>).
//!
//! **Ours** means: named `ACCOUNT_POLICY_NAME` *and* carrying our marker, an extra entry
//! [`marker`] (`/sluice/owned-by/<policy name>`) in the `NOT IN` list. The policy document may
//! hold only the documented keys, so the marker cannot live there; an exclusion of a log group
//! name nobody uses changes nothing. A policy of another name, or of our name without the
//! marker, was not put by this stack: it is never replaced or deleted.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::config::{Config, FilterSpec};

/// `policyType` of an account subscription filter policy.
pub const POLICY_TYPE: &str = "SUBSCRIPTION_FILTER_POLICY";
/// The only `scope` CloudWatch Logs accepts.
pub const SCOPE: &str = "ALL";
/// CloudWatch Logs' limit on `selectionCriteria`, in UTF-8 bytes ("up to 25KB"; the smaller
/// reading of KB).
pub const SELECTION_CRITERIA_MAX_BYTES: usize = 25_000;
/// The marker entry's prefix; the policy name follows.
pub const MARKER_PREFIX: &str = "/sluice/owned-by/";

/// An account policy as `DescribeAccountPolicies` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccountPolicy {
    /// `policyName`.
    pub name: String,
    /// `policyDocument` (JSON text).
    pub document: String,
    /// `selectionCriteria`, if any.
    pub selection_criteria: Option<String>,
    /// `scope`, if reported.
    pub scope: Option<String>,
}

/// The policy we put.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySpec {
    /// `policyName`.
    pub name: String,
    /// `policyDocument` (JSON text).
    pub document: String,
    /// `selectionCriteria`: `LogGroupName NOT IN [...]`.
    pub selection_criteria: String,
}

/// Why the policy cannot be put, or an existing one is not ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Another account subscription filter policy exists; CloudWatch Logs allows one per Region.
    #[error(
        "the account already has a subscription filter policy {existing:?}, not Sluice's (CloudWatch Logs allows one per account and Region); it was left untouched: delete it, or set CwlSubscriptionMode to per-group"
    )]
    Foreign {
        /// The existing policy's name.
        existing: String,
    },
    /// A policy of our name exists without our marker: someone else put it.
    #[error(
        "an account subscription filter policy named {name:?} exists but does not carry Sluice's marker {marker:?} in its selection criteria, so this stack did not put it; it was left untouched"
    )]
    NotOurs {
        /// The policy's name (ours).
        name: String,
        /// The marker it lacks.
        marker: String,
    },
    /// The exclusion list is over CloudWatch Logs' limit.
    #[error(
        "selectionCriteria of {bytes} bytes is over CloudWatch Logs' limit of {SELECTION_CRITERIA_MAX_BYTES}"
    )]
    CriteriaTooLong {
        /// Its length in UTF-8 bytes.
        bytes: usize,
    },
}

/// What to do about the account policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyAction {
    /// Ours is there and identical.
    Already,
    /// None exists: put ours.
    Create,
    /// Ours is there but differs (target, role, pattern or exclusions): put it again.
    Update,
}

/// The marker entry that makes a policy of `name` ours.
pub fn marker(name: &str) -> String {
    format!("{MARKER_PREFIX}{name}")
}

/// `LogGroupName NOT IN ["…",…]`: every own group by exact name plus our marker, sorted.
pub fn selection_criteria(
    own_groups: &BTreeSet<String>,
    policy_name: &str,
) -> Result<String, PolicyError> {
    let mut entries: BTreeSet<&str> = own_groups.iter().map(String::as_str).collect();
    let marker = marker(policy_name);
    entries.insert(&marker);
    let list = serde_json::to_string(&entries).unwrap_or_default();
    let criteria = format!("LogGroupName NOT IN {list}");
    if criteria.len() > SELECTION_CRITERIA_MAX_BYTES {
        return Err(PolicyError::CriteriaTooLong {
            bytes: criteria.len(),
        });
    }
    Ok(criteria)
}

/// The policy document: where events go, the role Logs uses (none for a Logs Destination),
/// the pattern, and `Distribution` `Random` (spread over the stream's shards).
pub fn document(filter: &FilterSpec) -> String {
    let mut doc = json!({
        "DestinationArn": filter.destination_arn,
        "FilterPattern": filter.pattern,
        "Distribution": "Random",
    });
    if let Some(role) = &filter.role_arn {
        doc["RoleArn"] = json!(role);
    }
    doc.to_string()
}

/// The policy this configuration puts.
pub fn spec(config: &Config) -> Result<PolicySpec, PolicyError> {
    Ok(PolicySpec {
        name: config.policy_name.clone(),
        document: document(&config.filter),
        selection_criteria: selection_criteria(&config.own_groups, &config.policy_name)?,
    })
}

/// Whether `policy` is the one named `name` and carries our marker.
pub fn is_ours(policy: &AccountPolicy, name: &str) -> bool {
    let quoted = format!("\"{}\"", marker(name));
    policy.name == name
        && policy
            .selection_criteria
            .as_deref()
            .is_some_and(|c| c.contains(&quoted))
}

/// Decides, given the account's subscription filter policies, whether to put ours; refuses
/// when one that is not ours is in the way.
pub fn decide(existing: &[AccountPolicy], ours: &PolicySpec) -> Result<PolicyAction, PolicyError> {
    match existing.iter().find(|p| p.name == ours.name) {
        Some(p) if !is_ours(p, &ours.name) => Err(PolicyError::NotOurs {
            name: ours.name.clone(),
            marker: marker(&ours.name),
        }),
        Some(p) if same(p, ours) => Ok(PolicyAction::Already),
        Some(_) => Ok(PolicyAction::Update),
        None => match existing.first() {
            Some(other) => Err(PolicyError::Foreign {
                existing: other.name.clone(),
            }),
            None => Ok(PolicyAction::Create),
        },
    }
}

fn same(p: &AccountPolicy, ours: &PolicySpec) -> bool {
    let parse = |s: &str| serde_json::from_str::<Value>(s).ok();
    parse(&p.document).is_some_and(|d| Some(d) == parse(&ours.document))
        && p.selection_criteria.as_deref() == Some(ours.selection_criteria.as_str())
        && p.scope.as_deref().is_none_or(|s| s == SCOPE)
}

#[cfg(test)]
mod tests {
    use sluice_runtime::config::Env;

    use super::*;

    const STREAM: &str = "arn:aws:kinesis:us-east-1:123456789012:stream/s";

    fn config() -> Config {
        Config::from_env(&Env::from_pairs([
            ("DESTINATION_ARN", STREAM),
            ("ROLE_ARN", "arn:aws:iam::123456789012:role/r"),
            ("ACCOUNT_POLICY_NAME", "sluice-prod-export"),
            (
                "OWN_LOG_GROUPS",
                "/aws/lambda/prod-log-subscriber,/aws/kinesisfirehose/prod",
            ),
        ]))
        .expect("config")
    }

    fn existing(spec: &PolicySpec) -> AccountPolicy {
        AccountPolicy {
            name: spec.name.clone(),
            document: spec.document.clone(),
            selection_criteria: Some(spec.selection_criteria.clone()),
            scope: Some(SCOPE.into()),
        }
    }

    #[test]
    fn given_own_groups_then_criteria_excludes_exactly_them_and_the_marker() {
        let s = spec(&config()).expect("spec");
        assert_eq!(
            s.selection_criteria,
            r#"LogGroupName NOT IN ["/aws/kinesisfirehose/prod","/aws/lambda/prod-log-subscriber","/sluice/owned-by/sluice-prod-export"]"#
        );
        let doc: Value = serde_json::from_str(&s.document).expect("JSON");
        assert_eq!(
            doc,
            json!({"DestinationArn": STREAM, "RoleArn": "arn:aws:iam::123456789012:role/r",
                   "FilterPattern": "", "Distribution": "Random"})
        );
    }

    #[test]
    fn given_a_logs_destination_then_the_document_has_no_role() {
        let mut c = config();
        c.filter.role_arn = None;
        let doc: Value = serde_json::from_str(&document(&c.filter)).expect("JSON");
        assert!(doc.get("RoleArn").is_none(), "{doc}");
    }

    #[test]
    fn given_too_many_own_groups_then_criteria_too_long_is_refused() {
        let many: BTreeSet<String> = (0..300).map(|i| format!("/aws/lambda/{i:0>100}")).collect();
        let err = selection_criteria(&many, "p").expect_err("too long");
        assert!(matches!(err, PolicyError::CriteriaTooLong { bytes } if bytes > 25_000));
    }

    #[test]
    fn given_existing_policies_then_create_already_update_or_refuse() {
        let s = spec(&config()).expect("spec");
        assert_eq!(decide(&[], &s), Ok(PolicyAction::Create));
        assert_eq!(decide(&[existing(&s)], &s), Ok(PolicyAction::Already));
        let mut moved = existing(&s);
        moved.document = s.document.replace("stream/s", "stream/other");
        assert_eq!(decide(&[moved], &s), Ok(PolicyAction::Update));
        let foreign = AccountPolicy {
            name: "team-siem".into(),
            ..existing(&s)
        };
        let err = decide(&[foreign], &s).expect_err("foreign");
        assert!(err.to_string().contains("\"team-siem\""), "{err}");
        let impostor = AccountPolicy {
            selection_criteria: Some(r#"LogGroupName NOT IN ["/x"]"#.into()),
            ..existing(&s)
        };
        let err = decide(std::slice::from_ref(&impostor), &s).expect_err("same name, no marker");
        assert!(err.to_string().contains("sluice-prod-export"), "{err}");
        assert!(!is_ours(&impostor, &s.name));
        assert!(is_ours(&existing(&s), &s.name));
    }

    #[test]
    fn given_a_marker_of_a_longer_name_then_not_ours() {
        let s = spec(&config()).expect("spec");
        let other = AccountPolicy {
            selection_criteria: Some(
                r#"LogGroupName NOT IN ["/sluice/owned-by/sluice-prod-export-2"]"#.into(),
            ),
            ..existing(&s)
        };
        assert!(!is_ours(&other, &s.name));
    }
}
