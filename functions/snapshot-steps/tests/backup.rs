//! Backup actions end to end: EventBridge-shaped events (native and CloudTrail fixtures) handed
//! to the real `backup-actions` binary, the real `statemachines/backup-actions.asl.json` under
//! aws-local-stepfunctions, RDS exports and Step Functions answered by moto (through a
//! fault-injecting proxy), recovery points by the test bed's AWS Backup stand-in. Also the
//! template's EventBridge rules, loaded into moto and fed the fixtures.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use sluice_testbed::backup_actions::{EXPORT_ROLE, Options, Stage as Bed, fixture};
use sluice_testbed::iam_gate::ServiceCall;
use sluice_testbed::moto::Moto;

#[tokio::test(flavor = "multi_thread")]
async fn native_instance_event_exports_to_the_dated_prefix_then_deletes_the_recovery_point() {
    let bed = Bed::new(Options::default()).await;

    let started = bed
        .deliver(&bed.event("native-instance-completed"))
        .await
        .unwrap();
    let run = bed.run().await;

    assert_eq!(started["started"], json!(true), "{started}");
    let executions = bed.executions().await;
    assert_eq!(executions.len(), 1);
    assert_eq!(executions[0].0, format!("backup-{}", bed.job.job_id));
    run.assert_succeeded(&bed.logs());
    let exports = bed.exports().await;
    assert_eq!(exports.len(), 1, "{exports:?}");
    let export = &exports[0];
    assert_eq!(
        export.export_task_identifier(),
        Some(format!("sluice-export-{}", bed.job.job_id.to_ascii_lowercase()).as_str())
    );
    assert_eq!(
        export.source_arn(),
        Some(bed.job.recovery_point_arn.as_str())
    );
    assert_eq!(export.s3_prefix(), Some(bed.expected_prefix().as_str()));
    assert_eq!(export.iam_role_arn(), Some(EXPORT_ROLE));
    bed.require_export_writes().await;
    // The export role writes nothing outside its prefix and never touches object versions.
    for (method, path) in [
        ("PUT", format!("/{}/activity-streams/x.json", bed.bucket)),
        ("PUT", format!("/{}/backup-exportsX/x", bed.bucket)),
        (
            "DELETE",
            format!("/{}/{}/x?versionId=v1", bed.bucket, bed.expected_prefix()),
        ),
    ] {
        let decision = bed.deployment.require_denied(
            "BackupExportRole",
            &ServiceCall::rest("s3", method, &path),
            json!({}),
        );
        let sid = &decision.answer["closest"]["sid"];
        assert!(
            sid == "WriteExports" || sid == "FindTheBucket",
            "{method} {path}: {}",
            decision.describe()
        );
    }
    assert_eq!(export.kms_key_id(), Some(bed.kms_key.as_str()));
    assert_eq!(
        bed.backup.deleted(),
        vec![(bed.vault.clone(), bed.job.recovery_point_arn.clone())]
    );
    let output = run.output.clone().unwrap();
    assert_eq!(output["recoveryPoint"], json!("deleted"));
    // Every table in the export's status files was exported: no warning.
    assert_eq!(
        output["export"]["tables"],
        json!({
            "exported": 4,
            "exportedTables": ["app.public.customers", "app.public.orders",
                               "app.public.events_archive", "app.public.documents"],
            "skipped": 0,
            "failed": 0,
        })
    );
    let event = result_event(&bed, "Backup Actions Succeeded");
    assert_eq!(event["warning"], Value::Null, "{event}");
    assert_eq!(event["export"]["tables"]["exported"], 4, "{event}");
    assert_eq!(
        output["export"]["location"],
        json!(format!("s3://{}/{}/", bed.bucket, bed.expected_prefix()))
    );
    assert_eq!(
        output["source"],
        json!({"kind": "instance", "id": bed.source})
    );
    assert!(bed.proxy.calls().iter().any(|c| c == "PutEvents"));
    assert_eq!(
        run.path(),
        [
            "Init",
            "Describe",
            "ExportChosen",
            "StartExport",
            "WaitExport",
            "SanitizeChosen",
            "DeleteChosen",
            "DeleteRecoveryPoint",
            "Notify",
            "Done"
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cloudtrail_cluster_event_exports_the_cluster_snapshot_and_keeps_it_when_deletion_is_off() {
    let bed = Bed::new(Options {
        cluster: true,
        delete: "false",
        ..Options::default()
    })
    .await;

    let started = bed
        .deliver(&bed.event("cloudtrail-cluster-completed"))
        .await
        .unwrap();
    let run = bed.run().await;

    assert_eq!(started["started"], json!(true), "{started}");
    run.assert_succeeded(&bed.logs());
    let exports = bed.exports().await;
    assert_eq!(exports.len(), 1, "{exports:?}");
    assert!(
        exports[0]
            .source_arn()
            .unwrap()
            .contains(":cluster-snapshot:"),
        "{exports:?}"
    );
    assert_eq!(exports[0].s3_prefix(), Some(bed.expected_prefix().as_str()));
    assert!(bed.backup.deleted().is_empty());
    assert!(
        !bed.backup
            .calls()
            .contains(&"DeleteRecoveryPoint".to_owned())
    );
    let output = run.output.unwrap();
    assert_eq!(output["recoveryPoint"], json!("kept"));
    assert_eq!(
        output["source"],
        json!({"kind": "cluster", "id": bed.source})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_duplicate_event_in_either_shape_never_starts_a_second_run() {
    let bed = Bed::new(Options::default()).await;
    let native = bed.event("native-instance-completed");

    let first = bed.deliver(&native).await.unwrap();
    let again = bed.deliver(&native).await.unwrap();
    // The same job reported through CloudTrail (different fields, same job id).
    let mut cloudtrail = bed.event("cloudtrail-cluster-completed");
    let details = &mut cloudtrail["detail"]["serviceEventDetails"];
    details["backupJobId"] = json!(bed.job.job_id);
    details["resourceArn"] = json!(bed.job.resource_arn);
    details["resourceType"] = json!("RDS");
    details["recoveryPointArn"] = json!(bed.job.recovery_point_arn);
    let third = bed.deliver(&cloudtrail).await.unwrap();

    assert_eq!(first["started"], json!(true));
    // The same input again: StartExecution is idempotent and answers with the same execution.
    assert_eq!(again["executionArn"], first["executionArn"], "{again}");
    // The other shape gives the same normalised input: the same execution again.
    assert_eq!(third["executionArn"], first["executionArn"], "{third}");
    // Once the run has ended, StartExecution refuses the name: still no second run.
    aws_sdk_sfn::Client::new(&bed.sdk)
        .stop_execution()
        .execution_arn(first["executionArn"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let late = bed.deliver(&native).await.unwrap();
    assert_eq!(late["started"], json!(false), "{late}");
    assert_eq!(late["reason"], json!("duplicate event"));
    assert_eq!(late["executionArn"], first["executionArn"], "{late}");
    assert_eq!(bed.executions().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn other_resource_types_states_and_vaults_are_ignored_with_a_logged_reason() {
    let bed = Bed::new(Options::default()).await;
    let ebs = bed.event("native-ebs-completed");
    let failed = bed.event("native-instance-failed");
    let mut elsewhere = bed.event("native-instance-completed");
    elsewhere["detail"]["backupVaultName"] = json!("someone-elses-vault");
    let mut not_backup = bed.event("native-instance-completed");
    not_backup["detail-type"] = json!("Copy Job State Change");

    let answers = [
        bed.deliver(&ebs).await.unwrap(),
        bed.deliver(&failed).await.unwrap(),
        bed.deliver(&elsewhere).await.unwrap(),
        bed.deliver(&not_backup).await.unwrap(),
    ];

    let reasons: Vec<&str> = answers
        .iter()
        .map(|a| {
            assert_eq!(a["started"], json!(false), "{a}");
            a["reason"].as_str().unwrap()
        })
        .collect();
    assert!(reasons[0].contains("\"EBS\""), "{reasons:?}");
    assert!(reasons[1].contains("FAILED"), "{reasons:?}");
    assert!(reasons[2].contains("someone-elses-vault"), "{reasons:?}");
    assert!(reasons[3].contains("Copy Job State Change"), "{reasons:?}");
    assert!(bed.executions().await.is_empty());
    let logs = bed.logs();
    for reason in &reasons {
        assert!(logs.contains(reason), "not logged: {reason}\n{logs}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_export_fails_the_run_with_its_cause_and_deletes_nothing() {
    let bed = Bed::new(Options::default()).await;
    bed.proxy.replace_in_response(
        "DescribeExportTasks",
        "<Status>complete</Status>",
        "<Status>FAILED</Status><FailureCause>S3 bucket exports: access denied</FailureCause>",
    );
    let run = bed.complete("native-instance-completed").await;

    assert!(!run.succeeded(), "{:?}", run.path());
    assert_eq!(run.error.as_deref(), Some("ResourceFailed"));
    let cause = run.cause.clone().unwrap_or_default();
    assert!(
        cause.contains("ended FAILED") && cause.contains("access denied"),
        "{cause}"
    );
    assert!(bed.backup.deleted().is_empty());
    assert!(
        !bed.backup
            .calls()
            .contains(&"DeleteRecoveryPoint".to_owned())
    );
    let path = run.path();
    assert!(
        path.ends_with(&[
            "Abort".to_owned(),
            "NotifyFailure".to_owned(),
            "Failed".to_owned()
        ]),
        "{path:?}"
    );
    assert!(bed.proxy.calls().iter().any(|c| c == "PutEvents"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_past_its_timeout_fails_and_the_failure_path_cancels_it() {
    let bed = Bed::new(Options {
        export_timeout_minutes: 60,
        ..Options::default()
    })
    .await;
    // This export runs on (the account's other exports, listed before it starts, do not).
    bed.proxy.replace_in_response_when(
        "DescribeExportTasks",
        "ExportTaskIdentifier=",
        "<Status>complete</Status>",
        "<Status>IN_PROGRESS</Status>",
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut state = bed.described().await;
    state = bed.step("exportStart", state).await.unwrap();

    let running = bed.step("exportWait", state.clone()).await.unwrap_err();
    // Two hours later: past EXPORT_TIMEOUT_MINUTES=60.
    state["export"]["started"] = json!(now - 7_200);
    let late = bed.step("exportWait", state.clone()).await.unwrap_err();
    state["export"]["status"] = json!("IN_PROGRESS");
    let aborted = bed.step("abort", state).await.unwrap();

    assert_eq!(running.error_type, "NotReady", "{running}");
    assert!(running.error_message.contains("IN_PROGRESS"), "{running}");
    assert_eq!(late.error_type, "ResourceFailed", "{late}");
    assert!(
        late.error_message.contains("EXPORT_TIMEOUT_MINUTES=60"),
        "{late}"
    );
    assert!(bed.proxy.calls().iter().any(|c| c == "CancelExportTask"));
    assert_eq!(aborted["export"]["status"], json!("CANCELED"));
    assert_eq!(aborted["recoveryPoint"], json!("kept"));
    assert!(bed.backup.deleted().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn sanitize_run_from_the_recovery_point_gates_deletion() {
    // Succeeded: export and sanitize done, then the recovery point goes.
    let ok = Bed::new(Options {
        sanitize: "true",
        ..Options::default()
    })
    .await;
    ok.sanitize_run_ends("SUCCEEDED");
    let run = ok.complete("native-instance-completed").await;
    run.assert_succeeded(&ok.logs());
    let runs = ok.sanitize_runs().await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].0, format!("backup-{}", ok.job.job_id));
    assert_eq!(
        runs[0].1,
        json!({"source": {"kind": "instance", "id": ok.source}, "snapshot": ok.job.recovery_point_arn})
    );
    assert_eq!(ok.backup.deleted().len(), 1);

    // Failed: the export completed, but the sanitize run did not; nothing is deleted.
    let bad = Bed::new(Options {
        sanitize: "true",
        ..Options::default()
    })
    .await;
    bad.sanitize_run_ends("FAILED");
    let run = bad.complete("native-instance-completed").await;
    assert!(!run.succeeded(), "{:?}", run.path());
    assert_eq!(run.error.as_deref(), Some("ResourceFailed"));
    assert!(
        run.cause
            .clone()
            .unwrap_or_default()
            .contains("ended FAILED")
    );
    assert!(run.path().contains(&"WaitSanitize".to_owned()));
    assert!(!run.path().contains(&"DeleteRecoveryPoint".to_owned()));
    assert!(bad.backup.deleted().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn deletion_is_refused_unless_every_chosen_action_succeeded() {
    let bed = Bed::new(Options::default()).await;
    let state = bed.described().await;
    let mut exporting = bed.step("exportStart", state.clone()).await.unwrap();
    exporting["export"]["status"] = json!("FAILED");

    let never_exported = bed
        .step("deleteRecoveryPoint", state.clone())
        .await
        .unwrap_err();
    let export_failed = bed
        .step("deleteRecoveryPoint", exporting)
        .await
        .unwrap_err();

    for refused in [&never_exported, &export_failed] {
        assert_eq!(refused.error_type, "InvalidInput", "{refused}");
        assert!(
            refused.error_message.contains("refusing to delete")
                && refused.error_message.contains("export has not completed"),
            "{refused}"
        );
    }
    assert!(
        !bed.backup
            .calls()
            .contains(&"DeleteRecoveryPoint".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_boolean_that_is_not_true_or_false_fails_the_run_naming_the_setting() {
    let bed = Bed::new(Options {
        delete: "yes",
        ..Options::default()
    })
    .await;
    let refused = bed
        .deliver(&bed.event("native-instance-completed"))
        .await
        .unwrap_err();
    assert_eq!(refused.error_type, "ConfigError", "{refused}");
    assert!(refused.error_message.contains("BACKUP_DELETE"), "{refused}");
    let input = json!({
        "backupJobId": bed.job.job_id,
        "vault": bed.vault,
        "resourceArn": bed.job.resource_arn,
        "resourceType": "RDS",
    });

    let run = bed.run_as("backup-manual", input).await;

    assert!(!run.succeeded());
    assert_eq!(run.error.as_deref(), Some("ConfigError"));
    let cause = run.cause.unwrap_or_default();
    assert!(
        cause.contains("BACKUP_DELETE") && cause.contains("yes"),
        "{cause}"
    );
    assert!(bed.exports().await.is_empty());
    assert!(bed.backup.deleted().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deletion_the_vault_refuses_fails_the_run_after_the_export() {
    let bed = Bed::new(Options::default()).await;
    // Refused for a reason other than a lock or a hold (those retain it, see below).
    bed.backup.fail_delete(
        "InvalidRequestException",
        "recovery point is being copied to another vault",
    );
    let run = bed.complete("native-instance-completed").await;

    assert!(!run.succeeded());
    assert_eq!(run.error.as_deref(), Some("AwsError"));
    assert!(
        run.cause
            .clone()
            .unwrap_or_default()
            .contains("being copied to another vault"),
        "{:?}",
        run.cause
    );
    assert_eq!(bed.exports().await.len(), 1);
    assert!(bed.backup.deleted().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deletion_backup_accepts_but_leaves_expired_fails_the_run() {
    let bed = Bed::new(Options::default()).await;
    bed.backup.expire_on_delete();
    let run = bed.complete("native-instance-completed").await;

    assert!(!run.succeeded(), "{:?}", run.path());
    assert_eq!(run.error.as_deref(), Some("ResourceFailed"));
    let cause = run.cause.clone().unwrap_or_default();
    assert!(cause.contains("EXPIRED"), "{cause}");
    assert!(
        bed.backup
            .calls()
            .contains(&"DescribeRecoveryPoint".to_owned())
    );
}

/// The template's rule patterns, put into moto's EventBridge with a log group as target, and
/// fed every fixture: only completed-job events reach the function.
#[tokio::test(flavor = "multi_thread")]
async fn the_rules_event_patterns_match_completed_jobs_only() {
    let template = sluice_testbed::template::load();
    let patterns: Vec<Value> =
        sluice_testbed::template::resources_of(template, "AWS::Events::Rule")
            .into_iter()
            .filter(|(id, _)| id.starts_with("BackupJobCompleted"))
            .map(|(_, rule)| rule["Properties"]["EventPattern"].clone())
            .collect();
    assert_eq!(patterns.len(), 2, "one rule per event shape");
    let fixtures = [
        ("native-instance-completed", true),
        ("cloudtrail-cluster-completed", true),
        // The function also ignores these with a reason, should it be invoked with them.
        ("native-instance-failed", false),
        ("native-ebs-completed", false),
    ];
    let events: Vec<Value> = fixtures.iter().map(|(name, _)| fixture(name)).collect();
    let mut delivered = Vec::new();
    for pattern in &patterns {
        delivered.extend(Moto::shared().rule_deliveries(pattern, &events).await);
    }
    for (name, expected) in fixtures {
        let event = fixture(name);
        let job = event["detail"]["backupJobId"]
            .as_str()
            .or_else(|| event["detail"]["serviceEventDetails"]["backupJobId"].as_str())
            .unwrap()
            .to_owned();
        let matched = delivered.iter().filter(|m| m.contains(&job)).count();
        assert_eq!(
            matched,
            usize::from(expected),
            "{name}: matched {matched} time(s)\n{delivered:#?}"
        );
    }
}

/// AWS runs five exports per account at once: a sixth waits for a slot (NotReady), starts once
/// one ends, and gives up after EXPORT_TIMEOUT_MINUTES if none does.
#[tokio::test(flavor = "multi_thread")]
async fn an_export_waits_while_five_run_in_the_account_and_starts_when_one_ends() {
    let bed = Bed::new(Options {
        export_timeout_minutes: 60,
        ..Options::default()
    })
    .await;
    let state = bed.described().await;
    // Five exports of the same recovery point, started by someone else, to another bucket.
    let rds = aws_sdk_rds::Client::new(&bed.sdk);
    for i in 0..5 {
        rds.start_export_task()
            .export_task_identifier(format!("other-{}-{i}", bed.job.job_id.to_ascii_lowercase()))
            .source_arn(state["recoveryPointArn"].as_str().unwrap())
            .s3_bucket_name("someone-elses-exports")
            .iam_role_arn("arn:aws:iam::123456789012:role/other-export")
            .kms_key_id("arn:aws:kms:us-east-1:123456789012:key/other")
            .send()
            .await
            .unwrap();
    }
    // moto finishes exports at once: the account's listing shows them running.
    bed.proxy.replace_in_response_when(
        "DescribeExportTasks",
        "Name=status",
        "<Status>complete</Status>",
        "<Status>IN_PROGRESS</Status>",
    );

    let queued = bed.step("exportStart", state.clone()).await.unwrap_err();
    let mut late_state = state.clone();
    late_state["started"] = json!(state["started"].as_i64().unwrap() - 7_200);
    let late = bed.step("exportStart", late_state).await.unwrap_err();
    let before = bed.exports().await.len();
    bed.proxy.clear();
    let started = bed.step("exportStart", state).await.unwrap();

    assert_eq!(queued.error_type, "NotReady", "{queued}");
    assert!(
        queued
            .error_message
            .contains("exports are running in this account"),
        "{queued}"
    );
    assert_eq!(late.error_type, "ResourceFailed", "{late}");
    assert!(
        late.error_message.contains("EXPORT_TIMEOUT_MINUTES=60"),
        "{late}"
    );
    assert_eq!(
        before, 0,
        "nothing started while the account was at its limit"
    );
    assert_eq!(bed.exports().await.len(), 1);
    assert_eq!(started["export"]["status"], "STARTING");
}

/// Past RUN_DEADLINE_HOURS every waiting step fails the run, so Abort (which still runs) cancels
/// the export and the failure is notified before the state machine's own timeout.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_past_its_deadline_fails_at_its_next_step_and_still_aborts() {
    let bed = Bed::new(Options::default()).await;
    bed.proxy.replace_in_response_when(
        "DescribeExportTasks",
        "ExportTaskIdentifier=",
        "<Status>complete</Status>",
        "<Status>IN_PROGRESS</Status>",
    );
    let mut state = bed.described().await;
    state = bed.step("exportStart", state).await.unwrap();
    let running = bed.step("exportWait", state.clone()).await.unwrap_err();
    // 73 hours after describe: past the default RUN_DEADLINE_HOURS=72.
    state["started"] = json!(state["started"].as_i64().unwrap() - 73 * 3600);

    let late = bed.step("exportWait", state.clone()).await.unwrap_err();
    state["export"]["status"] = json!("IN_PROGRESS");
    let aborted = bed.step("abort", state.clone()).await.unwrap();
    let notified = bed.step("backupNotify", aborted.clone()).await;

    assert_eq!(running.error_type, "NotReady", "{running}");
    assert_eq!(late.error_type, "ResourceFailed", "{late}");
    assert!(
        late.error_message.contains("deadline of 72 hours")
            && late.error_message.contains("exportWait"),
        "{late}"
    );
    assert!(notified.is_ok(), "{notified:?}");
    assert!(bed.proxy.calls().iter().any(|c| c == "CancelExportTask"));
}

/// A recovery point AWS Backup may not delete (its vault's lock, a legal hold, or a refusal at
/// delete time for that reason) is retained on purpose: the run succeeds and says why.
async fn retained(setup: impl FnOnce(&Bed), reason: &str) {
    let bed = Bed::new(Options::default()).await;
    setup(&bed);

    let run = bed.complete("native-instance-completed").await;

    run.assert_succeeded(&bed.logs());
    let output = run.output.clone().expect("output");
    assert_eq!(output["recoveryPoint"], "retained", "{output}");
    let why = output["recoveryPointReason"].as_str().unwrap_or_default();
    assert!(why.contains(reason), "{why}");
    assert!(bed.backup.deleted().is_empty());
    assert_eq!(bed.exports().await.len(), 1, "the export still ran");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recovery_point_in_a_locked_vault_younger_than_its_minimum_retention_is_retained() {
    retained(
        |bed| bed.backup.lock_vaults(35),
        "minimum retention of 35 days",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recovery_point_under_a_legal_hold_is_retained() {
    retained(
        |bed| {
            bed.backup
                .add_legal_hold("hold-2026-audit", "2026 audit", &bed.job.recovery_point_arn);
        },
        "legal hold hold-2026-audit (2026 audit)",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deletion_refused_at_delete_time_for_a_lock_is_retained() {
    retained(
        |bed| {
            bed.backup.fail_delete(
                "InvalidRequestException",
                "Recovery point cannot be deleted: the backup vault is locked in compliance mode",
            );
        },
        "vault is locked in compliance mode",
    )
    .await;
}

/// The detail of the result event the function sent with `detail_type` (from its `PutEvents`
/// request as the proxy saw it).
fn result_event(bed: &Bed, detail_type: &str) -> Value {
    for seen in bed.proxy.requests("PutEvents") {
        let Some(start) = seen.rfind("{\"Entries\"") else {
            continue;
        };
        let Ok(body) = serde_json::from_str::<Value>(&seen[start..]) else {
            continue;
        };
        for entry in body["Entries"].as_array().into_iter().flatten() {
            if entry["DetailType"] == detail_type {
                return serde_json::from_str(entry["Detail"].as_str().unwrap()).unwrap();
            }
        }
    }
    panic!("no {detail_type:?} event was sent")
}

/// RDS reports an export that skipped a table `COMPLETE`; its status files say which table and
/// why. The run succeeds with the warning in its result event, and the recovery point, the only
/// full copy of that table, is kept although deletion is on.
/// <https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-export-snapshot.Considerations.html>
#[tokio::test(flavor = "multi_thread")]
async fn an_export_that_skipped_a_table_succeeds_with_a_warning_and_keeps_the_recovery_point() {
    let bed = Bed::new(Options {
        skipped_table: true,
        ..Options::default()
    })
    .await;

    let run = bed.complete("native-instance-completed").await;

    run.assert_succeeded(&bed.logs());
    let output = run.output.clone().unwrap();
    assert_eq!(output["recoveryPoint"], "kept", "{output}");
    let why = output["recoveryPointReason"].as_str().unwrap_or_default();
    assert!(
        why.contains("left out 1 of 4 tables") && why.contains("app.public.events/archive"),
        "{why}"
    );
    let tables = &output["export"]["tables"];
    assert_eq!(tables["exported"], 3, "{tables}");
    assert_eq!(tables["skipped"], 1, "{tables}");
    assert_eq!(
        tables["skippedTables"][0]["table"],
        "app.public.events/archive"
    );
    assert!(
        tables["skippedTables"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("slash (/)"),
        "AWS's reason is carried: {tables}"
    );
    assert!(bed.backup.deleted().is_empty());
    assert!(
        !bed.backup
            .calls()
            .contains(&"DeleteRecoveryPoint".to_owned())
    );
    let event = result_event(&bed, "Backup Actions Succeeded");
    let warning = event["warning"].as_str().unwrap_or_default();
    assert!(
        warning.contains("skipped 1: app.public.events/archive (The table name contains a slash"),
        "{event}"
    );
    assert_eq!(event["recoveryPoint"], "kept", "{event}");
    assert_eq!(event["export"]["tables"]["skipped"], 1, "{event}");
    assert!(run.path().contains(&"DeleteRecoveryPoint".to_owned()));
}

/// With BackupExportRequireAllTables=true a table the export failed (or skipped) fails the run;
/// the failure names the tables, and nothing is deleted.
#[tokio::test(flavor = "multi_thread")]
async fn requiring_all_tables_fails_the_run_naming_the_tables_and_keeps_the_recovery_point() {
    let bed = Bed::new(Options {
        require_all_tables: "true",
        skipped_table: true,
        failed_table: true,
        ..Options::default()
    })
    .await;

    let run = bed.complete("native-instance-completed").await;

    assert!(!run.succeeded(), "{:?}", run.path());
    assert_eq!(run.error.as_deref(), Some("ResourceFailed"));
    let cause = run.cause.clone().unwrap_or_default();
    assert!(
        cause.contains("left out 2 of 4 tables")
            && cause.contains("skipped 1: app.public.events/archive")
            && cause.contains("failed 1: app.public.documents (A large object")
            && cause.contains("BACKUP_EXPORT_REQUIRE_ALL_TABLES=true"),
        "{cause}"
    );
    assert!(bed.backup.deleted().is_empty());
    let path = run.path();
    assert!(
        path.ends_with(&[
            "Abort".to_owned(),
            "NotifyFailure".to_owned(),
            "Failed".to_owned()
        ]),
        "{path:?}"
    );
    assert!(
        !path.contains(&"DeleteRecoveryPoint".to_owned()),
        "{path:?}"
    );
    let event = result_event(&bed, "Backup Actions Failed");
    assert_eq!(event["status"], "FAILED", "{event}");
    assert_eq!(event["recoveryPoint"], "kept", "{event}");
    let said = event["cause"].as_str().unwrap_or_default();
    assert!(
        said.contains("app.public.documents") && said.contains("app.public.events/archive"),
        "{event}"
    );
}

/// A status file that is not there (or cannot be read) is never taken as "all exported": the
/// run fails naming the key, and the recovery point stays.
#[tokio::test(flavor = "multi_thread")]
async fn a_missing_status_file_fails_the_run_naming_its_key() {
    let missing_info = Bed::new(Options {
        status_files: false,
        ..Options::default()
    })
    .await;
    let run = missing_info.complete("native-instance-completed").await;

    assert!(!run.succeeded(), "{:?}", run.path());
    assert_eq!(run.error.as_deref(), Some("ResourceFailed"));
    let (info_key, _) = missing_info.export_status_keys();
    let cause = run.cause.clone().unwrap_or_default();
    assert!(
        cause.contains(&format!(
            "s3://{}/{info_key} is missing",
            missing_info.bucket
        )),
        "{cause}"
    );
    assert!(missing_info.backup.deleted().is_empty());

    // The first per-table file gone: the second starts at table 3.
    let gap = Bed::new(Options::default()).await;
    let (_, table_keys) = gap.export_status_keys();
    Moto::shared()
        .s3_client()
        .delete_object()
        .bucket(&gap.bucket)
        .key(&table_keys[0])
        .send()
        .await
        .unwrap();
    let run = gap.complete("native-instance-completed").await;

    assert!(!run.succeeded(), "{:?}", run.path());
    let cause = run.cause.clone().unwrap_or_default();
    assert!(
        cause.contains("tables 1 to 2 are missing") && cause.contains(&table_keys[1]),
        "{cause}"
    );
    assert!(gap.backup.deleted().is_empty());
}
