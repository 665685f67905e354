//! Cold start of every function, the part of it Lambda bills as init: the release binary
//! started behind the test bed's Lambda host, timed from its process start to its first
//! request for an event (config read, SDK clients built, runtime started). `make bench` builds
//! the host's release binaries first (`cargo build --release`, the profile that ships).
//!
//! Prints the median and the slowest of [`STARTS`] starts per function against the 25 ms
//! budget. The environment is what the template gives each function, with dummy credentials
//! as Lambda's own variables would give them; nothing is called at init.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::time::Duration;

use sluice_testbed::lambda::{FunctionSpec, LambdaHost};
use sluice_testbed::paths;

/// Starts per function.
const STARTS: usize = 15;
/// The budget issue 19 holds every function to.
const BUDGET: Duration = Duration::from_millis(25);

fn env(function: &str) -> Vec<(String, String)> {
    let mut env: Vec<(&str, &str)> = vec![
        ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLEEXAMPLE00"),
        ("AWS_SECRET_ACCESS_KEY", "example"),
        ("AWS_SESSION_TOKEN", "example"),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
    ];
    env.extend(match function {
        "das-transformer" => vec![
            ("DAS_RESOURCE_ID", "cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
            ("DAS_COPIES_ENABLED", "true"),
            ("DAS_COPIES_BUCKET", "sluice-data"),
        ],
        "cloudwatch-processor" => vec![("REINGEST_TARGET", "auto")],
        "log-subscriber" => vec![
            (
                "DESTINATION_ARN",
                "arn:aws:kinesis:us-east-1:123456789012:stream/sluice-cwlogs",
            ),
            ("ROLE_ARN", "arn:aws:iam::123456789012:role/sluice-cwl"),
        ],
        "log-syncer" => vec![
            ("LOG_BUCKET", "sluice-data"),
            ("LOG_PREFIX", "rds-logs/"),
            ("RDS_INSTANCES", "prod-postgres,prod-mysql"),
        ],
        "snapshot-steps" => vec![
            ("SOURCE_KIND", "instance"),
            ("SOURCE_ID", "prod-postgres"),
            ("SUBNET_GROUP", "isolated"),
            ("SECURITY_GROUP_IDS", "sg-0123456789abcdef0"),
            ("TASK_SUBNETS", "subnet-0123456789abcdef0"),
            ("TASK_SECURITY_GROUPS", "sg-0123456789abcdef1"),
            ("ECS_CLUSTER", "sluice-sanitizer"),
            ("TASK_DEFINITION", "sluice-sanitizer:1"),
            ("SCRIPT_URI", "s3://sluice-data/sanitize.sql"),
            (
                "SCRIPT_SHA256",
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            ("DATABASE_NAME", "app"),
        ],
        "backup-actions" => vec![
            ("BACKUP_VAULTS", "prod-vault"),
            (
                "BACKUP_STATE_MACHINE_ARN",
                "arn:aws:states:us-east-1:123456789012:stateMachine:sluice-backup-actions",
            ),
            ("BACKUP_EXPORT", "true"),
            ("EXPORT_BUCKET", "sluice-data"),
            (
                "EXPORT_ROLE_ARN",
                "arn:aws:iam::123456789012:role/sluice-export",
            ),
            (
                "EXPORT_KMS_KEY_ARN",
                "arn:aws:kms:us-east-1:123456789012:key/11111111-1111-1111-1111-111111111111",
            ),
        ],
        "restore-validator" => vec![
            ("ECS_CLUSTER", "sluice-sanitizer"),
            ("TASK_DEFINITION", "sluice-restore-validation:1"),
            ("TASK_SUBNETS", "subnet-0123456789abcdef0"),
            ("TASK_SECURITY_GROUPS", "sg-0123456789abcdef1"),
            (
                "SCRIPT_URI",
                "s3://sluice-data/sanitize/restore-validation.sql",
            ),
            (
                "SCRIPT_SHA256",
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            ("DATABASE_NAME", "app"),
            (
                "VALIDATION_SECRET_ARN",
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:ro-AbCdEf",
            ),
        ],
        _ => vec![],
    });
    env.into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn main() {
    let functions = [
        "das-transformer",
        "cloudwatch-processor",
        "log-subscriber",
        "log-syncer",
        "snapshot-steps",
        "backup-actions",
        "restore-validator",
    ];
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "cold start: release binary start -> first request for an event, {STARTS} starts each"
    );
    println!(
        "{:<22} {:>10} {:>10}  budget {BUDGET:?}",
        "function", "median", "max"
    );
    let mut over = false;
    for name in functions {
        let binary = paths::bin_path(name);
        let mut times: Vec<Duration> = (0..STARTS)
            .map(|_| {
                let host = LambdaHost::start();
                host.add_function(
                    name,
                    &binary,
                    FunctionSpec {
                        env: env(name),
                        ..FunctionSpec::default()
                    },
                );
                let init = rt.block_on(host.init_duration(name, Duration::from_secs(10)));
                init.unwrap_or_else(|| panic!("{name} did not start: {}", host.logs(name)))
            })
            .collect();
        times.sort();
        let (median, max) = (times[STARTS / 2], times[STARTS - 1]);
        let verdict = if median <= BUDGET { "ok" } else { "OVER" };
        over |= median > BUDGET;
        println!(
            "{name:<22} {:>7.2} ms {:>7.2} ms  {verdict}",
            median.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3
        );
    }
    if over {
        println!("cold start: a median is over the {BUDGET:?} budget");
    }
}
