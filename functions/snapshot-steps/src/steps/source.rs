//! Source and restore: guard, validate, snapshotSource / waitSourceSnapshot (or an Aurora
//! clone), restore / waitRestored.

use aws_sdk_sfn::types::ExecutionStatus;
use sluice_runtime::StepError;
use sluice_snapshots::ids::{IdKind, UtcStamp};
use sluice_snapshots::status::Resource;
use sluice_snapshots::{ids, share, status};

use super::{config_error, ready, resource, resource_failed, run_tags, snapshot_kind};
use crate::Deps;
use crate::aws::{ROLE_TEMP, aws_error, code, is_ours, made, rds_tags};
use crate::state::{Input, Kind, State};

/// Engines the sanitizer task can work on (RDS engine names).
const SANITIZER_ENGINES: &[&str] = &[
    "postgres",
    "aurora-postgresql",
    "mysql",
    "mariadb",
    "aurora-mysql",
];

/// Refuses to go on when another execution of this state machine is running for the same
/// source: two runs would race for the same temp names and snapshots.
pub(super) async fn guard(s: &mut State, deps: &Deps, now: i64) -> Result<(), StepError> {
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
pub(super) async fn validate(s: &mut State, deps: &Deps, now: i64) -> Result<(), StepError> {
    let c = deps.config()?;
    let src = s.input.source.clone();
    let id_kind = match src.kind {
        Kind::Instance => IdKind::Instance,
        Kind::Cluster => IdKind::Cluster,
    };
    ids::validate(id_kind, &src.id).map_err(|e| StepError::invalid_input(e.to_string()))?;
    // Settings come from the deployed configuration only. The role may reach this stack's
    // source and the mapped ones only: any other is refused here, with a reason, rather than by
    // IAM halfway through. A tag mapping needs the source's tags, so the source is read first.
    s.settings = None;
    let db = deps.rds.db(src.kind, &src.id).await?.ok_or_else(|| {
        config_error(format!("source {} {} not found", src.kind.as_str(), src.id))
    })?;
    let run = c
        .resolve(src.kind.as_str(), &src.id, &db.tags)
        .map_err(config_error)?;
    tracing::info!(source = %src.id, settings = %run.mapping, "sanitize settings resolved");
    let temp = ids::temp_name(&c.temp_prefix, &s.run_id).map_err(config_error)?;
    let kept = ids::snapshot_name(
        snapshot_kind(src.kind),
        &run.prefix,
        UtcStamp::from_epoch_secs(now),
    )
    .map_err(config_error)?;
    // The role may tag, copy, share and delete kept snapshots by their `<prefix>-` names only:
    // a prefix cut to fit RDS's limit would make every kept snapshot one it may not touch.
    let whole = format!("{}-", run.prefix.to_ascii_lowercase());
    if !kept.starts_with(&whole) {
        return Err(config_error(format!(
            "snapshot prefix {:?} ({}) is too long for a {} snapshot name ({kept} would be cut); \
             use a source id or prefix of at most {} characters",
            run.prefix,
            run.mapping,
            src.kind.as_str(),
            kept.len().saturating_sub(16)
        )));
    }
    let accounts =
        share::accounts(c.share_accounts.iter().map(String::as_str)).map_err(config_error)?;
    // The script decides what is masked and what is verified: only the reviewed one runs.
    let pin = run
        .script_sha256
        .parse()
        .map_err(|_| config_error(format!("script pin of {}", run.mapping)))?;
    crate::script::check_pinned(&deps.s3, &run.script_uri, &pin).await?;
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
    share::check_encryption(db.encrypted, &accounts, run.kms_key.as_deref())
        .map_err(config_error)?;
    crate::keys::check_source_key(c, src.kind, &db, &deps.kms).await?;
    crate::keys::check_copy_keys(c, run.kms_key.as_deref(), src.kind, &db, &deps.kms).await?;
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
    s.settings = Some(run);
    s.engine = Some(db.engine);
    s.instance_class = class;
    s.accounts = accounts;
    s.temp_id = Some(temp);
    Ok(())
}

/// Picks the snapshot to restore: a new one of the source, the newest existing one, or the
/// one the input names. An Aurora source asked for `new` is cloned instead (`AURORA_CLONE`):
/// no snapshot at all.
pub(super) async fn snapshot_source(s: &mut State, deps: &Deps) -> Result<(), StepError> {
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

pub(super) async fn wait_source_snapshot(s: &mut State, deps: &Deps) -> Result<(), StepError> {
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
pub(super) async fn restore(s: &mut State, deps: &Deps) -> Result<(), StepError> {
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
pub(super) async fn wait_restored(s: &mut State, deps: &Deps) -> Result<(), StepError> {
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
