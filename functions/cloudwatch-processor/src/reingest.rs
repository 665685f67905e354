//! Re-ingest: records that cannot be answered in this response are put back on a stream and
//! processed by a later invocation. Batches respect the API limits (500 records, 4 MiB), entries a
//! call reports as failed are retried with exponential backoff, and if anything is still not
//! accepted after the last attempt the caller fails the whole invocation, so Firehose retries the
//! batch: duplicates are possible, loss is not.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use sluice_firehose::{FirehoseEvent, PUT_RECORD_BATCH_MAX_BYTES, PUT_RECORD_BATCH_MAX_RECORDS};

use crate::config::{Config, TargetChoice};

/// A boxed, sendable future: what [`Reingest`] methods return, so the trait works as `&dyn`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The stream re-ingested records go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The delivery stream itself (`PutRecordBatch`), by name.
    DeliveryStream(String),
    /// The Kinesis stream feeding the delivery stream (`PutRecords`), by name.
    KinesisStream(String),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::DeliveryStream(n) => write!(f, "delivery stream {n}"),
            Self::KinesisStream(n) => write!(f, "Kinesis stream {n}"),
        }
    }
}

/// One record to put back: a gzipped subscription payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// The Firehose record it came from.
    pub record_id: String,
    /// The gzipped payload (the original record, or one part of it).
    pub data: Vec<u8>,
    /// Kinesis partition key (ignored by Firehose): record id and piece number, so pieces spread.
    pub partition_key: String,
}

/// A failed put call (as a whole, not per entry).
#[derive(Debug, thiserror::Error)]
#[error("{operation} to {target} failed ({code})")]
pub struct ReingestError {
    /// The API operation, e.g. `PutRecordBatch`.
    pub operation: &'static str,
    /// Where it was sent.
    pub target: String,
    /// The service's error code, or `unknown`.
    pub code: String,
    /// The SDK error.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl ReingestError {
    /// Builds the error for `operation` on `target`, with the service's code when it gave one.
    pub fn new(
        operation: &'static str,
        target: &str,
        code: Option<&str>,
        source: Box<dyn std::error::Error + Send + Sync>,
    ) -> Self {
        Self {
            operation,
            target: target.to_owned(),
            code: code.unwrap_or("unknown").to_owned(),
            source,
        }
    }
}

/// Puts gzipped payloads on a stream: the one capability re-ingest needs from AWS.
pub trait Reingest: Send + Sync {
    /// Puts `pieces` in ONE call; returns, per piece in order, `None` when accepted or the
    /// per-record error code when refused (a partial failure).
    fn put_batch<'a>(
        &'a self,
        target: &'a Target,
        pieces: &'a [Piece],
    ) -> BoxFuture<'a, Result<Vec<Option<String>>, ReingestError>>;
}

/// Why re-ingest could not complete; the invocation fails so Firehose retries the batch.
#[derive(Debug, thiserror::Error)]
pub enum ReingestFailure {
    /// `REINGEST_TARGET=kinesis` but the delivery stream has no Kinesis source.
    #[error(
        "REINGEST_TARGET is kinesis but the event from {delivery_stream_arn} has no sourceKinesisStreamArn"
    )]
    NoKinesisSource {
        /// The delivery stream that invoked us.
        delivery_stream_arn: String,
    },
    /// A stream ARN without a name part.
    #[error("cannot take a stream name from ARN {arn}")]
    BadArn {
        /// The ARN as received.
        arn: String,
    },
    /// Entries still refused after the last attempt.
    #[error(
        "{pending} of {total} re-ingested pieces (records {record_ids}) not accepted by {target} after {attempts} attempts; last problem: {last}"
    )]
    NotAccepted {
        /// Where they were sent.
        target: String,
        /// Pieces still not accepted.
        pending: usize,
        /// Pieces in the batch.
        total: usize,
        /// Up to five of the affected record ids.
        record_ids: String,
        /// Attempts made.
        attempts: u32,
        /// The last call error or per-record error code.
        last: String,
    },
}

/// Picks the re-ingest target for `event` following `choice` (see [`TargetChoice`]).
pub fn choose_target(
    event: &FirehoseEvent,
    choice: TargetChoice,
) -> Result<Target, ReingestFailure> {
    let kinesis = event.source_kinesis_stream_arn.as_deref();
    match (choice, kinesis) {
        (TargetChoice::Kinesis | TargetChoice::Auto, Some(arn)) => {
            Ok(Target::KinesisStream(name_from_arn(arn)?))
        }
        (TargetChoice::Kinesis, None) => Err(ReingestFailure::NoKinesisSource {
            delivery_stream_arn: event.delivery_stream_arn.clone(),
        }),
        (TargetChoice::Firehose | TargetChoice::Auto, _) => Ok(Target::DeliveryStream(
            name_from_arn(&event.delivery_stream_arn)?,
        )),
    }
}

/// `arn:aws:firehose:r:a:deliverystream/NAME` or `arn:aws:kinesis:r:a:stream/NAME` → `NAME`.
fn name_from_arn(arn: &str) -> Result<String, ReingestFailure> {
    arn.split_once('/')
        .map(|(_, name)| name.to_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ReingestFailure::BadArn {
            arn: arn.to_owned(),
        })
}

/// What re-ingest did, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReingestStats {
    /// Pieces accepted (every piece given, when it succeeds).
    pub pieces: u64,
    /// Put calls made (retries included).
    pub calls: u64,
    /// Pieces sent again after a partial failure or a failed call.
    pub retried_pieces: u64,
}

/// Puts every piece on `target` in batches within the API limits, retrying refused entries with
/// exponential backoff; `Ok` only when every piece was accepted.
pub async fn reingest_all(
    reingest: &dyn Reingest,
    target: &Target,
    pieces: Vec<Piece>,
    config: &Config,
) -> Result<ReingestStats, ReingestFailure> {
    let mut stats = ReingestStats {
        pieces: pieces.len() as u64,
        ..ReingestStats::default()
    };
    for batch in batches(
        pieces,
        PUT_RECORD_BATCH_MAX_RECORDS,
        PUT_RECORD_BATCH_MAX_BYTES,
    ) {
        put_with_retries(reingest, target, batch, config, &mut stats).await?;
    }
    Ok(stats)
}

/// Groups pieces, in order, into batches of at most `max_records` and `max_bytes` of data.
pub fn batches(pieces: Vec<Piece>, max_records: usize, max_bytes: usize) -> Vec<Vec<Piece>> {
    let mut out: Vec<Vec<Piece>> = Vec::new();
    let mut bytes = 0;
    for piece in pieces {
        let full = out
            .last()
            .is_none_or(|b| b.len() >= max_records || bytes + piece.data.len() > max_bytes);
        if full {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes += piece.data.len();
        if let Some(batch) = out.last_mut() {
            batch.push(piece);
        }
    }
    out
}

async fn put_with_retries(
    reingest: &dyn Reingest,
    target: &Target,
    mut pending: Vec<Piece>,
    config: &Config,
    stats: &mut ReingestStats,
) -> Result<(), ReingestFailure> {
    let total = pending.len();
    let mut last = String::new();
    for attempt in 1..=config.max_attempts {
        if attempt > 1 {
            stats.retried_pieces += pending.len() as u64;
            tokio::time::sleep(backoff(config.backoff, attempt)).await;
        }
        stats.calls += 1;
        match reingest.put_batch(target, &pending).await {
            Ok(codes) if codes.len() == pending.len() => {
                let mut codes = codes.into_iter();
                pending.retain(|_| match codes.next().flatten() {
                    Some(code) => {
                        last = format!("record error {code}");
                        true
                    }
                    None => false,
                });
            }
            Ok(codes) => {
                last = format!("{} results for {} records", codes.len(), pending.len());
            }
            Err(e) => {
                tracing::warn!(%target, attempt, error = %e, "re-ingest call failed");
                last = e.to_string();
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        tracing::warn!(%target, attempt, pending = pending.len(), "re-ingest incomplete");
    }
    let mut ids: Vec<&str> = pending.iter().map(|p| p.record_id.as_str()).collect();
    ids.dedup();
    ids.truncate(5);
    Err(ReingestFailure::NotAccepted {
        target: target.to_string(),
        pending: pending.len(),
        total,
        record_ids: ids.join(", "),
        attempts: config.max_attempts,
        last,
    })
}

/// Delay before `attempt` (2, 3, …): `base`, `2·base`, `4·base`, … capped at 10 s.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(2).min(16);
    base.saturating_mul(factor).min(Duration::from_secs(10))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(len: usize) -> Piece {
        Piece {
            record_id: "r".into(),
            data: vec![0; len],
            partition_key: "k".into(),
        }
    }

    #[test]
    fn given_many_pieces_then_batches_respect_count_and_bytes() {
        let pieces: Vec<Piece> = (0..1_200)
            .map(|i| piece(if i % 7 == 0 { 900 } else { 10 }))
            .collect();
        let out = batches(pieces, 500, 4_000);
        assert_eq!(out.iter().map(Vec::len).sum::<usize>(), 1_200);
        for b in &out {
            assert!(b.len() <= 500);
            assert!(b.iter().map(|p| p.data.len()).sum::<usize>() <= 4_000);
        }
    }

    #[test]
    fn given_attempts_then_backoff_doubles_and_caps() {
        let base = Duration::from_millis(100);
        assert_eq!(backoff(base, 2), base);
        assert_eq!(backoff(base, 3), base * 2);
        assert_eq!(backoff(base, 4), base * 4);
        assert_eq!(backoff(base, 40), Duration::from_secs(10));
    }

    #[test]
    fn given_arns_then_names_taken() {
        assert_eq!(
            name_from_arn("arn:aws:firehose:us-east-1:1:deliverystream/cw").expect("ok"),
            "cw"
        );
        assert!(name_from_arn("arn:aws:kinesis:us-east-1:1:stream/").is_err());
    }
}
