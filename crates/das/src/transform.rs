//! A whole Firehose invocation: every record through [`crate::record`], data keys through the
//! cache and KMS, answers kept under the 6 MB budget, per-command copies grouped.
//!
//! Decisions the issue left open:
//! - **Partition date**: a record whose kept events span several dates is partitioned by the
//!   *first* kept event's date (`logTime`, else `startTime`); when no kept event has a readable
//!   time, the record's Firehose arrival time; else `unknown`.
//! - **Partition class**: the class all kept events share, `mixed` when they differ.
//! - **Response budget**: when a record's NDJSON would push the response past the budget, or
//!   past Firehose's per-record limit, its events are spilled: written by the function to S3
//!   under the delivery stream's partition layout ([`crate::spill`]) and the record answered
//!   `Dropped`. Without a spill target that record is answered `ProcessingFailed` with its
//!   original (still encrypted) data and the reason, so it lands under Firehose's error prefix
//!   for re-drive (`das-decrypt replay`); its events are not copied either. The budget reserves
//!   that echo for every record up front, so the response never passes 6 MB however many
//!   records overflow.
//! - **KMS outage** (throttling, 5xx, network) fails the invocation: Firehose retries the batch.
//! - **Data keys** are decrypted before any record is opened: the batch's distinct uncached keys
//!   concurrently, at most `DAS_KMS_CONCURRENCY` calls in flight ([`crate::keys`]). A refused key
//!   fails only the records that carry it.

use std::sync::Arc;

use sluice_firehose::{
    FirehoseEvent, FirehoseRecord, ResponseBudget, ResponseWriter, sanitize_partition_value,
};
use tracing::warn;

use crate::cache::KeyCache;
use crate::config::DasConfig;
use crate::copies::{CopyObject, CopySet};
use crate::gunzip::Gunzip;
use crate::keys::{BatchKeys, KeySource};
use crate::kms::{KeyDecryptor, KmsError};
use crate::partition::{PartitionDate, partition_keys};
use crate::record::{self, OutputLimit, RecordError, Routed};
use crate::source;
use crate::spill::SpillSet;

/// Why the whole invocation fails (Firehose retries it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvocationError {
    /// KMS was unreachable or throttling while decrypting this record's key.
    #[error("record {record_id}: {source}")]
    KmsUnavailable {
        /// The record whose key could not be decrypted.
        record_id: String,
        /// What KMS (or the network) said.
        #[source]
        source: KmsError,
    },
    /// Spilled events could not be compressed (out of memory or similar).
    #[error("spill: {0}")]
    Spill(String),
    /// No resource id: not configured and the source stream is not `aws-rds-das-…`.
    #[error(
        "no DAS resource id: set DAS_RESOURCE_ID or read from an aws-rds-das-* stream (source: {stream_arn:?})"
    )]
    UnknownResource {
        /// The event's `sourceKinesisStreamArn`.
        stream_arn: Option<String>,
    },
}

/// Counters of one invocation, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records answered `Ok`.
    pub records_ok: u64,
    /// Records answered `Dropped`.
    pub records_dropped: u64,
    /// Records answered `ProcessingFailed`.
    pub records_failed: u64,
    /// Events delivered.
    pub events_kept: u64,
    /// Events dropped (heartbeats and filters).
    pub events_dropped: u64,
    /// KMS Decrypt calls made.
    pub kms_calls: u64,
    /// Records whose events were spilled to S3 (answered `Dropped`; counted there too).
    pub records_spilled: u64,
    /// Events spilled to S3 (counted in `events_kept` too).
    pub events_spilled: u64,
}

/// The answer to Firehose, the per-command copies to write, and counters.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The JSON of the response to Firehose (`{"records":[…]}`, one answer per record, in order),
    /// exactly as the function returns it; it reads back as a [`sluice_firehose::FirehoseResponse`].
    pub response: Vec<u8>,
    /// Objects to write when copies are enabled (at most one per command and date).
    pub copies: Vec<CopyObject>,
    /// Spilled events to write before the response is returned (at most one object per
    /// partition).
    pub spills: Vec<CopyObject>,
    /// Counters.
    pub stats: Stats,
}

/// The DAS transformation, built once per container: config, KMS and the data-key cache.
pub struct Transformer {
    config: DasConfig,
    kms: Arc<dyn KeyDecryptor>,
    cache: KeyCache,
}

impl std::fmt::Debug for Transformer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transformer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Resource id, its partition-key value and the encryption-context key of one invocation.
struct Source {
    resource_id: String,
    resource_key: String,
    context_key: String,
}

/// Logs when a fallback answer (always reserved up front) did not fit after all.
fn fallback_fits(rec: &FirehoseRecord, fits: bool) {
    if !fits {
        warn!(record_id = %rec.record_id, "response over budget after a fallback answer");
    }
}

impl Transformer {
    /// A transformer over `kms`, with a key cache sized from `config`.
    pub fn new(config: DasConfig, kms: Arc<dyn KeyDecryptor>) -> Self {
        let cache = KeyCache::new(config.key_cache_size);
        Self { config, kms, cache }
    }

    /// The configuration in use.
    pub fn config(&self) -> &DasConfig {
        &self.config
    }

    /// Transforms one Firehose invocation.
    pub async fn transform(&self, event: &FirehoseEvent) -> Result<Outcome, InvocationError> {
        let source = self.source(event)?;
        let mut response = ResponseWriter::new(ResponseBudget::new().reserve_failed_for(event));
        let mut stats = Stats::default();
        let mut copies = CopySet::default();
        let mut gunzip = Gunzip::new();
        // First pass: decode every record once and collect its key; then the batch's distinct
        // uncached keys are decrypted concurrently; then each record is opened in order.
        let prepared: Vec<_> = event.records.iter().map(prepare).collect();
        let key_source = KeySource {
            kms: self.kms.as_ref(),
            cache: &self.cache,
            context_key: &source.context_key,
            resource_id: &source.resource_id,
            concurrency: self.config.kms_concurrency,
        };
        let wanted = event.records.iter().zip(&prepared).filter_map(|(rec, p)| {
            let p = p.as_ref().ok()?;
            Some((rec.record_id.as_str(), p.key.as_slice()))
        });
        let (keyrings, kms_calls) =
            key_source
                .resolve(wanted)
                .await
                .map_err(|o| InvocationError::KmsUnavailable {
                    record_id: o.record_id,
                    source: o.source,
                })?;
        stats.kms_calls = kms_calls;
        let mut spills = SpillSet::default();
        for (rec, prepared) in event.records.iter().zip(&prepared) {
            // What this record's answer may take once its own reservation is released; routing
            // stops early (and the record fails) when its NDJSON's base64 could not fit in it.
            let limit = OutputLimit::Firehose {
                response_room: response.room_for_next() / 4 * 3,
            };
            let opened = match self.open(rec, prepared, &keyrings, limit, &mut gunzip) {
                // Too large for the response: read again whole, to spill when that is on.
                Err(RecordError::OutputTooLarge { .. } | RecordError::BudgetExceeded { .. })
                    if self.config.spill.is_some() =>
                {
                    self.open(
                        rec,
                        prepared,
                        &keyrings,
                        OutputLimit::Unlimited,
                        &mut gunzip,
                    )
                    .map(|routed| (routed, false))
                }
                other => other.map(|routed| (routed, true)),
            };
            let error = match opened {
                Ok((routed, _)) if routed.kept.is_empty() => {
                    stats.events_dropped += routed.dropped as u64;
                    stats.records_dropped += 1;
                    fallback_fits(rec, response.dropped(&rec.record_id));
                    continue;
                }
                Ok((routed, may_fit)) => {
                    let date = PartitionDate::of(&routed, rec.approximate_arrival_timestamp);
                    let class = sanitize_partition_value(&routed.class);
                    let keys = partition_keys(&source.resource_key, &class, &date);
                    let delivered =
                        if may_fit && response.try_ok(&rec.record_id, &routed.ndjson, &keys) {
                            stats.records_ok += 1;
                            true
                        } else if self.config.spill.is_some() {
                            spills.add(keys.map(|(_, v)| v).join("/"), &routed);
                            stats.records_spilled += 1;
                            stats.events_spilled += routed.kept.len() as u64;
                            stats.records_dropped += 1;
                            fallback_fits(rec, response.dropped(&rec.record_id));
                            true
                        } else {
                            false
                        };
                    if delivered {
                        stats.events_kept += routed.kept.len() as u64;
                        stats.events_dropped += routed.dropped as u64;
                        if self.config.copies.is_some() {
                            copies.add(&routed, &date);
                        }
                        continue;
                    }
                    RecordError::BudgetExceeded {
                        record_id: rec.record_id.clone(),
                    }
                }
                Err(e) => e,
            };
            // The reason is logged, never plaintext; the answer echoes the original data.
            warn!(record_id = %rec.record_id, kind = error.kind(), %error, "record failed");
            stats.records_failed += 1;
            fallback_fits(rec, response.failed(rec));
        }
        let spills = match &self.config.spill {
            Some(target) if !spills.is_empty() => spills
                .into_objects(target, &event.invocation_id)
                .map_err(|e| InvocationError::Spill(e.to_string()))?,
            _ => Vec::new(),
        };
        let copies = match &self.config.copies {
            Some(target) => copies.into_objects(target, &event.invocation_id),
            None => Vec::new(),
        };
        Ok(Outcome {
            response: response.finish(),
            copies,
            spills,
            stats,
        })
    }

    fn source(&self, event: &FirehoseEvent) -> Result<Source, InvocationError> {
        let resource_id = match &self.config.resource_id {
            Some(id) => id.clone(),
            None => event
                .source_kinesis_stream_arn
                .as_deref()
                .and_then(source::resource_id_from_stream_arn)
                .map(str::to_owned)
                .ok_or_else(|| InvocationError::UnknownResource {
                    stream_arn: event.source_kinesis_stream_arn.clone(),
                })?,
        };
        let context_key = self
            .config
            .context_key
            .clone()
            .unwrap_or_else(|| source::context_key_for(&resource_id).to_owned());
        Ok(Source {
            resource_key: sanitize_partition_value(&resource_id),
            resource_id,
            context_key,
        })
    }

    /// One record after the first pass, its kept events' NDJSON within `limit`.
    fn open(
        &self,
        rec: &FirehoseRecord,
        prepared: &Result<Prepared, RecordError>,
        keys: &BatchKeys,
        limit: OutputLimit,
        gunzip: &mut Gunzip,
    ) -> Result<Routed, RecordError> {
        let id = rec.record_id.as_str();
        let prepared = prepared.as_ref().map_err(Clone::clone)?;
        let keyring = keys.keyring(id, &prepared.key)?;
        let message = prepared.events.as_ref().map_err(Clone::clone)?;
        let cap = self.config.max_plaintext_bytes;
        record::open_events(id, message, &keyring, gunzip, cap).and_then(|plain| {
            let (filters, redaction) = (&self.config.filters, self.config.redaction);
            record::route_events(id, &plain, filters, redaction, limit)
        })
    }
}

/// A record after the first pass: its decoded `key`, and its decoded `databaseActivityEvents`
/// or why that field is bad (reported only once the key is known good, as before the keys of a
/// batch were decrypted up front).
struct Prepared {
    key: Vec<u8>,
    events: Result<Vec<u8>, RecordError>,
}

/// First pass over one record: base64, the outer JSON, both base64 fields; decoded once.
fn prepare(rec: &FirehoseRecord) -> Result<Prepared, RecordError> {
    let id = rec.record_id.as_str();
    let bytes = record::decode_field(id, "data", &rec.data)?;
    let das = record::parse_record(id, &bytes)?;
    let key = record::decode_field(id, "key", &das.key)?;
    let events = record::decode_field(id, "databaseActivityEvents", &das.database_activity_events);
    Ok(Prepared { key, events })
}
