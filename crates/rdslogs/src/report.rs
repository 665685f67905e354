//! What a sync run reports: per instance, per file. Built by [`crate::sync`]; the log
//! syncer's answer and metrics are made from it.

use serde::Serialize;

use crate::claim::Conflict;
use crate::state::Reason;

/// What happened to one file that needed copying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum FileResult {
    /// Copied completely and recorded.
    Copied {
        /// Log file name.
        file: String,
        /// Object key.
        key: String,
        /// Why it was copied.
        reason: Reason,
        /// Bytes read from RDS.
        source_bytes: u64,
        /// Bytes written to S3.
        object_bytes: u64,
    },
    /// The file grew while being copied: the object holds everything read, but the file is
    /// not recorded, so the next run copies it again.
    ChangedDuringCopy {
        /// Log file name.
        file: String,
        /// Object key.
        key: String,
        /// Size listed before the copy.
        listed: i64,
        /// Bytes actually copied.
        copied: u64,
    },
    /// RDS listed a size but served nothing (a known MySQL error-log behaviour): nothing written.
    EmptyDownload {
        /// Log file name.
        file: String,
        /// Size listed.
        listed: i64,
    },
    /// The copy failed; nothing was left at the key as if complete.
    Failed {
        /// Log file name.
        file: String,
        /// The error and its causes.
        error: String,
    },
}

impl FileResult {
    /// The log file's name.
    pub fn file(&self) -> &str {
        match self {
            Self::Copied { file, .. }
            | Self::ChangedDuringCopy { file, .. }
            | Self::EmptyDownload { file, .. }
            | Self::Failed { file, .. } => file,
        }
    }
}

/// The result of one instance's sync.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InstanceReport {
    /// The instance id.
    pub instance: String,
    /// Every file that needed copying, by name.
    pub files: Vec<FileResult>,
    /// Files skipped because they did not change.
    pub unchanged: usize,
    /// Files no longer listed (their copies stay).
    pub vanished: Vec<String>,
    /// Files an earlier run listed but never copied completely, now rotated away by RDS:
    /// their (last) content is lost (`FilesLostBeforeCopy`).
    pub lost: Vec<String>,
    /// Whether this run reconciled the instance and recorded it: every listed file was either
    /// copied or found in S3 (see [`crate::reconcile`]).
    pub reconciled: bool,
    /// Whether the state object was rewritten.
    pub state_written: bool,
    /// Why this run left the instance (or its state) to another run: not a failure.
    pub conflict: Option<Conflict>,
    /// Why the instance could not be synced at all.
    pub error: Option<String>,
    /// Why the due reconciliation could not list the copies (the sync went on without it).
    pub reconcile_error: Option<String>,
}

impl InstanceReport {
    /// Whether another run had the instance ([`Conflict`]).
    pub fn is_busy(&self) -> bool {
        self.conflict.is_some()
    }

    /// No instance error, no failed reconciliation and no failed file.
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
            && self.reconcile_error.is_none()
            && !self
                .files
                .iter()
                .any(|f| matches!(f, FileResult::Failed { .. }))
    }

    /// Files copied completely.
    pub fn copied(&self) -> usize {
        self.files
            .iter()
            .filter(|f| matches!(f, FileResult::Copied { .. }))
            .count()
    }

    /// Files that failed.
    pub fn failed(&self) -> usize {
        self.files
            .iter()
            .filter(|f| matches!(f, FileResult::Failed { .. }))
            .count()
    }

    /// Bytes read from RDS by this run.
    pub fn source_bytes(&self) -> u64 {
        self.files
            .iter()
            .map(|f| match f {
                FileResult::Copied { source_bytes, .. } => *source_bytes,
                FileResult::ChangedDuringCopy { copied, .. } => *copied,
                _ => 0,
            })
            .sum()
    }
}
