//! Issue 23, item 2: `CwlSubscriptionMode` selects per-group filters (default) or the account
//! subscription filter policy, and the policy excludes the same own log groups, by the same
//! names, as the subscriber's `OWN_LOG_GROUPS`.

use std::collections::BTreeSet;

use log_subscriber::config::{
    ACCOUNT_POLICY_NAME, DESTINATION_ARN, FILTER_PATTERN, OWN_LOG_GROUPS, ROLE_ARN,
    SUBSCRIPTION_MODE,
};
use serde_json::{Value, json};
use sluice_runtime::config::Env;
use sluice_testbed::template::load;

use crate::support::{holds, implies};

fn env() -> &'static Value {
    &load()["Resources"]["CwlSubscriberFunction"]["Properties"]["Environment"]["Variables"]
}

fn custom_resource() -> &'static Value {
    &load()["Resources"]["CwlAccountSubscriptionPolicy"]
}

/// The statements of the subscriber's policies, each with the condition it is under (if any).
fn statements() -> Vec<(Option<String>, Value)> {
    let mut out = Vec::new();
    let policies = &load()["Resources"]["CwlSubscriberFunction"]["Properties"]["Policies"];
    for p in policies.as_array().expect("policies") {
        let (condition, body) = match p["Fn::If"].as_array() {
            Some(branches) => {
                let c = branches[0].as_str().expect("a condition").to_owned();
                // `!If [Member, NoValue, {...}]` holds the statements when the condition is false.
                match branches[1].get("Statement") {
                    Some(_) => (Some(c), &branches[1]),
                    None => (Some(format!("!{c}")), &branches[2]),
                }
            }
            None => (None, p),
        };
        for s in body["Statement"].as_array().into_iter().flatten() {
            out.push((condition.clone(), s.clone()));
        }
    }
    out
}

fn actions(s: &Value) -> Vec<String> {
    match &s["Action"] {
        Value::String(a) => vec![a.clone()],
        other => other
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
    }
}

#[test]
fn given_cwl_subscription_mode_then_per_group_by_default_and_account_policy_brings_the_custom_resource()
 {
    let p = &load()["Parameters"]["CwlSubscriptionMode"];
    assert_eq!(p["Default"], "per-group");
    assert_eq!(p["AllowedValues"], json!(["per-group", "account-policy"]));
    assert_eq!(
        env()[SUBSCRIPTION_MODE],
        json!({"Ref": "CwlSubscriptionMode"})
    );

    let condition = custom_resource()["Condition"]
        .as_str()
        .expect("a condition");
    assert!(implies(condition, "CloudWatchLogsExportOn"));
    let terms = load()["Conditions"][condition]["Fn::And"]
        .as_array()
        .expect("an And");
    assert!(
        terms.contains(&json!({"Fn::Equals": [{"Ref": "CwlSubscriptionMode"}, "account-policy"]}))
    );
    assert!(!holds(&json!({"Condition": condition})), "off by default");
    assert_eq!(
        custom_resource()["Properties"]["ServiceToken"],
        json!({"Fn::GetAtt": ["CwlSubscriberFunction", "Arn"]})
    );
    // The account policy covers new groups itself: no CreateLogGroup rule in that mode.
    let rule = load()["Resources"]["CwlNewLogGroupRule"]["Condition"]
        .as_str()
        .expect("condition");
    assert!(
        load()["Conditions"][rule]["Fn::And"]
            .as_array()
            .expect("an And")
            .contains(&json!({"Fn::Not": [{"Condition": condition}]})),
        "{rule}"
    );
}

#[test]
fn given_the_custom_resource_then_its_settings_are_the_subscribers_own_by_the_same_expressions() {
    let props = &custom_resource()["Properties"];
    assert_eq!(props["ExcludedLogGroups"], env()[OWN_LOG_GROUPS]);
    assert_eq!(props["PolicyName"], env()[ACCOUNT_POLICY_NAME]);
    assert_eq!(props["DestinationArn"], env()[DESTINATION_ARN]);
    assert_eq!(props["RoleArn"], env()[ROLE_ARN]);
    assert_eq!(props["FilterPattern"], env()[FILTER_PATTERN]);
    assert_eq!(
        env()[ACCOUNT_POLICY_NAME],
        json!({"Fn::Sub": "sluice-${AWS::StackName}-export"})
    );
}

#[test]
fn given_the_templates_own_groups_when_the_policy_is_built_then_it_excludes_exactly_those_names() {
    // Each listed group's name as CloudFormation would make it: here `<LogicalId>-name`.
    let join = &env()[OWN_LOG_GROUPS]["Fn::Join"];
    let names: Vec<String> = join[1]
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| {
            let r = if e["Ref"].is_string() {
                e
            } else {
                &e["Fn::If"][1]
            };
            format!("/{}-name", r["Ref"].as_str().expect("a log group Ref"))
        })
        .collect();
    let own = names.join(",");
    let config = log_subscriber::Config::from_env(&Env::from_pairs([
        (
            DESTINATION_ARN,
            "arn:aws:kinesis:us-east-1:123456789012:stream/s",
        ),
        (ROLE_ARN, "arn:aws:iam::123456789012:role/r"),
        (SUBSCRIPTION_MODE, "account-policy"),
        (ACCOUNT_POLICY_NAME, "sluice-prod-export"),
        (OWN_LOG_GROUPS, own.as_str()),
    ]))
    .expect("config");
    let spec = log_subscriber::policy::spec(&config).expect("policy");
    let list = spec
        .selection_criteria
        .strip_prefix("LogGroupName NOT IN ")
        .expect("the only criteria CloudWatch Logs accepts");
    let excluded: BTreeSet<String> = serde_json::from_str(list).expect("a JSON list");
    let mut want: BTreeSet<String> = names.into_iter().collect();
    want.insert(log_subscriber::policy::marker("sluice-prod-export"));
    assert_eq!(excluded, want);
}

#[test]
fn given_the_subscribers_grants_then_put_only_in_account_mode_and_remove_in_both() {
    let all = statements();
    let with = |action: &str| -> Vec<(Option<String>, Value)> {
        all.iter()
            .filter(|(_, s)| actions(s).iter().any(|a| a == action))
            .cloned()
            .collect()
    };
    let put = with("logs:PutAccountPolicy");
    assert_eq!(put.len(), 1, "{put:?}");
    assert_eq!(put[0].0.as_deref(), Some("CwlAccountPolicyMode"));
    for action in ["logs:DescribeAccountPolicies", "logs:DeleteAccountPolicy"] {
        let found = with(action);
        assert_eq!(found.len(), 1, "{action}");
        assert_eq!(found[0].0, None, "{action} in both modes");
    }
    let pass = with("iam:PassRole");
    assert_eq!(pass.len(), 1);
    assert_eq!(
        pass[0].1["Resource"],
        json!({"Fn::GetAtt": ["CwlLogsToKinesisRole", "Arn"]})
    );
    assert_eq!(
        pass[0].1["Condition"],
        json!({"StringEquals": {"iam:PassedToService": "logs.amazonaws.com"}})
    );
}
