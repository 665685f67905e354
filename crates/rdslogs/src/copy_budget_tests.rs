//! Unit tests of parts uploading at once within a shared memory budget.

use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::budget::Budget;
use crate::memory::{ChunkStream, MemoryStore};
use crate::slow_parts::SlowParts;

const MIB: usize = 1024 * 1024;
const PART: usize = 5 * MIB;
const OPTS: CopyOptions = CopyOptions {
    part_size: PART,
    gzip: false,
};

fn data(len: usize, seed: usize) -> Vec<u8> {
    (0..len).map(|i| ((i + seed) * 7 % 251) as u8).collect()
}

fn stream(data: &[u8]) -> ChunkStream {
    ChunkStream::new(
        data.chunks(256 * 1024)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect(),
    )
}

fn source(file: &'static str, len: usize) -> Source<'static> {
    Source {
        instance: "db1",
        file,
        listed: len as u64,
    }
}

fn slow() -> SlowParts<MemoryStore> {
    SlowParts::new(MemoryStore::default(), Duration::from_millis(20))
}

/// Copies `bytes` to `key` with a share of `budget`.
async fn copy_with(
    store: &SlowParts<MemoryStore>,
    budget: &Budget,
    key: &'static str,
    bytes: &[u8],
) -> Result<Copied, CopyError> {
    let listed = bytes.len() as u64;
    let share = budget.reserve(buffer_bytes(OPTS, listed), listed, 0).await;
    let mut from = stream(bytes);
    let copy = copy_shared(
        &mut from,
        store,
        key,
        source(key, bytes.len()),
        OPTS,
        &share,
    );
    tokio::time::timeout(Duration::from_secs(20), copy)
        .await
        .expect("no hang")
}

#[tokio::test]
async fn given_budget_left_when_large_file_copied_then_its_parts_upload_at_once_and_complete_in_order()
 {
    // Parts finish out of order (part 3k+1 is the slowest of three); the object must still be
    // the file, and CompleteMultipartUpload (which S3 refuses out of order) must go through.
    let store = slow();
    let budget = Budget::new(40 * MIB);
    let bytes = data(52 * MIB + 7, 0);
    let out = copy_with(&store, &budget, "k", &bytes).await.expect("copy");
    assert_eq!(out.parts, 11);
    assert_eq!(out.source_bytes, bytes.len() as u64);
    assert_eq!(store.inner().objects()["k"].as_ref(), bytes.as_slice());
    assert_eq!(store.inner().open_uploads(), 0);
    let seen = store.seen();
    // Own share: 2 buffers (fill + 1 uploading); the other 30 MiB: 6 more uploading.
    let max = seen.max_per_key["k"];
    assert!(max >= 3, "parts of one file upload at once: {max}");
    assert!(max <= 7, "fill buffer + 7 uploading = 40 MiB: {max}");
    assert_eq!(budget.available_mib(), 40, "the budget is given back");
}

#[tokio::test]
async fn given_no_shared_budget_when_copied_then_one_part_in_flight() {
    let store = slow();
    let bytes = data(22 * MIB, 1);
    let out = tokio::time::timeout(
        Duration::from_secs(20),
        copy(
            &mut stream(&bytes),
            &store,
            "k",
            source("k", bytes.len()),
            OPTS,
        ),
    )
    .await
    .expect("no hang")
    .expect("copy");
    assert_eq!(out.parts, 5);
    assert_eq!(store.inner().objects()["k"].as_ref(), bytes.as_slice());
    assert_eq!(store.seen().max_per_key["k"], 1);
}

#[tokio::test]
async fn given_three_copies_sharing_a_budget_when_copied_then_part_buffers_stay_within_it() {
    let store = slow();
    let budget = Budget::new(30 * MIB);
    let files: Vec<Vec<u8>> = (0..3).map(|i| data(31 * MIB + i, i)).collect();
    let (a, b, c) = tokio::join!(
        copy_with(&store, &budget, "a", &files[0]),
        copy_with(&store, &budget, "b", &files[1]),
        copy_with(&store, &budget, "c", &files[2]),
    );
    for (key, (out, bytes)) in ["a", "b", "c"]
        .into_iter()
        .zip([a, b, c].into_iter().zip(&files))
    {
        assert_eq!(out.expect("copy").source_bytes, bytes.len() as u64, "{key}");
        assert_eq!(store.inner().objects()[key].as_ref(), bytes.as_slice());
    }
    let seen = store.seen();
    // Every running copy also fills one buffer, so uploads hold at most 30 MiB less one part.
    assert!(
        seen.max_bytes <= 25 * MIB,
        "part buffers uploading at once: {} MiB",
        seen.max_bytes / MIB
    );
    assert!(seen.max_all >= 2, "copies overlap: {}", seen.max_all);
    assert_eq!(budget.available_mib(), 30);
}

#[tokio::test]
async fn given_budget_smaller_than_one_copy_when_copies_run_then_they_take_turns_and_finish() {
    let store = slow();
    let budget = Budget::new(6 * MIB);
    let files: Vec<Vec<u8>> = (0..2).map(|i| data(12 * MIB, i)).collect();
    let (a, b) = tokio::join!(
        copy_with(&store, &budget, "a", &files[0]),
        copy_with(&store, &budget, "b", &files[1]),
    );
    assert_eq!(a.expect("a").parts, 3);
    assert_eq!(b.expect("b").parts, 3);
    assert_eq!(store.seen().max_all, 1, "one copy at a time, one part each");
    assert_eq!(store.inner().objects()["b"].as_ref(), files[1].as_slice());
}

#[tokio::test]
async fn given_part_fails_while_others_upload_when_copied_then_all_finish_before_the_abort() {
    for fail in [1, 2, 5, 9] {
        let store = slow().failing(fail);
        let budget = Budget::new(40 * MIB);
        let bytes = data(52 * MIB, 2);
        let err = copy_with(&store, &budget, "k", &bytes)
            .await
            .expect_err("must fail");
        assert!(matches!(err, CopyError::Store(_)), "{err}");
        let seen = store.seen();
        assert!(
            !seen.aborted_while_uploading,
            "part {fail}: a part stored after the abort would be kept (and billed) by S3"
        );
        assert!(store.inner().objects().is_empty());
        assert_eq!(store.inner().open_uploads(), 0, "part {fail}");
        assert_eq!(budget.available_mib(), 40);
    }
}

#[tokio::test]
async fn given_short_download_while_parts_upload_when_copied_then_short_and_nothing_written() {
    let store = slow();
    let budget = Budget::new(40 * MIB);
    let bytes = data(30 * MIB, 3);
    let share = budget.reserve(PART * 2, 40 * MIB as u64, 0).await;
    let err = copy_shared(
        &mut stream(&bytes),
        &store,
        "k",
        source("k", 40 * MIB),
        OPTS,
        &share,
    )
    .await
    .expect_err("short");
    assert!(
        matches!(err, CopyError::Short { got, .. } if got == bytes.len() as u64),
        "{err}"
    );
    assert!(!store.seen().aborted_while_uploading);
    assert!(store.inner().objects().is_empty());
    assert_eq!(store.inner().open_uploads(), 0);
}
