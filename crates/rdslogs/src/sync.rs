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
//!
//! A run with nothing to copy but something to record (files gone from the listing, a
//! reconciliation) writes the state once, `If-Match` the version it read, without a lease.

use futures_util::StreamExt;
use futures_util::stream;
use tokio::sync::Semaphore;

use crate::budget::Budget;
pub use crate::claim::{Claim, Conflict};
use crate::claim::{load_state, state_body};
use crate::copy::{CopyOptions, Source, buffer_bytes, copy_shared, small_file_slack};
use crate::error::{CopyError, InstanceError, StoreError, chain};
use crate::naming::{instance_prefix, object_key, state_key};
use crate::ports::{Conditional, ListFilter, LogSource, ObjectStore, Precondition};
use crate::reconcile::{due, keys_under, restore_missing};
pub use crate::report::{FileResult, InstanceReport};
use crate::state::{FileRecord, Lease, LogFile, Reason, Seen, plan};

/// Reconciliations a day apart: the default of [`SyncOptions::reconcile_every_ms`].
pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The default of [`SyncOptions::memory_budget`]: 32 MiB, four 8 MiB parts (measured through
/// moto, `functions/log-syncer/benches/moto_sync.rs`: with 40 MiB the process peaked above
/// 64 MiB on one 2 GiB file).
pub const DEFAULT_MEMORY_BUDGET: usize = 32 * 1024 * 1024;

/// Settings of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncOptions {
    /// Key prefix (`rds-logs`).
    pub prefix: String,
    /// Part size and compression.
    pub copy: CopyOptions,
    /// `DescribeDBLogFiles` filters.
    pub filter: ListFilter,
    /// Files copied at once, across all instances, at most (the memory budget may let fewer).
    pub file_concurrency: usize,
    /// Bytes of part buffers all copies of the run hold at once, at most (see
    /// [`crate::budget`]): each copy needs two parts' worth, more lets parts of one file
    /// upload at once.
    pub memory_budget: usize,
    /// Instances synced at once.
    pub instance_concurrency: usize,
    /// This run's identity and lease length.
    pub claim: Claim,
    /// How long after an instance's last reconciliation a run reconciles it again, ms
    /// (0: every run). See [`crate::reconcile`].
    pub reconcile_every_ms: i64,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            prefix: "rds-logs".into(),
            copy: CopyOptions::default(),
            filter: ListFilter::default(),
            file_concurrency: 4,
            memory_budget: DEFAULT_MEMORY_BUDGET,
            instance_concurrency: 4,
            claim: Claim::default(),
            reconcile_every_ms: DAY_MS,
        }
    }
}

/// Syncs every instance, `instance_concurrency` at a time; reports in the given order.
pub async fn sync_all(
    source: &dyn LogSource,
    store: &dyn ObjectStore,
    opts: &SyncOptions,
    instances: &[String],
) -> Vec<InstanceReport> {
    let limits = Limits::new(opts);
    let mut reports: Vec<(usize, InstanceReport)> = stream::iter(instances.iter().enumerate())
        .map(|(i, id)| {
            let limits = &limits;
            async move { (i, sync_instance(source, store, opts, limits, id).await) }
        })
        .buffer_unordered(opts.instance_concurrency.max(1))
        .collect()
        .await;
    reports.sort_by_key(|(i, _)| *i);
    reports.into_iter().map(|(_, r)| r).collect()
}

/// What the copies of a run share, across instances.
#[derive(Debug)]
pub struct Limits {
    /// One permit per file copied at once.
    pub files: Semaphore,
    /// The part buffers of all copies.
    pub memory: Budget,
}

impl Limits {
    /// A run's limits: `file_concurrency` files, `memory_budget` bytes of part buffers.
    pub fn new(opts: &SyncOptions) -> Self {
        Self {
            files: Semaphore::new(opts.file_concurrency.max(1)),
            memory: Budget::new(opts.memory_budget),
        }
    }
}

/// Syncs one instance; `limits` bound the copies running at once across instances.
pub async fn sync_instance(
    source: &dyn LogSource,
    store: &dyn ObjectStore,
    opts: &SyncOptions,
    limits: &Limits,
    instance: &str,
) -> InstanceReport {
    let mut report = InstanceReport {
        instance: instance.to_owned(),
        ..InstanceReport::default()
    };
    if let Err(error) = run(source, store, opts, limits, &mut report).await {
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
    limits: &Limits,
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
    let mut plan = plan(&listing, &old, opts.filter.is_narrowing());
    // Due, every file listed is either copied by this run or checked against S3 below.
    let mut reconciling = due(old.reconciled_at, opts.claim.now, opts.reconcile_every_ms);
    let mut checks = reconciling && !plan.unchanged.is_empty();
    if checks {
        let under = instance_prefix(&opts.prefix, &instance);
        match keys_under(store, &under).await {
            Ok(present) => {
                for file in restore_missing(&mut plan, &old, &present) {
                    tracing::warn!(instance, file, "copy missing from S3: copied again");
                }
            }
            // The sync goes on without it; the next run tries again (not recorded).
            Err(source) => {
                let error = chain(&InstanceError::Reconcile {
                    instance: instance.clone(),
                    source,
                });
                tracing::error!(instance, %error, "not reconciled: copies missing from S3 are not found");
                report.reconcile_error = Some(error);
                (reconciling, checks) = (false, false);
            }
        }
    }
    report.unchanged = plan.unchanged.len();
    report.vanished.clone_from(&plan.vanished);
    if plan.copy.is_empty() && plan.vanished.is_empty() && plan.lost.is_empty() && !checks {
        return Ok(());
    }
    let mut new = old.clone();
    new.lease = None;
    for gone in &plan.vanished {
        new.files.remove(gone);
    }
    for lost in &plan.lost {
        new.pending.remove(lost);
    }
    if reconciling {
        new.reconciled_at = Some(opts.claim.now);
    }
    if plan.copy.is_empty() {
        // Nothing to copy, so no lease to hold: one write of what changed.
        let written = store
            .put_if(&skey, state_body(&new), read)
            .await
            .map_err(state_err)?;
        record_write(report, &instance, &written);
        report.reconciled = reconciling && report.state_written;
        count_lost(report, &instance, plan.lost);
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
    let listed: Vec<(String, Seen, Reason)> = plan
        .copy
        .iter()
        .map(|(f, reason)| {
            let seen = Seen {
                size: f.size,
                last_written: f.last_written,
            };
            (f.name.clone(), seen, *reason)
        })
        .collect();
    let mut results: Vec<_> = stream::iter(plan.copy)
        .map(|(file, reason)| copy_file(source, store, opts, limits, &instance, file, reason))
        .buffer_unordered(opts.file_concurrency.max(1))
        .collect()
        .await;
    results.sort_by(|a, b| a.0.file().cmp(b.0.file()));
    for (name, seen, reason) in listed {
        // Not copied completely until a result below says so.
        if reason == Reason::Missing {
            new.files.remove(&name);
        }
        new.pending.insert(name, seen);
    }
    for (result, record) in results {
        let name = result.file().to_owned();
        match record {
            Some(record) => {
                new.pending.remove(&name);
                new.files.insert(name, record);
            }
            // RDS served nothing for a size it listed: not a file being lost (see FileResult).
            None if matches!(result, FileResult::EmptyDownload { .. }) => {
                new.pending.remove(&name);
            }
            None => {}
        }
        report.files.push(result);
    }
    // Always written, changed or not: it releases the lease.
    let released = store
        .put_if(&skey, state_body(&new), Precondition::Matches(lease_etag))
        .await
        .map_err(state_err)?;
    record_write(report, &instance, &released);
    report.reconciled = reconciling && report.state_written;
    count_lost(report, &instance, plan.lost);
    Ok(())
}

/// Reports and logs the files lost before copied, once: only when this run's state write
/// (which drops them from `pending`) went through, so a run that lost a race does not count
/// them a second time.
fn count_lost(report: &mut InstanceReport, instance: &str, lost: Vec<String>) {
    if !report.state_written {
        return;
    }
    for file in &lost {
        tracing::error!(
            instance,
            file,
            "rotated away by RDS before it was completely copied: its content is lost"
        );
    }
    report.lost = lost;
}

/// Notes in the report whether the final state write went through.
fn record_write(report: &mut InstanceReport, instance: &str, written: &Conditional) {
    if *written == Conditional::Lost {
        tracing::warn!(
            instance,
            "state changed under this run: left as found, this run's copies not recorded (the next run copies them again)"
        );
        report.conflict = Some(Conflict::StateChanged);
    } else {
        report.state_written = true;
    }
}

async fn copy_file(
    source: &dyn LogSource,
    store: &dyn ObjectStore,
    opts: &SyncOptions,
    limits: &Limits,
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
        let _permit = limits.files.acquire().await.ok();
        // Before the download is opened: a copy waiting for memory holds no connection.
        let share = limits
            .memory
            .reserve(
                buffer_bytes(opts.copy, listed),
                listed,
                small_file_slack(opts.copy),
            )
            .await;
        let mut stream = source.open(instance, &file.name).await?;
        let from = Source {
            instance,
            file: &file.name,
            listed,
        };
        copy_shared(stream.as_mut(), store, &key, from, opts.copy, &share).await
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
