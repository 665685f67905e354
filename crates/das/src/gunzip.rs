//! Size-capped gunzip of decrypted activity payloads, one inflate state per invocation.
//!
//! DAS gzips each payload as one member with a plain ten-byte header, so the common case is
//! decompressed in one call straight into a buffer of the size the trailer announces, reusing
//! the inflate state of earlier records ([`Gunzip::gunzip_capped`]). Anything else (several
//! members, optional header fields, a trailer that does not match what the stream holds, a
//! stream that is not gzip at all) goes through flate2's `MultiGzDecoder`, which decides whether
//! it is valid and what it holds; so both paths accept and refuse exactly the same inputs.

use std::io::Read;

use flate2::bufread::MultiGzDecoder;
use flate2::{Crc, Decompress, FlushDecompress, Status};

use crate::record::RecordError;

/// Bytes of the gzip header without optional fields (RFC 1952 §2.3).
const HEADER_LEN: usize = 10;
/// Bytes of the gzip trailer: CRC-32 and ISIZE.
const TRAILER_LEN: usize = 8;
/// Deflate cannot expand by more than this factor (a 258-byte match per ~2 bits), so a trailer
/// announcing more is not believed enough to allocate for.
const MAX_DEFLATE_RATIO: usize = 1032;

/// A gunzip that keeps its inflate state between records.
pub struct Gunzip {
    inflate: Decompress,
}

impl Default for Gunzip {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Gunzip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gunzip").finish_non_exhaustive()
    }
}

impl Gunzip {
    /// A gunzip with a fresh inflate state.
    pub fn new() -> Self {
        Self {
            inflate: Decompress::new(false),
        }
    }

    /// Gunzips `bytes` (all members), failing with [`RecordError::TooLarge`] past `cap` bytes.
    pub fn gunzip_capped(
        &mut self,
        record_id: &str,
        bytes: &[u8],
        cap: usize,
    ) -> Result<Vec<u8>, RecordError> {
        match self.one_member(bytes, cap) {
            Some(out) => Ok(out),
            None => gunzip_streamed(record_id, bytes, cap),
        }
    }

    /// The single plain member that `bytes` is, decompressed in one call into a buffer of its
    /// announced size; `None` when `bytes` is anything else or does not check out.
    fn one_member(&mut self, bytes: &[u8], cap: usize) -> Option<Vec<u8>> {
        let (header, rest) = bytes.split_first_chunk::<HEADER_LEN>()?;
        // ID1 ID2, CM = deflate, FLG = no optional fields.
        if header[..4] != [0x1f, 0x8b, 8, 0] {
            return None;
        }
        let (deflate, trailer) = rest.split_last_chunk::<TRAILER_LEN>()?;
        let (crc, size) = trailer.split_at(4);
        let size = usize::try_from(u32::from_le_bytes(size.try_into().ok()?)).ok()?;
        if size > cap || size > deflate.len().saturating_mul(MAX_DEFLATE_RATIO) {
            return None;
        }
        let mut out = Vec::with_capacity(size);
        self.inflate.reset(false);
        let status = self
            .inflate
            .decompress_vec(deflate, &mut out, FlushDecompress::Finish);
        let whole = u64::try_from(deflate.len()).ok()? == self.inflate.total_in();
        if !matches!(status, Ok(Status::StreamEnd)) || !whole || out.len() != size {
            return None;
        }
        let mut sum = Crc::new();
        sum.update(&out);
        (sum.sum().to_le_bytes() == crc).then_some(out)
    }
}

/// Gunzips `bytes` (all members) through a streaming decoder, refusing more than `cap` bytes.
fn gunzip_streamed(record_id: &str, bytes: &[u8], cap: usize) -> Result<Vec<u8>, RecordError> {
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(8).min(cap));
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    MultiGzDecoder::new(bytes)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| RecordError::Gzip {
            record_id: record_id.to_owned(),
            reason: e.to_string(),
        })?;
    if out.len() > cap {
        return Err(RecordError::TooLarge {
            record_id: record_id.to_owned(),
            cap,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::write::GzEncoder;
    use flate2::{Compression, GzBuilder};
    use proptest::prelude::*;

    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(bytes).expect("write");
        enc.finish().expect("finish")
    }

    /// What the streaming decoder alone answers: the reference for the one-call path.
    fn reference(bytes: &[u8], cap: usize) -> Result<Vec<u8>, RecordError> {
        gunzip_streamed("r", bytes, cap)
    }

    #[test]
    fn given_plain_member_then_one_call_path_reads_it() {
        let text = b"{\"databaseActivityEventList\":[]}".repeat(100);
        let gz = gzip(&text);
        let mut g = Gunzip::new();
        assert_eq!(g.one_member(&gz, 1 << 20), Some(text.clone()));
        // The state is reused: a second, different record reads as well.
        assert_eq!(g.one_member(&gzip(b"x"), 1 << 20), Some(b"x".to_vec()));
        assert_eq!(g.one_member(&gzip(b""), 1 << 20), Some(Vec::new()));
    }

    #[test]
    fn given_two_members_then_both_are_read_through_the_stream_path() {
        let mut gz = gzip(b"first,");
        gz.extend(gzip(b"second"));
        let mut g = Gunzip::new();
        assert_eq!(g.one_member(&gz, 1 << 20), None);
        assert_eq!(
            g.gunzip_capped("r", &gz, 1 << 20).expect("reads"),
            b"first,second"
        );
    }

    #[test]
    fn given_named_member_then_read_through_the_stream_path() {
        let mut enc = GzBuilder::new()
            .filename("events.json")
            .write(Vec::new(), Compression::default());
        enc.write_all(b"named").expect("write");
        let gz = enc.finish().expect("finish");
        let mut g = Gunzip::new();
        assert_eq!(g.one_member(&gz, 1 << 20), None);
        assert_eq!(g.gunzip_capped("r", &gz, 1 << 20).expect("reads"), b"named");
    }

    #[test]
    fn given_trailer_that_lies_then_refused_as_the_stream_path_refuses() {
        let gz = gzip(&[b'a'; 5_000]);
        let n = gz.len();
        for (at, value) in [(n - 4, 4_999u32), (n - 4, 5_001), (n - 8, 0)] {
            let mut bad = gz.clone();
            bad[at..at + 4].copy_from_slice(&value.to_le_bytes());
            let mut g = Gunzip::new();
            assert_eq!(g.one_member(&bad, 1 << 20), None, "field at {at}");
            let err = g.gunzip_capped("r", &bad, 1 << 20).expect_err("corrupt");
            assert_eq!(err.kind(), "bad_gzip");
        }
    }

    #[test]
    fn given_output_over_cap_then_too_large_whatever_the_trailer_says() {
        let gz = gzip(&[b'a'; 10_000]);
        let mut g = Gunzip::new();
        assert!(matches!(
            g.gunzip_capped("r", &gz, 9_999),
            Err(RecordError::TooLarge { cap: 9_999, .. })
        ));
        assert_eq!(
            g.gunzip_capped("r", &gz, 10_000).expect("at cap").len(),
            10_000
        );
        // A trailer claiming less than the stream holds does not get past the cap either.
        let mut small = gz.clone();
        let n = small.len();
        small[n - 4..].copy_from_slice(&100u32.to_le_bytes());
        assert!(matches!(
            g.gunzip_capped("r", &small, 9_999),
            Err(RecordError::TooLarge { .. })
        ));
    }

    #[test]
    fn given_trailer_announcing_more_than_deflate_can_hold_then_not_allocated_for() {
        let mut gz = gzip(b"tiny");
        let n = gz.len();
        gz[n - 4..].copy_from_slice(&(1u32 << 30).to_le_bytes());
        let mut g = Gunzip::new();
        assert_eq!(g.one_member(&gz, usize::MAX), None);
        assert_eq!(
            g.gunzip_capped("r", &gz, usize::MAX)
                .expect_err("bad")
                .kind(),
            "bad_gzip"
        );
    }

    proptest! {
        /// Both paths agree with the streaming decoder on any gzip-like input: same bytes out,
        /// same kind of refusal.
        #[test]
        fn given_any_bytes_then_same_answer_as_the_stream_path(
            plain in proptest::collection::vec(any::<u8>(), 0..3_000),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
            cut in any::<prop::sample::Index>(),
            do_cut in any::<bool>(),
            cap in 0usize..4_000,
        ) {
            let mut gz = gzip(&plain);
            for (i, b) in &flips {
                let at = i.index(gz.len());
                gz[at] ^= b;
            }
            if do_cut {
                gz.truncate(cut.index(gz.len() + 1));
            }
            let mut g = Gunzip::new();
            let ours = g.gunzip_capped("r", &gz, cap).map_err(|e| e.kind());
            let theirs = reference(&gz, cap).map_err(|e| e.kind());
            prop_assert_eq!(ours, theirs);
        }
    }
}
