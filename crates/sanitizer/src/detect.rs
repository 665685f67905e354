//! The leak check's pattern detectors: what a production value looks like when a script left
//! it in a text column.
//!
//! Used by [`crate::leak`] on the values it fetched after the script ran. A detector only says
//! whether a value matches; the value itself never leaves this module's caller.
//!
//! - `email`: an address whose domain is not one reserved for examples and tests (RFC 2606 and
//!   RFC 6761: `example.com`/`.net`/`.org` and anything under `.example`, `.invalid`, `.test`,
//!   `.localhost`), so `customer7@example.invalid` is a masked value, not a leak.
//! - `card`: 13 to 19 digits, in groups separated by single spaces or dashes, that pass the
//!   Luhn check.
//! - every configured pattern (`SANITIZER_LEAK_PATTERNS`), by its name.

use regex::Regex;

/// Name of the e-mail address detector.
pub const EMAIL: &str = "email";
/// Name of the card number detector.
pub const CARD: &str = "card";

/// Domains reserved for documentation and tests (RFC 2606, RFC 6761).
const RESERVED_DOMAINS: [&str; 3] = ["example.com", "example.net", "example.org"];
/// Top-level domains reserved for documentation and tests (RFC 2606, RFC 6761).
const RESERVED_TLDS: [&str; 4] = ["example", "invalid", "test", "localhost"];

/// A configured pattern that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// Not a JSON object of names to regular expressions.
    #[error("expected a JSON object of detector names to regular expressions: {0}")]
    NotJson(String),
    /// A name that is empty, not `[a-z0-9_-]`, or the name of a built-in detector.
    #[error(
        "detector name `{0}` must be lower-case letters, digits, `_` or `-`, and not `email` or `card`"
    )]
    BadName(String),
    /// A regular expression that does not compile.
    #[error("detector `{name}`: {reason}")]
    BadRegex {
        /// The detector's name.
        name: String,
        /// Why it does not compile.
        reason: String,
    },
}

/// Reads `SANITIZER_LEAK_PATTERNS`: a JSON object `{"name": "regex", …}` (empty: none).
pub fn parse_patterns(json: &str) -> Result<Vec<(String, String)>, PatternError> {
    if json.trim().is_empty() {
        return Ok(Vec::new());
    }
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(json).map_err(|e| PatternError::NotJson(e.to_string()))?;
    let patterns = map
        .into_iter()
        .map(|(name, value)| match value {
            serde_json::Value::String(regex) => Ok((name, regex)),
            _ => Err(PatternError::NotJson(format!("`{name}` is not a string"))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Compiles each one, so a bad pattern fails at start, naming it.
    Detectors::new(&patterns)?;
    Ok(patterns)
}

/// The built-in detectors plus the configured ones, compiled once.
#[derive(Debug, Clone)]
pub struct Detectors {
    email: Regex,
    card: Regex,
    patterns: Vec<(String, Regex)>,
}

impl Detectors {
    /// Compiles the built-in detectors and `patterns` (name, regex).
    pub fn new(patterns: &[(String, String)]) -> Result<Self, PatternError> {
        let compiled = patterns
            .iter()
            .map(|(name, regex)| {
                let ok_name = !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-".contains(c))
                    && name != EMAIL
                    && name != CARD;
                if !ok_name {
                    return Err(PatternError::BadName(name.clone()));
                }
                Regex::new(regex)
                    .map(|r| (name.clone(), r))
                    .map_err(|e| PatternError::BadRegex {
                        name: name.clone(),
                        reason: e.to_string(),
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            email: builtin(
                r"(?i)[a-z0-9._%+-]+@((?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,63})\b",
            ),
            card: builtin(r"\b[0-9](?:[ -]?[0-9])*\b"),
            patterns: compiled,
        })
    }

    /// Every detector's name, built-in ones first.
    pub fn names(&self) -> Vec<String> {
        [EMAIL, CARD]
            .into_iter()
            .map(str::to_owned)
            .chain(self.patterns.iter().map(|(n, _)| n.clone()))
            .collect()
    }

    /// The names of the detectors that fire on `value`, built-in ones first.
    pub fn fired<'a>(&'a self, value: &str) -> Vec<&'a str> {
        let mut names = Vec::new();
        if self.has_email(value) {
            names.push(EMAIL);
        }
        if self.has_card(value) {
            names.push(CARD);
        }
        for (name, regex) in &self.patterns {
            if regex.is_match(value) {
                names.push(name.as_str());
            }
        }
        names
    }

    /// `value` holds an e-mail address outside the reserved domains.
    pub fn has_email(&self, value: &str) -> bool {
        self.email
            .captures_iter(value)
            .filter_map(|c| c.get(1))
            .any(|domain| !is_reserved_domain(domain.as_str()))
    }

    /// `value` holds a Luhn-valid card number (13–19 digits; groups split by a space or dash).
    pub fn has_card(&self, value: &str) -> bool {
        self.card.find_iter(value).any(|m| holds_card(m.as_str()))
    }
}

/// A built-in expression: a constant, tested below, so it always compiles.
fn builtin(regex: &str) -> Regex {
    #[allow(
        clippy::expect_used,
        reason = "constant expressions, covered by unit tests"
    )]
    Regex::new(regex).expect("built-in detector expression")
}

/// The domain is reserved for documentation and tests (RFC 2606, RFC 6761).
pub fn is_reserved_domain(domain: &str) -> bool {
    let domain = domain.to_ascii_lowercase();
    let tld = domain.rsplit('.').next().unwrap_or("");
    RESERVED_TLDS.contains(&tld)
        || RESERVED_DOMAINS
            .iter()
            .any(|d| domain == *d || domain.ends_with(&format!(".{d}")))
}

/// A run of digit groups holds, at group boundaries, 13–19 digits that pass the Luhn check.
fn holds_card(run: &str) -> bool {
    let groups: Vec<&str> = run.split([' ', '-']).collect();
    (0..groups.len()).any(|start| {
        let mut digits = String::new();
        for g in &groups[start..] {
            digits.push_str(g);
            if digits.len() > 19 {
                return false;
            }
            if digits.len() >= 13 && luhn_valid(&digits) {
                return true;
            }
        }
        false
    })
}

/// The Luhn check over a string of ASCII digits (false for anything else or nothing).
pub fn luhn_valid(digits: &str) -> bool {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let twice = d * 2;
                if twice > 9 { twice - 9 } else { twice }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
#[path = "detect_tests.rs"]
mod tests;
