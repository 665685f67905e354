//! Handler tests: Firehose-shaped events (moto-made payloads among them) through `handle` with a
//! fake re-ingest adapter.

mod common;

use std::time::Duration;

use cloudwatch_processor::config::TargetChoice;
use cloudwatch_processor::{Config, ProcessError, Processed, Target, handle};
use common::*;
use sluice_cwlogs::Format;
use sluice_firehose::{FirehoseEvent, FirehoseResponse, RecordResult, check_contract};

fn jsonl() -> Config {
    Config {
        format: Format::JsonLines,
        backoff: Duration::ZERO,
        ..Config::default()
    }
}

/// `ev` handled in `jsonl` with a response limit of `response_limit` bytes and a re-ingest fake
/// that accepts everything; the response is read back and checked against Firehose's contract.
async fn handled_within(
    ev: &FirehoseEvent,
    response_limit: usize,
) -> (Processed, FirehoseResponse, FakeReingest) {
    let config = Config {
        response_limit,
        ..jsonl()
    };
    let fake = FakeReingest::default();
    let done = handle(ev, &config, &fake).await.expect("handled");
    let response = done.response().expect("response JSON");
    check_contract(ev, &response).expect("contract");
    (done, response, fake)
}

#[tokio::test]
async fn given_moto_payloads_control_and_garbage_then_ok_dropped_and_failed() {
    let ev = event(&[
        MOTO_APP.to_vec(),
        gzip(CONTROL_JSON),
        b"password=hunter2".to_vec(),
        MOTO_MULTILINE.to_vec(),
    ]);
    let fake = FakeReingest::default();
    let done = handle(&ev, &Config::default(), &fake)
        .await
        .expect("handled");
    let response = done.response().expect("response JSON");
    check_contract(&ev, &response).expect("contract");
    let results: Vec<_> = response.records.iter().map(|r| r.result).collect();
    assert_eq!(
        results,
        [
            RecordResult::Ok,
            RecordResult::Dropped,
            RecordResult::ProcessingFailed,
            RecordResult::Ok
        ]
    );
    let out = ok_outputs(&response);
    let text = String::from_utf8(out[0].clone()).expect("utf8");
    assert!(text.starts_with("START RequestId: "), "{text}");
    assert!(
        text.contains("trailing newline\nwindows line end\r\nunicode: héllo"),
        "{text}"
    );
    assert_eq!(text.matches('\n').count(), 7);
    let keys = &response.records[0]
        .metadata
        .as_ref()
        .expect("keys")
        .partition_keys;
    assert_eq!(keys["logGroup"], ".aws.lambda.sluice-demo");
    assert_eq!(
        (&*keys["year"], &*keys["month"], &*keys["day"]),
        ("2026", "11", "22")
    );
    assert_eq!(done.stats.control, 1);
    assert_eq!(done.stats.failed, 1);
    assert!(fake.calls.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn given_timestamp_prefix_format_then_each_line_starts_with_iso_time() {
    let config = Config {
        format: Format::Raw {
            timestamp_prefix: true,
        },
        ..Config::default()
    };
    let done = handle(
        &event(&[MOTO_MULTILINE.to_vec()]),
        &config,
        &FakeReingest::default(),
    )
    .await
    .expect("handled");
    let response = done.response().expect("response JSON");
    let text = String::from_utf8(ok_outputs(&response)[0].clone()).expect("utf8");
    assert!(
        text.starts_with("2026-11-22T13:45:01.123Z Traceback"),
        "{text}"
    );
}

#[tokio::test]
async fn given_response_full_when_handled_then_overflow_reingested_whole_and_dropped() {
    let records: Vec<Vec<u8>> = (0..6).map(|_| gz_payload("/app", 50, 200)).collect();
    let ev = event(&records);
    let (_, response, fake) = handled_within(&ev, 40_000).await;
    let dropped = response
        .records
        .iter()
        .filter(|r| r.result == RecordResult::Dropped)
        .count();
    assert!((1..6).contains(&dropped), "{dropped}");
    let accepted = fake.accepted.lock().expect("lock").clone();
    assert_eq!(accepted.len(), dropped);
    // The original record bytes go back untouched.
    assert!(accepted.iter().all(|p| p.data == records[0]));
    assert_eq!(ok_lines(&response) + fake.accepted_events(), 300);
    assert_eq!(
        fake.calls.lock().expect("lock")[0].0,
        Target::DeliveryStream("cw-export".into())
    );
}

/// A batch of like records about three times what one response carries: once the response is an
/// eighth full, the records predicted not to fit even with the margin go back on the stream at
/// once (the first call, ending with the batch's last record); the response still fills up
/// completely, and the records between the last `Ok` and that tail go back after the answers
/// (the second call). Every record is answered once and every event is delivered or put back.
#[tokio::test]
async fn given_batch_three_responses_long_when_handled_then_tail_put_back_early_and_response_full()
{
    let records: Vec<Vec<u8>> = (0..60).map(|_| gz_payload("/app", 50, 200)).collect();
    let ev = event(&records);
    let (done, response, fake) = handled_within(&ev, 400_000).await;
    let ok = response
        .records
        .iter()
        .take_while(|r| r.result == RecordResult::Ok)
        .count();
    assert!(
        response.records[ok..]
            .iter()
            .all(|r| r.result == RecordResult::Dropped),
        "Ok answers first, then only Dropped"
    );
    let calls: Vec<usize> = fake
        .calls
        .lock()
        .expect("lock")
        .iter()
        .map(|c| c.1)
        .collect();
    assert_eq!(calls.len(), 2, "the early tail, then the rest: {calls:?}");
    let ids: Vec<String> = fake
        .accepted
        .lock()
        .expect("lock")
        .iter()
        .map(|p| p.record_id.clone())
        .collect();
    let name = |i: usize| format!("record-{i}");
    let (tail, late) = ids.split_at(calls[0]);
    let from = 60 - tail.len();
    assert_eq!(tail, (from..60).map(name).collect::<Vec<_>>(), "tail first");
    assert_eq!(
        late,
        (ok..from).map(name).collect::<Vec<_>>(),
        "then the rest"
    );
    assert!(
        !late.is_empty(),
        "the response filled before the tail began"
    );
    // Nothing more would have fitted: the first `Dropped` answered `Ok` like the others would
    // take the response over the limit.
    let len = |i: usize| {
        serde_json::to_vec(&response.records[i])
            .expect("JSON")
            .len()
    };
    assert!(
        done.json.len() + len(0) - len(ok) > 400_000,
        "response {} bytes, room for one more",
        done.json.len()
    );
    assert_eq!(ok_lines(&response) + fake.accepted_events(), 60 * 50);
    assert_eq!(done.stats.pieces_reingested, 60 - ok as u64);
    assert_eq!(done.stats.reingested_for_budget, 60 - ok as u64);
    assert_eq!(done.stats.reingest_calls, 2);
}

#[tokio::test]
async fn given_record_output_over_record_limit_then_split_pieces_reingested() {
    let ev = event(&[gz_payload("/big", 400, 250)]);
    let config = Config {
        max_record: 20_000,
        ..jsonl()
    };
    let fake = FakeReingest::default();
    let done = handle(&ev, &config, &fake).await.expect("handled");
    let response = done.response().expect("response JSON");
    assert_eq!(response.records[0].result, RecordResult::Dropped);
    let pieces = fake.accepted.lock().expect("lock").len();
    assert!(pieces >= 8, "{pieces}");
    assert_eq!(fake.accepted_events(), 400);
    assert_eq!(done.stats.split, 1);
}

#[tokio::test]
async fn given_source_kinesis_stream_when_auto_then_put_records_target() {
    let mut ev = event(&[gz_payload("/k", 30, 100), gz_payload("/k", 30, 100)]);
    ev.source_kinesis_stream_arn =
        Some("arn:aws:kinesis:us-east-1:123456789012:stream/cw-source".into());
    let config = Config {
        response_limit: 5_000,
        ..jsonl()
    };
    let fake = FakeReingest::default();
    handle(&ev, &config, &fake).await.expect("handled");
    assert_eq!(
        fake.calls.lock().expect("lock")[0].0,
        Target::KinesisStream("cw-source".into())
    );
}

#[tokio::test]
async fn given_kinesis_target_without_source_stream_then_invocation_fails() {
    let config = Config {
        response_limit: 1_000,
        target: TargetChoice::Kinesis,
        ..jsonl()
    };
    let err = handle(
        &event(&[gz_payload("/k", 30, 100)]),
        &config,
        &FakeReingest::default(),
    )
    .await
    .expect_err("no source");
    assert!(err.to_string().contains("sourceKinesisStreamArn"), "{err}");
}

#[tokio::test]
async fn given_partial_failures_and_a_throttled_call_then_retried_until_all_accepted() {
    let ev = event(&[gz_payload("/p", 400, 250)]);
    let config = Config {
        max_record: 20_000,
        ..jsonl()
    };
    let fake = FakeReingest::scripted([
        common::Behaviour::RefuseEven,
        common::Behaviour::CallError,
        common::Behaviour::RefuseEven,
    ]);
    let done = handle(&ev, &config, &fake).await.expect("handled");
    assert_eq!(fake.accepted_events(), 400);
    assert_eq!(fake.calls.lock().expect("lock").len(), 4);
    assert!(done.stats.reingest_retried_pieces > 0);
    // Pieces were sent again only while refused: each event accepted exactly once.
    let mut ids: Vec<String> = fake
        .accepted
        .lock()
        .expect("lock")
        .iter()
        .flat_map(|p| {
            sluice_cwlogs::decode(&p.data, 1 << 26)
                .expect("ok")
                .log_events
        })
        .map(|e| e.id)
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 400);
}

#[tokio::test]
async fn given_reingest_refused_every_attempt_then_invocation_fails_naming_the_record() {
    let config = Config {
        max_record: 20_000,
        max_attempts: 3,
        ..jsonl()
    };
    let fake = FakeReingest {
        always_fail: true,
        ..FakeReingest::default()
    };
    let err = handle(&event(&[gz_payload("/p", 400, 250)]), &config, &fake)
        .await
        .expect_err("fails");
    assert!(matches!(err, ProcessError::Reingest(_)));
    let text = err.to_string();
    assert!(
        text.contains("record-0") && text.contains("after 3 attempts"),
        "{text}"
    );
    assert_eq!(fake.calls.lock().expect("lock").len(), 3);
    let d: lambda_runtime::Diagnostic = err.into();
    assert_eq!(d.error_type, "AwsError");
}

#[tokio::test]
async fn given_single_event_over_record_limit_then_processing_failed_keeps_original() {
    let ev = event(&[gz_payload("/huge", 2, 30_000)]);
    let config = Config {
        max_record: 20_000,
        ..jsonl()
    };
    let done = handle(&ev, &config, &FakeReingest::default())
        .await
        .expect("handled");
    let response = done.response().expect("response JSON");
    let r = &response.records[0];
    assert_eq!(r.result, RecordResult::ProcessingFailed);
    assert_eq!(r.data, ev.records[0].data);
}

/// Once one record's answer has not fitted, later records are not decoded: a control message or
/// a corrupt gzip after it goes back on the stream byte for byte (answered `Dropped`), to be
/// decided by the invocation that reads it again.
#[tokio::test]
async fn given_response_full_when_later_records_are_control_or_corrupt_then_put_back_undecoded() {
    let big = gz_payload("/app", 50, 200);
    let control = gzip(CONTROL_JSON);
    let corrupt = b"\x1f\x8bnot really gzip".to_vec();
    let ev = event(&[big.clone(), big.clone(), control.clone(), corrupt.clone()]);
    // Room for the first record's answer and the reserved fallbacks, not for the second's.
    let (done, response, fake) = handled_within(&ev, 30_000).await;
    let results: Vec<_> = response.records.iter().map(|r| r.result).collect();
    assert_eq!(
        results,
        [
            RecordResult::Ok,
            RecordResult::Dropped,
            RecordResult::Dropped,
            RecordResult::Dropped
        ]
    );
    let accepted: Vec<Vec<u8>> = fake
        .accepted
        .lock()
        .expect("lock")
        .iter()
        .map(|p| p.data.clone())
        .collect();
    assert_eq!(accepted, [big, control, corrupt]);
    assert_eq!(done.stats.control, 0);
    assert_eq!(done.stats.failed, 0);
    assert_eq!(done.stats.reingested_for_budget, 3);
}
