//! Reconciliation and files lost before copied, through the real adapters: the test-bed RDS
//! endpoint and moto S3 (`ListObjectsV2` pages, conditional state writes).

mod common;

use common::*;
use futures_util::{StreamExt, stream};
use sluice_rdslogs::sync::FileResult;
use sluice_rdslogs::{Claim, InstanceState, SyncOptions, sync_all};
use sluice_testbed::rds_logs::{Fault, RdsLogs};

const PG: &str = "error/postgresql.log.2026-11-22-13";
const DAY: i64 = 24 * 3600 * 1000;
/// 2026-11-22T12:00:00Z: the runs' clock.
const NOW: i64 = 1_795_348_800_000;

fn db1() -> Vec<String> {
    vec!["db1".to_owned()]
}

fn at(now: i64) -> SyncOptions {
    SyncOptions {
        claim: Claim::new("run", now, now + 900_000),
        ..SyncOptions::default()
    }
}

async fn state(bucket: &str) -> InstanceState {
    let body = object(bucket, "rds-logs/_state/db1.json")
        .await
        .expect("state object");
    serde_json::from_slice(&body).expect("state json")
}

/// More copies than one page: 1,001 objects under the instance's prefix besides the copies.
async fn fill(bucket: &str, n: usize) {
    let s3 = s3_client();
    stream::iter(0..n)
        .map(|i| {
            let s3 = s3.clone();
            async move {
                s3.put_object()
                    .bucket(bucket)
                    .key(format!("rds-logs/db1/2026/11/01/old/{i:04}.log"))
                    .body(Vec::new().into())
                    .send()
                    .await
                    .expect("put")
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
}

#[tokio::test]
async fn given_a_copy_deleted_when_the_daily_run_reconciles_then_it_is_restored_byte_exact() {
    let rds = RdsLogs::start();
    let text = "2026-11-22 13:00:01 UTC LOG: naïve ✓ 😀\n".repeat(500);
    rds.write("db1", PG, text.as_bytes());
    rds.write("db1", "error/postgresql.log.2026-11-22-14", b"kept\n");
    let (bucket, store) = bucket().await;
    let src = source(&rds);
    let first = &sync_all(&src, &store, &at(NOW), &db1()).await[0];
    assert_eq!(first.copied(), 2, "{first:?}");
    fill(&bucket, 1001).await;
    let key = format!("rds-logs/db1/2026/11/22/{PG}");
    s3_client()
        .delete_object()
        .bucket(&bucket)
        .key(&key)
        .send()
        .await
        .expect("delete");

    // Within the day: the state alone decides, nothing listed, the copy stays missing.
    store.reset();
    let r = &sync_all(&src, &store, &at(NOW + DAY - 1), &db1()).await[0];
    assert_eq!(store.requests(), 1, "one GET of the state");
    assert_eq!((r.unchanged, r.copied(), r.reconciled), (2, 0, false));
    assert_eq!(object(&bucket, &key).await, None);

    // A day later: listed (1,002 keys: two pages), restored, recorded.
    store.reset();
    let downloads = rds.counts().download;
    let r = &sync_all(&src, &store, &at(NOW + DAY), &db1()).await[0];
    assert_eq!(r.copied(), 1, "{r:?}");
    assert!(r.reconciled);
    assert_eq!(
        rds.counts().download,
        downloads + 1,
        "only the missing file"
    );
    assert_eq!(
        object(&bucket, &key).await.as_deref(),
        Some(text.as_bytes())
    );
    // GET state, 2 LIST pages, claim, the copy (one PUT), release.
    assert_eq!(store.requests(), 6);
    assert_eq!(state(&bucket).await.reconciled_at, Some(NOW + DAY));

    // The next reconciliation finds everything: 2 LIST pages and one state write.
    store.reset();
    let r = &sync_all(&src, &store, &at(NOW + 2 * DAY), &db1()).await[0];
    assert_eq!((r.copied(), r.reconciled), (0, true), "{r:?}");
    assert_eq!(store.requests(), 4);
}

#[tokio::test]
async fn given_rds_rotates_a_file_away_mid_copy_then_the_next_run_counts_it_lost() {
    let rds = RdsLogs::start();
    rds.write("db1", PG, "a line\n".repeat(20_000).as_bytes());
    rds.write("db1", "error/postgresql.log.2026-11-22-14", b"kept\n");
    rds.inject(Fault::RotateAway {
        after_bytes: 50_000,
        times: 1,
    });
    let (bucket, store) = bucket().await;
    let src = source(&rds);
    let r = &sync_all(&src, &store, &at(NOW), &db1()).await[0];
    let failed: Vec<&str> = r
        .files
        .iter()
        .filter(|f| matches!(f, FileResult::Failed { .. }))
        .map(FileResult::file)
        .collect();
    assert_eq!(failed, vec![PG], "{r:?}");
    assert!(r.lost.is_empty(), "not known yet: {r:?}");
    assert!(state(&bucket).await.pending.contains_key(PG));

    let r = &sync_all(&src, &store, &at(NOW + 1), &db1()).await[0];
    assert_eq!(r.lost, vec![PG.to_owned()], "{r:?}");
    assert!(r.is_ok(), "the run itself did not fail: {r:?}");
    assert!(state(&bucket).await.pending.is_empty());
    assert!(
        object(&bucket, &format!("rds-logs/db1/2026/11/22/{PG}"))
            .await
            .is_none(),
        "no partial copy"
    );

    store.reset();
    let r = &sync_all(&src, &store, &at(NOW + 2), &db1()).await[0];
    assert!(r.lost.is_empty(), "counted once: {r:?}");
    assert_eq!(store.requests(), 1, "back to one GET");
}
