//! In-memory stand-ins for tests and benches: an [`ObjectStore`] that keeps objects in a map,
//! a request-counting wrapper for any store, and a [`LogStream`] over fixed chunks.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures_util::future::BoxFuture;

use crate::error::{DownloadError, StoreError};
use crate::ports::{LogStream, ObjectStore, Part};

/// Objects and unfinished uploads, in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    objects: BTreeMap<String, Bytes>,
    uploads: BTreeMap<String, (String, BTreeMap<i32, Bytes>)>,
    next_id: u64,
}

impl MemoryStore {
    /// A copy of every object, by key.
    pub fn objects(&self) -> BTreeMap<String, Bytes> {
        self.lock().objects.clone()
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

impl ObjectStore for MemoryStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>, StoreError>> {
        Box::pin(async move { Ok(self.lock().objects.get(key).cloned()) })
    }

    fn put<'a>(&'a self, key: &'a str, body: Bytes) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.lock().objects.insert(key.to_owned(), body);
            Ok(())
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
            let mut body = Vec::new();
            for part in &parts {
                let bytes = stored
                    .get(&part.number)
                    .ok_or_else(|| missing("CompleteMultipartUpload", key))?;
                body.extend_from_slice(bytes);
            }
            inner.objects.insert(key.to_owned(), Bytes::from(body));
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
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>, StoreError>> {
        self.tick();
        self.inner.get(key)
    }
    fn put<'a>(&'a self, key: &'a str, body: Bytes) -> BoxFuture<'a, Result<(), StoreError>> {
        self.tick();
        self.inner.put(key, body)
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
