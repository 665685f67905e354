//! Database Activity Stream records for the `das-transformer` Firehose transformation.
//!
//! Flow of one invocation ([`Transformer::transform`]): for each Firehose record, base64 →
//! outer DAS record JSON ([`record`]) → the record's `key` decrypted by KMS under
//! `{"aws:rds:dbc-id"|"aws:rds:db-id": <resource id>}` ([`kms`], [`source`]), cached per warm
//! container ([`cache`]), the batch's distinct keys decrypted concurrently (`keys`) → ESDK decrypt with provider `BC` / key `DataKey` → size-capped gunzip
//! ([`gunzip`]) →
//! events ([`payload`], [`event`], [`scan`]) filtered ([`filter`]), their literals optionally
//! redacted ([`redact`]), into NDJSON with partition keys ([`partition`]) →
//! `Ok` / `Dropped` / `ProcessingFailed` within the 6 MB budget; optional per-command copies
//! ([`copies`]). Everything but the two adapters (KMS, S3) is synchronous and pure.

pub mod cache;
pub mod config;
pub mod copies;
pub mod event;
pub mod filter;
pub mod gunzip;
mod keys;
pub mod kms;
pub mod partition;
pub mod payload;
pub mod record;
pub mod redact;
pub mod scan;
pub mod source;
pub mod spill;
pub mod time;
pub mod transform;

pub use config::DasConfig;
pub use kms::{KeyDecryptor, KmsError, KmsKeyDecryptor};
pub use record::RecordError;
pub use transform::{InvocationError, Outcome, Stats, Transformer};
