//! `make bench`, the activity-stream audit's benchmark of record: the real release
//! `das-transformer` behind the test bed's Lambda host, invoked as Firehose would with batches
//! made by the Python aws-encryption-sdk, its data keys decrypted by moto's KMS.
//!
//! Four batches: a data key per record (what a busy stream sends) and one key shared by all
//! records, each with 200 and 500 records of 5 events. Every round starts a fresh function
//! process (a cold key cache: every distinct key costs a KMS call, as a new batch's keys do in a
//! warm container) and times one invocation after the process's init. Interleaved with it, the
//! bare pass on the same batch in this process: base64, the record JSON, the distinct keys
//! through the same moto (as many at once as the function), AES-GCM and gunzip, base64 of the
//! plaintext: the work no transformation can skip. Prints medians of records/s, KMS calls,
//! PutObjects, the function's peak RSS and the ratio bare/e2e.
//!
//! `cargo build --release -p das-transformer && cargo bench -p das-transformer --bench e2e`.
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures_util::StreamExt;
use serde_json::{Value, json};
use sluice_das::config::DEFAULT_KMS_CONCURRENCY;
use sluice_das::gunzip::Gunzip;
use sluice_das::record::{self, KEY_NAME, PROVIDER_ID};
use sluice_das::{KeyDecryptor, KmsKeyDecryptor, source};
use sluice_esdk::RawAesKeyring;
use sluice_firehose::{FirehoseEvent, FirehoseResponse, RecordResult};
use sluice_testbed::lambda::{FunctionSpec, LambdaHost};
use sluice_testbed::moto::Moto;
use sluice_testbed::{paths, procfs};

const ROUNDS: usize = 5;
const EVENTS: usize = 5;
const RID: &str = "cluster-BENCHE2E";
const T1: &str = "2026-11-22 13:45:01.123456+00";
const BUCKET: &str = "das-bench";
const FUNCTION: &str = "das-transformer";

fn batch(moto: &Moto, records: usize, own_keys: bool) -> FirehoseEvent {
    let records: Vec<Value> = (0..records)
        .map(|r| {
            let events: Vec<Value> = (0..EVENTS)
                .map(|e| support::pg_select(r * EVENTS + e, T1))
                .collect();
            json!({"record_id": format!("r{r:03}"), "own_key": own_keys, "payload": {
                "type": "DatabaseActivityMonitoringRecord", "clusterId": RID,
                "instanceId": "db-ABC", "databaseActivityEventList": events}})
        })
        .collect();
    let spec = json!({"resource_id": RID, "invocation_id": "bench", "records": records});
    serde_json::from_value(support::make_event(moto, &spec)).unwrap()
}

/// What one invocation cost.
struct E2e {
    took: Duration,
    kms_calls: u64,
    put_objects: usize,
    hwm_kib: u64,
}

/// A fresh function process, one invocation timed after its init. (moto is not reset: that
/// would drop the batch's KMS keys; each run gets a bucket of its own for its spills.)
async fn e2e(moto: &Moto, event: &Value, records: usize) -> E2e {
    static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let bucket = format!(
        "{BUCKET}-{}",
        RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let s3 = moto.s3_client();
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let host = LambdaHost::start();
    let mut env = moto.env();
    for (k, v) in [
        ("DAS_RESOURCE_ID", RID),
        ("DAS_SPILL_BUCKET", bucket.as_str()),
        ("DAS_SPILL_PREFIX", "activity-streams/events/"),
        ("DAS_KEY_CACHE_SIZE", "16384"),
        ("DAS_KMS_CONCURRENCY", "16"),
    ] {
        env.push((k.to_owned(), v.to_owned()));
    }
    host.add_function(
        FUNCTION,
        &paths::bin_path(FUNCTION),
        FunctionSpec {
            env,
            ..FunctionSpec::default()
        },
    );
    host.init_duration(FUNCTION, Duration::from_secs(10))
        .await
        .expect("function init");
    let start = Instant::now();
    let out = host
        .invoke(FUNCTION, event)
        .await
        .unwrap_or_else(|e| panic!("{e:?}\n{}", host.logs(FUNCTION)));
    let took = start.elapsed();
    let pid = procfs::child_pid(FUNCTION).expect("function process");
    let hwm_kib = procfs::vm_hwm_kib(pid);
    let response: FirehoseResponse = serde_json::from_value(out).unwrap();
    assert_eq!(response.records.len(), records);
    let logs = host.logs(FUNCTION);
    assert!(
        response
            .records
            .iter()
            .all(|r| r.result == RecordResult::Ok),
        "{logs}"
    );
    let kms_calls = logs
        .lines()
        .find_map(|l| {
            let v: Value = serde_json::from_str(l.trim()).ok()?;
            v["KmsCalls"].as_f64()
        })
        .unwrap_or(f64::NAN) as u64;
    let put_objects = s3
        .list_objects_v2()
        .bucket(&bucket)
        .send()
        .await
        .unwrap()
        .contents()
        .len();
    E2e {
        took,
        kms_calls,
        put_objects,
        hwm_kib,
    }
}

/// The bare pass: the irreducible work on the same batch, KMS through the same moto.
async fn bare(kms: &Arc<dyn KeyDecryptor>, event: &FirehoseEvent) -> Duration {
    let start = Instant::now();
    let context = source::encryption_context(source::context_key_for(RID), RID);
    let mut parsed = Vec::new();
    for rec in &event.records {
        let bytes = STANDARD.decode(&rec.data).unwrap();
        let das = record::parse_record(&rec.record_id, &bytes).unwrap();
        let key = STANDARD.decode(das.key.as_bytes()).unwrap();
        let msg = STANDARD
            .decode(das.database_activity_events.as_bytes())
            .unwrap();
        parsed.push((key, msg));
    }
    let distinct: Vec<Vec<u8>> = parsed
        .iter()
        .map(|(k, _)| k.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let keys: BTreeMap<Vec<u8>, Vec<u8>> = futures_util::stream::iter(distinct)
        .map(|k| {
            let (kms, context) = (Arc::clone(kms), &context);
            async move {
                let plain = kms.decrypt_data_key(&k, context).await.unwrap();
                (k, plain)
            }
        })
        .buffer_unordered(DEFAULT_KMS_CONCURRENCY)
        .collect()
        .await;
    let mut gunzip = Gunzip::new();
    let mut out = 0;
    for (key, msg) in &parsed {
        let keyring = RawAesKeyring::new(PROVIDER_ID, KEY_NAME, &keys[key]).unwrap();
        let plain = record::open_events("bench", msg, &keyring, &mut gunzip, usize::MAX).unwrap();
        out += STANDARD.encode(&plain).len();
    }
    assert!(out > 0);
    start.elapsed()
}

fn median<T: Copy + PartialOrd>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let moto = Moto::start();
    let kms: Arc<dyn KeyDecryptor> = Arc::new(KmsKeyDecryptor::new(aws_sdk_kms::Client::new(
        &moto.sdk_config(),
    )));
    println!(
        "das e2e: release das-transformer behind the Lambda host, moto KMS, {EVENTS} events per record, \
         {ROUNDS} rounds (fresh process each), medians"
    );
    for (label, own_keys) in [("a key per record", true), ("one shared key", false)] {
        for records in [200, 500] {
            let event = batch(&moto, records, own_keys);
            let json = serde_json::to_value(&event).unwrap();
            // Warm-up: moto's code paths and connections.
            rt.block_on(e2e(&moto, &json, records));
            let (mut e2e_t, mut bare_t, mut calls, mut puts, mut hwm) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for _ in 0..ROUNDS {
                let run = rt.block_on(e2e(&moto, &json, records));
                e2e_t.push(run.took);
                calls.push(run.kms_calls);
                puts.push(run.put_objects);
                hwm.push(run.hwm_kib);
                bare_t.push(rt.block_on(bare(&kms, &event)));
            }
            let (e, b) = (median(e2e_t), median(bare_t));
            println!(
                "  {label:<16} {records:>3} records: e2e {:7.1} ms {:8.0} records/s | KMS calls {:>3} | PutObjects {} | peak RSS {:5.1} MiB | bare pass {:7.1} ms | ratio bare/e2e {:.2}",
                e.as_secs_f64() * 1e3,
                records as f64 / e.as_secs_f64(),
                median(calls),
                median(puts),
                median(hwm) as f64 / 1024.0,
                b.as_secs_f64() * 1e3,
                b.as_secs_f64() / e.as_secs_f64(),
            );
        }
    }
}
