//! The decisions, pure: which log groups are ours to subscribe, and what to do with each given
//! the subscription filters it already has.

use std::collections::HashMap;

use crate::config::{Config, FilterSpec};

/// CloudWatch Logs allows this many subscription filters per log group.
pub const MAX_FILTERS_PER_GROUP: usize = 2;

/// A subscription filter as `DescribeSubscriptionFilters` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExistingFilter {
    /// The filter's name.
    pub name: String,
    /// Its target.
    pub destination_arn: String,
    /// Its pattern.
    pub pattern: String,
    /// Its role, if any.
    pub role_arn: Option<String>,
    /// When it was created (or last put), epoch milliseconds.
    pub creation_time: Option<i64>,
}

/// Whether a log group is to be subscribed, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// Selected (a tag rule, if any, is still to be checked).
    Selected,
    /// Outside the prefixes, or excluded by a regex.
    Excluded,
    /// One of Sluice's own groups: never subscribed (no feedback loop).
    Own,
}

/// Selects by name: own groups first (by exact name), then prefixes, include and exclude regexes.
pub fn select(name: &str, config: &Config) -> Selection {
    if config.own_groups.contains(name) {
        return Selection::Own;
    }
    let in_prefixes =
        config.prefixes.is_empty() || config.prefixes.iter().any(|p| name.starts_with(p.as_str()));
    let included = config.include.as_ref().is_none_or(|r| r.is_match(name));
    let excluded = config.exclude.as_ref().is_some_and(|r| r.is_match(name));
    if in_prefixes && included && !excluded {
        Selection::Selected
    } else {
        Selection::Excluded
    }
}

/// Whether a group's tags satisfy the configured tag rule (always, when there is none).
pub fn tags_match(tags: &HashMap<String, String>, config: &Config) -> bool {
    config
        .tag
        .as_ref()
        .is_none_or(|rule| match (&rule.value, tags.get(&rule.key)) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(want), Some(have)) => want == have,
        })
}

/// What to do on one selected log group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Ours is there and identical: nothing to do.
    Already,
    /// Ours is missing: put it.
    Subscribe,
    /// Ours is there but differs (target, pattern or role): put it again under the same name.
    Update,
    /// Two foreign filters already: the group allows no more; skipped and reported.
    SkipTwoFilters,
}

/// Decides what to do on a group holding `existing` filters.
pub fn decide(existing: &[ExistingFilter], ours: &FilterSpec) -> Action {
    match existing.iter().find(|f| f.name == ours.name) {
        Some(f) if same(f, ours) => Action::Already,
        Some(_) => Action::Update,
        None if existing.len() >= MAX_FILTERS_PER_GROUP => Action::SkipTwoFilters,
        None => Action::Subscribe,
    }
}

fn same(f: &ExistingFilter, ours: &FilterSpec) -> bool {
    f.destination_arn == ours.destination_arn
        && f.pattern == ours.pattern
        && (ours.role_arn.is_none() || f.role_arn == ours.role_arn)
}

#[cfg(test)]
mod tests {
    use sluice_runtime::config::Env;

    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let mut all = vec![(
            "DESTINATION_ARN",
            "arn:aws:firehose:us-east-1:1:deliverystream/d",
        )];
        all.push(("ROLE_ARN", "arn:aws:iam::1:role/r"));
        all.extend_from_slice(pairs);
        Config::from_env(&Env::from_pairs(all)).expect("config")
    }

    fn filter(name: &str, dest: &str) -> ExistingFilter {
        ExistingFilter {
            name: name.into(),
            destination_arn: dest.into(),
            pattern: String::new(),
            role_arn: Some("arn:aws:iam::1:role/r".into()),
            creation_time: None,
        }
    }

    #[test]
    fn given_own_group_names_then_own_even_if_selected_otherwise() {
        let c = config(&[
            (
                "OWN_LOG_GROUPS",
                "/aws/lambda/sluice-cloudwatch-processor,/aws/lambda/sluice-log-subscriber",
            ),
            ("LOG_GROUP_PREFIXES", "/aws/lambda/"),
        ]);
        assert_eq!(
            select("/aws/lambda/sluice-cloudwatch-processor", &c),
            Selection::Own
        );
        assert_eq!(select("/aws/lambda/app", &c), Selection::Selected);
        assert_eq!(select("/ecs/app", &c), Selection::Excluded);
    }

    #[test]
    fn given_a_group_sharing_an_own_groups_prefix_then_it_is_selected_like_any_other() {
        let c = config(&[("OWN_LOG_GROUPS", "/aws/lambda/sluice-log-subscriber")]);
        for name in [
            "/aws/lambda/sluice-log-subscriber-v2",
            "/aws/lambda/sluice-",
            "/aws/lambda/sluice-log-subscribe",
        ] {
            assert_eq!(select(name, &c), Selection::Selected, "{name}");
        }
    }

    #[test]
    fn given_include_and_exclude_regex_then_both_apply() {
        let c = config(&[("INCLUDE_REGEX", "^/app/"), ("EXCLUDE_REGEX", "debug$")]);
        assert_eq!(select("/app/web", &c), Selection::Selected);
        assert_eq!(select("/app/web-debug", &c), Selection::Excluded);
        assert_eq!(select("/other", &c), Selection::Excluded);
    }

    #[test]
    fn given_tag_rule_then_key_and_value_checked() {
        let c = config(&[("LOG_GROUP_TAG", "export=yes")]);
        let tags = |k: &str, v: &str| HashMap::from([(k.to_owned(), v.to_owned())]);
        assert!(tags_match(&tags("export", "yes"), &c));
        assert!(!tags_match(&tags("export", "no"), &c));
        assert!(!tags_match(&HashMap::new(), &c));
        assert!(tags_match(&HashMap::new(), &config(&[])));
    }

    #[test]
    fn given_existing_filters_then_each_action() {
        let c = config(&[]);
        let ours = &c.filter;
        let dest = ours.destination_arn.as_str();
        assert_eq!(decide(&[], ours), Action::Subscribe);
        assert_eq!(
            decide(&[filter("sluice-export", dest)], ours),
            Action::Already
        );
        assert_eq!(
            decide(&[filter("sluice-export", "arn:other")], ours),
            Action::Update
        );
        assert_eq!(
            decide(&[filter("a", "x"), filter("b", "y")], ours),
            Action::SkipTwoFilters
        );
        // Ours is one of two: updating it keeps the count at two.
        assert_eq!(
            decide(
                &[filter("a", "x"), filter("sluice-export", "arn:old")],
                ours
            ),
            Action::Update
        );
        assert_eq!(decide(&[filter("a", "x")], ours), Action::Subscribe);
    }
}
