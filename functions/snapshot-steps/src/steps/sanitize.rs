//! The sanitizer task: runSanitizer / waitSanitizer.

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, ContainerOverride, DesiredStatus, KeyValuePair,
    LaunchType, NetworkConfiguration, TaskOverride,
};
use sluice_runtime::{ErrorKind, StepError};
use sluice_snapshots::status::{self, Readiness};

use super::{config_error, resource_failed, started_by};
use crate::Deps;
use crate::aws::{RUN_TAG, aws_error};
use crate::state::State;

/// Starts the sanitizer task (once per run): only the secret's ARN goes in the overrides, and
/// the script's pinned digest.
pub(super) async fn run_sanitizer(s: &mut State, deps: &Deps) -> Result<(), StepError> {
    let c = deps.config()?;
    let by = started_by(&s.run_id);
    for desired in [DesiredStatus::Running, DesiredStatus::Stopped] {
        let listed = deps
            .ecs
            .list_tasks()
            .cluster(&c.ecs_cluster)
            .started_by(&by)
            .desired_status(desired)
            .send()
            .await
            .map_err(|e| aws_error("ListTasks", &c.ecs_cluster, e))?;
        if let Some(arn) = listed.task_arns().first() {
            s.task_arn = Some(arn.clone());
            return Ok(());
        }
    }
    let port = s.port.map(|p| p.to_string()).unwrap_or_default();
    let run = s.settings(c);
    let summary = super::attest::summary_uri(&run.script_uri, &s.run_id).unwrap_or_default();
    let env = [
        (
            "SANITIZER_ENDPOINT",
            State::need(&s.endpoint, "endpoint")?.as_str(),
        ),
        ("SANITIZER_PORT", port.as_str()),
        (
            "SANITIZER_ENGINE",
            State::need(&s.engine, "engine")?.as_str(),
        ),
        ("SANITIZER_DATABASE", run.database.as_str()),
        (
            "SANITIZER_SECRET_ARN",
            State::need(&s.secret_arn, "secretArn")?.as_str(),
        ),
        ("SANITIZER_SCRIPT_URI", run.script_uri.as_str()),
        // The task refuses any other content: the object may change after `validate`.
        ("SANITIZER_SCRIPT_SHA256", run.script_sha256.as_str()),
        // Where the task writes its summary (counts only), which `attest` reads.
        ("SANITIZER_SUMMARY_URI", summary.as_str()),
        // Runs everything, reports what it changed, then rolls back.
        (
            "SANITIZER_DRY_RUN",
            if s.input.dry_run { "true" } else { "" },
        ),
    ];
    let overrides = TaskOverride::builder()
        .container_overrides(
            ContainerOverride::builder()
                .name(&c.container_name)
                .set_environment(Some(
                    env.iter()
                        .filter(|(_, v)| !v.is_empty())
                        .map(|(k, v)| KeyValuePair::builder().name(*k).value(*v).build())
                        .collect(),
                ))
                .build(),
        )
        .build();
    let network = AwsVpcConfiguration::builder()
        .set_subnets(Some(c.task_subnets.clone()))
        .set_security_groups(Some(c.task_security_groups.clone()))
        .assign_public_ip(AssignPublicIp::Disabled)
        .build()
        .map_err(|e| config_error(format!("task network: {e}")))?;
    let out = deps
        .ecs
        .run_task()
        .cluster(&c.ecs_cluster)
        .task_definition(&c.task_definition)
        .launch_type(LaunchType::Fargate)
        .count(1)
        .started_by(&by)
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(network)
                .build(),
        )
        .overrides(overrides)
        .tags(
            aws_sdk_ecs::types::Tag::builder()
                .key(RUN_TAG)
                .value(&s.run_id)
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws_error("RunTask", &c.task_definition, e))?;
    if let Some(f) = out.failures().first() {
        return Err(resource_failed(format!(
            "RunTask {} failed: {} {}",
            c.task_definition,
            f.arn().unwrap_or_default(),
            f.reason().unwrap_or("no reason given")
        )));
    }
    let arn = out
        .tasks()
        .first()
        .and_then(|t| t.task_arn())
        .ok_or_else(|| resource_failed("RunTask returned no task"))?;
    s.task_arn = Some(arn.to_owned());
    Ok(())
}

/// Waits for the task to stop; anything but exit code 0 stops the pipeline before a snapshot.
pub(super) async fn wait_sanitizer(s: &mut State, deps: &Deps) -> Result<(), StepError> {
    let c = deps.config()?;
    let arn = State::need(&s.task_arn, "taskArn")?;
    let out = deps
        .ecs
        .describe_tasks()
        .cluster(&c.ecs_cluster)
        .tasks(arn)
        .send()
        .await
        .map_err(|e| aws_error("DescribeTasks", arn, e))?;
    let Some(task) = out.tasks().first() else {
        return Err(resource_failed(format!(
            "sanitizer task {arn} is unknown to ECS"
        )));
    };
    let container = task
        .containers()
        .iter()
        .find(|x| x.name() == Some(c.container_name.as_str()))
        .or_else(|| task.containers().first());
    match status::task(
        arn,
        task.last_status().unwrap_or("PENDING"),
        container.and_then(|x| x.exit_code()),
        task.stopped_reason(),
    ) {
        Readiness::Ready => Ok(()),
        Readiness::NotReady(m) => Err(StepError::not_ready(m)),
        Readiness::Failed(m) => Err(StepError::new(
            ErrorKind::VerificationFailed,
            format!(
                "{m}; nothing is snapshotted or shared (see the task's log for the failing statement or verification query)"
            ),
        )),
    }
}
