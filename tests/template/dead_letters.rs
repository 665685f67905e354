//! Issue 18, dead-letter queues: every asynchronous invocation retries, then dead-letters to an
//! encrypted queue that only its rules may write and an alarm watches.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use sluice_testbed::template::{load, resources_of};

use crate::support::{alarm_on, is_one, refs, resource_ids};

/// Every asynchronous invocation EventBridge makes: each rule target, each SAM schedule or rule
/// event, as (where, the target's or event's properties, the rule's logical id).
fn async_targets() -> Vec<(String, &'static Value, String)> {
    let template = load();
    let mut out = Vec::new();
    for (id, rule) in resources_of(template, "AWS::Events::Rule") {
        for t in rule["Properties"]["Targets"]
            .as_array()
            .into_iter()
            .flatten()
        {
            out.push((format!("{id} target {}", t["Id"]), t, id.to_owned()));
        }
    }
    let sam = resources_of(template, "AWS::Serverless::Function")
        .into_iter()
        .chain(resources_of(template, "AWS::Serverless::StateMachine"));
    for (id, r) in sam {
        for (name, e) in r["Properties"]["Events"].as_object().into_iter().flatten() {
            let kinds = [
                "Schedule",
                "ScheduleV2",
                "EventBridgeRule",
                "CloudWatchEvent",
            ];
            if kinds.iter().any(|k| e["Type"] == *k) {
                // SAM names the rule it generates <resource><event>.
                out.push((
                    format!("{id} event {name}"),
                    &e["Properties"],
                    format!("{id}{name}"),
                ));
            }
        }
    }
    out
}

#[test]
fn given_a_rule_target_or_schedule_when_eventbridge_cannot_deliver_then_it_retries_and_dead_letters_to_a_queue()
 {
    let targets = async_targets();
    assert!(!targets.is_empty());
    for (what, t, _) in targets {
        assert!(
            is_one(&t["DeadLetterConfig"]["Arn"], "AWS::SQS::Queue"),
            "{what}: DeadLetterConfig.Arn must be one of the stack's queues"
        );
        let retry = &t["RetryPolicy"];
        assert!(
            retry["MaximumRetryAttempts"].is_u64() && retry["MaximumEventAgeInSeconds"].is_u64(),
            "{what}: RetryPolicy needs MaximumRetryAttempts and MaximumEventAgeInSeconds"
        );
    }
}

#[test]
fn given_a_function_invoked_asynchronously_when_it_fails_after_its_retries_then_lambda_dead_letters_the_event()
 {
    let template = load();
    let mut invoked = BTreeSet::new();
    for (_, t, _) in async_targets() {
        invoked.extend(resource_ids(&t["Arn"]));
    }
    for (id, f) in resources_of(template, "AWS::Serverless::Function") {
        if f["Properties"]["Events"]
            .as_object()
            .is_some_and(|e| !e.is_empty())
        {
            invoked.insert(id.to_owned());
        }
    }
    invoked.retain(|id| template["Resources"][id]["Type"] == "AWS::Serverless::Function");
    assert!(!invoked.is_empty());
    for id in invoked {
        let p = &template["Resources"][&id]["Properties"];
        assert_eq!(p["DeadLetterQueue"]["Type"], "SQS", "{id}: DeadLetterQueue");
        assert!(
            is_one(&p["DeadLetterQueue"]["TargetArn"], "AWS::SQS::Queue"),
            "{id}: DeadLetterQueue.TargetArn must be one of the stack's queues"
        );
        assert!(
            p["EventInvokeConfig"]["MaximumRetryAttempts"].is_u64(),
            "{id}: EventInvokeConfig.MaximumRetryAttempts"
        );
    }
}

#[test]
fn given_a_dead_letter_queue_when_it_holds_events_then_they_are_encrypted_at_rest() {
    let queues = resources_of(load(), "AWS::SQS::Queue");
    assert!(!queues.is_empty());
    for (id, q) in queues {
        let p = &q["Properties"];
        assert!(
            p["SqsManagedSseEnabled"] == true || !p["KmsMasterKeyId"].is_null(),
            "{id}: neither SqsManagedSseEnabled nor KmsMasterKeyId"
        );
    }
}

#[test]
fn given_a_dead_letter_queue_when_eventbridge_sends_to_it_then_its_policy_admits_exactly_the_rules_using_it()
 {
    let template = load();
    let mut users: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
    for (_, t, rule) in async_targets() {
        for q in resource_ids(&t["DeadLetterConfig"]["Arn"]) {
            users.entry(q).or_default().insert(rule.clone());
        }
    }
    assert!(!users.is_empty());
    let policies = resources_of(template, "AWS::SQS::QueuePolicy");
    for (queue, rules) in users {
        let (pid, policy) = policies
            .iter()
            .find(|(_, p)| {
                resource_ids(&p["Properties"]["Queues"]) == BTreeSet::from([queue.clone()])
            })
            .unwrap_or_else(|| panic!("{queue}: no queue policy of its own"));
        let mut admitted = BTreeSet::new();
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap()
        {
            if s["Effect"] == "Allow" && s["Principal"]["Service"] == "events.amazonaws.com" {
                let source = &s["Condition"]["ArnEquals"]["aws:SourceArn"];
                assert!(
                    !source.is_null(),
                    "{pid}: EventBridge admitted without aws:SourceArn"
                );
                refs(source, &mut admitted);
            }
        }
        assert_eq!(
            admitted, rules,
            "{pid}: rules admitted vs rules dead-lettering into {queue}"
        );
    }
}

#[test]
fn given_a_dead_letter_queue_when_a_message_waits_then_an_alarm_of_its_subsystem_fires() {
    let template = load();
    for (id, q) in resources_of(template, "AWS::SQS::Queue") {
        let value = json!({"Fn::GetAtt": [id, "QueueName"]});
        let alarm = alarm_on(
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            "QueueName",
            &value,
        )
        .unwrap_or_else(|| panic!("{id}: no alarm on its waiting messages"));
        assert_eq!(
            template["Resources"][alarm]["Condition"], q["Condition"],
            "{alarm}"
        );
    }
}
