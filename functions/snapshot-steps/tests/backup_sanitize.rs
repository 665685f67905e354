//! Backup actions that sanitize, end to end, with per-database settings
//! (`SnapshotSourceMappings`): a recovery point in AWS Backup's real id form restored by a real
//! sanitized-snapshot run (the real ASL, the real steps, the sanitizer task against the local
//! PostgreSQL), started by the real backup-actions run; and a recovery point whose database
//! has no settings, which is neither sanitized nor deleted.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, LazyLock};

use serde_json::{Value, json};
use sluice_runtime::pin::Sha256Pin;
use sluice_testbed::backup_actions::{Options, Stage as Bed};
use sluice_testbed::moto::Moto;
use sluice_testbed::sanitized::{self, Mapped, assert_no_original_pii, dump};

/// The mapped source's own script: the stack's ([`sanitized::FULL_SCRIPT`]) writing another
/// domain, so what ran is told by the rows.
fn mapped_script() -> &'static str {
    static SCRIPT: LazyLock<String> =
        LazyLock::new(|| sanitized::FULL_SCRIPT.replace("example.invalid", "mapped.invalid"));
    SCRIPT.as_str()
}

#[tokio::test(flavor = "multi_thread")]
async fn given_a_recovery_point_of_a_mapped_database_then_a_real_sanitized_run_restores_it_with_the_mapped_settings()
 {
    // The stack's own source is another database; the backed-up one has a mapping entry with
    // its own script, prefix and key.
    let sanitized = Arc::new(
        sanitized::Stage::new(sanitized::Options {
            configured_source: Some("other"),
            mapping: Some(Mapped {
                script: mapped_script(),
                prefix_suffix: "dev",
                own_key: true,
            }),
            ..sanitized::Options::default()
        })
        .await,
    );
    let bed = Bed::with_sanitized(
        Options {
            export: "false",
            sanitize: "true",
            delete: "false",
            ..Options::default()
        },
        sanitized.clone(),
    )
    .await;
    assert!(
        bed.job
            .recovery_point_arn
            .contains(":snapshot:awsbackup:job-"),
        "the recovery point is in its real id form: {}",
        bed.job.recovery_point_arn
    );

    let run = bed.complete("native-instance-completed").await;

    run.assert_succeeded(&format!("{}\n{}", bed.logs(), sanitized.logs()));
    let name = format!("backup-{}", bed.job.job_id);
    let output = run.output.clone().unwrap_or(Value::Null);
    assert_eq!(output["sanitize"]["status"], json!("SUCCEEDED"), "{output}");
    // The kept snapshot: the mapped prefix, under the mapped key.
    let kept = sanitized.kept_of(&name).await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    let (snapshot, _) = &kept[0];
    assert!(
        snapshot.starts_with(&format!("{}-dev-", sanitized.source)),
        "{snapshot}"
    );
    let arn = output["sanitize"]["snapshotArn"]
        .as_str()
        .unwrap_or_default();
    assert!(arn.ends_with(&format!(":snapshot:{snapshot}")), "{output}");
    let mapped_key = sanitized.mapped_kms_key.clone().unwrap();
    assert_eq!(
        sanitized.snapshot_key(snapshot).await.as_deref(),
        Some(mapped_key.as_str())
    );
    // The mapped script is what ran: its data effect, and the attestation's digest.
    let rows = dump(&sanitized);
    assert_no_original_pii(&rows);
    assert!(rows.contains("@mapped.invalid"), "{rows}");
    assert!(!rows.contains("@example.invalid"), "the stack's script ran");
    let report = Moto::shared()
        .s3_client()
        .get_object()
        .bucket(&sanitized.bucket)
        .key(format!("sanitized-reports/{snapshot}.json"))
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    let report: Value = serde_json::from_slice(&report).unwrap();
    assert_eq!(
        report["script"]["sha256"],
        json!(Sha256Pin::of(mapped_script().as_bytes()).to_string())
    );
    assert_eq!(report["settings"], json!(sanitized.source));
    // The recovery point was restored by its real id, and is left as it was.
    let restored = sanitized.proxy.requests("RestoreDBInstanceFromDBSnapshot");
    assert!(
        restored.len() == 1 && restored[0].contains("DBSnapshotIdentifier=awsbackup:job-"),
        "{restored:?}"
    );
    let point = aws_sdk_rds::Client::new(&sanitized.sdk)
        .describe_db_snapshots()
        .db_snapshot_identifier(format!(
            "awsbackup-job-{}",
            bed.job.job_id.to_ascii_lowercase()
        ))
        .send()
        .await
        .expect("the recovery point is still there");
    let tags = point.db_snapshots()[0].tag_list();
    assert!(
        tags.iter()
            .all(|t| !t.key().unwrap_or_default().starts_with("sluice:")),
        "{tags:?}"
    );
    assert_eq!(output["recoveryPoint"], json!("kept"));
    assert!(bed.backup.deleted().is_empty());
    assert_eq!(sanitized.leftovers().await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn given_a_recovery_point_whose_database_has_no_settings_then_no_run_starts_and_it_is_retained()
 {
    let bed = Bed::new(Options {
        sanitize: "true",
        delete: "true",
        source_has_settings: false,
        ..Options::default()
    })
    .await;

    let run = bed.complete("native-instance-completed").await;

    run.assert_succeeded(&bed.logs());
    assert!(bed.sanitize_runs().await.is_empty(), "a run was started");
    let output = run.output.clone().unwrap_or(Value::Null);
    assert_eq!(output["sanitize"]["status"], json!("SKIPPED"), "{output}");
    let why = output["sanitize"]["reason"].as_str().unwrap_or_default();
    assert!(
        why.contains(&bed.source) && why.contains("no sanitize settings"),
        "{why}"
    );
    assert_eq!(output["recoveryPoint"], json!("retained"), "{output}");
    assert!(
        output["recoveryPointReason"]
            .as_str()
            .is_some_and(|r| r.contains("not sanitized")),
        "{output}"
    );
    assert!(
        bed.backup.deleted().is_empty(),
        "the recovery point was deleted"
    );
    // The export still ran: only the sanitizing is skipped.
    assert_eq!(bed.exports().await.len(), 1);
}
