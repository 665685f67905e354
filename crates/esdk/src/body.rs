//! The message body, framed or non-framed: third stage of decryption, after the header tag has
//! verified. One structural pass finds every frame (sequence numbers, lengths, truncation), then
//! frames are decrypted straight from the message into one pre-sized output buffer.
//!
//! Spec: <https://github.com/awslabs/aws-encryption-sdk-specification/blob/master/data-format/message-body.md>
//! and `message-body-aad.md`: AAD = message id ‖ content string ‖ sequence number (u32) ‖
//! content length (u64).

use crate::error::{Error, Part};
use crate::gcm::{Gcm, IV_LEN, TAG_LEN};
use crate::header::{ContentType, Header};
use crate::reader::Reader;

/// Marks a final frame in place of a sequence number.
const SEQUENCE_NUMBER_END: u32 = 0xFFFF_FFFF;
/// Largest non-framed content: the AES-GCM limit of 2^36 - 32 bytes.
const MAX_NON_FRAMED: u64 = (1 << 36) - 32;

const FRAME: &[u8] = b"AWSKMSEncryptionClient Frame";
const FINAL_FRAME: &[u8] = b"AWSKMSEncryptionClient Final Frame";
const SINGLE_BLOCK: &[u8] = b"AWSKMSEncryptionClient Single Block";

/// One unit of ciphertext: a frame, or the single block of a non-framed body.
#[derive(Debug, Clone, Copy)]
struct Segment<'a> {
    /// Sequence number (1 for a non-framed body).
    seq: u32,
    iv: &'a [u8; IV_LEN],
    ciphertext: &'a [u8],
    tag: &'a [u8; TAG_LEN],
    /// Content string of the body AAD.
    label: &'static [u8],
    /// What to name in errors.
    part: Part,
}

/// Walks the body structure: sequence numbers in order from 1, exactly one final frame, every
/// length within the input. Yields segments without decrypting; stops after the final frame or
/// the first error.
struct Segments<'a> {
    r: Reader<'a>,
    content_type: ContentType,
    frame_length: u32,
    expected: u32,
    done: bool,
}

impl<'a> Segments<'a> {
    fn new(message: &'a [u8], header: &Header<'_>) -> Self {
        Segments {
            r: Reader::at(message, header.len),
            content_type: header.content_type,
            frame_length: header.frame_length,
            expected: 1,
            done: false,
        }
    }

    /// Where the body ends; meaningful once the iterator is exhausted without error.
    fn end(&self) -> usize {
        self.r.pos()
    }

    fn single_block(&mut self) -> Result<Segment<'a>, Error> {
        const B: Part = Part::Body;
        self.done = true;
        let r = &mut self.r;
        let iv = r.array::<IV_LEN>(B)?;
        let len = r.u64(B)?;
        if len > MAX_NON_FRAMED {
            return Err(Error::malformed(B, "content longer than 2^36 - 32 bytes"));
        }
        let len = usize::try_from(len).map_err(|_| Error::Truncated { what: B })?;
        Ok(Segment {
            seq: 1,
            iv,
            ciphertext: r.take(len, B)?,
            tag: r.array::<TAG_LEN>(B)?,
            label: SINGLE_BLOCK,
            part: B,
        })
    }

    fn frame(&mut self) -> Result<Segment<'a>, Error> {
        let expected = self.expected;
        let part = Part::Frame(expected);
        let r = &mut self.r;
        let first = r.u32(part)?;
        let is_final = first == SEQUENCE_NUMBER_END;
        let seq = if is_final { r.u32(part)? } else { first };
        if seq != expected {
            return Err(Error::FrameSequence {
                expected,
                found: seq,
            });
        }
        let iv = r.array::<IV_LEN>(part)?;
        let len = if is_final {
            let len = r.u32(part)?;
            if len > self.frame_length {
                return Err(Error::malformed(
                    part,
                    "final frame longer than frame length",
                ));
            }
            len
        } else {
            self.frame_length
        };
        let len = usize::try_from(len).map_err(|_| Error::Truncated { what: part })?;
        let segment = Segment {
            seq,
            iv,
            ciphertext: r.take(len, part)?,
            tag: r.array::<TAG_LEN>(part)?,
            label: if is_final { FINAL_FRAME } else { FRAME },
            part,
        };
        if is_final {
            self.done = true;
        } else {
            // A regular frame never carries 0xFFFFFFFF, so this cannot overflow.
            self.expected = expected
                .checked_add(1)
                .ok_or(Error::malformed(part, "too many frames"))?;
        }
        Ok(segment)
    }
}

impl<'a> Iterator for Segments<'a> {
    type Item = Result<Segment<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = match self.content_type {
            ContentType::NonFramed => self.single_block(),
            ContentType::Framed => self.frame(),
        };
        if item.is_err() {
            self.done = true;
        }
        Some(item)
    }
}

/// Decrypts the body that follows `header` with the derived key. Returns the plaintext and the
/// offset where the body ends (the footer, if any, starts there).
pub(crate) fn decrypt_body(
    message: &[u8],
    header: &Header<'_>,
    cipher: &Gcm,
) -> Result<(Vec<u8>, usize), Error> {
    // Pass 1, structure only: validates every frame and sizes the output exactly.
    let mut walk = Segments::new(message, header);
    let mut plaintext_len = 0usize;
    for seg in walk.by_ref() {
        plaintext_len += seg?.ciphertext.len();
    }
    let body_end = walk.end();
    let mut plaintext = vec![0u8; plaintext_len];

    // AAD buffer: message id and content string are written once per label; per frame only the
    // sequence number and length change. Longest: 32 + 35 + 4 + 8 = 79 bytes.
    let mut aad = [0u8; 96];
    let id_len = header.message_id.len();
    aad[..id_len].copy_from_slice(header.message_id);
    let mut current_label: &[u8] = &[];
    let mut aad_len = 0;

    let mut offset = 0;
    // Pass 2: decrypt each frame from the message into its slice of the output.
    for seg in Segments::new(message, header) {
        let seg = seg?;
        if seg.label != current_label {
            current_label = seg.label;
            aad[id_len..id_len + seg.label.len()].copy_from_slice(seg.label);
            aad_len = id_len + seg.label.len() + 12;
        }
        let tail = &mut aad[aad_len - 12..aad_len];
        tail[..4].copy_from_slice(&seg.seq.to_be_bytes());
        tail[4..].copy_from_slice(&(seg.ciphertext.len() as u64).to_be_bytes());

        let end = offset + seg.ciphertext.len();
        let out = plaintext
            .get_mut(offset..end)
            .ok_or(Error::Truncated { what: seg.part })?;
        cipher
            .open(seg.iv, &aad[..aad_len], seg.ciphertext, out, seg.tag)
            .map_err(|_| Error::AuthenticationFailed { what: seg.part })?;
        offset = end;
    }
    Ok((plaintext, body_end))
}
