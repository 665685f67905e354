//! Issue 18, alarms: every function watched, one topic, an alarm lives as long as what it watches.

use serde_json::json;
use sluice_testbed::template::{load, resources_of};

use crate::support::{alarm_on, alarms, implies, resource_ids};

/// Every function has an `AWS/Lambda` `metric` alarm that exists exactly when the function does.
fn assert_function_alarm(metric: &str) {
    let template = load();
    let functions = resources_of(template, "AWS::Serverless::Function");
    assert!(!functions.is_empty());
    for (id, f) in functions {
        let alarm = alarm_on("AWS/Lambda", metric, "FunctionName", &json!({"Ref": id}))
            .unwrap_or_else(|| panic!("{id}: no AWS/Lambda {metric} alarm"));
        assert_eq!(
            template["Resources"][alarm]["Condition"], f["Condition"],
            "{alarm} must exist exactly when {id} does"
        );
    }
}

#[test]
fn given_a_function_when_an_invocation_fails_then_an_errors_alarm_of_its_subsystem_watches_it() {
    assert_function_alarm("Errors");
}

#[test]
fn given_a_function_when_an_invocation_is_throttled_then_a_throttles_alarm_of_its_subsystem_watches_it()
 {
    assert_function_alarm("Throttles");
}

#[test]
fn given_any_alarm_when_it_fires_then_it_notifies_the_one_alarm_topic_in_use() {
    let topic =
        json!([{"Fn::If": ["UseAlarmTopicArn", {"Ref": "AlarmTopicArn"}, {"Ref": "AlarmTopic"}]}]);
    let all = alarms();
    assert!(!all.is_empty());
    for (id, a) in all {
        assert_eq!(a["Properties"]["AlarmActions"], topic, "{id}");
    }
    assert_eq!(resources_of(load(), "AWS::SNS::Topic").len(), 1);
}

#[test]
fn given_an_alarm_when_it_watches_a_resource_then_the_alarm_exists_only_while_the_resource_does() {
    let template = load();
    for (id, a) in alarms() {
        let cond = a["Condition"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: no Condition"));
        let mut watched = resource_ids(&a["Properties"]);
        watched.remove("AlarmTopic");
        for r in watched {
            let of_r = template["Resources"][&r]["Condition"]
                .as_str()
                .unwrap_or_default();
            assert!(implies(cond, of_r), "{id} ({cond}) watches {r} ({of_r})");
        }
    }
}
