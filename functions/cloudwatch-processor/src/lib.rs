//! CloudWatch Logs export: the Firehose transformation that turns CloudWatch Logs subscription
//! payloads into log text in S3, partitioned by account, log group and date.
//!
//! Flow per invocation ([`handle`]): each record is decided on its own ([`record::decide`]):
//! `CONTROL_MESSAGE` → `Dropped`; a data message → `Ok` with formatted lines and partition keys;
//! a bad record → `ProcessingFailed` (reason logged, never content). Answers are written straight
//! into the response's JSON text ([`ResponseWriter`], base64 encoded in place), which the runtime
//! sends as it is. The response is kept under
//! Lambda's 6 MB limit with a [`ResponseBudget`]; a record that does not fit, or whose output is
//! over Firehose's record limit, is re-ingested ([`reingest`]) and answered `Dropped` only once
//! every piece was accepted. If re-ingest fails for good the invocation fails and Firehose
//! retries the batch: no event is lost to the size limits.

pub mod aws;
pub mod config;
pub mod early;
pub mod record;
pub mod reingest;
pub mod split;
pub mod stats;

use serde_json::value::RawValue;
use sluice_firehose::{
    FirehoseEvent, FirehoseRecord, FirehoseResponse, ResponseBudget, ResponseRecord, ResponseWriter,
};
use tokio::sync::oneshot;

pub use config::Config;
pub use record::{Decision, decide};
pub use reingest::{Piece, Reingest, ReingestFailure, Target};
pub use stats::Stats;

/// A successful invocation: the response for Firehose and what happened, for metrics.
#[derive(Debug)]
pub struct Processed {
    /// The JSON text of the response (`{"records":[…]}`, one answer per input record, in order),
    /// exactly as the function returns it; [`Self::response`] reads it back.
    pub json: Vec<u8>,
    /// Counters for this invocation.
    pub stats: Stats,
}

impl Processed {
    /// The response read back from [`Self::json`] (for tests and tools).
    pub fn response(&self) -> Result<FirehoseResponse, serde_json::Error> {
        serde_json::from_slice(&self.json)
    }

    /// The response as the runtime sends it: a `RawValue` is written out as it is, never
    /// serialised again.
    pub fn into_raw(self) -> Result<Box<RawValue>, ProcessError> {
        // Checked once more as UTF-8 and JSON; neither can fail for what the writer writes.
        // (from_utf8 + from_string: reading a RawValue from bytes is several times slower.)
        // `from_string` keeps the buffer only when its capacity is its length, else it copies
        // the whole response; shrinking a block this large is done in place by the allocator.
        let mut json = self.json;
        json.shrink_to_fit();
        let json = String::from_utf8(json).map_err(|e| ProcessError::Response(e.to_string()))?;
        RawValue::from_string(json).map_err(|e| ProcessError::Response(e.to_string()))
    }
}

/// Why an invocation failed as a whole (Firehose then retries the batch).
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// Records that did not fit could not be re-ingested; answering would lose them.
    #[error("re-ingest failed, failing the invocation so Firehose retries: {0}")]
    Reingest(#[from] ReingestFailure),
    /// The response text the writer made is not UTF-8 JSON (a bug, never the input's fault).
    #[error("response JSON: {0}")]
    Response(String),
}

impl From<ProcessError> for lambda_runtime::Diagnostic {
    fn from(e: ProcessError) -> Self {
        let kind = match e {
            ProcessError::Reingest(_) => sluice_runtime::ErrorKind::Aws,
            ProcessError::Response(_) => sluice_runtime::ErrorKind::Internal,
        };
        sluice_runtime::StepError::new(kind, e.to_string()).into()
    }
}

/// Transforms one Firehose batch (see the crate docs for the rules).
///
/// Once one data record's answer has not fitted in the response, every later record is put back
/// on the stream undecoded and answered `Dropped`: the response is full (what room is left is
/// less than one record's answer), and decoding a record only to put its original back is wasted
/// work; the invocation that reads it again decides it. Such records count in
/// `reingested_for_budget`, not in the event counters (their events are not read here). Records
/// predicted not to fit are put back the same way, while the others are decided ([`early`]).
pub async fn handle(
    event: &FirehoseEvent,
    config: &Config,
    reingest: &dyn Reingest,
) -> Result<Processed, ProcessError> {
    let (tail_tx, tail_rx) = oneshot::channel();
    let (head, tail) = tokio::join!(answer_all(event, config, tail_tx), async {
        // A closed channel: nothing was predicted not to fit.
        match tail_rx.await {
            Ok((target, pieces)) => {
                let what = "re-ingested the batch's tail early";
                put_back_pieces(reingest, &target, pieces, config, what).await
            }
            Err(_) => Ok(reingest::ReingestStats::default()),
        }
    });
    let Head {
        response,
        pieces,
        mut stats,
    } = head;
    stats.count_reingest(tail?);
    if !pieces.is_empty() {
        let target = reingest::choose_target(event, config.target)?;
        let done = put_back_pieces(reingest, &target, pieces, config, "re-ingested").await?;
        stats.count_reingest(done);
    }
    Ok(Processed {
        json: response.finish(),
        stats,
    })
}

/// The answers, and what is left to put back once they are all written.
struct Head {
    response: ResponseWriter,
    /// Pieces to put back after the answers (the records put back early are not among them).
    pieces: Vec<Piece>,
    stats: Stats,
}

/// Records from this index on were put back early ([`early`]); `sent[k]` says whether the
/// record `from + k` was (data that is not base64 cannot be put back: it is answered
/// `ProcessingFailed`).
struct Early {
    from: usize,
    sent: Vec<bool>,
}

/// Answers every record of `event` in order. Once the response is full enough to predict from,
/// the records predicted not to fit are sent to `tail` to be put back at once; from then on the
/// loop yields after each record, so that the put-back makes progress while records are decided.
async fn answer_all(
    event: &FirehoseEvent,
    config: &Config,
    tail: oneshot::Sender<(Target, Vec<Piece>)>,
) -> Head {
    let budget = ResponseBudget::with_limit(config.response_limit).reserve_for(event);
    let mut head = Head {
        response: ResponseWriter::new(budget),
        pieces: Vec::new(),
        stats: Stats {
            records: event.records.len() as u64,
            ..Stats::default()
        },
    };
    let mut tail = Some(tail);
    let mut early: Option<Early> = None;
    let mut full = false;
    // Base64 bytes of the records answered so far, to predict the rest from.
    let mut answered = 0;
    for (i, record) in event.records.iter().enumerate() {
        if let Some(early) = &early {
            if let Some(&sent) = i.checked_sub(early.from).and_then(|k| early.sent.get(k)) {
                answer_put_back(record, sent, &mut head);
                continue;
            }
            tokio::task::yield_now().await;
        }
        if full {
            put_back(record, &mut head);
            continue;
        }
        full = answer(record, config, &mut head);
        answered += record.data.len();
        if !full
            && tail.is_some()
            && early::ready(head.response.used(), head.response.limit())
            && let Some(tx) = tail.take()
        {
            early = put_back_early(event, config, i + 1, answered, &head.response, tx);
        }
    }
    head
}

/// Predicts which of the records after `next - 1` will not fit and sends them (undecoded) to
/// be put back now; `None` when the batch is predicted to fit, or re-ingest has no target.
fn put_back_early(
    event: &FirehoseEvent,
    config: &Config,
    next: usize,
    answered: usize,
    response: &ResponseWriter,
    tx: oneshot::Sender<(Target, Vec<Piece>)>,
) -> Option<Early> {
    // Without a target the put-back after the answers fails the invocation, as it always has.
    let target = reingest::choose_target(event, config.target).ok()?;
    let rest = event.records.get(next..)?;
    let from = next + early::tail_start(rest, response.used(), answered, response.limit())?;
    let mut pieces = Vec::new();
    let sent = event.records[from..]
        .iter()
        .map(|record| queue_original(record, &mut pieces))
        .collect();
    // The receiver lives until `handle` has joined both halves.
    tx.send((target, pieces)).ok()?;
    Some(Early { from, sent })
}

/// Puts `pieces` on `target` (all accepted, or the failure that fails the invocation) and logs
/// `what` with the count.
async fn put_back_pieces(
    reingest: &dyn Reingest,
    target: &Target,
    pieces: Vec<Piece>,
    config: &Config,
    what: &str,
) -> Result<reingest::ReingestStats, ReingestFailure> {
    let done = reingest::reingest_all(reingest, target, pieces, config).await?;
    tracing::info!(%target, pieces = done.pieces, "{what}");
    Ok(done)
}

/// Queues `record`'s original bytes to be put back; `false` when its data is not base64 (it
/// cannot be put back).
fn queue_original(record: &FirehoseRecord, pieces: &mut Vec<Piece>) -> bool {
    match record.decode_data() {
        Ok(original) => {
            pieces.push(piece(&record.record_id, 0, original));
            true
        }
        Err(_) => false,
    }
}

/// Decides `record` and writes its answer (or queues it for re-ingest); returns whether the
/// response is now full (one data record's answer did not fit).
fn answer(record: &FirehoseRecord, config: &Config, head: &mut Head) -> bool {
    let Head {
        response,
        pieces,
        stats,
    } = head;
    let id = record.record_id.as_str();
    // Arms that answer otherwise return; the rest fall through to `Dropped`.
    let full = match decide(record, config, response.room_for_next()) {
        Decision::Control => {
            stats.control += 1;
            false
        }
        Decision::Empty => {
            stats.empty += 1;
            false
        }
        Decision::Failed(reason) => {
            tracing::warn!(record_id = id, reason, "record failed");
            stats.failed += 1;
            // Echoing the original keeps it under Firehose's error prefix. When the response
            // has no room for it, it goes back on the stream like any other record.
            if ResponseRecord::failed_len(record) <= response.room_for_next() {
                response.failed(record);
                return false;
            }
            if !queue_original(record, pieces) {
                // Data that is not base64 cannot be put back; echo it regardless.
                response.failed(record);
                return true;
            }
            stats.reingested_for_budget += 1;
            true
        }
        Decision::Deliver {
            data,
            keys,
            original,
            events,
        } => {
            stats.events_in += events as u64;
            if response.try_ok(id, &data, &record::key_pairs(&keys)) {
                stats.ok += 1;
                stats.events_delivered += events as u64;
                stats.bytes_delivered += data.len() as u64;
                return false;
            }
            stats.reingested_for_budget += 1;
            stats.events_reingested += events as u64;
            pieces.push(piece(id, 0, original));
            true
        }
        Decision::NoRoom { original, events } => {
            stats.events_in += events as u64;
            stats.reingested_for_budget += 1;
            stats.events_reingested += events as u64;
            pieces.push(piece(id, 0, original));
            true
        }
        Decision::Split {
            pieces: parts,
            events,
        } => {
            stats.events_in += events as u64;
            stats.split += 1;
            stats.events_reingested += events as u64;
            pieces.extend(parts.into_iter().enumerate().map(|(i, p)| piece(id, i, p)));
            false
        }
    };
    response.dropped(id);
    full
}

/// Puts `record` back on the stream undecoded and answers it `Dropped` (data that is not base64
/// cannot be put back: it is answered `ProcessingFailed`, echoed).
fn put_back(record: &FirehoseRecord, head: &mut Head) {
    let sent = queue_original(record, &mut head.pieces);
    answer_put_back(record, sent, head);
}

/// Answers a record that was put back (`sent`) `Dropped`, or one whose data is not base64
/// `ProcessingFailed`, echoed.
fn answer_put_back(record: &FirehoseRecord, sent: bool, head: &mut Head) {
    let id = record.record_id.as_str();
    if sent {
        head.stats.reingested_for_budget += 1;
        head.response.dropped(id);
    } else {
        tracing::warn!(
            record_id = id,
            reason = "data is not valid base64",
            "record failed"
        );
        head.stats.failed += 1;
        head.response.failed(record);
    }
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
