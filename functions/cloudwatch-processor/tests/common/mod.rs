//! Shared by the processor's integration tests: payload and event builders, and a fake
//! [`Reingest`] that records what it accepted and can refuse entries or whole calls.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::Write;
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cloudwatch_processor::reingest::{BoxFuture, ReingestError};
use cloudwatch_processor::{Piece, Reingest, Target};
use sluice_cwlogs::{LogEvent, MessageType, Payload, decode, encode};
use sluice_firehose::{FirehoseEvent, FirehoseRecord, FirehoseResponse, RecordResult};

/// The moto-made fixtures (see crates/cwlogs/fixtures/README.md).
pub const MOTO_APP: &[u8] = include_bytes!("../../../../crates/cwlogs/fixtures/moto-app.json.gz");
/// A moto-made payload with a multi-line event.
pub const MOTO_MULTILINE: &[u8] =
    include_bytes!("../../../../crates/cwlogs/fixtures/moto-multiline.json.gz");
/// Hand-made CONTROL_MESSAGE (JSON, gzip it first).
pub const CONTROL_JSON: &[u8] =
    include_bytes!("../../../../crates/cwlogs/fixtures/control-message.json");

/// Gzips bytes.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("memory");
    enc.finish().expect("memory")
}

/// A data payload with one event per message, timestamps from 2026-11-22T13:45:01.123Z.
pub fn payload(group: &str, messages: &[String]) -> Payload {
    Payload {
        message_type: MessageType::Data,
        owner: "123456789012".into(),
        log_group: group.into(),
        log_stream: "stream".into(),
        subscription_filters: vec!["sluice-export".into()],
        log_events: messages
            .iter()
            .enumerate()
            .map(|(i, m)| LogEvent {
                id: format!("{i:056}"),
                timestamp: 1_795_355_101_123 + i as i64,
                message: m.clone(),
                extra: Default::default(),
            })
            .collect(),
        extra: Default::default(),
    }
}

/// `n` messages of `len` bytes each, numbered.
pub fn messages(n: usize, len: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let head = format!("event {i} ");
            format!("{head}{}", "x".repeat(len.saturating_sub(head.len())))
        })
        .collect()
}

/// A Direct PUT Firehose event carrying the given raw record bytes.
pub fn event(datas: &[Vec<u8>]) -> FirehoseEvent {
    FirehoseEvent {
        invocation_id: "inv-1".into(),
        delivery_stream_arn: "arn:aws:firehose:us-east-1:123456789012:deliverystream/cw-export"
            .into(),
        source_kinesis_stream_arn: None,
        region: "us-east-1".into(),
        records: datas
            .iter()
            .enumerate()
            .map(|(i, d)| FirehoseRecord {
                record_id: format!("record-{i}"),
                approximate_arrival_timestamp: Some(1_795_355_101_123),
                data: STANDARD.encode(d),
                kinesis_record_metadata: None,
            })
            .collect(),
    }
}

/// What the fake does on its next call.
#[derive(Debug, Clone, Copy)]
pub enum Behaviour {
    /// The call fails as a whole (e.g. throttled).
    CallError,
    /// Entries at even positions are refused with `ServiceUnavailableException`.
    RefuseEven,
    /// Every entry is refused.
    RefuseAll,
}

/// Records calls; follows a script of behaviours, then accepts everything.
#[derive(Default)]
pub struct FakeReingest {
    /// Behaviours for the next calls.
    pub script: Mutex<VecDeque<Behaviour>>,
    /// Forever refuse everything once the script is empty.
    pub always_fail: bool,
    /// Every call: target and piece count.
    pub calls: Mutex<Vec<(Target, usize)>>,
    /// Pieces accepted, in order.
    pub accepted: Mutex<Vec<Piece>>,
}

impl FakeReingest {
    /// A fake that follows `script` first.
    pub fn scripted(script: impl IntoIterator<Item = Behaviour>) -> Self {
        Self {
            script: Mutex::new(script.into_iter().collect()),
            ..Self::default()
        }
    }

    /// Log events in the accepted pieces.
    pub fn accepted_events(&self) -> usize {
        self.accepted
            .lock()
            .expect("lock")
            .iter()
            .map(|p| {
                decode(&p.data, 64 << 20)
                    .expect("piece decodes")
                    .log_events
                    .len()
            })
            .sum()
    }
}

impl Reingest for FakeReingest {
    fn put_batch<'a>(
        &'a self,
        target: &'a Target,
        pieces: &'a [Piece],
    ) -> BoxFuture<'a, Result<Vec<Option<String>>, ReingestError>> {
        Box::pin(async move {
            self.calls
                .lock()
                .expect("lock")
                .push((target.clone(), pieces.len()));
            let next = self.script.lock().expect("lock").pop_front();
            let next = next.or(self.always_fail.then_some(Behaviour::RefuseAll));
            let refuse = |i: usize| match next {
                None | Some(Behaviour::CallError) => false,
                Some(Behaviour::RefuseEven) => i.is_multiple_of(2),
                Some(Behaviour::RefuseAll) => true,
            };
            if matches!(next, Some(Behaviour::CallError)) {
                return Err(ReingestError {
                    operation: "Fake",
                    target: target.to_string(),
                    code: "ThrottlingException".into(),
                    source: Box::new(std::io::Error::other("throttled")),
                });
            }
            let mut accepted = self.accepted.lock().expect("lock");
            Ok(pieces
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    if refuse(i) {
                        Some("ServiceUnavailableException".to_owned())
                    } else {
                        accepted.push(p.clone());
                        None
                    }
                })
                .collect())
        })
    }
}

/// The decoded data of every `Ok` record, in order.
pub fn ok_outputs(response: &FirehoseResponse) -> Vec<Vec<u8>> {
    response
        .records
        .iter()
        .filter(|r| r.result == RecordResult::Ok)
        .map(|r| STANDARD.decode(&r.data).expect("base64"))
        .collect()
}

/// Lines in the `Ok` outputs (one per event in `jsonl`).
pub fn ok_lines(response: &FirehoseResponse) -> usize {
    ok_outputs(response)
        .iter()
        .map(|d| d.iter().filter(|&&b| b == b'\n').count())
        .sum()
}

/// The gzipped payload of `n` events of `len` bytes each.
pub fn gz_payload(group: &str, n: usize, len: usize) -> Vec<u8> {
    encode(&payload(group, &messages(n, len)))
}
