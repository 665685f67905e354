//! Streams one download into S3: a single `PutObject` when it fits in one part, else a
//! multipart upload of `part_size` parts, optionally gzip-compressed on the way.
//!
//! The object appears at its key only through `PutObject` or `CompleteMultipartUpload`, after
//! the whole stream was read and its length checked; any error aborts the multipart upload.
//!
//! Reading and uploading overlap: while part N uploads, part N + 1 is read. At most one
//! `UploadPart` is in flight per copy, so memory is two part buffers (plus the chunk in
//! flight) per copy, reused from part to part.

use std::io::Write;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use futures_util::future::{BoxFuture, Either, select};

use crate::error::{CopyError, StoreError};
use crate::ports::{LogStream, ObjectStore, Part};

const MIB: usize = 1024 * 1024;

/// S3's smallest part size (except the last), and the default part size.
pub const MIN_PART_SIZE: usize = 5 * MIB;

/// S3's largest number of parts in one multipart upload.
pub const MAX_PARTS: u64 = 10_000;

/// Parts a copy plans for when it has to grow its part size: the rest of [`MAX_PARTS`] is
/// room for a file that grows while it is copied.
const PLANNED_PARTS: u64 = 9_000;

/// How to write a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyOptions {
    /// Part size in bytes, at least [`MIN_PART_SIZE`] (the default); a copy of a file too
    /// large for [`MAX_PARTS`] parts of this size uses larger parts (see [`part_size_for`]).
    pub part_size: usize,
    /// Gzip the object.
    pub gzip: bool,
}

impl Default for CopyOptions {
    fn default() -> Self {
        Self {
            part_size: MIN_PART_SIZE,
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

/// Copies `stream` to `key`. Fails with [`CopyError::Short`] (and writes nothing) when fewer
/// bytes arrive than were listed; more bytes (the file grew) are copied in full.
pub async fn copy(
    stream: &mut dyn LogStream,
    store: &dyn ObjectStore,
    key: &str,
    source: Source<'_>,
    opts: CopyOptions,
) -> Result<Copied, CopyError> {
    let mut upload: Option<(String, Vec<Part>)> = None;
    let mut in_flight: Option<InFlight<'_>> = None;
    let result = copy_inner(
        stream,
        store,
        key,
        source,
        opts,
        &mut upload,
        &mut in_flight,
    )
    .await;
    if result.is_err()
        && let Some((id, _)) = upload
    {
        // A part still uploading could outlive the abort and be stored after it.
        if let Some(running) = in_flight.take() {
            let _ = running.await;
        }
        if let Err(error) = store.abort_multipart(key, &id).await {
            tracing::warn!(key, upload_id = %id, error = %crate::error::chain(&error), "abort failed");
        }
    }
    result
}

/// An `UploadPart` in flight; yields the part's body back for recycling.
type InFlight<'a> = BoxFuture<'a, (Result<Part, StoreError>, Bytes)>;

/// Records a finished part upload (parts finish in part-number order: one is in flight at a
/// time) and keeps its body as the spare buffer.
fn finish_part(
    upload: &mut Option<(String, Vec<Part>)>,
    (result, body): (Result<Part, StoreError>, Bytes),
    spare: &mut Option<Bytes>,
) -> Result<(), CopyError> {
    let part = result?;
    if let Some((_, parts)) = upload.as_mut() {
        parts.push(part);
    }
    *spare = Some(body);
    Ok(())
}

async fn copy_inner<'a>(
    stream: &mut dyn LogStream,
    store: &'a dyn ObjectStore,
    key: &'a str,
    source: Source<'_>,
    opts: CopyOptions,
    upload: &mut Option<(String, Vec<Part>)>,
    // The previous part's upload, running while the next part is read; at most one.
    in_flight: &mut Option<InFlight<'a>>,
) -> Result<Copied, CopyError> {
    let part_size = part_size_for(opts.part_size, source.listed);
    let gzip_err = |source| CopyError::Gzip {
        key: key.to_owned(),
        source,
    };
    let mut buffer = Buffer::new(opts);
    let (mut source_bytes, mut object_bytes) = (0u64, 0u64);
    // The last uploaded part's body, to become the next part's buffer.
    let mut spare: Option<Bytes> = None;
    loop {
        // The read is never cancelled: if the upload finishes first, the same read goes on.
        let next = stream.next_chunk();
        let chunk = match in_flight.take() {
            None => next.await?,
            Some(running) => match select(next, running).await {
                Either::Left((chunk, running)) => {
                    *in_flight = Some(running);
                    chunk?
                }
                Either::Right((done, next)) => {
                    finish_part(upload, done, &mut spare)?;
                    next.await?
                }
            },
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
            if let Some(running) = in_flight.take() {
                finish_part(upload, running.await, &mut spare)?;
            }
            if let Some(old) = spare.take() {
                buffer.recycle(old);
            }
            if upload.is_none() {
                *upload = Some((store.create_multipart(key).await?, Vec::new()));
            }
            if let Some((id, parts)) = upload.as_ref() {
                let number = parts.len() as i32 + 1;
                let id = id.clone();
                *in_flight = Some(Box::pin(async move {
                    let result = store.upload_part(key, &id, number, body.clone()).await;
                    (result, body)
                }));
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
    if let Some(running) = in_flight.take() {
        finish_part(upload, running.await, &mut spare)?;
    }
    drop(spare);
    let parts = match upload.as_mut() {
        None => {
            store.put(key, last).await?;
            1
        }
        Some((id, parts)) => {
            if !last.is_empty() {
                let number = parts.len() as i32 + 1;
                parts.push(store.upload_part(key, id, number, last).await?);
            }
            let parts = std::mem::take(parts);
            let count = parts.len();
            store.complete_multipart(key, id, parts).await?;
            count
        }
    };
    Ok(Copied {
        source_bytes,
        object_bytes,
        parts,
    })
}

#[cfg(test)]
#[path = "copy_tests.rs"]
mod tests;
