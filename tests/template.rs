//! Holds the template, the state machines and the code to each other, and checks the
//! template's security defaults. cfn-lint and `sam validate --lint` run in `make test` too.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use sluice_runtime::ErrorKind;
use sluice_testbed::paths::workspace_root;
use sluice_testbed::template::{load, resources_of};

fn asl_files() -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for dir in ["statemachines", "tests/fixtures"] {
        if let Ok(entries) = std::fs::read_dir(workspace_root().join(dir)) {
            for e in entries.flatten() {
                if e.path().to_string_lossy().ends_with(".asl.json") {
                    files.push(e.path());
                }
            }
        }
    }
    files.sort();
    files
}

fn placeholders(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        if let Some(end) = after.find('}') {
            out.insert(after[..end].to_owned());
            rest = &after[end..];
        } else {
            break;
        }
    }
    out
}

fn error_names(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                if k == "ErrorEquals" {
                    for name in child.as_array().into_iter().flatten() {
                        if let Some(n) = name.as_str() {
                            out.insert(n.to_owned());
                        }
                    }
                } else {
                    error_names(child, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| error_names(i, out)),
        _ => {}
    }
}

#[test]
fn every_custom_error_name_in_asl_is_a_shared_error_kind() {
    let known: BTreeSet<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
    let files = asl_files();
    assert!(!files.is_empty(), "no ASL files found");
    for file in files {
        let asl: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let mut names = BTreeSet::new();
        error_names(&asl, &mut names);
        for name in names {
            let builtin = name.starts_with("States.") || name.starts_with("Lambda.");
            assert!(
                builtin || known.contains(name.as_str()),
                "{}: ErrorEquals names {name:?}, which no function reports (known: {known:?})",
                file.display()
            );
        }
    }
}

#[test]
fn every_state_machine_placeholder_has_a_substitution_and_every_file_is_deployed() {
    let template = load();
    let mut deployed = BTreeSet::new();
    for (id, sm) in resources_of(template, "AWS::Serverless::StateMachine") {
        let uri = sm["Properties"]["DefinitionUri"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: DefinitionUri must name a file in statemachines/"));
        let text = std::fs::read_to_string(workspace_root().join(uri))
            .unwrap_or_else(|e| panic!("{id}: cannot read {uri}: {e}"));
        let wanted = placeholders(&text);
        let given: BTreeSet<String> = sm["Properties"]["DefinitionSubstitutions"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        assert_eq!(
            wanted, given,
            "{id}: placeholders in {uri} vs DefinitionSubstitutions"
        );
        deployed.insert(uri.trim_start_matches("./").to_owned());
    }
    for file in asl_files() {
        let rel = file
            .strip_prefix(workspace_root())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if rel.starts_with("statemachines/") {
            assert!(
                deployed.contains(&rel),
                "{rel} is not deployed by any state machine"
            );
        }
    }
}

#[test]
fn every_function_is_a_workspace_binary_built_by_cargo_lambda() {
    let template = load();
    for (id, f) in resources_of(template, "AWS::Serverless::Function") {
        assert_eq!(f["Metadata"]["BuildMethod"], "rust-cargolambda", "{id}");
        let bin = f["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: Metadata.BuildProperties.Binary is required"));
        let manifest = workspace_root()
            .join("functions")
            .join(bin)
            .join("Cargo.toml");
        assert!(
            manifest.exists(),
            "{id}: binary {bin} is not a package under functions/"
        );
    }
}

#[test]
fn globals_run_arm64_al2023_with_json_logs() {
    let g = &load()["Globals"]["Function"];
    assert_eq!(g["Runtime"], "provided.al2023");
    assert_eq!(g["Architectures"], serde_json::json!(["arm64"]));
    assert_eq!(g["LoggingConfig"]["LogFormat"], "JSON");
}

#[test]
fn bucket_is_encrypted_versioned_private_and_tls_only() {
    let template = load();
    let buckets = resources_of(template, "AWS::S3::Bucket");
    assert!(!buckets.is_empty());
    for (id, b) in buckets {
        let p = &b["Properties"];
        assert!(
            p["BucketEncryption"]["ServerSideEncryptionConfiguration"].is_array(),
            "{id}: not encrypted"
        );
        let pab = &p["PublicAccessBlockConfiguration"];
        for k in [
            "BlockPublicAcls",
            "BlockPublicPolicy",
            "IgnorePublicAcls",
            "RestrictPublicBuckets",
        ] {
            assert_eq!(pab[k], true, "{id}: {k}");
        }
        assert_eq!(p["VersioningConfiguration"]["Status"], "Enabled", "{id}");
        let policies = resources_of(template, "AWS::S3::BucketPolicy");
        let tls_only = policies.iter().any(|(_, pol)| {
            pol["Properties"]["Bucket"] == serde_json::json!({"Ref": id})
                && pol["Properties"]["PolicyDocument"]["Statement"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|s| {
                        s["Effect"] == "Deny"
                            && s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
                    })
        });
        assert!(tls_only, "{id}: no TLS-only bucket policy");
    }
}

#[test]
fn every_subsystem_can_be_switched_off() {
    let template = load();
    for p in [
        "EnableSanitizedSnapshots",
        "EnableBackupActions",
        "EnableRdsLogSync",
        "EnableActivityStreamAudit",
        "EnableCloudWatchLogsExport",
    ] {
        assert_eq!(
            template["Parameters"][p]["AllowedValues"],
            serde_json::json!(["true", "false"]),
            "{p}"
        );
    }
    // Every function and state machine belongs to a subsystem condition.
    for kind in ["AWS::Serverless::Function", "AWS::Serverless::StateMachine"] {
        for (id, r) in resources_of(template, kind) {
            assert!(r["Condition"].is_string(), "{id} has no Condition");
        }
    }
}

/// The variables each function's `Config` reads, by binary name (and, for the binary that
/// serves both snapshot pipelines, by the function resource that runs it).
fn config_vars(id: &str, binary: &str) -> Vec<&'static str> {
    match binary {
        "snapshot-steps" if id == "BackupActionsFunction" => {
            snapshot_steps::config::BACKUP_VARS.to_vec()
        }
        "das-transformer" => sluice_das::config::ALL_VARS.to_vec(),
        "cloudwatch-processor" => cloudwatch_processor::config::ALL_VARS.to_vec(),
        "log-subscriber" => log_subscriber::config::ALL_VARS.to_vec(),
        "log-syncer" => log_syncer::config::ALL.to_vec(),
        "snapshot-steps" => snapshot_steps::config::VARS.to_vec(),
        other => panic!("no config list for function {other}: add it here"),
    }
}

#[test]
fn every_function_environment_is_exactly_its_config_keys() {
    let template = load();
    let functions = resources_of(template, "AWS::Serverless::Function");
    assert!(!functions.is_empty());
    for (id, f) in functions {
        let bin = f["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
        let set: BTreeSet<&str> = f["Properties"]["Environment"]["Variables"]
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let read: BTreeSet<&str> = config_vars(id, bin).into_iter().collect();
        assert_eq!(
            set, read,
            "{id} ({bin}): template environment vs the variables its Config reads"
        );
    }
}

// ---- Operations (issue 18): alarms, dead-letter queues, log groups, lifecycle ----------------

/// Logical ids a value refers to: `Ref`, `Fn::GetAtt` and `${Name}` / `${Name.Attr}` of `Fn::Sub`
/// (pseudo parameters excluded; parameters and SAM-generated ids included).
fn refs(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                match (k.as_str(), child) {
                    ("Ref", Value::String(id)) if !id.starts_with("AWS::") => {
                        out.insert(id.clone());
                    }
                    ("Fn::GetAtt", Value::Array(parts)) => {
                        out.extend(parts.first().and_then(Value::as_str).map(str::to_owned));
                    }
                    ("Fn::Sub", _) => {
                        let text = child.as_str().or_else(|| child[0].as_str()).unwrap_or("");
                        for p in placeholders(text) {
                            let id = p.split('.').next().unwrap_or_default();
                            if !id.starts_with("AWS::") && !id.starts_with('!') {
                                out.insert(id.to_owned());
                            }
                        }
                        refs(&child[1], out);
                    }
                    _ => refs(child, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| refs(i, out)),
        _ => {}
    }
}

/// The resources of the template a value refers to.
fn resource_ids(v: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    refs(v, &mut out);
    out.retain(|id| load()["Resources"].get(id).is_some());
    out
}

/// Whether `v` refers to exactly one resource, of type `kind`.
fn is_one(v: &Value, kind: &str) -> bool {
    let ids = resource_ids(v);
    ids.len() == 1 && ids.iter().all(|id| load()["Resources"][id]["Type"] == kind)
}

/// Every CloudWatch alarm of the template.
fn alarms() -> Vec<(&'static str, &'static Value)> {
    resources_of(load(), "AWS::CloudWatch::Alarm")
}

/// The alarm on `metric` of `namespace` whose dimension `dimension` is `value`, if any.
fn alarm_on(namespace: &str, metric: &str, dimension: &str, value: &Value) -> Option<&'static str> {
    alarms()
        .into_iter()
        .find(|(_, a)| {
            let p = &a["Properties"];
            p["Namespace"] == namespace
                && p["MetricName"] == metric
                && p["Dimensions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|d| d["Name"] == dimension && d["Value"] == *value)
        })
        .map(|(id, _)| id)
}

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

/// Whether condition `a` implies condition `b`: the same, or `a` is an `Fn::And` holding `b`
/// (directly or through another such `Fn::And`).
fn implies(a: &str, b: &str) -> bool {
    a == b
        || load()["Conditions"][a]["Fn::And"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["Condition"].as_str())
            .any(|c| implies(c, b))
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

/// A value under the parameters' defaults: enough of `Ref`, `Fn::Select`, `Fn::Split` and
/// `Fn::Join` for the template's Conditions.
fn resolve(v: &Value) -> Value {
    let template = load();
    let Some((k, arg)) = v
        .as_object()
        .filter(|m| m.len() == 1)
        .and_then(|m| m.iter().next())
    else {
        return match v {
            Value::Array(items) => Value::Array(items.iter().map(resolve).collect()),
            other => other.clone(),
        };
    };
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    match k.as_str() {
        "Ref" => {
            let p = &template["Parameters"][arg.as_str().expect("a parameter name")];
            let default = match &p["Default"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if p["Type"] == "CommaDelimitedList" {
                json!(
                    default
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                )
            } else {
                Value::String(default)
            }
        }
        "Fn::Select" => resolve(&arg[1])[arg[0].as_u64().expect("an index") as usize].clone(),
        "Fn::Split" => json!(
            text(&resolve(&arg[1]))
                .split(arg[0].as_str().expect("a delimiter"))
                .collect::<Vec<_>>()
        ),
        "Fn::Join" => {
            let items = resolve(&arg[1]);
            let parts: Vec<String> = items.as_array().into_iter().flatten().map(text).collect();
            Value::String(parts.join(arg[0].as_str().expect("a delimiter")))
        }
        _ => v.clone(),
    }
}

/// Whether a Condition function holds under the parameters' defaults.
fn holds(v: &Value) -> bool {
    let conditions = &load()["Conditions"];
    let scalar = |v: &Value| match resolve(v) {
        Value::String(s) => s,
        other => other.to_string(),
    };
    let (k, arg) = v
        .as_object()
        .and_then(|m| m.iter().next())
        .expect("a condition function");
    match k.as_str() {
        "Condition" => holds(&conditions[arg.as_str().expect("a condition name")]),
        "Fn::Equals" => scalar(&arg[0]) == scalar(&arg[1]),
        "Fn::Not" => !holds(&arg[0]),
        "Fn::And" => arg
            .as_array()
            .expect("a list of conditions")
            .iter()
            .all(holds),
        "Fn::Or" => arg
            .as_array()
            .expect("a list of conditions")
            .iter()
            .any(holds),
        other => panic!("condition function {other} is not understood here"),
    }
}

#[test]
fn given_every_subsystem_off_when_the_stack_is_created_then_it_holds_only_the_bucket() {
    let template = load();
    let conditions = &template["Conditions"];
    let created: BTreeSet<&str> = template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| {
            r["Condition"]
                .as_str()
                .is_none_or(|c| holds(&conditions[c]))
        })
        .map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(created, BTreeSet::from(["DataBucket", "DataBucketPolicy"]));
}

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

/// The `Fn::Sub` template strings anywhere in a value.
fn collect_subs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                match child.as_str() {
                    Some(s) if k == "Fn::Sub" => out.push(s.to_owned()),
                    _ => collect_subs(child, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_subs(i, out)),
        _ => {}
    }
}
