//! The data keys of one batch: each distinct `key` ciphertext is looked up in the
//! [`KeyCache`] once, and those not cached are decrypted by KMS concurrently, at most
//! `concurrency` calls in flight, before any record is opened (see [`crate::transform`]).
//!
//! A key KMS refuses, or whose plaintext is not a valid wrapping key, fails only the records that
//! carry it; any other KMS failure (throttling, 5xx, network) is returned at once, the calls
//! still in flight are dropped, and the whole invocation fails.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures_util::StreamExt as _;
use sluice_esdk::RawAesKeyring;
use tracing::debug;

use crate::cache::KeyCache;
use crate::kms::{KeyDecryptor, KmsError};
use crate::record::{KEY_NAME, PROVIDER_ID, RecordError};
use crate::source;

/// What one distinct key became.
#[derive(Debug, Clone)]
enum Resolved {
    /// Ready to open records.
    Keyring(Arc<RawAesKeyring>),
    /// KMS refused it.
    Refused(KmsError),
    /// KMS decrypted it, but it is not a wrapping key.
    Invalid(sluice_esdk::Error),
}

/// A KMS outage while decrypting a key: the first record (in batch order) carrying it, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outage {
    /// The record.
    pub record_id: String,
    /// What KMS (or the network) said.
    pub source: KmsError,
}

/// The keyrings of one batch, by key ciphertext.
#[derive(Debug, Default)]
pub(crate) struct BatchKeys {
    by_key: HashMap<Vec<u8>, Resolved>,
}

/// Where the keys of a batch come from and go to.
pub(crate) struct KeySource<'a> {
    /// KMS.
    pub kms: &'a dyn KeyDecryptor,
    /// The container's cache.
    pub cache: &'a KeyCache,
    /// The encryption-context key of this invocation.
    pub context_key: &'a str,
    /// The resource id of this invocation.
    pub resource_id: &'a str,
    /// At most this many KMS calls in flight (at least one).
    pub concurrency: usize,
}

impl KeySource<'_> {
    /// Resolves every distinct key of `keys` (`(record id, key ciphertext)` in batch order):
    /// from the cache, else from KMS (then cached). Returns the keys and the KMS calls made.
    pub(crate) async fn resolve<'k>(
        &self,
        keys: impl IntoIterator<Item = (&'k str, &'k [u8])>,
    ) -> Result<(BatchKeys, u64), Outage> {
        let mut by_key = HashMap::new();
        let mut seen = HashSet::new();
        // Distinct uncached keys, each with the first record that carries it, in batch order.
        let mut missing: Vec<(&str, &[u8])> = Vec::new();
        for (record_id, key) in keys {
            if !seen.insert(key) {
                continue;
            }
            match self.cache.get(self.context_key, self.resource_id, key) {
                Some(k) => {
                    by_key.insert(key.to_vec(), Resolved::Keyring(k));
                }
                None => missing.push((record_id, key)),
            }
        }
        let calls = missing.len() as u64;
        let context = source::encryption_context(self.context_key, self.resource_id);
        let context = &context;
        let mut decrypted = futures_util::stream::iter(missing)
            .map(|(record_id, key)| async move {
                debug!(record_id, "KMS Decrypt of a new data key");
                (
                    record_id,
                    key,
                    self.kms.decrypt_data_key(key, context).await,
                )
            })
            .buffer_unordered(self.concurrency.max(1));
        while let Some((record_id, key, result)) = decrypted.next().await {
            let resolved = match result {
                Ok(plain) => match RawAesKeyring::new(PROVIDER_ID, KEY_NAME, &plain) {
                    Ok(k) => {
                        let k = Arc::new(k);
                        self.cache
                            .put(self.context_key, self.resource_id, key, Arc::clone(&k));
                        Resolved::Keyring(k)
                    }
                    Err(e) => Resolved::Invalid(e),
                },
                Err(e @ KmsError::Refused { .. }) => Resolved::Refused(e),
                Err(source) => {
                    return Err(Outage {
                        record_id: record_id.to_owned(),
                        source,
                    });
                }
            };
            by_key.insert(key.to_vec(), resolved);
        }
        Ok((BatchKeys { by_key }, calls))
    }
}

impl BatchKeys {
    /// The keyring for `key`, or why `record_id` (which carries it) fails.
    pub(crate) fn keyring(
        &self,
        record_id: &str,
        key: &[u8],
    ) -> Result<Arc<RawAesKeyring>, RecordError> {
        match self.by_key.get(key) {
            Some(Resolved::Keyring(k)) => Ok(Arc::clone(k)),
            Some(Resolved::Refused(source)) => Err(RecordError::KeyRefused {
                record_id: record_id.to_owned(),
                source: source.clone(),
            }),
            Some(Resolved::Invalid(source)) => Err(RecordError::Decrypt {
                record_id: record_id.to_owned(),
                kind: source.kind(),
                source: source.clone(),
            }),
            // Every key of the batch was resolved before any record is opened.
            None => Err(RecordError::KeyRefused {
                record_id: record_id.to_owned(),
                source: KmsError::Unavailable {
                    code: "NotResolved".into(),
                    message: "the key was not resolved for this batch".into(),
                },
            }),
        }
    }
}
