//! The whole invocation on Firehose-shaped events made by the test encryptor with an in-process
//! fake KMS: results, partition keys, the contract, caching, filters, copies, failures.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use serde_json::Value;
use sluice_das::config::{CopiesTarget, DasConfig};
use sluice_das::filter::ListRule;
use sluice_das::{InvocationError, KmsError, Outcome, Transformer};
use sluice_firehose::{FirehoseResponse, RecordResult, check_contract};
use support::*;

const WK: [u8; 32] = [0x42; 32];
const DAY1: &str = "2026-11-22 13:45:01.123456+00";
const DAY2: &str = "2026-11-23 00:00:02.5+00";

fn setup(config: DasConfig) -> (Arc<FakeKms>, Vec<u8>, Transformer) {
    let kms = Arc::new(FakeKms::default());
    let key = kms.encrypt(&WK, cluster_context());
    let t = Transformer::new(config, kms.clone());
    (kms, key, t)
}

/// The response as Firehose reads it: the exact JSON text the function returns.
fn answers(out: &Outcome) -> FirehoseResponse {
    serde_json::from_slice(&out.response).unwrap()
}

fn decode(data: &str) -> Vec<Value> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .unwrap();
    assert_eq!(bytes.last(), Some(&b'\n'), "NDJSON is newline-terminated");
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

#[tokio::test]
async fn given_mixed_batch_when_transformed_then_each_record_gets_its_result() {
    let (kms, key, t) = setup(DasConfig::default());
    let other_ctx_key = kms.encrypt(
        &WK,
        sluice_das::source::encryption_context("aws:rds:dbc-id", "cluster-OTHER"),
    );
    let pg = payload(&[
        heartbeat(DAY1),
        pg_event("DDL", "CREATE INDEX", "app", DAY1, 1),
        pg_event("READ", "SELECT", "app", DAY2, 2),
    ]);
    let my = payload(&[mysql_event("READ", "QUERY", "app", DAY2, 3)]);
    let event = firehose_event(vec![
        firehose_record("pg", &das_record("1.1", &key, &WK, &pg, 1)),
        firehose_record(
            "hb",
            &das_record("1.1", &key, &WK, &payload(&[heartbeat(DAY1)]), 2),
        ),
        firehose_record("other-ctx", &das_record("1.1", &other_ctx_key, &WK, &pg, 3)),
        firehose_record("my", &das_record("1.2", &key, &WK, &my, 4)),
        firehose_record("junk", b"{not json"),
    ]);
    let out = t.transform(&event).await.unwrap();
    let response = answers(&out);
    check_contract(&event, &response).unwrap();
    let results: Vec<_> = response.records.iter().map(|r| r.result).collect();
    use RecordResult::*;
    assert_eq!(
        results,
        [Ok, Dropped, ProcessingFailed, Ok, ProcessingFailed]
    );
    // Failed records echo the original data.
    assert_eq!(response.records[2].data, event.records[2].data);
    // One KMS call for the shared key, one for the refused one.
    assert_eq!(kms.calls(), 2);
    let pg_lines = decode(&response.records[0].data);
    assert_eq!(pg_lines.len(), 2);
    assert_eq!(pg_lines[0]["command"], "CREATE INDEX");
    let keys = &response.records[0]
        .metadata
        .as_ref()
        .unwrap()
        .partition_keys;
    assert_eq!(keys["resource"], RESOURCE_ID);
    assert_eq!(keys["class"], "mixed");
    assert_eq!(
        (
            keys["yyyy"].as_str(),
            keys["mm"].as_str(),
            keys["dd"].as_str()
        ),
        ("2026", "11", "22")
    );
    let my_lines = decode(&response.records[3].data);
    assert_eq!(my_lines[0]["someFutureField"]["nested"][2], 3);
    assert_eq!(out.stats.records_ok, 2);
    assert_eq!(out.stats.records_dropped, 1);
    assert_eq!(out.stats.records_failed, 2);
    assert_eq!(out.stats.events_kept, 3);
    assert_eq!(out.stats.events_dropped, 2);
}

#[tokio::test]
async fn given_event_text_when_kept_then_bytes_are_exactly_as_received() {
    let (_, key, t) = setup(DasConfig::default());
    let raw = r#"{"type":"record","zeta":1.50,"alpha":"caf\u00e9","class":"READ","logTime":"2026-11-22 13:45:01+00"}"#;
    let plain = format!(
        r#"{{"type":"DatabaseActivityMonitoringRecord","databaseActivityEventList":[{raw}]}}"#
    );
    let event = firehose_event(vec![firehose_record(
        "r",
        &das_record("1.2", &key, &WK, plain.as_bytes(), 9),
    )]);
    let out = t.transform(&event).await.unwrap();
    let response = answers(&out);
    use base64::Engine as _;
    let data = base64::engine::general_purpose::STANDARD
        .decode(&response.records[0].data)
        .unwrap();
    assert_eq!(data, format!("{raw}\n").into_bytes());
}

#[tokio::test]
async fn given_warm_container_when_second_batch_uses_same_key_then_no_kms_call() {
    let (kms, key, t) = setup(DasConfig::default());
    let plain = payload(&[pg_event("READ", "SELECT", "app", DAY1, 1)]);
    let event = firehose_event(
        (0..5)
            .map(|i| firehose_record(&format!("r{i}"), &das_record("1.1", &key, &WK, &plain, i)))
            .collect(),
    );
    t.transform(&event).await.unwrap();
    t.transform(&event).await.unwrap();
    assert_eq!(kms.calls(), 1);
}

#[tokio::test]
async fn given_kms_throttling_when_transformed_then_invocation_fails() {
    let (kms, key, t) = setup(DasConfig::default());
    *kms.fail_with.lock().unwrap() = Some(KmsError::Unavailable {
        code: "ThrottlingException".into(),
        message: "slow down".into(),
    });
    let plain = payload(&[pg_event("READ", "SELECT", "app", DAY1, 1)]);
    let event = firehose_event(vec![firehose_record(
        "r0",
        &das_record("1.1", &key, &WK, &plain, 1),
    )]);
    let err = t.transform(&event).await.unwrap_err();
    assert!(
        matches!(err, InvocationError::KmsUnavailable { ref record_id, .. } if record_id == "r0"),
        "{err}"
    );
}

#[tokio::test]
async fn given_filters_when_nothing_kept_then_dropped_and_keep_only_respected() {
    let config = DasConfig {
        filters: sluice_das::filter::Filters {
            user: ListRule::new(vec!["rdsadmin".into()], vec![]),
            class: ListRule::new(vec![], vec!["ddl".into(), "write".into()]),
            ..Default::default()
        },
        ..DasConfig::default()
    };
    let (_, key, t) = setup(config);
    let a = payload(&[
        pg_event("READ", "SELECT", "app", DAY1, 1),
        pg_event("DDL", "DROP TABLE", "RDSADMIN", DAY1, 2),
    ]);
    let b = payload(&[pg_event("WRITE", "INSERT", "app", DAY1, 3)]);
    let event = firehose_event(vec![
        firehose_record("a", &das_record("1.1", &key, &WK, &a, 1)),
        firehose_record("b", &das_record("1.1", &key, &WK, &b, 2)),
    ]);
    let out = t.transform(&event).await.unwrap();
    let response = answers(&out);
    assert_eq!(response.records[0].result, RecordResult::Dropped);
    assert_eq!(response.records[1].result, RecordResult::Ok);
    assert_eq!(
        response.records[1]
            .metadata
            .as_ref()
            .unwrap()
            .partition_keys["class"],
        "WRITE"
    );
}

#[tokio::test]
async fn given_class_unsafe_in_an_s3_key_when_kept_then_partition_value_is_sanitized() {
    let (_, key, t) = setup(DasConfig::default());
    let plain = payload(&[pg_event("read/write x", "SELECT", "app", DAY1, 1)]);
    let event = firehose_event(vec![firehose_record(
        "r",
        &das_record("1.1", &key, &WK, &plain, 1),
    )]);
    let response = answers(&t.transform(&event).await.unwrap());
    let keys = &response.records[0]
        .metadata
        .as_ref()
        .unwrap()
        .partition_keys;
    assert_eq!(keys["class"], "READ.WRITE_X");
    assert_eq!(keys["resource"], RESOURCE_ID);
}

#[tokio::test]
async fn given_plaintext_over_cap_or_unknown_stream_then_failed_or_config_error() {
    let (_, key, t) = setup(DasConfig {
        max_plaintext_bytes: 64,
        ..DasConfig::default()
    });
    let plain = payload(&[pg_event("READ", "SELECT", "app", DAY1, 1)]);
    let mut event = firehose_event(vec![firehose_record(
        "big",
        &das_record("1.1", &key, &WK, &plain, 1),
    )]);
    let out = t.transform(&event).await.unwrap();
    let response = answers(&out);
    assert_eq!(response.records[0].result, RecordResult::ProcessingFailed);
    event.source_kinesis_stream_arn = Some("arn:aws:kinesis:us-east-1:1:stream/not-das".into());
    assert!(matches!(
        t.transform(&event).await,
        Err(InvocationError::UnknownResource { .. })
    ));
}

#[tokio::test]
async fn given_copies_enabled_when_batch_spans_dates_then_one_object_per_command_and_date() {
    let config = DasConfig {
        copies: Some(CopiesTarget {
            bucket: "audit".into(),
            prefix: String::new(),
        }),
        ..DasConfig::default()
    };
    let (_, key, t) = setup(config);
    let a = payload(&[
        pg_event("READ", "SELECT", "app", DAY1, 1),
        pg_event("READ", "SELECT", "app", DAY2, 2),
    ]);
    let b = payload(&[
        pg_event("READ", "SELECT", "app", DAY1, 3),
        pg_event("DDL", "CREATE INDEX", "app", DAY1, 4),
    ]);
    let event = firehose_event(vec![
        firehose_record("a", &das_record("1.1", &key, &WK, &a, 1)),
        firehose_record("b", &das_record("1.1", &key, &WK, &b, 2)),
        firehose_record("bad", b"AAAA"),
    ]);
    let out = t.transform(&event).await.unwrap();
    let keys: Vec<_> = out.copies.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "parsed/CREATE_INDEX/2026/11/22/inv-0001.jsonl",
            "parsed/SELECT/2026/11/22/inv-0001.jsonl",
            "parsed/SELECT/2026/11/23/inv-0001.jsonl",
        ]
    );
    assert_eq!(
        out.copies[1].body.iter().filter(|&&b| b == b'\n').count(),
        2
    );
}

#[tokio::test]
async fn given_batch_over_response_budget_then_overflow_records_fail_and_contract_holds() {
    let (_, key, t) = setup(DasConfig::default());
    // ~1.1 MB of incompressible-ish NDJSON per record after base64: 6 records overflow 6 MB.
    let events: Vec<Value> = (0..1_000)
        .map(|n| pg_event("READ", "SELECT", "app", DAY1, n))
        .collect();
    let plain = payload(&events);
    let cap_safe: Vec<_> = (0..8)
        .map(|i| firehose_record(&format!("r{i}"), &das_record("1.1", &key, &WK, &plain, i)))
        .collect();
    let event = firehose_event(cap_safe);
    let out = t.transform(&event).await.unwrap();
    let response = answers(&out);
    check_contract(&event, &response).unwrap();
    let failed = response
        .records
        .iter()
        .filter(|r| r.result == RecordResult::ProcessingFailed)
        .count();
    assert!(failed >= 1, "some records overflow");
    assert!(out.response.len() <= sluice_firehose::MAX_RESPONSE_BYTES);
    assert_eq!(response.encoded_len(), out.response.len());
    assert!(response.records[0].result == RecordResult::Ok);
}

#[tokio::test]
async fn given_many_records_overflowing_then_failed_echoes_still_fit_the_response() {
    let (_, key, t) = setup(DasConfig::default());
    // 500 records × 20 events ≈ 10 MB of base64 NDJSON: about a third cannot be answered Ok,
    // and their ProcessingFailed echoes (original data) must fit beside the Ok ones.
    let events: Vec<Value> = (0..20)
        .map(|n| pg_event("READ", "SELECT", "app", DAY1, n))
        .collect();
    let plain = payload(&events);
    let records: Vec<_> = (0..500)
        .map(|i| {
            firehose_record(
                &format!("r{i:03}"),
                &das_record("1.1", &key, &WK, &plain, i as u8),
            )
        })
        .collect();
    let event = firehose_event(records);
    let out = t.transform(&event).await.unwrap();
    let response = answers(&out);
    check_contract(&event, &response).unwrap();
    let failed: Vec<_> = response
        .records
        .iter()
        .filter(|r| r.result == RecordResult::ProcessingFailed)
        .collect();
    assert!(failed.len() > 100, "{} failed", failed.len());
    for f in &failed {
        let original = event.records.iter().find(|r| r.record_id == f.record_id);
        assert_eq!(Some(&f.data), original.map(|r| &r.data));
    }
    let json = serde_json::to_vec(&response).unwrap();
    assert!(
        json.len() <= sluice_firehose::MAX_RESPONSE_BYTES,
        "{} bytes",
        json.len()
    );
}
