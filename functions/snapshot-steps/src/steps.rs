//! The steps. Each reads what it needs from the state, does its AWS calls, and records what it
//! made; re-running a step finds what an earlier attempt made (by tag) instead of making it twice.

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, ContainerOverride, DesiredStatus, KeyValuePair,
    LaunchType, NetworkConfiguration, TaskOverride,
};
use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::json;
use sluice_runtime::{ErrorKind, StepError};
use sluice_snapshots::ids::{self, IdKind, UtcStamp};
use sluice_snapshots::retention::{self, Listed};
use sluice_snapshots::share;
use sluice_snapshots::status::{self, Readiness, Resource};

use crate::aws::{
    ROLE_SANITIZED, ROLE_TAG, ROLE_TEMP, RUN_TAG, Rds, SOURCE_TAG, aws_error, code, is_ours, made,
    rds_tags,
};
use crate::state::{Input, Kind, Request, State};
use crate::{Deps, STEPS};

/// Engines the sanitizer task can work on (RDS engine names).
const SANITIZER_ENGINES: &[&str] = &[
    "postgres",
    "aurora-postgresql",
    "mysql",
    "mariadb",
    "aurora-mysql",
];

pub(crate) async fn run(request: Request, deps: &Deps, now: i64) -> Result<State, StepError> {
    let Request {
        step,
        failed,
        mut state,
    } = request;
    let s = &mut state;
    let outcome = run_step(&step, s, deps, now, failed).await;
    if let Err(e) = &outcome
        && e.kind == ErrorKind::NotReady
        && let Some(late) = past_wait_limit(&step, s, deps, now, &e.message)
    {
        return Err(late);
    }
    outcome?;
    // The next wait's limit counts from the action it waits on.
    if matches!(
        step.as_str(),
        "snapshotSource"
            | "restore"
            | "runSanitizer"
            | "snapshotTemp"
            | "copyEncrypted"
            | "copyToDr"
    ) {
        state.phase_started = Some(now);
    }
    Ok(state)
}

/// A wait that has lasted longer than its configured limit, as a `ResourceFailed` naming the
/// setting; `None` while it may go on.
fn past_wait_limit(
    step: &str,
    s: &State,
    deps: &Deps,
    now: i64,
    waiting_for: &str,
) -> Option<StepError> {
    let waits = deps.config().ok()?.waits;
    let (minutes, var) = match step {
        "waitSourceSnapshot" | "waitTempSnapshot" | "waitSnapshot" | "waitDrCopy" => {
            (waits.snapshot, "SNAPSHOT_WAIT_MINUTES")
        }
        "waitRestored" => (waits.restore, "RESTORE_WAIT_MINUTES"),
        "waitSanitizer" => (waits.sanitize, "SANITIZE_WAIT_MINUTES"),
        _ => return None,
    };
    let waited = now - s.phase_started?;
    (waited > i64::from(minutes) * 60).then(|| {
        resource_failed(format!(
            "gave up after {} minutes ({var}={minutes}): {waiting_for}",
            waited / 60
        ))
    })
}

async fn run_step(
    step: &str,
    s: &mut State,
    deps: &Deps,
    now: i64,
    failed: bool,
) -> Result<(), StepError> {
    // A dry run never snapshots or shares, whatever invokes these steps.
    const PUBLISHING: [&str; 8] = [
        "snapshotTemp",
        "waitTempSnapshot",
        "copyEncrypted",
        "waitSnapshot",
        "share",
        "copyToDr",
        "waitDrCopy",
        "prune",
    ];
    if s.input.dry_run && PUBLISHING.contains(&step) {
        return Err(StepError::invalid_input(format!(
            "step {step} publishes a snapshot, and this run is a dry run (input dryRun: true)"
        )));
    }
    match step {
        "guard" => guard(s, deps, now).await?,
        "validate" => validate(s, deps, now).await?,
        "snapshotSource" => snapshot_source(s, deps).await?,
        "waitSourceSnapshot" => wait_source_snapshot(s, deps).await?,
        "restore" => restore(s, deps).await?,
        "waitRestored" => wait_restored(s, deps).await?,
        "runSanitizer" => run_sanitizer(s, deps).await?,
        "waitSanitizer" => wait_sanitizer(s, deps).await?,
        "snapshotTemp" => snapshot_temp(s, deps, now).await?,
        "waitTempSnapshot" => wait_temp_snapshot(s, deps).await?,
        "copyEncrypted" => copy_encrypted(s, deps, now).await?,
        "waitSnapshot" => wait_snapshot(s, deps).await?,
        "share" => share_snapshot(s, deps).await?,
        "copyToDr" => copy_to_dr(s, deps).await?,
        "waitDrCopy" => wait_dr_copy(s, deps).await?,
        "prune" => prune(s, deps).await?,
        "cleanup" => cleanup(s, deps, failed).await?,
        "notify" => notify(s, deps, now).await?,
        other => {
            return Err(StepError::invalid_input(format!(
                "unknown step {other:?}; expected one of {STEPS:?}"
            )));
        }
    }
    Ok(())
}

fn config_error(e: impl std::fmt::Display) -> StepError {
    StepError::config(e.to_string())
}

pub(crate) fn resource_failed(message: impl Into<String>) -> StepError {
    StepError::new(ErrorKind::ResourceFailed, message)
}

fn ready(r: Readiness) -> Result<(), StepError> {
    match r {
        Readiness::Ready => Ok(()),
        Readiness::NotReady(m) => Err(StepError::not_ready(m)),
        Readiness::Failed(m) => Err(resource_failed(m)),
    }
}

const fn resource(kind: Kind) -> Resource {
    match kind {
        Kind::Instance => Resource::Instance,
        Kind::Cluster => Resource::Cluster,
    }
}

const fn snapshot_kind(kind: Kind) -> IdKind {
    match kind {
        Kind::Instance => IdKind::Snapshot,
        Kind::Cluster => IdKind::ClusterSnapshot,
    }
}

/// `startedBy` of the run's sanitizer task: the run id in ECS's alphabet, at most 128 chars.
fn started_by(run_id: &str) -> String {
    run_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(128)
        .collect()
}

/// Refuses to go on when another execution of this state machine is running for the same
/// source: two runs would race for the same temp names and snapshots.
async fn guard(s: &mut State, deps: &Deps, now: i64) -> Result<(), StepError> {
    s.started.get_or_insert(now);
    let machine = State::need(&s.state_machine_arn, "stateMachineArn")?.clone();
    let me = s.execution_arn.clone();
    let mut pages = deps
        .sfn
        .list_executions()
        .state_machine_arn(&machine)
        .status_filter(ExecutionStatus::Running)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("ListExecutions", &machine, e))?;
        for execution in page.executions() {
            let arn = execution.execution_arn();
            if me.as_deref() == Some(arn) {
                continue;
            }
            let described = deps
                .sfn
                .describe_execution()
                .execution_arn(arn)
                .send()
                .await
                .map_err(|e| aws_error("DescribeExecution", arn, e))?;
            let other = described
                .input()
                .and_then(|i| serde_json::from_str::<Input>(i).ok());
            if other.is_some_and(|o| o.source == s.input.source) {
                return Err(StepError::invalid_input(format!(
                    "execution {arn} is already running for {} {}; this run stops without \
                     touching anything",
                    s.input.source.kind.as_str(),
                    s.input.source.id
                )));
            }
        }
    }
    Ok(())
}

/// Checks every setting before anything is created.
async fn validate(s: &mut State, deps: &Deps, now: i64) -> Result<(), StepError> {
    let c = deps.config()?;
    let src = s.input.source.clone();
    let id_kind = match src.kind {
        Kind::Instance => IdKind::Instance,
        Kind::Cluster => IdKind::Cluster,
    };
    ids::validate(id_kind, &src.id).map_err(|e| StepError::invalid_input(e.to_string()))?;
    // The role may read and snapshot this stack's source only: any other is refused here, with
    // a reason, rather than by IAM halfway through.
    if src.kind.as_str() != c.source_kind || src.id != c.source_id {
        return Err(config_error(format!(
            "source {} {} is not this stack's source ({} {}, SnapshotSourceId): its role may \
             read, snapshot and copy only that database's snapshots",
            src.kind.as_str(),
            src.id,
            c.source_kind,
            c.source_id
        )));
    }
    let temp = ids::temp_name(&c.temp_prefix, &s.run_id).map_err(config_error)?;
    let kept = ids::snapshot_name(
        snapshot_kind(src.kind),
        &c.snapshot_prefix,
        UtcStamp::from_epoch_secs(now),
    )
    .map_err(config_error)?;
    // The role may tag, copy, share and delete kept snapshots by their `<prefix>-` names only:
    // a prefix cut to fit RDS's limit would make every kept snapshot one it may not touch.
    let whole = format!("{}-", c.snapshot_prefix.to_ascii_lowercase());
    if !kept.starts_with(&whole) {
        return Err(config_error(format!(
            "SNAPSHOT_PREFIX {:?} is too long for a {} snapshot name ({kept} would be cut); \
             use a source id or prefix of at most {} characters",
            c.snapshot_prefix,
            src.kind.as_str(),
            kept.len().saturating_sub(16)
        )));
    }
    let accounts =
        share::accounts(c.share_accounts.iter().map(String::as_str)).map_err(config_error)?;
    // The script decides what is masked and what is verified: only the reviewed one runs.
    crate::script::check_pinned(&deps.s3, &c.script_uri, &c.script_sha256).await?;
    let db = deps.rds.db(src.kind, &src.id).await?.ok_or_else(|| {
        config_error(format!("source {} {} not found", src.kind.as_str(), src.id))
    })?;
    if db.id == temp {
        return Err(config_error(format!(
            "temp name {temp} equals the source's; change TEMP_PREFIX"
        )));
    }
    if !SANITIZER_ENGINES.contains(&db.engine.as_str()) {
        return Err(config_error(format!(
            "source engine {:?} is not one the sanitizer supports ({SANITIZER_ENGINES:?})",
            db.engine
        )));
    }
    share::check_encryption(db.encrypted, &accounts, c.kms_key.as_deref()).map_err(config_error)?;
    crate::keys::check_source_key(c, src.kind, &db, &deps.kms).await?;
    crate::keys::check_copy_keys(c, src.kind, &db, &deps.kms).await?;
    let class = match (src.kind, &c.instance_class) {
        (_, Some(class)) => Some(class.clone()),
        (Kind::Instance, None) => None,
        (Kind::Cluster, None) => {
            // The writer's class: after a failover it need not be the first member listed.
            let mut class = None;
            if let Some(member) = db.writer.as_ref().or(db.members.first())
                && let Some(m) = deps.rds.db(Kind::Instance, member).await?
            {
                class = m.class;
            }
            Some(class.or(db.class.clone()).ok_or_else(|| {
                config_error(format!(
                    "cluster {} has no member instance to take a class from (Aurora Serverless v2?): \
                     set INSTANCE_CLASS (e.g. db.serverless)",
                    src.id
                ))
            })?)
        }
    };
    // The subnet group is checked here because nothing else would name it before the restore.
    // Security groups are not: RDS itself refuses, at once and before creating anything, a
    // group that does not exist or lies in another VPC than the subnet group.
    deps.rds
        .client
        .describe_db_subnet_groups()
        .db_subnet_group_name(&c.subnet_group)
        .send()
        .await
        .map_err(|e| {
            if code(&e).is_some_and(|c| c.starts_with("DBSubnetGroupNotFound")) {
                config_error(format!("DB subnet group {} not found", c.subnet_group))
            } else {
                aws_error("DescribeDBSubnetGroups", &c.subnet_group, e)
            }
        })?;
    s.engine = Some(db.engine);
    s.instance_class = class;
    s.accounts = accounts;
    s.temp_id = Some(temp);
    Ok(())
}

fn run_tags<'a>(s: &'a State, role: &'a str) -> [(&'a str, &'a str); 3] {
    [
        (RUN_TAG, s.run_id.as_str()),
        (ROLE_TAG, role),
        (SOURCE_TAG, s.input.source.id.as_str()),
    ]
}

/// Picks the snapshot to restore: a new one of the source, the newest existing one, or the
/// one the input names. An Aurora source asked for `new` is cloned instead (`AURORA_CLONE`):
/// no snapshot at all.
async fn snapshot_source(s: &mut State, deps: &Deps) -> Result<(), StepError> {
    let src = s.input.source.clone();
    let choice = s.input.snapshot.clone().unwrap_or_else(|| "new".into());
    if choice == "new" && src.kind == Kind::Cluster && deps.config()?.aurora_clone {
        s.clone = true;
        return Ok(());
    }
    match choice.as_str() {
        "new" => {
            let id = ids::temp_name(&format!("{}-src", deps.config()?.temp_prefix), &s.run_id)
                .map_err(config_error)?;
            deps.rds
                .create_snapshot(src.kind, &id, &src.id, &run_tags(s, ROLE_TEMP))
                .await?;
            let made =
                deps.rds.snapshot(src.kind, &id).await?.ok_or_else(|| {
                    resource_failed(format!("snapshot {id} vanished after creation"))
                })?;
            if !is_ours(&made.tags, &s.run_id, ROLE_TEMP) {
                return Err(resource_failed(format!(
                    "snapshot {id} exists and is not this run's; refusing to use it"
                )));
            }
            s.restore_from = Some(id);
        }
        "latest" => {
            // Without a type RDS lists automated and manual snapshots; AWS Backup's (of an
            // instance or a cluster) only when asked for by type.
            let mut all = deps
                .rds
                .snapshots(src.kind, None, Some(&src.id), None)
                .await?;
            all.extend(
                deps.rds
                    .snapshots(src.kind, None, Some(&src.id), Some("awsbackup"))
                    .await?,
            );
            let newest = all
                .into_iter()
                .filter(|x| x.status == "available")
                .filter_map(|x| Some((x.created?, x)))
                .max_by_key(|(t, _)| *t)
                .ok_or_else(|| {
                    resource_failed(format!(
                        "{} {} has no available snapshot to restore",
                        src.kind.as_str(),
                        src.id
                    ))
                })?;
            s.restore_from = Some(newest.1.id);
        }
        given => {
            // An ARN of this account's snapshot is described and restored by its identifier.
            let given = given
                .strip_prefix("arn:")
                .and_then(|rest| {
                    rest.split_once(":snapshot:")
                        .or(rest.split_once(":cluster-snapshot:"))
                })
                .map_or(given, |(_, id)| id);
            let snap =
                deps.rds.snapshot(src.kind, given).await?.ok_or_else(|| {
                    StepError::invalid_input(format!("snapshot {given} not found"))
                })?;
            if snap.db != src.id {
                return Err(StepError::invalid_input(format!(
                    "snapshot {given} is of {}, not of the source {}",
                    snap.db, src.id
                )));
            }
            s.restore_from = Some(snap.id);
        }
    }
    Ok(())
}

async fn wait_source_snapshot(s: &mut State, deps: &Deps) -> Result<(), StepError> {
    if s.clone {
        return Ok(());
    }
    let kind = s.input.source.kind;
    let id = State::need(&s.restore_from, "restoreFrom")?;
    match deps.rds.snapshot(kind, id).await? {
        None => ready(status::vanished(Resource::Snapshot, id)),
        Some(snap) => ready(status::classify(Resource::Snapshot, id, &snap.status)),
    }
}

/// Restores the temp database into the isolated network: private, no deletion protection,
/// tagged with the run. A clone is made the same way, from the source cluster itself.
async fn restore(s: &mut State, deps: &Deps) -> Result<(), StepError> {
    let c = deps.config()?;
    let kind = s.input.source.kind;
    let temp = State::need(&s.temp_id, "tempId")?.clone();
    if let Some(db) = deps.rds.db(kind, &temp).await? {
        if !is_ours(&db.tags, &s.run_id, ROLE_TEMP) {
            return Err(resource_failed(format!(
                "{} {temp} exists but is not this run's temp database; refusing to use or delete it",
                kind.as_str()
            )));
        }
        return Ok(());
    }
    let tags = rds_tags(&run_tags(s, ROLE_TEMP));
    let serverless = s.instance_class.as_deref() == Some("db.serverless");
    let scaling = serverless.then(|| {
        aws_sdk_rds::types::ServerlessV2ScalingConfiguration::builder()
            .min_capacity(0.5)
            .max_capacity(16.0)
            .build()
    });
    if s.clone {
        // https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.Managing.Clone.html
        deps.rds
            .client
            .restore_db_cluster_to_point_in_time()
            .db_cluster_identifier(&temp)
            .source_db_cluster_identifier(&s.input.source.id)
            .restore_type("copy-on-write")
            .use_latest_restorable_time(true)
            .db_subnet_group_name(&c.subnet_group)
            .set_vpc_security_group_ids(Some(c.security_groups.clone()))
            .deletion_protection(false)
            .copy_tags_to_snapshot(false)
            .set_serverless_v2_scaling_configuration(scaling)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| aws_error("RestoreDBClusterToPointInTime", &temp, e))?;
        return Ok(());
    }
    let from = State::need(&s.restore_from, "restoreFrom")?.clone();
    match kind {
        Kind::Instance => {
            deps.rds
                .client
                .restore_db_instance_from_db_snapshot()
                .db_instance_identifier(&temp)
                .db_snapshot_identifier(&from)
                .db_subnet_group_name(&c.subnet_group)
                .set_vpc_security_group_ids(Some(c.security_groups.clone()))
                .publicly_accessible(false)
                .multi_az(false)
                .deletion_protection(false)
                .copy_tags_to_snapshot(false)
                .auto_minor_version_upgrade(false)
                .set_db_instance_class(s.instance_class.clone())
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| aws_error("RestoreDBInstanceFromDBSnapshot", &temp, e))?;
        }
        Kind::Cluster => {
            let engine = State::need(&s.engine, "engine")?;
            deps.rds
                .client
                .restore_db_cluster_from_snapshot()
                .db_cluster_identifier(&temp)
                .snapshot_identifier(&from)
                .engine(engine)
                .db_subnet_group_name(&c.subnet_group)
                .set_vpc_security_group_ids(Some(c.security_groups.clone()))
                .deletion_protection(false)
                .copy_tags_to_snapshot(false)
                .set_serverless_v2_scaling_configuration(scaling)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| aws_error("RestoreDBClusterFromSnapshot", &temp, e))?;
        }
    }
    Ok(())
}

/// Waits for the temp database; on the way creates the cluster's instance, hands the master
/// password to RDS (Secrets Manager) and turns backups off.
async fn wait_restored(s: &mut State, deps: &Deps) -> Result<(), StepError> {
    let kind = s.input.source.kind;
    let temp = State::need(&s.temp_id, "tempId")?.clone();
    let Some(db) = deps.rds.db(kind, &temp).await? else {
        return ready(status::vanished(resource(kind), &temp));
    };
    ready(status::classify(resource(kind), &temp, &db.status))?;
    if kind == Kind::Cluster {
        if !db.members.contains(&temp) {
            let tags = rds_tags(&run_tags(s, ROLE_TEMP));
            let created = deps
                .rds
                .client
                .create_db_instance()
                .db_instance_identifier(&temp)
                .db_cluster_identifier(&temp)
                .engine(State::need(&s.engine, "engine")?)
                .db_instance_class(State::need(&s.instance_class, "instanceClass")?)
                .publicly_accessible(false)
                .set_tags(Some(tags))
                .send()
                .await;
            made("CreateDBInstance", &temp, created)?;
            return Err(StepError::not_ready(format!(
                "instance {temp} of cluster {temp} is being created"
            )));
        }
        let Some(member) = deps.rds.db(Kind::Instance, &temp).await? else {
            return ready(status::vanished(Resource::Instance, &temp));
        };
        ready(status::classify(Resource::Instance, &temp, &member.status))?;
    }
    if db.secret_arn.is_none() || (kind == Kind::Instance && db.backup_retention != Some(0)) {
        let result = match kind {
            Kind::Instance => deps
                .rds
                .client
                .modify_db_instance()
                .db_instance_identifier(&temp)
                .manage_master_user_password(true)
                .backup_retention_period(0)
                .apply_immediately(true)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws_error("ModifyDBInstance", &temp, e)),
            Kind::Cluster => deps
                .rds
                .client
                .modify_db_cluster()
                .db_cluster_identifier(&temp)
                .manage_master_user_password(true)
                .apply_immediately(true)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws_error("ModifyDBCluster", &temp, e)),
        };
        result?;
        return Err(StepError::not_ready(format!(
            "{} {temp}: RDS is taking over the master password (Secrets Manager) and backups are being turned off",
            kind.as_str()
        )));
    }
    s.endpoint = db.endpoint;
    s.port = db.port;
    s.secret_arn = db.secret_arn;
    if s.endpoint.is_none() {
        return Err(StepError::not_ready(format!(
            "{} {temp} has no endpoint yet",
            kind.as_str()
        )));
    }
    Ok(())
}

/// Starts the sanitizer task (once per run): only the secret's ARN goes in the overrides, and
/// the script's pinned digest.
async fn run_sanitizer(s: &mut State, deps: &Deps) -> Result<(), StepError> {
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
    let pin = c.script_sha256.to_string();
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
        ("SANITIZER_DATABASE", c.database.as_str()),
        (
            "SANITIZER_SECRET_ARN",
            State::need(&s.secret_arn, "secretArn")?.as_str(),
        ),
        ("SANITIZER_SCRIPT_URI", c.script_uri.as_str()),
        // The task refuses any other content: the object may change after `validate`.
        ("SANITIZER_SCRIPT_SHA256", pin.as_str()),
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
async fn wait_sanitizer(s: &mut State, deps: &Deps) -> Result<(), StepError> {
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

/// Snapshots the sanitized temp database. Without re-encryption this is the kept snapshot.
async fn snapshot_temp(s: &mut State, deps: &Deps, now: i64) -> Result<(), StepError> {
    let c = deps.config()?;
    let kind = s.input.source.kind;
    let temp = State::need(&s.temp_id, "tempId")?.clone();
    let reencrypt = c.kms_key.is_some();
    let role = if reencrypt { ROLE_TEMP } else { ROLE_SANITIZED };
    let existing = deps
        .rds
        .snapshots(kind, None, Some(&temp), Some("manual"))
        .await?
        .into_iter()
        .find(|x| is_ours(&x.tags, &s.run_id, role));
    let name = match existing {
        Some(x) => x.id,
        None => {
            let name = if reencrypt {
                temp.clone()
            } else {
                ids::snapshot_name(
                    snapshot_kind(kind),
                    &c.snapshot_prefix,
                    UtcStamp::from_epoch_secs(now),
                )
                .map_err(config_error)?
            };
            deps.rds
                .create_snapshot(kind, &name, &temp, &run_tags(s, role))
                .await?;
            name
        }
    };
    if !reencrypt {
        s.snapshot = Some(name.clone());
    }
    s.temp_snapshot = Some(name);
    Ok(())
}

async fn wait_temp_snapshot(s: &mut State, deps: &Deps) -> Result<(), StepError> {
    let kind = s.input.source.kind;
    let id = State::need(&s.temp_snapshot, "tempSnapshot")?.clone();
    let Some(snap) = deps.rds.snapshot(kind, &id).await? else {
        return ready(status::vanished(Resource::Snapshot, &id));
    };
    ready(status::classify(Resource::Snapshot, &id, &snap.status))?;
    if s.snapshot.as_deref() == Some(id.as_str()) {
        s.snapshot_arn = Some(snap.arn);
    }
    Ok(())
}

/// Copies the temp snapshot under the customer-managed key: the copy is the kept snapshot.
async fn copy_encrypted(s: &mut State, deps: &Deps, now: i64) -> Result<(), StepError> {
    let c = deps.config()?;
    let kind = s.input.source.kind;
    let Some(key) = c.kms_key.as_deref() else {
        return Ok(());
    };
    let from = State::need(&s.temp_snapshot, "tempSnapshot")?.clone();
    let existing = deps
        .rds
        .snapshots(kind, None, None, Some("manual"))
        .await?
        .into_iter()
        .find(|x| is_ours(&x.tags, &s.run_id, ROLE_SANITIZED));
    let name = match existing {
        Some(x) => x.id,
        None => {
            let name = ids::snapshot_name(
                snapshot_kind(kind),
                &c.snapshot_prefix,
                UtcStamp::from_epoch_secs(now),
            )
            .map_err(config_error)?;
            deps.rds
                .copy_snapshot(kind, &from, &name, Some(key), &run_tags(s, ROLE_SANITIZED))
                .await?;
            name
        }
    };
    s.snapshot = Some(name);
    Ok(())
}

async fn wait_snapshot(s: &mut State, deps: &Deps) -> Result<(), StepError> {
    let kind = s.input.source.kind;
    let id = State::need(&s.snapshot, "snapshot")?.clone();
    let Some(snap) = deps.rds.snapshot(kind, &id).await? else {
        return ready(status::vanished(Resource::Snapshot, &id));
    };
    ready(status::classify(Resource::Snapshot, &id, &snap.status))?;
    s.snapshot_arn = Some(snap.arn);
    Ok(())
}

async fn share_snapshot(s: &mut State, deps: &Deps) -> Result<(), StepError> {
    if s.accounts.is_empty() {
        return Ok(());
    }
    let id = State::need(&s.snapshot, "snapshot")?;
    deps.rds
        .share(s.input.source.kind, id, &s.accounts, &[])
        .await
}

/// Starts a copy of the kept snapshot in the DR region, under `DR_KMS_KEY_ARN` (once per run:
/// a copy tagged with the run id is taken as started). `waitDrCopy` waits for it.
async fn copy_to_dr(s: &mut State, deps: &Deps) -> Result<(), StepError> {
    let Some(dr) = &deps.dr_rds else {
        return Ok(());
    };
    let kind = s.input.source.kind;
    let name = State::need(&s.snapshot, "snapshot")?.clone();
    let arn = State::need(&s.snapshot_arn, "snapshotArn")?.clone();
    let started = dr
        .snapshots(kind, None, None, Some("manual"))
        .await?
        .into_iter()
        .any(|x| is_ours(&x.tags, &s.run_id, ROLE_SANITIZED));
    if !started {
        dr.copy_snapshot(
            kind,
            &arn,
            &name,
            deps.config()?.dr_kms_key.as_deref(),
            &run_tags(s, ROLE_SANITIZED),
        )
        .await?;
    }
    Ok(())
}

/// Waits for the DR copy to be available; only then is it named in the state (and the result
/// event), and only then does `prune` delete older copies in the DR region.
async fn wait_dr_copy(s: &mut State, deps: &Deps) -> Result<(), StepError> {
    let Some(dr) = &deps.dr_rds else {
        return Ok(());
    };
    let kind = s.input.source.kind;
    let name = State::need(&s.snapshot, "snapshot")?.clone();
    let Some(copy) = dr.snapshot(kind, &name).await? else {
        return ready(status::vanished(Resource::Snapshot, &name));
    };
    if !is_ours(&copy.tags, &s.run_id, ROLE_SANITIZED) {
        return Err(resource_failed(format!(
            "DR snapshot {name} is not this run's copy (its tags say otherwise); refusing to use it"
        )));
    }
    ready(status::classify(Resource::Snapshot, &name, &copy.status))?;
    s.dr_snapshot_arn = Some(copy.arn);
    Ok(())
}

async fn prune_in(
    rds: &Rds,
    kind: Kind,
    source: &str,
    keep: usize,
    never: Option<&str>,
) -> Result<Vec<String>, StepError> {
    let listed: Vec<Listed> = rds
        .snapshots(kind, None, None, Some("manual"))
        .await?
        .into_iter()
        .map(|x| Listed {
            id: x.id,
            created: x.created,
            tags: x.tags,
        })
        .collect();
    let doomed: Vec<String> = retention::to_prune(&listed, source, keep)
        .into_iter()
        .filter(|id| Some(id.as_str()) != never)
        .collect();
    for id in &doomed {
        rds.delete_snapshot(kind, id).await?;
    }
    Ok(doomed)
}

/// Deletes the source's sanitized snapshots beyond the newest `KEEP` (every page, by tag).
async fn prune(s: &mut State, deps: &Deps) -> Result<(), StepError> {
    let kind = s.input.source.kind;
    let keep = deps.config()?.keep;
    let source = s.input.source.id.clone();
    let mut pruned = prune_in(&deps.rds, kind, &source, keep, s.snapshot.as_deref()).await?;
    if let Some(dr) = &deps.dr_rds {
        pruned.extend(prune_in(dr, kind, &source, keep, s.snapshot.as_deref()).await?);
    }
    s.pruned = pruned;
    Ok(())
}

/// Removes everything the run made (found by its run-id tag): the task, the temp instances
/// and cluster, the temp snapshots, and after a failure the run's sanitized snapshots too
/// (unshared first). `NotReady` until all of it is gone.
async fn cleanup(s: &mut State, deps: &Deps, failed: bool) -> Result<(), StepError> {
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
async fn notify(s: &mut State, deps: &Deps, now: i64) -> Result<(), StepError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn started_by_keeps_ecs_alphabet_and_length() {
        assert_eq!(started_by("run:1/a b"), "run-1-a-b");
        assert_eq!(started_by(&"x".repeat(300)).len(), 128);
    }
}
