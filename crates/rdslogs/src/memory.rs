//! In-memory stand-ins for tests and benches: an [`ObjectStore`] that keeps objects in a map,
//! a request-counting wrapper for any store, and a [`LogStream`] over fixed chunks.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures_util::future::BoxFuture;

use crate::error::{DownloadError, StoreError};
use crate::ports::{Conditional, KeyPage, LogStream, ObjectStore, Part, Precondition, Tagged};

/// Objects and unfinished uploads, in memory. Every write makes a new version with an ETag of
/// its own, and conditional writes check and write under one lock, as S3's are atomic.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Per key: the bytes and the ETag of the current version.
    objects: BTreeMap<String, Tagged>,
    /// Per key: how many times it was written (versions made).
    writes: BTreeMap<String, u32>,
    uploads: BTreeMap<String, (String, BTreeMap<i32, Bytes>)>,
    next_id: u64,
}

impl Inner {
    /// Stores a new version of `key`; its ETag.
    fn write(&mut self, key: &str, body: Bytes) -> String {
        self.next_id += 1;
        let etag = format!("\"v{}\"", self.next_id);
        self.objects.insert(
            key.to_owned(),
            Tagged {
                body,
                etag: etag.clone(),
            },
        );
        *self.writes.entry(key.to_owned()).or_default() += 1;
        etag
    }
}

impl MemoryStore {
    /// A copy of every object, by key.
    pub fn objects(&self) -> BTreeMap<String, Bytes> {
        self.lock()
            .objects
            .iter()
            .map(|(k, t)| (k.clone(), t.body.clone()))
            .collect()
    }

    /// How many times each key was written (puts, completed uploads, conditional puts that
    /// went through).
    pub fn writes(&self) -> BTreeMap<String, u32> {
        self.lock().writes.clone()
    }

    /// Deletes an object, as an operator or a lifecycle rule would.
    pub fn delete(&self, key: &str) {
        self.lock().objects.remove(key);
    }

    /// How many multipart uploads are started and neither completed nor aborted.
    pub fn open_uploads(&self) -> usize {
        self.lock().uploads.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn missing(operation: &'static str, key: &str) -> StoreError {
    StoreError {
        operation,
        key: key.to_owned(),
        source: "no such upload".into(),
    }
}

/// Keys per listing page, as S3's `ListObjectsV2` returns by default.
pub const LIST_PAGE_KEYS: usize = 1000;

impl ObjectStore for MemoryStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Tagged>, StoreError>> {
        Box::pin(async move { Ok(self.lock().objects.get(key).cloned()) })
    }

    /// Pages of [`LIST_PAGE_KEYS`] in key order; the token is the last key of the page before.
    fn list_page<'a>(
        &'a self,
        prefix: &'a str,
        token: Option<&'a str>,
    ) -> BoxFuture<'a, Result<KeyPage, StoreError>> {
        Box::pin(async move {
            let inner = self.lock();
            let mut keys = inner
                .objects
                .keys()
                .filter(|k| k.starts_with(prefix) && token.is_none_or(|t| k.as_str() > t));
            let page: Vec<String> = keys.by_ref().take(LIST_PAGE_KEYS).cloned().collect();
            let more = keys.next().is_some();
            let next = more.then(|| page.last().cloned()).flatten();
            Ok(KeyPage { keys: page, next })
        })
    }

    fn put<'a>(&'a self, key: &'a str, body: Bytes) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.lock().write(key, body);
            Ok(())
        })
    }

    fn put_if<'a>(
        &'a self,
        key: &'a str,
        body: Bytes,
        precondition: Precondition,
    ) -> BoxFuture<'a, Result<Conditional, StoreError>> {
        Box::pin(async move {
            let mut inner = self.lock();
            let current = inner.objects.get(key).map(|t| t.etag.as_str());
            let holds = match &precondition {
                Precondition::Absent => current.is_none(),
                Precondition::Matches(etag) => current == Some(etag.as_str()),
            };
            Ok(if holds {
                Conditional::Written(inner.write(key, body))
            } else {
                Conditional::Lost
            })
        })
    }

    fn create_multipart<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<String, StoreError>> {
        Box::pin(async move {
            let mut inner = self.lock();
            inner.next_id += 1;
            let id = format!("upload-{}", inner.next_id);
            inner
                .uploads
                .insert(id.clone(), (key.to_owned(), BTreeMap::new()));
            Ok(id)
        })
    }

    fn upload_part<'a>(
        &'a self,
        key: &'a str,
        upload_id: &'a str,
        number: i32,
        body: Bytes,
    ) -> BoxFuture<'a, Result<Part, StoreError>> {
        Box::pin(async move {
            let mut inner = self.lock();
            let (_, parts) = inner
                .uploads
                .get_mut(upload_id)
                .ok_or_else(|| missing("UploadPart", key))?;
            parts.insert(number, body);
            Ok(Part {
                number,
                etag: format!("etag-{number}"),
                crc32: None,
            })
        })
    }

    fn complete_multipart<'a>(
        &'a self,
        key: &'a str,
        upload_id: &'a str,
        parts: Vec<Part>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut inner = self.lock();
            let (_, stored) = inner
                .uploads
                .remove(upload_id)
                .ok_or_else(|| missing("CompleteMultipartUpload", key))?;
            // S3 answers `InvalidPartOrder` to parts not in ascending order.
            if parts.windows(2).any(|w| w[0].number >= w[1].number) {
                return Err(StoreError {
                    operation: "CompleteMultipartUpload",
                    key: key.to_owned(),
                    source: "InvalidPartOrder: parts not in ascending order".into(),
                });
            }
            let mut body = Vec::new();
            for part in &parts {
                let bytes = stored
                    .get(&part.number)
                    .ok_or_else(|| missing("CompleteMultipartUpload", key))?;
                body.extend_from_slice(bytes);
            }
            inner.write(key, Bytes::from(body));
            Ok(())
        })
    }

    fn abort_multipart<'a>(
        &'a self,
        key: &'a str,
        upload_id: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.lock()
                .uploads
                .remove(upload_id)
                .map(|_| ())
                .ok_or_else(|| missing("AbortMultipartUpload", key))
        })
    }
}

/// Counts the requests made through any store.
#[derive(Debug)]
pub struct CountingStore<S> {
    inner: S,
    count: AtomicU64,
}

impl<S> CountingStore<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            count: AtomicU64::new(0),
        }
    }

    /// Requests made so far.
    pub fn requests(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    /// Starts counting from zero again.
    pub fn reset(&self) {
        self.count.store(0, Ordering::SeqCst);
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn tick(&self) {
        self.count.fetch_add(1, Ordering::SeqCst);
    }
}

impl<S: ObjectStore> ObjectStore for CountingStore<S> {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Tagged>, StoreError>> {
        self.tick();
        self.inner.get(key)
    }
    fn list_page<'a>(
        &'a self,
        prefix: &'a str,
        token: Option<&'a str>,
    ) -> BoxFuture<'a, Result<KeyPage, StoreError>> {
        self.tick();
        self.inner.list_page(prefix, token)
    }
    fn put<'a>(&'a self, key: &'a str, body: Bytes) -> BoxFuture<'a, Result<(), StoreError>> {
        self.tick();
        self.inner.put(key, body)
    }
    fn put_if<'a>(
        &'a self,
        key: &'a str,
        body: Bytes,
        precondition: Precondition,
    ) -> BoxFuture<'a, Result<Conditional, StoreError>> {
        self.tick();
        self.inner.put_if(key, body, precondition)
    }
    fn create_multipart<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<String, StoreError>> {
        self.tick();
        self.inner.create_multipart(key)
    }
    fn upload_part<'a>(
        &'a self,
        key: &'a str,
        upload_id: &'a str,
        number: i32,
        body: Bytes,
    ) -> BoxFuture<'a, Result<Part, StoreError>> {
        self.tick();
        self.inner.upload_part(key, upload_id, number, body)
    }
    fn complete_multipart<'a>(
        &'a self,
        key: &'a str,
        upload_id: &'a str,
        parts: Vec<Part>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.tick();
        self.inner.complete_multipart(key, upload_id, parts)
    }
    fn abort_multipart<'a>(
        &'a self,
        key: &'a str,
        upload_id: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.tick();
        self.inner.abort_multipart(key, upload_id)
    }
}

/// A stream over fixed chunks; an `Err` item ends it with that error (a broken connection).
pub struct ChunkStream {
    chunks: std::vec::IntoIter<Result<Bytes, DownloadError>>,
}

impl ChunkStream {
    /// Streams `chunks` in order.
    pub fn new(chunks: Vec<Result<Bytes, DownloadError>>) -> Self {
        Self {
            chunks: chunks.into_iter(),
        }
    }
}

impl LogStream for ChunkStream {
    fn next_chunk(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, DownloadError>> {
        let next = self.chunks.next();
        Box::pin(async move { next.transpose() })
    }
}
