//! Which activity events are kept: heartbeats never; then drop lists and keep-only lists by class,
//! command, database and user, compared case-insensitively.
//!
//! Sits between decryption and routing: the pipeline asks [`Filters::keep`] for each event.

use crate::event::EventView;

/// One dimension's rule: values to drop, and (when non-empty) the only values to keep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListRule {
    drop: Vec<String>,
    keep_only: Vec<String>,
}

impl ListRule {
    /// A rule from a drop list and a keep-only list (either may be empty).
    pub fn new(drop: Vec<String>, keep_only: Vec<String>) -> Self {
        let lower = |v: Vec<String>| v.into_iter().map(|s| s.to_lowercase()).collect();
        Self {
            drop: lower(drop),
            keep_only: lower(keep_only),
        }
    }

    /// Whether an event whose field is `value` passes. An absent field passes drop lists but fails
    /// a keep-only list (it cannot be one of the listed values).
    pub fn allows(&self, value: Option<&str>) -> bool {
        if self.is_open() {
            return true;
        }
        let listed = |list: &[String]| {
            value.is_some_and(|v| {
                if v.is_ascii() {
                    // Lists are lower-cased already; an ASCII value matches without allocating.
                    list.iter().any(|l| l.eq_ignore_ascii_case(v))
                } else {
                    let v = v.to_lowercase();
                    list.contains(&v)
                }
            })
        };
        !listed(&self.drop) && (self.keep_only.is_empty() || listed(&self.keep_only))
    }

    /// Whether the rule lets everything through.
    pub fn is_open(&self) -> bool {
        self.drop.is_empty() && self.keep_only.is_empty()
    }
}

/// The event filter, configured from the environment (see [`crate::config`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// By the event's `class` (e.g. `READ`, `WRITE`, `DDL`).
    pub class: ListRule,
    /// By the event's `command` (e.g. `SELECT`, `CONNECT`).
    pub command: ListRule,
    /// By the event's `databaseName`.
    pub database: ListRule,
    /// By the event's `dbUserName` (e.g. drop `rdsadmin`).
    pub user: ListRule,
}

impl Filters {
    /// Whether `event` is kept: never a heartbeat, and allowed by every rule.
    pub fn keep(&self, event: &EventView<'_>) -> bool {
        !event.is_heartbeat()
            && self.class.allows(event.class.as_deref())
            && self.command.allows(event.command.as_deref())
            && self.database.allows(event.database_name.as_deref())
            && self.user.allows(event.db_user_name.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn event(json: &str) -> EventView<'_> {
        EventView::parse(json).expect("event json")
    }

    #[test]
    fn given_heartbeat_when_filters_open_then_dropped() {
        let f = Filters::default();
        assert!(!f.keep(&event(r#"{"type":"heartbeat"}"#)));
        assert!(f.keep(&event(r#"{"type":"record","class":"READ"}"#)));
    }

    #[test]
    fn given_user_drop_list_when_case_differs_then_still_dropped() {
        let f = Filters {
            user: ListRule::new(v(&["RDSADMIN"]), vec![]),
            ..Filters::default()
        };
        assert!(!f.keep(&event(r#"{"type":"record","dbUserName":"rdsadmin"}"#)));
        assert!(f.keep(&event(r#"{"type":"record","dbUserName":"app"}"#)));
        assert!(f.keep(&event(r#"{"type":"record"}"#)));
    }

    #[test]
    fn given_keep_only_class_when_event_lacks_class_then_dropped() {
        let f = Filters {
            class: ListRule::new(vec![], v(&["ddl", "write"])),
            ..Filters::default()
        };
        assert!(f.keep(&event(r#"{"type":"record","class":"DDL"}"#)));
        assert!(!f.keep(&event(r#"{"type":"record","class":"READ"}"#)));
        assert!(!f.keep(&event(r#"{"type":"record"}"#)));
    }

    #[test]
    fn given_drop_and_keep_only_on_same_value_then_drop_wins() {
        let rule = ListRule::new(v(&["select"]), v(&["SELECT", "insert"]));
        assert!(!rule.allows(Some("Select")));
        assert!(rule.allows(Some("INSERT")));
        assert!(!rule.is_open());
    }

    proptest! {
        #[test]
        fn given_any_value_when_open_rule_then_allowed(value in ".*") {
            prop_assert!(ListRule::default().allows(Some(&value)));
        }

        #[test]
        fn given_listed_value_in_any_case_then_dropped(value in "[a-zA-Z_ ]{1,12}") {
            let rule = ListRule::new(vec![value.to_uppercase()], vec![]);
            prop_assert!(!rule.allows(Some(&value.to_lowercase())));
            prop_assert!(!rule.allows(Some(&value)));
        }
    }
}
