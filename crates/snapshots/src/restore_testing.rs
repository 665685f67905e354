//! Restore-testing validation: which AWS Backup restore jobs a validation acts on (read from
//! [`DescribeRestoreJob`](https://docs.aws.amazon.com/aws-backup/latest/devguide/API_DescribeRestoreJob.html)),
//! and the result it posts with
//! [`PutRestoreValidationResult`](https://docs.aws.amazon.com/aws-backup/latest/devguide/API_PutRestoreValidationResult.html).
//! No AWS call here: the function that does them shares this one reading of AWS's rules.

use crate::backup::{SourceKind, source_of};

/// The parts of a `DescribeRestoreJob` answer the decision reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestoreJob<'a> {
    /// `Status`: `PENDING`, `RUNNING`, `COMPLETED`, `ABORTED` or `FAILED`.
    pub status: &'a str,
    /// `CreatedBy.RestoreTestingPlanArn`: set only for a job a restore testing plan started.
    pub restore_testing_plan_arn: Option<&'a str>,
    /// `ResourceType`, e.g. `RDS` or `Aurora`.
    pub resource_type: &'a str,
    /// `CreatedResourceArn`: the restored DB instance or cluster.
    pub created_resource_arn: Option<&'a str>,
}

/// A restore job a validation acts on: its plan, and the restored database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The restore testing plan's name.
    pub plan: String,
    /// Instance or cluster.
    pub kind: SourceKind,
    /// The restored DB instance or cluster identifier.
    pub id: String,
}

/// The name of a restore testing plan ARN
/// (`arn:<partition>:backup:<region>:<account>:restore-testing-plan:<name>-<id>`, as the
/// [Service Authorization Reference](https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsbackup.html)
/// spells it). A plan's name holds only letters, digits and underscores, so it ends at the
/// first `-`.
pub fn plan_name(plan_arn: &str) -> Option<&str> {
    let (_, rest) = plan_arn.split_once(":restore-testing-plan:")?;
    let name = rest.split('-').next().unwrap_or(rest);
    let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then_some(name)
}

/// Whether a validation acts on `job`, given the plan names it acts on (`plans`, empty for
/// every plan): the job is `COMPLETED`, a restore testing plan in `plans` created it, and it
/// restored an RDS instance or an Aurora cluster. Otherwise why not, in one line: such a job
/// gets no result posted (it may be someone's real restore).
pub fn target(job: &RestoreJob<'_>, plans: &[String]) -> Result<Target, String> {
    if job.status != "COMPLETED" {
        return Err(format!("the restore job is {}, not COMPLETED", job.status));
    }
    let Some(plan_arn) = job.restore_testing_plan_arn else {
        return Err("no restore testing plan created the restore job".to_owned());
    };
    let plan = plan_name(plan_arn)
        .ok_or_else(|| format!("{plan_arn:?} is not a restore testing plan ARN"))?;
    if !plans.is_empty() && !plans.iter().any(|p| p == plan) {
        return Err(format!(
            "restore testing plan {plan} is not one of {}",
            plans.join(", ")
        ));
    }
    let arn = job
        .created_resource_arn
        .ok_or_else(|| "the restore job names no created resource".to_owned())?;
    let (kind, id) = source_of(job.resource_type, arn)?;
    Ok(Target {
        plan: plan.to_owned(),
        kind,
        id,
    })
}

/// The `ValidationStatus` a validation posts (AWS also knows `TIMED_OUT` and `VALIDATING`,
/// which Sluice never posts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidationStatus {
    /// The gate passed.
    Successful,
    /// The gate failed, or the validation could not run.
    Failed,
}

impl ValidationStatus {
    /// The API's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Successful => "SUCCESSFUL",
            Self::Failed => "FAILED",
        }
    }
}

/// Characters of a `ValidationStatusMessage` Sluice sends at most (AWS documents no limit; the
/// console shows the message in one line).
pub const MESSAGE_MAX_CHARS: usize = 500;

/// The message of a passed gate: counts only.
pub fn passed_message(verify_queries: u64, text_columns_scanned: u64) -> String {
    format!(
        "Sluice verification gate passed read-only: {verify_queries} verify queries returned no rows; \
         the leak check scanned {text_columns_scanned} text columns and no detector fired outside the allow-list"
    )
}

/// The message of a failed gate or run, from its reason (column names and counts only, as
/// the sanitizer's summary gives them), cut to [`MESSAGE_MAX_CHARS`].
pub fn failed_message(reason: &str) -> String {
    let text = format!("Sluice verification gate failed: {}", reason.trim());
    match text.char_indices().nth(MESSAGE_MAX_CHARS - 1) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
#[path = "restore_testing_tests.rs"]
mod tests;
