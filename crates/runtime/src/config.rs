//! Configuration from environment variables, read once at cold start.
//!
//! Every function reads its settings through an [`Env`], which wraps a lookup function so
//! tests inject a map instead of touching the process environment. Errors name the variable.

use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;

/// A configuration value that is missing or cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is not set (or is empty).
    #[error("environment variable {var} is required but not set")]
    Missing {
        /// The variable's name.
        var: String,
    },
    /// A variable is set to a value that cannot be used.
    #[error("environment variable {var}={value:?} is invalid: {reason}")]
    Invalid {
        /// The variable's name.
        var: String,
        /// The value as found.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl ConfigError {
    /// Builds an [`ConfigError::Invalid`] for `var` set to `value`.
    pub fn invalid(var: &str, value: &str, reason: impl Display) -> Self {
        Self::Invalid {
            var: var.to_owned(),
            value: value.to_owned(),
            reason: reason.to_string(),
        }
    }
}

/// A variable lookup: the process environment, or a map in tests.
type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Reads variables through an injectable lookup (the process environment in production).
pub struct Env {
    lookup: Lookup,
}

impl Env {
    /// Reads the real process environment.
    pub fn from_process() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads through `lookup`; tests pass a closure over a map.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        Self {
            lookup: Box::new(lookup),
        }
    }

    /// Reads from a fixed set of pairs (tests, local tools).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let map: HashMap<String, String> = pairs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Self::from_lookup(move |name| map.get(name).cloned())
    }

    /// The variable's value, with surrounding white space trimmed; `None` when unset or empty.
    pub fn optional(&self, var: &str) -> Option<String> {
        (self.lookup)(var)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// The variable's value, or [`ConfigError::Missing`] naming it.
    pub fn required(&self, var: &str) -> Result<String, ConfigError> {
        self.optional(var).ok_or_else(|| ConfigError::Missing {
            var: var.to_owned(),
        })
    }

    /// Parses the variable with [`FromStr`], or returns `default` when unset.
    pub fn parse_or<T>(&self, var: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.optional(var) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|e| ConfigError::invalid(var, &v, e)),
        }
    }

    /// Parses a required variable with [`FromStr`].
    pub fn parse_required<T>(&self, var: &str) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        let v = self.required(var)?;
        v.parse().map_err(|e| ConfigError::invalid(var, &v, e))
    }

    /// A boolean, strictly: `true` or `false` (any case); anything else is an error, so a
    /// typo never silently becomes `true`. Unset gives `default`.
    pub fn bool_or(&self, var: &str, default: bool) -> Result<bool, ConfigError> {
        match self.optional(var) {
            None => Ok(default),
            Some(v) => parse_bool(&v)
                .ok_or_else(|| ConfigError::invalid(var, &v, "expected \"true\" or \"false\"")),
        }
    }

    /// A comma-separated list; blanks between commas are skipped. Unset gives an empty list.
    pub fn list(&self, var: &str) -> Vec<String> {
        self.optional(var)
            .map(|v| split_list(&v))
            .unwrap_or_default()
    }
}

/// Parses `true`/`false` (any case, trimmed) and nothing else.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// Splits a comma-separated list, trimming items and skipping empty ones.
pub fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_unset_required_variable_then_error_names_it() {
        let env = Env::from_pairs([("OTHER", "x")]);
        let err = env.required("BUCKET_NAME").unwrap_err();
        assert_eq!(
            err,
            ConfigError::Missing {
                var: "BUCKET_NAME".into()
            }
        );
        assert!(err.to_string().contains("BUCKET_NAME"));
    }

    #[test]
    fn given_blank_value_then_it_counts_as_unset() {
        let env = Env::from_pairs([("BUCKET_NAME", "   ")]);
        assert!(env.required("BUCKET_NAME").is_err());
        assert_eq!(env.optional("BUCKET_NAME"), None);
    }

    #[test]
    fn given_unparsable_number_then_error_names_variable_and_value() {
        let env = Env::from_pairs([("MAX_KEYS", "ten")]);
        let err = env.parse_or::<u32>("MAX_KEYS", 5).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("MAX_KEYS") && text.contains("ten"), "{text}");
        assert_eq!(Env::from_pairs([]).parse_or::<u32>("MAX_KEYS", 5), Ok(5));
        assert_eq!(
            Env::from_pairs([("MAX_KEYS", " 7 ")]).parse_required::<u32>("MAX_KEYS"),
            Ok(7)
        );
    }

    #[test]
    fn booleans_are_parsed_strictly() {
        let env = Env::from_pairs([("A", "TRUE"), ("B", "false"), ("C", "yes"), ("D", "0")]);
        assert_eq!(env.bool_or("A", false), Ok(true));
        assert_eq!(env.bool_or("B", true), Ok(false));
        assert!(
            env.bool_or("C", false)
                .unwrap_err()
                .to_string()
                .contains('C')
        );
        assert!(env.bool_or("D", false).is_err());
        assert_eq!(env.bool_or("UNSET", true), Ok(true));
    }

    #[test]
    fn lists_skip_blanks_and_trim() {
        let env = Env::from_pairs([("L", " a, ,b ,c,")]);
        assert_eq!(env.list("L"), vec!["a", "b", "c"]);
        assert!(env.list("NONE").is_empty());
    }
}
