//! `make bench`, the benchmark of record of RDS log sync (issue 24): the real release
//! `log-syncer` binary behind the test bed's Lambda host makes a first sync into the test
//! bed's moto S3, from the test bed's RDS log endpoint (SigV4 checked, files on local disk),
//! against the floor: boto3's `upload_fileobj` with its defaults (8 MiB parts, 10 at once) of
//! the same files, one after another, from the same disk into the same moto, in the same run.
//!
//! Two sets, rounds interleaved and alternating which goes first (sync then floor, floor then
//! sync, …), moto emptied between runs: 8 files × 128 MiB plus one 1 GiB file, and one 2 GiB
//! file. Prints each round's ratio sync/floor, each set's median MB/s, the ratio of the
//! medians and the median of the rounds' ratios (target ≥ 0.95; each round's pair ran under the
//! same machine load, so on a noisy machine that median is the steadier of the two), and the
//! function's peak RSS (VmHWM of its process, a fresh one per round; target ≤ 64 MiB).
//! Extra settings for the function can be given as
//! `NAME=value` arguments after `--` (e.g. `MEMORY_BUDGET_MIB=64`), to tune the defaults.
//! Two arguments are the bench's own, for exploring (the figures of record use neither):
//! `BENCH_ROUNDS=n` (default 5) and `BENCH_SETS=set8` or `BENCH_SETS=g2` (one set only).
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a bench: prints its figures, panics on a broken test bed"
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice_testbed::lambda::{FunctionSpec, LambdaHost};
use sluice_testbed::moto::Moto;
use sluice_testbed::rds_logs::RdsLogs;
use sluice_testbed::{paths, procfs};

const MIB: usize = 1024 * 1024;
const ROUNDS: usize = 5;
const BUCKET: &str = "sluice-bench";
const DAY: &str = "error/postgresql.log.2026-11-22";

/// The floor: each file through boto3's `upload_fileobj`, default `TransferConfig`.
///
/// Both clients declare CRC32 at `CreateMultipartUpload` and send it with every part.
const FLOOR: &str = r#"
import os, resource, sys, time
import boto3
from botocore.config import Config
endpoint, bucket, files = sys.argv[1], sys.argv[2], sys.argv[3:]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing",
                  config=Config(s3={"addressing_style": "path"}))
total = 0
start = time.monotonic()
for i, path in enumerate(files):
    with open(path, "rb") as f:
        s3.upload_fileobj(f, bucket, f"floor/{i}/{os.path.basename(path)}")
    total += os.path.getsize(path)
secs = time.monotonic() - start
ru = resource.getrusage(resource.RUSAGE_SELF)
print(f"RESULT {total} {secs} {ru.ru_maxrss} {ru.ru_utime + ru.ru_stime}")
"#;

/// One MiB of log lines, some multibyte.
fn block() -> Vec<u8> {
    let line = "2026-11-22 13:00:01.123 UTC [4242] LOG:  duration: 0.042 ms  statement: SELECT 'naïve café ✓';\n";
    let mut out = line.repeat(MIB / line.len() + 1).into_bytes();
    out.truncate(MIB);
    out
}

fn write_file(rds: &RdsLogs, instance: &str, name: &str, mib: usize) -> PathBuf {
    let b = block();
    rds.write(instance, name, &b);
    for _ in 1..mib {
        rds.append(instance, name, &b);
    }
    rds.dir().join(instance).join(name)
}

struct Run {
    bytes: u64,
    secs: f64,
    hwm_kib: u64,
    /// CPU seconds of the client (the function, or boto3), of moto, and of this process (the
    /// RDS log endpoint) during the run: where the time goes.
    cpu: [f64; 3],
}

/// CPU seconds (user + system) `pid` used so far, 0 when it cannot be read.
fn cpu_secs(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    // After the command: state is field 3; utime and stime are fields 14 and 15.
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| f.get(i)?.parse::<f64>().ok())
        .sum();
    ticks / 100.0
}

/// The moto server's pid: the child of this process running `moto_runner.py`.
fn moto_pid() -> String {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .find_map(|e| {
            let name = e.file_name().to_str()?.to_owned();
            let cmd = std::fs::read_to_string(e.path().join("cmdline")).ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let ppid = stat.rsplit_once(") ")?.1.split(' ').nth(1)?.to_owned();
            (ppid == me && cmd.contains("moto_runner.py")).then_some(name)
        })
        .expect("moto's process")
}

impl Run {
    fn mbps(&self) -> f64 {
        self.bytes as f64 / self.secs / 1e6
    }
}

/// Empties moto (objects, uploads, the state objects) and makes the bucket again.
async fn fresh_bucket(moto: &Moto) {
    moto.reset().await;
    moto.s3_client()
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("create bucket");
}

/// A first sync of `instance` by a fresh function process: wall time of the invocation.
async fn sync(
    moto: &Moto,
    rds: &RdsLogs,
    instance: &str,
    bytes: u64,
    extra: &[(String, String)],
) -> Run {
    fresh_bucket(moto).await;
    let mut env = moto.env();
    env.push(rds.env());
    env.push(("LOG_BUCKET".into(), BUCKET.into()));
    env.push(("RDS_INSTANCES".into(), instance.into()));
    env.extend(extra.iter().cloned());
    let host = LambdaHost::start();
    host.add_function(
        "log-syncer",
        Path::new(env!("CARGO_BIN_EXE_log-syncer")),
        FunctionSpec {
            env,
            timeout: Some(Duration::from_secs(900)),
            ..FunctionSpec::default()
        },
    );
    host.init_duration("log-syncer", Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("log-syncer did not start: {}", host.logs("log-syncer")));
    let pid = procfs::child_pid("log-syncer").expect("the function's process");
    let moto_pid = moto_pid();
    let before = [
        cpu_secs(&pid.to_string()),
        cpu_secs(&moto_pid),
        cpu_secs("self"),
    ];
    let started = Instant::now();
    let out: Value = host
        .invoke("log-syncer", &json!({"instances": [instance]}))
        .await
        .unwrap_or_else(|e| panic!("sync: {e}\n{}", host.logs("log-syncer")));
    let secs = started.elapsed().as_secs_f64();
    let hwm_kib = procfs::vm_hwm_kib(pid);
    let cpu = [
        cpu_secs(&pid.to_string()) - before[0],
        cpu_secs(&moto_pid) - before[1],
        cpu_secs("self") - before[2],
    ];
    assert_eq!(out["instances_failed"], 0, "{out}");
    let copied: u64 = out["instances"][0]["files"]
        .as_array()
        .map(|f| f.iter().filter_map(|r| r["source_bytes"].as_u64()).sum())
        .unwrap_or(0);
    assert_eq!(copied, bytes, "every byte copied: {out}");
    Run {
        bytes,
        secs,
        hwm_kib,
        cpu,
    }
}

/// The floor: boto3 in the tool venv's Python, the same files straight from disk.
async fn floor(moto: &Moto, files: &[PathBuf]) -> Run {
    fresh_bucket(moto).await;
    let moto_pid = moto_pid();
    let moto_before = cpu_secs(&moto_pid);
    let out = Command::new(paths::python())
        .arg("-c")
        .arg(FLOOR)
        .arg(moto.endpoint())
        .arg(BUCKET)
        .args(files)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| {
            panic!(
                "floor failed: {stdout} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let v: Vec<f64> = line.split(' ').filter_map(|x| x.parse().ok()).collect();
    Run {
        bytes: v[0] as u64,
        secs: v[1],
        hwm_kib: v[2] as u64,
        cpu: [v[3], cpu_secs(&moto_pid) - moto_before, 0.0],
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn set(
    moto: &Moto,
    rds: &RdsLogs,
    label: &str,
    instance: &str,
    files: &[PathBuf],
    extra: &[(String, String)],
    rounds: usize,
) {
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).expect("file").len())
        .sum();
    let (mut s, mut f, mut ratios, mut s_hwm, mut f_hwm) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), 0);
    for round in 1..=rounds {
        // Which runs first alternates, so neither always meets the machine as the other left it.
        let (a, b) = if round % 2 == 1 {
            let a = sync(moto, rds, instance, bytes, extra).await;
            (a, floor(moto, files).await)
        } else {
            let b = floor(moto, files).await;
            (sync(moto, rds, instance, bytes, extra).await, b)
        };
        assert_eq!(a.bytes, b.bytes, "same bytes");
        let ratio = a.mbps() / b.mbps();
        println!(
            "  {label} round {round} ({} first): sync {:7.1} MB/s ({:5.1} s, peak RSS {:5.1} MiB) | floor {:7.1} MB/s ({:5.1} s) | ratio {ratio:.2}",
            if round % 2 == 1 { "sync" } else { "floor" },
            a.mbps(),
            a.secs,
            a.hwm_kib as f64 / 1024.0,
            b.mbps(),
            b.secs,
        );
        println!(
            "    CPU s: sync: function {:5.1}, moto {:5.1}, RDS endpoint {:5.1} | floor: boto3 {:5.1}, moto {:5.1}",
            a.cpu[0], a.cpu[1], a.cpu[2], b.cpu[0], b.cpu[1]
        );
        s.push(a.mbps());
        f.push(b.mbps());
        ratios.push(ratio);
        s_hwm.push(a.hwm_kib as f64 / 1024.0);
        f_hwm = f_hwm.max(b.hwm_kib);
    }
    let (sm, fm, rm) = (median(s), median(f), median(ratios));
    let peak = s_hwm.iter().copied().fold(0.0, f64::max);
    let verdict = |r: f64| if r >= 0.95 { "ok" } else { "BELOW" };
    println!(
        "{label}: sync median {sm:7.1} MB/s | floor median {fm:7.1} MB/s | sync/floor (target >= 0.95): median of the rounds' ratios {rm:.2} {} | ratio of the medians {:.2} {}",
        verdict(rm),
        sm / fm,
        verdict(sm / fm)
    );
    println!(
        "{label}: function peak RSS {peak:.1} MiB over {rounds} rounds (target <= 64) {} | boto3 peak RSS {:.1} MiB",
        if peak <= 64.0 { "ok" } else { "OVER" },
        f_hwm as f64 / 1024.0
    );
}

fn main() {
    let mut extra: Vec<(String, String)> = std::env::args()
        .skip(1)
        .filter_map(|a| a.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect();
    let own = |name: &str, extra: &mut Vec<(String, String)>| {
        let at = extra.iter().position(|(k, _)| k == name)?;
        Some(extra.remove(at).1)
    };
    let rounds: usize =
        own("BENCH_ROUNDS", &mut extra).map_or(ROUNDS, |r| r.parse().expect("BENCH_ROUNDS"));
    let sets = own("BENCH_SETS", &mut extra).unwrap_or_else(|| "set8,g2".into());
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let moto = Moto::start();
    let rds = RdsLogs::with_moto(&moto.endpoint());
    let set8: Vec<PathBuf> = if sets.contains("set8") {
        let mut files: Vec<PathBuf> = (0..8)
            .map(|i| write_file(&rds, "set8", &format!("{DAY}-{i:02}"), 128))
            .collect();
        files.push(write_file(&rds, "set8", &format!("{DAY}-23"), 1024));
        files
    } else {
        Vec::new()
    };
    let g2 = if sets.contains("g2") {
        vec![write_file(&rds, "g2", &format!("{DAY}-13"), 2048)]
    } else {
        Vec::new()
    };
    println!(
        "first sync into moto S3 (release log-syncer behind the Lambda host) vs boto3 upload_fileobj defaults; {rounds} rounds each, interleaved{}",
        if extra.is_empty() {
            String::new()
        } else {
            format!("; function settings {extra:?}")
        }
    );
    rt.block_on(async {
        if !set8.is_empty() {
            set(
                &moto,
                &rds,
                "8 x 128 MiB + 1 GiB",
                "set8",
                &set8,
                &extra,
                rounds,
            )
            .await;
        }
        if !g2.is_empty() {
            set(&moto, &rds, "one 2 GiB file", "g2", &g2, &extra, rounds).await;
        }
    });
}
