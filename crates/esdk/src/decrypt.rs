//! One-shot decryption of a whole message: header → keyring → key derivation and commitment →
//! header tag → body → footer. Nothing is returned until every check has passed, so no byte of
//! unauthenticated plaintext ever leaves this module.

use std::collections::BTreeMap;

use crate::body::decrypt_body;
use crate::error::{Error, Part};
use crate::footer::Verifier;
use crate::gcm::Gcm;
use crate::header::parse_header;
use crate::keyring::{MAX_DATA_KEY, RawAesKeyring};
use crate::suite::AlgorithmSuite;

/// A decrypted, fully authenticated message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decrypted {
    /// The plaintext.
    pub plaintext: Vec<u8>,
    /// The encryption context from the header (including `aws-crypto-public-key` for signing
    /// suites).
    pub encryption_context: BTreeMap<String, String>,
    /// The algorithm suite the message was encrypted with.
    pub suite: AlgorithmSuite,
}

/// Decrypts and authenticates one complete ESDK message (v1 or v2, framed or not, any suite).
///
/// The whole input must be exactly one message: bytes after its end are `TrailingBytes`.
pub fn decrypt(message: &[u8], keyring: &RawAesKeyring) -> Result<Decrypted, Error> {
    let header = parse_header(message)?;
    let suite = header.suite;
    let key_len = suite.key_len();

    let mut data_key = [0u8; MAX_DATA_KEY];
    keyring.unwrap_data_key(
        &header.encrypted_data_keys,
        &header.canonical_context,
        key_len,
        &mut data_key,
    )?;
    let mut derived = [0u8; MAX_DATA_KEY];
    let derivation = suite.derive_key(
        &data_key[..key_len],
        header.message_id,
        header.commitment.map(|c| &c[..]),
        &mut derived[..key_len],
    );
    data_key.fill(0);
    derivation?;
    let cipher = Gcm::new(&derived[..key_len]);
    derived.fill(0);
    let cipher = cipher.ok_or(Error::AuthenticationFailed {
        what: Part::DataKey,
    })?;

    cipher
        .open(
            &header.auth_iv,
            header.authenticated_bytes(message),
            &[],
            &mut [],
            header.auth_tag,
        )
        .map_err(|_| Error::AuthenticationFailed { what: Part::Header })?;

    let verifier = Verifier::for_suite(suite, &header.encryption_context)?;
    let (plaintext, body_end) = decrypt_body(message, &header, &cipher)?;
    let end = match &verifier {
        Some(v) => v.verify_footer(message, body_end)?,
        None => body_end,
    };
    if end != message.len() {
        return Err(Error::TrailingBytes {
            count: message.len().saturating_sub(end),
        });
    }
    Ok(Decrypted {
        plaintext,
        encryption_context: header.encryption_context,
        suite,
    })
}
