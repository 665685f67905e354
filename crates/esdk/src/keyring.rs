//! The raw AES keyring: finds this keyring's encrypted data key in the header and unwraps it
//! with AES-GCM, the encryption context as AAD. Second stage of decryption, after the header
//! is parsed and before any key is derived.
//!
//! Spec: <https://github.com/awslabs/aws-encryption-sdk-specification/blob/master/framework/raw-aes-keyring.md>
//! Provider info = key name ‖ tag length in bits (u32, 128) ‖ IV length (u32, 12) ‖ IV;
//! EDK ciphertext = wrapped key ‖ tag. The legacy Python `RawMasterKey` writes the same layout.

use std::fmt;

use crate::error::{Error, Part};
use crate::gcm::{Gcm, IV_LEN, TAG_LEN};
use crate::header::EncryptedDataKey;

/// Largest data key of any suite (AES-256).
pub(crate) const MAX_DATA_KEY: usize = 32;

/// A raw AES keyring: a wrapping key known by provider id (key namespace) and key name.
pub struct RawAesKeyring {
    provider_id: String,
    key_name: String,
    wrapping: Gcm,
}

impl fmt::Debug for RawAesKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawAesKeyring")
            .field("provider_id", &self.provider_id)
            .field("key_name", &self.key_name)
            .finish_non_exhaustive()
    }
}

impl RawAesKeyring {
    /// A keyring for a 16, 24 or 32-byte wrapping key; any other length is `InvalidWrappingKey`.
    pub fn new(
        provider_id: impl Into<String>,
        key_name: impl Into<String>,
        wrapping_key: &[u8],
    ) -> Result<Self, Error> {
        let wrapping = Gcm::new(wrapping_key).ok_or(Error::InvalidWrappingKey {
            len: wrapping_key.len(),
        })?;
        Ok(RawAesKeyring {
            provider_id: provider_id.into(),
            key_name: key_name.into(),
            wrapping,
        })
    }

    /// The provider id (key namespace) this keyring answers to.
    pub fn provider_id(&self) -> &str {
        &self.provider_id
    }

    /// The key name this keyring answers to.
    pub fn key_name(&self) -> &str {
        &self.key_name
    }

    /// The IV of `edk` if it was wrapped by a key with this keyring's identity.
    fn matching_iv<'e>(&self, edk: &EncryptedDataKey<'e>) -> Option<&'e [u8; IV_LEN]> {
        if edk.provider_id != self.provider_id.as_bytes() {
            return None;
        }
        let rest = edk.provider_info.strip_prefix(self.key_name.as_bytes())?;
        let (tag_bits, rest) = rest.split_first_chunk::<4>()?;
        let (iv_len, iv) = rest.split_first_chunk::<4>()?;
        let tag_ok = u32::from_be_bytes(*tag_bits) == (TAG_LEN as u32) * 8;
        let iv_ok = u32::from_be_bytes(*iv_len) == IV_LEN as u32;
        if !(tag_ok && iv_ok) {
            return None;
        }
        iv.try_into().ok()
    }

    /// Unwraps the first matching data key of `key_len` bytes into `out[..key_len]`.
    ///
    /// `NoMatchingDataKey` when no EDK names this keyring; `AuthenticationFailed { DataKey }` when
    /// some did but none unwrapped (wrong key material, altered EDK or context).
    pub(crate) fn unwrap_data_key(
        &self,
        edks: &[EncryptedDataKey<'_>],
        canonical_context: &[u8],
        key_len: usize,
        out: &mut [u8; MAX_DATA_KEY],
    ) -> Result<(), Error> {
        let mut matched = false;
        for edk in edks {
            let Some(iv) = self.matching_iv(edk) else {
                continue;
            };
            matched = true;
            let Some((wrapped, tag)) = edk.ciphertext.split_last_chunk::<TAG_LEN>() else {
                continue;
            };
            if wrapped.len() != key_len {
                continue;
            }
            let dest = &mut out[..key_len];
            if self
                .wrapping
                .open(iv, canonical_context, wrapped, dest, tag)
                .is_ok()
            {
                return Ok(());
            }
        }
        if matched {
            Err(Error::AuthenticationFailed {
                what: Part::DataKey,
            })
        } else {
            Err(Error::NoMatchingDataKey {
                provider_id: self.provider_id.clone(),
                key_name: self.key_name.clone(),
                candidates: edks.len(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &[u8], tag_bits: u32, iv_len: u32, iv: &[u8]) -> Vec<u8> {
        let mut v = name.to_vec();
        v.extend_from_slice(&tag_bits.to_be_bytes());
        v.extend_from_slice(&iv_len.to_be_bytes());
        v.extend_from_slice(iv);
        v
    }

    #[test]
    fn given_wrapping_key_lengths_then_only_aes_sizes_are_accepted() {
        for len in [16, 24, 32] {
            assert!(RawAesKeyring::new("p", "k", &vec![0; len]).is_ok());
        }
        let err = RawAesKeyring::new("p", "k", &[0; 31]).expect_err("31 bytes");
        assert_eq!(err, Error::InvalidWrappingKey { len: 31 });
    }

    #[test]
    fn given_provider_info_variants_then_only_exact_layouts_match() {
        let k = RawAesKeyring::new("prov", "key", &[0; 32]).expect("keyring");
        assert_eq!(k.provider_id(), "prov");
        assert_eq!(k.key_name(), "key");
        let good = info(b"key", 128, 12, &[5; 12]);
        let edk = |p: &'static [u8], i: &[u8]| -> bool {
            let e = EncryptedDataKey {
                provider_id: p,
                provider_info: i,
                ciphertext: &[],
            };
            k.matching_iv(&e).is_some()
        };
        assert!(edk(b"prov", &good));
        assert!(!edk(b"other", &good));
        assert!(!edk(b"prov", &info(b"kez", 128, 12, &[5; 12])));
        assert!(!edk(b"prov", &info(b"key-longer", 128, 12, &[5; 12])));
        assert!(!edk(b"prov", &info(b"key", 96, 12, &[5; 12])));
        assert!(!edk(b"prov", &info(b"key", 128, 16, &[5; 16])));
        assert!(!edk(b"prov", &info(b"key", 128, 12, &[5; 11])));
        assert!(!edk(b"prov", &good[..5]));
    }

    #[test]
    fn given_no_matching_edk_then_no_matching_data_key_names_the_keyring() {
        let k = RawAesKeyring::new("prov", "key", &[0; 16]).expect("keyring");
        let edks = [EncryptedDataKey {
            provider_id: b"aws-kms",
            provider_info: b"arn",
            ciphertext: &[0; 48],
        }];
        let err = k
            .unwrap_data_key(&edks, &[], 32, &mut [0; 32])
            .expect_err("no match");
        assert_eq!(err.kind(), "no_matching_data_key");
        assert!(err.to_string().contains("\"prov\""), "{err}");
    }

    #[test]
    fn given_a_matching_edk_with_garbage_then_data_key_authentication_fails() {
        let k = RawAesKeyring::new("prov", "key", &[0; 16]).expect("keyring");
        let i = info(b"key", 128, 12, &[5; 12]);
        for ct in [&[0u8; 48][..], &[0u8; 40], &[0u8; 3]] {
            let edks = [EncryptedDataKey {
                provider_id: b"prov",
                provider_info: &i,
                ciphertext: ct,
            }];
            let err = k
                .unwrap_data_key(&edks, &[], 32, &mut [0; 32])
                .expect_err("garbage");
            assert_eq!(
                err,
                Error::AuthenticationFailed {
                    what: Part::DataKey
                }
            );
        }
    }
}
