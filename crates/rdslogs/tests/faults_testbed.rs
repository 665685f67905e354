//! Every fault the test-bed RDS endpoint injects, through the real adapters and moto S3.

mod common;

use common::*;
use sluice_rdslogs::copy::CopyOptions;
use sluice_rdslogs::sync::FileResult;
use sluice_rdslogs::{SyncOptions, sync_all};
use sluice_testbed::rds_logs::{Fault, RdsLogs, Target};

fn db1() -> Vec<String> {
    vec!["db1".to_owned()]
}

async fn one_file_sync(fault: Fault) -> (RdsLogs, String, sluice_rdslogs::InstanceReport) {
    let rds = RdsLogs::start();
    rds.write("db1", "error/a.log", "ünïcode\n".repeat(1000).as_bytes());
    rds.inject(fault);
    let (bucket, store) = bucket().await;
    let r = sync_all(&source(&rds), &store, &SyncOptions::default(), &db1()).await;
    (rds, bucket, r.into_iter().next().expect("one report"))
}

#[tokio::test]
async fn given_describe_throttled_twice_when_synced_then_sdk_retries_and_copies() {
    let (rds, _, r) = one_file_sync(Fault::Throttle {
        target: Target::Describe,
        times: 2,
    })
    .await;
    assert_eq!(r.copied(), 1, "{r:?}");
    assert_eq!(rds.counts().describe, 3);
}

#[tokio::test]
async fn given_describe_5xx_once_when_synced_then_retried() {
    let (_, _, r) = one_file_sync(Fault::ServerError {
        target: Target::Describe,
        times: 1,
    })
    .await;
    assert_eq!(r.copied(), 1, "{r:?}");
}

#[tokio::test]
async fn given_download_throttled_and_5xx_when_synced_then_backoff_retries_succeed() {
    for fault in [
        Fault::Throttle {
            target: Target::Download,
            times: 2,
        },
        Fault::ServerError {
            target: Target::Download,
            times: 3,
        },
    ] {
        let (rds, bucket, r) = one_file_sync(fault).await;
        assert_eq!(r.copied(), 1, "{r:?}");
        assert!(rds.counts().download >= 3);
        assert_eq!(keys(&bucket).await.len(), 2, "the copy and the state");
    }
}

#[tokio::test]
async fn given_download_5xx_beyond_retries_when_synced_then_file_failed_and_nothing_written() {
    let (_, bucket, r) = one_file_sync(Fault::ServerError {
        target: Target::Download,
        times: 10,
    })
    .await;
    assert!(
        matches!(&r.files[0], FileResult::Failed { error, .. } if error.contains("503")),
        "{r:?}"
    );
    assert!(copies(&bucket).await.is_empty(), "no copy");
}

#[tokio::test]
async fn given_disconnect_mid_multipart_when_synced_then_upload_aborted_and_next_run_copies() {
    let rds = RdsLogs::start();
    let big = vec![b'z'; 11 * 1024 * 1024];
    rds.write("db1", "error/postgresql.log.2026-11-22-13", &big);
    rds.inject(Fault::Disconnect {
        after_bytes: 7 * 1024 * 1024,
        times: 1,
    });
    let (bucket, store) = bucket().await;
    let opts = SyncOptions {
        copy: CopyOptions {
            part_size: 5 * 1024 * 1024,
            gzip: false,
        },
        ..SyncOptions::default()
    };
    let src = source(&rds);
    let r = &sync_all(&src, &store, &opts, &db1()).await[0];
    assert!(matches!(r.files[0], FileResult::Failed { .. }), "{r:?}");
    assert!(copies(&bucket).await.is_empty(), "no copy");
    assert_eq!(open_uploads(&bucket).await, 0, "multipart aborted");
    let again = &sync_all(&src, &store, &opts, &db1()).await[0];
    assert_eq!(again.copied(), 1);
    let key = "rds-logs/db1/2026/11/22/error/postgresql.log.2026-11-22-13";
    assert!(object(&bucket, key).await == Some(big));
}

#[tokio::test]
async fn given_disconnect_in_a_small_file_when_synced_then_no_object() {
    let (_, bucket, r) = one_file_sync(Fault::Disconnect {
        after_bytes: 100,
        times: 1,
    })
    .await;
    assert!(matches!(r.files[0], FileResult::Failed { .. }), "{r:?}");
    assert!(copies(&bucket).await.is_empty(), "no copy");
}

#[tokio::test]
async fn given_file_grows_during_download_when_synced_then_not_recorded_and_next_run_catches_up() {
    let rds = RdsLogs::start();
    let name = "error/postgresql.log.2026-11-22-13";
    rds.write("db1", name, &vec![b'a'; 200_000]);
    rds.inject(Fault::Grow {
        bytes: b"appended while copying\n".to_vec(),
        times: 1,
    });
    let (bucket, store) = bucket().await;
    let src = source(&rds);
    let r = &sync_all(&src, &store, &SyncOptions::default(), &db1()).await[0];
    assert!(
        matches!(r.files[0], FileResult::ChangedDuringCopy { .. }),
        "{r:?}"
    );
    assert_eq!(copies(&bucket).await.len(), 1, "the object");
    let state = object(&bucket, "rds-logs/_state/db1.json").await;
    let state: sluice_rdslogs::InstanceState =
        serde_json::from_slice(&state.expect("state")).expect("state json");
    assert!(
        !state.files.contains_key(name),
        "not recorded as copied yet"
    );
    assert!(state.pending.contains_key(name), "pending: copied again");
    let again = &sync_all(&src, &store, &SyncOptions::default(), &db1()).await[0];
    assert_eq!(again.copied(), 1, "{again:?}");
    let key = format!("rds-logs/db1/2026/11/22/{name}");
    let body = object(&bucket, &key).await.expect("object");
    assert_eq!(body.len(), 200_000 + 23);
    let third = &sync_all(&src, &store, &SyncOptions::default(), &db1()).await[0];
    assert_eq!(third.unchanged, 1);
}
