//! The decompressed subscription message: what CloudWatch Logs sends, field for field.
//!
//! Unknown fields (such as `policyLevel`, added by account-level subscription policies) are kept in
//! `extra` and written back by [`crate::encode`], so re-ingested payloads keep them.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A CloudWatch Logs subscription message, as found (gzipped) in a Firehose or Kinesis record.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Payload {
    /// `DATA_MESSAGE` carries log events; `CONTROL_MESSAGE` only checks the destination is reachable.
    pub message_type: MessageType,
    /// Account id that owns the log group (`CloudwatchLogs` in control messages).
    pub owner: String,
    /// Name of the source log group.
    pub log_group: String,
    /// Name of the source log stream.
    pub log_stream: String,
    /// Names of the subscription filters (or policies) that matched.
    #[serde(default)]
    pub subscription_filters: Vec<String>,
    /// The log events, oldest first as CloudWatch sends them.
    #[serde(default)]
    pub log_events: Vec<LogEvent>,
    /// Fields we do not model (e.g. `policyLevel`), kept for re-serialisation.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Payload {
    /// Whether this is a `CONTROL_MESSAGE` (to be dropped, never delivered).
    pub fn is_control(&self) -> bool {
        self.message_type == MessageType::Control
    }
}

/// One log event of a [`Payload`].
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct LogEvent {
    /// CloudWatch's event id (a 56-digit decimal string; numbers are accepted and kept as text).
    #[serde(deserialize_with = "id_from_string_or_number")]
    pub id: String,
    /// Event time in epoch milliseconds.
    pub timestamp: i64,
    /// The log line as ingested; may contain newlines, may end with one.
    pub message: String,
    /// Fields we do not model, kept for re-serialisation.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// The `messageType` of a [`Payload`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// `DATA_MESSAGE`: carries log events.
    Data,
    /// `CONTROL_MESSAGE`: a reachability check from CloudWatch Logs; carries no real events.
    Control,
    /// Any other value, kept verbatim.
    Other(String),
}

impl MessageType {
    /// The wire string.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Data => "DATA_MESSAGE",
            Self::Control => "CONTROL_MESSAGE",
            Self::Other(s) => s,
        }
    }
}

impl Serialize for MessageType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for MessageType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Ok(match s.as_str() {
            "DATA_MESSAGE" => Self::Data,
            "CONTROL_MESSAGE" => Self::Control,
            _ => Self::Other(s),
        })
    }
}

/// CloudWatch sends ids as strings; moto (our fixtures' source) sends small integers.
fn id_from_string_or_number<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<String, D::Error> {
    struct IdVisitor;

    impl Visitor<'_> for IdVisitor {
        type Value = String;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a log event id (string or integer)")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }

        fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
            Ok(v)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
    }

    deserializer.deserialize_any(IdVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_unknown_message_type_when_round_tripped_then_kept_verbatim() {
        let t: MessageType = serde_json::from_str(r#""FUTURE_MESSAGE""#).expect("parses");
        assert_eq!(t, MessageType::Other("FUTURE_MESSAGE".into()));
        assert_eq!(
            serde_json::to_string(&t).expect("ok"),
            r#""FUTURE_MESSAGE""#
        );
    }

    #[test]
    fn given_numeric_id_when_parsed_then_kept_as_text() {
        let e: LogEvent =
            serde_json::from_str(r#"{"id":7,"timestamp":1,"message":"m"}"#).expect("parses");
        assert_eq!(e.id, "7");
    }

    #[test]
    fn given_unknown_event_field_when_round_tripped_then_kept() {
        let json = r#"{"id":"1","timestamp":1,"message":"m","extractedFields":{"a":"b"}}"#;
        let e: LogEvent = serde_json::from_str(json).expect("parses");
        assert_eq!(serde_json::to_string(&e).expect("ok"), json);
    }
}
