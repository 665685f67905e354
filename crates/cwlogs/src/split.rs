//! Re-ingest support: cut a payload into smaller payloads and gzip them back into the shape
//! CloudWatch sends, so a record whose output would be too big can be put back on the delivery
//! stream (`PutRecordBatch`) as several smaller records and processed on a later invocation.

use std::io::Write as _;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde::Serialize;

use crate::{LogEvent, MessageType, Payload};

/// Why a payload could not be encoded within a size limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A single event encodes larger than the limit, so no split can help.
    #[error("log event {id} of {log_group} alone encodes to {encoded} bytes, over the {max} limit")]
    EventTooLarge {
        /// The event's id.
        id: String,
        /// The payload's log group.
        log_group: String,
        /// Its size as a one-event payload.
        encoded: usize,
        /// The limit asked for.
        max: usize,
    },
}

/// Splits `payload` into two payloads with the first and second half of its events (the first
/// half gets the smaller share when odd); all other fields, unknown ones included, are copied.
/// `None` when there are fewer than two events.
pub fn split_in_halves(payload: &Payload) -> Option<(Payload, Payload)> {
    if payload.log_events.len() < 2 {
        return None;
    }
    let mid = payload.log_events.len() / 2;
    let (a, b) = payload.log_events.split_at(mid);
    let with = |events: &[crate::LogEvent]| Payload {
        message_type: payload.message_type.clone(),
        owner: payload.owner.clone(),
        log_group: payload.log_group.clone(),
        log_stream: payload.log_stream.clone(),
        subscription_filters: payload.subscription_filters.clone(),
        log_events: events.to_vec(),
        extra: payload.extra.clone(),
    };
    Some((with(a), with(b)))
}

/// Gzipped JSON of `payload`, the same shape CloudWatch sends (unknown fields kept).
pub fn encode(payload: &Payload) -> Vec<u8> {
    encode_events(payload, &payload.log_events)
}

/// Gzipped JSON of `payload` with only `events` (e.g. a run of its own events) in `logEvents`:
/// the same shape as [`encode`], without copying the payload or the events.
///
/// # Panics
/// Never in practice: it only writes into memory.
pub fn encode_events(payload: &Payload, events: &[LogEvent]) -> Vec<u8> {
    let with = PayloadRef {
        message_type: &payload.message_type,
        owner: &payload.owner,
        log_group: &payload.log_group,
        log_stream: &payload.log_stream,
        subscription_filters: &payload.subscription_filters,
        log_events: events,
        extra: &payload.extra,
    };
    // Serialised first, then compressed in one call: serde_json writes token by token, and a
    // compressor call per token costs more than the compression (measured 5x on the
    // end-to-end bench's >6 MB record).
    // A Payload always serialises (string keys, no non-finite floats), and writing into memory
    // cannot fail, so neither `expect` can fire.
    let json = serde_json::to_vec(&with).expect("a Payload serialises into memory");
    // Level 1: on log text about 9x faster than the default level 6 for about a quarter more
    // bytes (that record's 11.0 MB of JSON: 249 ms to 3.03 MB against 2,722 ms to 2.39 MB,
    // under load). These bytes only travel back through the stream.
    let mut enc = GzEncoder::new(Vec::with_capacity(json.len() / 3), Compression::fast());
    enc.write_all(&json).expect("gzip into memory cannot fail");
    enc.finish().expect("gzip into memory cannot fail")
}

/// [`Payload`]'s wire shape, borrowed (field for field the same serialisation).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PayloadRef<'a> {
    message_type: &'a MessageType,
    owner: &'a str,
    log_group: &'a str,
    log_stream: &'a str,
    subscription_filters: &'a [String],
    log_events: &'a [LogEvent],
    #[serde(flatten)]
    extra: &'a serde_json::Map<String, serde_json::Value>,
}

/// Encodes `payload` as one or more gzipped payloads, halving recursively until each is at most
/// `max_encoded` bytes (e.g. `MAX_RECORD_BYTES` for `PutRecordBatch`). Events stay in order.
pub fn encode_within(payload: &Payload, max_encoded: usize) -> Result<Vec<Vec<u8>>, EncodeError> {
    let mut out = Vec::new();
    encode_into(payload, max_encoded, &mut out)?;
    Ok(out)
}

fn encode_into(
    payload: &Payload,
    max_encoded: usize,
    out: &mut Vec<Vec<u8>>,
) -> Result<(), EncodeError> {
    let encoded = encode(payload);
    if encoded.len() <= max_encoded {
        out.push(encoded);
        return Ok(());
    }
    match split_in_halves(payload) {
        Some((a, b)) => {
            encode_into(&a, max_encoded, out)?;
            encode_into(&b, max_encoded, out)
        }
        None => Err(EncodeError::EventTooLarge {
            id: payload
                .log_events
                .first()
                .map(|e| e.id.clone())
                .unwrap_or_default(),
            log_group: payload.log_group.clone(),
            encoded: encoded.len(),
            max: max_encoded,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode;

    fn payload(n: usize) -> Payload {
        Payload {
            message_type: MessageType::Data,
            owner: "123456789012".into(),
            log_group: "g".into(),
            log_stream: "s".into(),
            subscription_filters: vec!["f".into()],
            log_events: (0..n)
                .map(|i| LogEvent {
                    id: i.to_string(),
                    timestamp: i as i64,
                    message: format!("message {i} {}", "x".repeat(i * 37 % 200)),
                    extra: Default::default(),
                })
                .collect(),
            extra: Default::default(),
        }
    }

    #[test]
    fn given_one_event_then_no_split() {
        assert!(split_in_halves(&payload(1)).is_none());
        assert!(split_in_halves(&payload(0)).is_none());
    }

    #[test]
    fn given_odd_count_then_second_half_larger() {
        let (a, b) = split_in_halves(&payload(5)).expect("splits");
        assert_eq!((a.log_events.len(), b.log_events.len()), (2, 3));
    }

    #[test]
    fn given_small_limit_then_chunks_fit_and_conserve_events() {
        let p = payload(200);
        let max = 600;
        let chunks = encode_within(&p, max).expect("fits");
        assert!(chunks.len() > 1);
        let mut events = Vec::new();
        for c in &chunks {
            assert!(c.len() <= max, "{} > {max}", c.len());
            events.extend(decode(c, 1 << 20).expect("decodes").log_events);
        }
        assert_eq!(events, p.log_events);
    }

    #[test]
    fn given_limit_below_one_event_then_event_too_large() {
        let err = encode_within(&payload(3), 10).expect_err("too small");
        assert!(matches!(err, EncodeError::EventTooLarge { ref id, max: 10, .. } if id == "0"));
    }

    /// A run of events encodes as the payload would with only those events: every other field,
    /// unknown ones included, as it came.
    #[test]
    fn given_a_run_of_events_then_it_encodes_as_the_payload_with_only_those() {
        let mut p = payload(10);
        p.extra.insert(
            "policyLevel".into(),
            serde_json::json!("ACCOUNT_LEVEL_POLICY"),
        );
        p.log_events[3]
            .extra
            .insert("x".into(), serde_json::json!({"y": [1, 2]}));
        let back = decode(&encode_events(&p, &p.log_events[2..5]), 1 << 20).expect("decodes");
        let mut want = p.clone();
        want.log_events = p.log_events[2..5].to_vec();
        assert_eq!(back, want);
        assert_eq!(decode(&encode(&p), 1 << 20).expect("decodes"), p);
    }
}
