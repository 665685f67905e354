//! Publishing: snapshotTemp, copyEncrypted, share, copyToDr / waitDrCopy, prune.

use sluice_runtime::StepError;
use sluice_snapshots::ids::UtcStamp;
use sluice_snapshots::retention::Listed;
use sluice_snapshots::status::Resource;
use sluice_snapshots::{ids, retention, status};

use super::{config_error, ready, resource_failed, run_tags, snapshot_kind};
use crate::Deps;
use crate::aws::{ROLE_SANITIZED, ROLE_TEMP, Rds, is_ours};
use crate::state::{Kind, State};

/// Snapshots the sanitized temp database. Without re-encryption this is the kept snapshot.
pub(super) async fn snapshot_temp(s: &mut State, deps: &Deps, now: i64) -> Result<(), StepError> {
    let c = s.settings(deps.config()?);
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
                    &c.prefix,
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

pub(super) async fn wait_temp_snapshot(s: &mut State, deps: &Deps) -> Result<(), StepError> {
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
pub(super) async fn copy_encrypted(s: &mut State, deps: &Deps, now: i64) -> Result<(), StepError> {
    let c = s.settings(deps.config()?);
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
                &c.prefix,
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

pub(super) async fn wait_snapshot(s: &mut State, deps: &Deps) -> Result<(), StepError> {
    let kind = s.input.source.kind;
    let id = State::need(&s.snapshot, "snapshot")?.clone();
    let Some(snap) = deps.rds.snapshot(kind, &id).await? else {
        return ready(status::vanished(Resource::Snapshot, &id));
    };
    ready(status::classify(Resource::Snapshot, &id, &snap.status))?;
    s.snapshot_arn = Some(snap.arn);
    Ok(())
}

pub(super) async fn share_snapshot(s: &mut State, deps: &Deps) -> Result<(), StepError> {
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
pub(super) async fn copy_to_dr(s: &mut State, deps: &Deps) -> Result<(), StepError> {
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
pub(super) async fn wait_dr_copy(s: &mut State, deps: &Deps) -> Result<(), StepError> {
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

pub(super) async fn prune_in(
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
    // The run's own snapshot is one of the `keep`, whatever its listed creation time says (a
    // time equal to an older one's, or none yet while it is still being created, must not let
    // an older one take its place).
    let own = never.is_some_and(|n| {
        listed
            .iter()
            .any(|x| x.id == n && x.is_sanitized_of(source))
    });
    let others: Vec<Listed> = listed
        .into_iter()
        .filter(|x| Some(x.id.as_str()) != never)
        .collect();
    let doomed = retention::to_prune(&others, source, keep.saturating_sub(usize::from(own)));
    for id in &doomed {
        rds.delete_snapshot(kind, id).await?;
    }
    Ok(doomed)
}

/// Deletes the source's sanitized snapshots beyond the newest `KEEP` (every page, by tag).
pub(super) async fn prune(s: &mut State, deps: &Deps) -> Result<(), StepError> {
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
