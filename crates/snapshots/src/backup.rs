//! Backup actions: which AWS Backup jobs a run acts on, the names a run uses, and when a
//! recovery point may be deleted.

use crate::ids::{self, IdError};

/// What a backup job backed up, as far as backup actions care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// An RDS DB instance (AWS Backup resource type `RDS`, ARN `…:db:<id>`).
    Instance,
    /// An Aurora DB cluster (resource type `Aurora`, ARN `…:cluster:<id>`).
    Cluster,
}

impl SourceKind {
    /// `instance` or `cluster`, as the sanitized-snapshot input spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Instance => "instance",
            Self::Cluster => "cluster",
        }
    }
}

/// The database a backup job backed up, or why the job is not ours to act on.
pub fn source_of(resource_type: &str, resource_arn: &str) -> Result<(SourceKind, String), String> {
    let mut parts = resource_arn.splitn(7, ':');
    let (service, segment, id) = (parts.nth(2), parts.nth(2), parts.next());
    let (expected, kind) = match resource_type {
        "RDS" => ("db", SourceKind::Instance),
        "Aurora" => ("cluster", SourceKind::Cluster),
        other => {
            return Err(format!(
                "resource type {other:?} is not an RDS instance or an Aurora cluster"
            ));
        }
    };
    match (service, segment, id) {
        (Some("rds"), Some(k), Some(id)) if k == expected && !id.is_empty() => {
            Ok((kind, id.to_owned()))
        }
        _ => Err(format!(
            "resource {resource_arn:?} is not an RDS {expected} ARN (resource type {resource_type})"
        )),
    }
}

/// The vault name of a vault ARN (`arn:aws:backup:<region>:<account>:backup-vault:<name>`), or
/// the value itself when it is already a name.
pub fn vault_name(vault: &str) -> &str {
    match vault.split_once(":backup-vault:") {
        Some((_, name)) => name,
        None => vault,
    }
}

/// The Step Functions execution name of the run for backup job `job_id`: `backup-<job id>`,
/// characters Step Functions refuses turned into `-`, within 80 characters. Deterministic, so a
/// duplicate event names the same execution and never starts a second run. When the id had to
/// be changed or cut, a hash of the original keeps different ids apart.
pub fn execution_name(job_id: &str) -> String {
    const MAX: usize = 80;
    let clean: String = job_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = format!("backup-{clean}");
    if clean == job_id && name.len() <= MAX {
        return name;
    }
    let hash = format!("-{:08x}", fnv1a(job_id.as_bytes()));
    let keep = (MAX - hash.len()).min(name.len());
    format!("{}{hash}", &name[..keep])
}

/// The export task identifier of backup job `job_id` (RDS identifier rules, 63 characters).
pub fn export_task_id(job_id: &str) -> Result<String, IdError> {
    ids::temp_name("sluice-export", job_id)
}

/// The S3 prefix of the export: `<root>/<vault>/<resource>/<yyyy>/<mm>/<dd>/<job id>`, the
/// date being the backup's (UTC); `root` is the one prefix the export role may write under.
pub fn export_prefix(
    root: &str,
    vault: &str,
    resource: &str,
    backup_epoch_secs: i64,
    job_id: &str,
) -> String {
    let (y, m, d) = sluice_time::date_of_ms(backup_epoch_secs.saturating_mul(1_000));
    format!("{root}/{vault}/{resource}/{y:04}/{m:02}/{d:02}/{job_id}")
}

/// The actions configured for every backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Actions {
    /// Export the recovery point to S3 as Parquet.
    pub export: bool,
    /// Start a sanitized-snapshot run from the recovery point.
    pub sanitize: bool,
    /// Delete the recovery point once every chosen action succeeded.
    pub delete: bool,
}

impl Actions {
    /// Refuses a deletion with no action before it: that would delete every backup it sees.
    pub fn check(self) -> Result<Self, &'static str> {
        if self.delete && !self.export && !self.sanitize {
            return Err("deleting recovery points needs export or sanitize on: \
                        with neither, every backup in the vault would be deleted unused");
        }
        Ok(self)
    }
}

/// How far the chosen actions got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Done {
    /// The export task reported `COMPLETE`.
    pub exported: bool,
    /// The sanitized-snapshot run `SUCCEEDED`.
    pub sanitized: bool,
}

/// Whether the recovery point may be deleted: deletion is on and every chosen action succeeded.
pub fn may_delete(actions: Actions, done: Done) -> Result<(), String> {
    let actions = actions.check().map_err(str::to_owned)?;
    if !actions.delete {
        return Err("deletion is off".into());
    }
    let mut missing = Vec::new();
    if actions.export && !done.exported {
        missing.push("the export has not completed");
    }
    if actions.sanitize && !done.sanitized {
        missing.push("the sanitized-snapshot run has not succeeded");
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(missing.join(" and "))
    }
}

/// An export task's status, as `DescribeExportTasks` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportStatus {
    /// Finished; the data is in S3.
    Complete,
    /// `STARTING` or `IN_PROGRESS`.
    Running,
    /// `FAILED`, `CANCELED` or `CANCELING`: it will never complete.
    Ended(String),
}

/// Classifies an export task status (any case).
pub fn export_status(status: &str) -> ExportStatus {
    match status.to_ascii_uppercase().as_str() {
        "COMPLETE" => ExportStatus::Complete,
        "STARTING" | "IN_PROGRESS" => ExportStatus::Running,
        other => ExportStatus::Ended(other.to_owned()),
    }
}

fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn instances_and_clusters_are_recognised_and_everything_else_is_refused_with_a_reason() {
        assert_eq!(
            source_of("RDS", "arn:aws:rds:us-east-1:123456789012:db:orders"),
            Ok((SourceKind::Instance, "orders".into()))
        );
        assert_eq!(
            source_of(
                "Aurora",
                "arn:aws:rds:eu-west-1:123456789012:cluster:ledger"
            ),
            Ok((SourceKind::Cluster, "ledger".into()))
        );
        let ebs = source_of("EBS", "arn:aws:ec2:us-east-1:123456789012:volume/vol-1");
        assert!(ebs.unwrap_err().contains("\"EBS\""));
        let mismatch = source_of("RDS", "arn:aws:rds:us-east-1:123456789012:cluster:ledger");
        assert!(mismatch.unwrap_err().contains("not an RDS db ARN"));
        assert!(source_of("Aurora", "arn:aws:rds:us-east-1:1:cluster:").is_err());
    }

    #[test]
    fn vault_names_come_from_arns_or_stay_names() {
        assert_eq!(
            vault_name("arn:aws:backup:us-east-1:123456789012:backup-vault:prod-vault"),
            "prod-vault"
        );
        assert_eq!(vault_name("prod-vault"), "prod-vault");
    }

    #[test]
    fn uuid_job_ids_name_the_execution_as_they_are() {
        let id = "8E1A9F4C-2B7D-4C1E-9A3B-5D6F7E8A9B0C";
        assert_eq!(execution_name(id), format!("backup-{id}"));
    }

    #[test]
    fn export_prefix_is_root_vault_resource_date_and_job() {
        // 2026-11-22T03:10:00Z
        assert_eq!(
            export_prefix(
                "backup-exports",
                "prod-vault",
                "orders",
                1_795_403_400 - 86_400,
                "J1"
            ),
            "backup-exports/prod-vault/orders/2026/11/22/J1"
        );
    }

    #[test]
    fn export_task_ids_follow_rds_rules() {
        let id = export_task_id("8E1A9F4C-2B7D-4C1E-9A3B-5D6F7E8A9B0C").unwrap();
        assert_eq!(id, "sluice-export-8e1a9f4c-2b7d-4c1e-9a3b-5d6f7e8a9b0c");
    }

    #[test]
    fn deletion_needs_an_action_and_every_chosen_action_done() {
        let all = Actions {
            export: true,
            sanitize: true,
            delete: true,
        };
        let both = Done {
            exported: true,
            sanitized: true,
        };
        assert_eq!(may_delete(all, both), Ok(()));
        let half = Done {
            exported: true,
            sanitized: false,
        };
        assert!(may_delete(all, half).unwrap_err().contains("sanitized"));
        let off = Actions {
            delete: false,
            ..all
        };
        assert_eq!(may_delete(off, both), Err("deletion is off".into()));
        let alone = Actions {
            export: false,
            sanitize: false,
            delete: true,
        };
        assert!(alone.check().is_err());
        assert!(may_delete(alone, both).is_err());
    }

    #[test]
    fn export_statuses_are_classified_in_any_case() {
        assert_eq!(export_status("COMPLETE"), ExportStatus::Complete);
        assert_eq!(export_status("complete"), ExportStatus::Complete);
        assert_eq!(export_status("IN_PROGRESS"), ExportStatus::Running);
        assert_eq!(export_status("STARTING"), ExportStatus::Running);
        assert_eq!(
            export_status("FAILED"),
            ExportStatus::Ended("FAILED".into())
        );
        assert_eq!(
            export_status("canceled"),
            ExportStatus::Ended("CANCELED".into())
        );
    }

    proptest! {
        #[test]
        fn execution_names_are_valid_and_deterministic(id in "\\PC{1,120}") {
            let name = execution_name(&id);
            prop_assert!(!name.is_empty() && name.len() <= 80);
            prop_assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
            prop_assert_eq!(name.clone(), execution_name(&id));
        }

        #[test]
        fn ids_differing_only_in_refused_characters_get_different_names(
            id in "[a-z0-9]{4,30}"
        ) {
            prop_assert_ne!(execution_name(&format!("{id}:1")), execution_name(&format!("{id}/1")));
        }
    }
}
