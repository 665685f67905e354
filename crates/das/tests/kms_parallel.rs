//! A batch's distinct data keys decrypted concurrently: how many KMS calls are in flight at once
//! (counted, never timed), one call per distinct key, and refusals and outages handled as when
//! keys were decrypted one at a time.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sluice_das::config::DasConfig;
use sluice_das::kms::{BoxFuture, KeyDecryptor, KmsError};
use sluice_das::{InvocationError, Transformer};
use sluice_firehose::{FirehoseEvent, FirehoseResponse, RecordResult, check_contract};
use support::*;

const DAY1: &str = "2026-11-22 13:45:01.123456+00";
/// Scheduler turns a call waits for company before it gives up (so a sequential transformer
/// fails the assertions instead of hanging).
const PATIENCE: usize = 10_000;
/// Scheduler turns a call stays in flight once it stops waiting, so a transformer that let more
/// calls start than its bound would be seen doing so.
const LINGER: usize = 64;

/// [`FakeKms`] that counts calls in flight and per ciphertext, and can fail chosen keys.
///
/// A call stays in flight until `hold_until` calls are in flight together or every expected
/// call has started (or [`PATIENCE`] turns passed), then [`LINGER`] turns more: the peak is then
/// exactly the bound the transformer allows, whatever order its calls are polled in.
#[derive(Default)]
struct CountingKms {
    inner: FakeKms,
    hold_until: usize,
    expected_calls: usize,
    started: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    per_key: Mutex<BTreeMap<Vec<u8>, usize>>,
    fail: Mutex<BTreeMap<Vec<u8>, KmsError>>,
}

impl CountingKms {
    fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }
}

impl KeyDecryptor for CountingKms {
    fn decrypt_data_key<'a>(
        &'a self,
        ciphertext: &'a [u8],
        context: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<Vec<u8>, KmsError>> {
        Box::pin(async move {
            self.started.fetch_add(1, Ordering::SeqCst);
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(now, Ordering::SeqCst);
            *self
                .per_key
                .lock()
                .unwrap()
                .entry(ciphertext.to_vec())
                .or_default() += 1;
            for _ in 0..PATIENCE {
                if self.in_flight.load(Ordering::SeqCst) >= self.hold_until
                    || self.started.load(Ordering::SeqCst) >= self.expected_calls
                {
                    break;
                }
                tokio::task::yield_now().await;
            }
            for _ in 0..LINGER {
                tokio::task::yield_now().await;
            }
            let failure = self.fail.lock().unwrap().get(ciphertext).cloned();
            let result = match failure {
                Some(e) => Err(e),
                None => self.inner.decrypt_data_key(ciphertext, context).await,
            };
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            result
        })
    }
}

/// `keys` distinct data keys (each its own wrapping key) and `records` records using key
/// `i % keys`; KMS holds calls until `hold_until` are in flight.
fn batch(
    keys: usize,
    records: usize,
    hold_until: usize,
) -> (CountingKms, Vec<Vec<u8>>, FirehoseEvent) {
    let kms = CountingKms {
        hold_until,
        expected_calls: keys,
        ..CountingKms::default()
    };
    let wrapping: Vec<[u8; 32]> = (0..keys).map(|k| [k as u8 + 1; 32]).collect();
    let cts: Vec<Vec<u8>> = wrapping
        .iter()
        .map(|wk| kms.inner.encrypt(wk, cluster_context()))
        .collect();
    let plain = payload(&[pg_event("READ", "SELECT", "app", DAY1, 1)]);
    let event = firehose_event(
        (0..records)
            .map(|i| {
                let k = i % keys;
                let rec = das_record("1.1", &cts[k], &wrapping[k], &plain, i as u8);
                firehose_record(&format!("r{i}"), &rec)
            })
            .collect(),
    );
    (kms, cts, event)
}

fn transformer(kms: &Arc<CountingKms>, concurrency: usize) -> Transformer {
    let config = DasConfig {
        kms_concurrency: concurrency,
        ..DasConfig::default()
    };
    Transformer::new(config, kms.clone())
}

fn results(event: &FirehoseEvent, response: &[u8]) -> Vec<RecordResult> {
    let response: FirehoseResponse = serde_json::from_slice(response).unwrap();
    check_contract(event, &response).unwrap();
    response.records.iter().map(|r| r.result).collect()
}

#[tokio::test]
async fn given_more_keys_than_the_bound_then_exactly_the_bound_is_in_flight() {
    for (concurrency, keys) in [(4, 10), (16, 40), (1, 5)] {
        let (kms, _, event) = batch(keys, keys, concurrency);
        let kms = Arc::new(kms);
        let out = transformer(&kms, concurrency)
            .transform(&event)
            .await
            .unwrap();
        assert_eq!(kms.max_in_flight(), concurrency, "bound {concurrency}");
        assert_eq!(out.stats.records_ok, keys as u64);
        assert_eq!(out.stats.kms_calls, keys as u64);
    }
}

#[tokio::test]
async fn given_fewer_keys_than_the_default_bound_then_all_are_in_flight_together() {
    let (kms, _, event) = batch(5, 12, 16);
    let kms = Arc::new(kms);
    let t = Transformer::new(DasConfig::default(), kms.clone());
    assert_eq!(t.config().kms_concurrency, 16);
    let out = t.transform(&event).await.unwrap();
    assert_eq!(kms.max_in_flight(), 5);
    assert!(kms.max_in_flight() > 1);
    assert_eq!(out.stats.records_ok, 12);
}

#[tokio::test]
async fn given_keys_shared_by_records_then_each_distinct_key_is_decrypted_once() {
    let (kms, cts, event) = batch(3, 10, 3);
    let kms = Arc::new(kms);
    let t = transformer(&kms, 16);
    let out = t.transform(&event).await.unwrap();
    assert_eq!(out.stats.kms_calls, 3);
    let per_key = kms.per_key.lock().unwrap().clone();
    assert_eq!(per_key, cts.iter().map(|c| (c.clone(), 1)).collect());
    assert_eq!(out.stats.records_ok, 10);
    // Warm container: every key cached, no call at all.
    let again = t.transform(&event).await.unwrap();
    assert_eq!(again.stats.kms_calls, 0);
    assert_eq!(kms.started.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn given_a_refused_key_then_only_its_records_fail() {
    let (kms, cts, event) = batch(5, 10, 5);
    kms.fail.lock().unwrap().insert(
        cts[2].clone(),
        KmsError::Refused {
            code: "AccessDeniedException".into(),
            message: "not yours".into(),
        },
    );
    let kms = Arc::new(kms);
    let out = transformer(&kms, 16).transform(&event).await.unwrap();
    let got = results(&event, &out.response);
    let want: Vec<_> = (0..10)
        .map(|i| match i % 5 {
            2 => RecordResult::ProcessingFailed,
            _ => RecordResult::Ok,
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(out.stats.records_failed, 2);
    assert_eq!(out.stats.kms_calls, 5);
    assert_eq!(kms.max_in_flight(), 5);
}

#[tokio::test]
async fn given_one_throttled_key_among_many_then_the_invocation_fails() {
    let (kms, cts, event) = batch(8, 16, 4);
    kms.fail.lock().unwrap().insert(
        cts[5].clone(),
        KmsError::Unavailable {
            code: "ThrottlingException".into(),
            message: "slow down".into(),
        },
    );
    let kms = Arc::new(kms);
    let t = transformer(&kms, 4);
    let err = t.transform(&event).await.unwrap_err();
    // Named after the first record that carries the throttled key.
    assert!(
        matches!(
            err,
            InvocationError::KmsUnavailable { ref record_id, source: KmsError::Unavailable { ref code, .. } }
                if record_id == "r5" && code == "ThrottlingException"
        ),
        "{err}"
    );
    // Firehose retries the batch: the throttled key was not cached, so it is asked again.
    kms.fail.lock().unwrap().clear();
    let out = t.transform(&event).await.unwrap();
    assert_eq!(out.stats.records_ok, 16);
    assert_eq!(kms.per_key.lock().unwrap()[&cts[5]], 2);
}
