//! Unit tests of the streaming copy against the in-memory store.

use std::io::Read;

use bytes::Bytes;
use futures_util::future::BoxFuture;

use super::*;
use crate::error::{DownloadError, StoreError};
use crate::memory::{ChunkStream, MemoryStore};
use crate::ports::{Conditional, Precondition, Tagged};

const MIB: usize = 1024 * 1024;

fn source(listed: usize) -> Source<'static> {
    Source {
        instance: "db1",
        file: "error/a.log",
        listed: listed as u64,
    }
}

fn chunks(data: &[u8], size: usize) -> ChunkStream {
    ChunkStream::new(
        data.chunks(size)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect(),
    )
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

/// Copy options with S3's smallest part size.
fn parts_of_5_mib(gzip: bool) -> CopyOptions {
    CopyOptions {
        part_size: 5 * MIB,
        gzip,
    }
}

/// The download of the test file failing mid-stream.
fn broken_download() -> DownloadError {
    DownloadError::Status {
        instance: "db1".into(),
        file: "error/a.log".into(),
        status: 500,
        body: "gone".into(),
    }
}

#[tokio::test]
async fn given_small_file_when_copied_then_single_put_with_exact_bytes() {
    let store = MemoryStore::default();
    let mut bytes = "héllo wörld ✓\n\u{1F600}".as_bytes().to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe, 0x80]);
    let out = copy(
        &mut chunks(&bytes, 3),
        &store,
        "k",
        source(bytes.len()),
        CopyOptions::default(),
    )
    .await
    .expect("copy");
    assert_eq!(out.parts, 1);
    assert_eq!(store.objects()["k"], Bytes::from(bytes));
}

#[tokio::test]
async fn given_file_larger_than_a_part_when_copied_then_multipart_with_all_bytes() {
    let store = MemoryStore::default();
    let bytes = data(12 * MIB + 17);
    let opts = parts_of_5_mib(false);
    let out = copy(
        &mut chunks(&bytes, 64 * 1024),
        &store,
        "k",
        source(bytes.len()),
        opts,
    )
    .await
    .expect("copy");
    assert_eq!(out.parts, 3);
    assert_eq!(out.source_bytes, bytes.len() as u64);
    assert_eq!(store.objects()["k"].as_ref(), bytes.as_slice());
    assert_eq!(store.open_uploads(), 0);
}

#[tokio::test]
async fn given_gzip_when_copied_then_object_decompresses_to_the_source() {
    let store = MemoryStore::default();
    let bytes = data(11 * MIB);
    let opts = parts_of_5_mib(true);
    let out = copy(
        &mut chunks(&bytes, 100_000),
        &store,
        "k.gz",
        source(bytes.len()),
        opts,
    )
    .await
    .expect("copy");
    assert_eq!(out.source_bytes, bytes.len() as u64);
    let object = store.objects()["k.gz"].clone();
    assert_eq!(out.object_bytes, object.len() as u64);
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(object.as_ref())
        .read_to_end(&mut plain)
        .expect("gunzip");
    assert_eq!(plain, bytes);
}

#[tokio::test]
async fn given_stream_breaks_after_a_part_when_copied_then_upload_aborted_and_no_object() {
    let store = MemoryStore::default();
    let mut items: Vec<_> = data(6 * MIB)
        .chunks(MIB)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    items.push(Err(broken_download()));
    let opts = parts_of_5_mib(false);
    let err = copy(
        &mut ChunkStream::new(items),
        &store,
        "k",
        source(8 * MIB),
        opts,
    )
    .await
    .expect_err("must fail");
    assert!(matches!(err, CopyError::Download(_)), "{err}");
    assert!(store.objects().is_empty());
    assert_eq!(store.open_uploads(), 0);
}

#[tokio::test]
async fn given_fewer_bytes_than_listed_when_copied_then_short_and_nothing_written() {
    let store = MemoryStore::default();
    for len in [0, 100, 6 * MIB] {
        let opts = parts_of_5_mib(false);
        let err = copy(
            &mut chunks(&data(len), MIB),
            &store,
            "k",
            source(len + 1),
            opts,
        )
        .await
        .expect_err("short");
        assert!(
            matches!(err, CopyError::Short { got, .. } if got == len as u64),
            "{err}"
        );
    }
    assert!(store.objects().is_empty());
    assert_eq!(store.open_uploads(), 0);
}

#[tokio::test]
async fn given_more_bytes_than_listed_when_copied_then_everything_is_kept() {
    let store = MemoryStore::default();
    let bytes = data(1000);
    let out = copy(
        &mut chunks(&bytes, 10),
        &store,
        "k",
        source(500),
        CopyOptions::default(),
    )
    .await
    .expect("copy");
    assert_eq!(out.source_bytes, 1000);
    assert_eq!(store.objects()["k"].len(), 1000);
}

#[tokio::test]
async fn given_chunks_straddling_part_boundaries_when_copied_then_parts_are_cut_at_part_size() {
    let store = MemoryStore::default();
    let bytes = data(15 * MIB);
    let opts = parts_of_5_mib(false);
    let out = copy(
        &mut chunks(&bytes, 4 * MIB),
        &store,
        "k",
        source(bytes.len()),
        opts,
    )
    .await
    .expect("copy");
    assert_eq!(
        out.parts, 3,
        "three exact 5 MiB parts, not two overgrown ones"
    );
    assert_eq!(out.object_bytes, bytes.len() as u64);
    assert_eq!(store.objects()["k"].as_ref(), bytes.as_slice());
    assert_eq!(store.open_uploads(), 0);
}

/// A stream of `MIB` chunks that signals `read_past` once it has delivered chunk `signal_at`.
struct SignallingStream {
    chunks: std::vec::IntoIter<Bytes>,
    delivered: usize,
    signal_at: usize,
    read_past: std::sync::Arc<tokio::sync::Notify>,
    /// Fails instead of delivering this chunk (1-based), if set.
    fail_at: Option<usize>,
}

impl LogStream for SignallingStream {
    fn next_chunk(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, DownloadError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            if self.fail_at == Some(self.delivered + 1) {
                return Err(broken_download());
            }
            let next = self.chunks.next();
            if next.is_some() {
                self.delivered += 1;
                if self.delivered == self.signal_at {
                    self.read_past.notify_one();
                }
            }
            Ok(next)
        })
    }
}

/// A memory store whose first `UploadPart` waits for the stream to deliver the next part's
/// first chunk, which counts the uploads running at once, and which can fail one part.
#[derive(Default)]
struct GatedStore {
    inner: MemoryStore,
    read_past: std::sync::Arc<tokio::sync::Notify>,
    running: std::sync::atomic::AtomicUsize,
    max_running: std::sync::atomic::AtomicUsize,
    fail_part: Option<i32>,
    /// Set when an abort arrived while a part was still uploading.
    aborted_while_uploading: std::sync::atomic::AtomicBool,
}

impl ObjectStore for GatedStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Tagged>, StoreError>> {
        self.inner.get(key)
    }
    fn list_page<'a>(
        &'a self,
        prefix: &'a str,
        token: Option<&'a str>,
    ) -> BoxFuture<'a, Result<crate::ports::KeyPage, StoreError>> {
        self.inner.list_page(prefix, token)
    }
    fn put<'a>(&'a self, key: &'a str, body: Bytes) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.put(key, body)
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
    ) -> BoxFuture<'a, Result<Part, StoreError>> {
        use std::sync::atomic::Ordering::SeqCst;
        Box::pin(async move {
            let now = self.running.fetch_add(1, SeqCst) + 1;
            self.max_running.fetch_max(now, SeqCst);
            if number == 1 {
                self.read_past.notified().await;
            }
            tokio::task::yield_now().await;
            let result = if self.fail_part == Some(number) {
                Err(StoreError {
                    operation: "UploadPart",
                    key: key.to_owned(),
                    source: "injected".into(),
                })
            } else {
                self.inner.upload_part(key, upload_id, number, body).await
            };
            self.running.fetch_sub(1, SeqCst);
            result
        })
    }
    fn complete_multipart<'a>(
        &'a self,
        key: &'a str,
        upload_id: &'a str,
        parts: Vec<Part>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.complete_multipart(key, upload_id, parts)
    }
    fn abort_multipart<'a>(
        &'a self,
        key: &'a str,
        upload_id: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        use std::sync::atomic::Ordering::SeqCst;
        if self.running.load(SeqCst) > 0 {
            self.aborted_while_uploading.store(true, SeqCst);
        }
        self.inner.abort_multipart(key, upload_id)
    }
}

fn signalling(store: &GatedStore, bytes: &[u8]) -> SignallingStream {
    SignallingStream {
        chunks: bytes
            .chunks(MIB)
            .map(Bytes::copy_from_slice)
            .collect::<Vec<_>>()
            .into_iter(),
        delivered: 0,
        // The first chunk of part 2 (5 MiB parts of 1 MiB chunks).
        signal_at: 6,
        read_past: store.read_past.clone(),
        fail_at: None,
    }
}

#[tokio::test]
async fn given_part_uploading_when_copied_then_next_part_is_read_meanwhile() {
    let store = GatedStore::default();
    let bytes = data(17 * MIB + 3);
    let opts = parts_of_5_mib(false);
    // Sequential code waits for part 1's upload before reading on, and part 1's upload waits
    // for that read: it would never finish.
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        copy(
            &mut signalling(&store, &bytes),
            &store,
            "k",
            source(bytes.len()),
            opts,
        ),
    )
    .await
    .expect("part 1 uploads while part 2 is read")
    .expect("copy");
    assert_eq!(out.parts, 4);
    assert_eq!(out.source_bytes, bytes.len() as u64);
    assert_eq!(store.inner.objects()["k"].as_ref(), bytes.as_slice());
    assert_eq!(store.inner.open_uploads(), 0);
    assert_eq!(
        store.max_running.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one upload in flight at a time"
    );
}

#[tokio::test]
async fn given_part_upload_fails_while_next_part_is_read_when_copied_then_aborted() {
    for fail_part in [1, 2, 4] {
        let store = GatedStore {
            fail_part: Some(fail_part),
            ..GatedStore::default()
        };
        let bytes = data(17 * MIB + 3);
        let opts = parts_of_5_mib(false);
        let err = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            copy(
                &mut signalling(&store, &bytes),
                &store,
                "k",
                source(bytes.len()),
                opts,
            ),
        )
        .await
        .expect("no hang")
        .expect_err("must fail");
        assert!(matches!(err, CopyError::Store(_)), "{err}");
        assert!(store.inner.objects().is_empty());
        assert_eq!(store.inner.open_uploads(), 0, "part {fail_part}");
    }
}

#[tokio::test]
async fn given_download_fails_while_a_part_uploads_when_copied_then_abort_waits_for_that_part() {
    let store = GatedStore::default();
    let bytes = data(17 * MIB);
    let opts = parts_of_5_mib(false);
    let mut stream = SignallingStream {
        // Part 1 (chunks 1-5) is uploading; chunk 6 lets it finish; chunk 7 fails at once.
        fail_at: Some(7),
        ..signalling(&store, &bytes)
    };
    let err = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        copy(&mut stream, &store, "k", source(bytes.len()), opts),
    )
    .await
    .expect("no hang")
    .expect_err("must fail");
    assert!(matches!(err, CopyError::Download(_)), "{err}");
    assert!(
        !store
            .aborted_while_uploading
            .load(std::sync::atomic::Ordering::SeqCst),
        "a part stored after the abort would be kept (and billed) by S3"
    );
    assert!(store.inner.objects().is_empty());
    assert_eq!(store.inner.open_uploads(), 0);
}

#[test]
fn given_file_needing_more_than_max_parts_then_part_size_grows_to_a_whole_mib() {
    assert_eq!(CopyOptions::default().part_size, 8 * MIB);
    let default = MIN_PART_SIZE;
    assert_eq!(part_size_for(default, 0), MIN_PART_SIZE);
    assert_eq!(
        part_size_for(1, 100),
        MIN_PART_SIZE,
        "never below S3's minimum"
    );
    let at_limit = 9_000 * MIN_PART_SIZE as u64;
    assert_eq!(part_size_for(default, at_limit), MIN_PART_SIZE);
    // 45,000 MiB + 1 byte: ceil(/ 9,000) = 5 MiB + 1 byte, rounded up to 6 MiB; a file
    // that then grows by up to 1,000 parts' worth still fits S3's 10,000.
    assert_eq!(part_size_for(default, at_limit + 1), 6 * MIB);
    assert!((at_limit + 1 + 1_000 * 6 * MIB as u64).div_ceil(6 * MIB as u64) <= MAX_PARTS);
    // 100 GiB: 11.38 MiB → 12 MiB.
    assert_eq!(part_size_for(default, 100 << 30), 12 * MIB);
    // A larger configured size that already fits is kept.
    assert_eq!(part_size_for(64 * MIB, 100 << 30), 64 * MIB);
    for listed in [at_limit + 1, 60_000 * MIB as u64, 100 << 30, 3 << 40] {
        let size = part_size_for(default, listed) as u64;
        assert_eq!(size % MIB as u64, 0);
        assert!(listed.div_ceil(size) <= 9_000, "{listed}");
    }
}
