//! Unit tests of a sync run over a fake RDS and the in-memory store.

use std::collections::BTreeMap;
use std::sync::Mutex;

use bytes::Bytes;
use futures_util::future::BoxFuture;

use super::*;
use crate::error::DownloadError;
use crate::memory::{ChunkStream, CountingStore, MemoryStore};
use crate::ports::{BoxError, LogStream, Selection};

/// Per file name: what is listed and what is served.
type Files = BTreeMap<String, (LogFile, Bytes)>;

/// A fake RDS: per instance, files with the size it lists and the bytes it serves.
#[derive(Default)]
struct FakeRds {
    files: Mutex<BTreeMap<String, Files>>,
    failing: Vec<String>,
}

impl FakeRds {
    fn write(&self, instance: &str, name: &str, data: &[u8], last_written: i64) {
        self.serve(instance, name, data.len() as i64, data, last_written);
    }

    fn serve(&self, instance: &str, name: &str, listed: i64, data: &[u8], last_written: i64) {
        let file = LogFile {
            name: name.into(),
            size: listed,
            last_written,
        };
        let mut files = self.files.lock().expect("lock");
        let entry = files.entry(instance.into()).or_default();
        entry.insert(name.into(), (file, Bytes::copy_from_slice(data)));
    }

    fn remove(&self, instance: &str, name: &str) {
        let mut files = self.files.lock().expect("lock");
        files.get_mut(instance).map(|f| f.remove(name));
    }
}

impl LogSource for FakeRds {
    fn instances<'a>(&'a self, s: &'a Selection) -> BoxFuture<'a, Result<Vec<String>, BoxError>> {
        Box::pin(async move { Ok(s.explicit.clone()) })
    }

    fn log_files<'a>(
        &'a self,
        instance: &'a str,
        _: &'a ListFilter,
    ) -> BoxFuture<'a, Result<Vec<LogFile>, BoxError>> {
        Box::pin(async move {
            if self.failing.iter().any(|f| f == instance) {
                return Err("DBInstanceNotFound".into());
            }
            let files = self.files.lock().expect("lock");
            Ok(files
                .get(instance)
                .map(|f| f.values().map(|(l, _)| l.clone()).collect())
                .unwrap_or_default())
        })
    }

    fn open<'a>(
        &'a self,
        instance: &'a str,
        file: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn LogStream>, DownloadError>> {
        Box::pin(async move {
            let files = self.files.lock().expect("lock");
            let data = files[instance][file].1.clone();
            let chunks = data
                .chunks(7)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            Ok(Box::new(ChunkStream::new(chunks)) as Box<dyn LogStream>)
        })
    }
}

const T0: i64 = 1_795_168_800_000;

fn ids(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

async fn run(rds: &FakeRds, store: &dyn ObjectStore, instances: &[&str]) -> Vec<InstanceReport> {
    sync_all(rds, store, &SyncOptions::default(), &ids(instances)).await
}

#[tokio::test]
async fn given_new_files_when_synced_then_all_copied_and_state_written() {
    let rds = FakeRds::default();
    rds.write(
        "db1",
        "error/postgresql.log.2026-11-22-13",
        "naïve ✓\n".as_bytes(),
        T0,
    );
    rds.write("db1", "log/ERROR.6", b"\xff\xfe raw\n", T0);
    let store = MemoryStore::default();
    let reports = run(&rds, &store, &["db1"]).await;
    assert_eq!(reports[0].copied(), 2, "{reports:?}");
    assert!(reports[0].state_written);
    let objects = store.objects();
    assert_eq!(
        objects["rds-logs/db1/2026/11/22/error/postgresql.log.2026-11-22-13"].as_ref(),
        "naïve ✓\n".as_bytes()
    );
    assert_eq!(
        objects["rds-logs/db1/2026/11/20/log/ERROR.6"].as_ref(),
        b"\xff\xfe raw\n"
    );
    assert!(objects.contains_key("rds-logs/_state/db1.json"));
}

#[tokio::test]
async fn given_nothing_changed_when_synced_again_then_one_s3_request_and_no_copy() {
    let rds = FakeRds::default();
    rds.write("db1", "a.log", b"a", T0);
    rds.write("db1", "b.log", b"b", T0);
    let store = CountingStore::new(MemoryStore::default());
    run(&rds, &store, &["db1"]).await;
    store.reset();
    let reports = run(&rds, &store, &["db1"]).await;
    assert_eq!(store.requests(), 1, "only the state GET");
    assert_eq!(reports[0].unchanged, 2);
    assert!(reports[0].files.is_empty() && !reports[0].state_written);
}

#[tokio::test]
async fn given_growth_and_rotation_when_synced_then_both_recopied_and_vanished_dropped() {
    let rds = FakeRds::default();
    rds.write("db1", "grows.log", b"one\n", T0);
    rds.write("db1", "log/ERROR", b"long old content\n", T0);
    rds.write("db1", "old.log", b"x", T0);
    let store = MemoryStore::default();
    run(&rds, &store, &["db1"]).await;
    rds.write("db1", "grows.log", b"one\ntwo\n", T0 + 1);
    rds.write("db1", "log/ERROR", b"new\n", T0 + 2);
    rds.remove("db1", "old.log");
    let r = &run(&rds, &store, &["db1"]).await[0];
    let reasons: Vec<_> = r
        .files
        .iter()
        .map(|f| match f {
            FileResult::Copied { file, reason, .. } => (file.as_str(), *reason),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        reasons,
        vec![
            ("grows.log", Reason::Changed),
            ("log/ERROR", Reason::Rotated)
        ]
    );
    assert_eq!(r.vanished, vec!["old.log".to_owned()]);
    let objects = store.objects();
    assert_eq!(
        objects["rds-logs/db1/2026/11/20/grows.log"].as_ref(),
        b"one\ntwo\n"
    );
    let state: InstanceState =
        serde_json::from_slice(&objects["rds-logs/_state/db1.json"]).expect("state");
    assert!(!state.files.contains_key("old.log"));
    assert_eq!(state.files["log/ERROR"].size, 4);
}

#[tokio::test]
async fn given_one_failing_instance_when_synced_then_others_still_copied() {
    let rds = FakeRds {
        failing: ids(&["broken"]),
        ..FakeRds::default()
    };
    rds.write("db1", "a.log", b"a", T0);
    rds.write("db2", "b.log", b"b", T0);
    let store = MemoryStore::default();
    let reports = run(&rds, &store, &["db1", "broken", "db2"]).await;
    let summary: Vec<_> = reports
        .iter()
        .map(|r| (r.instance.as_str(), r.is_ok(), r.copied()))
        .collect();
    assert_eq!(
        summary,
        vec![("db1", true, 1), ("broken", false, 0), ("db2", true, 1)]
    );
    assert!(
        reports[1]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("DBInstanceNotFound"))
    );
}

#[tokio::test]
async fn given_listed_size_but_empty_download_then_nothing_written_and_retried_next_run() {
    let rds = FakeRds::default();
    rds.serve("db1", "error/mysql-error.log", 120, b"", T0);
    let store = MemoryStore::default();
    let r = &run(&rds, &store, &["db1"]).await[0];
    assert!(
        matches!(r.files[0], FileResult::EmptyDownload { listed: 120, .. }),
        "{r:?}"
    );
    assert!(store.objects().is_empty(), "no object, no state");
    let again = &run(&rds, &store, &["db1"]).await[0];
    assert_eq!(again.files.len(), 1, "tried again");
}

#[tokio::test]
async fn given_file_grew_during_copy_then_copied_but_not_recorded() {
    let rds = FakeRds::default();
    rds.serve("db1", "a.log", 3, b"abcdef", T0);
    let store = MemoryStore::default();
    let r = &run(&rds, &store, &["db1"]).await[0];
    assert!(
        matches!(r.files[0], FileResult::ChangedDuringCopy { copied: 6, .. }),
        "{r:?}"
    );
    assert_eq!(
        store.objects()["rds-logs/db1/2026/11/20/a.log"].as_ref(),
        b"abcdef"
    );
    rds.write("db1", "a.log", b"abcdef", T0 + 5);
    let again = &run(&rds, &store, &["db1"]).await[0];
    assert_eq!(again.copied(), 1);
    let third = &run(&rds, &store, &["db1"]).await[0];
    assert_eq!(third.unchanged, 1);
}

#[tokio::test]
async fn given_file_shrank_before_download_then_failed_and_nothing_recorded() {
    let rds = FakeRds::default();
    rds.serve("db1", "a.log", 10, b"abc", T0);
    let store = MemoryStore::default();
    let r = &run(&rds, &store, &["db1"]).await[0];
    assert!(
        matches!(&r.files[0], FileResult::Failed { error, .. } if error.contains("3 of the 10")),
        "{r:?}"
    );
    assert!(store.objects().is_empty());
}
