//! CloudWatch Logs export: the Firehose transformation that turns CloudWatch Logs subscription
//! payloads into log text in S3, partitioned by account, log group and date.
//!
//! Flow per invocation ([`handle`]): each record is decided on its own ([`record::decide`]):
//! `CONTROL_MESSAGE` → `Dropped`; a data message → `Ok` with formatted lines and partition keys;
//! a bad record → `ProcessingFailed` (reason logged, never content). The response is kept under
//! Lambda's 6 MB limit with a [`ResponseBudget`]; a record that does not fit, or whose output is
//! over Firehose's record limit, is re-ingested ([`reingest`]) and answered `Dropped` only once
//! every piece was accepted. If re-ingest fails for good the invocation fails and Firehose
//! retries the batch: no event is lost to the size limits.

pub mod aws;
pub mod config;
pub mod record;
pub mod reingest;
pub mod split;
pub mod stats;

use sluice_firehose::{FirehoseEvent, FirehoseResponse, ResponseBudget, ResponseRecord};

pub use config::Config;
pub use record::{Decision, decide};
pub use reingest::{Piece, Reingest, ReingestFailure, Target};
pub use stats::Stats;

/// A successful invocation: the response for Firehose and what happened, for metrics.
#[derive(Debug)]
pub struct Processed {
    /// One answer per input record, in order.
    pub response: FirehoseResponse,
    /// Counters for this invocation.
    pub stats: Stats,
}

/// Why an invocation failed as a whole (Firehose then retries the batch).
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// Records that did not fit could not be re-ingested; answering would lose them.
    #[error("re-ingest failed, failing the invocation so Firehose retries: {0}")]
    Reingest(#[from] ReingestFailure),
}

impl From<ProcessError> for lambda_runtime::Diagnostic {
    fn from(e: ProcessError) -> Self {
        sluice_runtime::StepError::new(sluice_runtime::ErrorKind::Aws, e.to_string()).into()
    }
}

/// Transforms one Firehose batch (see the crate docs for the rules).
pub async fn handle(
    event: &FirehoseEvent,
    config: &Config,
    reingest: &dyn Reingest,
) -> Result<Processed, ProcessError> {
    let mut budget = ResponseBudget::with_limit(config.response_limit).reserve_for(event);
    let mut records = Vec::with_capacity(event.records.len());
    let mut pieces: Vec<Piece> = Vec::new();
    let mut stats = Stats {
        records: event.records.len() as u64,
        ..Stats::default()
    };
    for record in &event.records {
        let id = record.record_id.as_str();
        // Arms that answer otherwise `continue`; the rest fall through to `Dropped`.
        match decide(record, config) {
            Decision::Control => stats.control += 1,
            Decision::Empty => stats.empty += 1,
            Decision::Failed(reason) => {
                tracing::warn!(record_id = id, reason, "record failed");
                stats.failed += 1;
                // Echoing the original keeps it under Firehose's error prefix. When the response
                // has no room for it, it goes back on the stream like any other record.
                let failed = ResponseRecord::failed(record);
                if budget.try_add(&failed) {
                    records.push(failed);
                    continue;
                }
                match record.decode_data() {
                    Ok(original) => {
                        stats.reingested_for_budget += 1;
                        pieces.push(piece(id, 0, original));
                    }
                    // Data that is not base64 cannot be put back; echo it regardless.
                    Err(_) => {
                        budget.add(&failed);
                        records.push(failed);
                        continue;
                    }
                }
            }
            Decision::Deliver {
                data,
                keys,
                original,
                events,
            } => {
                stats.events_in += events as u64;
                let ok = ResponseRecord::ok(id, &data, Some(keys));
                if budget.try_add(&ok) {
                    stats.ok += 1;
                    stats.events_delivered += events as u64;
                    stats.bytes_delivered += data.len() as u64;
                    records.push(ok);
                    continue;
                }
                stats.reingested_for_budget += 1;
                stats.events_reingested += events as u64;
                pieces.push(piece(id, 0, original));
            }
            Decision::Split {
                pieces: parts,
                events,
            } => {
                stats.events_in += events as u64;
                stats.split += 1;
                stats.events_reingested += events as u64;
                pieces.extend(parts.into_iter().enumerate().map(|(i, p)| piece(id, i, p)));
            }
        }
        let dropped = ResponseRecord::dropped(id);
        budget.add(&dropped);
        records.push(dropped);
    }
    if !pieces.is_empty() {
        let target = reingest::choose_target(event, config.target)?;
        stats.pieces_reingested = pieces.len() as u64;
        let done = reingest::reingest_all(reingest, &target, pieces, config).await?;
        stats.reingest_calls = done.calls;
        stats.reingest_retried_pieces = done.retried_pieces;
        tracing::info!(%target, pieces = stats.pieces_reingested, "re-ingested");
    }
    Ok(Processed {
        response: FirehoseResponse { records },
        stats,
    })
}

fn piece(record_id: &str, n: usize, data: Vec<u8>) -> Piece {
    let mut partition_key = format!("{n}-{record_id}");
    // Kinesis partition keys are 1–256 Unicode characters; record ids are ASCII.
    partition_key.truncate(256);
    Piece {
        record_id: record_id.to_owned(),
        data,
        partition_key,
    }
}
