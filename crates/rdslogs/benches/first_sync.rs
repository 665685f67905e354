//! `make bench`: a first sync of about 1 GiB (8 files × 128 MiB) from the test-bed RDS
//! endpoint (SigV4 checked, files on local disk) into a local S3 sink, against a bare
//! signed HTTP GET → unsigned streaming PUT of the same bytes through the same two servers, in
//! the same run. Each copy runs in a child process (this executable again) so its peak RSS
//! (VmHWM) is its own; a 100 MiB and a 2 GiB file show that memory does not follow file size.

mod sink;

use std::process::Command;
use std::time::Instant;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use futures_util::StreamExt;
use sluice_rdslogs::copy::CopyOptions;
use sluice_rdslogs::download::{RdsDownloader, RetryPolicy, http_client};
use sluice_rdslogs::ports::LogStream;
use sluice_rdslogs::rds::RdsSource;
use sluice_rdslogs::s3::S3Store;
use sluice_rdslogs::{ListFilter, LogSource, SyncOptions, sync_all};
use sluice_testbed::rds_logs::RdsLogs;

const MIB: usize = 1024 * 1024;
const CONCURRENCY: usize = 4;
/// The default part size, as the log-syncer runs it.
const PART_MIB: usize = sluice_rdslogs::copy::MIN_PART_SIZE / MIB;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("child") {
        child(&args[2..]);
        return;
    }
    parent();
}

/// One MiB of log lines, some multibyte.
fn block() -> Vec<u8> {
    let line = "2026-11-22 13:00:01.123 UTC [4242] LOG:  duration: 0.042 ms  statement: SELECT 'naïve café ✓';\n";
    let mut out = line.repeat(MIB / line.len() + 1).into_bytes();
    out.truncate(MIB);
    out
}

fn write_file(rds: &RdsLogs, instance: &str, name: &str, mib: usize) {
    let b = block();
    rds.write(instance, name, &b);
    for _ in 1..mib {
        rds.append(instance, name, &b);
    }
}

struct Run {
    bytes: u64,
    secs: f64,
    hwm_kib: u64,
}

impl Run {
    fn mbps(&self) -> f64 {
        self.bytes as f64 / self.secs / 1e6
    }
}

fn spawn(mode: &str, rds: &str, sink: &str, instance: &str) -> Run {
    let exe = std::env::current_exe().expect("bench executable");
    let out = Command::new(exe)
        .args(["child", mode, rds, sink, instance])
        .output()
        .expect("run child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| {
            panic!(
                "child {mode} failed: {stdout} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let v: Vec<f64> = line.split(' ').filter_map(|x| x.parse().ok()).collect();
    Run {
        bytes: v[0] as u64,
        secs: v[1],
        hwm_kib: v[2] as u64,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[allow(clippy::print_stdout)]
fn parent() {
    let rds = RdsLogs::start();
    let (sink, _received) = sink::start();
    let ep = rds.endpoint();
    for i in 0..8 {
        write_file(
            &rds,
            "gib",
            &format!("error/postgresql.log.2026-11-22-{i:02}"),
            128,
        );
    }
    println!(
        "first sync of 8 × 128 MiB = 1 GiB, {CONCURRENCY} files at once, {PART_MIB} MiB parts; 3 rounds each"
    );
    let (mut bare, mut sync, mut bare_hwm, mut sync_hwm) = (Vec::new(), Vec::new(), 0, 0);
    for _ in 0..3 {
        let b = spawn("bare", &ep, &sink, "gib");
        let s = spawn("sync", &ep, &sink, "gib");
        assert_eq!(s.bytes, b.bytes, "same bytes copied");
        bare.push(b.mbps());
        sync.push(s.mbps());
        bare_hwm = bare_hwm.max(b.hwm_kib);
        sync_hwm = sync_hwm.max(s.hwm_kib);
    }
    let (bm, sm) = (median(bare), median(sync));
    println!(
        "  bare GET→PUT : median {bm:8.1} MB/s   peak RSS {:6.1} MiB",
        bare_hwm as f64 / 1024.0
    );
    println!(
        "  log sync     : median {sm:8.1} MB/s   peak RSS {:6.1} MiB",
        sync_hwm as f64 / 1024.0
    );
    println!("  ratio sync/bare: {:.2}", sm / bm);
    for (instance, mib) in [("m100", 100), ("g2", 2048)] {
        write_file(&rds, instance, "error/postgresql.log.2026-11-22-13", mib);
        let b = spawn("bare", &ep, &sink, instance);
        let s = spawn("sync", &ep, &sink, instance);
        println!(
            "one {mib} MiB file: sync {:7.1} MB/s peak RSS {:5.1} MiB | bare {:7.1} MB/s peak RSS {:5.1} MiB",
            s.mbps(),
            s.hwm_kib as f64 / 1024.0,
            b.mbps(),
            b.hwm_kib as f64 / 1024.0
        );
        rds.remove(instance, "error/postgresql.log.2026-11-22-13");
    }
}

fn sdk(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(sluice_runtime::aws::http_client())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(credentials())
        .build()
}

fn credentials() -> SharedCredentialsProvider {
    SharedCredentialsProvider::new(Credentials::new(
        "testing",
        "testing",
        Some("testing".into()),
        None,
        "bench",
    ))
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[allow(clippy::print_stdout)]
fn child(args: &[String]) {
    let [mode, rds, sink, instance] = args else {
        panic!("child <mode> <rds> <sink> <instance>");
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (bytes, secs) = rt.block_on(async {
        let downloader = RdsDownloader::new(
            http_client().expect("http"),
            rds.as_str(),
            "us-east-1",
            credentials(),
            RetryPolicy::default(),
        );
        let source = RdsSource::new(aws_sdk_rds::Client::new(&sdk(rds)), downloader);
        let started = Instant::now();
        let bytes = if mode == "sync" {
            let conf = aws_sdk_s3::config::Builder::from(&sdk(sink))
                .force_path_style(true)
                .build();
            let store = S3Store::new(aws_sdk_s3::Client::from_conf(conf), "bench");
            let opts = SyncOptions {
                copy: CopyOptions {
                    part_size: PART_MIB * MIB,
                    gzip: false,
                },
                file_concurrency: CONCURRENCY,
                ..SyncOptions::default()
            };
            let reports = sync_all(&source, &store, &opts, std::slice::from_ref(instance)).await;
            assert!(reports[0].is_ok(), "{:?}", reports[0]);
            reports[0].source_bytes()
        } else {
            bare(&source, sink, instance).await
        };
        (bytes, started.elapsed().as_secs_f64())
    });
    println!("RESULT {bytes} {secs} {}", vm_hwm_kib());
}

/// Signed GET streamed straight into an unsigned PUT, `CONCURRENCY` files at once.
async fn bare(source: &RdsSource, sink: &str, instance: &str) -> u64 {
    let files = source
        .log_files(instance, &ListFilter::default())
        .await
        .expect("list");
    let http = reqwest::Client::new();
    let copies = futures_util::stream::iter(files).map(|f| {
        let http = http.clone();
        async move {
            let stream = source.open(instance, &f.name).await.expect("open");
            let body =
                futures_util::stream::unfold(stream, |mut s: Box<dyn LogStream>| async move {
                    match s.next_chunk().await {
                        Ok(Some(c)) => Some((Ok::<_, std::io::Error>(c), s)),
                        Ok(None) => None,
                        Err(e) => Some((Err(std::io::Error::other(e.to_string())), s)),
                    }
                });
            http.put(format!("{sink}/bench/bare/{}", f.name))
                .header("content-length", f.size)
                .body(reqwest::Body::wrap_stream(body))
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .expect("put");
            f.size as u64
        }
    });
    copies
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .iter()
        .sum()
}
