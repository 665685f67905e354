//! The end of every run: cleanup (after success or failure) and the result event.

use aws_sdk_ecs::types::DesiredStatus;
use serde_json::json;
use sluice_runtime::{ErrorKind, StepError};

use super::started_by;
use crate::Deps;
use crate::aws::{ROLE_SANITIZED, ROLE_TEMP, aws_error, is_ours};
use crate::state::{Kind, State};

/// Removes everything the run made (found by its run-id tag): the task, the temp instances
/// and cluster, the temp snapshots, and after a failure the run's sanitized snapshots too
/// (unshared first). `NotReady` until all of it is gone.
pub(super) async fn cleanup(s: &mut State, deps: &Deps, failed: bool) -> Result<(), StepError> {
    let c = deps.config()?;
    let run = s.run_id.clone();
    let source = s.input.source.clone();
    let mut pending: Vec<String> = Vec::new();

    let by = started_by(&run);
    let running = deps
        .ecs
        .list_tasks()
        .cluster(&c.ecs_cluster)
        .started_by(&by)
        .desired_status(DesiredStatus::Running)
        .send()
        .await
        .map_err(|e| aws_error("ListTasks", &c.ecs_cluster, e))?;
    for arn in running.task_arns() {
        deps.ecs
            .stop_task()
            .cluster(&c.ecs_cluster)
            .task(arn)
            .reason("sluice cleanup: the run ended")
            .send()
            .await
            .map_err(|e| aws_error("StopTask", arn, e))?;
    }

    let is_source = |kind: Kind, id: &str| kind == source.kind && id == source.id;
    for db in deps.rds.dbs(Kind::Instance).await? {
        if !is_ours(&db.tags, &run, ROLE_TEMP) || is_source(Kind::Instance, &db.id) {
            continue;
        }
        if db.status != "deleting" {
            deps.rds.delete_db(Kind::Instance, &db.id).await?;
        }
        pending.push(format!("instance {}", db.id));
    }
    for db in deps.rds.dbs(Kind::Cluster).await? {
        if !is_ours(&db.tags, &run, ROLE_TEMP) || is_source(Kind::Cluster, &db.id) {
            continue;
        }
        if db.members.is_empty() && db.status != "deleting" {
            deps.rds.delete_db(Kind::Cluster, &db.id).await?;
        }
        pending.push(format!("cluster {}", db.id));
    }
    let mut regions = vec![&deps.rds];
    if failed && let Some(dr) = &deps.dr_rds {
        regions.push(dr);
    }
    for rds in regions {
        for kind in [Kind::Instance, Kind::Cluster] {
            for snap in rds.snapshots(kind, None, None, Some("manual")).await? {
                let temp = is_ours(&snap.tags, &run, ROLE_TEMP);
                let kept = is_ours(&snap.tags, &run, ROLE_SANITIZED);
                if !(temp || (failed && kept)) {
                    continue;
                }
                if kept {
                    let shared = rds.shared_with(kind, &snap.id).await?;
                    if !shared.is_empty() {
                        rds.share(kind, &snap.id, &[], &shared).await?;
                    }
                }
                match snap.status.as_str() {
                    "available" | "failed" | "error" => rds.delete_snapshot(kind, &snap.id).await?,
                    _ => {}
                }
                pending.push(format!("snapshot {}", snap.id));
            }
        }
    }
    if pending.is_empty() {
        return Ok(());
    }
    Err(StepError::not_ready(format!(
        "cleanup of run {run}: waiting for {} to be deleted: {}",
        pending.len(),
        pending.join(", ")
    )))
}

/// Publishes the run's result on EventBridge.
pub(super) async fn notify(s: &mut State, deps: &Deps, now: i64) -> Result<(), StepError> {
    let error = s.rest.get("error");
    let failed = error.is_some();
    // Where a dry run's task logged what the script would change (the task definition's
    // awslogs stream: prefix `sanitizer`, the container, the task id). A failure is notified
    // even when the configuration is what failed.
    let task_log_stream = match (deps.config(), s.task_arn.as_deref()) {
        (Ok(c), Some(arn)) if s.input.dry_run => arn
            .rsplit('/')
            .next()
            .map(|task| format!("sanitizer/{}/{task}", c.container_name)),
        _ => None,
    };
    let detail = json!({
        "runId": s.run_id,
        "status": if failed { "FAILED" } else { "SUCCEEDED" },
        "dryRun": s.input.dry_run,
        "taskLogStream": task_log_stream,
        "source": s.input.source,
        "snapshot": s.snapshot,
        "snapshotArn": s.snapshot_arn,
        "accounts": s.accounts,
        "drSnapshotArn": s.dr_snapshot_arn,
        "pruned": s.pruned,
        "durationSeconds": s.started.map(|t| now - t),
        "error": error.and_then(|e| e.get("Error")),
        "cause": error.and_then(|e| e.get("Cause")),
        // Cleanup after a failure gave up: what the run made may still exist (the cause says
        // what), so whoever reads the event knows to look.
        "cleanupError": s.rest.get("cleanupError").and_then(|e| e.get("Cause")),
    });
    put_event(
        deps,
        "sluice.sanitized-snapshot",
        if failed {
            "Sanitized Snapshot Failed"
        } else {
            "Sanitized Snapshot Succeeded"
        },
        s.snapshot_arn.clone(),
        detail,
    )
    .await
}

/// Sends one result event to `EVENT_BUS`; a refused entry is an error naming the reason.
pub(crate) async fn put_event(
    deps: &Deps,
    source: &str,
    detail_type: &str,
    resource: Option<String>,
    detail: serde_json::Value,
) -> Result<(), StepError> {
    let out = deps
        .events
        .put_events()
        .entries(
            aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .source(source)
                .detail_type(detail_type)
                .event_bus_name(&deps.event_bus)
                .set_resources(resource.map(|a| vec![a]))
                .detail(detail.to_string())
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws_error("PutEvents", &deps.event_bus, e))?;
    if out.failed_entry_count() > 0 {
        let reason = out
            .entries()
            .iter()
            .filter_map(|e| e.error_message())
            .collect::<Vec<_>>()
            .join("; ");
        return Err(StepError::new(
            ErrorKind::Aws,
            format!("PutEvents refused the result event: {reason}"),
        ));
    }
    Ok(())
}
