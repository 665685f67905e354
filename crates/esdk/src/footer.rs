//! The footer of signing suites: a u16 length and a DER ECDSA signature over the header and
//! body, verified with the public key the encryption context carries. Last stage of decryption.
//!
//! Spec: <https://github.com/awslabs/aws-encryption-sdk-specification/blob/master/data-format/message-footer.md>

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::signature::Verifier as _;

use crate::context::PUBLIC_KEY_FIELD;
use crate::error::{Error, Part};
use crate::reader::Reader;
use crate::suite::{AlgorithmSuite, SignatureAlg};

/// A footer verifier, built from the encryption context before the body is decrypted.
#[derive(Debug)]
pub(crate) enum Verifier {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
}

impl Verifier {
    /// The verifier a suite needs: `None` for unsigned suites, which must not carry a public key.
    pub(crate) fn for_suite(
        suite: AlgorithmSuite,
        context: &BTreeMap<String, String>,
    ) -> Result<Option<Self>, Error> {
        let encoded = context.get(PUBLIC_KEY_FIELD);
        let (alg, encoded) = match (suite.signature(), encoded) {
            (None, None) => return Ok(None),
            (None, Some(_)) => {
                return Err(Error::malformed(
                    Part::EncryptionContext,
                    "aws-crypto-public-key present for a non-signing suite",
                ));
            }
            (Some(_), None) => {
                return Err(Error::malformed(
                    Part::EncryptionContext,
                    "signing suite without aws-crypto-public-key",
                ));
            }
            (Some(alg), Some(encoded)) => (alg, encoded),
        };
        let point = STANDARD.decode(encoded).map_err(|_| Error::BadSignature {
            reason: "public key is not base64",
        })?;
        let bad_point = |_| Error::BadSignature {
            reason: "public key is not a valid compressed point",
        };
        // Compressed points only: 0x02/0x03 and one field element.
        let expected_len = match alg {
            SignatureAlg::EcdsaP256 => 33,
            SignatureAlg::EcdsaP384 => 49,
        };
        if point.len() != expected_len {
            return Err(Error::BadSignature {
                reason: "public key is not a compressed point",
            });
        }
        Ok(Some(match alg {
            SignatureAlg::EcdsaP256 => Verifier::P256(
                p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).map_err(bad_point)?,
            ),
            SignatureAlg::EcdsaP384 => Verifier::P384(
                p384::ecdsa::VerifyingKey::from_sec1_bytes(&point).map_err(bad_point)?,
            ),
        }))
    }

    /// Reads the footer at `start` and verifies its signature over `message[..start]`.
    /// Returns where the footer ends.
    pub(crate) fn verify_footer(&self, message: &[u8], start: usize) -> Result<usize, Error> {
        let mut r = Reader::at(message, start);
        let signature = r.u16_prefixed(Part::Footer)?;
        let signed = message
            .get(..start)
            .ok_or(Error::Truncated { what: Part::Footer })?;
        let bad_der = |_| Error::BadSignature {
            reason: "signature is not DER",
        };
        let mismatch = |_| Error::BadSignature {
            reason: "signature does not verify",
        };
        // Anything after the footer is refused before the (costly) verification.
        if r.remaining() != 0 {
            return Err(Error::TrailingBytes {
                count: r.remaining(),
            });
        }
        match self {
            Verifier::P256(key) => {
                let sig = p256::ecdsa::Signature::from_der(signature).map_err(bad_der)?;
                key.verify(signed, &sig).map_err(mismatch)?;
            }
            Verifier::P384(key) => {
                let sig = p384::ecdsa::Signature::from_der(signature).map_err(bad_der)?;
                key.verify(signed, &sig).map_err(mismatch)?;
            }
        }
        Ok(r.pos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(value: &str) -> BTreeMap<String, String> {
        BTreeMap::from([(PUBLIC_KEY_FIELD.to_owned(), value.to_owned())])
    }

    #[test]
    fn given_an_unsigned_suite_then_no_verifier_unless_a_key_is_present() {
        let s = AlgorithmSuite::Aes256GcmHkdfSha256;
        assert!(matches!(Verifier::for_suite(s, &BTreeMap::new()), Ok(None)));
        let err = Verifier::for_suite(s, &ctx("AA==")).expect_err("key on unsigned");
        assert_eq!(err.kind(), "malformed");
    }

    #[test]
    fn given_a_signing_suite_then_the_key_must_be_present_and_valid() {
        let s = AlgorithmSuite::Aes256GcmHkdfSha384EcdsaP384;
        let err = Verifier::for_suite(s, &BTreeMap::new()).expect_err("no key");
        assert_eq!(err.part(), Some(Part::EncryptionContext));
        let mut off_curve = [0xFFu8; 49];
        off_curve[0] = 0x02;
        for bad in ["%%%", "AAAA", &STANDARD.encode(off_curve)] {
            let err = Verifier::for_suite(s, &ctx(bad)).expect_err("bad key");
            assert_eq!(err.kind(), "bad_signature", "{bad}");
        }
    }
}
