//! Adapter tests: the real RDS and S3 adapters against the test-bed RDS endpoint (signatures
//! checked) and moto S3.

mod common;

use common::*;
use sluice_rdslogs::copy::CopyOptions;
use sluice_rdslogs::sync::FileResult;
use sluice_rdslogs::{LogSource, Selection, SyncOptions, sync_all};
use sluice_testbed::rds_logs::RdsLogs;

fn ids(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

const PG: &str = "error/postgresql.log.2026-11-22-13";
const SQL: &str = "log/ERROR.6";

fn multibyte() -> Vec<u8> {
    let mut bytes = "2026-11-22 13:00:01 UTC LOG: naïve café — 日本語 ✓ 😀\n"
        .repeat(50)
        .into_bytes();
    bytes.extend_from_slice(b"latin1 \xe9t\xe9 and a cut \xe2\x82 then \xff\xfe\x00 end\n");
    bytes
}

#[tokio::test]
async fn given_new_files_when_first_synced_then_bytes_equal_exactly_and_signatures_pass() {
    let rds = RdsLogs::start();
    rds.write("db1", PG, &multibyte());
    rds.write("db1", SQL, b"plain\n");
    rds.set_last_written("db1", SQL, T0);
    let (bucket, store) = bucket().await;
    let reports = sync_all(
        &source(&rds),
        &store,
        &SyncOptions::default(),
        &ids(&["db1"]),
    )
    .await;
    assert_eq!(reports[0].copied(), 2, "{reports:?}");
    assert_eq!(
        object(&bucket, &format!("rds-logs/db1/2026/11/22/{PG}")).await,
        Some(multibyte())
    );
    assert_eq!(
        object(&bucket, "rds-logs/db1/2026/11/20/log/ERROR.6")
            .await
            .as_deref(),
        Some(&b"plain\n"[..])
    );
    assert!(object(&bucket, "rds-logs/_state/db1.json").await.is_some());
    assert_eq!(rds.counts().rejected, 0);
    assert_eq!(rds.counts().download, 2);
}

#[tokio::test]
async fn given_nothing_changed_when_synced_again_then_one_s3_request_and_no_download() {
    let rds = RdsLogs::start();
    for i in 0..5 {
        rds.write("db1", &format!("error/f{i}.log"), b"line\n");
    }
    let (_, store) = bucket().await;
    let src = source(&rds);
    sync_all(&src, &store, &SyncOptions::default(), &ids(&["db1"])).await;
    store.reset();
    let downloads = rds.counts().download;
    let r = &sync_all(&src, &store, &SyncOptions::default(), &ids(&["db1"])).await[0];
    assert_eq!(store.requests(), 1, "one GET of the state, no PUT");
    assert_eq!((r.unchanged, r.files.len(), r.state_written), (5, 0, false));
    assert_eq!(rds.counts().download, downloads);
}

#[tokio::test]
async fn given_growth_and_rotation_when_synced_then_recopied_and_vanished_forgotten() {
    let rds = RdsLogs::start();
    rds.write("db1", PG, b"one\n");
    rds.write("db1", "log/ERROR", b"a long first generation\n");
    rds.write("db1", "log/ERROR.1", b"old\n");
    for f in [PG, "log/ERROR", "log/ERROR.1"] {
        rds.set_last_written("db1", f, T0);
    }
    let (bucket, store) = bucket().await;
    let src = source(&rds);
    sync_all(&src, &store, &SyncOptions::default(), &ids(&["db1"])).await;
    rds.append("db1", PG, "two ✓\n".as_bytes());
    rds.write("db1", "log/ERROR", b"new\n");
    rds.set_last_written("db1", "log/ERROR", T0 + 60_000);
    rds.remove("db1", "log/ERROR.1");
    let r = &sync_all(&src, &store, &SyncOptions::default(), &ids(&["db1"])).await[0];
    assert_eq!(r.copied(), 2, "{r:?}");
    assert_eq!(r.vanished, vec!["log/ERROR.1".to_owned()]);
    let pg = object(&bucket, &format!("rds-logs/db1/2026/11/22/{PG}")).await;
    assert_eq!(pg.as_deref(), Some("one\ntwo ✓\n".as_bytes()));
    let error = object(&bucket, "rds-logs/db1/2026/11/20/log/ERROR").await;
    assert_eq!(error.as_deref(), Some(&b"new\n"[..]));
    assert!(
        object(&bucket, "rds-logs/db1/2026/11/20/log/ERROR.1")
            .await
            .is_some(),
        "copies are kept"
    );
}

#[tokio::test]
async fn given_many_files_and_small_pages_when_synced_then_every_page_is_read() {
    let rds = RdsLogs::start();
    for i in 0..57 {
        rds.write(
            "db1",
            &format!("error/postgresql.log.2026-11-22-{i:04}"),
            format!("{i}\n").as_bytes(),
        );
    }
    rds.set_page_size(10);
    let (bucket, store) = bucket().await;
    let src = source(&rds).with_page_size(20);
    let r = &sync_all(&src, &store, &SyncOptions::default(), &ids(&["db1"])).await[0];
    assert_eq!(r.copied(), 57, "{r:?}");
    assert_eq!(rds.counts().describe, 6);
    assert_eq!(keys(&bucket).await.len(), 58, "57 copies + the state");
}

#[tokio::test]
async fn given_several_instances_with_one_missing_when_synced_then_others_complete() {
    let rds = RdsLogs::start();
    rds.write("db1", "a.log", b"1");
    rds.write("db3", "c.log", b"3");
    rds.write("gone", "x.log", b"x");
    rds.fail_instance("gone");
    let (_, store) = bucket().await;
    let reports = sync_all(
        &source(&rds),
        &store,
        &SyncOptions::default(),
        &ids(&["db1", "gone", "db3"]),
    )
    .await;
    let summary: Vec<_> = reports
        .iter()
        .map(|r| (r.instance.as_str(), r.is_ok(), r.copied()))
        .collect();
    assert_eq!(
        summary,
        vec![("db1", true, 1), ("gone", false, 0), ("db3", true, 1)]
    );
    let error = reports[1].error.clone().unwrap_or_default();
    assert!(
        error.contains("gone") && error.contains("DBInstanceNotFound"),
        "{error}"
    );
}

#[tokio::test]
async fn given_file_over_one_part_when_synced_then_multipart_bytes_equal_and_gzip_roundtrips() {
    let rds = RdsLogs::start();
    let big: Vec<u8> = (0..12 * 1024 * 1024 + 5).map(|i| (i % 253) as u8).collect();
    rds.write("db1", "trace/alert_ORCL.log.2026-11-22", &big);
    let (bucket, store) = bucket().await;
    let mut opts = SyncOptions {
        copy: CopyOptions {
            part_size: 5 * 1024 * 1024,
            gzip: false,
        },
        ..SyncOptions::default()
    };
    let r = &sync_all(&source(&rds), &store, &opts, &ids(&["db1"])).await[0];
    assert_eq!(r.copied(), 1, "{r:?}");
    let key = "rds-logs/db1/2026/11/22/trace/alert_ORCL.log.2026-11-22";
    assert!(object(&bucket, key).await == Some(big.clone()));
    // The upload declared the CRC32 its parts carry: the object keeps a CRC32 of its parts
    // (an upload declaring none gets S3's default full-object CRC64NVME, which a completion
    // listing the parts' CRC32s does not match).
    let head = common::s3_client()
        .head_object()
        .bucket(&bucket)
        .key(key)
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await
        .expect("HeadObject");
    assert!(
        head.checksum_crc32().is_some() && head.checksum_crc64_nvme().is_none(),
        "{head:?}"
    );

    let (gz_bucket, gz_store) = common::bucket().await;
    opts.copy.gzip = true;
    sync_all(&source(&rds), &gz_store, &opts, &ids(&["db1"])).await;
    let gz = object(&gz_bucket, &format!("{key}.gz"))
        .await
        .expect("gz object");
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz.as_slice()), &mut plain)
        .expect("gunzip");
    assert!(plain == big);
    assert_eq!(open_uploads(&gz_bucket).await, 0);
}

#[tokio::test]
async fn given_wrong_secret_when_downloading_then_403_and_nothing_written() {
    let rds = RdsLogs::start();
    rds.write("db1", "a.log", b"secret stuff");
    let (bucket, store) = bucket().await;
    let good = source(&rds);
    let files = good
        .log_files("db1", &Default::default())
        .await
        .expect("list");
    assert_eq!(files.len(), 1);
    let bad = source_with_secret(&rds, "wrong");
    let err = bad.open("db1", "a.log").await.err().expect("refused");
    assert!(err.to_string().contains("403"), "{err}");
    let r = &sync_all(&bad, &store, &SyncOptions::default(), &ids(&["db1"])).await[0];
    assert!(!r.is_ok());
    assert!(rds.counts().rejected >= 2);
    assert!(copies(&bucket).await.is_empty(), "no copy");
}

#[tokio::test]
async fn given_tag_and_engine_filters_when_selecting_then_moto_instances_are_matched() {
    let moto = sluice_testbed::moto::Moto::shared();
    let rds = RdsLogs::with_moto(&moto.endpoint());
    let client = aws_sdk_rds::Client::new(&sdk(&rds.endpoint()));
    let tag = format!("sync-{}", std::process::id());
    for (id, engine, tagged) in [
        ("sel-pg", "postgres", true),
        ("sel-my", "mysql", true),
        ("sel-no", "postgres", false),
    ] {
        let id = format!("{id}-{}", std::process::id());
        let mut req = client
            .create_db_instance()
            .db_instance_identifier(&id)
            .engine(engine)
            .db_instance_class("db.t3.micro")
            .allocated_storage(20)
            .master_username("admin")
            .master_user_password("password123");
        if tagged {
            req = req.tags(
                aws_sdk_rds::types::Tag::builder()
                    .key("logsync")
                    .value(&tag)
                    .build(),
            );
        }
        req.send().await.expect("create instance");
    }
    let selection = Selection {
        explicit: vec!["named".into()],
        tag: Some(("logsync".into(), tag.clone())),
        engines: vec!["postgres".into()],
    };
    let found = source(&rds).instances(&selection).await.expect("instances");
    assert_eq!(
        found,
        vec!["named".to_owned(), format!("sel-pg-{}", std::process::id())]
    );
    assert!(rds.counts().proxied >= 1);
    assert_eq!(rds.counts().rejected, 0);
}

#[tokio::test]
async fn given_listed_size_but_empty_download_when_synced_then_nothing_written_until_it_serves() {
    let rds = RdsLogs::start();
    rds.write("db1", "error/mysql-error.log", &[b'x'; 120]);
    rds.inject(sluice_testbed::rds_logs::Fault::EmptyBody { times: 1 });
    let (bucket, store) = bucket().await;
    let src = source(&rds);
    let r = &sync_all(&src, &store, &SyncOptions::default(), &ids(&["db1"])).await[0];
    assert!(
        matches!(r.files[0], FileResult::EmptyDownload { listed: 120, .. }),
        "{r:?}"
    );
    assert!(
        copies(&bucket).await.is_empty(),
        "no object (the state records nothing)"
    );
    let again = &sync_all(&src, &store, &SyncOptions::default(), &ids(&["db1"])).await[0];
    assert_eq!(again.copied(), 1);
}
