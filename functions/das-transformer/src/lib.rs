//! The `das-transformer` handler: a Firehose transformation over a Database Activity Stream.
//!
//! `main` builds a [`Handler`] once per container (config, KMS and S3 clients, the data-key cache
//! inside [`Transformer`]) and calls [`Handler::handle`] per invocation. The pipeline itself is
//! `sluice-das`; this crate adds the per-command copy writes, metrics and error mapping.

pub mod decrypt;
pub mod replay;

use std::sync::Arc;

use serde_json::value::RawValue;
use sluice_das::copies::{ObjectWriter, S3ObjectWriter};
use sluice_das::{DasConfig, InvocationError, KmsKeyDecryptor, Stats, Transformer};
use sluice_firehose::FirehoseEvent;
use sluice_runtime::config::Env;
use sluice_runtime::metrics::Metrics;
use sluice_runtime::{ErrorKind, StepError};
use tracing::{error, info};

/// Everything a warm container keeps between invocations.
pub struct Handler {
    transformer: Transformer,
    writer: Arc<dyn ObjectWriter>,
}

impl Handler {
    /// A handler over the given transformer and copy writer (tests pass fakes).
    pub fn new(transformer: Transformer, writer: Arc<dyn ObjectWriter>) -> Self {
        Self {
            transformer,
            writer,
        }
    }

    /// The production handler: KMS and S3 clients from one SDK config.
    pub fn from_sdk(config: DasConfig, sdk: &sluice_runtime::aws::SdkConfig, env: &Env) -> Self {
        let kms = KmsKeyDecryptor::new(aws_sdk_kms::Client::new(sdk));
        let s3 = S3ObjectWriter::new(sluice_runtime::aws::s3_client(sdk, env));
        Self::new(Transformer::new(config, Arc::new(kms)), Arc::new(s3))
    }

    /// Transforms one invocation into the JSON text of Firehose's response, which the runtime
    /// sends as it is (a `RawValue` is not serialised again). Fails the invocation (so Firehose
    /// retries the batch) when KMS is unavailable, the resource is unknown, or spilled events or
    /// a per-command copy cannot be written.
    pub async fn handle(&self, event: &FirehoseEvent) -> Result<Box<RawValue>, StepError> {
        let outcome = self.transformer.transform(event).await.map_err(|e| {
            error!(invocation_id = %event.invocation_id, error = %e, "invocation failed");
            match e {
                InvocationError::KmsUnavailable { .. } => {
                    StepError::new(ErrorKind::Aws, e.to_string())
                }
                InvocationError::UnknownResource { .. } => StepError::config(e.to_string()),
                InvocationError::Spill(_) => StepError::new(ErrorKind::Internal, e.to_string()),
            }
        })?;
        // Spilled events first: their records are answered `Dropped` only once they are stored;
        // a failed write fails the invocation, and Firehose retries the batch.
        for object in &outcome.spills {
            self.writer.put(object).await.map_err(|e| {
                error!(invocation_id = %event.invocation_id, error = %e, "spill write failed");
                StepError::new(ErrorKind::Aws, e.to_string())
            })?;
        }
        for object in &outcome.copies {
            self.writer.put(object).await.map_err(|e| {
                error!(invocation_id = %event.invocation_id, error = %e, "copy write failed");
                StepError::new(ErrorKind::Aws, e.to_string())
            })?;
        }
        info!(
            invocation_id = %event.invocation_id,
            records = event.records.len(),
            ok = outcome.stats.records_ok,
            dropped = outcome.stats.records_dropped,
            failed = outcome.stats.records_failed,
            spilled = outcome.stats.records_spilled,
            copies = outcome.copies.len(),
            "invocation transformed"
        );
        emit_metrics(&outcome.stats);
        // Checked once more as UTF-8 and JSON; neither can fail for what the writer writes.
        // (from_utf8 + from_string: reading a RawValue from bytes is several times slower.)
        let internal = |e: &dyn std::fmt::Display| {
            StepError::new(ErrorKind::Internal, format!("response JSON: {e}"))
        };
        let json = String::from_utf8(outcome.response).map_err(|e| internal(&e))?;
        RawValue::from_string(json).map_err(|e| internal(&e))
    }
}

/// One EMF line of the invocation's counters.
pub fn metrics_line(stats: &Stats, timestamp_ms: u64) -> String {
    build_metrics(stats).to_line(timestamp_ms)
}

fn build_metrics(stats: &Stats) -> Metrics {
    let mut m = Metrics::new("Sluice").dimension("Function", "das-transformer");
    m.count("RecordsOk", stats.records_ok)
        .count("RecordsDropped", stats.records_dropped)
        .count("RecordsFailed", stats.records_failed)
        .count("EventsKept", stats.events_kept)
        .count("EventsDropped", stats.events_dropped)
        .count("KmsCalls", stats.kms_calls)
        .count("RecordsSpilled", stats.records_spilled)
        .count("EventsSpilled", stats.events_spilled);
    m
}

fn emit_metrics(stats: &Stats) {
    build_metrics(stats).flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_stats_when_emitted_then_emf_line_names_every_counter() {
        let stats = Stats {
            records_ok: 2,
            events_kept: 7,
            ..Stats::default()
        };
        let line = metrics_line(&stats, 1);
        for name in [
            "RecordsOk",
            "RecordsDropped",
            "RecordsFailed",
            "EventsKept",
            "EventsDropped",
            "KmsCalls",
        ] {
            assert!(line.contains(name), "{name} in {line}");
        }
        assert!(line.contains("\"EventsKept\":7"));
    }
}
