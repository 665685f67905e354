//! The sanitized-snapshot state machine end to end: the real ASL under aws-local-stepfunctions,
//! every task served by the real `snapshot-steps` binary, AWS answered by moto (through a
//! fault-injecting proxy), the sanitizer task run by the test bed's ECS stand-in as the real
//! `sanitizer` binary against a local PostgreSQL or MariaDB that plays the restored temp
//! database (see `sluice_testbed::sanitized`). Each failure test injects a fault at one step
//! and checks that the run ends FAILED with the cause, nothing of the run is left, nothing is
//! shared and the source is untouched.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::{Value, json};
use sluice_runtime::pin::Sha256Pin;
use sluice_testbed::moto::Moto;
use sluice_testbed::notifications::{Subscriber, at_path, template_pattern};
use sluice_testbed::sanitized::{
    ACCOUNT_A, DR_REGION, DeclaredSourceKey, FULL_SCRIPT, MISSES_CARD, Options,
    PROVISIONED_WRITER_CLASS, SCRIPT_KEY, SourceKey, Src, Stage as Bed, assert_no_original_pii,
    assert_no_secret_leaked, card, dump, email, leaks_in,
};

#[tokio::test(flavor = "multi_thread")]
async fn given_postgres_instance_when_run_then_sanitized_snapshot_is_shared_and_temp_resources_gone()
 {
    let bed = Bed::new(Options::default()).await;

    let run = bed.run().await;

    run.assert_succeeded(&bed.logs());
    assert_no_original_pii(&dump(&bed));
    assert!(dump(&bed).contains("@example.invalid"));
    let kept = bed.kept().await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(
        kept[0].0.starts_with(&format!("{}-sanitized-", bed.source)),
        "{kept:?}"
    );
    assert_eq!(kept[0].1, vec![ACCOUNT_A.to_owned()]);
    assert_eq!(
        bed.leftovers().await,
        vec![format!("snapshot {}", kept[0].0)]
    );
    bed.assert_source_untouched().await;
    assert_no_secret_leaked(&bed);
    let requests = bed.ecs.run_task_requests();
    assert_eq!(requests.len(), 1, "one task per run");
    let env = requests[0]["overrides"]["containerOverrides"][0]["environment"].to_string();
    assert!(
        env.contains("SANITIZER_SECRET_ARN") && env.contains("rds!"),
        "{env}"
    );
    let pin = Sha256Pin::of(FULL_SCRIPT.as_bytes()).to_string();
    assert!(
        env.contains("SANITIZER_SCRIPT_SHA256") && env.contains(&pin),
        "the task is given the script's pin: {env}"
    );
    let output = run.output.expect("output");
    assert_eq!(output["snapshot"], json!(kept[0].0));
    assert!(output.get("error").is_none());
    assert!(bed.proxy.calls().iter().any(|c| c == "PutEvents"));
    assert_attested(&bed, &output, &kept[0].0, &pin).await;
}

/// The kept snapshot's attestation report: in the bucket under `sanitized-reports/`, its
/// SHA-256 tagged on the snapshot, holding the script's digest, the engine, each verify query
/// with its result, the durations and the run id, and no row value.
async fn assert_attested(bed: &Bed, output: &Value, kept: &str, pin: &str) {
    let key = format!("sanitized-reports/{kept}.json");
    assert_eq!(
        output["report"],
        json!(format!("s3://{}/{key}", bed.bucket)),
        "{output}"
    );
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&bed.sdk)
            .force_path_style(true)
            .build(),
    );
    let body = s3
        .get_object()
        .bucket(&bed.bucket)
        .key(&key)
        .send()
        .await
        .expect("the report exists")
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    let digest = Sha256Pin::of(&body).to_string();
    assert_eq!(output["reportSha256"], json!(digest));
    let rds = aws_sdk_rds::Client::new(&bed.sdk);
    let arn = output["snapshotArn"].as_str().expect("snapshot ARN");
    let tags = rds
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .unwrap();
    assert!(
        tags.tag_list()
            .iter()
            .any(|t| t.key() == Some("sluice:report-sha256") && t.value() == Some(digest.as_str())),
        "{tags:?}"
    );
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert_no_original_pii(&text);
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["runId"], output["runId"]);
    assert_eq!(report["snapshot"], json!(kept));
    assert_eq!(report["script"]["sha256"], json!(pin));
    assert_eq!(report["engine"], output["engine"]);
    let verification = report["verification"].as_array().expect("verify results");
    assert_eq!(verification.len(), 2, "{report}");
    assert!(
        verification
            .iter()
            .all(|q| q["passed"] == json!(true) && q["rows"] == json!(0)),
        "{report}"
    );
    let leak = &report["leakCheck"];
    let sampled: Vec<(&str, u64, u64)> = leak["sensitive"]
        .as_array()
        .map(|cols| {
            cols.iter()
                .filter_map(|c| {
                    Some((
                        c["column"].as_str()?,
                        c["sampled"].as_u64()?,
                        c["remaining"].as_u64()?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(sampled.len(), 3, "{leak}");
    assert!(
        sampled.iter().all(|(_, n, left)| *n > 0 && *left == 0),
        "every sensitive column sampled, none left: {leak}"
    );
    assert!(leak["text_columns_scanned"].as_u64() > Some(0), "{leak}");
    for phase in ["restore", "sanitize", "snapshot", "total"] {
        assert!(
            report["durationsSeconds"][phase].is_i64(),
            "{phase}: {report}"
        );
    }
}

/// A dry run from the pipeline (`{"dryRun": true}`): the script runs in the temp database and is
/// rolled back, nothing is snapshotted or shared, the temp resources are gone, and the result
/// event says it was a dry run and where the task logged what the script would change.
#[tokio::test(flavor = "multi_thread")]
async fn given_a_dry_run_input_then_the_script_is_rolled_back_and_nothing_is_published() {
    let bed = Bed::new(Options::default()).await;
    let mut input = bed.input();
    input["dryRun"] = json!(true);

    let run = bed.run_with(input).await;

    run.assert_succeeded(&bed.logs());
    let rows = dump(&bed);
    assert!(
        rows.contains(&email(1)) && rows.contains(&card(1)),
        "the dry run rolled back: the temp database still holds what was restored"
    );
    assert!(bed.kept().await.is_empty(), "nothing kept");
    assert!(
        bed.leftovers().await.is_empty(),
        "{:?}",
        bed.leftovers().await
    );
    let calls = bed.proxy.calls();
    for publishing in [
        "CopyDBSnapshot",
        "ModifyDBSnapshotAttribute",
        "DescribeDBSnapshotAttributes",
    ] {
        assert!(
            !calls.iter().any(|c| c == publishing),
            "{publishing} in a dry run: {calls:?}"
        );
    }
    // Only the source snapshot ("new") is made, and cleanup deleted it.
    assert_eq!(
        calls.iter().filter(|c| *c == "CreateDBSnapshot").count(),
        1,
        "{calls:?}"
    );
    let requests = bed.ecs.run_task_requests();
    assert_eq!(requests.len(), 1, "one task per run");
    let env = &requests[0]["overrides"]["containerOverrides"][0]["environment"];
    assert!(
        env.as_array()
            .is_some_and(|e| e.contains(&json!({"name": "SANITIZER_DRY_RUN", "value": "true"}))),
        "{env}"
    );
    let output = run.output.expect("output");
    assert_eq!(output["input"]["dryRun"], json!(true));
    assert!(output.get("snapshot").is_none(), "{output}");
    assert!(
        output.get("report").is_none(),
        "no report without a snapshot: {output}"
    );
    let task_id = requests_task_id(&output);
    let published = bed.proxy.requests("PutEvents").join("\n");
    assert!(
        published.contains(r#"\"dryRun\":true"#)
            && published.contains(&format!("sanitizer/sanitizer/{task_id}")),
        "{published}"
    );
    // Whatever invokes them, the publishing steps refuse a dry run's state.
    let refused = bed.step("snapshotTemp", output).await.expect_err("refused");
    assert!(format!("{refused:?}").contains("dry run"), "{refused:?}");
    assert_no_secret_leaked(&bed);
    bed.assert_source_untouched().await;
}

/// The task id of the run's sanitizer task (the last part of its ARN).
fn requests_task_id(output: &Value) -> String {
    output["taskArn"]
        .as_str()
        .and_then(|a| a.rsplit('/').next())
        .expect("the run names its task")
        .to_owned()
}

/// With a DR region the copy there is awaited: the run names it only once it is available, and
/// only then are older copies of this source pruned in that region.
#[tokio::test(flavor = "multi_thread")]
async fn given_a_dr_region_when_run_then_the_copy_is_awaited_named_and_older_dr_copies_pruned() {
    let bed = Bed::new(Options {
        dr: true,
        keep: 1,
        ..Options::default()
    })
    .await;
    let rds = aws_sdk_rds::Client::new(&bed.sdk);
    let dr = aws_sdk_rds::Client::from_conf(
        aws_sdk_rds::config::Builder::from(&bed.sdk)
            .region(aws_sdk_rds::config::Region::new("eu-west-1"))
            .build(),
    );
    // An earlier run's DR copy of this source.
    let seed = rds
        .create_db_snapshot()
        .db_snapshot_identifier(format!("{}-dr-seed", bed.source))
        .db_instance_identifier(&bed.source)
        .send()
        .await
        .unwrap()
        .db_snapshot()
        .and_then(|x| x.db_snapshot_arn())
        .unwrap()
        .to_owned();
    let old = format!("{}-sanitized-old-dr", bed.source);
    let tag = |k: &str, v: &str| aws_sdk_rds::types::Tag::builder().key(k).value(v).build();
    dr.copy_db_snapshot()
        .source_db_snapshot_identifier(&seed)
        .target_db_snapshot_identifier(&old)
        .tags(tag("sluice:role", "sanitized"))
        .tags(tag("sluice:source", &bed.source))
        .send()
        .await
        .unwrap();
    // The new copy is still copying the first two times it is described (moto's is done at once).
    bed.proxy.replace_in_answers_containing(
        "DescribeDBSnapshots",
        &format!(
            "arn:aws:rds:eu-west-1:123456789012:snapshot:{}-sanitized-20",
            bed.source
        ),
        "<Status>available</Status>",
        "<Status>copying</Status>",
        2,
    );

    let run = bed.run().await;

    run.assert_succeeded(&bed.logs());
    assert_eq!(run.retries("WaitDrCopy"), 2, "the copy was waited for");
    let output = run.output.expect("output");
    let kept = output["snapshot"]
        .as_str()
        .expect("kept snapshot")
        .to_owned();
    let copy = dr
        .describe_db_snapshots()
        .db_snapshot_identifier(&kept)
        .send()
        .await
        .expect("the DR copy exists")
        .db_snapshots()[0]
        .clone();
    assert_eq!(copy.status(), Some("available"));
    assert_eq!(
        output["drSnapshotArn"].as_str(),
        copy.db_snapshot_arn(),
        "the result names the DR copy"
    );
    assert!(
        dr.describe_db_snapshots()
            .db_snapshot_identifier(&old)
            .send()
            .await
            .is_err(),
        "the older DR copy is pruned once the new one is available"
    );
    let pruned = output["pruned"].to_string();
    assert!(pruned.contains(&old), "{pruned}");
    let published = bed.proxy.requests("PutEvents").join("\n");
    assert!(
        published.contains(&format!(
            "arn:aws:rds:eu-west-1:123456789012:snapshot:{kept}"
        )),
        "the success event names the DR copy: {published}"
    );
}

/// A re-encrypted (so encrypted) kept snapshot is copied to the DR region under the DR region's
/// key (`SnapshotDrKmsKeyArn`): a key of the home region cannot encrypt it there.
#[tokio::test(flavor = "multi_thread")]
async fn given_a_dr_region_and_reencryption_when_run_then_the_dr_copy_is_under_the_dr_key() {
    let bed = Bed::new(Options {
        dr: true,
        reencrypt: true,
        ..Options::default()
    })
    .await;
    let dr_key = bed.dr_kms_key.clone().expect("a DR key was deployed");
    assert!(
        dr_key.starts_with(&format!("arn:aws:kms:{DR_REGION}:")),
        "{dr_key}"
    );

    let run = bed.run().await;

    run.assert_succeeded(&bed.logs());
    let output = run.output.expect("output");
    let kept = output["snapshot"].as_str().expect("kept snapshot");
    assert_eq!(
        bed.snapshot_key(kept).await,
        bed.kms_key,
        "the kept snapshot is under SnapshotKmsKeyArn"
    );
    let dr = aws_sdk_rds::Client::from_conf(
        aws_sdk_rds::config::Builder::from(&bed.sdk)
            .region(aws_sdk_rds::config::Region::new(DR_REGION))
            .build(),
    );
    let copy = dr
        .describe_db_snapshots()
        .db_snapshot_identifier(kept)
        .send()
        .await
        .expect("the DR copy exists")
        .db_snapshots()[0]
        .clone();
    assert_eq!(copy.encrypted(), Some(true), "{copy:?}");
    assert_eq!(
        copy.kms_key_id(),
        Some(dr_key.as_str()),
        "the DR copy is under SnapshotDrKmsKeyArn"
    );
    assert_eq!(output["drSnapshotArn"].as_str(), copy.db_snapshot_arn());
    let dr_key_id = dr_key.rsplit('/').next().unwrap_or_default();
    let copied = bed.proxy.requests("CopyDBSnapshot").join("\n");
    assert!(
        copied.contains(dr_key_id),
        "the DR copy was asked for under the DR key: {copied}"
    );
}

/// An Aurora source (`new`, `SnapshotAuroraClone` on by default) is cloned copy-on-write: no
/// source snapshot, no restore; the rest of the run is the same.
#[tokio::test(flavor = "multi_thread")]
async fn given_aurora_postgresql_cluster_with_reencryption_when_run_then_copy_under_the_key_is_kept()
 {
    let bed = Bed::new(Options {
        src: Src::Cluster,
        engine: "aurora-postgresql",
        reencrypt: true,
        ..Options::default()
    })
    .await;

    let run = bed.run().await;

    run.assert_succeeded(&bed.logs());
    assert_no_original_pii(&dump(&bed));
    let kept = bed.kept().await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].1, vec![ACCOUNT_A.to_owned()]);
    // The pre-copy snapshot, the temp cluster and its instance are all gone.
    assert_eq!(
        bed.leftovers().await,
        vec![format!("cluster snapshot {}", kept[0].0)]
    );
    let calls = bed.proxy.calls();
    for call in [
        "RestoreDBClusterToPointInTime",
        "CreateDBInstance",
        "ModifyDBCluster",
        "CopyDBClusterSnapshot",
    ] {
        assert!(
            calls.iter().any(|c| c == call),
            "{call} not called: {calls:?}"
        );
    }
    assert!(
        !calls.iter().any(|c| c == "RestoreDBClusterFromSnapshot"),
        "a clone, not a restore: {calls:?}"
    );
    assert_eq!(
        calls
            .iter()
            .filter(|c| *c == "CreateDBClusterSnapshot")
            .count(),
        1,
        "only the sanitized clone is snapshotted, never the source: {calls:?}"
    );
    let cloned = bed.proxy.requests("RestoreDBClusterToPointInTime");
    assert!(
        cloned.len() == 1
            && cloned[0].contains("RestoreType=copy-on-write&")
            && cloned[0].contains(&format!("SourceDBClusterIdentifier={}&", bed.source))
            && cloned[0].contains("UseLatestRestorableTime=true"),
        "{cloned:?}"
    );
    bed.assert_source_untouched().await;
    assert_no_secret_leaked(&bed);
    let key = bed.snapshot_key(&kept[0].0).await;
    assert_eq!(key, bed.kms_key, "the kept copy is under SnapshotKmsKeyArn");
}

/// A provisioned Aurora source, without `SnapshotInstanceClass`: the temp cluster's instance
/// takes the class of the source's writer, which after a failover is not the first member.
#[tokio::test(flavor = "multi_thread")]
async fn given_provisioned_aurora_cluster_when_run_then_the_temp_instance_has_the_writers_class() {
    let bed = Bed::new(Options {
        src: Src::Cluster,
        engine: "aurora-postgresql",
        provisioned: true,
        ..Options::default()
    })
    .await;

    let run = bed.run().await;

    run.assert_succeeded(&bed.logs());
    assert_no_original_pii(&dump(&bed));
    let asked = bed.proxy.requests("CreateDBInstance");
    assert!(
        asked.len() == 1
            && asked[0].contains(&format!("DBInstanceClass={PROVISIONED_WRITER_CLASS}&")),
        "{asked:?}"
    );
    let output = run.output.expect("output");
    assert_eq!(output["instanceClass"], json!(PROVISIONED_WRITER_CLASS));
    bed.assert_source_untouched().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn given_mariadb_instance_when_run_then_sanitized_snapshot_is_kept() {
    let bed = Bed::new(Options {
        engine: "mariadb",
        accounts: vec![],
        ..Options::default()
    })
    .await;

    let run = bed.run().await;

    run.assert_succeeded(&bed.logs());
    assert_no_original_pii(&dump(&bed));
    let kept = bed.kept().await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(
        kept[0].1.is_empty(),
        "no accounts configured, nothing shared"
    );
    assert_eq!(
        bed.leftovers().await,
        vec![format!("snapshot {}", kept[0].0)]
    );
    bed.assert_source_untouched().await;
    assert_no_secret_leaked(&bed);
}

#[tokio::test(flavor = "multi_thread")]
async fn given_script_missing_a_column_when_run_then_verification_gate_stops_before_snapshot() {
    let bed = Bed::new(Options {
        script: MISSES_CARD,
        ..Options::default()
    })
    .await;

    let run = bed.run().await;

    bed.assert_failed_cleanly(&run, "VerificationFailed", "exited with code")
        .await;
    assert!(
        !run.path().iter().any(|s| s == "SnapshotTemp"),
        "{:?}",
        run.path()
    );
    let calls = bed.proxy.calls();
    assert!(
        !calls.iter().any(|c| c == "ModifyDBSnapshotAttribute"),
        "{calls:?}"
    );
    assert!(
        dump(&bed).contains(&card(1)),
        "the script never touched cards"
    );
}

/// One failure per step, injected at the AWS call the step makes.
async fn fail_at(action: &str, options: Options, state: &str) {
    let bed = Bed::new(options).await;
    bed.proxy.fail(
        action,
        "InvalidParameterCombination",
        "injected by the test",
        None,
    );

    let run = bed.run().await;

    bed.assert_failed_cleanly(&run, "AwsError", "injected by the test")
        .await;
    let failed_at: Vec<String> = run.path();
    let first_catch = failed_at
        .iter()
        .position(|s| s == "CleanupAfterFailure" || s == "NotifyFailure")
        .expect("a failure path");
    assert_eq!(failed_at[first_catch - 1], state, "{failed_at:?}");
}

/// Refuses every restore of the temp database, as AWS would a bad parameter combination.
fn refuse_restore(bed: &Bed) {
    bed.proxy.fail(
        "RestoreDBInstanceFromDBSnapshot",
        "InvalidParameterCombination",
        "injected by the test",
        None,
    );
}

/// Refuses every deletion of a DB snapshot (cleanup's included).
fn refuse_snapshot_deletes(bed: &Bed) {
    bed.proxy.fail(
        "DeleteDBSnapshot",
        "InvalidDBSnapshotState",
        "deletion refused by the test",
        None,
    );
}

/// A subscriber to the failures the template's notification rule sends for `bed`'s run.
async fn failures_of(bed: &Bed) -> Subscriber {
    Subscriber::subscribe(
        Moto::shared(),
        "SanitizedSnapshotNotifyRule",
        &bed.run_id(),
        false,
    )
    .await
}

/// A failed run reaches the alarm topic's subscriber: the template's notification rule on
/// moto's default bus, an SQS queue standing in for the subscriber, the real run's result event.
#[tokio::test(flavor = "multi_thread")]
async fn given_a_failed_run_then_the_notification_rule_delivers_it_to_the_subscriber() {
    let bed = Bed::new(Options::default()).await;
    let subscriber = failures_of(&bed).await;
    refuse_restore(&bed);

    let run = bed.run().await;

    bed.assert_failed_cleanly(&run, "AwsError", "injected by the test")
        .await;
    let events = subscriber.events(Duration::from_secs(10)).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event["source"], "sluice.sanitized-snapshot");
    assert_eq!(event["detail-type"], "Sanitized Snapshot Failed");
    assert_eq!(event["detail"]["status"], "FAILED");
    assert_eq!(event["detail"]["runId"], bed.run_id());
    assert_eq!(event["detail"]["error"], "AwsError");
    let cause = event["detail"]["cause"].as_str().unwrap_or_default();
    assert!(
        cause.contains("RestoreDBInstanceFromDBSnapshot") && cause.contains("injected by the test"),
        "{cause}"
    );
    // Every field the topic's message is made of is in the event.
    for (name, path) in subscriber.input_paths.as_object().expect("InputPathsMap") {
        assert!(
            !at_path(event, path.as_str().unwrap_or_default()).is_null(),
            "{name} ({path}) is not in {event}"
        );
    }
    assert_no_secret_leaked(&bed);
    assert!(!event.to_string().contains("prod-password-1"));
}

/// A succeeded run is not sent unless NotifyOnSuccess is true; with it, it is.
#[tokio::test(flavor = "multi_thread")]
async fn given_a_succeeded_run_then_it_is_notified_only_with_notify_on_success() {
    let bed = Bed::new(Options::default()).await;
    let rule = "SanitizedSnapshotNotifyRule";
    let quiet = Subscriber::subscribe(Moto::shared(), rule, &bed.run_id(), false).await;
    let told = Subscriber::subscribe(Moto::shared(), rule, &bed.run_id(), true).await;

    let run = bed.run().await;

    run.assert_succeeded(&bed.logs());
    let events = told.events(Duration::from_secs(10)).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["detail-type"], "Sanitized Snapshot Succeeded");
    assert_eq!(events[0]["detail"]["status"], "SUCCEEDED");
    assert!(quiet.events(Duration::from_secs(1)).await.is_empty());
    assert!(
        !template_pattern(rule, false)["detail-type"]
            .to_string()
            .contains("Succeeded")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn given_source_snapshot_fails_then_run_fails_cleanly() {
    fail_at("CreateDBSnapshot", Options::default(), "SnapshotSource").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn given_restore_fails_then_run_fails_cleanly() {
    fail_at(
        "RestoreDBInstanceFromDBSnapshot",
        Options::default(),
        "Restore",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn given_managed_password_fails_then_run_fails_cleanly() {
    fail_at("ModifyDBInstance", Options::default(), "WaitRestored").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn given_temp_snapshot_fails_then_run_fails_cleanly() {
    let options = Options {
        snapshot: "latest",
        ..Options::default()
    };
    fail_at("CreateDBSnapshot", options, "SnapshotTemp").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn given_reencrypting_copy_fails_then_run_fails_cleanly() {
    let options = Options {
        reencrypt: true,
        ..Options::default()
    };
    fail_at("CopyDBSnapshot", options, "CopyEncrypted").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn given_share_fails_then_run_fails_cleanly() {
    fail_at("ModifyDBSnapshotAttribute", Options::default(), "Share").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn given_dr_copy_fails_then_run_fails_cleanly_and_unshares() {
    let options = Options {
        dr: true,
        ..Options::default()
    };
    fail_at("CopyDBSnapshot", options, "CopyToDr").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn given_temp_instance_becomes_incompatible_network_then_fails_at_once() {
    let bed = Bed::new(Options::default()).await;
    bed.proxy.replace_in_response(
        "DescribeDBInstances",
        "<DBInstanceStatus>available</DBInstanceStatus>",
        "<DBInstanceStatus>incompatible-network</DBInstanceStatus>",
    );

    let run = bed.run().await;

    bed.assert_failed_cleanly(&run, "ResourceFailed", "incompatible-network")
        .await;
    assert_eq!(
        run.retries("WaitRestored"),
        0,
        "a terminal status is not waited on"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn given_sanitizer_task_cannot_start_then_run_fails_cleanly() {
    let bed = Bed::new(Options {
        task_fails_to_start: true,
        ..Options::default()
    })
    .await;

    let run = bed.run().await;

    bed.assert_failed_cleanly(&run, "ResourceFailed", "no capacity")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn given_too_many_accounts_then_validation_fails_before_anything_exists() {
    let bed = Bed::new(Options {
        accounts: vec!["12345"],
        ..Options::default()
    })
    .await;

    let run = bed.run().await;

    bed.assert_failed_cleanly(&run, "ConfigError", "12-digit")
        .await;
    assert!(!run.path().iter().any(|s| s == "SnapshotSource"));
    assert!(bed.ecs.run_task_requests().is_empty());
}

/// A cluster whose kept snapshots' names would be cut to fit RDS's 63 characters: the role may
/// touch kept snapshots by their `<source>-sanitized-` names only, so validate refuses it.
#[tokio::test(flavor = "multi_thread")]
async fn given_cluster_id_too_long_for_the_kept_names_then_validation_fails_before_anything_exists()
{
    let bed = Bed::new(Options {
        src: Src::Cluster,
        engine: "aurora-postgresql",
        source_prefix: "production-orders-database-euwest",
        ..Options::default()
    })
    .await;
    assert!(bed.source.len() > 37, "{}", bed.source);

    let run = bed.run().await;

    bed.assert_failed_cleanly(&run, "ConfigError", "too long")
        .await;
    assert!(!run.path().iter().any(|s| s == "SnapshotSource"));
}

/// A script that masks nothing and verifies nothing.
const NO_OP_SCRIPT: &str = "SELECT 1;\n-- @verify\nSELECT 1 WHERE 1 = 0;\n";

#[tokio::test(flavor = "multi_thread")]
async fn given_script_changed_after_deploy_then_run_fails_at_validate_before_anything_exists() {
    // Given a stack deployed with the reviewed script's digest, and someone who can write the
    // bucket replacing the script with one that masks and verifies nothing.
    let bed = Bed::new(Options::default()).await;
    bed.replace_script(NO_OP_SCRIPT).await;

    let run = bed.run().await;

    let pinned = Sha256Pin::of(FULL_SCRIPT.as_bytes()).to_string();
    let found = Sha256Pin::of(NO_OP_SCRIPT.as_bytes()).to_string();
    bed.assert_failed_cleanly(&run, "ConfigError", "is not the pinned one")
        .await;
    let cause = run.cause.clone().unwrap_or_default();
    assert!(
        cause.contains(&pinned) && cause.contains(&found) && cause.contains(SCRIPT_KEY),
        "the cause names the object and both digests: {cause}"
    );
    assert!(
        !cause.contains("SELECT") && !cause.contains("@verify"),
        "the cause shows no script: {cause}"
    );
    let path = run.path();
    let validate = path
        .iter()
        .position(|s| s == "Validate")
        .unwrap_or_else(|| panic!("{path:?}"));
    assert_eq!(path[validate + 1], "NotifyFailure", "{path:?}");
    assert!(bed.ecs.run_task_requests().is_empty(), "no task started");
    let calls = bed.proxy.calls();
    assert!(
        !calls
            .iter()
            .any(|c| c.starts_with("Create") || c.starts_with("Restore") || c == "RunTask"),
        "nothing created: {calls:?}"
    );
    assert!(dump(&bed).contains(&email(1)) && dump(&bed).contains(&card(1)));
}

#[tokio::test(flavor = "multi_thread")]
async fn given_script_changed_after_validate_then_the_task_refuses_it_and_nothing_is_snapshotted() {
    // Given the reviewed script at validate, replaced just before the task reads it.
    let bed = Bed::new(Options {
        script_replaced_before_task: Some(NO_OP_SCRIPT),
        ..Options::default()
    })
    .await;

    let run = bed.run().await;

    bed.assert_failed_cleanly(&run, "VerificationFailed", "exited with code")
        .await;
    assert!(
        !run.path().iter().any(|s| s == "SnapshotTemp"),
        "{:?}",
        run.path()
    );
    let tasks = bed.ecs.tasks();
    assert_eq!(tasks.len(), 1);
    let summary = &tasks[0].stdout;
    assert!(
        summary.contains("is not the pinned one")
            && summary.contains(&Sha256Pin::of(NO_OP_SCRIPT.as_bytes()).to_string()),
        "{summary}"
    );
    assert!(
        dump(&bed).contains(&email(1)) && dump(&bed).contains(&card(1)),
        "the replaced script never ran"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn given_old_sanitized_snapshots_when_run_then_only_the_newest_are_kept() {
    let bed = Bed::new(Options {
        keep: 2,
        ..Options::default()
    })
    .await;
    let rds = aws_sdk_rds::Client::new(&bed.sdk);
    // Three earlier sanitized snapshots of this source, one of another source and one untagged.
    let mut made = Vec::new();
    for (i, source) in [
        &bed.source,
        &bed.source,
        &bed.source,
        &"other-db".to_owned(),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("{}-sanitized-old-{i}", bed.source);
        rds.create_db_snapshot()
            .db_snapshot_identifier(&id)
            .db_instance_identifier(&bed.source)
            .tags(
                aws_sdk_rds::types::Tag::builder()
                    .key("sluice:role")
                    .value("sanitized")
                    .build(),
            )
            .tags(
                aws_sdk_rds::types::Tag::builder()
                    .key("sluice:source")
                    .value(source)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        made.push(id);
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    let untagged = format!("{}-manual", bed.source);
    rds.create_db_snapshot()
        .db_snapshot_identifier(&untagged)
        .db_instance_identifier(&bed.source)
        .send()
        .await
        .unwrap();

    let run = bed.run().await;

    assert!(run.succeeded(), "{:?} {:?}", run.error, run.cause);
    let exists = |id: String| {
        let rds = rds.clone();
        async move {
            rds.describe_db_snapshots()
                .db_snapshot_identifier(id)
                .send()
                .await
                .is_ok()
        }
    };
    // keep 2 = the new one + the newest old one.
    assert!(!exists(made[0].clone()).await);
    assert!(!exists(made[1].clone()).await);
    assert!(exists(made[2].clone()).await);
    assert!(
        exists(made[3].clone()).await,
        "another source's snapshot was pruned"
    );
    assert!(exists(untagged).await, "an untagged snapshot was pruned");
    let output = run.output.expect("output");
    let mut pruned: Vec<&str> = output["pruned"]
        .as_array()
        .expect("pruned list")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    pruned.sort_unstable();
    assert_eq!(pruned, vec![made[0].as_str(), made[1].as_str()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn given_steps_invoked_twice_then_nothing_is_created_twice() {
    let bed = Bed::new(Options::default()).await;
    let state = bed
        .steps_until(&[
            "guard",
            "validate",
            "snapshotSource",
            "snapshotSource",
            "waitSourceSnapshot",
            "restore",
            "restore",
        ])
        .await;
    let mut ready = None;
    for _ in 0..5 {
        match bed.step("waitRestored", state.clone()).await {
            Ok(s) => {
                ready = Some(s);
                break;
            }
            Err(e) => assert!(format!("{e:?}").contains("NotReady"), "{e:?}"),
        }
    }
    let state = ready.expect("temp instance ready within 5 polls");
    let calls = bed.proxy.calls();
    let count = |action: &str| calls.iter().filter(|c| *c == action).count();
    assert_eq!(count("RestoreDBInstanceFromDBSnapshot"), 1, "{calls:?}");
    assert_eq!(count("ModifyDBInstance"), 1, "{calls:?}");
    let left = bed.leftovers().await;
    assert_eq!(
        left.iter().filter(|l| l.starts_with("snapshot")).count(),
        1,
        "{left:?}"
    );
    assert_eq!(
        left.iter().filter(|l| l.starts_with("instance")).count(),
        1,
        "{left:?}"
    );
    assert!(
        state["secretArn"]
            .as_str()
            .is_some_and(|a| a.contains("rds!")),
        "{state}"
    );

    let mut cleaned = false;
    for _ in 0..5 {
        if bed.step("cleanup", state.clone()).await.is_ok() {
            cleaned = true;
            break;
        }
    }
    assert!(cleaned, "cleanup did not finish in 5 rounds");
    assert_eq!(bed.leftovers().await, Vec::<String>::new());
    bed.assert_source_untouched().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn given_another_execution_running_for_the_source_then_run_stops_before_creating_anything() {
    let bed = Bed::new(Options::default()).await;
    aws_sdk_sfn::Client::new(&bed.sdk)
        .start_execution()
        .state_machine_arn(&bed.machine_arn)
        .name(format!("earlier-{}", bed.tag))
        .input(bed.input().to_string())
        .send()
        .await
        .unwrap();

    let run = bed.run().await;

    bed.assert_failed_cleanly(&run, "InvalidInput", "already running")
        .await;
    assert!(
        !run.path().iter().any(|s| s == "Validate"),
        "{:?}",
        run.path()
    );
    assert!(bed.ecs.run_task_requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn given_a_snapshot_arn_as_input_then_it_is_restored_and_left_alone() {
    let bed = Bed::new(Options::default()).await;
    let rds = aws_sdk_rds::Client::new(&bed.sdk);
    let given = format!("{}-backup", bed.source);
    let arn = rds
        .create_db_snapshot()
        .db_snapshot_identifier(&given)
        .db_instance_identifier(&bed.source)
        .send()
        .await
        .unwrap()
        .db_snapshot()
        .and_then(|s| s.db_snapshot_arn())
        .unwrap()
        .to_owned();
    let mut input = bed.input();
    input["snapshot"] = json!(arn);

    let run = bed.run_with(input).await;

    assert!(run.succeeded(), "{:?} {:?}", run.error, run.cause);
    let calls = bed.proxy.calls();
    assert_eq!(
        calls.iter().filter(|c| *c == "CreateDBSnapshot").count(),
        1,
        "only the sanitized snapshot is created: {calls:?}"
    );
    rds.describe_db_snapshots()
        .db_snapshot_identifier(&given)
        .send()
        .await
        .expect("the given snapshot is not deleted");
}

/// An AWS Backup recovery point of the source given by its ARN in AWS's own id form
/// (`snapshot:awsbackup:job-<uuid>`, what backup actions passes on): restored, and left alone.
/// moto refuses the colon, so the test bed stores it as `awsbackup-job-…` and the function
/// only ever sees (and the gate judges) the real name.
#[tokio::test(flavor = "multi_thread")]
async fn given_an_aws_backup_recovery_point_in_its_real_id_form_then_it_is_restored_and_left_alone()
{
    let bed = Bed::new(Options::default()).await;
    bed.proxy.moto_name("awsbackup:job-", "awsbackup-job-");
    let job = format!("{:08x}-7d2b-4c1e-9a3b-5e1f0c2d3b4a", std::process::id());
    let rds = aws_sdk_rds::Client::new(&bed.sdk);
    rds.create_db_snapshot()
        .db_snapshot_identifier(format!("awsbackup-job-{job}"))
        .db_instance_identifier(&bed.source)
        .send()
        .await
        .unwrap();
    let real = format!("awsbackup:job-{job}");
    let mut input = bed.input();
    input["snapshot"] = json!(format!(
        "arn:aws:rds:us-east-1:123456789012:snapshot:{real}"
    ));

    let run = bed.run_with(input).await;

    run.assert_succeeded(&bed.logs());
    assert_no_original_pii(&dump(&bed));
    let restored = bed.proxy.requests("RestoreDBInstanceFromDBSnapshot");
    assert!(
        restored.len() == 1 && restored[0].contains(&format!("DBSnapshotIdentifier={real}&")),
        "restored by its real id: {restored:?}"
    );
    let calls = bed.proxy.calls();
    assert_eq!(
        calls.iter().filter(|c| *c == "CreateDBSnapshot").count(),
        1,
        "only the sanitized snapshot is created: {calls:?}"
    );
    rds.describe_db_snapshots()
        .db_snapshot_identifier(format!("awsbackup-job-{job}"))
        .send()
        .await
        .expect("the recovery point is not deleted");
    assert_no_secret_leaked(&bed);
}

#[tokio::test(flavor = "multi_thread")]
async fn given_source_snapshot_fails_while_being_made_then_run_fails_at_once() {
    let bed = Bed::new(Options::default()).await;
    bed.proxy.replace_in_response(
        "DescribeDBSnapshots",
        "<Status>available</Status>",
        "<Status>failed</Status>",
    );

    let run = bed.run().await;

    bed.assert_failed_cleanly(&run, "ResourceFailed", "can never become available")
        .await;
    assert!(
        !run.path().iter().any(|s| s == "Restore"),
        "{:?}",
        run.path()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn given_prune_fails_then_run_fails_cleanly() {
    let bed = Bed::new(Options {
        keep: 1,
        ..Options::default()
    })
    .await;
    // An earlier sanitized snapshot that pruning must delete; its deletion is refused 3 times
    // (the step and its two AwsError retries), after which cleanup's deletions go through.
    aws_sdk_rds::Client::new(&bed.sdk)
        .create_db_snapshot()
        .db_snapshot_identifier(format!("{}-sanitized-old", bed.source))
        .db_instance_identifier(&bed.source)
        .tags(
            aws_sdk_rds::types::Tag::builder()
                .key("sluice:role")
                .value("sanitized")
                .build(),
        )
        .tags(
            aws_sdk_rds::types::Tag::builder()
                .key("sluice:source")
                .value(&bed.source)
                .build(),
        )
        .send()
        .await
        .unwrap();
    bed.proxy.fail(
        "DeleteDBSnapshot",
        "InvalidDBSnapshotState",
        "injected by the test",
        Some(3),
    );

    let run = bed.run().await;

    bed.assert_failed_cleanly(&run, "AwsError", "injected by the test")
        .await;
    assert!(run.path().iter().any(|s| s == "Prune"), "{:?}", run.path());
}

#[tokio::test(flavor = "multi_thread")]
async fn given_more_sanitized_snapshots_than_a_page_then_pruning_reaches_every_page() {
    let bed = Bed::new(Options {
        keep: 1,
        ..Options::default()
    })
    .await;
    let rds = aws_sdk_rds::Client::new(&bed.sdk);
    // moto answers DescribeDBSnapshots in one piece; the proxy cuts it into pages of 50, so the
    // 120 earlier sanitized snapshots (and the new one) span three pages.
    bed.proxy.paginate("DescribeDBSnapshots", "DBSnapshot", 50);
    for i in 0..120 {
        rds.create_db_snapshot()
            .db_snapshot_identifier(format!("{}-sanitized-old-{i:03}", bed.source))
            .db_instance_identifier(&bed.source)
            .tags(
                aws_sdk_rds::types::Tag::builder()
                    .key("sluice:role")
                    .value("sanitized")
                    .build(),
            )
            .tags(
                aws_sdk_rds::types::Tag::builder()
                    .key("sluice:source")
                    .value(&bed.source)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }

    let run = bed.run().await;

    assert!(run.succeeded(), "{:?} {:?}", run.error, run.cause);
    let output = run.output.expect("output");
    assert_eq!(output["pruned"].as_array().map(Vec::len), Some(120));
    let mut left = 0;
    let mut pages = rds.describe_db_snapshots().into_paginator().send();
    while let Some(page) = pages.next().await {
        left += page
            .unwrap()
            .db_snapshots()
            .iter()
            .filter(|s| {
                s.db_snapshot_identifier()
                    .is_some_and(|id| id.starts_with(&format!("{}-sanitized-old-", bed.source)))
            })
            .count();
    }
    assert_eq!(left, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn given_temp_snapshot_cannot_be_read_then_run_fails_cleanly() {
    let bed = Bed::new(Options {
        reencrypt: true,
        ..Options::default()
    })
    .await;
    // With re-encryption the temp snapshot is named like the temp database.
    let temp = format!("DBSnapshotIdentifier=sluice-tmp-{}", bed.run_id());
    bed.proxy.fail_when(
        "DescribeDBSnapshots",
        &temp,
        "InternalFailure",
        "injected by the test",
    );

    let run = bed.run().await;

    bed.assert_failed_cleanly(&run, "AwsError", "injected by the test")
        .await;
    let path = run.path();
    let at = path
        .iter()
        .position(|s| s == "CleanupAfterFailure")
        .unwrap();
    assert_eq!(path[at - 1], "WaitTempSnapshot", "{path:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn given_kept_snapshot_cannot_be_read_then_run_fails_cleanly() {
    let bed = Bed::new(Options {
        reencrypt: true,
        ..Options::default()
    })
    .await;
    let kept = format!("DBSnapshotIdentifier={}-sanitized-", bed.source);
    bed.proxy.fail_when(
        "DescribeDBSnapshots",
        &kept,
        "InternalFailure",
        "injected by the test",
    );

    let run = bed.run().await;

    bed.assert_failed_cleanly(&run, "AwsError", "injected by the test")
        .await;
    let path = run.path();
    let at = path
        .iter()
        .position(|s| s == "CleanupAfterFailure")
        .unwrap();
    assert_eq!(path[at - 1], "WaitSnapshot", "{path:?}");
}

/// The steps up to the temp database's restore (started, not yet awaited).
const RESTORED: [&str; 5] = [
    "guard",
    "validate",
    "snapshotSource",
    "waitSourceSnapshot",
    "restore",
];

/// A run refused by `validate`: FAILED with a `ConfigError` naming `cause`, before the source
/// was snapshotted or any task started, and nothing left.
async fn refused_at_validate(options: Options, cause: &str) -> (Bed, String) {
    let bed = Bed::new(options).await;

    let run = bed.run().await;

    bed.assert_failed_cleanly(&run, "ConfigError", cause).await;
    assert!(
        !run.path().iter().any(|s| s == "SnapshotSource"),
        "{:?}",
        run.path()
    );
    assert!(bed.ecs.run_task_requests().is_empty());
    (bed, run.cause.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread")]
async fn given_a_source_other_than_the_configured_one_then_validation_refuses_it() {
    refused_at_validate(
        Options {
            configured_source: Some("orders"),
            ..Options::default()
        },
        "is not this stack's source",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn given_source_under_a_customer_key_and_no_source_key_declared_then_validation_names_the_parameter()
 {
    let (bed, cause) = refused_at_validate(
        Options {
            source_key: Some(SourceKey::Customer),
            accounts: vec![],
            ..Options::default()
        },
        "set SnapshotSourceKmsKeyArn to it",
    )
    .await;
    let key = bed.source_kms_key.clone().unwrap();
    assert!(cause.contains(&key), "the cause names the key: {cause}");
}

#[tokio::test(flavor = "multi_thread")]
async fn given_source_key_declared_as_another_key_then_validation_refuses_it() {
    refused_at_validate(
        Options {
            source_key: Some(SourceKey::Customer),
            accounts: vec![],
            declared_source_key: DeclaredSourceKey::AnotherKey,
            ..Options::default()
        },
        "set it to the source's key",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn given_source_under_its_declared_customer_key_when_run_then_the_copy_is_under_the_share_key()
 {
    let bed = Bed::new(Options {
        reencrypt: true,
        source_key: Some(SourceKey::Customer),
        declared_source_key: DeclaredSourceKey::TheSourceKey,
        ..Options::default()
    })
    .await;

    let run = bed.run().await;

    run.assert_succeeded(&bed.logs());
    let kept = bed.kept().await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].1, vec![ACCOUNT_A.to_owned()]);
    let key = bed.snapshot_key(&kept[0].0).await;
    assert_eq!(
        key, bed.kms_key,
        "the shared copy is under SnapshotKmsKeyArn"
    );
    assert_ne!(key, bed.source_kms_key);
    assert!(bed.proxy.calls().iter().any(|c| c == "DescribeKey"));
}

#[tokio::test(flavor = "multi_thread")]
async fn given_aws_rds_key_by_arn_as_the_share_key_then_validation_refuses_it() {
    refused_at_validate(
        Options {
            reencrypt: true,
            reencrypt_under_aws_rds: true,
            ..Options::default()
        },
        "is an AWS managed key",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn given_unencrypted_aurora_source_and_a_copy_key_then_validation_refuses_what_aws_would() {
    refused_at_validate(
        Options {
            src: Src::Cluster,
            engine: "aurora-postgresql",
            reencrypt: true,
            source_key: Some(SourceKey::Unencrypted),
            ..Options::default()
        },
        "Aurora cannot copy an unencrypted cluster snapshot",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn given_dr_copy_of_an_encrypted_kept_snapshot_without_a_dr_key_then_validation_refuses_it() {
    // The source is not encrypted, but the kept snapshot is (copied under the share key).
    refused_at_validate(
        Options {
            reencrypt: true,
            source_key: Some(SourceKey::Unencrypted),
            dr: true,
            dr_key: false,
            ..Options::default()
        },
        "DR_KMS_KEY_ARN",
    )
    .await;
}

/// Cleanup after a failure that cannot delete what the run made: the Catch still publishes the
/// failure, with the original error and what cleanup could not do, and the run ends FAILED.
#[tokio::test(flavor = "multi_thread")]
async fn given_cleanup_after_a_failure_cannot_delete_then_the_failure_is_still_notified_with_why() {
    let bed = Bed::new(Options::default()).await;
    let subscriber = failures_of(&bed).await;
    refuse_restore(&bed);
    refuse_snapshot_deletes(&bed);

    let run = bed.run().await;

    assert_eq!(run.status, "FAILED");
    assert_eq!(run.error.as_deref(), Some("AwsError"), "{:?}", run.cause);
    let path = run.path();
    assert!(
        path.ends_with(&[
            "CleanupAfterFailure".to_owned(),
            "NotifyFailure".to_owned(),
            "Failed".to_owned()
        ]),
        "{path:?}"
    );
    assert_eq!(run.retries("CleanupAfterFailure"), 5, "{path:?}");
    let events = subscriber.events(Duration::from_secs(10)).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let detail = &events[0]["detail"];
    assert_eq!(detail["status"], "FAILED");
    let cause = detail["cause"].as_str().unwrap_or_default();
    assert!(cause.contains("RestoreDBInstanceFromDBSnapshot"), "{cause}");
    let cleanup = detail["cleanupError"].as_str().unwrap_or_default();
    assert!(
        cleanup.contains("DeleteDBSnapshot") && cleanup.contains("deletion refused by the test"),
        "{detail}"
    );
    // What cleanup could not delete is still there, named by the run's tag.
    assert!(
        bed.leftovers()
            .await
            .iter()
            .any(|l| l.starts_with("snapshot sluice-tmp-")),
        "{:?}",
        bed.leftovers().await
    );
    bed.assert_source_untouched().await;
}

/// Cleanup after a successful run that cannot delete the temp snapshot: the run is reported
/// FAILED (an operator must look), with the cleanup's error.
#[tokio::test(flavor = "multi_thread")]
async fn given_cleanup_after_success_cannot_delete_then_the_run_fails_and_says_why() {
    let bed = Bed::new(Options::default()).await;
    refuse_snapshot_deletes(&bed);

    let run = bed.run().await;

    assert_eq!(run.status, "FAILED");
    assert_eq!(run.error.as_deref(), Some("AwsError"), "{:?}", run.cause);
    let cause = run.cause.clone().unwrap_or_default();
    assert!(
        cause.contains("DeleteDBSnapshot") && cause.contains("deletion refused by the test"),
        "{cause}"
    );
    let path = run.path();
    let cleanup = path.iter().position(|s| s == "Cleanup").expect("Cleanup");
    assert_eq!(path[cleanup + 1..], ["NotifyFailure", "Failed"], "{path:?}");
    assert!(bed.proxy.calls().iter().any(|c| c == "PutEvents"));
}

/// The failure event cannot be published: NotifyFailure's Catch still ends the run FAILED with
/// the original error, after cleanup removed everything.
#[tokio::test(flavor = "multi_thread")]
async fn given_the_failure_event_cannot_be_published_then_the_run_still_ends_failed_and_clean() {
    let bed = Bed::new(Options::default()).await;
    refuse_restore(&bed);
    bed.proxy
        .fail("PutEvents", "InternalException", "bus refused", None);

    let run = bed.run().await;

    assert_eq!(run.status, "FAILED");
    assert_eq!(run.error.as_deref(), Some("AwsError"), "{:?}", run.cause);
    let path = run.path();
    assert!(
        path.ends_with(&["NotifyFailure".to_owned(), "Failed".to_owned()]),
        "{path:?}"
    );
    assert_eq!(run.retries("NotifyFailure"), 3, "{path:?}");
    assert_eq!(bed.leftovers().await, Vec::<String>::new());
    bed.assert_source_untouched().await;
}

/// A wait that outlasts its limit gives up naming the setting (the state machine then cleans
/// up); until then it keeps polling. The limit counts from the action the wait waits on.
#[tokio::test(flavor = "multi_thread")]
async fn given_restore_slower_than_its_limit_then_the_wait_gives_up_naming_the_setting() {
    let bed = Bed::new(Options::default()).await;
    let mut state = bed.steps_until(&RESTORED).await;
    let began = state["phaseStarted"]
        .as_i64()
        .expect("restore records when it began");
    // The temp instance never becomes available.
    bed.proxy.replace_in_response(
        "DescribeDBInstances",
        "<DBInstanceStatus>available</DBInstanceStatus>",
        "<DBInstanceStatus>creating</DBInstanceStatus>",
    );

    let polling = bed.step("waitRestored", state.clone()).await;
    state["phaseStarted"] = json!(began - 1441 * 60);
    let late = bed.step("waitRestored", state).await;

    let polling = format!("{:?}", polling.expect_err("still creating"));
    assert!(polling.contains("NotReady"), "{polling}");
    let late = format!("{:?}", late.expect_err("past the limit"));
    assert!(
        late.contains("ResourceFailed")
            && late.contains("RESTORE_WAIT_MINUTES=1440")
            && late.contains("creating"),
        "{late}"
    );
}

/// `latest` restores the newest available snapshot of the source.
async fn latest_restores_the_newest(src: Src, engine: &'static str) {
    let bed = Bed::new(Options {
        src,
        engine,
        snapshot: "latest",
        ..Options::default()
    })
    .await;
    let rds = aws_sdk_rds::Client::new(&bed.sdk);
    let (older, newer) = (
        format!("{}-manual-older", bed.source),
        format!("{}-manual-newer", bed.source),
    );
    for id in [&older, &newer] {
        match src {
            Src::Instance => {
                rds.create_db_snapshot()
                    .db_snapshot_identifier(id)
                    .db_instance_identifier(&bed.source)
                    .send()
                    .await
                    .unwrap();
            }
            Src::Cluster => {
                rds.create_db_cluster_snapshot()
                    .db_cluster_snapshot_identifier(id)
                    .db_cluster_identifier(&bed.source)
                    .send()
                    .await
                    .unwrap();
            }
        }
        // Creation times a second apart.
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }

    let run = bed.run().await;

    run.assert_succeeded(&bed.logs());
    let output = run.output.clone().expect("output");
    assert_eq!(output["restoreFrom"], json!(newer), "{output}");
    // The source's own snapshots are left alone.
    let left = bed.leftovers().await;
    assert!(left.iter().all(|l| !l.contains("manual-")), "{left:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn given_latest_of_an_instance_then_the_newest_snapshot_is_restored() {
    latest_restores_the_newest(Src::Instance, "postgres").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn given_latest_of_a_cluster_then_the_newest_snapshot_is_restored() {
    latest_restores_the_newest(Src::Cluster, "aurora-postgresql").await;
}

/// RDS lists AWS Backup's snapshots only when asked for by type, for clusters too: `latest`
/// asks (moto cannot make such a snapshot, so the listing is what is checked).
#[tokio::test(flavor = "multi_thread")]
async fn given_latest_of_a_cluster_then_aws_backup_snapshots_are_asked_for_too() {
    let bed = Bed::new(Options {
        src: Src::Cluster,
        engine: "aurora-postgresql",
        snapshot: "latest",
        ..Options::default()
    })
    .await;
    bed.proxy.fail_when(
        "DescribeDBClusterSnapshots",
        "SnapshotType=awsbackup",
        "InternalFailure",
        "the AWS Backup listing was asked for",
    );

    let run = bed.run().await;

    bed.assert_failed_cleanly(&run, "AwsError", "the AWS Backup listing was asked for")
        .await;
}

/// The temp database is restored private, into the isolated subnet group and security groups
/// the stack is given, for an instance and for a cluster (and its instance), restored from a
/// snapshot or cloned.
#[tokio::test(flavor = "multi_thread")]
async fn given_a_restore_then_the_temp_database_is_private_in_the_isolated_network() {
    for (src, engine, aurora_clone) in [
        (Src::Instance, "postgres", false),
        (Src::Cluster, "aurora-postgresql", false),
        (Src::Cluster, "aurora-postgresql", true),
    ] {
        let bed = Bed::new(Options {
            src,
            engine,
            aurora_clone,
            ..Options::default()
        })
        .await;
        let state = bed.steps_until(&RESTORED).await;
        // A cluster gets its instance while it is awaited.
        for _ in 0..5 {
            match bed.step("waitRestored", state.clone()).await {
                Ok(_) => break,
                Err(e) => assert!(format!("{e:?}").contains("NotReady"), "{e:?}"),
            }
        }
        let temp = state["tempId"].as_str().expect("tempId").to_owned();
        let rds = aws_sdk_rds::Client::new(&bed.sdk);
        let subnet_group = format!("iso-{}", bed.tag);
        let instances = rds.describe_db_instances().send().await.unwrap();
        let instance = instances
            .db_instances()
            .iter()
            .find(|i| {
                i.db_instance_identifier() == Some(temp.as_str())
                    || i.db_cluster_identifier() == Some(temp.as_str())
            })
            .unwrap_or_else(|| panic!("no temp instance for {temp}"));
        // What was asked for (moto does not report public accessibility back).
        let (restore, member) = match src {
            Src::Instance => (
                "RestoreDBInstanceFromDBSnapshot",
                "RestoreDBInstanceFromDBSnapshot",
            ),
            Src::Cluster if aurora_clone => ("RestoreDBClusterToPointInTime", "CreateDBInstance"),
            Src::Cluster => ("RestoreDBClusterFromSnapshot", "CreateDBInstance"),
        };
        let asked = bed.proxy.requests(restore);
        assert_eq!(asked.len(), 1, "{asked:?}");
        for want in [
            format!("DBSubnetGroupName={subnet_group}&"),
            format!(
                "VpcSecurityGroupIds.VpcSecurityGroupId.1={}&",
                bed.security_group
            ),
        ] {
            assert!(
                asked[0].contains(&want),
                "{restore} lacks {want}: {}",
                asked[0]
            );
        }
        let asked = bed.proxy.requests(member);
        assert!(
            asked.len() == 1 && asked[0].contains("PubliclyAccessible=false&"),
            "{member}: {asked:?}"
        );
        assert_ne!(instance.publicly_accessible(), Some(true), "{src:?}");
        let (group, security_groups): (Option<String>, Vec<String>) = match src {
            Src::Instance => (
                instance
                    .db_subnet_group()
                    .and_then(|g| g.db_subnet_group_name().map(str::to_owned)),
                instance
                    .vpc_security_groups()
                    .iter()
                    .filter_map(|g| g.vpc_security_group_id().map(str::to_owned))
                    .collect(),
            ),
            Src::Cluster => {
                let clusters = rds
                    .describe_db_clusters()
                    .db_cluster_identifier(&temp)
                    .send()
                    .await
                    .unwrap();
                let cluster = &clusters.db_clusters()[0];
                (
                    cluster.db_subnet_group().map(str::to_owned),
                    cluster
                        .vpc_security_groups()
                        .iter()
                        .filter_map(|g| g.vpc_security_group_id().map(str::to_owned))
                        .collect(),
                )
            }
        };
        assert_eq!(group.as_deref(), Some(subnet_group.as_str()), "{src:?}");
        assert_eq!(security_groups, vec![bed.security_group.clone()], "{src:?}");
    }
}

/// The history scan every run gets (`Stage::run_with`) can fail: a history that carries a row
/// value or the password is caught, named without quoting it.
#[test]
fn given_a_history_holding_a_row_value_or_the_password_then_the_scan_names_it() {
    let clean = json!([{"type": "TaskStateExited", "output": {"snapshot": "prod-sanitized-1"}}]);
    assert!(leaks_in(&clean.to_string()).is_empty());
    let leaked = json!([
        {"type": "TaskFailed", "cause": format!("duplicate key {}", email(3))},
        {"type": "TaskStateEntered", "input": {"password": sluice_testbed::sanitized::SOURCE_PASSWORD}},
        {"type": "TaskStateExited", "output": {"row": card(7)}},
    ]);
    let found = leaks_in(&leaked.to_string());
    assert_eq!(
        found,
        vec![
            "the source's master password".to_owned(),
            "customer 3's original e-mail".to_owned(),
            "customer 7's original card number".to_owned(),
        ]
    );
    assert!(!format!("{found:?}").contains(&email(3)));
}
