//! `make bench`: the processor over Firehose batches of ~1 MB and ~3 MB compressed input (~50
//! events of 100–300 bytes per record), against a bare base64 + gunzip pass over the same records.
//!
//! Criterion reports each; a final interleaved run prints medians, MB/s of log text produced,
//! the ratio (bare time / processor time, target ≥ 0.5) and peak RSS (VmHWM).
//! The response limit is lifted so every record is formatted (no re-ingest in the timing).

#![allow(missing_docs, clippy::print_stdout, clippy::unwrap_used)]

use std::io::Read;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cloudwatch_processor::{Config, handle};
use criterion::{BenchmarkId, Criterion, Throughput};
use sluice_firehose::FirehoseEvent;
use support::{AcceptAll, batch};

mod support;

fn config() -> Config {
    Config {
        response_limit: usize::MAX / 2,
        ..Config::default()
    }
}

/// The processor over `event`; returns bytes of log text produced.
fn process(rt: &tokio::runtime::Runtime, event: &FirehoseEvent, config: &Config) -> u64 {
    let done = rt.block_on(handle(event, config, &AcceptAll)).unwrap();
    assert_eq!(done.stats.ok, event.records.len() as u64);
    done.stats.bytes_delivered
}

/// The floor: base64 decode and gunzip of every record, nothing else.
fn bare(event: &FirehoseEvent) -> u64 {
    let mut out = Vec::new();
    let mut total = 0;
    for r in &event.records {
        let gz = STANDARD.decode(r.data.as_bytes()).unwrap();
        out.clear();
        flate2::read::MultiGzDecoder::new(&gz[..])
            .read_to_end(&mut out)
            .unwrap();
        total += out.len() as u64;
    }
    total
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let config = config();
    let sizes = [("1MB", 1usize << 20), ("3MB", 3 << 20)];
    let events: Vec<(&str, FirehoseEvent)> = sizes.iter().map(|(n, s)| (*n, batch(*s))).collect();

    let mut c = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .configure_from_args();
    let mut group = c.benchmark_group("cloudwatch-processor");
    for (name, event) in &events {
        let text = process(&rt, event, &config);
        group.throughput(Throughput::Bytes(text));
        group.bench_with_input(BenchmarkId::new("processor", name), event, |b, e| {
            b.iter(|| process(&rt, e, &config))
        });
        group.bench_with_input(
            BenchmarkId::new("bare-base64-gunzip", name),
            event,
            |b, e| b.iter(|| bare(e)),
        );
    }
    group.finish();

    for (name, event) in &events {
        let input: usize = event.records.iter().map(|r| r.data.len() * 3 / 4).sum();
        let (mut p, mut b) = (Vec::new(), Vec::new());
        let mut text = 0;
        for _ in 0..15 {
            let t = Instant::now();
            text = process(&rt, event, &config);
            p.push(t.elapsed());
            let t = Instant::now();
            std::hint::black_box(bare(event));
            b.push(t.elapsed());
        }
        let (pm, bm) = (median(p), median(b));
        let mbps = text as f64 / 1e6 / pm.as_secs_f64();
        println!(
            "cloudwatch-processor {name}: {} records, {:.2} MB gzip in, {:.2} MB text out | processor median {:.1} ms = {mbps:.0} MB/s of log text | bare base64+gunzip median {:.1} ms | ratio (bare/processor) {:.2} (target >= 0.5)",
            event.records.len(),
            input as f64 / 1e6,
            text as f64 / 1e6,
            pm.as_secs_f64() * 1e3,
            bm.as_secs_f64() * 1e3,
            bm.as_secs_f64() / pm.as_secs_f64(),
        );
    }
    println!(
        "cloudwatch-processor peak RSS (VmHWM): {} KiB",
        peak_rss_kib()
    );
}
