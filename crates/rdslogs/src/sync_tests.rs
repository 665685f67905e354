//! Unit tests of a sync run over a fake RDS and the in-memory store.

use std::collections::BTreeMap;
use std::sync::Mutex;

use bytes::Bytes;
use futures_util::future::BoxFuture;

use super::*;
use crate::error::DownloadError;
use crate::memory::{ChunkStream, CountingStore, MemoryStore};
use crate::ports::{BoxError, Conditional, LogStream, Precondition, Selection, Tagged};
use crate::state::{InstanceState, Lease};

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
async fn given_memory_budget_when_files_synced_then_part_buffers_stay_within_it_and_parts_overlap()
{
    const MIB: usize = 1024 * 1024;
    let rds = FakeRds::default();
    let files: Vec<Vec<u8>> = [11, 21, 61]
        .into_iter()
        .enumerate()
        .map(|(i, mib)| (0..mib * MIB).map(|j| (j % 251) as u8 ^ i as u8).collect())
        .collect();
    for (i, data) in files.iter().enumerate() {
        rds.write(
            "db1",
            &format!("error/postgresql.log.2026-11-22-0{i}"),
            data,
            T0,
        );
    }
    let store = crate::slow_parts::SlowParts::new(
        MemoryStore::default(),
        std::time::Duration::from_millis(20),
    );
    let opts = SyncOptions {
        memory_budget: 30 * MIB,
        file_concurrency: 4,
        copy: CopyOptions {
            part_size: 5 * MIB,
            gzip: false,
        },
        ..SyncOptions::default()
    };
    let reports = sync_all(&rds, &store, &opts, &ids(&["db1"])).await;
    assert_eq!(reports[0].copied(), 3, "{reports:?}");
    for (i, data) in files.iter().enumerate() {
        let key = format!("rds-logs/db1/2026/11/22/error/postgresql.log.2026-11-22-0{i}");
        assert_eq!(store.inner().objects()[&key].as_ref(), data.as_slice());
    }
    let seen = store.seen();
    // At least one copy is filling a 5 MiB buffer whenever parts upload.
    assert!(seen.max_bytes <= 25 * MIB, "{} MiB", seen.max_bytes / MIB);
    // The largest file's copy, alone at the end, has the budget to itself.
    let most = seen.max_per_key.values().max().copied().unwrap_or(0);
    assert!(most >= 2, "parts of one file overlap: {seen:?}");
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
    let objects = store.objects();
    assert_eq!(
        objects.keys().collect::<Vec<_>>(),
        vec!["rds-logs/_state/db1.json"],
        "no copy"
    );
    let state: InstanceState =
        serde_json::from_slice(&objects["rds-logs/_state/db1.json"]).expect("state");
    let expected = InstanceState {
        // Every listed file was tried: the run counts as this instance's reconciliation.
        reconciled_at: Some(0),
        ..InstanceState::new()
    };
    assert_eq!(state, expected, "nothing recorded, lease released");
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
    assert_eq!(
        store.objects().len(),
        1,
        "only the state: {:?}",
        store.objects()
    );
}

// ---- overlapping runs (crate::claim) -------------------------------------------------------

const STATE: &str = "rds-logs/_state/db1.json";

fn at(now: i64, owner: &str) -> SyncOptions {
    SyncOptions {
        claim: Claim::new(owner, now, now + 900_000),
        ..SyncOptions::default()
    }
}

fn state_of(store: &MemoryStore) -> InstanceState {
    serde_json::from_slice(&store.objects()[STATE]).expect("state")
}

fn leased(owner: &str, until: i64) -> Bytes {
    let state = InstanceState {
        lease: Some(Lease {
            owner: owner.into(),
            until,
        }),
        ..InstanceState::new()
    };
    serde_json::to_vec(&state).expect("json").into()
}

/// A memory store where things happen between a run's steps, as another run would make them:
/// every state read waits for `readers` reads in all (runs racing), and the state is
/// overwritten with `after_get` right after the first read or with `on_copy` at the first copy.
struct Racing {
    inner: MemoryStore,
    readers: tokio::sync::Barrier,
    after_get: Mutex<Option<Bytes>>,
    on_copy: Mutex<Option<Bytes>>,
}

impl Racing {
    fn new(readers: usize) -> Self {
        Self {
            inner: MemoryStore::default(),
            readers: tokio::sync::Barrier::new(readers),
            after_get: Mutex::default(),
            on_copy: Mutex::default(),
        }
    }
}

impl ObjectStore for Racing {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Tagged>, StoreError>> {
        Box::pin(async move {
            let got = self.inner.get(key).await;
            self.readers.wait().await;
            let intrusion = self.after_get.lock().expect("lock").take();
            if let Some(body) = intrusion {
                self.inner.put(key, body).await?;
            }
            got
        })
    }
    fn list_page<'a>(
        &'a self,
        prefix: &'a str,
        token: Option<&'a str>,
    ) -> BoxFuture<'a, Result<crate::ports::KeyPage, StoreError>> {
        self.inner.list_page(prefix, token)
    }
    fn put<'a>(&'a self, key: &'a str, body: Bytes) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let intrusion = self.on_copy.lock().expect("lock").take();
            if let Some(state) = intrusion {
                self.inner.put(STATE, state).await?;
            }
            self.inner.put(key, body).await
        })
    }
    fn put_if<'a>(
        &'a self,
        key: &'a str,
        body: Bytes,
        precondition: Precondition,
    ) -> BoxFuture<'a, Result<Conditional, StoreError>> {
        self.inner.put_if(key, body, precondition)
    }
    fn create_multipart<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<String, StoreError>> {
        self.inner.create_multipart(key)
    }
    fn upload_part<'a>(
        &'a self,
        key: &'a str,
        upload_id: &'a str,
        number: i32,
        body: Bytes,
    ) -> BoxFuture<'a, Result<crate::ports::Part, StoreError>> {
        self.inner.upload_part(key, upload_id, number, body)
    }
    fn complete_multipart<'a>(
        &'a self,
        key: &'a str,
        upload_id: &'a str,
        parts: Vec<crate::ports::Part>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.complete_multipart(key, upload_id, parts)
    }
    fn abort_multipart<'a>(
        &'a self,
        key: &'a str,
        upload_id: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.abort_multipart(key, upload_id)
    }
}

#[tokio::test]
async fn given_two_runs_that_read_the_same_state_when_both_claim_then_each_file_is_copied_once() {
    let rds = FakeRds::default();
    for name in ["a.log", "b.log", "c.log"] {
        rds.write("db1", name, name.as_bytes(), T0);
    }
    let store = Racing::new(2);
    let (run_a, run_b, db1) = (at(T0, "run-a"), at(T0, "run-b"), ids(&["db1"]));
    let (first, second) = tokio::join!(
        sync_all(&rds, &store, &run_a, &db1),
        sync_all(&rds, &store, &run_b, &db1),
    );
    let (a, b) = (&first[0], &second[0]);
    assert_eq!(a.copied() + b.copied(), 3, "{a:?}\n{b:?}");
    let conflicts: Vec<_> = [a, b].iter().filter_map(|r| r.conflict.clone()).collect();
    assert_eq!(
        conflicts,
        vec![Conflict::ClaimLost],
        "one run leaves it to the other"
    );
    assert!(a.is_ok() && b.is_ok(), "a conflict is not a failure");
    let writes = store.inner.writes();
    for name in ["a.log", "b.log", "c.log"] {
        assert_eq!(
            writes[&format!("rds-logs/db1/2026/11/20/{name}")],
            1,
            "{writes:?}"
        );
    }
    assert_eq!(writes[STATE], 2, "claim, then release: {writes:?}");
    let state = state_of(&store.inner);
    assert_eq!(state.files.len(), 3);
    assert_eq!(state.lease, None, "released");
    let later = sync_all(&rds, &store.inner, &at(T0 + 1, "run-c"), &ids(&["db1"])).await;
    assert_eq!((later[0].copied(), later[0].unchanged), (0, 3));
}

#[tokio::test]
async fn given_another_runs_live_lease_then_instance_left_without_listing_copying_or_writing() {
    let rds = FakeRds {
        failing: ids(&["db1"]),
        ..FakeRds::default()
    };
    let store = CountingStore::new(MemoryStore::default());
    store
        .inner()
        .put(STATE, leased("run-a", T0 + 1))
        .await
        .expect("put");
    store.reset();
    let r = &sync_all(&rds, &store, &at(T0, "run-b"), &ids(&["db1"])).await[0];
    assert_eq!(
        r.conflict,
        Some(Conflict::Leased {
            owner: "run-a".into(),
            until: T0 + 1
        })
    );
    assert!(r.is_ok(), "not listed (the listing would fail): {r:?}");
    assert_eq!(store.requests(), 1, "the state GET only");
    assert_eq!(store.inner().writes()[STATE], 1, "not overwritten");
}

#[tokio::test]
async fn given_lapsed_lease_of_a_killed_run_then_the_next_run_takes_the_instance_over() {
    let rds = FakeRds::default();
    rds.write("db1", "a.log", b"a", T0);
    let store = MemoryStore::default();
    store.put(STATE, leased("killed", T0)).await.expect("put");
    let r = &sync_all(&rds, &store, &at(T0, "run-b"), &ids(&["db1"])).await[0];
    assert_eq!((r.copied(), r.conflict.clone()), (1, None), "{r:?}");
    assert_eq!(state_of(&store).lease, None);
}

#[tokio::test]
async fn given_state_written_between_read_and_claim_then_nothing_copied_or_overwritten() {
    let rds = FakeRds::default();
    rds.write("db1", "a.log", b"a", T0);
    let store = Racing::new(1);
    let theirs = leased("run-a", T0 + 60_000);
    *store.after_get.lock().expect("lock") = Some(theirs.clone());
    let r = &sync_all(&rds, &store, &at(T0, "run-b"), &ids(&["db1"])).await[0];
    assert_eq!(r.conflict, Some(Conflict::ClaimLost), "{r:?}");
    assert!(r.files.is_empty() && !r.state_written && r.is_ok());
    assert_eq!(store.inner.objects(), [(STATE.to_owned(), theirs)].into());
}

#[tokio::test]
async fn given_state_changed_under_the_lease_then_kept_and_the_copies_are_recopied_next_run() {
    let rds = FakeRds::default();
    rds.write("db1", "a.log", b"a", T0);
    let store = Racing::new(1);
    let theirs = Bytes::from_static(br#"{"version":1,"files":{}}"#);
    *store.on_copy.lock().expect("lock") = Some(theirs.clone());
    let r = &sync_all(&rds, &store, &at(T0, "run-b"), &ids(&["db1"])).await[0];
    assert_eq!(r.conflict, Some(Conflict::StateChanged), "{r:?}");
    assert_eq!((r.copied(), r.state_written), (1, false));
    assert_eq!(store.inner.objects()[STATE], theirs, "left as found");
    let next = &sync_all(&rds, &store.inner, &at(T0 + 1, "run-c"), &ids(&["db1"])).await[0];
    assert_eq!((next.copied(), next.conflict.clone()), (1, None));
}

// ---- reconciliation (crate::reconcile) and files lost before copied -----------------------

const DAY: i64 = 24 * 3600 * 1000;

#[tokio::test]
async fn given_a_copy_deleted_from_s3_then_only_a_reconciling_run_lists_and_restores_it() {
    let rds = FakeRds::default();
    rds.write("db1", "a.log", b"kept\n", T0);
    rds.write("db1", "b.log", "deleted ✓\n".as_bytes(), T0);
    let store = CountingStore::new(MemoryStore::default());
    let one = |now| {
        let (rds, store) = (&rds, &store);
        async move { sync_all(rds, store, &at(now, "run"), &ids(&["db1"])).await }
    };
    one(T0).await;
    assert_eq!(
        state_of(store.inner()).reconciled_at,
        Some(T0),
        "first sync"
    );
    let deleted = "rds-logs/db1/2026/11/20/b.log";
    store.inner().delete(deleted);

    store.reset();
    let r = &one(T0 + DAY - 1).await[0];
    assert_eq!(
        store.requests(),
        1,
        "not due: the state GET only, no listing"
    );
    assert_eq!((r.unchanged, r.copied(), r.reconciled), (2, 0, false));

    store.reset();
    let r = &one(T0 + DAY).await[0];
    assert_eq!(r.copied(), 1, "{r:?}");
    assert!(matches!(
        &r.files[0],
        FileResult::Copied { file, reason: Reason::Missing, .. } if file == "b.log"
    ));
    assert!(r.reconciled);
    // GET state, one LIST page, claim, copy, release.
    assert_eq!(store.requests(), 5);
    assert_eq!(
        store.inner().objects()[deleted].as_ref(),
        "deleted ✓\n".as_bytes()
    );
    assert_eq!(state_of(store.inner()).reconciled_at, Some(T0 + DAY));

    store.reset();
    let r = &one(T0 + 2 * DAY).await[0];
    assert_eq!((r.copied(), r.reconciled), (0, true));
    assert_eq!(
        store.requests(),
        3,
        "GET state, one LIST page, one state PUT"
    );
}

#[tokio::test]
async fn given_a_missing_copy_that_fails_again_then_it_is_no_longer_recorded_as_copied() {
    let rds = FakeRds::default();
    rds.write("db1", "b.log", b"bytes\n", T0);
    let store = MemoryStore::default();
    sync_all(&rds, &store, &at(T0, "r"), &ids(&["db1"])).await;
    store.delete("rds-logs/db1/2026/11/20/b.log");
    rds.serve("db1", "b.log", 6, b"by", T0); // listed as before, served short
    let r = &sync_all(&rds, &store, &at(T0 + DAY, "r"), &ids(&["db1"])).await[0];
    assert_eq!(r.failed(), 1, "{r:?}");
    let state = state_of(&store);
    assert!(!state.files.contains_key("b.log"), "{state:?}");
    assert!(state.pending.contains_key("b.log"));
    rds.write("db1", "b.log", b"bytes\n", T0);
    let r = &sync_all(&rds, &store, &at(T0 + DAY + 1, "r"), &ids(&["db1"])).await[0];
    assert_eq!(r.copied(), 1, "not due, copied as new: {r:?}");
}

#[tokio::test]
async fn given_a_file_rotated_away_before_its_copy_completed_then_counted_once_as_lost() {
    let rds = FakeRds::default();
    rds.write("db1", "kept.log", b"k\n", T0);
    rds.write("db1", "copied.log", b"c\n", T0);
    rds.serve("db1", "cut.log", 10, b"cut", T0); // the copy breaks off
    let store = MemoryStore::default();
    let r = &sync_all(&rds, &store, &at(T0, "r"), &ids(&["db1"])).await[0];
    assert_eq!((r.copied(), r.failed()), (2, 1), "{r:?}");
    assert!(r.lost.is_empty());
    rds.remove("db1", "cut.log");
    rds.remove("db1", "copied.log");
    let r = &sync_all(&rds, &store, &at(T0 + 1, "r"), &ids(&["db1"])).await[0];
    assert_eq!(r.lost, vec!["cut.log".to_owned()], "{r:?}");
    assert_eq!(
        r.vanished,
        vec!["copied.log".to_owned()],
        "copied: not lost"
    );
    assert!(state_of(&store).pending.is_empty());
    let r = &sync_all(&rds, &store, &at(T0 + 2, "r"), &ids(&["db1"])).await[0];
    assert!(r.lost.is_empty(), "counted once: {r:?}");
}

#[tokio::test]
async fn given_state_written_by_another_run_meanwhile_then_lost_files_are_left_for_it_to_count() {
    let rds = FakeRds::default();
    rds.write("db1", "kept.log", b"k\n", T0);
    let mut state = InstanceState::new();
    let seen = crate::state::Seen {
        size: 10,
        last_written: T0,
    };
    state.pending.insert("cut.log".into(), seen);
    let body = Bytes::from(serde_json::to_vec(&state).expect("json"));
    let store = Racing::new(1);
    store.inner.put(STATE, body.clone()).await.expect("put");
    *store.after_get.lock().expect("lock") = Some(body);
    let r = &sync_all(&rds, &store, &at(T0, "r"), &ids(&["db1"])).await[0];
    assert_eq!(r.conflict, Some(Conflict::ClaimLost), "{r:?}");
    assert!(
        r.lost.is_empty(),
        "not counted by a run that recorded nothing"
    );
    let r = &sync_all(&rds, &store, &at(T0 + 1, "r"), &ids(&["db1"])).await[0];
    assert_eq!(r.lost, vec!["cut.log".to_owned()], "{r:?}");
}
