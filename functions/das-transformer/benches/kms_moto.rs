//! The 500-distinct-key batch against moto's KMS: one invocation of 500 DAS records, each under a
//! data key of its own (made by `crates/das/fixtures/make_event.py` through moto), transformed
//! by the library with the real KMS adapter and a cold key cache, one Decrypt call at a time
//! (`DAS_KMS_CONCURRENCY=1`, the behaviour before keys were decrypted concurrently) against the
//! default concurrency, interleaved in the same run. Prints each median and their ratio.
//!
//! `cargo bench -p das-transformer --bench kms_moto` (bench profile: the release profile's LTO,
//! slow to build), or `cargo test -p das-transformer --bench kms_moto` from the debug build.
//! Also printed: the same batch on the warm cache (no KMS call), so the KMS part can be read
//! apart. moto serves Decrypt from one Python process, so its own CPU bounds the speed-up here;
//! real KMS serves concurrent calls in parallel.
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice_das::config::DEFAULT_KMS_CONCURRENCY;
use sluice_das::{DasConfig, KeyDecryptor, KmsKeyDecryptor, Transformer};
use sluice_firehose::{FirehoseEvent, FirehoseResponse, RecordResult, check_contract};
use sluice_testbed::moto::Moto;

const RECORDS: usize = 500;
const EVENTS: usize = 5;
const ROUNDS: usize = 7;
const RID: &str = "cluster-BENCHKMS500";
const T1: &str = "2026-11-22 13:45:01.123456+00";

fn batch(moto: &Moto) -> FirehoseEvent {
    let records: Vec<Value> = (0..RECORDS)
        .map(|r| {
            let events: Vec<Value> = (0..EVENTS)
                .map(|e| support::pg_select(r * EVENTS + e, T1))
                .collect();
            json!({"record_id": format!("r{r:03}"), "own_key": true, "payload": {
                "type": "DatabaseActivityMonitoringRecord", "clusterId": RID,
                "instanceId": "db-ABC", "databaseActivityEventList": events}})
        })
        .collect();
    let spec = json!({"resource_id": RID, "invocation_id": "bench", "records": records});
    serde_json::from_value(support::make_event(moto, &spec)).unwrap()
}

/// One invocation on a cold cache (checks every record is answered `Ok` after 500 KMS calls),
/// then a second one on the now warm cache (no KMS call: the rest of the work).
fn run_twice(
    rt: &tokio::runtime::Runtime,
    kms: &Arc<dyn KeyDecryptor>,
    event: &FirehoseEvent,
    concurrency: usize,
) -> (Duration, Duration) {
    let config = DasConfig {
        kms_concurrency: concurrency,
        ..DasConfig::default()
    };
    let transformer = Transformer::new(config, Arc::clone(kms));
    let cold = timed(rt, &transformer, event, RECORDS);
    let warm = timed(rt, &transformer, event, 0);
    (cold, warm)
}

fn run(
    rt: &tokio::runtime::Runtime,
    kms: &Arc<dyn KeyDecryptor>,
    event: &FirehoseEvent,
    concurrency: usize,
) -> Duration {
    run_twice(rt, kms, event, concurrency).0
}

fn timed(
    rt: &tokio::runtime::Runtime,
    transformer: &Transformer,
    event: &FirehoseEvent,
    kms_calls: usize,
) -> Duration {
    let start = Instant::now();
    let out = rt.block_on(transformer.transform(event)).unwrap();
    let took = start.elapsed();
    assert_eq!(out.stats.kms_calls, kms_calls as u64);
    let response: FirehoseResponse = serde_json::from_slice(&out.response).unwrap();
    check_contract(event, &response).unwrap();
    assert!(
        response
            .records
            .iter()
            .all(|r| r.result == RecordResult::Ok)
    );
    took
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let moto = Moto::start();
    let event = batch(&moto);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = aws_sdk_kms::Client::new(&moto.sdk_config());
    let kms: Arc<dyn KeyDecryptor> = Arc::new(KmsKeyDecryptor::new(client));
    // Warm-up: connections, moto's code paths.
    run(&rt, &kms, &event, 1);
    run(&rt, &kms, &event, DEFAULT_KMS_CONCURRENCY);
    let (mut sequential, mut concurrent, mut warm) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let (cold, w) = run_twice(&rt, &kms, &event, 1);
        sequential.push(cold);
        warm.push(w);
        concurrent.push(run(&rt, &kms, &event, DEFAULT_KMS_CONCURRENCY));
    }
    let (seq, conc, warm) = (median(sequential), median(concurrent), median(warm));
    let rate = |d: Duration| RECORDS as f64 / d.as_secs_f64();
    println!(
        "kms_moto: {RECORDS} records, {RECORDS} distinct keys, moto KMS, cold cache, median of {ROUNDS}"
    );
    println!(
        "  {:<28}{:>8.1} ms  {:>7.0} records/s",
        "concurrency 1 (sequential):",
        seq.as_secs_f64() * 1e3,
        rate(seq)
    );
    println!(
        "  {:<28}{:>8.1} ms  {:>7.0} records/s",
        format!("concurrency {DEFAULT_KMS_CONCURRENCY} (default):"),
        conc.as_secs_f64() * 1e3,
        rate(conc)
    );
    println!(
        "  {:<28}{:>8.1} ms  {:>7.0} records/s",
        "warm cache (no KMS call):",
        warm.as_secs_f64() * 1e3,
        rate(warm)
    );
    println!(
        "  speed-up: {:.2}x overall; {:.2}x on the KMS part (each minus the warm time)",
        seq.as_secs_f64() / conc.as_secs_f64(),
        (seq.as_secs_f64() - warm.as_secs_f64()) / (conc.as_secs_f64() - warm.as_secs_f64())
    );
}
