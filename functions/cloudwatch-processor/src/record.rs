//! One Firehose record, decided on its own: base64 → capped gunzip → subscription JSON → log text
//! and partition keys, or the reason it cannot be delivered. Synchronous and pure.

use std::collections::BTreeMap;

use sluice_cwlogs::{DecodeError, MessageType, Payload, PayloadView, decompress};
use sluice_firehose::{FirehoseRecord, ResponseRecord, date_keys, sanitize_partition_value};

use crate::config::Config;
use crate::split::split_for_reingest;

/// Partition key: the account that owns the log group.
pub const KEY_ACCOUNT: &str = "account";
/// Partition key: the log group, made safe for S3 keys (`/` → `.`).
pub const KEY_LOG_GROUP: &str = "logGroup";
/// Partition key: UTC year of the record's first event.
pub const KEY_YEAR: &str = "year";
/// Partition key: UTC month of the record's first event.
pub const KEY_MONTH: &str = "month";
/// Partition key: UTC day of the record's first event.
pub const KEY_DAY: &str = "day";

/// What to do with one record.
#[derive(Debug)]
pub enum Decision {
    /// A `CONTROL_MESSAGE`: answer `Dropped`.
    Control,
    /// A `DATA_MESSAGE` without events: nothing to deliver, answer `Dropped`.
    Empty,
    /// Cannot be processed: answer `ProcessingFailed` (Firehose keeps the original under its
    /// error prefix). The reason never quotes record content.
    Failed(String),
    /// Log text ready to deliver, unless the response has no room left for it.
    Deliver {
        /// The formatted log text.
        data: Vec<u8>,
        /// Dynamic-partitioning keys.
        keys: BTreeMap<String, String>,
        /// The original record bytes (gzip), for re-ingest when the response is full.
        original: Vec<u8>,
        /// How many log events `data` holds.
        events: usize,
    },
    /// Its `Ok` answer would be larger than the room the response has left: re-ingest the
    /// original, answer `Dropped`. Nothing was formatted.
    NoRoom {
        /// The original record bytes (gzip).
        original: Vec<u8>,
        /// How many log events it holds.
        events: usize,
    },
    /// Output over the record limit: re-ingest these smaller gzipped payloads, answer `Dropped`.
    Split {
        /// The pieces, every event of the record in order.
        pieces: Vec<Vec<u8>>,
        /// How many log events they hold together.
        events: usize,
    },
}

/// Decides what to do with `record`, whose `Ok` answer may take at most `room` bytes of the
/// response ([`sluice_firehose::ResponseWriter::room_for_next`]).
///
/// The decompressed JSON is parsed into a borrowed [`PayloadView`] and formatted from it; only a
/// record whose output is over the record limit is parsed again, into an owned [`Payload`] (unknown
/// fields kept), to be split for re-ingest.
pub fn decide(record: &FirehoseRecord, config: &Config, room: usize) -> Decision {
    let max_record = config.max_record;
    let original = match record.decode_data() {
        Ok(bytes) => bytes,
        Err(_) => return Decision::Failed("data is not valid base64".into()),
    };
    let json = match decompress(&original, config.max_decompressed) {
        Ok(json) => json,
        Err(e) => return Decision::Failed(reason(&e)),
    };
    let view = match PayloadView::parse(&json) {
        Ok(v) => v,
        Err(e) => return Decision::Failed(reason(&e)),
    };
    match &view.message_type {
        MessageType::Control => return Decision::Control,
        MessageType::Other(t) => {
            return Decision::Failed(format!("unknown messageType of {} bytes", t.len()));
        }
        MessageType::Data => {}
    }
    let events = view.log_events.len();
    if events == 0 {
        return Decision::Empty;
    }
    let len = view.formatted_len(config.format);
    if len > max_record {
        drop(view);
        // The view parsed, so the owned parse (same fields, same types) does too.
        let payload: Payload = match serde_json::from_slice(&json) {
            Ok(p) => p,
            Err(e) => {
                return Decision::Failed(reason(&DecodeError::Json {
                    line: e.line(),
                    column: e.column(),
                    source: e,
                }));
            }
        };
        return match split_for_reingest(&payload, config.format, max_record) {
            Ok(pieces) => Decision::Split { pieces, events },
            Err(e) => Decision::Failed(e.to_string()),
        };
    }
    let keys = partition_keys(&view);
    if ResponseRecord::ok_len(&record.record_id, len, &key_pairs(&keys)) > room {
        return Decision::NoRoom { original, events };
    }
    let mut data = Vec::with_capacity(len);
    view.format_into(config.format, &mut data);
    Decision::Deliver {
        data,
        keys,
        original,
        events,
    }
}

/// Partition keys as the response writes them: (name, value) pairs in name order.
pub fn key_pairs(keys: &BTreeMap<String, String>) -> Vec<(&str, &str)> {
    keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Partition keys of a data payload: account, log group, and the UTC date of its first event.
///
/// A record whose events span midnight lands entirely under its first event's date: CloudWatch
/// batches events seconds apart, and splitting a record by day would cost a re-ingest round trip
/// for the rare batch that crosses midnight. Events keep their own timestamps in the
/// `raw-timestamp` and `jsonl` formats.
pub fn partition_keys(payload: &PayloadView<'_>) -> BTreeMap<String, String> {
    let first = payload.log_events.first().map_or(0, |e| e.timestamp);
    let (year, month, day) = date_keys(first);
    BTreeMap::from([
        (
            KEY_ACCOUNT.to_owned(),
            sanitize_partition_value(&payload.owner),
        ),
        (
            KEY_LOG_GROUP.to_owned(),
            sanitize_partition_value(&payload.log_group),
        ),
        (KEY_YEAR.to_owned(), year),
        (KEY_MONTH.to_owned(), month),
        (KEY_DAY.to_owned(), day),
    ])
}

/// Why decoding failed, without quoting any of the record's content (serde_json's messages can
/// quote values, and the gzip header check shows the first bytes).
fn reason(e: &DecodeError) -> String {
    match e {
        DecodeError::NotGzip { len, .. } => format!("not gzip ({len} bytes)"),
        DecodeError::Gzip { decompressed, .. } => {
            format!("corrupt gzip after {decompressed} decompressed bytes")
        }
        DecodeError::TooLarge { cap } => format!("decompressed payload is over the cap of {cap}"),
        DecodeError::Json {
            line,
            column,
            source,
        } => format!(
            "not a subscription message: {:?} JSON error at line {line}, column {column}",
            source.classify()
        ),
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    fn record(bytes: &[u8]) -> FirehoseRecord {
        FirehoseRecord {
            record_id: "r".into(),
            approximate_arrival_timestamp: None,
            data: STANDARD.encode(bytes),
            kinesis_record_metadata: None,
        }
    }

    fn gz(json: &str) -> Vec<u8> {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(json.as_bytes()).expect("memory");
        enc.finish().expect("memory")
    }

    #[test]
    fn given_json_with_secret_value_when_it_fails_then_reason_does_not_quote_it() {
        let json = r#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","logEvents":[{"id":"1","timestamp":"password=hunter2","message":"m"}]}"#;
        let Decision::Failed(reason) = decide(&record(&gz(json)), &Config::default(), usize::MAX)
        else {
            panic!("expected failure");
        };
        assert!(!reason.contains("hunter2"), "{reason}");
        assert!(reason.contains("line 1"), "{reason}");
    }

    #[test]
    fn given_plain_text_when_decided_then_failed_not_gzip() {
        let d = decide(&record(b"hello secret"), &Config::default(), usize::MAX);
        assert!(
            matches!(d, Decision::Failed(ref r) if r == "not gzip (12 bytes)"),
            "{d:?}"
        );
    }

    #[test]
    fn given_data_message_without_events_then_empty() {
        let json = r#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","logEvents":[]}"#;
        let d = decide(&record(&gz(json)), &Config::default(), usize::MAX);
        assert!(matches!(d, Decision::Empty), "{d:?}");
    }

    #[test]
    fn given_events_across_midnight_then_date_of_first_event() {
        let json = r#"{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/aws/lambda/f","logStream":"s","logEvents":[{"id":"1","timestamp":1795391999999,"message":"a"},{"id":"2","timestamp":1795392000000,"message":"b"}]}"#;
        let Decision::Deliver { keys, data, .. } =
            decide(&record(&gz(json)), &Config::default(), usize::MAX)
        else {
            panic!("expected delivery");
        };
        assert_eq!(data, b"a\nb\n");
        assert_eq!(keys[KEY_DAY], "22");
        assert_eq!(keys[KEY_LOG_GROUP], ".aws.lambda.f");
        assert_eq!(keys[KEY_ACCOUNT], "123456789012");
    }
}
