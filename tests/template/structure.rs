//! The template, the state machines and the code held to each other: ASL error names and
//! placeholders, function binaries, each function's environment, the subsystem switches.

use std::collections::BTreeSet;

use serde_json::Value;
use sluice_runtime::ErrorKind;
use sluice_testbed::paths::workspace_root;
use sluice_testbed::template::{load, resources_of};

use crate::support::{holds, placeholders};

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

/// The variables each function's `Config` reads, by binary name.
fn config_vars(binary: &str) -> Vec<&'static str> {
    match binary {
        "backup-actions" => snapshot_steps::config::BACKUP_VARS.to_vec(),
        "restore-validator" => snapshot_steps::restore_validation::VARS.to_vec(),
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
        let read: BTreeSet<&str> = config_vars(bin).into_iter().collect();
        assert_eq!(
            set, read,
            "{id} ({bin}): template environment vs the variables its Config reads"
        );
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

/// How long one retrier can keep its state going, in seconds: every interval, backed off and
/// capped by `MaxDelaySeconds` as Step Functions does.
fn retry_ceiling(retrier: &Value) -> f64 {
    let mut interval = retrier["IntervalSeconds"].as_f64().unwrap_or(1.0);
    let backoff = retrier["BackoffRate"].as_f64().unwrap_or(2.0);
    let cap = retrier["MaxDelaySeconds"].as_f64().unwrap_or(f64::INFINITY);
    let attempts = retrier["MaxAttempts"].as_u64().unwrap_or(3);
    let mut total = 0.0;
    for _ in 0..attempts {
        total += interval.min(cap);
        interval *= backoff;
    }
    total
}

/// A state machine that Step Functions times out skips its own failure path (cleanup, abort,
/// the failure notification): each machine's timeout, if any, outlasts every wait it can make
/// one after another, and the backup-actions steps' own deadline ends a run well before it.
#[test]
fn every_state_machine_outlasts_its_waits_so_its_failure_path_always_runs() {
    for name in ["backup-actions", "sanitized-snapshot", "restore-validation"] {
        let path = workspace_root().join(format!("statemachines/{name}.asl.json"));
        let asl: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let waits: f64 = asl["States"]
            .as_object()
            .unwrap()
            .values()
            .filter_map(|state| state["Retry"].as_array())
            .flatten()
            .filter(|r| r["ErrorEquals"] == serde_json::json!(["NotReady"]))
            .map(retry_ceiling)
            .sum();
        assert!(waits > 0.0, "{name} has no NotReady waits");
        if let Some(timeout) = asl["TimeoutSeconds"].as_f64() {
            assert!(
                timeout > waits,
                "{name}: TimeoutSeconds {timeout} is shorter than its waits ({waits:.0} s)"
            );
        }
    }
    let asl: Value = serde_json::from_str(
        &std::fs::read_to_string(workspace_root().join("statemachines/backup-actions.asl.json"))
            .unwrap(),
    )
    .unwrap();
    let timeout = asl["TimeoutSeconds"]
        .as_f64()
        .expect("backup actions time out");
    let deadline = f64::from(snapshot_steps::config::MAX_RUN_DEADLINE_HOURS) * 3600.0;
    // The longest single poll interval, plus the abort and the notification.
    assert!(
        timeout > deadline + 600.0 + 3600.0,
        "the latest RUN_DEADLINE_HOURS leaves no time to abort and notify before {timeout} s"
    );
    // A validation past its deadline still posts FAILED before Step Functions could time it out.
    let asl: Value = serde_json::from_str(
        &std::fs::read_to_string(
            workspace_root().join("statemachines/restore-validation.asl.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let timeout = asl["TimeoutSeconds"]
        .as_f64()
        .expect("validations time out");
    let deadline = f64::from(snapshot_steps::restore_validation::MAX_DEADLINE_MINUTES) * 60.0;
    assert!(
        timeout > deadline + 600.0 + 3600.0,
        "the latest VALIDATION_DEADLINE_MINUTES leaves no time to post FAILED before {timeout} s"
    );
}
