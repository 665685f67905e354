//! The real `log-syncer` binary on the local Lambda host: moto for S3 and the other RDS
//! actions, the test-bed endpoint for log files, every call judged by the IAM gate as the
//! template's `LogSyncerFunctionRole`. Build it first: `cargo build --bin log-syncer`
//! (`make test` does).

use serde_json::{Value, json};
use sluice_testbed::aws_proxy::AwsProxy;
use sluice_testbed::iam_gate::{DeploySpec, Gate, template_without_statement};
use sluice_testbed::lambda::{FunctionSpec, LambdaHost};
use sluice_testbed::moto::Moto;
use sluice_testbed::paths;
use sluice_testbed::rds_logs::RdsLogs;

const PG: &str = "error/postgresql.log.2026-11-22-13";

async fn s3() -> aws_sdk_s3::Client {
    Moto::shared().s3_client()
}

/// A new bucket named `prefix-<pid>` in the shared moto, and an S3 client on it.
async fn new_bucket(prefix: &str) -> (String, aws_sdk_s3::Client) {
    let bucket = format!("{prefix}-{}", std::process::id());
    let s3 = s3().await;
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("bucket");
    (bucket, s3)
}

/// The log syncer as deployed for `instances` into `bucket` (from `template`, else the
/// workspace's): a proxy whose calls the IAM gate judges as `LogSyncerFunctionRole`, log files
/// from `rds`, and the function's environment.
fn gated(
    rds: &RdsLogs,
    bucket: &str,
    instances: &str,
    template: Option<&std::path::Path>,
) -> (AwsProxy, Vec<(String, String)>) {
    let moto = Moto::shared();
    let mut spec = DeploySpec::new(
        "sluice-test",
        [("EnableRdsLogSync", "true"), ("RdsLogInstances", instances)],
    )
    .physical([("DataBucket", bucket)]);
    if let Some(template) = template {
        spec = spec.template(template);
    }
    let proxy = AwsProxy::gated(moto, Gate::shared().deploy(&spec));
    proxy.route("rds", &rds.endpoint());
    let mut env = proxy.env_as(moto, "LogSyncerFunctionRole");
    env.extend([
        ("LOG_BUCKET".to_owned(), bucket.to_owned()),
        ("RDS_INSTANCES".to_owned(), instances.to_owned()),
    ]);
    (proxy, env)
}

#[tokio::test]
async fn given_binary_with_env_when_invoked_twice_then_first_copies_and_second_skips() {
    let moto = Moto::shared();
    let rds = RdsLogs::with_moto(&moto.endpoint());
    let text = "naïve café — 日本語 ✓\n".repeat(100);
    rds.write("db1", PG, text.as_bytes());
    rds.write("db2", "log/ERROR", b"\xff\xfe sql server\n");
    let (bucket, s3) = new_bucket("syncer").await;

    let (proxy, env) = gated(&rds, &bucket, "db1,db2", None);
    let host = LambdaHost::start();
    host.add_function(
        "log-syncer",
        &paths::bin_path("log-syncer"),
        FunctionSpec {
            env,
            ..FunctionSpec::default()
        },
    );
    let scheduled = json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
    let first = host.invoke("log-syncer", &scheduled).await;
    let first: Value =
        first.unwrap_or_else(|e| panic!("first run: {e:?}\n{}", host.logs("log-syncer")));
    assert_eq!(first["files_copied"], 2, "{first}");
    assert_eq!(first["instances_failed"], 0, "{first}");
    let key = format!("rds-logs/db1/2026/11/22/{PG}");
    let body = s3
        .get_object()
        .bucket(&bucket)
        .key(&key)
        .send()
        .await
        .expect("object");
    let bytes = body.body.collect().await.expect("bytes").into_bytes();
    assert_eq!(bytes.as_ref(), text.as_bytes());

    let second: Value = host
        .invoke("log-syncer", &scheduled)
        .await
        .expect("second run");
    assert_eq!(
        (
            second["files_copied"].clone(),
            second["files_unchanged"].clone()
        ),
        (json!(0), json!(2))
    );

    let only: Value = host
        .invoke("log-syncer", &json!({"instances": ["nope"]}))
        .await
        .expect("override");
    assert_eq!(only["instances_failed"], 1, "{only}");
    // The role reads only the configured instances: AWS refuses the one named in the event,
    // and that instance fails alone.
    let denied = proxy.take_denials();
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert_eq!(denied[0].action(), "rds:DescribeDBLogFiles");
    assert_eq!(
        denied[0].answer["resource"],
        "arn:aws:rds:us-east-1:123456789012:db:nope"
    );
    assert_eq!(rds.counts().rejected, 0);
    assert!(
        host.logs("log-syncer").contains("\"FilesCopied\""),
        "EMF metric lines"
    );
}

/// The gate can fail: deployed from a template without the statement that lets the log
/// syncer write its copies, the same run is refused at its first S3 write, and the denial
/// names the principal, the action, the object and the statement that came closest.
#[tokio::test]
async fn given_template_without_the_write_statement_when_synced_then_the_gate_denies_the_copy() {
    let moto = Moto::shared();
    let rds = RdsLogs::with_moto(&moto.endpoint());
    rds.write("db1", PG, b"one line\n");
    let (bucket, _) = new_bucket("syncer-denied").await;
    let (_dir, template) = template_without_statement("WriteCopiesAndState");
    let (proxy, env) = gated(&rds, &bucket, "db1", Some(&template));
    let host = LambdaHost::serving("log-syncer", env);
    let out: Value = host
        .invoke("log-syncer", &json!({}))
        .await
        .expect("the run reports the failed instance");
    assert_eq!(out["instances_failed"], 1, "{out}");
    assert_eq!(out["files_copied"], 0, "{out}");

    let denied = proxy.take_denials();
    let first = denied.first().expect("a denial");
    let text = first.describe();
    assert_eq!(first.answer["principal"], "LogSyncerFunctionRole", "{text}");
    assert!(
        first.action().starts_with("s3:"),
        "the first refused call is the state read or the copy: {text}"
    );
    assert!(
        first.answer["resource"]
            .as_str()
            .is_some_and(|r| r.starts_with(&format!("arn:aws:s3:::{bucket}/rds-logs/"))),
        "{text}"
    );
    assert!(text.contains("closest statement"), "{text}");
    assert!(
        host.logs("log-syncer").contains("AccessDenied"),
        "the function saw AWS's answer"
    );
}

/// The keys of every version of every object under `prefix`, one entry per version.
async fn versions(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<String> {
    let out = s3
        .list_object_versions()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .expect("versions");
    assert_ne!(out.is_truncated, Some(true), "one page holds them all");
    let mut keys: Vec<String> = out
        .versions
        .unwrap_or_default()
        .into_iter()
        .filter_map(|v| v.key)
        .collect();
    keys.sort();
    keys
}

/// Two runs of the real binary (two execution environments, as Lambda starts for a manual or
/// retried invocation while the schedule's run goes on), started at once on the same instances
/// and bucket, made to race: the proxy holds all four state reads (2 runs x 2 instances) until
/// each has arrived. Each file is copied by one run only (one object version per copy in the
/// versioned bucket), the other run leaves each instance to it, the state records every file
/// with no lease left, and a later run copies nothing.
#[tokio::test]
async fn given_two_runs_started_at_once_when_they_race_then_each_file_is_copied_exactly_once() {
    let moto = Moto::shared();
    let rds = RdsLogs::with_moto(&moto.endpoint());
    let big = "a line of a busy log\n".repeat(300_000); // 6 MiB: a multipart copy
    rds.write("db1", PG, big.as_bytes());
    rds.write("db1", "error/postgresql.log.2026-11-22-14", b"one\n");
    rds.write("db2", "log/ERROR", b"two\n");
    rds.write("db2", "log/ERROR.1", b"three\n");
    let (bucket, s3) = new_bucket("syncer-overlap").await;
    s3.put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .expect("versioning");
    let (proxy, env) = gated(&rds, &bucket, "db1,db2", None);
    proxy.hold_together("GET", "/rds-logs/_state/", 4);
    let host = LambdaHost::start();
    for name in ["log-syncer-a", "log-syncer-b"] {
        let spec = FunctionSpec {
            env: env.clone(),
            ..FunctionSpec::default()
        };
        host.add_function(name, &paths::bin_path("log-syncer"), spec);
    }
    let scheduled = json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
    let (a, b) = tokio::join!(
        host.invoke("log-syncer-a", &scheduled),
        host.invoke("log-syncer-b", &scheduled)
    );
    let logs = || {
        format!(
            "{}\n{}",
            host.logs("log-syncer-a"),
            host.logs("log-syncer-b")
        )
    };
    let (a, b) = match (a, b) {
        (Ok(a), Ok(b)) => (a, b),
        other => panic!("{other:?}\n{}", logs()),
    };
    let sum = |field: &str| a[field].as_u64().unwrap_or(0) + b[field].as_u64().unwrap_or(0);
    assert_eq!(sum("files_copied"), 4, "{a}\n{b}");
    assert_eq!(sum("instances_failed"), 0, "{a}\n{b}");
    assert_eq!(
        sum("instances_busy"),
        2,
        "each instance left once: {a}\n{b}"
    );

    // The copies: 4 files, each key with one version (a second copy would add one).
    let copies = versions(&s3, &bucket, "rds-logs/db").await;
    let distinct: std::collections::BTreeSet<&String> = copies.iter().collect();
    assert_eq!((copies.len(), distinct.len()), (4, 4), "{copies:#?}");
    assert!(
        copies.contains(&format!("rds-logs/db1/2026/11/22/{PG}")),
        "{copies:#?}"
    );
    // The state: claimed and released once per instance (two versions each).
    let states = versions(&s3, &bucket, "rds-logs/_state/").await;
    assert_eq!(states.len(), 4, "{states:#?}");
    for instance in ["db1", "db2"] {
        let key = format!("rds-logs/_state/{instance}.json");
        let state = s3
            .get_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
            .expect("state");
        let state: Value =
            serde_json::from_slice(&state.body.collect().await.expect("body").into_bytes())
                .expect("state json");
        assert_eq!(
            state["files"].as_object().map(|f| f.len()),
            Some(2),
            "{state}"
        );
        assert!(state.get("lease").is_none(), "released: {state}");
    }

    let later: Value = host
        .invoke("log-syncer-a", &scheduled)
        .await
        .expect("later run");
    assert_eq!(
        (
            later["files_copied"].clone(),
            later["files_unchanged"].clone()
        ),
        (json!(0), json!(4)),
        "{later}"
    );
}

/// The state object of `instance`, as JSON.
async fn state_json(s3: &aws_sdk_s3::Client, bucket: &str, instance: &str) -> Value {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(format!("rds-logs/_state/{instance}.json"))
        .send()
        .await
        .expect("state");
    serde_json::from_slice(&out.body.collect().await.expect("body").into_bytes()).expect("json")
}

/// Reconciliation through the IAM gate (`s3:ListBucket` on the log prefix): a copy deleted
/// from S3 stays missing while the last reconciliation is less than a day old, and the first
/// run after a day passed (the state's `reconciled_at` moved back by 25 hours) copies it again,
/// byte-exact.
#[tokio::test]
async fn given_a_copy_deleted_when_a_day_passed_then_the_reconciling_run_restores_it() {
    let moto = Moto::shared();
    let rds = RdsLogs::with_moto(&moto.endpoint());
    let text = "2026-11-22 13:00:01 UTC LOG: naïve ✓\n".repeat(200);
    rds.write("db1", PG, text.as_bytes());
    rds.write("db1", "error/postgresql.log.2026-11-22-14", b"kept\n");
    let (bucket, s3) = new_bucket("syncer-reconcile").await;
    let (proxy, env) = gated(&rds, &bucket, "db1", None);
    let host = LambdaHost::serving("log-syncer", env);
    let run = || async {
        let out = host.invoke("log-syncer", &json!({})).await;
        out.unwrap_or_else(|e| panic!("{e:?}\n{}", host.logs("log-syncer")))
    };
    let first: Value = run().await;
    assert_eq!(first["files_copied"], 2, "{first}");
    let key = format!("rds-logs/db1/2026/11/22/{PG}");
    s3.delete_object()
        .bucket(&bucket)
        .key(&key)
        .send()
        .await
        .expect("delete");

    let same_day: Value = run().await;
    assert_eq!(same_day["files_copied"], 0, "{same_day}");
    assert_eq!(same_day["instances"][0]["reconciled"], false, "{same_day}");
    assert!(
        s3.head_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
            .is_err()
    );

    let mut state = state_json(&s3, &bucket, "db1").await;
    let at = state["reconciled_at"].as_i64().expect("reconciled_at");
    state["reconciled_at"] = json!(at - 25 * 3600 * 1000);
    s3.put_object()
        .bucket(&bucket)
        .key("rds-logs/_state/db1.json")
        .body(serde_json::to_vec(&state).expect("json").into())
        .send()
        .await
        .expect("put state");

    let next_day: Value = run().await;
    assert_eq!(next_day["files_copied"], 1, "{next_day}");
    assert_eq!(next_day["instances"][0]["reconciled"], true, "{next_day}");
    assert_eq!(
        next_day["instances"][0]["files"][0]["reason"], "missing",
        "{next_day}"
    );
    let body = s3
        .get_object()
        .bucket(&bucket)
        .key(&key)
        .send()
        .await
        .expect("restored");
    let bytes = body.body.collect().await.expect("bytes").into_bytes();
    assert_eq!(bytes.as_ref(), text.as_bytes());
    assert!(state_json(&s3, &bucket, "db1").await["reconciled_at"].as_i64() > Some(at));
    assert_eq!(proxy.take_denials().len(), 0);
}

/// A file RDS rotates away in the middle of its copy: that run fails the file, the next one
/// counts it (`FilesLostBeforeCopy` 1, an ERROR naming instance and file, no file content).
#[tokio::test]
async fn given_rds_rotates_a_file_away_mid_copy_then_the_next_run_counts_and_logs_it_lost() {
    let moto = Moto::shared();
    let rds = RdsLogs::with_moto(&moto.endpoint());
    let secret_line = "password=hunter2-not-for-logs\n";
    rds.write("db1", PG, secret_line.repeat(5_000).as_bytes());
    rds.inject(sluice_testbed::rds_logs::Fault::RotateAway {
        after_bytes: 20_000,
        times: 1,
    });
    let (bucket, _) = new_bucket("syncer-lost").await;
    let (proxy, env) = gated(&rds, &bucket, "db1", None);
    let host = LambdaHost::serving("log-syncer", env);
    let cut: Value = host.invoke("log-syncer", &json!({})).await.expect("run");
    assert_eq!(cut["files_lost"], 0, "{cut}");
    assert_eq!(
        cut["instances"][0]["files"][0]["outcome"], "failed",
        "{cut}"
    );

    let next: Value = host.invoke("log-syncer", &json!({})).await.expect("run");
    assert_eq!(next["files_lost"], 1, "{next}");
    assert_eq!(next["instances"][0]["lost"], json!([PG]), "{next}");
    // The run's log lines reach the host a moment after its answer.
    let mut logs = host.logs("log-syncer");
    for _ in 0..50 {
        if logs.contains("\"FilesLostBeforeCopy\":1.0")
            && logs.contains("rotated away by RDS before it was completely copied")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        logs = host.logs("log-syncer");
    }
    let lost_line = logs
        .lines()
        .find(|l| l.contains("rotated away by RDS before it was completely copied"))
        .unwrap_or_else(|| panic!("no lost-file line:\n{logs}"));
    assert!(
        lost_line.contains("db1") && lost_line.contains(PG),
        "{lost_line}"
    );
    assert!(
        logs.contains("\"FilesLostBeforeCopy\":1.0"),
        "EMF metric line:\n{logs}"
    );
    assert!(!logs.contains("hunter2"), "no file content in the logs");
    assert_eq!(proxy.take_denials().len(), 0);
}

/// Deployed without `ListCopiesToReconcile`, a due reconciliation is refused: the run still
/// copies what changed, reports the instance failed (`reconcile_error`, `InstanceFailed`), and
/// records no reconciliation, so the next run tries again.
#[tokio::test]
async fn given_the_listing_refused_when_a_reconciliation_is_due_then_changes_still_copied_and_it_fails_loudly()
 {
    let moto = Moto::shared();
    let rds = RdsLogs::with_moto(&moto.endpoint());
    rds.write("db1", PG, b"first\n");
    rds.write("db1", "error/postgresql.log.2026-11-22-14", b"kept\n");
    let (bucket, s3) = new_bucket("syncer-no-list").await;
    let (_dir, template) = template_without_statement("ListCopiesToReconcile");
    let (proxy, env) = gated(&rds, &bucket, "db1", Some(&template));
    let host = LambdaHost::serving("log-syncer", env);
    let first: Value = host.invoke("log-syncer", &json!({})).await.expect("run");
    assert_eq!(
        first["files_copied"], 2,
        "a first sync lists nothing: {first}"
    );

    let mut state = state_json(&s3, &bucket, "db1").await;
    let at = state["reconciled_at"].as_i64().expect("reconciled_at");
    state["reconciled_at"] = json!(at - 25 * 3600 * 1000);
    s3.put_object()
        .bucket(&bucket)
        .key("rds-logs/_state/db1.json")
        .body(serde_json::to_vec(&state).expect("json").into())
        .send()
        .await
        .expect("put state");
    rds.append("db1", PG, b"second\n");

    let due: Value = host.invoke("log-syncer", &json!({})).await.expect("run");
    assert_eq!(due["files_copied"], 1, "the change is copied: {due}");
    assert_eq!(due["instances_failed"], 1, "{due}");
    let error = due["instances"][0]["reconcile_error"]
        .as_str()
        .unwrap_or("");
    assert!(error.contains("AccessDenied"), "{due}");
    let after = state_json(&s3, &bucket, "db1").await;
    assert_eq!(
        after["reconciled_at"],
        json!(at - 25 * 3600 * 1000),
        "not recorded"
    );
    let denied = proxy.take_denials();
    assert!(
        !denied.is_empty() && denied.iter().all(|d| d.action() == "s3:ListBucket"),
        "{denied:?}"
    );
    assert!(host.logs("log-syncer").contains("\"InstanceFailed\":1.0"));
}
