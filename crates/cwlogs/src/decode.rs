//! Size-capped gunzip + JSON parse of a subscription payload: the first step for every record.
//!
//! Input is untrusted and compresses well (a 1 MB record can inflate to gigabytes), so the
//! decompressor is read through `take(cap + 1)` and decoding fails once the cap is passed. Multi-
//! member gzip (several gzip streams concatenated, as CloudWatch may deliver) is accepted.

use std::io::Read;

use flate2::bufread::MultiGzDecoder;

use crate::Payload;

/// The two bytes every gzip member starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Why a record could not be decoded into a [`Payload`].
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The input does not start with the gzip magic bytes.
    #[error("not gzip: {len}-byte input starts with {head:02x?}, expected [1f, 8b]")]
    NotGzip {
        /// Input length.
        len: usize,
        /// Up to the first four input bytes.
        head: Vec<u8>,
    },
    /// The gzip data is corrupt or truncated.
    #[error("corrupt gzip after {decompressed} decompressed bytes")]
    Gzip {
        /// Bytes decompressed before the error.
        decompressed: usize,
        /// What the decompressor reported.
        #[source]
        source: std::io::Error,
    },
    /// Decompressed data would exceed the caller's cap.
    #[error("decompressed payload is over the cap of {cap} bytes")]
    TooLarge {
        /// The cap that was passed.
        cap: usize,
    },
    /// The decompressed bytes are not a subscription message.
    #[error("bad subscription JSON at line {line}, column {column}")]
    Json {
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What the JSON parser reported.
        #[source]
        source: serde_json::Error,
    },
}

/// Gunzips `gz` (at most `max_decompressed` bytes, one or more gzip members) and parses the
/// subscription JSON.
pub fn decode(gz: &[u8], max_decompressed: usize) -> Result<Payload, DecodeError> {
    let json = decompress(gz, max_decompressed)?;
    serde_json::from_slice(&json).map_err(json_error)
}

/// Like [`decode`], for data holding several subscription messages back to back (`{…}{…}`), as
/// in an S3 object Firehose wrote from several untransformed records. Empty input JSON gives an
/// empty list.
pub fn decode_all(gz: &[u8], max_decompressed: usize) -> Result<Vec<Payload>, DecodeError> {
    let json = decompress(gz, max_decompressed)?;
    serde_json::Deserializer::from_slice(&json)
        .into_iter::<Payload>()
        .map(|r| r.map_err(json_error))
        .collect()
}

pub(crate) fn json_error(source: serde_json::Error) -> DecodeError {
    DecodeError::Json {
        line: source.line(),
        column: source.column(),
        source,
    }
}

/// Decompresses all gzip members of `gz`, failing once more than `cap` bytes come out: the JSON
/// that [`crate::PayloadView::parse`] borrows from.
pub fn decompress(gz: &[u8], cap: usize) -> Result<Vec<u8>, DecodeError> {
    if !gz.starts_with(&GZIP_MAGIC) {
        return Err(DecodeError::NotGzip {
            len: gz.len(),
            head: gz.iter().take(4).copied().collect(),
        });
    }
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    // `bufread`: the input is already in memory, so no intermediate copy through a read buffer.
    // Typical ratio for log text is 5–15x; start there, never beyond the cap.
    let mut out = Vec::with_capacity(gz.len().saturating_mul(8).min(cap));
    MultiGzDecoder::new(gz)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|source| DecodeError::Gzip {
            decompressed: out.len(),
            source,
        })?;
    if out.len() > cap {
        return Err(DecodeError::TooLarge { cap });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(bytes).expect("in memory");
        enc.finish().expect("in memory")
    }

    const MSG: &[u8] = br#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","subscriptionFilters":["f"],"logEvents":[{"id":"1","timestamp":2,"message":"m"}]}"#;

    #[test]
    fn given_plain_json_then_not_gzip() {
        let err = decode(MSG, 1 << 20).expect_err("not gzip");
        assert!(matches!(err, DecodeError::NotGzip { len, .. } if len == MSG.len()));
        assert!(err.to_string().starts_with("not gzip"), "{err}");
    }

    #[test]
    fn given_output_exactly_at_cap_then_ok_and_one_over_then_too_large() {
        let gz = gzip(MSG);
        assert!(decode(&gz, MSG.len()).is_ok());
        let err = decode(&gz, MSG.len() - 1).expect_err("over cap");
        assert!(matches!(err, DecodeError::TooLarge { cap } if cap == MSG.len() - 1));
        assert_eq!(
            err.to_string(),
            format!(
                "decompressed payload is over the cap of {} bytes",
                MSG.len() - 1
            )
        );
    }

    #[test]
    fn given_bomb_then_too_large_without_inflating_it_all() {
        let gz = gzip(&vec![b' '; 64 << 20]);
        assert!(gz.len() < 1 << 20);
        assert!(matches!(
            decode(&gz, 1 << 20),
            Err(DecodeError::TooLarge { .. })
        ));
    }

    #[test]
    fn given_truncated_gzip_then_gzip_error() {
        let gz = gzip(MSG);
        let err = decode(&gz[..gz.len() / 2], 1 << 20).expect_err("truncated");
        assert!(matches!(err, DecodeError::Gzip { .. }), "{err:?}");
    }

    #[test]
    fn given_two_members_then_concatenated_output() {
        let (a, b) = MSG.split_at(40);
        let mut gz = gzip(a);
        gz.extend_from_slice(&gzip(b));
        let p = decode(&gz, 1 << 20).expect("multi-member");
        assert_eq!(p.log_events.len(), 1);
        // The cap applies across members.
        assert!(matches!(
            decode(&gz, 50),
            Err(DecodeError::TooLarge { cap: 50 })
        ));
    }

    #[test]
    fn given_bad_json_then_error_names_position() {
        let err = decode(&gzip(b"{\n  \"messageType\": 5}"), 1 << 20).expect_err("bad");
        assert!(matches!(err, DecodeError::Json { line: 2, .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("bad subscription JSON at line 2")
        );
    }
}
