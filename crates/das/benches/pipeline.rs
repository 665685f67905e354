//! `make bench`: one warm-container invocation of 500 DAS records × ~20 events (realistic
//! Aurora PostgreSQL events, ~15 KB of JSON per record before gzip) against an in-process fake
//! KMS, compared in the same run with a bare base64 + AES-GCM + gunzip pass over the same bytes.
//! Prints records/s, events/s, the median ratio, and peak RSS (VmHWM).
//!
//! Also printed, so the ratio can be read for what it is:
//! - the ratio to the same bare pass gunzipping with the transformer's own one-call gunzip
//!   (`sluice_das::gunzip`) instead of flate2's `GzDecoder` per record, which leaves only the
//!   transformer's own work (parsing, filtering, NDJSON, base64 out, the response) in the gap;
//! - a 250-record batch whose every record fits in the 6 MB response (in the 500-record batch,
//!   about 40% of the records cannot fit and stop early, as they would in production);
//! - what handing the response to the Lambda runtime costs: the JSON text checked once as a
//!   `RawValue` and copied, against serialising the same answers from structs.
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, Throughput};
use serde_json::value::RawValue;
use sluice_das::gunzip::Gunzip;
use sluice_das::{DasConfig, Transformer};
use sluice_firehose::{FirehoseEvent, FirehoseResponse, check_contract};
use support::*;

const RECORDS: usize = 500;
/// A batch whose every answer fits in one response.
const FITTING: usize = 250;
const EVENTS: usize = 20;
const WK: [u8; 32] = [0x42; 32];

struct Fixture {
    event: FirehoseEvent,
    /// Per record: base64 of AES-256-GCM(gzip(payload)) in one shot, and its tag.
    bare: Vec<(String, [u8; 16])>,
    transformer: Transformer,
}

fn fixture(record_count: usize) -> Fixture {
    let kms = Arc::new(FakeKms::default());
    let key = kms.encrypt(&WK, cluster_context());
    let classes = [
        ("READ", "SELECT"),
        ("WRITE", "INSERT"),
        ("WRITE", "UPDATE"),
        ("DDL", "CREATE INDEX"),
        ("MISC", "CONNECT"),
    ];
    let mut records = Vec::new();
    let mut bare = Vec::new();
    for r in 0..record_count {
        let mut events = vec![heartbeat("2026-11-22 13:45:01.123456+00")];
        events.extend((0..EVENTS - 1).map(|e| {
            let (class, cmd) = classes[(r + e) % classes.len()];
            pg_event(
                class,
                cmd,
                "app",
                &format!(
                    "2026-11-22 13:{:02}:{:02}.{:06}+00",
                    e % 60,
                    r % 60,
                    r * 7 + e
                ),
                r * EVENTS + e,
            )
        }));
        let plain = payload(&events);
        records.push(firehose_record(
            &format!("rec-{r:04}"),
            &das_record("1.1", &key, &WK, &plain, r as u8),
        ));
        let mut ct = gzip(&plain);
        let tag: [u8; 16] = Aes256Gcm::new_from_slice(&WK)
            .unwrap()
            .encrypt_inout_detached((&[1u8; 12]).into(), b"", InOutBuf::from(&mut ct[..]))
            .unwrap()
            .into();
        bare.push((STANDARD.encode(&ct), tag));
    }
    Fixture {
        event: firehose_event(records),
        bare,
        transformer: Transformer::new(DasConfig::default(), kms),
    }
}

/// The bare pass: per record, base64 of the Firehose data and of the ciphertext, AES-256-GCM,
/// and `gunzip` of the plaintext; returns the bytes produced.
fn bare_pass_with(f: &Fixture, mut gunzip: impl FnMut(&[u8]) -> usize) -> usize {
    let cipher = Aes256Gcm::new_from_slice(&WK).unwrap();
    let mut total = 0;
    for (rec, (b64, tag)) in f.event.records.iter().zip(&f.bare) {
        total += STANDARD.decode(&rec.data).unwrap().len();
        let mut buf = STANDARD.decode(b64).unwrap();
        cipher
            .decrypt_inout_detached(
                (&[1u8; 12]).into(),
                b"",
                InOutBuf::from(&mut buf[..]),
                tag.into(),
            )
            .unwrap();
        total += gunzip(&buf);
    }
    total
}

/// The reference: flate2's `GzDecoder` per record, as plain flate2 code does it.
fn bare_pass(f: &Fixture) -> usize {
    bare_pass_with(f, |gz| {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut out)
            .unwrap();
        out.len()
    })
}

/// [`bare_pass`] with the transformer's one-call gunzip, its inflate state kept across records.
fn bare_pass_one_call(f: &Fixture, gunzip: &mut Gunzip) -> usize {
    bare_pass_with(f, |gz| {
        gunzip.gunzip_capped("bare", gz, 1 << 24).unwrap().len()
    })
}

/// Medians of `runs` interleaved runs of the transformer, the bare pass and the one-call bare
/// pass over `f`.
fn interleaved(
    rt: &tokio::runtime::Runtime,
    f: &Fixture,
    runs: usize,
) -> (Duration, Duration, Duration) {
    let mut gunzip = Gunzip::new();
    let (mut das, mut bare, mut one_call) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        black_box(rt.block_on(f.transformer.transform(&f.event)).unwrap());
        das.push(t.elapsed());
        let t = Instant::now();
        black_box(bare_pass(f));
        bare.push(t.elapsed());
        let t = Instant::now();
        black_box(bare_pass_one_call(f, &mut gunzip));
        one_call.push(t.elapsed());
    }
    (median(das), median(bare), median(one_call))
}

/// Medians of turning `response` into the runtime's body: as a checked `RawValue` (what the
/// handler returns), and by serialising the same answers from structs.
fn handing_over(response: &[u8]) -> (Duration, Duration) {
    let parsed: FirehoseResponse = serde_json::from_slice(response).unwrap();
    let (mut raw, mut structs) = (Vec::new(), Vec::new());
    for _ in 0..15 {
        // As the handler does: the bytes moved into a String, checked as JSON, then written
        // out by the runtime's serde_json::to_vec.
        let bytes = response.to_vec();
        let t = Instant::now();
        let text = String::from_utf8(black_box(bytes)).unwrap();
        let value = RawValue::from_string(text).unwrap();
        black_box(serde_json::to_vec(&value).unwrap());
        raw.push(t.elapsed());
        let t = Instant::now();
        black_box(serde_json::to_vec(black_box(&parsed)).unwrap());
        structs.push(t.elapsed());
    }
    (median(raw), median(structs))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let f = fixture(RECORDS);
    let warm = rt.block_on(f.transformer.transform(&f.event)).unwrap();
    // Every record is decrypted and routed; those whose NDJSON no longer fits the 6 MB response
    // are answered ProcessingFailed with their original (encrypted) data, as in production.
    let answers: FirehoseResponse = serde_json::from_slice(&warm.response).unwrap();
    check_contract(&f.event, &answers).unwrap();
    drop(answers);
    assert_eq!(
        (warm.stats.records_ok + warm.stats.records_failed) as usize,
        RECORDS
    );
    assert!(warm.stats.records_ok > 0);
    let kept = warm.stats.events_kept;
    let response_bytes = warm.response.len();
    let input_bytes: usize = f.event.records.iter().map(|r| r.data.len()).sum();

    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    let mut g = c.benchmark_group("das");
    g.throughput(Throughput::Elements(RECORDS as u64));
    g.bench_function("transform_500_records", |b| {
        b.iter(|| {
            rt.block_on(f.transformer.transform(black_box(&f.event)))
                .unwrap()
        })
    });
    g.bench_function("bare_base64_aesgcm_gunzip_500_records", |b| {
        b.iter(|| bare_pass(black_box(&f)))
    });
    g.finish();

    // Interleaved runs for the ratios, medians of each.
    let (das, bare, one_call) = interleaved(&rt, &f, 15);
    // The high-water mark of the 500-record runs, before the extra measurements below.
    let peak = peak_rss_kib();
    let secs = das.as_secs_f64();
    println!(
        "das pipeline: {RECORDS} records ({:.1} MB base64 in), {kept} events kept: median {:.1} ms = {:.0} records/s, {:.0} events/s",
        input_bytes as f64 / 1e6,
        secs * 1e3,
        RECORDS as f64 / secs,
        kept as f64 / secs
    );
    println!(
        "  {} records Ok, {} over the 6 MB response budget (ProcessingFailed, original data kept); response {:.2} MB of JSON",
        warm.stats.records_ok,
        warm.stats.records_failed,
        response_bytes as f64 / 1e6
    );
    println!(
        "bare base64 + AES-GCM + gunzip pass: median {:.1} ms",
        bare.as_secs_f64() * 1e3
    );
    println!(
        "RATIO das/bare throughput = {:.2} (target >= 0.50)",
        bare.as_secs_f64() / secs
    );
    println!(
        "  the same bare pass with the transformer's one-call gunzip: median {:.1} ms, ratio {:.2}",
        one_call.as_secs_f64() * 1e3,
        one_call.as_secs_f64() / secs
    );

    let fitting = fixture(FITTING);
    let out = rt
        .block_on(fitting.transformer.transform(&fitting.event))
        .unwrap();
    assert_eq!(out.stats.records_ok as usize, FITTING, "every record fits");
    let (das, bare, one_call) = interleaved(&rt, &fitting, 15);
    println!(
        "  a {FITTING}-record batch that fits the response: median {:.1} ms, ratio {:.2} to the bare pass, {:.2} to the one-call one",
        das.as_secs_f64() * 1e3,
        bare.as_secs_f64() / das.as_secs_f64(),
        one_call.as_secs_f64() / das.as_secs_f64()
    );
    drop((fitting, out));

    let (raw, structs) = handing_over(&warm.response);
    println!(
        "response to the runtime: {:.2} ms as a checked RawValue (serialising the same answers from structs: {:.2} ms)",
        raw.as_secs_f64() * 1e3,
        structs.as_secs_f64() * 1e3
    );
    match peak {
        Some(kib) => println!(
            "peak RSS (VmHWM) of the 500-record runs: {:.1} MiB",
            kib as f64 / 1024.0
        ),
        None => println!("peak RSS: /proc/self/status unavailable"),
    }
}
