//! The two capabilities a sync needs, as small traits: reading RDS ([`LogSource`]) and
//! writing S3 ([`ObjectStore`]). Real adapters live in [`crate::rds`] and [`crate::s3`];
//! tests wrap or fake them (e.g. to count S3 requests).

use bytes::Bytes;
use futures_util::future::BoxFuture;

use crate::error::{DownloadError, StoreError};
use crate::state::LogFile;

/// Any adapter error, kept with its source chain.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Which instances to sync.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Named instances, always included.
    pub explicit: Vec<String>,
    /// Include every instance carrying this tag (`key`, `value`).
    pub tag: Option<(String, String)>,
    /// Include every instance of one of these engines (`postgres`, `mysql`, …); combined with
    /// `tag`, an instance must match both.
    pub engines: Vec<String>,
}

impl Selection {
    /// Whether instances must be discovered with `DescribeDBInstances`.
    pub fn needs_discovery(&self) -> bool {
        self.tag.is_some() || !self.engines.is_empty()
    }
}

/// Narrows `DescribeDBLogFiles`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// `FilenameContains`.
    pub filename_contains: Option<String>,
    /// `FileLastWritten`: only files written at or after this Unix time in ms.
    pub last_written_since: Option<i64>,
}

impl ListFilter {
    /// Whether the listing may leave out files that still exist.
    pub fn is_narrowing(&self) -> bool {
        self.filename_contains.is_some() || self.last_written_since.is_some()
    }
}

/// An open download: the file's bytes, chunk by chunk.
pub trait LogStream: Send {
    /// The next chunk; `None` at the end of the file.
    fn next_chunk(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, DownloadError>>;
}

/// Reads RDS: instances, their log files, and a file's bytes.
pub trait LogSource: Send + Sync {
    /// Instance ids for a selection (explicit names first, then discovered ones, no repeats).
    fn instances<'a>(
        &'a self,
        selection: &'a Selection,
    ) -> BoxFuture<'a, Result<Vec<String>, BoxError>>;

    /// Every log file of an instance (all pages).
    fn log_files<'a>(
        &'a self,
        instance: &'a str,
        filter: &'a ListFilter,
    ) -> BoxFuture<'a, Result<Vec<LogFile>, BoxError>>;

    /// Opens the complete file for streaming (retrying throttling and 5xx before any byte).
    fn open<'a>(
        &'a self,
        instance: &'a str,
        file: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn LogStream>, DownloadError>>;
}

/// One uploaded part: its number and ETag (and checksum when S3 returned one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// 1-based part number.
    pub number: i32,
    /// The part's ETag.
    pub etag: String,
    /// The part's CRC32 checksum, when the upload computed one.
    pub crc32: Option<String>,
}

/// An object's bytes and the ETag of that version of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tagged {
    /// The object's bytes.
    pub body: Bytes,
    /// Its ETag, as S3 sent it (quotes included), for a later conditional write.
    pub etag: String,
}

/// What a conditional write requires of the object already at its key
/// ([S3 conditional writes](https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// No object at the key (`If-None-Match: *`).
    Absent,
    /// The object is still the version with this ETag (`If-Match`).
    Matches(String),
}

/// What a conditional write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conditional {
    /// Written; the ETag of the new version.
    Written(String),
    /// Not written: the object at the key is no longer what the precondition named (S3 412
    /// `PreconditionFailed`, 409 `ConditionalRequestConflict`, or 404 for `If-Match` on an
    /// object deleted meanwhile). Someone else wrote it.
    Lost,
}

/// One page of a key listing ([ListObjectsV2](https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPage {
    /// The keys on this page (up to 1,000).
    pub keys: Vec<String>,
    /// The token of the next page, when there is one.
    pub next: Option<String>,
}

/// Writes, reads and lists S3 objects under one bucket.
pub trait ObjectStore: Send + Sync {
    /// The object's bytes and ETag, or `None` when it does not exist.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Tagged>, StoreError>>;
    /// One page (at most 1,000 keys: one request) of the keys that start with `prefix`, from
    /// the page `token` names (`None`: the first page).
    fn list_page<'a>(
        &'a self,
        prefix: &'a str,
        token: Option<&'a str>,
    ) -> BoxFuture<'a, Result<KeyPage, StoreError>>;
    /// Writes a whole object at once.
    fn put<'a>(&'a self, key: &'a str, body: Bytes) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Writes a whole object only if the object at `key` meets `precondition`, atomically.
    fn put_if<'a>(
        &'a self,
        key: &'a str,
        body: Bytes,
        precondition: Precondition,
    ) -> BoxFuture<'a, Result<Conditional, StoreError>>;
    /// Starts a multipart upload; returns its upload id.
    fn create_multipart<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<String, StoreError>>;
    /// Uploads one part (every part but the last is at least 5 MiB).
    fn upload_part<'a>(
        &'a self,
        key: &'a str,
        upload_id: &'a str,
        number: i32,
        body: Bytes,
    ) -> BoxFuture<'a, Result<Part, StoreError>>;
    /// Completes the upload: only now does the object exist at `key`.
    fn complete_multipart<'a>(
        &'a self,
        key: &'a str,
        upload_id: &'a str,
        parts: Vec<Part>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Aborts the upload and frees its parts.
    fn abort_multipart<'a>(
        &'a self,
        key: &'a str,
        upload_id: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}
