//! Restore-testing validation end to end: a `Restore Job State Change` event handed to the real
//! `restore-validator` binary, the real `statemachines/restore-validation.asl.json` under
//! aws-local-stepfunctions, the real `sanitizer` (validation mode) against a local PostgreSQL
//! playing the restored database, restore jobs and results in the test bed's AWS Backup
//! stand-in, everything else in moto, every call judged by the IAM gate.

#![allow(clippy::unwrap_used)]

use serde_json::json;
use sluice_testbed::db;
use sluice_testbed::moto::Moto;
use sluice_testbed::restore_validation::{CUSTOMERS, LEAKING_NOTES, Options, Stage};

/// Every call a validation may make (the task's included): reads, one task, one result.
const ALLOWED: &[&str] = &[
    "DescribeRestoreJob",
    "StartExecution",
    "DescribeDBInstances",
    "ListTasks",
    "RunTask",
    "DescribeTasks",
    "GetSecretValue",
    "PutRestoreValidationResult",
    // S3 (the script, the summary) has no action header.
    "",
];

fn assert_touched_nothing_else(bed: &Stage, before: &str) {
    let calls = bed.proxy.calls();
    let others: Vec<&String> = calls
        .iter()
        .filter(|c| !ALLOWED.contains(&c.as_str()))
        .collect();
    assert!(
        others.is_empty(),
        "calls beyond reads, the task and the result: {others:?}"
    );
    assert_eq!(bed.dump(), before, "the restored database changed");
    assert!(
        !bed.logs().contains(db::PASSWORD),
        "the database password reached the function's log"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn given_a_clean_restore_from_a_chosen_plan_when_validated_then_successful_is_posted_and_nothing_changes()
 {
    let bed = Stage::new(Options::default()).await;
    let before = bed.dump();

    let run = bed.validate().await;

    run.assert_succeeded(&bed.logs());
    let executions = bed.executions().await;
    assert_eq!(executions.len(), 1);
    assert_eq!(executions[0].0, format!("restore-{}", bed.job.job_id));
    assert_eq!(executions[0].1, json!({"restoreJobId": bed.job.job_id}));
    let results = bed.results();
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0].job_id, bed.job.job_id);
    assert_eq!(results[0].status, "SUCCESSFUL");
    let message = results[0].message.clone().unwrap_or_default();
    assert!(
        message.contains("passed read-only") && message.contains("1 verify queries"),
        "{message}"
    );
    // The task ran in validation mode against the restored database's endpoint.
    let run_task = bed.proxy.requests("RunTask").join("\n");
    assert!(
        run_task.contains("SANITIZER_MODE") && run_task.contains("validate"),
        "{run_task}"
    );
    let tasks = bed.ecs.tasks();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].exit_code, Some(0), "{}", tasks[0].stderr);
    // The script's statement (which would blank every e-mail and note) never ran.
    assert!(before.contains("customer1@example.invalid"), "{before}");
    assert_touched_nothing_else(&bed, &before);
}

#[tokio::test(flavor = "multi_thread")]
async fn given_a_restore_whose_notes_hold_email_addresses_when_validated_then_failed_is_posted_naming_the_column()
 {
    let bed = Stage::new(Options {
        leak: true,
        ..Options::default()
    })
    .await;
    let before = bed.dump();

    let run = bed.validate().await;

    assert_eq!(run.status, "FAILED", "{run:?}\n{}", bed.logs());
    assert_eq!(run.error.as_deref(), Some("VerificationFailed"), "{run:?}");
    let results = bed.results();
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0].status, "FAILED");
    let message = results[0].message.clone().unwrap_or_default();
    assert!(
        message.contains("public.customers.notes holds email values on")
            && message.contains(&format!("{LEAKING_NOTES} rows")),
        "{message}"
    );
    // Column names and counts only: never a value.
    assert!(!message.contains("mailcorp"), "{message}");
    assert!(
        !bed.logs().contains("mailcorp"),
        "a leaked value reached the log"
    );
    assert!(before.lines().count() >= CUSTOMERS as usize, "{before}");
    assert_touched_nothing_else(&bed, &before);
}

#[tokio::test(flavor = "multi_thread")]
async fn given_the_task_cannot_start_when_validated_then_failed_is_posted_with_the_reason() {
    let bed = Stage::new(Options {
        task_fails_to_start: true,
        ..Options::default()
    })
    .await;
    let before = bed.dump();

    let run = bed.validate().await;

    assert_eq!(run.status, "FAILED", "{run:?}\n{}", bed.logs());
    let results = bed.results();
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0].status, "FAILED");
    let message = results[0].message.clone().unwrap_or_default();
    assert!(message.contains("RESOURCE:ENI"), "{message}");
    assert_touched_nothing_else(&bed, &before);
}

#[tokio::test(flavor = "multi_thread")]
async fn given_a_restore_no_plan_made_when_its_event_arrives_then_no_run_starts_and_nothing_is_posted()
 {
    let bed = Stage::new(Options {
        from_plan: false,
        ..Options::default()
    })
    .await;
    let before = bed.dump();

    let answer = bed.deliver(&bed.event()).await.unwrap();

    assert_eq!(answer["started"], json!(false), "{answer}");
    assert!(
        answer["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("no restore testing plan"),
        "{answer}"
    );
    assert!(bed.executions().await.is_empty());
    assert!(bed.results().is_empty());
    assert_eq!(bed.backup.calls(), vec!["DescribeRestoreJob".to_owned()]);
    assert_touched_nothing_else(&bed, &before);
}

/// The template's rule pattern, put into moto's EventBridge and fed a restore job's event and
/// a backup job's: only restore job events reach the function, which then asks AWS Backup.
#[tokio::test(flavor = "multi_thread")]
async fn the_rules_event_pattern_takes_restore_job_events_only() {
    let template = sluice_testbed::template::load();
    let rule = sluice_testbed::template::resources_of(template, "AWS::Events::Rule")
        .into_iter()
        .find(|(id, _)| *id == "RestoreJobCompletedRule")
        .map(|(_, rule)| rule["Properties"]["EventPattern"].clone())
        .expect("RestoreJobCompletedRule");
    let restore = json!({
        "source": "aws.backup",
        "detail-type": "Restore Job State Change",
        "detail": {"restoreJobId": "RESTORE-1", "resourceType": "RDS", "status": "COMPLETED"},
    });
    let backup = json!({
        "source": "aws.backup",
        "detail-type": "Backup Job State Change",
        "detail": {"backupJobId": "BACKUP-1", "resourceType": "RDS", "state": "COMPLETED"},
    });

    let delivered = Moto::shared()
        .rule_deliveries(&rule, &[restore, backup])
        .await;

    assert_eq!(delivered.len(), 1, "{delivered:#?}");
    assert!(delivered[0].contains("RESTORE-1"), "{delivered:#?}");
}
