//! Kept events that do not fit Firehose's response are spilled to S3 under the delivery
//! layout, never sent to the error prefix: records in = records out, events in = events out
//! (response + spill), `ProcessingFailed` only for records that cannot be opened.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use proptest::prelude::*;
use serde_json::Value;
use sluice_das::config::{CopiesTarget, DasConfig};
use sluice_das::{Outcome, Transformer};
use sluice_firehose::{FirehoseEvent, FirehoseResponse, RecordResult, check_contract};
use support::*;

const WK: [u8; 32] = [0x42; 32];
const DAY1: &str = "2026-11-22 13:45:01.123456+00";
const PREFIX: &str = "activity-streams/events/";

fn spilling() -> DasConfig {
    DasConfig {
        spill: Some(CopiesTarget {
            bucket: "audit".into(),
            prefix: PREFIX.into(),
        }),
        ..DasConfig::default()
    }
}

fn lines(bytes: &[u8]) -> Vec<Value> {
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

/// Every delivered event's `statementId`, from the `Ok` answers and the spilled objects, and
/// the results in order.
fn delivered(event: &FirehoseEvent, out: &Outcome) -> (Vec<u64>, Vec<RecordResult>) {
    use base64::Engine as _;
    let response: FirehoseResponse = serde_json::from_slice(&out.response).unwrap();
    check_contract(event, &response).unwrap();
    assert!(out.response.len() <= sluice_firehose::MAX_RESPONSE_BYTES);
    let mut ids = Vec::new();
    for r in response
        .records
        .iter()
        .filter(|r| r.result == RecordResult::Ok)
    {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&r.data)
            .unwrap();
        ids.extend(
            lines(&bytes)
                .iter()
                .map(|e| e["statementId"].as_u64().unwrap()),
        );
    }
    for o in &out.spills {
        assert_eq!(o.bucket, "audit");
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(&o.body[..])
            .read_to_end(&mut text)
            .unwrap();
        ids.extend(
            lines(&text)
                .iter()
                .map(|e| e["statementId"].as_u64().unwrap()),
        );
    }
    ids.sort_unstable();
    (ids, response.records.iter().map(|r| r.result).collect())
}

fn batch(key: &[u8], sizes: &[usize]) -> (FirehoseEvent, Vec<u64>) {
    let mut next = 0;
    let mut all = Vec::new();
    let records = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let events: Vec<Value> = (next..next + n)
                .map(|s| pg_event("READ", "SELECT", "app", DAY1, s))
                .collect();
            all.extend((next..next + n).map(|s| s as u64));
            next += n;
            let plain = payload(&events);
            firehose_record(
                &format!("r{i:03}"),
                &das_record("1.1", key, &WK, &plain, i as u8),
            )
        })
        .collect();
    (firehose_event(records), all)
}

fn setup(config: DasConfig) -> (Vec<u8>, Transformer) {
    let kms = Arc::new(FakeKms::default());
    let key = kms.encrypt(&WK, cluster_context());
    (key, Transformer::new(config, kms))
}

#[tokio::test]
async fn given_batch_over_the_response_with_spill_then_every_event_delivered_once_and_none_fails() {
    let (key, t) = setup(spilling());
    // 8 records of 1,000 events: about 8 MB of base64 NDJSON, over the 6 MB response.
    let (event, all) = batch(&key, &[1_000; 8]);
    let out = t.transform(&event).await.unwrap();
    let (ids, results) = delivered(&event, &out);
    assert_eq!(ids, all, "every event, once");
    assert!(!results.contains(&RecordResult::ProcessingFailed));
    assert!(
        results.contains(&RecordResult::Dropped),
        "some records spilled"
    );
    assert_eq!(
        out.stats.records_spilled as usize,
        results
            .iter()
            .filter(|r| **r == RecordResult::Dropped)
            .count()
    );
    // One object per partition: all events share one.
    let keys: Vec<_> = out.spills.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(
        keys,
        [format!(
            "{PREFIX}cluster-DEMO4TESTS/READ/2026/11/22/spill-inv-0001.gz"
        )]
    );
}

#[tokio::test]
async fn given_one_record_over_firehoses_record_limit_then_spilled_not_failed() {
    let (key, t) = setup(spilling());
    // About 1.3 MB of NDJSON from one record: over the 1,000 KiB a record may return.
    let (event, all) = batch(&key, &[2, 1_900, 3]);
    let out = t.transform(&event).await.unwrap();
    let (ids, results) = delivered(&event, &out);
    assert_eq!(ids, all);
    assert_eq!(
        results,
        [RecordResult::Ok, RecordResult::Dropped, RecordResult::Ok]
    );
    // Without a spill target, as before: the record goes to the error prefix, still encrypted.
    let (key, t) = setup(DasConfig::default());
    let (event, _) = batch(&key, &[2, 1_900, 3]);
    let out = t.transform(&event).await.unwrap();
    let (_, results) = delivered(&event, &out);
    assert_eq!(results[1], RecordResult::ProcessingFailed);
    assert!(out.spills.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, .. ProptestConfig::default() })]
    /// Batches of 1 to 60 records of 1 to 2,500 events (input up to about 3 MB once encrypted
    /// and base64'd): records in = records out, events in = events out, none failed.
    #[test]
    fn given_any_batch_with_spill_then_nothing_is_lost_or_failed(
        sizes in prop::collection::vec(1usize..2_500, 1..60)
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (key, t) = setup(spilling());
        let (event, all) = batch(&key, &sizes);
        let input: usize = event.records.iter().map(|r| r.data.len()).sum();
        prop_assume!(input <= 3 * 1024 * 1024);
        let out = rt.block_on(t.transform(&event)).unwrap();
        let (ids, results) = delivered(&event, &out);
        prop_assert_eq!(results.len(), sizes.len());
        prop_assert_eq!(ids, all);
        prop_assert!(!results.contains(&RecordResult::ProcessingFailed));
        let per_partition: BTreeMap<_, _> = out.spills.iter().map(|o| (o.key.clone(), ())).collect();
        prop_assert_eq!(per_partition.len(), out.spills.len(), "one object per partition");
    }
}
