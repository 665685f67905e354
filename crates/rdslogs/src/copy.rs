//! Streams one download into S3: a single `PutObject` when it fits in one part, else a
//! multipart upload of `part_size` parts, optionally gzip-compressed on the way.
//!
//! The object appears at its key only through `PutObject` or `CompleteMultipartUpload`, after
//! the whole stream was read and its length checked; any error aborts the multipart upload.
//! Memory: one part buffer (plus the chunk in flight) per copy, reused from part to part.

use std::io::Write;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;

use crate::error::CopyError;
use crate::ports::{LogStream, ObjectStore, Part};

/// S3's smallest part size (except the last).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;

/// How to write a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyOptions {
    /// Part size in bytes, at least [`MIN_PART_SIZE`].
    pub part_size: usize,
    /// Gzip the object.
    pub gzip: bool,
}

impl Default for CopyOptions {
    fn default() -> Self {
        Self {
            part_size: 8 * 1024 * 1024,
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

/// Uncompressed bytes handed to the gzip encoder at a time, so a compressed part overshoots
/// `part_size` by less than [`GZIP_SLACK`] and its buffer never grows.
const GZIP_STEP: usize = 64 * 1024;

/// Room past `part_size` in a gzip part buffer: one step of (at worst incompressible) input
/// plus the encoder's own output buffer, with margin.
const GZIP_SLACK: usize = 256 * 1024;

/// Bytes waiting to become a part: plain, or behind a gzip encoder.
///
/// A copy owns one part buffer for its whole life: it is allocated at the first byte, at
/// full size, never grows, and is taken back after each part's upload (when the store kept
/// no reference to it), so memory is one part per copy and the allocator sees no churn.
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
    let result = copy_inner(stream, store, key, source, opts, &mut upload).await;
    if result.is_err()
        && let Some((id, _)) = upload
        && let Err(error) = store.abort_multipart(key, &id).await
    {
        tracing::warn!(key, upload_id = %id, error = %crate::error::chain(&error), "abort failed");
    }
    result
}

async fn copy_inner(
    stream: &mut dyn LogStream,
    store: &dyn ObjectStore,
    key: &str,
    source: Source<'_>,
    opts: CopyOptions,
    upload: &mut Option<(String, Vec<Part>)>,
) -> Result<Copied, CopyError> {
    let part_size = opts.part_size.max(MIN_PART_SIZE);
    let gzip_err = |source| CopyError::Gzip {
        key: key.to_owned(),
        source,
    };
    let mut buffer = Buffer::new(opts);
    let (mut source_bytes, mut object_bytes) = (0u64, 0u64);
    while let Some(mut chunk) = stream.next_chunk().await? {
        source_bytes += chunk.len() as u64;
        while !chunk.is_empty() {
            let piece = chunk.split_to(buffer.room(part_size).min(chunk.len()));
            buffer.write(&piece, part_size).map_err(gzip_err)?;
            if buffer.len() < part_size {
                continue;
            }
            let body = buffer.take();
            object_bytes += body.len() as u64;
            if upload.is_none() {
                *upload = Some((store.create_multipart(key).await?, Vec::new()));
            }
            if let Some((id, parts)) = upload.as_mut() {
                let number = parts.len() as i32 + 1;
                parts.push(store.upload_part(key, id, number, body.clone()).await?);
            }
            buffer.recycle(body);
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
    let parts = match upload.take() {
        None => {
            store.put(key, last).await?;
            1
        }
        Some((id, mut parts)) => {
            if !last.is_empty() {
                let number = parts.len() as i32 + 1;
                match store.upload_part(key, &id, number, last).await {
                    Ok(part) => parts.push(part),
                    Err(e) => {
                        *upload = Some((id, parts));
                        return Err(e.into());
                    }
                }
            }
            let count = parts.len();
            if let Err(e) = store.complete_multipart(key, &id, parts).await {
                *upload = Some((id, Vec::new()));
                return Err(e.into());
            }
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
