//! A borrowed view of a subscription message, for the hot path: strings point into the
//! decompressed JSON (copied only when they hold escapes), unknown fields are skipped.
//!
//! The CloudWatch processor parses every record this way ([`PayloadView::parse`]) and formats
//! straight from it; only a payload that has to be re-ingested is parsed again into an owned
//! [`crate::Payload`] (which keeps unknown fields for re-serialisation). Both accept and reject
//! the same documents: the same fields are required, with the same types.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::MessageType;
use crate::decode::{DecodeError, json_error};

/// A subscription message borrowed from its decompressed JSON; see [`crate::Payload`] for the
/// meaning of each field.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayloadView<'a> {
    /// `DATA_MESSAGE`, `CONTROL_MESSAGE` or another value.
    pub message_type: MessageType,
    /// Account id that owns the log group.
    #[serde(borrow)]
    pub owner: Cow<'a, str>,
    /// Name of the source log group.
    #[serde(borrow)]
    pub log_group: Cow<'a, str>,
    /// Name of the source log stream.
    #[serde(borrow)]
    pub log_stream: Cow<'a, str>,
    /// Names of the subscription filters (or policies) that matched.
    #[serde(default, borrow)]
    pub subscription_filters: Vec<Cow<'a, str>>,
    /// The log events, oldest first.
    #[serde(default, borrow)]
    pub log_events: Vec<EventView<'a>>,
}

/// One log event of a [`PayloadView`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EventView<'a> {
    /// CloudWatch's event id (numbers, as moto sends them, become text).
    #[serde(borrow, deserialize_with = "id_from_string_or_number")]
    pub id: Cow<'a, str>,
    /// Event time in epoch milliseconds.
    pub timestamp: i64,
    /// The log line as ingested; may contain newlines, may end with one.
    #[serde(borrow)]
    pub message: Cow<'a, str>,
}

impl<'a> PayloadView<'a> {
    /// Parses decompressed subscription JSON (see [`crate::decompress`]), borrowing from it.
    ///
    /// The whole document must be UTF-8, as for the owned parse (whose unknown fields are kept as
    /// JSON values, so every string is checked). Checking it once up front is also cheaper than
    /// string by string.
    pub fn parse(json: &'a [u8]) -> Result<Self, DecodeError> {
        match std::str::from_utf8(json) {
            Ok(text) => serde_json::from_str(text).map_err(json_error),
            Err(_) => Err(json_error(not_utf8(json))),
        }
    }

    /// Whether this is a `CONTROL_MESSAGE` (to be dropped, never delivered).
    pub fn is_control(&self) -> bool {
        self.message_type == MessageType::Control
    }
}

/// The error serde_json gives for `json`, which is not UTF-8: parsing it as a value checks every
/// string, and bytes that are not UTF-8 outside strings are syntax errors.
fn not_utf8(json: &[u8]) -> serde_json::Error {
    match serde_json::from_slice::<serde_json::Value>(json) {
        Err(e) => e,
        Ok(_) => de::Error::custom("subscription JSON is not UTF-8"),
    }
}

fn id_from_string_or_number<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Cow<'de, str>, D::Error> {
    struct IdVisitor;

    impl<'de> Visitor<'de> for IdVisitor {
        type Value = Cow<'de, str>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a log event id (string or integer)")
        }

        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(v))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v.to_owned()))
        }

        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v.to_string()))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v.to_string()))
        }
    }

    deserializer.deserialize_any(IdVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_plain_strings_then_borrowed_and_escaped_ones_owned() {
        let json = br#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","policyLevel":"X","logEvents":[{"id":"1","timestamp":2,"message":"plain"},{"id":3,"timestamp":4,"message":"a\nb","extractedFields":{"k":"v"}}]}"#;
        let v = PayloadView::parse(json).expect("parses");
        assert!(matches!(v.log_events[0].message, Cow::Borrowed("plain")));
        assert!(matches!(v.log_events[0].id, Cow::Borrowed("1")));
        assert!(matches!(&v.log_events[1].message, Cow::Owned(m) if m == "a\nb"));
        assert_eq!(v.log_events[1].id, "3");
        assert_eq!(v.log_group, "g");
    }

    #[test]
    fn given_invalid_utf8_in_an_unknown_field_then_error_like_the_owned_parse() {
        let mut json = br#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","x":"??"}"#.to_vec();
        let at = json.len() - 4;
        json[at..at + 2].copy_from_slice(&[0xff, 0xfe]);
        let err = PayloadView::parse(&json).expect_err("not UTF-8");
        assert!(matches!(err, DecodeError::Json { line: 1, .. }), "{err:?}");
        assert!(serde_json::from_slice::<crate::Payload>(&json).is_err());
    }

    #[test]
    fn given_wrong_field_type_then_error_like_the_owned_parse() {
        for json in [
            r#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","subscriptionFilters":5}"#,
            r#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","logEvents":[{"id":"1","timestamp":"x","message":"m"}]}"#,
            r#"{"messageType":"DATA_MESSAGE","logGroup":"g","logStream":"s"}"#,
        ] {
            assert!(PayloadView::parse(json.as_bytes()).is_err(), "{json}");
            assert!(
                serde_json::from_str::<crate::Payload>(json).is_err(),
                "{json}"
            );
        }
    }
}
