use super::*;
use proptest::prelude::*;

use crate::filter::ListRule;
use crate::gunzip::Gunzip;

fn room(response_room: usize) -> OutputLimit {
    OutputLimit::Firehose { response_room }
}

fn keyring() -> RawAesKeyring {
    RawAesKeyring::new(PROVIDER_ID, KEY_NAME, &[9u8; 32]).expect("valid key")
}

#[test]
fn given_valid_outer_record_when_parsed_then_fields_borrowed() {
    let r = parse_record("r1", br#"{"type":"DatabaseActivityMonitoringRecords","version":"1.2","databaseActivityEvents":"AAE=","key":"AQI=","extra":1}"#)
        .expect("parses");
    assert_eq!(r.version.as_deref(), Some("1.2"));
    assert_eq!(decode_field("r1", "key", &r.key).expect("b64"), vec![1, 2]);
}

#[test]
fn given_json_quoting_content_when_it_fails_then_error_has_no_content() {
    let err = route_events(
        "r9",
        br#"{"databaseActivityEventList":"SECRET-TEXT"}"#,
        &Filters::default(),
        Redaction::Off,
        OutputLimit::Unlimited,
    )
    .expect_err("wrong shape");
    let text = err.to_string();
    assert!(text.contains("r9") && !text.contains("SECRET"), "{text}");
    assert_eq!(err.kind(), "bad_payload_json");
}

#[test]
fn given_events_when_routed_then_heartbeats_and_filtered_dropped_and_class_summarised() {
    let plain = br#"{"type":"DatabaseActivityMonitoringRecord","clusterId":"","instanceId":"db-1",
        "databaseActivityEventList":[
          {"type":"heartbeat"},
          {"type":"record","class":"READ","command":"SELECT","dbUserName":"rdsadmin"},
          {"type":"record","class":"read","command":"SELECT","dbUserName":"app","logTime":"2026-11-22 13:45:01.123+00"},
          {"type":"record","class":"WRITE","command":"INSERT","dbUserName":"app"}]}"#;
    let filters = Filters {
        user: ListRule::new(vec!["RDSADMIN".into()], vec![]),
        ..Filters::default()
    };
    let routed =
        route_events("r", plain, &filters, Redaction::Off, OutputLimit::Unlimited).expect("routes");
    assert_eq!(routed.kept.len(), 2);
    assert_eq!(routed.dropped, 2);
    assert_eq!(routed.class, "mixed");
    assert_eq!(routed.source_id.as_deref(), Some("db-1"));
    assert_eq!(routed.ndjson.iter().filter(|&&b| b == b'\n').count(), 2);
    assert_eq!(routed.command(&routed.kept[0]), Some("SELECT"));
    assert_eq!(routed.commands, ["SELECT", "INSERT"]);
    assert!(routed.kept[0].epoch_ms.is_some());
}

#[test]
fn given_events_past_the_room_then_budget_exceeded_without_reading_the_rest() {
    let plain =
        br#"{"databaseActivityEventList":[{"type":"record","n":1},{"type":"record","n":2},"#;
    let one_line = r#"{"type":"record","n":1}"#.len() + 1;
    let err = route_events(
        "r",
        plain,
        &Filters::default(),
        Redaction::Off,
        room(one_line),
    )
    .expect_err("over");
    assert_eq!(err.kind(), "response_budget_exceeded");
    let err = route_events(
        "r",
        plain,
        &Filters::default(),
        Redaction::Off,
        OutputLimit::Unlimited,
    )
    .expect_err("cut");
    assert_eq!(err.kind(), "bad_payload_json");
    let full = br#"{"databaseActivityEventList":[{"type":"record","n":1}]}"#;
    let routed = route_events(
        "r",
        full,
        &Filters::default(),
        Redaction::Off,
        room(one_line),
    )
    .expect("fits exactly");
    assert_eq!(routed.ndjson.len(), one_line);
}

#[test]
fn given_kept_events_past_the_firehose_record_limit_then_output_too_large() {
    let text = "x".repeat(sluice_firehose::MAX_RECORD_BYTES / 2);
    let plain = format!(
        r#"{{"databaseActivityEventList":[{{"commandText":"{text}"}},{{"commandText":"{text}"}}]}}"#
    );
    let err = route_events(
        "r",
        plain.as_bytes(),
        &Filters::default(),
        Redaction::Off,
        room(usize::MAX),
    )
    .expect_err("too large");
    assert_eq!(err.kind(), "output_too_large");
}

#[test]
fn given_message_that_is_not_esdk_when_opened_then_decrypt_error_with_kind() {
    let err = open_events(
        "r",
        &[0x01, 0x80, 0x99, 0x99],
        &keyring(),
        &mut Gunzip::new(),
        100,
    )
    .expect_err("bad");
    assert!(matches!(err, RecordError::Decrypt { .. }), "{err:?}");
}

proptest! {
    #[test]
    fn given_arbitrary_bytes_when_parsed_then_error_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_record("r", &bytes);
        let _ = open_events("r", &bytes, &keyring(), &mut Gunzip::new(), 1 << 16);
        let _ = Gunzip::new().gunzip_capped("r", &bytes, 1 << 16);
        let _ = route_events("r", &bytes, &Filters::default(), Redaction::Off, OutputLimit::Unlimited);
    }

    #[test]
    fn given_arbitrary_event_json_when_routed_then_no_panic(s in r#"\{"databaseActivityEventList":\[(\{"type":"(record|heartbeat)","class":("[A-Z]{0,4}"|1|null),"logTime":("[0-9 :+.-]{0,30}"|[0-9]{1,16})\},?){0,4}\]\}"#) {
        let _ = route_events("r", s.as_bytes(), &Filters::default(), Redaction::Off, room(64));
    }
}

const REDACTABLE: &str = r#"{"type":"DatabaseActivityMonitoringRecord","clusterId":"cluster-1","instanceId":"db-1",
  "databaseActivityEventList":[
    {"type":"record","class":"READ","serverType":"PostgreSQL","commandText":"SELECT * FROM users WHERE email = 'jane@example.com' AND card = 4111111111111111","paramList":["jane@example.com",4111],"pid":7},
    {"type":"record","class":"READ","serverType":"MySQL","paramList":null,"commandText":"select * from t1 where note = \"it\\\"s \\u00e9\""},
    {"type":"record","class":"READ","serverType":"DB2","commandText":"SELECT 'x'"},
    {"type":"record","class":"MISC","serverType":"PostgreSQL","commandText":null,"paramList":[]}]}"#;

#[test]
fn given_redaction_on_when_routed_then_literals_and_params_are_marks_and_the_rest_is_as_received() {
    let routed = route_events(
        "r",
        REDACTABLE.as_bytes(),
        &Filters::default(),
        Redaction::Literals,
        OutputLimit::Unlimited,
    )
    .expect("routes");
    let text = String::from_utf8(routed.ndjson.clone()).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        r#"{"type":"record","class":"READ","serverType":"PostgreSQL","commandText":"SELECT * FROM users WHERE email = ? AND card = ?","paramList":["?","?"],"pid":7}"#
    );
    assert_eq!(
        lines[1],
        r#"{"type":"record","class":"READ","serverType":"MySQL","paramList":null,"commandText":"select * from t1 where note = ?"}"#
    );
    // An engine the lexer does not know: the whole statement, never part of it.
    assert!(lines[2].ends_with(r#""commandText":"?"}"#), "{}", lines[2]);
    assert_eq!(
        lines[3],
        r#"{"type":"record","class":"MISC","serverType":"PostgreSQL","commandText":null,"paramList":[]}"#
    );
    assert!(!text.contains("example.com") && !text.contains("4111") && !text.contains('é'));
    assert_eq!(routed.kept.len(), 4);
    assert_eq!(routed.kept[1].range.start, lines[0].len() + 1);
}

#[test]
fn given_redaction_off_when_routed_then_events_are_byte_for_byte_as_received() {
    let routed = route_events(
        "r",
        REDACTABLE.as_bytes(),
        &Filters::default(),
        Redaction::Off,
        OutputLimit::Unlimited,
    )
    .expect("routes");
    let text = String::from_utf8(routed.ndjson).expect("utf-8");
    assert!(text.contains("WHERE email = 'jane@example.com' AND card = 4111111111111111"));
    assert!(text.contains(r#""paramList":["jane@example.com",4111]"#));
}

#[test]
fn given_redaction_on_when_the_room_is_measured_then_the_redacted_line_counts() {
    let line = r#"{"type":"record","serverType":"PostgreSQL","commandText":"SELECT ?"}"#;
    let plain = format!(
        r#"{{"databaseActivityEventList":[{}]}}"#,
        line.replace('?', "'a much longer literal than its mark'")
    );
    let routed = route_events(
        "r",
        plain.as_bytes(),
        &Filters::default(),
        Redaction::Literals,
        room(line.len() + 1),
    )
    .expect("the redacted line fits exactly");
    assert_eq!(routed.ndjson, format!("{line}\n").into_bytes());
}
