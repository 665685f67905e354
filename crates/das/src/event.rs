//! A light view of each activity event, and its NDJSON line.
//!
//! Plaintext shape (Aurora PostgreSQL / MySQL, RDS for Oracle / SQL Server, versions 1.1 and 1.2):
//! `{"type":"DatabaseActivityMonitoringRecord","clusterId","instanceId","databaseActivityEventList":[…]}`
//! (<https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/DBActivityStreams.Monitoring.html>).
//! Events stay as the raw JSON text they arrived in (see [`crate::payload`]), so every field,
//! known or not, is emitted exactly as received; [`EventView`] reads only what filtering and
//! routing need, with the scanner of [`crate::scan`].

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, Visitor};

use crate::scan::{Cursor, MAX_NESTING, Stop};

/// What filtering and routing read from one event; other fields are left in the raw text.
#[derive(Debug, Default)]
pub struct EventView<'a> {
    /// `type`: `record` or `heartbeat`.
    pub kind: Text<'a>,
    /// `class`, e.g. `READ`, `WRITE`, `DDL`, `MISC`.
    pub class: Text<'a>,
    /// `command`, e.g. `SELECT`, `CONNECT`, `CREATE INDEX`.
    pub command: Text<'a>,
    /// `databaseName`: the database the command ran in.
    pub database_name: Text<'a>,
    /// `dbUserName`: the database user.
    pub db_user_name: Text<'a>,
    /// `logTime`: when the event was logged (string or epoch number).
    pub log_time: Time<'a>,
    /// `startTime`: when the statement started (string or epoch number).
    pub start_time: Time<'a>,
    /// `serverType`: the engine (`PostgreSQL`, `MySQL`, `ORACLE`, `SQLSERVER`).
    pub server_type: Text<'a>,
    /// Where `commandText`'s string (its quotes included) lies in the event's raw text, when it
    /// is a string.
    pub command_text: Option<Range<usize>>,
    /// Where `paramList`'s value lies in the event's raw text, when present.
    pub param_list: Option<Range<usize>>,
}

impl<'a> EventView<'a> {
    /// Reads the view of one event object, checking all of it is valid JSON (for tests).
    #[cfg(test)]
    pub(crate) fn parse(json: &'a str) -> Result<Self, crate::record::JsonFault> {
        let mut at = Cursor::new(json);
        Self::read(&mut at)
            .and_then(|view| match at.at_end() {
                true => Ok(view),
                false => Err(at.stop("syntax")),
            })
            .map_err(|Stop| at.fault())
    }

    /// Reads the event object at the cursor (at its `{`), checking every value. Unknown fields
    /// are skipped; a known field given twice is refused, as serde would. Spans are relative
    /// to the `{`.
    pub(crate) fn read(at: &mut Cursor<'a>) -> Result<Self, Stop> {
        let mut view = Self::default();
        let mut seen = 0u16;
        let base = at.pos();
        at.expect(b'{')?;
        if at.eat(b'}') {
            return Ok(view);
        }
        loop {
            at.skip_ws();
            let start = at.pos();
            let field = match at.string()? {
                false => field_of(at.string_bytes(start)),
                true => field_of(at.str_value(start, true)?.as_bytes()),
            };
            at.expect(b':')?;
            if field == NOT_READ {
                // Most values of the fields not read are strings: passed here without a call.
                if at.peek() == Some(b'"') {
                    at.string()?;
                } else {
                    at.skip_value(MAX_NESTING - 1)?;
                }
            } else {
                at.skip_ws();
                if seen & (1 << field) != 0 {
                    return Err(at.stop("data"));
                }
                seen |= 1 << field;
                match field {
                    0 => view.kind = Text::read(at)?,
                    1 => view.class = Text::read(at)?,
                    2 => view.command = Text::read(at)?,
                    3 => view.database_name = Text::read(at)?,
                    4 => view.db_user_name = Text::read(at)?,
                    5 => view.log_time = Time::read(at)?,
                    6 => view.start_time = Time::read(at)?,
                    7 => view.server_type = Text::read(at)?,
                    8 => {
                        let start = at.pos();
                        let is_string = at.peek() == Some(b'"');
                        at.skip_value(MAX_NESTING - 1)?;
                        view.command_text = is_string.then(|| start - base..at.pos() - base);
                    }
                    _ => {
                        let start = at.pos();
                        at.skip_value(MAX_NESTING - 1)?;
                        view.param_list = Some(start - base..at.pos() - base);
                    }
                }
            }
            if !at.eat(b',') {
                at.expect(b'}')?;
                return Ok(view);
            }
        }
    }

    /// Whether this is a heartbeat (always dropped).
    pub fn is_heartbeat(&self) -> bool {
        self.kind
            .as_deref()
            .is_some_and(|k| k.eq_ignore_ascii_case("heartbeat"))
    }

    /// The event's own time in UTC epoch ms: `logTime`, else `startTime`.
    pub fn epoch_ms(&self) -> Option<i64> {
        self.log_time
            .epoch_ms()
            .or_else(|| self.start_time.epoch_ms())
    }
}

/// [`field_of`] a key not read.
const NOT_READ: u8 = u8::MAX;

/// Which [`EventView`] field a key names, [`NOT_READ`] for one not read.
#[inline(always)]
fn field_of(key: &[u8]) -> u8 {
    match key {
        b"type" => 0,
        b"class" => 1,
        b"command" => 2,
        b"databaseName" => 3,
        b"dbUserName" => 4,
        b"logTime" => 5,
        b"startTime" => 6,
        b"serverType" => 7,
        b"commandText" => 8,
        b"paramList" => 9,
        _ => NOT_READ,
    }
}

/// A field that is a string when it is one; any other JSON value (null, number, object) reads as
/// absent, so a type change in a new DAS version never fails the record.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Text<'a>(pub Option<Cow<'a, str>>);

impl<'a> Text<'a> {
    /// The string, if the field was one.
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// Reads the value at the cursor: a string's value, or absent for any other value.
    #[inline]
    pub(crate) fn read(at: &mut Cursor<'a>) -> Result<Self, Stop> {
        if at.peek() == Some(b'"') {
            return Ok(Text(Some(at.read_str()?)));
        }
        at.skip_value(MAX_NESTING - 1)?;
        Ok(Text(None))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(v))))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Text(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Text(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Text(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Text(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Text(None))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, a: A) -> Result<Self::Value, A::Error> {
                IgnoredAny.visit_seq(a).map(|_| Text(None))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, a: A) -> Result<Self::Value, A::Error> {
                IgnoredAny.visit_map(a).map(|_| Text(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// An event time field as read, turned into UTC epoch ms when asked ([`Time::epoch_ms`]).
///
/// A string is parsed only then: most events are dropped, and a kept one needs only `logTime`.
/// A number is read at once by serde_json (so huge and fractional numbers read, or are refused,
/// exactly as serde reads them); any other value reads as absent.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub enum Time<'a> {
    /// Absent, or a value that cannot be a time (null, bool, array, object).
    #[default]
    Absent,
    /// A time string such as `2026-11-22 13:45:01.123456+00`, not parsed yet.
    Text(Cow<'a, str>),
    /// An epoch number in UTC epoch ms (`None` when it is out of range).
    Epoch(Option<i64>),
}

impl<'a> Time<'a> {
    /// The time in UTC epoch ms; `None` when absent or unparsable.
    pub fn epoch_ms(&self) -> Option<i64> {
        match self {
            Time::Absent => None,
            Time::Text(text) => crate::time::parse_str(text),
            Time::Epoch(ms) => *ms,
        }
    }

    /// Reads the value at the cursor: a string as it is, a number through serde_json, anything
    /// else as absent.
    pub(crate) fn read(at: &mut Cursor<'a>) -> Result<Self, Stop> {
        match at.peek() {
            Some(b'"') => Ok(Time::Text(at.read_str()?)),
            Some(b'-' | b'0'..=b'9') => at.read_number(),
            _ => {
                at.skip_value(MAX_NESTING - 1)?;
                Ok(Time::Absent)
            }
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Time<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use crate::time::{from_f64, from_i64};
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Time<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Time::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Time::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Time::Text(Cow::Owned(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Time::Epoch(from_i64(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Time::Epoch(i64::try_from(v).ok().and_then(from_i64)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Time::Epoch(from_f64(v)))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Time::Absent)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Time::Absent)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, a: A) -> Result<Self::Value, A::Error> {
                IgnoredAny.visit_seq(a).map(|_| Time::Absent)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, a: A) -> Result<Self::Value, A::Error> {
                IgnoredAny.visit_map(a).map(|_| Time::Absent)
            }
        }
        d.deserialize_any(V)
    }
}

/// Appends an event's raw JSON text to `out` as one NDJSON line. Line breaks can only be
/// insignificant white space in JSON text (inside strings they are escaped), so they become
/// spaces and the line stays one event, its fields otherwise byte for byte as received.
pub fn push_ndjson_line(out: &mut Vec<u8>, text: &[u8]) {
    if memchr::memchr2(b'\n', b'\r', text).is_some() {
        out.extend(
            text.iter()
                .map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b }),
        );
    } else {
        out.extend_from_slice(text);
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    #[test]
    fn given_pretty_printed_event_when_written_then_one_line() {
        let raw = RawValue::from_string("{\n  \"a\": \"x\\ny\"\r\n}".into()).expect("raw");
        let mut out = Vec::new();
        push_ndjson_line(&mut out, raw.get().as_bytes());
        assert_eq!(out, b"{   \"a\": \"x\\ny\"  }\n");
        let back: serde_json::Value = serde_json::from_slice(&out).expect("valid json");
        assert_eq!(back["a"], "x\ny");
    }

    #[test]
    fn given_fields_of_unexpected_types_when_viewed_then_absent_not_error() {
        let v = EventView::parse(
            r#"{"type":"record","class":null,"command":42,"databaseName":["a"],"dbUserName":{"n":1},
                "logTime":1795000000000,"startTime":"garbage"}"#,
        )
        .expect("parses");
        assert_eq!(v.class.as_deref(), None);
        assert_eq!(v.command.as_deref(), None);
        assert_eq!(v.epoch_ms(), Some(1_795_000_000_000));
        assert!(!v.is_heartbeat());
    }

    #[test]
    fn given_no_log_time_then_start_time_is_used() {
        let v = EventView::parse(r#"{"startTime":"2021-06-04 02:12:04.649566+00"}"#).expect("ok");
        assert!(v.epoch_ms().is_some());
    }
}
