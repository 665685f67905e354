//! The steps. Each reads what it needs from the state, does its AWS calls, and records what it
//! made; re-running a step finds what an earlier attempt made (by tag) instead of making it twice.
//!
//! This file dispatches one step per invocation and holds what the phases share; the steps live
//! by phase: [`source`] (guard, validate, the source snapshot or clone, the restore),
//! [`sanitize`] (the task), [`publish`] (snapshot, copy, share, DR, prune) and [`finish`]
//! (cleanup and the result event).

use sluice_runtime::{ErrorKind, StepError};
use sluice_snapshots::ids::IdKind;
use sluice_snapshots::status::{Readiness, Resource};

use crate::aws::{ROLE_TAG, RUN_TAG, SOURCE_TAG};
use crate::state::{Kind, Request, State};
use crate::{Deps, STEPS};

mod attest;
mod finish;
mod publish;
mod sanitize;
mod source;

use attest::attest;
pub(crate) use attest::read_json;
pub(crate) use finish::put_event;
use finish::{cleanup, notify};
use publish::{
    copy_encrypted, copy_to_dr, prune, share_snapshot, snapshot_temp, wait_dr_copy, wait_snapshot,
    wait_temp_snapshot,
};
pub(crate) use sanitize::{TaskSpec, run_task, started_task, task_readiness};
use sanitize::{run_sanitizer, wait_sanitizer};
use source::{guard, restore, snapshot_source, validate, wait_restored, wait_source_snapshot};

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
    // What each awaited phase took, for the attestation report.
    let phase = match step.as_str() {
        "waitSourceSnapshot" => Some("sourceSnapshot"),
        "waitRestored" => Some("restore"),
        "waitSanitizer" => Some("sanitize"),
        "waitTempSnapshot" => Some("snapshot"),
        "waitSnapshot" if state.temp_snapshot != state.snapshot => Some("encryptedCopy"),
        "waitDrCopy" => Some("drCopy"),
        _ => None,
    };
    if let (Some(phase), Some(started)) = (phase, state.phase_started) {
        state.durations.insert(phase.to_owned(), now - started);
    }
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
    const PUBLISHING: [&str; 9] = [
        "snapshotTemp",
        "waitTempSnapshot",
        "copyEncrypted",
        "waitSnapshot",
        "share",
        "copyToDr",
        "waitDrCopy",
        "prune",
        "attest",
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
        "attest" => attest(s, deps, now).await?,
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
pub(crate) fn started_by(run_id: &str) -> String {
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

fn run_tags<'a>(s: &'a State, role: &'a str) -> [(&'a str, &'a str); 3] {
    [
        (RUN_TAG, s.run_id.as_str()),
        (ROLE_TAG, role),
        (SOURCE_TAG, s.input.source.id.as_str()),
    ]
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
