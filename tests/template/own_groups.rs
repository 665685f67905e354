//! Issue 23, item 3: the subscriber knows Sluice's own log groups by their exact names, from the
//! template, so it never subscribes one of them (no feedback loop) whatever the stack's name.

use std::collections::BTreeMap;

use serde_json::Value;
use sluice_testbed::template::{load, resources_of};

/// The entries of the subscriber's `OWN_LOG_GROUPS` (`Fn::Join` with ","), as written.
fn own_log_groups_entries() -> &'static Vec<Value> {
    let env =
        &load()["Resources"]["CwlSubscriberFunction"]["Properties"]["Environment"]["Variables"];
    let join = &env["OWN_LOG_GROUPS"]["Fn::Join"];
    assert_eq!(join[0], ",", "OWN_LOG_GROUPS is a comma-joined list");
    join[1]
        .as_array()
        .expect("OWN_LOG_GROUPS joins a literal list")
}

/// Each entry as (log group logical id, condition it is listed under): `{"Ref": id}` (listed
/// whenever the subscriber exists) or `{"Fn::If": [condition, {"Ref": id}, ""]}`.
fn listed() -> BTreeMap<String, Option<String>> {
    let mut out = BTreeMap::new();
    for entry in own_log_groups_entries() {
        let (id, condition) = match (&entry["Ref"], &entry["Fn::If"]) {
            (Value::String(id), _) => (id.clone(), None),
            (_, Value::Array(branches)) => {
                assert_eq!(branches.len(), 3, "{entry}");
                assert_eq!(branches[2], "", "{entry}: the else branch must add no name");
                let id = branches[1]["Ref"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{entry}: not a Ref of a log group"));
                let cond = branches[0].as_str().expect("a condition name");
                (id.to_owned(), Some(cond.to_owned()))
            }
            _ => panic!("{entry}: an entry must be a log group's Ref (no prefix, no pattern)"),
        };
        assert_eq!(
            load()["Resources"][&id]["Type"],
            "AWS::Logs::LogGroup",
            "{id} in OWN_LOG_GROUPS is not a log group of the stack"
        );
        assert!(out.insert(id.clone(), condition).is_none(), "{id} twice");
    }
    out
}

#[test]
fn given_any_log_group_the_stack_creates_when_the_subscriber_runs_then_it_knows_that_group_by_exact_name()
 {
    let listed = listed();
    let groups = resources_of(load(), "AWS::Logs::LogGroup");
    assert!(groups.len() > 5, "the stack's log groups");
    let subscriber_condition = load()["Resources"]["CwlSubscriberFunction"]["Condition"].as_str();
    for (id, group) in groups {
        let Some(condition) = listed.get(id) else {
            panic!("{id} is a log group of the stack but not in the subscriber's OWN_LOG_GROUPS");
        };
        // The name is listed exactly when the group exists.
        let group_condition = group["Condition"].as_str();
        match condition {
            Some(c) => assert_eq!(Some(c.as_str()), group_condition, "{id}"),
            None => assert_eq!(group_condition, subscriber_condition, "{id}"),
        }
    }
}

#[test]
fn given_the_subscriber_when_configured_then_no_prefix_rule_names_own_groups() {
    let env =
        &load()["Resources"]["CwlSubscriberFunction"]["Properties"]["Environment"]["Variables"];
    let vars: Vec<&String> = env.as_object().expect("variables").keys().collect();
    assert!(
        !vars
            .iter()
            .any(|v| v.starts_with("OWN_") && v.contains("PREFIX")),
        "{vars:?}"
    );
    assert!(!own_log_groups_entries().is_empty());
}
