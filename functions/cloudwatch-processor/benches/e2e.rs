//! `make bench`, the CloudWatch Logs export's benchmark of record (issue 23): the real release
//! `cloudwatch-processor` behind the test bed's Lambda host, invoked as Firehose invokes it with
//! a Kinesis source, its re-ingest going to that stream in the test bed's moto.
//!
//! Three events: ~1 MiB and ~3 MiB of gzipped subscription payloads (50 events of 100–300 bytes
//! per record), and one record whose output passes the 6 MB response (split and re-ingested).
//! One warm function process; each round times one invocation, interleaved with the bare pass
//! in this process (base64, gunzip and JSON parse of every record: the work no transformation
//! can skip) and the transform alone (the processor's `handle`, in process, re-ingest accepted
//! without a call). Prints medians: MB/s of message text (every event of the batch, delivered or
//! re-ingested), records and pieces re-ingested, the function's peak RSS, the ratio bare/e2e and
//! the transform-only figure beside it.
//!
//! `cargo build --release -p cloudwatch-processor && cargo bench -p cloudwatch-processor --bench e2e`.
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

mod support;

use std::io::Read;
use std::time::{Duration, Instant};

use bytes::Bytes;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cloudwatch_processor::{Config, handle};
use serde_json::Value;
use sluice_cwlogs::Payload;
use sluice_firehose::{FirehoseEvent, FirehoseResponse};
use sluice_testbed::lambda::{FunctionSpec, LambdaHost};
use sluice_testbed::moto::Moto;
use sluice_testbed::{paths, procfs};
use support::AcceptAll;

const ROUNDS: usize = 7;
const FUNCTION: &str = "cloudwatch-processor";
const STREAM: &str = "bench-cwl";

/// Bytes of message text in `event` (what the batch carries, whatever becomes of it).
fn message_text(event: &FirehoseEvent) -> usize {
    parse_all(event)
        .iter()
        .flat_map(|p| p.log_events.iter().map(|e| e.message.len()))
        .sum()
}

/// The bare pass: base64, gunzip and the JSON parse of every record.
fn parse_all(event: &FirehoseEvent) -> Vec<Payload> {
    let mut json = Vec::new();
    event
        .records
        .iter()
        .map(|r| {
            let gz = STANDARD.decode(r.data.as_bytes()).unwrap();
            json.clear();
            flate2::read::MultiGzDecoder::new(&gz[..])
                .read_to_end(&mut json)
                .unwrap();
            serde_json::from_slice(&json).unwrap()
        })
        .collect()
}

/// One invocation through the Lambda host: its time and the EMF counters it logged.
async fn e2e(host: &LambdaHost, event: &Bytes, records: usize) -> (Duration, Value) {
    let before = host
        .logs(FUNCTION)
        .lines()
        .filter(|l| l.contains("\"RecordsReingested\""))
        .count();
    let start = Instant::now();
    let out = host
        .invoke_bytes(FUNCTION, event.clone())
        .await
        .unwrap_or_else(|e| panic!("{e:?}\n{}", host.logs(FUNCTION)));
    let took = start.elapsed();
    let response: FirehoseResponse = serde_json::from_slice(&out).unwrap();
    assert_eq!(response.records.len(), records, "every record answered");
    // This invocation's metrics: the newest metrics line, once there is one more than before
    // (it may reach the host's log a moment after the answer).
    for _ in 0..50 {
        let logs = host.logs(FUNCTION);
        let lines: Vec<Value> = logs
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
            .filter(|v| v.get("RecordsReingested").is_some())
            .collect();
        if lines.len() > before {
            return (took, lines[lines.len() - 1].clone());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no metrics line:\n{}", host.logs(FUNCTION));
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
    rt.block_on(async {
        aws_sdk_kinesis::Client::new(&moto.sdk_config())
            .create_stream()
            .stream_name(STREAM)
            .shard_count(4)
            .send()
            .await
            .unwrap();
    });
    let host = LambdaHost::start();
    host.add_function(
        FUNCTION,
        &paths::bin_path(FUNCTION),
        FunctionSpec {
            env: moto.env(),
            ..FunctionSpec::default()
        },
    );
    rt.block_on(host.init_duration(FUNCTION, Duration::from_secs(10)))
        .expect("function init");
    let config = Config::default();
    println!(
        "cloudwatch-processor e2e: release binary behind the Lambda host, re-ingest into moto Kinesis, \
         {ROUNDS} rounds (one warm process), medians"
    );
    let events = [
        ("~1 MiB gzip batch", support::batch(1 << 20)),
        ("~3 MiB gzip batch", support::batch(3 << 20)),
        ("one record, >6 MB out", support::one_record(36_000)),
    ];
    for (label, mut event) in events {
        event.source_kinesis_stream_arn = Some(format!(
            "arn:aws:kinesis:us-east-1:123456789012:stream/{STREAM}"
        ));
        // The event's JSON text, made once: what Firehose sends (a clone of `Bytes` is a
        // reference count, not a copy).
        let json = Bytes::from(serde_json::to_vec(&event).unwrap());
        let records = event.records.len();
        let text = message_text(&event);
        rt.block_on(e2e(&host, &json, records));
        let (mut e2e_t, mut bare_t, mut only_t, mut reingested, mut pieces) =
            (vec![], vec![], vec![], vec![], vec![]);
        for _ in 0..ROUNDS {
            let (took, metrics) = rt.block_on(e2e(&host, &json, records));
            e2e_t.push(took);
            // EMF values may be written as floats.
            let count = |k: &str| metrics[k].as_f64().unwrap_or(f64::NAN) as u64;
            reingested.push(count("RecordsReingested"));
            pieces.push(count("PiecesReingested"));
            let t = Instant::now();
            std::hint::black_box(parse_all(&event));
            bare_t.push(t.elapsed());
            let t = Instant::now();
            std::hint::black_box(rt.block_on(handle(&event, &config, &AcceptAll)).unwrap());
            only_t.push(t.elapsed());
        }
        let (e, b, o) = (median(e2e_t), median(bare_t), median(only_t));
        let mbps = |d: Duration| text as f64 / 1e6 / d.as_secs_f64();
        println!(
            "  {label:<22} {records:>4} records, {:5.1} MB text: e2e {:7.1} ms = {:6.1} MB/s | re-ingested {} records in {} pieces | bare pass {:6.1} ms, ratio bare/e2e {:.2} | transform only {:6.1} ms = {:6.1} MB/s",
            text as f64 / 1e6,
            e.as_secs_f64() * 1e3,
            mbps(e),
            median(reingested),
            median(pieces),
            b.as_secs_f64() * 1e3,
            b.as_secs_f64() / e.as_secs_f64(),
            o.as_secs_f64() * 1e3,
            mbps(o),
        );
    }
    // Linux keeps the first 15 bytes of a command's name.
    let pid = procfs::child_pid(&FUNCTION[..15]).expect("function process");
    println!(
        "  function peak RSS {:.1} MiB",
        procfs::vm_hwm_kib(pid) as f64 / 1024.0
    );
}
