//! One sync run: per instance, read the state, list the log files, and when something changed,
//! claim the instance, copy with bounded parallelism, and write the state back.
//!
//! Instances are independent: an instance that fails is reported and the others go on. A file
//! is recorded in the state only when its copy is complete and exactly as long as listed, so a
//! file that changed while being copied is caught up by the next run.
//!
//! Runs may overlap (a manual or retried invocation while the schedule's run goes on). Each
//! instance is copied by one run at a time, by optimistic concurrency on its state object:
//! - the claim is a conditional write of the state just read (`If-Match` its ETag, or
//!   `If-None-Match: *` when there was none) with this run's [`Lease`] in it; the run copies
//!   only after the claim went through;
//! - a run that reads a live lease of another run, or whose claim S3 refuses (412), leaves the
//!   instance to that run ([`Conflict`]): nothing copied, nothing overwritten, not a failure;
//! - the final state (the lease removed) is written `If-Match` the claim's ETag, so a state
//!   changed under the lease is never overwritten either.

use futures_util::StreamExt;
use futures_util::stream;
use serde::Serialize;
use tokio::sync::Semaphore;

pub use crate::claim::{Claim, Conflict};
use crate::claim::{load_state, state_body};
use crate::copy::{CopyOptions, Source, copy};
use crate::error::{CopyError, InstanceError, StoreError, chain};
use crate::naming::{object_key, state_key};
use crate::ports::{Conditional, ListFilter, LogSource, ObjectStore, Precondition};
use crate::state::{FileRecord, Lease, LogFile, Reason, plan};

/// Settings of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncOptions {
    /// Key prefix (`rds-logs`).
    pub prefix: String,
    /// Part size and compression.
    pub copy: CopyOptions,
    /// `DescribeDBLogFiles` filters.
    pub filter: ListFilter,
    /// Files copied at once, across all instances (memory ≈ this × 2 part sizes: one part
    /// uploads while the next is read).
    pub file_concurrency: usize,
    /// Instances synced at once.
    pub instance_concurrency: usize,
    /// This run's identity and lease length.
    pub claim: Claim,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            prefix: "rds-logs".into(),
            copy: CopyOptions::default(),
            filter: ListFilter::default(),
            file_concurrency: 4,
            instance_concurrency: 4,
            claim: Claim::default(),
        }
    }
}

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
    fn file(&self) -> &str {
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
    /// Whether the state object was rewritten.
    pub state_written: bool,
    /// Why this run left the instance (or its state) to another run: not a failure.
    pub conflict: Option<Conflict>,
    /// Why the instance could not be synced at all.
    pub error: Option<String>,
}

impl InstanceReport {
    /// Whether another run had the instance ([`Conflict`]).
    pub fn is_busy(&self) -> bool {
        self.conflict.is_some()
    }

    /// No instance error and no failed file.
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
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

/// Syncs every instance, `instance_concurrency` at a time; reports in the given order.
pub async fn sync_all(
    source: &dyn LogSource,
    store: &dyn ObjectStore,
    opts: &SyncOptions,
    instances: &[String],
) -> Vec<InstanceReport> {
    let permits = Semaphore::new(opts.file_concurrency.max(1));
    let mut reports: Vec<(usize, InstanceReport)> = stream::iter(instances.iter().enumerate())
        .map(|(i, id)| {
            let permits = &permits;
            async move { (i, sync_instance(source, store, opts, permits, id).await) }
        })
        .buffer_unordered(opts.instance_concurrency.max(1))
        .collect()
        .await;
    reports.sort_by_key(|(i, _)| *i);
    reports.into_iter().map(|(_, r)| r).collect()
}

/// Syncs one instance; `permits` bounds the copies running at once across instances.
pub async fn sync_instance(
    source: &dyn LogSource,
    store: &dyn ObjectStore,
    opts: &SyncOptions,
    permits: &Semaphore,
    instance: &str,
) -> InstanceReport {
    let mut report = InstanceReport {
        instance: instance.to_owned(),
        ..InstanceReport::default()
    };
    if let Err(error) = run(source, store, opts, permits, &mut report).await {
        let error = chain(&error);
        tracing::error!(instance, %error, "instance not synced");
        report.error = Some(error);
    }
    report
}

async fn run(
    source: &dyn LogSource,
    store: &dyn ObjectStore,
    opts: &SyncOptions,
    permits: &Semaphore,
    report: &mut InstanceReport,
) -> Result<(), InstanceError> {
    let instance = report.instance.clone();
    let skey = state_key(&opts.prefix, &instance);
    let state_err = |source: StoreError| InstanceError::State {
        instance: instance.clone(),
        source,
    };
    let (old, read) = load_state(store, &skey).await.map_err(state_err)?;
    if let Some(lease) = old.lease.as_ref().filter(|l| l.blocks(opts.claim.now)) {
        tracing::info!(instance, owner = %lease.owner, until = lease.until, "another run is copying: instance left to it");
        report.conflict = Some(Conflict::Leased {
            owner: lease.owner.clone(),
            until: lease.until,
        });
        return Ok(());
    }
    let listing = source
        .log_files(&instance, &opts.filter)
        .await
        .map_err(|source| InstanceError::List {
            instance: instance.clone(),
            source,
        })?;
    let plan = plan(&listing, &old, opts.filter.is_narrowing());
    report.unchanged = plan.unchanged.len();
    report.vanished.clone_from(&plan.vanished);
    if plan.copy.is_empty() && plan.vanished.is_empty() {
        return Ok(());
    }
    let mut claimed = old.clone();
    claimed.lease = Some(Lease {
        owner: opts.claim.owner.clone(),
        until: opts.claim.until,
    });
    let Conditional::Written(lease_etag) = store
        .put_if(&skey, state_body(&claimed), read)
        .await
        .map_err(state_err)?
    else {
        tracing::info!(
            instance,
            "another run claimed the instance first: instance left to it"
        );
        report.conflict = Some(Conflict::ClaimLost);
        return Ok(());
    };
    let mut results: Vec<_> = stream::iter(plan.copy)
        .map(|(file, reason)| copy_file(source, store, opts, permits, &instance, file, reason))
        .buffer_unordered(opts.file_concurrency.max(1))
        .collect()
        .await;
    results.sort_by(|a, b| a.0.file().cmp(b.0.file()));
    let mut new = old.clone();
    new.lease = None;
    for gone in &plan.vanished {
        new.files.remove(gone);
    }
    for (result, record) in results {
        if let Some(record) = record {
            new.files.insert(result.file().to_owned(), record);
        }
        report.files.push(result);
    }
    // Always written, changed or not: it releases the lease.
    let released = store
        .put_if(&skey, state_body(&new), Precondition::Matches(lease_etag))
        .await
        .map_err(state_err)?;
    if released == Conditional::Lost {
        tracing::warn!(
            instance,
            "state changed under this run's lease: left as found, copies not recorded (the next run copies them again)"
        );
        report.conflict = Some(Conflict::StateChanged);
    } else {
        report.state_written = true;
    }
    Ok(())
}

async fn copy_file(
    source: &dyn LogSource,
    store: &dyn ObjectStore,
    opts: &SyncOptions,
    permits: &Semaphore,
    instance: &str,
    file: LogFile,
    reason: Reason,
) -> (FileResult, Option<FileRecord>) {
    let key = object_key(
        &opts.prefix,
        instance,
        &file.name,
        file.last_written,
        opts.copy.gzip,
    );
    let listed = u64::try_from(file.size).unwrap_or(0);
    let result = async {
        let _permit = permits.acquire().await.ok();
        let mut stream = source.open(instance, &file.name).await?;
        let from = Source {
            instance,
            file: &file.name,
            listed,
        };
        copy(stream.as_mut(), store, &key, from, opts.copy).await
    }
    .await;
    let name = file.name.clone();
    match result {
        Ok(c) if c.source_bytes == listed => {
            tracing::info!(instance, file = %name, key, bytes = c.source_bytes, ?reason, "copied");
            let record = FileRecord {
                size: file.size,
                last_written: file.last_written,
                key: key.clone(),
                source_size: c.source_bytes,
                gzip: opts.copy.gzip,
            };
            let result = FileResult::Copied {
                file: name,
                key,
                reason,
                source_bytes: c.source_bytes,
                object_bytes: c.object_bytes,
            };
            (result, Some(record))
        }
        Ok(c) => {
            tracing::warn!(instance, file = %name, listed, copied = c.source_bytes, "changed during copy");
            let result = FileResult::ChangedDuringCopy {
                file: name,
                key,
                listed: file.size,
                copied: c.source_bytes,
            };
            (result, None)
        }
        Err(CopyError::Short { got: 0, .. }) => {
            tracing::warn!(instance, file = %name, listed, "listed size but downloaded empty");
            (
                FileResult::EmptyDownload {
                    file: name,
                    listed: file.size,
                },
                None,
            )
        }
        Err(error) => {
            let error = chain(&error);
            tracing::warn!(instance, file = %name, %error, "copy failed");
            (FileResult::Failed { file: name, error }, None)
        }
    }
}

#[cfg(test)]
#[path = "sync_tests.rs"]
mod tests;
