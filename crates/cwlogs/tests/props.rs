//! Property tests: formatting splits back into the input events, split/encode/decode conserves
//! events, and decoding arbitrary bytes is an error, never a panic.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use proptest::prelude::*;
use sluice_cwlogs::{
    Format, LogEvent, MessageType, Payload, PayloadView, decode, decode_all, decompress, encode,
    format_into, formatted_len, split_in_halves,
};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(bytes).expect("in memory");
    enc.finish().expect("in memory")
}

/// Fields other than the modelled ones, with keys that cannot collide with them.
fn extra() -> impl Strategy<Value = serde_json::Map<String, serde_json::Value>> {
    proptest::collection::btree_map("x-[a-zA-Z]{1,8}", any::<String>(), 0..3).prop_map(|m| {
        m.into_iter()
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect()
    })
}

fn payload_with(messages: impl Strategy<Value = String>) -> impl Strategy<Value = Payload> {
    let event = (any::<String>(), any::<i64>(), messages, extra()).prop_map(
        |(id, timestamp, message, extra)| LogEvent {
            id,
            timestamp,
            message,
            extra,
        },
    );
    (
        any::<String>(),
        any::<String>(),
        any::<String>(),
        proptest::collection::vec(any::<String>(), 0..3),
        proptest::collection::vec(event, 0..12),
        extra(),
    )
        .prop_map(
            |(owner, log_group, log_stream, subscription_filters, log_events, extra)| Payload {
                message_type: MessageType::Data,
                owner,
                log_group,
                log_stream,
                subscription_filters,
                log_events,
                extra,
            },
        )
}

/// Messages without interior newlines, some ending in `\n` or `\r\n`. (A message with interior
/// newlines becomes several raw lines: a known ambiguity of the raw format.)
fn single_line_message() -> impl Strategy<Value = String> {
    ("[^\n]*", prop_oneof![Just(""), Just("\n"), Just("\r\n")])
        .prop_map(|(body, end)| format!("{body}{end}"))
}

fn format(p: &Payload, f: Format) -> Vec<u8> {
    let mut out = Vec::new();
    format_into(p, f, &mut out);
    out
}

proptest! {
    #[test]
    fn raw_without_prefix_splits_back_into_events(p in payload_with(single_line_message())) {
        let out = format(&p, Format::Raw { timestamp_prefix: false });
        prop_assert_eq!(out.len(), formatted_len(&p, Format::Raw { timestamp_prefix: false }));
        let text = String::from_utf8(out).expect("utf-8");
        let lines: Vec<&str> = text.split_terminator('\n').collect();
        let expected: Vec<&str> = p
            .log_events
            .iter()
            .map(|e| e.message.strip_suffix('\n').unwrap_or(&e.message))
            .collect();
        prop_assert_eq!(lines, expected);
    }

    #[test]
    fn raw_with_prefix_has_exact_len_and_one_line_per_event(p in payload_with(single_line_message())) {
        let f = Format::Raw { timestamp_prefix: true };
        let out = format(&p, f);
        prop_assert_eq!(out.len(), formatted_len(&p, f));
        prop_assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), p.log_events.len());
    }

    #[test]
    fn json_lines_split_back_into_events(p in payload_with(any::<String>())) {
        let out = format(&p, Format::JsonLines);
        prop_assert_eq!(out.len(), formatted_len(&p, Format::JsonLines));
        let text = String::from_utf8(out).expect("utf-8");
        let lines: Vec<&str> = text.split_terminator('\n').collect();
        prop_assert_eq!(lines.len(), p.log_events.len());
        for (line, e) in lines.iter().zip(&p.log_events) {
            let v: serde_json::Value = serde_json::from_str(line).expect("valid JSON");
            prop_assert_eq!(v["timestamp"].as_i64(), Some(e.timestamp));
            prop_assert_eq!(v["id"].as_str(), Some(e.id.as_str()));
            prop_assert_eq!(v["message"].as_str(), Some(e.message.as_str()));
            prop_assert_eq!(v["logGroup"].as_str(), Some(p.log_group.as_str()));
            prop_assert_eq!(v["logStream"].as_str(), Some(p.log_stream.as_str()));
            prop_assert_eq!(v["owner"].as_str(), Some(p.owner.as_str()));
        }
    }

    #[test]
    fn split_encode_decode_conserves_events(p in payload_with(any::<String>())) {
        prop_assert_eq!(&decode(&encode(&p), usize::MAX).expect("round trip"), &p);
        match split_in_halves(&p) {
            None => prop_assert!(p.log_events.len() <= 1),
            Some((a, b)) => {
                let a = decode(&encode(&a), usize::MAX).expect("first half");
                let b = decode(&encode(&b), usize::MAX).expect("second half");
                prop_assert!(!a.log_events.is_empty() && !b.log_events.is_empty());
                prop_assert_eq!((&a.log_group, &a.extra), (&p.log_group, &p.extra));
                prop_assert_eq!((&b.log_stream, &b.owner), (&p.log_stream, &p.owner));
                let mut events = a.log_events;
                events.extend(b.log_events);
                prop_assert_eq!(events, p.log_events);
            }
        }
    }

    #[test]
    fn decode_of_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(&bytes, 4096);
        let mut with_magic = vec![0x1f, 0x8b];
        with_magic.extend_from_slice(&bytes);
        let _ = decode(&with_magic, 4096);
        let _ = decode_all(&with_magic, 4096);
        let _ = decode(&gzip(&bytes), 4096);
        let _ = decode(&gzip(&bytes), 0);
    }

    #[test]
    fn decode_of_mangled_payload_never_panics(
        p in payload_with(any::<String>()),
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
    ) {
        let json = serde_json::to_vec(&p).expect("serialises");
        let _ = decode(&gzip(&json[..cut.index(json.len() + 1)]), 1 << 16);
        let mut gz = encode(&p);
        let i = flip.index(gz.len());
        gz[i] ^= 0x5a;
        let _ = decode(&gz, 1 << 16);
    }

    #[test]
    fn borrowed_view_formats_exactly_like_the_owned_payload(
        p in payload_with(any::<String>()),
        f in prop_oneof![
            Just(Format::Raw { timestamp_prefix: false }),
            Just(Format::Raw { timestamp_prefix: true }),
            Just(Format::JsonLines),
        ],
    ) {
        let json = decompress(&encode(&p), usize::MAX).expect("gunzips");
        let view = PayloadView::parse(&json).expect("parses");
        prop_assert_eq!(view.formatted_len(f), formatted_len(&p, f));
        let mut out = Vec::new();
        view.format_into(f, &mut out);
        prop_assert_eq!(out, format(&p, f));
    }

    #[test]
    fn borrowed_view_and_owned_parse_accept_the_same_documents(
        p in payload_with(any::<String>()),
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut json = serde_json::to_vec(&p).expect("serialises");
        let i = flip.index(json.len());
        json[i] = byte;
        json.truncate(cut.index(json.len() + 1).max(i + 1));
        let owned = serde_json::from_slice::<Payload>(&json);
        prop_assert_eq!(PayloadView::parse(&json).is_ok(), owned.is_ok(), "{:?}", owned.err());
    }
}
