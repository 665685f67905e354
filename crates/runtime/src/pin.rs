//! Pinning an object by its content: the SHA-256 an operator reviewed, set in configuration,
//! checked against the bytes about to be used.
//!
//! The sanitizing script is pinned this way: `snapshot-steps` checks it at `validate`, before
//! anything is created, and the `sanitizer` task checks it again on the bytes it runs. A
//! digest (rather than an S3 version id) pins the content itself, works on any bucket,
//! versioned or not, and is checked on exactly the bytes that run.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// A SHA-256 digest that some bytes must have; shown and parsed as 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha256Pin([u8; 32]);

/// A pin that is not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a SHA-256 digest: 64 hex digits (e.g. from `sha256sum`), got {len} characters")]
pub struct PinParseError {
    /// Length of what was given, in characters (the value itself is in the config error).
    pub len: usize,
}

/// Bytes whose digest is not the pinned one. Names both digests, never the bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("its SHA-256 is {actual}, not the pinned {expected}")]
pub struct DigestMismatch {
    /// The pinned digest.
    pub expected: Sha256Pin,
    /// The digest of the bytes found.
    pub actual: Sha256Pin,
}

impl Sha256Pin {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        let mut out = [0u8; 32];
        out.copy_from_slice(&Sha256::digest(bytes));
        Self(out)
    }

    /// `Ok` when `bytes` have this digest; otherwise both digests.
    pub fn check(&self, bytes: &[u8]) -> Result<(), DigestMismatch> {
        let actual = Self::of(bytes);
        if actual == *self {
            Ok(())
        } else {
            Err(DigestMismatch {
                expected: *self,
                actual,
            })
        }
    }
}

impl fmt::Display for Sha256Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Sha256Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Pin({self})")
    }
}

impl FromStr for Sha256Pin {
    type Err = PinParseError;

    /// 64 hex digits, either case (`sha256sum` prints lower case, PowerShell upper case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || PinParseError {
            len: s.chars().count(),
        };
        let s = s.as_bytes();
        if s.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (byte, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
            let digit = |c: u8| (c as char).to_digit(16);
            let (Some(hi), Some(lo)) = (digit(pair[0]), digit(pair[1])) else {
                return Err(bad());
            };
            *byte = (hi * 16 + lo) as u8;
        }
        Ok(Self(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `printf 'abc' | sha256sum` (FIPS 180-2, appendix B.1).
    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn given_known_bytes_then_digest_is_the_published_one() {
        assert_eq!(Sha256Pin::of(b"abc").to_string(), ABC);
    }

    #[test]
    fn given_upper_or_lower_hex_then_the_same_pin_round_trips_in_lower_case() {
        let lower: Sha256Pin = ABC.parse().expect("lower");
        let upper: Sha256Pin = ABC.to_ascii_uppercase().parse().expect("upper");
        assert_eq!(lower, upper);
        assert_eq!(upper.to_string(), ABC);
    }

    #[test]
    fn given_the_pinned_bytes_then_check_passes() {
        let pin: Sha256Pin = ABC.parse().expect("pin");
        assert_eq!(pin.check(b"abc"), Ok(()));
    }

    #[test]
    fn given_changed_bytes_then_check_names_both_digests_and_not_the_bytes() {
        let pin: Sha256Pin = ABC.parse().expect("pin");
        let err = pin.check(b"abd -- secret row 4111").expect_err("changed");
        assert_eq!(err.expected, pin);
        assert_eq!(err.actual, Sha256Pin::of(b"abd -- secret row 4111"));
        let text = err.to_string();
        assert!(text.contains(ABC), "{text}");
        assert!(text.contains(&err.actual.to_string()), "{text}");
        assert!(!text.contains("4111"), "{text}");
    }

    #[test]
    fn given_not_64_hex_digits_then_parse_refuses_and_says_what_is_expected() {
        for bad in [
            "",
            "abc",
            &ABC[..63],
            &format!("{ABC}0"),
            &format!("g{}", &ABC[1..]),
            &format!("+{}", &ABC[1..]),
            &format!("é{}", &ABC[2..]),
            &format!(" {}", &ABC[1..]),
        ] {
            let err = bad.parse::<Sha256Pin>().expect_err(bad);
            assert!(err.to_string().contains("64 hex digits"), "{bad}: {err}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_input_parses_or_errs_and_never_panics(s in "\\PC{0,80}") {
            let _ = s.parse::<Sha256Pin>();
        }

        #[test]
        fn any_bytes_pass_their_own_pin_and_fail_another(bytes: Vec<u8>, flip in 0usize..64) {
            let pin = Sha256Pin::of(&bytes);
            proptest::prop_assert!(pin.check(&bytes).is_ok());
            let round: Sha256Pin = pin.to_string().parse().expect("round trip");
            proptest::prop_assert_eq!(round, pin);
            let mut other = bytes.clone();
            other.push(u8::try_from(flip).unwrap_or(0));
            proptest::prop_assert!(pin.check(&other).is_err());
        }
    }
}
