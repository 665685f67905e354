//! Backup actions: a simulated AWS Backup job completes in a vault; the EventBridge event goes
//! to the real `backup-actions` binary, which starts the real backup-actions state machine.
//! RDS and Step Functions are moto; the job and its recovery point are the test bed's AWS
//! Backup stand-in (moto has none).

use serde_json::Value;
use sluice_testbed::backup_actions::{Options, Stage};

use crate::report::Report;

fn field<'a>(output: &'a Option<Value>, path: &[&str]) -> &'a Value {
    let mut v = output.as_ref().unwrap_or(&Value::Null);
    for p in path {
        v = &v[*p];
    }
    v
}

/// Export then delete; export with a sanitize run; an export that fails keeps the backup.
pub async fn run(report: &mut Report) -> anyhow::Result<()> {
    let section =
        report.section("Backup actions: backup completed → export to S3 (→ sanitize) → delete");

    let stage = Stage::new(Options::default()).await;
    let event = stage.event("native-instance-completed");
    let started = stage.deliver(&event).await?;
    let again = stage.deliver(&event).await?;
    section.line(format!(
        "backup job {} of {} completed in vault {}",
        stage.job.job_id, stage.source, stage.vault
    ));
    section.line(format!("  event → {}", started["executionArn"]));
    section.line(format!(
        "  same event again → {} (no second run; runs: {})",
        again["executionArn"],
        stage.executions().await.len()
    ));
    let run = stage.run().await;
    section.line(format!("  {}: {}", run.status, run.path().join(" → ")));
    section.line(format!(
        "  export {} {} at {}",
        field(&run.output, &["export", "taskId"]),
        field(&run.output, &["export", "status"]),
        field(&run.output, &["export", "location"]),
    ));
    section.line(format!(
        "  recovery point {}: {}",
        stage.job.recovery_point_arn,
        field(&run.output, &["recoveryPoint"])
    ));
    anyhow::ensure!(run.succeeded(), "backup actions failed: {:?}", run.cause);

    let sanitize = Stage::new(Options {
        sanitize: "true",
        delete: "false",
        ..Options::default()
    })
    .await;
    // moto's executions never end: the stand-in reports the sanitized-snapshot run done.
    sanitize.sanitize_run_ends("SUCCEEDED");
    let run = sanitize.complete("native-instance-completed").await;
    section.line(format!(
        "with sanitize on: {}: {}",
        run.status,
        run.path().join(" → ")
    ));
    for (name, input) in sanitize.sanitize_runs().await {
        section.line(format!(
            "  sanitized-snapshot run {name} with input {input}"
        ));
    }
    section.line(format!(
        "  recovery point: {}",
        field(&run.output, &["recoveryPoint"])
    ));
    anyhow::ensure!(
        run.succeeded(),
        "backup actions with sanitize failed: {:?}",
        run.cause
    );

    let failing = Stage::new(Options::default()).await;
    failing.proxy.replace_in_response(
        "DescribeExportTasks",
        "<Status>complete</Status>",
        "<Status>FAILED</Status><FailureCause>the export role cannot write the bucket</FailureCause>",
    );
    let run = failing.complete("native-instance-completed").await;
    section.line(format!(
        "export that fails: {} with {} via {}",
        run.status,
        run.error.as_deref().unwrap_or("-"),
        run.path().join(" → ")
    ));
    section.line(format!(
        "  cause: {}; recovery points deleted: {}",
        run.cause.as_deref().unwrap_or("-"),
        failing.backup.deleted().len()
    ));
    anyhow::ensure!(
        !run.succeeded() && failing.backup.deleted().is_empty(),
        "a failed export must fail the run and keep the backup"
    );
    Ok(())
}
