//! Decrypted data keys per warm container: a bounded LRU from the exact `key` ciphertext bytes
//! (and the encryption context they were decrypted under) to a ready keyring, so a batch makes
//! one KMS call per distinct key and later invocations often none.
//!
//! The cache holds [`RawAesKeyring`]s (an AES key schedule), not the raw key bytes. The context is
//! part of the cache key so a hit can never bypass the context check KMS made.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use lru::LruCache;
use sluice_esdk::RawAesKeyring;

/// (context key, resource id, ciphertext bytes).
type CacheKey = (String, String, Vec<u8>);

/// A bounded, thread-safe LRU of keyrings by key ciphertext and context.
#[derive(Debug)]
pub struct KeyCache {
    inner: Mutex<LruCache<CacheKey, Arc<RawAesKeyring>>>,
}

impl KeyCache {
    /// A cache holding at most `capacity` keys (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Self {
            inner: Mutex::new(LruCache::new(capacity)),
        }
    }

    /// The keyring cached for this ciphertext under this context, marking it recently used.
    pub fn get(
        &self,
        context_key: &str,
        resource_id: &str,
        ciphertext: &[u8],
    ) -> Option<Arc<RawAesKeyring>> {
        let mut cache = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        // Borrowed lookup is not possible with a tuple key; the allocation is small and only on lookups.
        cache
            .get(&(
                context_key.to_owned(),
                resource_id.to_owned(),
                ciphertext.to_vec(),
            ))
            .cloned()
    }

    /// Stores a keyring, evicting the least recently used one when full.
    pub fn put(
        &self,
        context_key: &str,
        resource_id: &str,
        ciphertext: &[u8],
        keyring: Arc<RawAesKeyring>,
    ) {
        let mut cache = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        cache.put(
            (
                context_key.to_owned(),
                resource_id.to_owned(),
                ciphertext.to_vec(),
            ),
            keyring,
        );
    }

    /// How many keys are cached.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyring() -> Arc<RawAesKeyring> {
        Arc::new(RawAesKeyring::new("BC", "DataKey", &[7u8; 32]).expect("valid key"))
    }

    #[test]
    fn given_full_cache_when_new_key_put_then_least_recent_evicted() {
        let cache = KeyCache::new(2);
        cache.put("k", "r", b"a", keyring());
        cache.put("k", "r", b"b", keyring());
        assert!(cache.get("k", "r", b"a").is_some());
        cache.put("k", "r", b"c", keyring());
        assert!(cache.get("k", "r", b"b").is_none());
        assert!(cache.get("k", "r", b"a").is_some());
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn given_same_ciphertext_under_other_context_then_miss() {
        let cache = KeyCache::new(4);
        cache.put("aws:rds:dbc-id", "cluster-1", b"a", keyring());
        assert!(cache.get("aws:rds:dbc-id", "cluster-2", b"a").is_none());
        assert!(cache.get("aws:rds:db-id", "cluster-1", b"a").is_none());
    }
}
