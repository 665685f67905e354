//! Streams one download into S3: a single `PutObject` when it fits in one part, else a
//! multipart upload of `part_size` parts, optionally gzip-compressed on the way.
//!
//! The object appears at its key only through `PutObject` or `CompleteMultipartUpload`, after
//! the whole stream was read and its length checked; any error aborts the multipart upload.
//!
//! Reading and uploading overlap: while part N uploads, part N + 1 is read. A copy's own
//! memory is two part buffers (the one it fills and one uploading), reused from part to part;
//! more parts of the same file upload at once only with the run's memory budget left over
//! ([`crate::budget`]), each buffer given back when its part is uploaded. Parts may finish in
//! any order; they are completed in part-number order. On any error, the parts still
//! uploading are waited for, then the upload is aborted.

use std::io::Write;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use futures_util::StreamExt;
use futures_util::future::{BoxFuture, Either, select};
use futures_util::stream::FuturesUnordered;
use tokio::sync::OwnedSemaphorePermit;

use crate::budget::Share;
use crate::error::{CopyError, StoreError};
use crate::ports::{LogStream, ObjectStore, Part};

const MIB: usize = 1024 * 1024;

/// S3's smallest part size (except the last).
pub const MIN_PART_SIZE: usize = 5 * MIB;

/// The default part size: 8 MiB, as the SDKs' transfer managers (boto3's `upload_fileobj`,
/// the AWS CLI) use. Measured through moto (`functions/log-syncer/benches/moto_sync.rs`), it
/// takes S3 fewer requests per byte than 5 MiB parts, and the same memory budget still keeps
/// several parts of a large file uploading at once.
pub const DEFAULT_PART_SIZE: usize = 8 * MIB;

/// S3's largest number of parts in one multipart upload.
pub const MAX_PARTS: u64 = 10_000;

/// Parts a copy plans for when it has to grow its part size: the rest of [`MAX_PARTS`] is
/// room for a file that grows while it is copied.
const PLANNED_PARTS: u64 = 9_000;

/// How to write a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyOptions {
    /// Part size in bytes, at least [`MIN_PART_SIZE`] ([`DEFAULT_PART_SIZE`] by default); a copy of a file too
    /// large for [`MAX_PARTS`] parts of this size uses larger parts (see [`part_size_for`]).
    pub part_size: usize,
    /// Gzip the object.
    pub gzip: bool,
}

impl Default for CopyOptions {
    fn default() -> Self {
        Self {
            part_size: DEFAULT_PART_SIZE,
            gzip: false,
        }
    }
}

/// What a finished copy wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    /// Bytes read from RDS.
    pub source_bytes: u64,
    /// Bytes of the object (compressed size when gzipped).
    pub object_bytes: u64,
    /// Number of parts (1 for a single put).
    pub parts: usize,
}

/// Which file is being copied, for errors.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    /// The instance id.
    pub instance: &'a str,
    /// The log file name.
    pub file: &'a str,
    /// The size `DescribeDBLogFiles` listed.
    pub listed: u64,
}

/// The part size a copy of a `listed`-byte file uses: `part_size` (at least
/// [`MIN_PART_SIZE`]), unless that would take more than 9,000 parts; then `listed / 9,000`
/// rounded up to a whole MiB. The last 1,000 of S3's [`MAX_PARTS`] are room for the file to
/// grow while it is copied.
pub fn part_size_for(part_size: usize, listed: u64) -> usize {
    let part_size = part_size.max(MIN_PART_SIZE);
    if listed.div_ceil(part_size as u64) <= PLANNED_PARTS {
        return part_size;
    }
    let grown = listed.div_ceil(PLANNED_PARTS).next_multiple_of(MIB as u64);
    usize::try_from(grown).map_or(usize::MAX, |g| g.max(part_size))
}

/// Uncompressed bytes handed to the gzip encoder at a time, so a compressed part overshoots
/// `part_size` by less than [`GZIP_SLACK`] and its buffer never grows.
const GZIP_STEP: usize = 64 * 1024;

/// Room past `part_size` in a gzip part buffer: one step of (at worst incompressible) input
/// plus the encoder's own output buffer, with margin.
const GZIP_SLACK: usize = 256 * 1024;

/// Bytes waiting to become a part: plain, or behind a gzip encoder.
///
/// A copy fills one part buffer while the previous part uploads from another: each is
/// allocated at full size, never grows, and is taken back after its part's upload (when the
/// store kept no reference to it), so memory is two parts per copy and the allocator sees no
/// churn.
enum Buffer {
    Plain(Vec<u8>),
    Gzip(GzEncoder<Vec<u8>>),
}

impl Buffer {
    fn new(opts: CopyOptions) -> Self {
        if opts.gzip {
            Self::Gzip(GzEncoder::new(Vec::new(), Compression::default()))
        } else {
            Self::Plain(Vec::new())
        }
    }

    fn vec(&mut self) -> &mut Vec<u8> {
        match self {
            Self::Plain(v) => v,
            Self::Gzip(g) => g.get_mut(),
        }
    }

    /// How many more source bytes to write before the next length check: plain parts are
    /// cut at exactly `part_size`; gzip input goes in small steps.
    fn room(&self, part_size: usize) -> usize {
        match self {
            Self::Plain(v) => part_size.saturating_sub(v.len()).max(1),
            Self::Gzip(_) => GZIP_STEP,
        }
    }

    /// Appends (at most [`Self::room`]) bytes.
    fn write(&mut self, bytes: &[u8], part_size: usize) -> std::io::Result<()> {
        let capacity = match self {
            Self::Plain(_) => part_size,
            Self::Gzip(_) => part_size + GZIP_SLACK,
        };
        let v = self.vec();
        if v.capacity() == 0 {
            v.reserve_exact(capacity);
        }
        match self {
            Self::Plain(v) => {
                v.extend_from_slice(bytes);
                Ok(())
            }
            Self::Gzip(g) => g.write_all(bytes),
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Plain(v) => v.len(),
            Self::Gzip(g) => g.get_ref().len(),
        }
    }

    /// Takes the buffered bytes, keeping the encoder (if any) for more.
    fn take(&mut self) -> Bytes {
        Bytes::from(std::mem::take(self.vec()))
    }

    /// Takes back a part's buffer once its upload is done, when nothing else holds it.
    fn recycle(&mut self, part: Bytes) {
        let own = self.vec();
        if own.capacity() == 0
            && let Ok(buf) = part.try_into_mut()
        {
            let mut v = Vec::from(buf);
            v.clear();
            *own = v;
        }
    }

    /// Ends the stream (writes the gzip trailer) and returns what is left.
    fn finish(self) -> std::io::Result<Bytes> {
        match self {
            Self::Plain(v) => Ok(Bytes::from(v)),
            Self::Gzip(g) => g.finish().map(Bytes::from),
        }
    }
}

/// Copies `stream` to `key` with one part in flight while the next is read (no shared
/// budget). Fails with [`CopyError::Short`] (and writes nothing) when fewer bytes arrive than
/// were listed; more bytes (the file grew) are copied in full.
pub async fn copy(
    stream: &mut dyn LogStream,
    store: &dyn ObjectStore,
    key: &str,
    source: Source<'_>,
    opts: CopyOptions,
) -> Result<Copied, CopyError> {
    copy_shared(stream, store, key, source, opts, &Share::alone()).await
}

/// The bytes a copy's part buffer takes: its part size, plus room for gzip's overshoot.
pub fn buffer_bytes(opts: CopyOptions, listed: u64) -> usize {
    part_size_for(opts.part_size, listed) + if opts.gzip { GZIP_SLACK } else { 0 }
}

/// Room past the listed size a copy reserves for a small file (see [`Budget::reserve`]).
///
/// [`Budget::reserve`]: crate::budget::Budget::reserve
pub fn small_file_slack(opts: CopyOptions) -> usize {
    if opts.gzip { GZIP_SLACK } else { 0 }
}

/// As [`copy`], with more parts of the file uploading at once while `share` finds budget for
/// them (see [`crate::budget`]).
pub async fn copy_shared(
    stream: &mut dyn LogStream,
    store: &dyn ObjectStore,
    key: &str,
    source: Source<'_>,
    opts: CopyOptions,
    share: &Share,
) -> Result<Copied, CopyError> {
    let mut upload: Option<String> = None;
    let mut in_flight = FuturesUnordered::new();
    let result = copy_inner(
        stream,
        store,
        key,
        source,
        opts,
        share,
        &mut upload,
        &mut in_flight,
    )
    .await;
    if result.is_err()
        && let Some(id) = upload
    {
        // A part still uploading could outlive the abort and be stored after it.
        while in_flight.next().await.is_some() {}
        if let Err(error) = store.abort_multipart(key, &id).await {
            tracing::warn!(key, upload_id = %id, error = %crate::error::chain(&error), "abort failed");
        }
    }
    result
}

/// Whose memory a part's buffer is.
enum Slot {
    /// The copy's own share: this buffer comes back as the next fill buffer.
    Own,
    /// Budget left over by the run, given back when the part is uploaded.
    Extra {
        /// Held until the part is uploaded.
        _budget: OwnedSemaphorePermit,
    },
}

/// A finished `UploadPart`: its result, its body (to reuse) and the memory it held.
struct Done {
    result: Result<Part, StoreError>,
    body: Bytes,
    slot: Slot,
}

/// The part uploads running at once; they may finish in any order.
type InFlight<'a> = FuturesUnordered<BoxFuture<'a, Done>>;

/// The parts of one upload.
#[derive(Default)]
struct Parts {
    /// Uploaded, in the order they finished.
    done: Vec<Part>,
    /// The number the next part gets.
    started: i32,
    /// Whether the part in the copy's own slot is uploading.
    own_busy: bool,
    /// The own slot's body after its upload, to become the next fill buffer.
    spare: Option<Bytes>,
}

impl Parts {
    /// Records a finished upload; an extra part's body and budget are let go here.
    fn finish(&mut self, done: Done) -> Result<(), CopyError> {
        let part = done.result?;
        self.done.push(part);
        if let Slot::Own = done.slot {
            self.own_busy = false;
            self.spare = Some(done.body);
        }
        Ok(())
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "the copy's state, owned by copy_shared for the abort"
)]
async fn copy_inner<'a>(
    stream: &mut dyn LogStream,
    store: &'a dyn ObjectStore,
    key: &'a str,
    source: Source<'_>,
    opts: CopyOptions,
    share: &Share,
    upload: &mut Option<String>,
    in_flight: &mut InFlight<'a>,
) -> Result<Copied, CopyError> {
    let part_size = part_size_for(opts.part_size, source.listed);
    let gzip_err = |source| CopyError::Gzip {
        key: key.to_owned(),
        source,
    };
    let mut buffer = Buffer::new(opts);
    let (mut source_bytes, mut object_bytes) = (0u64, 0u64);
    let mut parts = Parts::default();
    loop {
        // The read is never cancelled: when uploads finish first, the same read goes on.
        let mut next = stream.next_chunk();
        let chunk = loop {
            if in_flight.is_empty() {
                break next.await?;
            }
            match select(next, in_flight.next()).await {
                Either::Left((chunk, _)) => break chunk?,
                Either::Right((done, read)) => {
                    if let Some(done) = done {
                        parts.finish(done)?;
                    }
                    next = read;
                }
            }
        };
        let Some(mut chunk) = chunk else { break };
        source_bytes += chunk.len() as u64;
        while !chunk.is_empty() {
            let piece = chunk.split_to(buffer.room(part_size).min(chunk.len()));
            buffer.write(&piece, part_size).map_err(gzip_err)?;
            if buffer.len() < part_size {
                continue;
            }
            let body = buffer.take();
            object_bytes += body.len() as u64;
            let slot = free_slot(share, &mut parts, in_flight).await?;
            if let Some(old) = parts.spare.take() {
                buffer.recycle(old);
            }
            if upload.is_none() {
                *upload = Some(store.create_multipart(key).await?);
            }
            if let Some(id) = upload.as_ref() {
                in_flight.push(start_part(store, key, id, &mut parts, body, slot));
            }
        }
    }
    let last = buffer.finish().map_err(gzip_err)?;
    object_bytes += last.len() as u64;
    if source_bytes < source.listed {
        return Err(CopyError::Short {
            instance: source.instance.to_owned(),
            file: source.file.to_owned(),
            got: source_bytes,
            listed: source.listed,
        });
    }
    let count = match upload.as_ref() {
        None => {
            store.put(key, last).await?;
            1
        }
        Some(id) => {
            if !last.is_empty() {
                let slot = free_slot(share, &mut parts, in_flight).await?;
                in_flight.push(start_part(store, key, id, &mut parts, last, slot));
            }
            while let Some(done) = in_flight.next().await {
                parts.finish(done)?;
            }
            let mut done = std::mem::take(&mut parts.done);
            // CompleteMultipartUpload takes the parts in ascending order.
            done.sort_by_key(|p| p.number);
            let count = done.len();
            store.complete_multipart(key, id, done).await?;
            count
        }
    };
    Ok(Copied {
        source_bytes,
        object_bytes,
        parts: count,
    })
}

/// Memory for one more part uploading: the copy's own slot when its part is done, else budget
/// left over, else (the own slot's part is uploading) the end of one of this copy's uploads.
async fn free_slot(
    share: &Share,
    parts: &mut Parts,
    in_flight: &mut InFlight<'_>,
) -> Result<Slot, CopyError> {
    loop {
        if !parts.own_busy {
            parts.own_busy = true;
            return Ok(Slot::Own);
        }
        if let Some(permit) = share.try_extra() {
            return Ok(Slot::Extra { _budget: permit });
        }
        match in_flight.next().await {
            Some(done) => parts.finish(done)?,
            // Not reached: the own slot's part is among them.
            None => parts.own_busy = false,
        }
    }
}

/// The upload of the next part, numbered in the order parts were cut.
fn start_part<'a>(
    store: &'a dyn ObjectStore,
    key: &'a str,
    upload_id: &str,
    parts: &mut Parts,
    body: Bytes,
    slot: Slot,
) -> BoxFuture<'a, Done> {
    parts.started += 1;
    let number = parts.started;
    let id = upload_id.to_owned();
    Box::pin(async move {
        let result = store.upload_part(key, &id, number, body.clone()).await;
        Done { result, body, slot }
    })
}

#[cfg(test)]
#[path = "copy_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "copy_budget_tests.rs"]
mod budget_tests;
