//! Decoding and formatting real subscription payloads. Where each fixture came from is in
//! `fixtures/README.md` (the `moto-*.json.gz` ones were written by moto, the rest are hand-made in
//! the documented shape).

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use sluice_cwlogs::{
    DecodeError, Format, MessageType, Payload, decode, decode_all, encode, format_into,
    formatted_len,
};

const MOTO_APP: &[u8] = include_bytes!("../fixtures/moto-app.json.gz");
const MOTO_MULTILINE: &[u8] = include_bytes!("../fixtures/moto-multiline.json.gz");
const AWS_DOCS: &str = include_str!("../fixtures/aws-docs-data-message.json");
const ACCOUNT_POLICY: &str = include_str!("../fixtures/account-policy-data-message.json");
const CONTROL: &str = include_str!("../fixtures/control-message.json");
const CAP: usize = 1 << 20;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).expect("in memory");
    enc.finish().expect("in memory")
}

fn formatted(p: &Payload, format: Format) -> String {
    let mut out = Vec::new();
    format_into(p, format, &mut out);
    assert_eq!(out.len(), formatted_len(p, format));
    String::from_utf8(out).expect("utf-8 in, utf-8 out")
}

#[test]
fn given_moto_payload_when_decoded_then_fields_and_numeric_ids() {
    let p = decode(MOTO_APP, CAP).expect("decodes");
    assert_eq!(p.message_type, MessageType::Data);
    assert_eq!(p.owner, "123456789012");
    assert_eq!(p.log_group, "/aws/lambda/sluice-demo");
    assert_eq!(p.subscription_filters, ["to-firehose"]);
    assert_eq!(p.log_events.len(), 7);
    assert_eq!(p.log_events[0].id, "0");
    assert_eq!(p.log_events[0].timestamp, 1_795_355_101_123);
    assert_eq!(p.log_events[2].message, "trailing newline\n");
    assert!(p.log_events[4].message.contains("日本語") && p.log_events[4].message.ends_with('🚀'));
}

#[test]
fn given_moto_payload_when_raw_then_one_line_per_event_no_doubled_newlines() {
    let p = decode(MOTO_APP, CAP).expect("decodes");
    let text = formatted(
        &p,
        Format::Raw {
            timestamp_prefix: false,
        },
    );
    let lines: Vec<&str> = text.split_terminator('\n').collect();
    assert_eq!(lines.len(), 7);
    assert_eq!(lines[1], "plain ascii line");
    assert_eq!(lines[2], "trailing newline");
    assert_eq!(
        lines[3], "windows line end\r",
        "\\r\\n kept as is, nothing added"
    );
    assert!(text.ends_with("tab\tseparated\tfields\n"));
}

#[test]
fn given_moto_payload_when_raw_with_prefix_then_iso8601_utc() {
    let p = decode(MOTO_APP, CAP).expect("decodes");
    let text = formatted(
        &p,
        Format::Raw {
            timestamp_prefix: true,
        },
    );
    assert!(
        text.starts_with("2026-11-22T13:45:01.123Z START RequestId:"),
        "{text}"
    );
    assert!(text.contains("\n2026-11-22T13:45:01.125Z trailing newline\n2026-11-22T13:45:01.126Z"));
}

#[test]
fn given_multiline_event_when_raw_then_lines_kept_and_json_lines_keeps_boundary() {
    let p = decode(MOTO_MULTILINE, CAP).expect("decodes");
    assert_eq!(p.log_group, "/ecs/sluice service");
    let raw = formatted(
        &p,
        Format::Raw {
            timestamp_prefix: false,
        },
    );
    assert_eq!(
        raw.lines().count(),
        4,
        "3 lines of traceback + 1: the raw format's ambiguity"
    );
    let json = formatted(&p, Format::JsonLines);
    let lines: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["message"], p.log_events[0].message.as_str());
    assert_eq!(lines[0]["logGroup"], "/ecs/sluice service");
    assert_eq!(lines[0]["id"], "7");
    assert_eq!(lines[0]["timestamp"], 1_795_355_101_123_i64);
}

#[test]
fn given_json_lines_then_exact_key_order() {
    let p = decode(&gzip(AWS_DOCS.as_bytes()), CAP).expect("decodes");
    let json = formatted(&p, Format::JsonLines);
    let first = json.lines().next().expect("a line");
    assert_eq!(
        first,
        concat!(
            r#"{"timestamp":1432826855000,"logGroup":"CloudTrail/logs","#,
            r#""logStream":"111111111111_CloudTrail/logs_us-east-1","owner":"111111111111","#,
            r#""id":"31953106606966983378809025079804211143289615424298221568","#,
            r#""message":"{\"eventVersion\":\"1.03\",\"userIdentity\":{\"type\":\"Root\"}"}"#
        )
    );
}

#[test]
fn given_docs_shaped_payload_when_encoded_then_same_json_value() {
    let p = decode(&gzip(AWS_DOCS.as_bytes()), CAP).expect("decodes");
    assert_eq!(
        p.log_events[0].id,
        "31953106606966983378809025079804211143289615424298221568"
    );
    let again = decode(&encode(&p), CAP).expect("re-decodes");
    assert_eq!(again, p);
    let original: serde_json::Value = serde_json::from_str(AWS_DOCS).expect("json");
    assert_eq!(serde_json::to_value(&p).expect("serialises"), original);
}

#[test]
fn given_account_policy_payload_then_policy_level_kept_through_encode() {
    let p = decode(&gzip(ACCOUNT_POLICY.as_bytes()), CAP).expect("decodes");
    assert_eq!(p.extra["policyLevel"], "ACCOUNT_LEVEL_POLICY");
    let reencoded = decode(&encode(&p), CAP).expect("re-decodes");
    assert_eq!(reencoded.extra["policyLevel"], "ACCOUNT_LEVEL_POLICY");
}

#[test]
fn given_control_message_then_is_control() {
    let p = decode(&gzip(CONTROL.as_bytes()), CAP).expect("decodes");
    assert!(p.is_control());
    assert!(!decode(MOTO_APP, CAP).expect("decodes").is_control());
}

#[test]
fn given_cap_below_fixture_size_then_too_large() {
    let err = decode(MOTO_APP, 100).expect_err("over cap");
    assert!(matches!(err, DecodeError::TooLarge { cap: 100 }));
}

#[test]
fn given_two_payloads_back_to_back_then_decode_all_returns_both() {
    // What an S3 object holds when Firehose delivers several untransformed records: moto joins
    // the records' gzip members, so this is multi-member gzip of concatenated JSON documents.
    let mut both = MOTO_APP.to_vec();
    both.extend_from_slice(MOTO_MULTILINE);
    let payloads = decode_all(&both, CAP).expect("decodes");
    assert_eq!(payloads.len(), 2);
    assert_eq!(payloads[1].log_group, "/ecs/sluice service");
    assert!(matches!(decode(&both, CAP), Err(DecodeError::Json { .. })));
}
