//! Per-invocation counters, emitted as one CloudWatch EMF line.

use sluice_runtime::metrics::Metrics;

/// What one invocation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records received.
    pub records: u64,
    /// Records answered `Ok`.
    pub ok: u64,
    /// `CONTROL_MESSAGE` records (answered `Dropped`).
    pub control: u64,
    /// Data messages without events (answered `Dropped`).
    pub empty: u64,
    /// Records answered `ProcessingFailed`.
    pub failed: u64,
    /// Records re-ingested whole because the response was full.
    pub reingested_for_budget: u64,
    /// Records re-ingested in pieces because their output was over the record limit.
    pub split: u64,
    /// Re-ingested payloads (pieces) accepted.
    pub pieces_reingested: u64,
    /// Put calls made for re-ingest, retries included.
    pub reingest_calls: u64,
    /// Pieces sent again after a partial or failed call.
    pub reingest_retried_pieces: u64,
    /// Log events in data messages received.
    pub events_in: u64,
    /// Log events delivered in `Ok` records.
    pub events_delivered: u64,
    /// Log events put back on a stream.
    pub events_reingested: u64,
    /// Bytes of log text delivered (before base64).
    pub bytes_delivered: u64,
}

impl Stats {
    /// The EMF metric set for these counters (namespace `Sluice`, dimension `Function`).
    pub fn metrics(&self) -> Metrics {
        let mut m = Metrics::new("Sluice").dimension("Function", "cloudwatch-processor");
        m.count("Records", self.records)
            .count("RecordsOk", self.ok)
            .count("ControlMessages", self.control)
            .count("RecordsFailed", self.failed)
            .count("RecordsReingested", self.reingested_for_budget + self.split)
            .count("PiecesReingested", self.pieces_reingested)
            .count("ReingestRetriedPieces", self.reingest_retried_pieces)
            .count("EventsDelivered", self.events_delivered)
            .count("EventsReingested", self.events_reingested)
            .bytes("BytesDelivered", self.bytes_delivered);
        m
    }

    /// Adds what one put-back did (pieces accepted, calls, pieces sent again).
    pub fn count_reingest(&mut self, done: crate::reingest::ReingestStats) {
        self.pieces_reingested += done.pieces;
        self.reingest_calls += done.calls;
        self.reingest_retried_pieces += done.retried_pieces;
    }

    /// Writes the EMF line to stdout.
    pub fn emit(&self) {
        self.metrics().flush();
    }
}
