//! The handler called directly with EventBridge-shaped events, over a fake RDS and the
//! in-memory store (counted).

use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use log_syncer::{Config, Deps, Invocation, handler};
use serde_json::json;
use sluice_rdslogs::memory::{ChunkStream, CountingStore, MemoryStore};
use sluice_rdslogs::ports::{BoxError, LogStream};
use sluice_rdslogs::{DownloadError, ListFilter, LogFile, LogSource, ObjectStore, Selection};
use sluice_runtime::config::Env;

/// Every instance has one file, `error/postgresql.log.2026-11-22-13`, with its id as content.
struct OneFileEach;

impl LogSource for OneFileEach {
    fn instances<'a>(&'a self, s: &'a Selection) -> BoxFuture<'a, Result<Vec<String>, BoxError>> {
        Box::pin(async move { Ok(s.explicit.clone()) })
    }
    fn log_files<'a>(
        &'a self,
        instance: &'a str,
        _: &'a ListFilter,
    ) -> BoxFuture<'a, Result<Vec<LogFile>, BoxError>> {
        Box::pin(async move {
            Ok(vec![LogFile {
                name: "error/postgresql.log.2026-11-22-13".into(),
                size: instance.len() as i64,
                last_written: 1,
            }])
        })
    }
    fn open<'a>(
        &'a self,
        instance: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn LogStream>, DownloadError>> {
        Box::pin(async move {
            let chunks = vec![Ok(Bytes::copy_from_slice(instance.as_bytes()))];
            Ok(Box::new(ChunkStream::new(chunks)) as Box<dyn LogStream>)
        })
    }
}

fn deps(store: Arc<CountingStore<MemoryStore>>) -> Deps {
    let env = Env::from_pairs([("LOG_BUCKET", "b"), ("RDS_INSTANCES", "db1,db2")]);
    Deps {
        source: Arc::new(OneFileEach),
        store: store as Arc<dyn ObjectStore>,
        config: Config::from_env(&env).expect("config"),
    }
}

fn scheduled() -> serde_json::Value {
    json!({"version": "0", "source": "aws.events", "detail-type": "Scheduled Event",
           "resources": ["arn:aws:events:us-east-1:123456789012:rule/sync"], "detail": {}})
}

#[tokio::test]
async fn given_scheduled_event_when_handled_twice_then_second_run_reads_one_state_per_instance() {
    let store = Arc::new(CountingStore::new(MemoryStore::default()));
    let deps = deps(store.clone());
    let first = handler(scheduled(), &deps, &Invocation::default())
        .await
        .expect("first");
    assert_eq!((first.files_copied, first.instances_ok), (2, 2));
    store.reset();
    let second = handler(scheduled(), &deps, &Invocation::default())
        .await
        .expect("second");
    assert_eq!((second.files_copied, second.files_unchanged), (0, 2));
    assert_eq!(
        store.requests(),
        2,
        "one state GET per instance, nothing else"
    );
}

#[tokio::test]
async fn given_instances_override_when_handled_then_only_those_are_synced() {
    let store = Arc::new(CountingStore::new(MemoryStore::default()));
    let out = handler(
        json!({"instances": ["other"]}),
        &deps(store.clone()),
        &Invocation::default(),
    )
    .await
    .expect("run");
    assert_eq!(out.instances.len(), 1);
    assert_eq!(out.instances[0].instance, "other");
    assert!(
        store
            .inner()
            .objects()
            .contains_key("rds-logs/other/2026/11/22/error/postgresql.log.2026-11-22-13")
    );
}

#[tokio::test]
async fn given_malformed_override_when_handled_then_invalid_input() {
    let store = Arc::new(CountingStore::new(MemoryStore::default()));
    for bad in [json!({"instances": "db1"}), json!({"instances": [1]})] {
        let err = handler(bad, &deps(store.clone()), &Invocation::default())
            .await
            .expect_err("invalid");
        assert_eq!(err.kind, sluice_runtime::ErrorKind::InvalidInput);
    }
}
