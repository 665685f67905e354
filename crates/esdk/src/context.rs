//! The encryption context: parsed from the header's AAD field, and serialized canonically (pairs
//! sorted by key bytes) as the AAD of the raw AES keyring's data-key wrap.
//!
//! Spec: <https://github.com/awslabs/aws-encryption-sdk-specification/blob/master/data-format/message-header.md#aad>

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::error::{Error, Part};
use crate::reader::Reader;

/// Reserved context key holding the base64 compressed public key of signing suites.
pub const PUBLIC_KEY_FIELD: &str = "aws-crypto-public-key";

/// A parsed encryption context and its canonical serialization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Context<'a> {
    pub(crate) map: BTreeMap<String, String>,
    /// Canonical serialization; borrows the header bytes when they are already canonical.
    pub(crate) canonical: Cow<'a, [u8]>,
}

/// Parses the Key Value Pairs field (`raw`, without its u16 length). Empty means empty context.
pub(crate) fn parse(raw: &[u8]) -> Result<Context<'_>, Error> {
    const EC: Part = Part::EncryptionContext;
    let mut map = BTreeMap::new();
    if raw.is_empty() {
        return Ok(Context {
            map,
            canonical: Cow::Borrowed(raw),
        });
    }
    let mut r = Reader::at(raw, 0);
    let count = r.u16(EC)?;
    if count == 0 {
        return Err(Error::malformed(EC, "key-value pair count is 0"));
    }
    let mut sorted = true;
    let mut previous: Option<&[u8]> = None;
    for _ in 0..count {
        let key = r.u16_prefixed(EC)?;
        let value = r.u16_prefixed(EC)?;
        if previous.is_some_and(|p| p >= key) {
            sorted = false;
        }
        previous = Some(key);
        let key = std::str::from_utf8(key).map_err(|_| Error::malformed(EC, "key is not UTF-8"))?;
        let value =
            std::str::from_utf8(value).map_err(|_| Error::malformed(EC, "value is not UTF-8"))?;
        if map.insert(key.to_owned(), value.to_owned()).is_some() {
            return Err(Error::malformed(EC, "duplicate key"));
        }
    }
    if r.remaining() != 0 {
        return Err(Error::malformed(EC, "bytes after the last key-value pair"));
    }
    let canonical = if sorted {
        Cow::Borrowed(raw)
    } else {
        Cow::Owned(serialize(&map))
    };
    Ok(Context { map, canonical })
}

/// Canonical serialization: pair count, then (u16 length, bytes) of key and value, sorted by key
/// bytes; an empty context serializes to no bytes. Lengths are capped by the parser's u16 fields,
/// so entries that came from a header always fit.
pub(crate) fn serialize(map: &BTreeMap<String, String>) -> Vec<u8> {
    if map.is_empty() {
        return Vec::new();
    }
    let len = 2 + map
        .iter()
        .map(|(k, v)| 4 + k.len() + v.len())
        .sum::<usize>();
    let mut out = Vec::with_capacity(len);
    push_u16(&mut out, map.len());
    for (k, v) in map {
        push_u16(&mut out, k.len());
        out.extend_from_slice(k.as_bytes());
        push_u16(&mut out, v.len());
        out.extend_from_slice(v.as_bytes());
    }
    out
}

fn push_u16(out: &mut Vec<u8>, n: usize) {
    let n = u16::try_from(n).unwrap_or(u16::MAX);
    out.extend_from_slice(&n.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(entries: &[(&str, &str)]) -> Vec<u8> {
        let mut out = (entries.len() as u16).to_be_bytes().to_vec();
        for (k, v) in entries {
            out.extend_from_slice(&(k.len() as u16).to_be_bytes());
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(&(v.len() as u16).to_be_bytes());
            out.extend_from_slice(v.as_bytes());
        }
        out
    }

    #[test]
    fn given_empty_bytes_then_empty_context_and_empty_canonical() {
        let c = parse(&[]).expect("empty");
        assert!(c.map.is_empty());
        assert!(c.canonical.is_empty());
        assert!(serialize(&c.map).is_empty());
    }

    #[test]
    fn given_sorted_pairs_then_canonical_borrows_the_header() {
        let raw = pairs(&[("a", "1"), ("b", "2")]);
        let c = parse(&raw).expect("parse");
        assert!(matches!(c.canonical, Cow::Borrowed(_)));
        assert_eq!(serialize(&c.map), raw);
    }

    #[test]
    fn given_unsorted_pairs_then_canonical_is_sorted() {
        let raw = pairs(&[("b", "2"), ("a", "1")]);
        let c = parse(&raw).expect("parse");
        assert_eq!(&*c.canonical, pairs(&[("a", "1"), ("b", "2")]).as_slice());
    }

    #[test]
    fn given_bad_contexts_then_each_is_malformed_or_truncated() {
        let dup = pairs(&[("a", "1"), ("a", "2")]);
        assert_eq!(parse(&dup).expect_err("must fail").kind(), "malformed");
        assert_eq!(parse(&[0, 0]).expect_err("must fail").kind(), "malformed");
        let mut extra = pairs(&[("a", "1")]);
        extra.push(0);
        assert_eq!(parse(&extra).expect_err("must fail").kind(), "malformed");
        let short = &pairs(&[("abc", "1")])[..5];
        assert_eq!(
            parse(short),
            Err(Error::Truncated {
                what: Part::EncryptionContext
            })
        );
        let mut bad_utf8 = pairs(&[("a", "1")]);
        bad_utf8[4] = 0xFF;
        assert_eq!(parse(&bad_utf8).expect_err("must fail").kind(), "malformed");
    }
}
