//! Issue 18, logs and lifecycle: every named log group exists and expires, state machines and
//! delivery streams log their errors, the bucket's data ages out.

use serde_json::{Value, json};
use sluice_testbed::template::{load, resources_of};

use crate::support::{collect_subs, is_one, resource_ids};

/// Every property outside the Logs resources that names a log group or stream, as
/// (resource, key, value).
fn log_names() -> Vec<(&'static str, String, &'static Value)> {
    fn walk(
        id: &'static str,
        v: &'static Value,
        out: &mut Vec<(&'static str, String, &'static Value)>,
    ) {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    let keys = [
                        "LogGroupName",
                        "LogGroup",
                        "LogGroupArn",
                        "awslogs-group",
                        "LogStreamName",
                    ];
                    if keys.contains(&k.as_str()) {
                        out.push((id, k.clone(), child));
                    } else {
                        walk(id, child, out);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(id, i, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (id, r) in load()["Resources"]
        .as_object()
        .expect("the template's resources")
    {
        if !r["Type"]
            .as_str()
            .unwrap_or_default()
            .starts_with("AWS::Logs::")
        {
            walk(id, &r["Properties"], &mut out);
        }
    }
    out
}

#[test]
fn given_a_property_naming_a_log_group_or_stream_when_the_stack_is_created_then_the_stack_creates_that_group_or_stream()
 {
    let template = load();
    let named = log_names();
    assert!(!named.is_empty());
    for (id, key, v) in named {
        let kind = if key == "LogStreamName" {
            "AWS::Logs::LogStream"
        } else {
            "AWS::Logs::LogGroup"
        };
        assert!(
            is_one(v, kind),
            "{id}.{key} = {v}: not a {kind} of the stack"
        );
        for target in resource_ids(v) {
            assert_eq!(
                template["Resources"][&target]["Condition"], template["Resources"][id]["Condition"],
                "{id} logs to {target}: both must exist together"
            );
        }
    }
}

#[test]
fn given_a_function_when_it_logs_then_it_writes_to_a_log_group_of_its_own() {
    let mut owners = std::collections::BTreeMap::new();
    for (id, f) in resources_of(load(), "AWS::Serverless::Function") {
        let group = &f["Properties"]["LoggingConfig"]["LogGroup"];
        assert!(
            is_one(group, "AWS::Logs::LogGroup"),
            "{id}: LoggingConfig.LogGroup"
        );
        if let Some(other) = owners.insert(group.to_string(), id) {
            panic!("{id} and {other} share {group}");
        }
    }
}

#[test]
fn given_any_log_group_of_the_stack_when_time_passes_then_its_events_expire_after_log_retention_days()
 {
    let groups = resources_of(load(), "AWS::Logs::LogGroup");
    assert!(!groups.is_empty());
    for (id, g) in groups {
        assert_eq!(
            g["Properties"]["RetentionInDays"],
            json!({"Ref": "LogRetentionDays"}),
            "{id}"
        );
    }
}

#[test]
fn given_a_state_machine_when_a_run_fails_then_it_logs_the_error_without_execution_data() {
    let machines = resources_of(load(), "AWS::Serverless::StateMachine");
    assert!(!machines.is_empty());
    for (id, sm) in machines {
        let logging = &sm["Properties"]["Logging"];
        assert_eq!(logging["Level"], "ERROR", "{id}");
        assert_eq!(logging["IncludeExecutionData"], false, "{id}");
        let destinations = logging["Destinations"].as_array().map_or(0, Vec::len);
        assert!(destinations > 0, "{id}: no log destination");
    }
}

#[test]
fn given_a_delivery_stream_when_processing_or_delivery_fails_then_firehose_logs_it() {
    let streams = resources_of(load(), "AWS::KinesisFirehose::DeliveryStream");
    assert!(!streams.is_empty());
    for (id, s) in streams {
        let logging =
            &s["Properties"]["ExtendedS3DestinationConfiguration"]["CloudWatchLoggingOptions"];
        assert_eq!(logging["Enabled"], true, "{id}");
        assert!(
            is_one(&logging["LogStreamName"], "AWS::Logs::LogStream"),
            "{id}"
        );
    }
}

/// The created bucket's lifecycle rules.
fn lifecycle_rules() -> &'static Vec<Value> {
    load()["Resources"]["DataBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
        .as_array()
        .expect("DataBucket has lifecycle rules")
}

#[test]
fn given_the_created_bucket_when_an_object_is_replaced_then_its_old_version_expires_after_noncurrent_version_days()
 {
    let whole_bucket = lifecycle_rules().iter().find(|r| {
        r["Status"] == "Enabled"
            && r["Prefix"].as_str().is_none_or(str::is_empty)
            && r["Filter"].is_null()
            && r["NoncurrentVersionExpiration"]["NoncurrentDays"]
                == json!({"Ref": "NoncurrentVersionDays"})
    });
    assert!(
        whole_bucket.is_some(),
        "no enabled whole-bucket rule expiring noncurrent versions"
    );
}

#[test]
fn given_a_prefix_a_delivery_stream_writes_when_data_ages_then_a_lifecycle_rule_of_its_subsystem_covers_it()
 {
    let rules = lifecycle_rules();
    for (id, s) in resources_of(load(), "AWS::KinesisFirehose::DeliveryStream") {
        let dest = &s["Properties"]["ExtendedS3DestinationConfiguration"];
        let mut templates = Vec::new();
        for key in ["Prefix", "ErrorOutputPrefix"] {
            collect_subs(&dest[key], &mut templates);
        }
        assert!(!templates.is_empty(), "{id}: no prefix");
        for t in templates {
            let top = format!("{}/", t.split('/').next().unwrap_or_default());
            let rule = rules
                .iter()
                .find(|r| r["Prefix"] == json!({"Fn::Sub": top}))
                .unwrap_or_else(|| panic!("{id}: no lifecycle rule for {top}"));
            let status = json!({"Fn::If": [s["Condition"], "Enabled", "Disabled"]});
            assert_eq!(rule["Status"], status, "{id}: rule {}", rule["Id"]);
            assert!(
                rule["Transitions"].is_array() || !rule["ExpirationInDays"].is_null(),
                "{id}: rule {} does nothing",
                rule["Id"]
            );
        }
    }
}
