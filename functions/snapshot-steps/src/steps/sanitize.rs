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
    if let Some(arn) = started_task(&deps.ecs, &c.ecs_cluster, &by).await? {
        s.task_arn = Some(arn);
        return Ok(());
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
    let task = TaskSpec {
        cluster: &c.ecs_cluster,
        task_definition: &c.task_definition,
        container: &c.container_name,
        subnets: &c.task_subnets,
        security_groups: &c.task_security_groups,
        started_by: &by,
        run_id: &s.run_id,
    };
    s.task_arn = Some(run_task(&deps.ecs, &task, &env).await?);
    Ok(())
}

/// Waits for the task to stop; anything but exit code 0 stops the pipeline before a snapshot.
pub(super) async fn wait_sanitizer(s: &mut State, deps: &Deps) -> Result<(), StepError> {
    let c = deps.config()?;
    let arn = State::need(&s.task_arn, "taskArn")?;
    match task_readiness(&deps.ecs, &c.ecs_cluster, &c.container_name, arn).await? {
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

/// The sanitizer task to start: where, as which definition, and who started it.
pub(crate) struct TaskSpec<'a> {
    /// ECS cluster.
    pub cluster: &'a str,
    /// Task definition (family or family:revision).
    pub task_definition: &'a str,
    /// The container the environment goes to.
    pub container: &'a str,
    /// Subnets of the task's ENI.
    pub subnets: &'a [String],
    /// Its security groups.
    pub security_groups: &'a [String],
    /// `startedBy`, which finds the task again on a retried step.
    pub started_by: &'a str,
    /// Tagged on the task.
    pub run_id: &'a str,
}

/// The task a retried step already started (running or stopped), if any.
pub(crate) async fn started_task(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    started_by: &str,
) -> Result<Option<String>, StepError> {
    for desired in [DesiredStatus::Running, DesiredStatus::Stopped] {
        let listed = ecs
            .list_tasks()
            .cluster(cluster)
            .started_by(started_by)
            .desired_status(desired)
            .send()
            .await
            .map_err(|e| aws_error("ListTasks", cluster, e))?;
        if let Some(arn) = listed.task_arns().first() {
            return Ok(Some(arn.clone()));
        }
    }
    Ok(None)
}

/// Starts the task on Fargate, in a private network, with `env` (blank values left out) as its
/// container's overrides; returns its ARN. A placement failure fails with `ResourceFailed`.
pub(crate) async fn run_task(
    ecs: &aws_sdk_ecs::Client,
    task: &TaskSpec<'_>,
    env: &[(&str, &str)],
) -> Result<String, StepError> {
    let overrides = TaskOverride::builder()
        .container_overrides(
            ContainerOverride::builder()
                .name(task.container)
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
        .set_subnets(Some(task.subnets.to_vec()))
        .set_security_groups(Some(task.security_groups.to_vec()))
        .assign_public_ip(AssignPublicIp::Disabled)
        .build()
        .map_err(|e| config_error(format!("task network: {e}")))?;
    let out = ecs
        .run_task()
        .cluster(task.cluster)
        .task_definition(task.task_definition)
        .launch_type(LaunchType::Fargate)
        .count(1)
        .started_by(task.started_by)
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(network)
                .build(),
        )
        .overrides(overrides)
        .tags(
            aws_sdk_ecs::types::Tag::builder()
                .key(RUN_TAG)
                .value(task.run_id)
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws_error("RunTask", task.task_definition, e))?;
    if let Some(f) = out.failures().first() {
        return Err(resource_failed(format!(
            "RunTask {} failed: {} {}",
            task.task_definition,
            f.arn().unwrap_or_default(),
            f.reason().unwrap_or("no reason given")
        )));
    }
    out.tasks()
        .first()
        .and_then(|t| t.task_arn())
        .map(str::to_owned)
        .ok_or_else(|| resource_failed("RunTask returned no task"))
}

/// Where task `arn` is: stopped with exit code 0 (`Ready`), still going, or failed.
pub(crate) async fn task_readiness(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    container: &str,
    arn: &str,
) -> Result<Readiness, StepError> {
    let out = ecs
        .describe_tasks()
        .cluster(cluster)
        .tasks(arn)
        .send()
        .await
        .map_err(|e| aws_error("DescribeTasks", arn, e))?;
    let Some(task) = out.tasks().first() else {
        return Err(resource_failed(format!("task {arn} is unknown to ECS")));
    };
    let found = task
        .containers()
        .iter()
        .find(|x| x.name() == Some(container))
        .or_else(|| task.containers().first());
    Ok(status::task(
        arn,
        task.last_status().unwrap_or("PENDING"),
        found.and_then(|x| x.exit_code()),
        task.stopped_reason(),
    ))
}
