//! The message header (format v1 and v2) and its authentication fields: the first stage of
//! decryption. Parsing checks structure only; the header tag is checked in `decrypt` once the
//! keyring has produced the data key.
//!
//! Spec: <https://github.com/awslabs/aws-encryption-sdk-specification/blob/master/data-format/message-header.md>
//! (v2 adds a 32-byte message id, drops the reserved and IV-length fields, carries a 32-byte key
//! commitment and authenticates with a zero IV that is not serialized.)

use std::collections::BTreeMap;

use crate::context::{self, Context};
use crate::error::{Error, Part};
use crate::gcm::{IV_LEN, TAG_LEN};
use crate::reader::Reader;
use crate::suite::{AlgorithmSuite, COMMITMENT_LEN};

/// Message type of every ESDK message ("customer authenticated encrypted data"), v1 only.
const MESSAGE_TYPE: u8 = 0x80;

/// How the body is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentType {
    /// One block: IV, u64 length, ciphertext, tag.
    NonFramed,
    /// Frames of `frame_length` bytes, then a final frame.
    Framed,
}

/// One encrypted data key from the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncryptedDataKey<'a> {
    /// Key provider id (for a raw keyring, its key namespace), as written.
    pub provider_id: &'a [u8],
    /// Key provider information (for a raw AES keyring: key name, tag bits, IV length, IV).
    pub provider_info: &'a [u8],
    /// The wrapped data key (for a raw AES keyring: ciphertext then tag).
    pub ciphertext: &'a [u8],
}

/// A parsed message header, borrowing the message bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header<'a> {
    /// Message format version: 1 or 2.
    pub version: u8,
    /// The algorithm suite that encrypted the message.
    pub suite: AlgorithmSuite,
    /// Message id: 16 bytes (v1) or 32 bytes (v2).
    pub message_id: &'a [u8],
    /// The encryption context as stored in the header.
    pub encryption_context: BTreeMap<String, String>,
    /// Every encrypted data key, in header order.
    pub encrypted_data_keys: Vec<EncryptedDataKey<'a>>,
    /// Framed or non-framed body.
    pub content_type: ContentType,
    /// Plaintext bytes per regular frame; 0 for non-framed bodies.
    pub frame_length: u32,
    /// Key commitment of v2 messages (32 bytes); `None` for v1.
    pub commitment: Option<&'a [u8; COMMITMENT_LEN]>,
    /// IV for the header tag: from the message (v1) or all zeros (v2).
    pub auth_iv: [u8; IV_LEN],
    /// Tag authenticating the header body.
    pub auth_tag: &'a [u8; TAG_LEN],
    /// Length of the header body: the bytes the header tag authenticates.
    pub body_len: usize,
    /// Length of the whole header, authentication included: where the message body starts.
    pub len: usize,
    pub(crate) canonical_context: std::borrow::Cow<'a, [u8]>,
}

impl<'a> Header<'a> {
    /// The header body bytes: the AAD of the header authentication tag.
    pub fn authenticated_bytes<'m>(&self, message: &'m [u8]) -> &'m [u8] {
        message.get(..self.body_len).unwrap_or_default()
    }
}

/// Parses the header at the start of `message`; the body starts at `Header::len`.
pub fn parse_header(message: &[u8]) -> Result<Header<'_>, Error> {
    const H: Part = Part::Header;
    let mut r = Reader::at(message, 0);
    let version = r.u8(H)?;
    if version != 1 && version != 2 {
        return Err(Error::UnsupportedVersion(version));
    }
    if version == 1 && r.u8(H)? != MESSAGE_TYPE {
        return Err(Error::malformed(H, "message type is not 0x80"));
    }
    let suite = AlgorithmSuite::from_id(r.u16(H)?)?;
    if suite.message_version() != version {
        return Err(Error::malformed(
            H,
            "algorithm suite does not belong to this message format version",
        ));
    }
    let message_id = r.take(if version == 1 { 16 } else { 32 }, H)?;
    let Context { map, canonical } = context::parse(r.u16_prefixed(Part::EncryptionContext)?)?;
    let encrypted_data_keys = parse_edks(&mut r)?;
    let content_type = match r.u8(H)? {
        1 => ContentType::NonFramed,
        2 => ContentType::Framed,
        _ => return Err(Error::malformed(H, "unknown content type")),
    };
    if version == 1 {
        if r.u32(H)? != 0 {
            return Err(Error::malformed(H, "reserved field is not zero"));
        }
        if usize::from(r.u8(H)?) != IV_LEN {
            return Err(Error::malformed(H, "IV length is not 12"));
        }
    }
    let frame_length = r.u32(H)?;
    match (content_type, frame_length) {
        (ContentType::NonFramed, 0) | (ContentType::Framed, 1..) => {}
        (ContentType::NonFramed, _) => {
            return Err(Error::malformed(
                H,
                "non-framed message with a frame length",
            ));
        }
        (ContentType::Framed, 0) => {
            return Err(Error::malformed(H, "framed message with frame length 0"));
        }
    }
    let commitment = match version {
        2 => Some(r.array::<COMMITMENT_LEN>(H)?),
        _ => None,
    };
    let body_len = r.pos();
    let auth_iv = match version {
        1 => *r.array::<IV_LEN>(Part::HeaderAuth)?,
        _ => [0u8; IV_LEN],
    };
    let auth_tag = r.array::<TAG_LEN>(Part::HeaderAuth)?;
    Ok(Header {
        version,
        suite,
        message_id,
        encryption_context: map,
        encrypted_data_keys,
        content_type,
        frame_length,
        commitment,
        auth_iv,
        auth_tag,
        body_len,
        len: r.pos(),
        canonical_context: canonical,
    })
}

fn parse_edks<'a>(r: &mut Reader<'a>) -> Result<Vec<EncryptedDataKey<'a>>, Error> {
    const K: Part = Part::EncryptedDataKeys;
    let count = r.u16(K)?;
    if count == 0 {
        return Err(Error::malformed(K, "encrypted data key count is 0"));
    }
    // Each entry takes at least 6 bytes, so a lying count cannot reserve more than the input.
    let mut edks = Vec::with_capacity(usize::from(count).min(r.remaining() / 6));
    for _ in 0..count {
        edks.push(EncryptedDataKey {
            provider_id: r.u16_prefixed(K)?,
            provider_info: r.u16_prefixed(K)?,
            ciphertext: r.u16_prefixed(K)?,
        });
    }
    Ok(edks)
}

#[cfg(test)]
#[path = "header_tests.rs"]
mod tests;
