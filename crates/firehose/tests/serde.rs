//! Serde round trips against real-shaped Firehose events (see `fixtures/README.md` for where each
//! fixture came from) and the exact response JSON Firehose expects.

use std::collections::BTreeMap;

use sluice_firehose::{FirehoseEvent, FirehoseResponse, RecordResult, ResponseRecord};

const DOCS_EVENT: &str = include_str!("fixtures/lambda-docs-example-event.json");
const DIRECT_PUT_EVENT: &str = include_str!("fixtures/direct-put-event.json");

fn parse(json: &str) -> FirehoseEvent {
    serde_json::from_str(json).expect("fixture parses")
}

#[test]
fn given_lambda_docs_event_when_parsed_then_fields_and_data_decode() {
    let event = parse(DOCS_EVENT);
    assert_eq!(event.invocation_id, "invoked123");
    assert_eq!(event.region, "us-west-2");
    assert_eq!(event.source_kinesis_stream_arn, None);
    assert_eq!(event.records.len(), 2);
    let first = &event.records[0];
    assert_eq!(first.record_id, "record1");
    assert_eq!(first.approximate_arrival_timestamp, Some(1_510_772_160_000));
    assert_eq!(first.decode_data().expect("base64"), b"Hello World");
    let meta = first.kinesis_record_metadata.as_ref().expect("metadata");
    assert_eq!(meta["shardId"], "shardId-000000000000");
}

#[test]
fn given_docs_event_when_reserialised_then_same_json_value() {
    let original: serde_json::Value = serde_json::from_str(DOCS_EVENT).expect("json");
    let again = serde_json::to_value(parse(DOCS_EVENT)).expect("serialises");
    assert_eq!(again, original);
}

#[test]
fn given_direct_put_event_when_parsed_then_optional_fields_absent_and_round_trip() {
    let event = parse(DIRECT_PUT_EVENT);
    assert!(event.records[0].kinesis_record_metadata.is_none());
    assert_eq!(
        event.records[0].decode_data().expect("base64"),
        br#"{"message":"hello"}"#
    );
    let original: serde_json::Value = serde_json::from_str(DIRECT_PUT_EVENT).expect("json");
    assert_eq!(serde_json::to_value(&event).expect("serialises"), original);
}

#[test]
fn given_kinesis_source_arn_when_parsed_then_kept() {
    let json = r#"{"invocationId":"i","deliveryStreamArn":"d","sourceKinesisStreamArn":"arn:aws:kinesis:us-east-1:123456789012:stream/s","region":"us-east-1","records":[]}"#;
    let event = parse(json);
    assert_eq!(
        event.source_kinesis_stream_arn.as_deref(),
        Some("arn:aws:kinesis:us-east-1:123456789012:stream/s")
    );
    assert_eq!(serde_json::to_string(&event).expect("serialises"), json);
}

#[test]
fn given_response_of_each_kind_when_serialised_then_exact_firehose_json() {
    let event = parse(DOCS_EVENT);
    let keys = BTreeMap::from([
        ("dd".to_string(), "23".to_string()),
        ("yyyy".to_string(), "2017".to_string()),
    ]);
    let response = FirehoseResponse {
        records: vec![
            ResponseRecord::ok("record1", b"hi\n", Some(keys)),
            ResponseRecord::failed(&event.records[1]),
        ],
    };
    let json = serde_json::to_string(&response).expect("serialises");
    assert_eq!(
        json,
        concat!(
            r#"{"records":[{"recordId":"record1","result":"Ok","data":"aGkK","#,
            r#""metadata":{"partitionKeys":{"dd":"23","yyyy":"2017"}}},"#,
            r#"{"recordId":"record2","result":"ProcessingFailed","data":"SGVsbG8gV29ybGQ="}]}"#
        )
    );
    assert_eq!(response.encoded_len(), json.len());
    let back: FirehoseResponse = serde_json::from_str(&json).expect("parses");
    assert_eq!(back, response);
}

#[test]
fn given_unknown_result_string_when_parsed_then_rejected() {
    let json = r#"{"recordId":"a","result":"Success","data":""}"#;
    assert!(serde_json::from_str::<ResponseRecord>(json).is_err());
    let ok: ResponseRecord =
        serde_json::from_str(r#"{"recordId":"a","result":"Dropped","data":""}"#).expect("parses");
    assert_eq!(ok.result, RecordResult::Dropped);
}
