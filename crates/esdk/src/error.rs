//! Errors of every stage of decryption: parsing, unwrapping the data key, authenticating the
//! header and body, checking the footer signature. Each variant names the part of the message that
//! failed so logs say where a message broke, never what it contained.

use std::fmt;

/// The part of a message an error refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    /// The fixed fields of the header (version, suite, ids, content type, frame length).
    Header,
    /// The serialized encryption context in the header.
    EncryptionContext,
    /// The encrypted data keys in the header.
    EncryptedDataKeys,
    /// The header authentication (IV and tag) that follows the header body.
    HeaderAuth,
    /// The data key unwrapped by the keyring.
    DataKey,
    /// One frame of a framed body, by sequence number.
    Frame(u32),
    /// The single block of a non-framed body.
    Body,
    /// The footer holding the ECDSA signature.
    Footer,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Part::Header => f.write_str("header"),
            Part::EncryptionContext => f.write_str("encryption context"),
            Part::EncryptedDataKeys => f.write_str("encrypted data keys"),
            Part::HeaderAuth => f.write_str("header authentication"),
            Part::DataKey => f.write_str("data key"),
            Part::Frame(n) => write!(f, "frame {n}"),
            Part::Body => f.write_str("body"),
            Part::Footer => f.write_str("footer"),
        }
    }
}

/// Why a message could not be decrypted (or a keyring could not be built).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The message ended inside the named part.
    #[error("message truncated in the {what}")]
    Truncated {
        /// Where the bytes ran out.
        what: Part,
    },
    /// The message format version is neither 1 nor 2.
    #[error("unsupported message format version {0:#04x}")]
    UnsupportedVersion(u8),
    /// The algorithm suite id is not one of the eleven ESDK suites.
    #[error("unsupported algorithm suite {0:#06x}")]
    UnsupportedSuite(u16),
    /// No encrypted data key in the header belongs to this keyring.
    #[error(
        "no encrypted data key for provider {provider_id:?}, key {key_name:?} among {candidates}"
    )]
    NoMatchingDataKey {
        /// The keyring's provider id (key namespace).
        provider_id: String,
        /// The keyring's key name.
        key_name: String,
        /// How many encrypted data keys the header carried.
        candidates: usize,
    },
    /// An AES-GCM tag did not verify: wrong key, or the named part was altered.
    #[error("authentication failed for the {what}")]
    AuthenticationFailed {
        /// The part whose tag did not verify.
        what: Part,
    },
    /// The key commitment in a v2 header does not match the data key.
    #[error("key commitment does not match the data key")]
    CommitmentMismatch,
    /// The footer's ECDSA signature (or its public key) is invalid.
    #[error("bad signature: {reason}")]
    BadSignature {
        /// What was wrong with it.
        reason: &'static str,
    },
    /// Frames are missing, repeated or out of order.
    #[error("frame sequence number {found}, expected {expected}")]
    FrameSequence {
        /// The sequence number the next frame must carry.
        expected: u32,
        /// The sequence number it carried.
        found: u32,
    },
    /// Bytes follow the end of the message.
    #[error("{count} trailing bytes after the end of the message")]
    TrailingBytes {
        /// How many bytes follow the message.
        count: usize,
    },
    /// A field holds a value the format does not allow.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// The part holding the bad value.
        what: Part,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A raw AES wrapping key must be 16, 24 or 32 bytes long.
    #[error("wrapping key is {len} bytes; expected 16, 24 or 32")]
    InvalidWrappingKey {
        /// The length that was given.
        len: usize,
    },
}

impl Error {
    /// A stable snake_case name of the variant, for metrics and test manifests.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Truncated { .. } => "truncated",
            Error::UnsupportedVersion(_) => "unsupported_version",
            Error::UnsupportedSuite(_) => "unsupported_suite",
            Error::NoMatchingDataKey { .. } => "no_matching_data_key",
            Error::AuthenticationFailed { .. } => "authentication_failed",
            Error::CommitmentMismatch => "commitment_mismatch",
            Error::BadSignature { .. } => "bad_signature",
            Error::FrameSequence { .. } => "frame_sequence",
            Error::TrailingBytes { .. } => "trailing_bytes",
            Error::Malformed { .. } => "malformed",
            Error::InvalidWrappingKey { .. } => "invalid_wrapping_key",
        }
    }

    /// The part of the message the error refers to, when it names one.
    pub fn part(&self) -> Option<Part> {
        match self {
            Error::Truncated { what }
            | Error::AuthenticationFailed { what }
            | Error::Malformed { what, .. } => Some(*what),
            _ => None,
        }
    }

    pub(crate) fn malformed(what: Part, reason: &'static str) -> Self {
        Error::Malformed { what, reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_frame_error_when_displayed_then_it_names_the_frame() {
        let e = Error::AuthenticationFailed {
            what: Part::Frame(7),
        };
        assert_eq!(e.to_string(), "authentication failed for the frame 7");
        assert_eq!(e.kind(), "authentication_failed");
        assert_eq!(e.part(), Some(Part::Frame(7)));
    }

    #[test]
    fn given_each_variant_then_kind_is_stable() {
        let cases = [
            (Error::Truncated { what: Part::Footer }, "truncated"),
            (Error::UnsupportedVersion(3), "unsupported_version"),
            (Error::UnsupportedSuite(0x0179), "unsupported_suite"),
            (Error::CommitmentMismatch, "commitment_mismatch"),
            (Error::BadSignature { reason: "x" }, "bad_signature"),
            (
                Error::FrameSequence {
                    expected: 1,
                    found: 2,
                },
                "frame_sequence",
            ),
            (Error::TrailingBytes { count: 3 }, "trailing_bytes"),
            (Error::malformed(Part::Header, "x"), "malformed"),
            (Error::InvalidWrappingKey { len: 5 }, "invalid_wrapping_key"),
        ];
        for (e, kind) in cases {
            assert_eq!(e.kind(), kind, "{e}");
        }
        assert_eq!(
            Error::UnsupportedSuite(0x0179).to_string(),
            "unsupported algorithm suite 0x0179"
        );
    }
}
