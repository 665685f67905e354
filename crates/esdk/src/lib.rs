//! AWS Encryption SDK message decryption with a raw AES keyring; no AWS SDK types.
//!
//! Sits at the bottom of Sluice's activity-stream pipeline: `sluice-das` hands each encrypted
//! record here with a [`RawAesKeyring`] built from the data key KMS returned, and gets back the
//! plaintext and encryption context. Pure and synchronous; never panics on any input.
//!
//! Supports message format v1 and v2, framed and non-framed bodies, and all eleven algorithm
//! suites (0x0014 … 0x0578), including key commitment and ECDSA P-256/P-384 footers.
//! Spec: <https://github.com/awslabs/aws-encryption-sdk-specification>.
//!
//! Flow of [`decrypt`]: [`parse_header`] → keyring unwraps the data key → key derivation (and
//! commitment check) → header tag → body frames → footer signature → no trailing bytes.
//! Plaintext is returned only when every step has passed.

mod body;
mod context;
mod decrypt;
mod error;
mod footer;
mod gcm;
mod header;
mod keyring;
mod reader;
mod suite;

pub use context::PUBLIC_KEY_FIELD;
pub use decrypt::{Decrypted, decrypt};
pub use error::{Error, Part};
pub use header::{ContentType, EncryptedDataKey, Header, parse_header};
pub use keyring::RawAesKeyring;
pub use suite::AlgorithmSuite;
