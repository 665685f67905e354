//! AES-GCM with a 12-byte IV and 16-byte tag for all three key sizes, used by the keyring (to
//! unwrap the data key) and by the header and body (with the derived key).

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aes::Aes192;
use aes_gcm::{AeadInOut, Aes128Gcm, Aes256Gcm, AesGcm, KeyInit, Nonce, Tag};

/// IV length of every ESDK suite and of the raw AES keyring.
pub(crate) const IV_LEN: usize = 12;
/// Tag length of every ESDK suite and of the raw AES keyring.
pub(crate) const TAG_LEN: usize = 16;

type Aes192Gcm = AesGcm<Aes192, U12>;

/// An AES-GCM key of 16, 24 or 32 bytes, expanded once and reused for every frame.
pub(crate) enum Gcm {
    A128(Aes128Gcm),
    A192(Aes192Gcm),
    A256(Aes256Gcm),
}

/// The tag did not verify (or the lengths did not fit); nothing was written.
#[derive(Debug)]
pub(crate) struct Unauthentic;

impl Gcm {
    /// Builds the cipher for a key of 16, 24 or 32 bytes; `None` for any other length.
    pub(crate) fn new(key: &[u8]) -> Option<Self> {
        Some(match key.len() {
            16 => Gcm::A128(Aes128Gcm::new_from_slice(key).ok()?),
            24 => Gcm::A192(Aes192Gcm::new_from_slice(key).ok()?),
            32 => Gcm::A256(Aes256Gcm::new_from_slice(key).ok()?),
            _ => return None,
        })
    }

    /// Verifies `tag` over `aad` and `ciphertext`, then writes the plaintext into `out`
    /// (same length as `ciphertext`). Decrypts straight from the message into the output,
    /// without an intermediate copy.
    pub(crate) fn open(
        &self,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        ciphertext: &[u8],
        out: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), Unauthentic> {
        let buf = InOutBuf::new(ciphertext, out).map_err(|_| Unauthentic)?;
        let nonce: &Nonce<U12> = iv.into();
        let tag: &Tag = tag.into();
        match self {
            Gcm::A128(c) => c.decrypt_inout_detached(nonce, aad, buf, tag),
            Gcm::A192(c) => c.decrypt_inout_detached(nonce, aad, buf, tag),
            Gcm::A256(c) => c.decrypt_inout_detached(nonce, aad, buf, tag),
        }
        .map_err(|_| Unauthentic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_key_lengths_then_only_16_24_32_build_a_cipher() {
        for len in 0..40 {
            assert_eq!(
                Gcm::new(&vec![1u8; len]).is_some(),
                matches!(len, 16 | 24 | 32)
            );
        }
    }

    #[test]
    fn given_a_round_trip_when_the_tag_is_flipped_then_open_fails() {
        let key = [9u8; 32];
        let c = Aes256Gcm::new_from_slice(&key).expect("key");
        let iv = [3u8; 12];
        let mut buf = *b"hello frames";
        let tag = c
            .encrypt_inout_detached((&iv).into(), b"aad", InOutBuf::from(&mut buf[..]))
            .expect("encrypt");
        let mut tag: [u8; 16] = tag.into();
        let gcm = Gcm::new(&key).expect("key");
        let mut out = [0u8; 12];
        gcm.open(&iv, b"aad", &buf, &mut out, &tag).expect("open");
        assert_eq!(&out, b"hello frames");
        tag[0] ^= 1;
        assert!(gcm.open(&iv, b"aad", &buf, &mut out, &tag).is_err());
        assert!(gcm.open(&iv, b"aad", &buf, &mut out[..3], &tag).is_err());
    }
}
