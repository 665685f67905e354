//! What a resource's status means to a step that waits for it.
//!
//! A waiting step answers `NotReady` while a resource is on its way; a status it can never
//! leave for the one wanted fails the run at once with the status in the cause, instead of
//! retrying until the execution times out. Statuses are compared case-insensitively; one
//! this table does not know is treated as "not yet" (RDS adds transitional statuses over time),
//! and the state machine's retry limit bounds that wait.

/// Where a resource stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Usable now.
    Ready,
    /// Still changing; ask again later.
    NotReady(String),
    /// Can never become usable; the cause names the resource and its status.
    Failed(String),
}

/// The kinds of resource the pipeline waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// A DB instance (`DBInstanceStatus`).
    Instance,
    /// An Aurora DB cluster (`Status`).
    Cluster,
    /// A DB snapshot or DB cluster snapshot (`Status`).
    Snapshot,
}

/// Instance and cluster statuses after which a restore or a sanitize can never go on.
const DB_TERMINAL: &[&str] = &[
    "failed",
    "incompatible-network",
    "incompatible-option-group",
    "incompatible-parameters",
    "incompatible-restore",
    "incompatible-credentials",
    "inaccessible-encryption-credentials",
    "inaccessible-encryption-credentials-recoverable",
    "restore-error",
    "storage-full",
    "deleting",
    "deleted",
    "stopped",
    "stopping",
    "insufficient-capacity",
    "cloning-failed",
    "migration-failed",
];

/// Snapshot statuses that never become `available`.
const SNAPSHOT_TERMINAL: &[&str] = &[
    "failed",
    "error",
    "deleting",
    "deleted",
    "incompatible-restore",
];

/// Classifies `status` of resource `id` of kind `resource`.
pub fn classify(resource: Resource, id: &str, status: &str) -> Readiness {
    let s = status.to_ascii_lowercase();
    let what = match resource {
        Resource::Instance => "DB instance",
        Resource::Cluster => "DB cluster",
        Resource::Snapshot => "snapshot",
    };
    let terminal = match resource {
        Resource::Instance | Resource::Cluster => DB_TERMINAL,
        Resource::Snapshot => SNAPSHOT_TERMINAL,
    };
    if s == "available" {
        Readiness::Ready
    } else if terminal.contains(&s.as_str()) {
        Readiness::Failed(format!(
            "{what} {id} is {status} and can never become available"
        ))
    } else {
        Readiness::NotReady(format!("{what} {id} is {status}"))
    }
}

/// A resource that is gone (`DBInstanceNotFound`, `DBSnapshotNotFound`, …) while waited for.
pub fn vanished(resource: Resource, id: &str) -> Readiness {
    classify(resource, id, "deleted")
}

/// Where a sanitizer task stands: ECS `lastStatus` and, once `STOPPED`, the essential
/// container's exit code and the task's stop reason.
pub fn task(
    task_arn: &str,
    last_status: &str,
    exit_code: Option<i32>,
    stopped_reason: Option<&str>,
) -> Readiness {
    if !last_status.eq_ignore_ascii_case("STOPPED") {
        return Readiness::NotReady(format!("sanitizer task {task_arn} is {last_status}"));
    }
    match exit_code {
        Some(0) => Readiness::Ready,
        Some(code) => Readiness::Failed(format!(
            "sanitizer task {task_arn} exited with code {code}{}",
            reason(stopped_reason)
        )),
        // No exit code: the container never ran (image pull, network, capacity).
        None => Readiness::Failed(format!(
            "sanitizer task {task_arn} stopped without an exit code{}",
            reason(stopped_reason)
        )),
    }
}

fn reason(stopped_reason: Option<&str>) -> String {
    stopped_reason
        .filter(|r| !r.is_empty())
        .map(|r| format!(": {r}"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_available_when_classified_then_ready() {
        assert_eq!(
            classify(Resource::Instance, "tmp-1", "available"),
            Readiness::Ready
        );
        assert_eq!(
            classify(Resource::Snapshot, "s", "AVAILABLE"),
            Readiness::Ready
        );
    }

    #[test]
    fn given_transitional_or_unknown_status_then_not_ready() {
        for s in [
            "creating",
            "backing-up",
            "modifying",
            "configuring-log-exports",
            "brand-new",
        ] {
            assert!(matches!(
                classify(Resource::Instance, "tmp-1", s),
                Readiness::NotReady(_)
            ));
        }
        assert!(matches!(
            classify(Resource::Snapshot, "s", "copying"),
            Readiness::NotReady(_)
        ));
    }

    #[test]
    fn given_terminal_status_then_failed_with_clear_cause() {
        for s in ["failed", "incompatible-network", "storage-full", "deleted"] {
            let Readiness::Failed(cause) = classify(Resource::Cluster, "tmp-c", s) else {
                panic!("{s} must fail");
            };
            assert!(cause.contains("tmp-c") && cause.contains(s), "{cause}");
        }
        assert!(matches!(
            vanished(Resource::Snapshot, "s1"),
            Readiness::Failed(_)
        ));
    }

    #[test]
    fn given_task_states_then_exit_code_zero_required() {
        assert!(matches!(
            task("arn:t", "RUNNING", None, None),
            Readiness::NotReady(_)
        ));
        assert_eq!(task("arn:t", "STOPPED", Some(0), None), Readiness::Ready);
        let Readiness::Failed(cause) = task(
            "arn:t",
            "STOPPED",
            Some(3),
            Some("Essential container exited"),
        ) else {
            panic!("non-zero exit must fail");
        };
        assert!(cause.contains("code 3") && cause.contains("Essential container exited"));
        assert!(matches!(
            task("arn:t", "STOPPED", None, Some("CannotPullContainerError")),
            Readiness::Failed(c) if c.contains("CannotPullContainerError")
        ));
    }
}
