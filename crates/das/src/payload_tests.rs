use proptest::prelude::*;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::*;
use crate::event::Time;

/// The reading this module replaced, kept as the oracle: serde's own parse of the payload with
/// each event captured as a `RawValue`, then each event's view read from it by serde.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Oracle<'a> {
    #[serde(default, borrow)]
    cluster_id: Text<'a>,
    #[serde(default, borrow)]
    instance_id: Text<'a>,
    #[serde(borrow)]
    database_activity_event_list: Vec<&'a RawValue>,
}

/// [`EventView`] as serde reads it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OracleView<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Text<'a>,
    #[serde(default, borrow)]
    class: Text<'a>,
    #[serde(default, borrow)]
    command: Text<'a>,
    #[serde(default, borrow)]
    database_name: Text<'a>,
    #[serde(default, borrow)]
    db_user_name: Text<'a>,
    #[serde(default, borrow)]
    log_time: Time<'a>,
    #[serde(default, borrow)]
    start_time: Time<'a>,
    #[serde(default, borrow)]
    server_type: Text<'a>,
    #[serde(default, borrow)]
    command_text: Option<&'a RawValue>,
    #[serde(default, borrow)]
    param_list: Option<&'a RawValue>,
}

impl OracleView<'_> {
    /// As [`describe`] reads our view: `commandText` only when it is a string.
    fn describe(self) -> String {
        let command_text = self
            .command_text
            .map(RawValue::get)
            .filter(|t| t.starts_with('"'));
        let param_list = self.param_list.map(RawValue::get);
        let view = EventView {
            kind: self.kind,
            class: self.class,
            command: self.command,
            database_name: self.database_name,
            db_user_name: self.db_user_name,
            log_time: self.log_time,
            start_time: self.start_time,
            server_type: self.server_type,
            command_text: None,
            param_list: None,
        };
        format!("{view:?} {command_text:?} {param_list:?}")
    }
}

/// A view as comparable text: its fields, each span as the text it points at in `raw` (a
/// `null` `paramList` as none, as serde reads it).
fn describe(raw: &str, view: EventView<'_>) -> String {
    let at = |span: &Option<std::ops::Range<usize>>| {
        span.clone()
            .and_then(|s| raw.get(s))
            .filter(|t| *t != "null")
    };
    let (command_text, param_list) = (at(&view.command_text), at(&view.param_list));
    let view = EventView {
        command_text: None,
        param_list: None,
        ..view
    };
    format!("{view:?} {command_text:?} {param_list:?}")
}

/// What a parse read: ids, and each event's text with its view (as comparable strings).
type Read<'a> = Option<(Text<'a>, Text<'a>, Vec<(String, String)>)>;

fn oracle(bytes: &[u8]) -> Read<'_> {
    let p: Oracle<'_> = serde_json::from_slice(bytes).ok()?;
    let mut events = Vec::new();
    for raw in p.database_activity_event_list {
        let view = serde_json::from_str::<OracleView<'_>>(raw.get()).ok()?;
        events.push((raw.get().to_owned(), view.describe()));
    }
    Some((p.cluster_id, p.instance_id, events))
}

/// Every event of a payload, with its ids.
#[derive(Debug)]
struct Payload<'a> {
    cluster_id: Text<'a>,
    instance_id: Text<'a>,
    events: Vec<(&'a str, EventView<'a>)>,
}

fn read_all(bytes: &[u8]) -> Result<Payload<'_>, JsonFault> {
    let mut events = Vec::new();
    let ids = parse_payload(bytes, |raw, view| {
        events.push((raw, view));
        ControlFlow::<()>::Continue(())
    })?;
    let ControlFlow::Continue(ids) = ids else {
        unreachable!("never breaks")
    };
    Ok(Payload {
        cluster_id: ids.cluster_id,
        instance_id: ids.instance_id,
        events,
    })
}

fn read(bytes: &[u8]) -> Read<'_> {
    let p = read_all(bytes).ok()?;
    let events = p
        .events
        .into_iter()
        .map(|(raw, view)| (raw.to_owned(), describe(raw, view)))
        .collect();
    Some((p.cluster_id, p.instance_id, events))
}

const DOC: &str = r#"{"type":"DatabaseActivityMonitoringRecord","clusterId":"cluster-ABC","instanceId":"db-1",
  "databaseActivityEventList":[
    {"type":"record","class":"READ","command":"SELECT","commandText":"select '\"x\"' \\ ✓","paramList":[1,{"a":[]}],"logTime":"2026-11-22 13:45:01.123+00","newField":{"n":null}},
    {"type":"heartbeat"} ,
    { "type" : "record", "startTime" : 1795000000000, "dbUserName" : "app\u00e9" }
  ],"newTopField":[true,false,-1.5e3]}"#;

#[test]
fn given_payload_with_unknown_fields_when_parsed_then_events_are_their_exact_text() {
    let p = read_all(DOC.as_bytes()).expect("parses");
    assert_eq!(p.cluster_id.as_deref(), Some("cluster-ABC"));
    assert_eq!(p.instance_id.as_deref(), Some("db-1"));
    assert_eq!(p.events.len(), 3);
    assert!(
        p.events[0]
            .0
            .starts_with(r#"{"type":"record","class":"READ""#)
    );
    assert!(p.events[0].0.ends_with(r#""newField":{"n":null}}"#));
    assert_eq!(p.events[1].0, r#"{"type":"heartbeat"}"#);
    assert!(p.events[1].1.is_heartbeat());
    assert_eq!(p.events[2].1.db_user_name.as_deref(), Some("appé"));
    assert_eq!(p.events[2].1.epoch_ms(), Some(1_795_000_000_000));
    assert_eq!(read(DOC.as_bytes()), oracle(DOC.as_bytes()));
}

#[test]
fn given_list_before_the_ids_then_order_does_not_matter() {
    let doc = br#"{"databaseActivityEventList":[{"type":"record"}],"instanceId":"db-2"}"#;
    let p = read_all(doc).expect("parses");
    assert_eq!(p.instance_id.as_deref(), Some("db-2"));
    assert_eq!(p.cluster_id.as_deref(), None);
    assert_eq!(p.events.len(), 1);
}

#[test]
fn given_a_break_then_reading_stops_there_unchecked() {
    let doc = br#"{"databaseActivityEventList":[{"n":1},{"n":2},{"n":3}, not json at all"#;
    let mut seen = Vec::new();
    let read = parse_payload(doc, |raw, _| {
        seen.push(raw);
        if seen.len() == 2 {
            ControlFlow::Break("stopped")
        } else {
            ControlFlow::Continue(())
        }
    });
    assert_eq!(read, Ok(ControlFlow::Break("stopped")));
    assert_eq!(seen, [r#"{"n":1}"#, r#"{"n":2}"#]);
}

#[test]
fn given_empty_list_then_no_events() {
    let p = read_all(br#" { "databaseActivityEventList" : [ ] } "#).expect("parses");
    assert!(p.events.is_empty());
}

#[test]
fn given_malformed_payloads_then_fault_names_category_and_place() {
    let cases: [(&[u8], &str, usize, usize); 10] = [
        (b"", "eof", 1, 1),
        (b"[]", "syntax", 1, 1),
        (b"{}", "data", 1, 3),
        (br#"{"databaseActivityEventList":"x"}"#, "syntax", 1, 30),
        (br#"{"databaseActivityEventList":[1]}"#, "data", 1, 31),
        (
            br#"{"databaseActivityEventList":[{"a":}]}"#,
            "syntax",
            1,
            36,
        ),
        (
            br#"{"databaseActivityEventList":[],"databaseActivityEventList":[]}"#,
            "data",
            1,
            61,
        ),
        (b"{\"databaseActivityEventList\":[]}\n}", "syntax", 2, 1),
        (
            b"{\"clusterId\":\"a\xff\",\"databaseActivityEventList\":[]}",
            "syntax",
            1,
            16,
        ),
        (b"{\n\"databaseActivityEventList\":[{\"a\":1}", "eof", 2, 37),
    ];
    for (doc, category, line, column) in cases {
        let fault = read_all(doc).expect_err("malformed");
        let text = String::from_utf8_lossy(doc);
        assert_eq!(
            (fault.category, fault.line, fault.column),
            (category, line, column),
            "{text}"
        );
    }
}

/// Valid payloads with varied events, for mutation.
fn payloads() -> impl Strategy<Value = String> {
    let event = (
        prop_oneof![Just("record"), Just("heartbeat")],
        "[A-Z]{0,5}",
        prop_oneof![
            Just("\"2026-11-22 13:45:01.123+00\"".to_owned()),
            "[1-9][0-9]{0,13}",
            Just("null".to_owned())
        ],
        "[ a-z\\\\\"é✓]{0,12}",
    )
        .prop_map(|(kind, class, time, text)| {
            let text = serde_json::to_string(&text).unwrap_or_default();
            format!(
                r#"{{"type":"{kind}","class":"{class}","logTime":{time},"commandText":{text},"x":[1,{{"y":{{}}}}]}}"#
            )
        });
    proptest::collection::vec(event, 0..4).prop_map(|events| {
        format!(
            r#"{{"type":"DatabaseActivityMonitoringRecord","clusterId":"cluster-1","databaseActivityEventList":[{}],"instanceId":"db-1"}}"#,
            events.join(",")
        )
    })
}

proptest! {
    #[test]
    fn given_valid_payload_then_read_like_the_two_pass_parse(doc in payloads()) {
        let ours = read(doc.as_bytes());
        prop_assert!(ours.is_some(), "{}", doc);
        prop_assert_eq!(ours, oracle(doc.as_bytes()));
    }

    #[test]
    fn given_mangled_payload_then_accepted_only_as_the_two_pass_parse_reads_it(
        doc in payloads(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<bool>(),
    ) {
        let mut bytes = doc.into_bytes();
        let i = at.index(bytes.len());
        if cut { bytes.truncate(i) } else { bytes[i] = byte }
        // Stricter than the oracle only where the oracle is lax: a payload that is not an
        // object, an event that is not an object, or bytes that are not UTF-8.
        match (read(&bytes), oracle(&bytes)) {
            (Some(ours), theirs) => prop_assert_eq!(Some(ours), theirs),
            (None, Some(_)) => {
                let lax = std::str::from_utf8(&bytes).is_err()
                    || !bytes.trim_ascii_start().starts_with(b"{")
                    || serde_json::from_slice::<serde_json::Value>(&bytes)
                        .ok()
                        .and_then(|v| v.get("databaseActivityEventList").cloned())
                        .and_then(|l| l.as_array().cloned())
                        .is_none_or(|l| l.iter().any(|e| !e.is_object()));
                prop_assert!(lax, "refused what the oracle reads: {:?}", String::from_utf8_lossy(&bytes));
            }
            (None, None) => {}
        }
    }

    #[test]
    fn given_arbitrary_bytes_then_error_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = read_all(&bytes);
    }
}
