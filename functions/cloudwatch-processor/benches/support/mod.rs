//! The benches' Firehose batches: subscription payloads of 50 log-like events of 100–300 bytes,
//! generated deterministically.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cloudwatch_processor::reingest::{BoxFuture, ReingestError};
use cloudwatch_processor::{Piece, Reingest, Target};
use sluice_cwlogs::{LogEvent, MessageType, Payload};
use sluice_firehose::{FirehoseEvent, FirehoseRecord};

/// Re-ingest that accepts everything without a call: the transform alone.
pub struct AcceptAll;

impl Reingest for AcceptAll {
    fn put_batch<'a>(
        &'a self,
        _: &'a Target,
        pieces: &'a [Piece],
    ) -> BoxFuture<'a, Result<Vec<Option<String>>, ReingestError>> {
        Box::pin(async move { Ok(vec![None; pieces.len()]) })
    }
}

const WORDS: &[&str] = &[
    "INFO",
    "WARN",
    "request",
    "user",
    "latency_ms",
    "GET",
    "POST",
    "/api/v1/orders",
    "status",
    "200",
    "404",
    "db",
    "query",
    "took",
    "cache",
    "miss",
    "hit",
    "session",
    "token",
    "refreshed",
    "worker",
    "job",
    "completed",
    "retry",
    "upstream",
    "timeout",
    "bytes",
    "sent",
    "id",
];

/// A deterministic xorshift generator: log-like, moderately compressible text.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

pub fn message(rng: &mut Rng) -> String {
    let target = 100 + (rng.next() % 201) as usize;
    let mut m = format!("2026-11-22 13:45:{:02} ", rng.next() % 60);
    while m.len() < target {
        let w = WORDS[(rng.next() % WORDS.len() as u64) as usize];
        m.push_str(w);
        m.push(if rng.next().is_multiple_of(3) {
            '='
        } else {
            ' '
        });
        if rng.next().is_multiple_of(4) {
            m.push_str(&format!("{:x} ", rng.next() % 1_000_000));
        }
    }
    m.truncate(target);
    m
}

/// A subscription payload of `events` events, ids counted on from `id`.
fn payload(rng: &mut Rng, id: &mut u64, events: usize) -> Payload {
    Payload {
        message_type: MessageType::Data,
        owner: "123456789012".into(),
        log_group: "/aws/lambda/bench".into(),
        log_stream: "2026/11/22/[$LATEST]0123456789abcdef".into(),
        subscription_filters: vec!["sluice-export".into()],
        log_events: (0..events)
            .map(|i| {
                *id += 1;
                LogEvent {
                    id: format!("{id:056}"),
                    timestamp: 1_795_355_101_123 + i as i64,
                    message: message(rng),
                    extra: Default::default(),
                }
            })
            .collect(),
        extra: Default::default(),
    }
}

/// A payload gzipped as CloudWatch Logs delivers it (the default level; Sluice's own re-ingest
/// uses level 1, which would make the batches' records bigger than CloudWatch's).
fn cloudwatch_gzip(payload: &Payload) -> Vec<u8> {
    use std::io::Write as _;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&serde_json::to_vec(payload).unwrap())
        .unwrap();
    enc.finish().unwrap()
}

fn event(records: Vec<FirehoseRecord>) -> FirehoseEvent {
    FirehoseEvent {
        invocation_id: "bench".into(),
        delivery_stream_arn: "arn:aws:firehose:us-east-1:123456789012:deliverystream/b".into(),
        source_kinesis_stream_arn: None,
        region: "us-east-1".into(),
        records,
    }
}

fn record(n: usize, gz: &[u8]) -> FirehoseRecord {
    FirehoseRecord {
        record_id: format!("r{n}"),
        approximate_arrival_timestamp: None,
        data: STANDARD.encode(gz),
        kinesis_record_metadata: None,
    }
}

/// A Firehose event whose record data (gzip) adds up to about `compressed` bytes.
pub fn batch(compressed: usize) -> FirehoseEvent {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut records = Vec::new();
    let mut total = 0;
    let mut id = 0u64;
    while total < compressed {
        let gz = cloudwatch_gzip(&payload(&mut rng, &mut id, 50));
        total += gz.len();
        records.push(record(records.len(), &gz));
    }
    event(records)
}

/// A Firehose event of one record of `events` events (~200 bytes of text each).
#[allow(
    dead_code,
    reason = "used by the end-to-end bench, not by the transform-only one"
)]
pub fn one_record(events: usize) -> FirehoseEvent {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let gz = cloudwatch_gzip(&payload(&mut rng, &mut 0, events));
    event(vec![record(0, &gz)])
}
