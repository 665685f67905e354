//! A store wrapper for tests and benches: each `UploadPart` takes time (later parts of a run of
//! three less, so they finish out of order), and the wrapper records how many run at once, per
//! key and in all, and how many body bytes they hold; it can fail one part number.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;

use crate::error::StoreError;
use crate::ports::{Conditional, KeyPage, ObjectStore, Part, Precondition, Tagged};

/// Slow part uploads over any store, with what ran at once (see the module docs).
#[derive(Debug)]
pub struct SlowParts<S> {
    inner: S,
    delay: Duration,
    fail_part: Option<i32>,
    seen: Mutex<Seen>,
}

/// What ran at once.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Part uploads running now, per key.
    running: BTreeMap<String, usize>,
    /// The most part uploads of one key that ran at once, per key.
    pub max_per_key: BTreeMap<String, usize>,
    /// Part uploads running now, in all.
    running_all: usize,
    /// The most part uploads that ran at once, in all.
    pub max_all: usize,
    /// Body bytes of the part uploads running now.
    bytes: usize,
    /// The most body bytes the running part uploads held at once.
    pub max_bytes: usize,
    /// An `AbortMultipartUpload` arrived while a part of its key was still uploading.
    pub aborted_while_uploading: bool,
}

impl<S> SlowParts<S> {
    /// Wraps `inner`; part `n` takes `delay × (3 − n mod 3)`.
    pub fn new(inner: S, delay: Duration) -> Self {
        Self {
            inner,
            delay,
            fail_part: None,
            seen: Mutex::default(),
        }
    }

    /// Fails the upload of part `number` (after its delay), of any key.
    pub fn failing(self, number: i32) -> Self {
        Self {
            fail_part: Some(number),
            ..self
        }
    }

    /// What ran at once so far.
    pub fn seen(&self) -> Seen {
        self.lock().clone()
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<S: ObjectStore> ObjectStore for SlowParts<S> {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Tagged>, StoreError>> {
        self.inner.get(key)
    }
    fn list_page<'a>(
        &'a self,
        prefix: &'a str,
        token: Option<&'a str>,
    ) -> BoxFuture<'a, Result<KeyPage, StoreError>> {
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
        Box::pin(async move {
            let len = body.len();
            {
                let mut seen = self.lock();
                let running = seen.running.entry(key.to_owned()).or_default();
                *running += 1;
                let now = *running;
                let max = seen.max_per_key.entry(key.to_owned()).or_default();
                *max = (*max).max(now);
                seen.running_all += 1;
                seen.max_all = seen.max_all.max(seen.running_all);
                seen.bytes += len;
                seen.max_bytes = seen.max_bytes.max(seen.bytes);
            }
            let later = 3 - number.rem_euclid(3) as u32;
            tokio::time::sleep(self.delay * later).await;
            let result = if self.fail_part == Some(number) {
                Err(StoreError {
                    operation: "UploadPart",
                    key: key.to_owned(),
                    source: "injected failure".into(),
                })
            } else {
                self.inner.upload_part(key, upload_id, number, body).await
            };
            let mut seen = self.lock();
            if let Some(running) = seen.running.get_mut(key) {
                *running -= 1;
            }
            seen.running_all -= 1;
            seen.bytes -= len;
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
        {
            let mut seen = self.lock();
            if seen.running.get(key).is_some_and(|n| *n > 0) {
                seen.aborted_while_uploading = true;
            }
        }
        self.inner.abort_multipart(key, upload_id)
    }
}
