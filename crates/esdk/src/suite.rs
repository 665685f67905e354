//! The eleven algorithm suites of the AWS Encryption SDK and the key derivation each one uses:
//! between the keyring (which yields the data key) and the body (which needs the derived key).
//!
//! Spec: <https://github.com/awslabs/aws-encryption-sdk-specification/blob/master/framework/algorithm-suites.md>

use hkdf::Hkdf;
use sha2::{Sha256, Sha384, Sha512};
use subtle::ConstantTimeEq;

use crate::error::Error;

/// Length of a key commitment (v2 header "algorithm suite data") in bytes.
pub const COMMITMENT_LEN: usize = 32;

/// An ESDK algorithm suite: AES-GCM key size, key derivation, commitment and signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AlgorithmSuite {
    /// 0x0014: AES-128-GCM, data key used directly.
    Aes128Gcm,
    /// 0x0046: AES-192-GCM, data key used directly.
    Aes192Gcm,
    /// 0x0078: AES-256-GCM, data key used directly.
    Aes256Gcm,
    /// 0x0114: AES-128-GCM, HKDF-SHA256.
    Aes128GcmHkdfSha256,
    /// 0x0146: AES-192-GCM, HKDF-SHA256.
    Aes192GcmHkdfSha256,
    /// 0x0178: AES-256-GCM, HKDF-SHA256.
    Aes256GcmHkdfSha256,
    /// 0x0214: AES-128-GCM, HKDF-SHA256, ECDSA P-256.
    Aes128GcmHkdfSha256EcdsaP256,
    /// 0x0346: AES-192-GCM, HKDF-SHA384, ECDSA P-384.
    Aes192GcmHkdfSha384EcdsaP384,
    /// 0x0378: AES-256-GCM, HKDF-SHA384, ECDSA P-384.
    Aes256GcmHkdfSha384EcdsaP384,
    /// 0x0478: AES-256-GCM, HKDF-SHA512 with key commitment (message format v2).
    Aes256GcmHkdfSha512CommitKey,
    /// 0x0578: AES-256-GCM, HKDF-SHA512 with key commitment, ECDSA P-384 (message format v2).
    Aes256GcmHkdfSha512CommitKeyEcdsaP384,
}

/// The key derivation function of a suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kdf {
    Identity,
    HkdfSha256,
    HkdfSha384,
    /// HKDF-SHA512 with the message id as salt, plus a commitment key.
    CommitSha512,
}

/// The footer signature algorithm of a suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignatureAlg {
    EcdsaP256,
    EcdsaP384,
}

impl AlgorithmSuite {
    /// Every suite, in id order.
    pub const ALL: [AlgorithmSuite; 11] = [
        AlgorithmSuite::Aes128Gcm,
        AlgorithmSuite::Aes192Gcm,
        AlgorithmSuite::Aes256Gcm,
        AlgorithmSuite::Aes128GcmHkdfSha256,
        AlgorithmSuite::Aes192GcmHkdfSha256,
        AlgorithmSuite::Aes256GcmHkdfSha256,
        AlgorithmSuite::Aes128GcmHkdfSha256EcdsaP256,
        AlgorithmSuite::Aes192GcmHkdfSha384EcdsaP384,
        AlgorithmSuite::Aes256GcmHkdfSha384EcdsaP384,
        AlgorithmSuite::Aes256GcmHkdfSha512CommitKey,
        AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384,
    ];

    /// The suite with this 2-byte id, or `UnsupportedSuite`.
    pub fn from_id(id: u16) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|s| s.id() == id)
            .ok_or(Error::UnsupportedSuite(id))
    }

    /// The suite's 2-byte id as written in the header.
    pub fn id(self) -> u16 {
        match self {
            AlgorithmSuite::Aes128Gcm => 0x0014,
            AlgorithmSuite::Aes192Gcm => 0x0046,
            AlgorithmSuite::Aes256Gcm => 0x0078,
            AlgorithmSuite::Aes128GcmHkdfSha256 => 0x0114,
            AlgorithmSuite::Aes192GcmHkdfSha256 => 0x0146,
            AlgorithmSuite::Aes256GcmHkdfSha256 => 0x0178,
            AlgorithmSuite::Aes128GcmHkdfSha256EcdsaP256 => 0x0214,
            AlgorithmSuite::Aes192GcmHkdfSha384EcdsaP384 => 0x0346,
            AlgorithmSuite::Aes256GcmHkdfSha384EcdsaP384 => 0x0378,
            AlgorithmSuite::Aes256GcmHkdfSha512CommitKey => 0x0478,
            AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384 => 0x0578,
        }
    }

    /// Length of the data key and of the derived AES key, in bytes (16, 24 or 32).
    pub fn key_len(self) -> usize {
        match self.id() & 0x00FF {
            0x14 => 16,
            0x46 => 24,
            _ => 32,
        }
    }

    /// The message format version (1 or 2) that carries this suite.
    pub fn message_version(self) -> u8 {
        if self.is_committing() { 2 } else { 1 }
    }

    /// Whether the suite commits the message to its data key (v2 suites).
    pub fn is_committing(self) -> bool {
        self.kdf() == Kdf::CommitSha512
    }

    /// Whether messages of this suite end with an ECDSA signature footer.
    pub fn is_signing(self) -> bool {
        self.signature().is_some()
    }

    pub(crate) fn kdf(self) -> Kdf {
        match self.id() >> 8 {
            0x00 => Kdf::Identity,
            0x01 | 0x02 => Kdf::HkdfSha256,
            0x03 => Kdf::HkdfSha384,
            _ => Kdf::CommitSha512,
        }
    }

    pub(crate) fn signature(self) -> Option<SignatureAlg> {
        match self.id() >> 8 {
            0x02 => Some(SignatureAlg::EcdsaP256),
            0x03 | 0x05 => Some(SignatureAlg::EcdsaP384),
            _ => None,
        }
    }

    /// Derives the body/header key from the data key; for committing suites also checks the
    /// header's commitment in constant time. `out` receives `key_len()` bytes.
    pub(crate) fn derive_key(
        self,
        data_key: &[u8],
        message_id: &[u8],
        commitment: Option<&[u8]>,
        out: &mut [u8],
    ) -> Result<(), Error> {
        let bad_key = Error::AuthenticationFailed {
            what: crate::error::Part::DataKey,
        };
        let suite_id = self.id().to_be_bytes();
        match self.kdf() {
            Kdf::Identity => {
                if data_key.len() != out.len() {
                    return Err(bad_key);
                }
                out.copy_from_slice(data_key);
                Ok(())
            }
            Kdf::HkdfSha256 => Hkdf::<Sha256>::new(None, data_key)
                .expand_multi_info(&[&suite_id, message_id], out)
                .map_err(|_| bad_key),
            Kdf::HkdfSha384 => Hkdf::<Sha384>::new(None, data_key)
                .expand_multi_info(&[&suite_id, message_id], out)
                .map_err(|_| bad_key),
            Kdf::CommitSha512 => {
                let hk = Hkdf::<Sha512>::new(Some(message_id), data_key);
                let mut expected = [0u8; COMMITMENT_LEN];
                hk.expand(b"COMMITKEY", &mut expected)
                    .map_err(|_| bad_key.clone())?;
                let stored = commitment.unwrap_or(&[]);
                if !bool::from(expected.as_slice().ct_eq(stored)) {
                    return Err(Error::CommitmentMismatch);
                }
                hk.expand_multi_info(&[&suite_id, b"DERIVEKEY"], out)
                    .map_err(|_| bad_key)
            }
        }
    }
}

impl TryFrom<u16> for AlgorithmSuite {
    type Error = Error;

    fn try_from(id: u16) -> Result<Self, Error> {
        Self::from_id(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_every_suite_when_looked_up_by_id_then_it_round_trips() {
        for s in AlgorithmSuite::ALL {
            assert_eq!(AlgorithmSuite::from_id(s.id()), Ok(s));
        }
        assert_eq!(
            AlgorithmSuite::from_id(0x0179),
            Err(Error::UnsupportedSuite(0x0179))
        );
    }

    #[test]
    fn given_the_suite_table_then_properties_match_the_spec() {
        use AlgorithmSuite as S;
        let rows = [
            (S::Aes128Gcm, 16, Kdf::Identity, None),
            (S::Aes192Gcm, 24, Kdf::Identity, None),
            (S::Aes256Gcm, 32, Kdf::Identity, None),
            (S::Aes128GcmHkdfSha256, 16, Kdf::HkdfSha256, None),
            (S::Aes192GcmHkdfSha256, 24, Kdf::HkdfSha256, None),
            (S::Aes256GcmHkdfSha256, 32, Kdf::HkdfSha256, None),
            (
                S::Aes128GcmHkdfSha256EcdsaP256,
                16,
                Kdf::HkdfSha256,
                Some(SignatureAlg::EcdsaP256),
            ),
            (
                S::Aes192GcmHkdfSha384EcdsaP384,
                24,
                Kdf::HkdfSha384,
                Some(SignatureAlg::EcdsaP384),
            ),
            (
                S::Aes256GcmHkdfSha384EcdsaP384,
                32,
                Kdf::HkdfSha384,
                Some(SignatureAlg::EcdsaP384),
            ),
            (S::Aes256GcmHkdfSha512CommitKey, 32, Kdf::CommitSha512, None),
            (
                S::Aes256GcmHkdfSha512CommitKeyEcdsaP384,
                32,
                Kdf::CommitSha512,
                Some(SignatureAlg::EcdsaP384),
            ),
        ];
        for (s, key_len, kdf, sig) in rows {
            assert_eq!(s.key_len(), key_len, "{s:?}");
            assert_eq!(s.kdf(), kdf, "{s:?}");
            assert_eq!(s.signature(), sig, "{s:?}");
            assert_eq!(s.message_version(), if s.is_committing() { 2 } else { 1 });
        }
    }

    #[test]
    fn given_a_committing_suite_when_the_commitment_differs_then_commitment_mismatch() {
        let s = AlgorithmSuite::Aes256GcmHkdfSha512CommitKey;
        let mut out = [0u8; 32];
        let r = s.derive_key(&[7u8; 32], &[1u8; 32], Some(&[0u8; 32]), &mut out);
        assert_eq!(r, Err(Error::CommitmentMismatch));
    }

    #[test]
    fn given_an_identity_suite_when_the_data_key_has_the_wrong_length_then_data_key_error() {
        let mut out = [0u8; 16];
        let r = AlgorithmSuite::Aes128Gcm.derive_key(&[7u8; 32], &[1u8; 16], None, &mut out);
        assert!(matches!(r, Err(Error::AuthenticationFailed { .. })));
    }
}
