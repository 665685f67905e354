//! Writes a payload's events out as delivered bytes: raw log lines or JSON lines.
//!
//! Everything is appended to a caller-provided buffer, without allocating per event, and
//! [`formatted_len`] gives the exact size first (one pass over the text, no writing), so a handler
//! can decide to re-ingest a payload before formatting it.
//!
//! Raw format caveat: a message with interior newlines becomes several lines, and nothing in the
//! output marks where one event ends; only JSON lines keeps event boundaries exactly.

use crate::time::{iso8601_len, push_iso8601};
use crate::{EventView, LogEvent, Payload, PayloadView};

/// How log events are written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Each message followed by exactly one `\n` (none added when it already ends with `\n`,
    /// `\r\n` included), optionally prefixed by its UTC time, e.g. `2026-11-22T13:45:01.123Z `.
    Raw {
        /// Prefix each message with its ISO-8601 UTC timestamp and a space.
        timestamp_prefix: bool,
    },
    /// One JSON object per line:
    /// `{"timestamp":<ms>,"logGroup":…,"logStream":…,"owner":…,"id":…,"message":…}`.
    /// Unknown payload and event fields are not included.
    JsonLines,
}

/// Appends every event of `payload` to `out` in `format`. Control messages are formatted like any
/// other; callers skip them (see [`Payload::is_control`]).
pub fn format_into(payload: &Payload, format: Format, out: &mut Vec<u8>) {
    out.reserve(formatted_len(payload, format));
    write_events(&Header::of(payload), &payload.log_events, format, out);
}

/// Exact number of bytes [`format_into`] appends for `payload` in `format`.
pub fn formatted_len(payload: &Payload, format: Format) -> usize {
    events_len(&Header::of(payload), &payload.log_events, format)
}

/// Exact number of bytes [`format_into`] would append for `events` (a run of `payload`'s events,
/// or any events) under `payload`'s header, in `format`: formatting is per event, so the lengths
/// of runs add up.
pub fn formatted_len_of(payload: &Payload, events: &[LogEvent], format: Format) -> usize {
    events_len(&Header::of(payload), events, format)
}

impl PayloadView<'_> {
    /// Appends every event to `out` in `format`, exactly as [`format_into`] does for the owned
    /// payload. Reserves nothing: size `out` with [`Self::formatted_len`] first.
    pub fn format_into(&self, format: Format, out: &mut Vec<u8>) {
        write_events(&Header::of_view(self), &self.log_events, format, out);
    }

    /// Exact number of bytes [`Self::format_into`] appends in `format`.
    pub fn formatted_len(&self, format: Format) -> usize {
        events_len(&Header::of_view(self), &self.log_events, format)
    }
}

/// The payload fields every JSON line repeats.
struct Header<'a> {
    owner: &'a str,
    log_group: &'a str,
    log_stream: &'a str,
}

impl<'a> Header<'a> {
    fn of(p: &'a Payload) -> Self {
        Self {
            owner: &p.owner,
            log_group: &p.log_group,
            log_stream: &p.log_stream,
        }
    }

    fn of_view(p: &'a PayloadView<'_>) -> Self {
        Self {
            owner: &p.owner,
            log_group: &p.log_group,
            log_stream: &p.log_stream,
        }
    }
}

/// What formatting reads from an event, owned or borrowed.
trait Event {
    fn timestamp(&self) -> i64;
    fn id(&self) -> &str;
    fn message(&self) -> &str;
}

impl Event for LogEvent {
    fn timestamp(&self) -> i64 {
        self.timestamp
    }
    fn id(&self) -> &str {
        &self.id
    }
    fn message(&self) -> &str {
        &self.message
    }
}

impl Event for EventView<'_> {
    fn timestamp(&self) -> i64 {
        self.timestamp
    }
    fn id(&self) -> &str {
        &self.id
    }
    fn message(&self) -> &str {
        &self.message
    }
}

fn write_events<E: Event>(header: &Header<'_>, events: &[E], format: Format, out: &mut Vec<u8>) {
    match format {
        Format::Raw { timestamp_prefix } => {
            for event in events {
                if timestamp_prefix {
                    push_iso8601(event.timestamp(), out);
                    out.push(b' ');
                }
                let message = event.message().as_bytes();
                out.extend_from_slice(message);
                if message.last() != Some(&b'\n') {
                    out.push(b'\n');
                }
            }
        }
        Format::JsonLines => {
            for event in events {
                push_json_line(header, event, out);
            }
        }
    }
}

fn events_len<E: Event>(header: &Header<'_>, events: &[E], format: Format) -> usize {
    match format {
        Format::Raw { timestamp_prefix } => events
            .iter()
            .map(|e| {
                let prefix = if timestamp_prefix {
                    iso8601_len(e.timestamp()) + 1
                } else {
                    0
                };
                let message = e.message().as_bytes();
                prefix + message.len() + usize::from(message.last() != Some(&b'\n'))
            })
            .sum(),
        Format::JsonLines => {
            let common = JSON_LINE_KEYS.len()
                + json_str_len(header.log_group)
                + json_str_len(header.log_stream)
                + json_str_len(header.owner);
            events
                .iter()
                .map(|e| {
                    common
                        + decimal_len(e.timestamp())
                        + json_str_len(e.id())
                        + json_str_len(e.message())
                })
                .sum()
        }
    }
}

/// Every fixed byte of one JSON line.
const JSON_LINE_KEYS: &str =
    "{\"timestamp\":,\"logGroup\":,\"logStream\":,\"owner\":,\"id\":,\"message\":}\n";

fn push_json_line<E: Event>(header: &Header<'_>, event: &E, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"timestamp\":");
    push_decimal(event.timestamp(), out);
    out.extend_from_slice(b",\"logGroup\":");
    push_json_str(header.log_group, out);
    out.extend_from_slice(b",\"logStream\":");
    push_json_str(header.log_stream, out);
    out.extend_from_slice(b",\"owner\":");
    push_json_str(header.owner, out);
    out.extend_from_slice(b",\"id\":");
    push_json_str(event.id(), out);
    out.extend_from_slice(b",\"message\":");
    push_json_str(event.message(), out);
    out.extend_from_slice(b"}\n");
}

/// How serde_json escapes a byte: 0 = as is, otherwise the short escape letter, or `u` for
/// `\u00XX`.
fn escape(b: u8) -> u8 {
    match b {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x09 => b't',
        0x0A => b'n',
        0x0C => b'f',
        0x0D => b'r',
        0x00..=0x1F => b'u',
        _ => 0,
    }
}

/// Whether no byte of `bytes` needs escaping in a JSON string: a branch-free check per 64-byte
/// chunk (it vectorises), so plain text costs one pass and then a plain copy.
fn is_plain(bytes: &[u8]) -> bool {
    bytes.chunks(64).all(|chunk| {
        !chunk.iter().fold(false, |acc, &b| {
            acc | (b < 0x20) | (b == b'"') | (b == b'\\')
        })
    })
}

/// Appends `s` as a JSON string literal, escaped exactly as serde_json does.
fn push_json_str(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.push(b'"');
    if is_plain(bytes) {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc = escape(b);
        if esc == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        if esc == b'u' {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xF)]);
        } else {
            out.push(b'\\');
            out.push(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Length of `s` as written by [`push_json_str`], quotes included.
fn json_str_len(s: &str) -> usize {
    if is_plain(s.as_bytes()) {
        return 2 + s.len();
    }
    2 + s
        .bytes()
        .map(|b| match escape(b) {
            0 => 1,
            b'u' => 6,
            _ => 2,
        })
        .sum::<usize>()
}

/// Appends `n` in decimal without allocating.
fn push_decimal(n: i64, out: &mut Vec<u8>) {
    if n < 0 {
        out.push(b'-');
    }
    let mut digits = [0u8; 20];
    let mut rest = n.unsigned_abs();
    let mut i = digits.len();
    loop {
        i -= 1;
        // rest % 10 is a single digit.
        digits[i] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Length of `n` in decimal, sign included.
fn decimal_len(n: i64) -> usize {
    let digits = n
        .unsigned_abs()
        .checked_ilog10()
        .map_or(1, |d| d as usize + 1);
    digits + usize::from(n < 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_edge_numbers_then_decimal_matches_to_string() {
        for n in [0, 9, 10, -1, -10, i64::MIN, i64::MAX, 1_795_355_101_123] {
            let mut out = Vec::new();
            push_decimal(n, &mut out);
            assert_eq!(out, n.to_string().as_bytes());
            assert_eq!(decimal_len(n), out.len());
        }
    }

    #[test]
    fn given_every_control_char_then_escaping_matches_serde_json() {
        let s: String = (0u8..0x80).map(char::from).chain("é日🚀".chars()).collect();
        let mut out = Vec::new();
        push_json_str(&s, &mut out);
        assert_eq!(out, serde_json::to_vec(&s).expect("ok"));
        assert_eq!(json_str_len(&s), out.len());
    }
}
