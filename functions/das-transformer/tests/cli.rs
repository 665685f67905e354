//! `das-decrypt`, the operator CLI, as a user runs it: DAS records made by the Python
//! aws-encryption-sdk with wrapping keys KMS-encrypted by moto, decrypted through KMS (file
//! argument) and offline with the wrapping key in hex (stdin).
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sluice_testbed::moto::Moto;
use sluice_testbed::paths;

const RID: &str = "cluster-CLI7TEST";
const T1: &str = "2026-11-22 13:45:01.123456+00";

fn event(n: u32, command: &str) -> Value {
    json!({"type": "record", "class": "READ", "command": command, "logTime": T1,
           "commandText": format!("{command} -- cli-{n}"), "databaseName": "billing",
           "dbUserName": "app", "statementId": n, "futureField": {"x": [n]}})
}

/// The DAS records (Kinesis payloads) of a Python-made batch, one JSON document per line.
fn das_records(moto: &Moto, context: Option<Value>) -> Vec<Vec<u8>> {
    let doc = |events: Vec<Value>| {
        json!({"type": "DatabaseActivityMonitoringRecord", "clusterId": RID,
               "instanceId": "db-CLI", "databaseActivityEventList": events})
    };
    let mut records = vec![
        json!({"record_id": "a", "payload": doc(vec![json!({"type": "heartbeat", "logTime": T1}), event(1, "SELECT"), event(2, "INSERT")])}),
        json!({"record_id": "b", "version": "1.2", "payload": doc(vec![event(3, "UPDATE")])}),
    ];
    if let Some(context) = context {
        for r in &mut records {
            r["context"] = context.clone();
        }
    }
    let firehose = support::make_event(moto, &json!({"resource_id": RID, "records": records}));
    firehose["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| STANDARD.decode(r["data"].as_str().unwrap()).unwrap())
        .collect()
}

fn run(moto: &Moto, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(paths::bin_path("das-decrypt"))
        .args(args)
        .envs(moto.env())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn lines(out: &Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(text.ends_with('\n'));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn given_record_file_when_decrypted_with_kms_then_ndjson_events_without_heartbeats() {
    let moto = Moto::shared();
    let records = das_records(moto, None);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("records.jsonl");
    std::fs::write(&file, records.join(&b'\n')).unwrap();
    let out = run(moto, &[file.to_str().unwrap(), "--resource-id", RID], b"");
    let events = lines(&out);
    let commands: Vec<_> = events
        .iter()
        .map(|e| e["command"].as_str().unwrap())
        .collect();
    assert_eq!(commands, ["SELECT", "INSERT", "UPDATE"]);
    assert_eq!(events[2]["futureField"], json!({"x": [3]}));
}

#[test]
fn given_wrapping_key_hex_when_decrypted_offline_from_stdin_then_same_events() {
    let moto = Moto::shared();
    let records = das_records(moto, None);
    // The wrapping key an operator would have: KMS Decrypt of the record's `key` under the
    // cluster's encryption context.
    let first: Value = serde_json::from_slice(&records[0]).unwrap();
    let blob = STANDARD.decode(first["key"].as_str().unwrap()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let wrapping = rt.block_on(async {
        let kms = aws_sdk_kms::Client::new(&moto.sdk_config());
        kms.decrypt()
            .ciphertext_blob(aws_sdk_kms::primitives::Blob::new(blob))
            .encryption_context("aws:rds:dbc-id", RID)
            .send()
            .await
            .unwrap()
            .plaintext()
            .unwrap()
            .as_ref()
            .to_vec()
    });
    let hex: String = wrapping.iter().map(|b| format!("{b:02x}")).collect();
    let out = run(moto, &["--wrapping-key-hex", &hex], &records.concat());
    let events = lines(&out);
    assert_eq!(events.len(), 3);
    assert_eq!(events[0]["commandText"], "SELECT -- cli-1");
}

#[test]
fn given_key_under_another_context_or_bad_args_then_clear_error_and_no_output() {
    let moto = Moto::shared();
    let records = das_records(moto, Some(json!({"aws:rds:dbc-id": "cluster-SOMEONEELSE"})));
    let out = run(moto, &["--resource-id", RID], &records[0]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("input #1: KMS Decrypt"), "{err}");
    assert!(out.stdout.is_empty());

    let out = run(
        moto,
        &["--resource-id", RID, "--wrapping-key-hex", "00"],
        b"",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("exactly one of"));
}

/// A Firehose error record around `record`, as Firehose writes them under
/// `processing-failed/` (<https://docs.aws.amazon.com/firehose/latest/dev/data-transformation-failure-handling.html>).
fn error_record(record: &[u8]) -> String {
    json!({"attemptsMade": 1, "arrivalTimestamp": 1_795_355_101_000_i64,
           "errorCode": "Lambda.ProcessingFailed",
           "errorMessage": "The Lambda function was successfully invoked but it returned an error result.",
           "attemptEndingTimestamp": 1_795_355_161_000_i64, "rawData": STANDARD.encode(record),
           "lambdaArn": "arn:aws:lambda:us-east-1:123456789012:function:das-transformer:$LATEST"})
    .to_string()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use flate2::write::GzEncoder;
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// Every object under `prefix`: key → its gunzipped lines as JSON.
async fn replayed(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Vec<(String, Vec<Value>)> {
    let listed = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    let mut out = Vec::new();
    for o in listed.contents() {
        let key = o.key().unwrap().to_owned();
        let body = s3
            .get_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .unwrap();
        let bytes = body.body.collect().await.unwrap().into_bytes();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text)
            .unwrap();
        out.push((
            key,
            text.lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect(),
        ));
    }
    out
}

#[tokio::test]
async fn given_firehose_error_objects_when_replayed_then_events_land_where_the_stream_puts_them_once()
 {
    let moto = Moto::shared();
    let records = das_records(moto, None);
    let bad = das_records(moto, Some(json!({"aws:rds:dbc-id": "cluster-SOMEONEELSE"})));
    let s3 = sluice_runtime::aws::s3_client(
        &moto.sdk_config(),
        &sluice_runtime::config::Env::from_pairs([("AWS_ENDPOINT_URL", "set")]),
    );
    let bucket = "das-replay";
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    let errors = "activity-streams-errors/processing-failed/2026/11/22";
    let both = format!(
        "{}\n{}\n",
        error_record(&records[0]),
        error_record(&records[1])
    );
    for (name, body) in [
        (
            "sluice-das-1-2026-11-22-13-45-01-aaaa.gz",
            gzip(both.as_bytes()),
        ),
        (
            "sluice-das-1-2026-11-22-13-50-01-bbbb",
            error_record(&records[1]).into_bytes(),
        ),
        (
            "elsewhere/sluice-das-1-2026-11-22-13-55-01-cccc",
            error_record(&bad[0]).into_bytes(),
        ),
    ] {
        s3.put_object()
            .bucket(bucket)
            .key(format!("{errors}/{name}"))
            .body(body.into())
            .send()
            .await
            .unwrap();
    }
    let replay = |from: &str| {
        run(
            moto,
            &[
                "replay",
                "--from",
                &format!("s3://{bucket}/{from}"),
                "--to",
                &format!("s3://{bucket}/activity-streams"),
                "--resource-id",
                RID,
            ],
            b"",
        )
    };
    let from = format!("{errors}/sluice-das");
    let out = replay(&from);
    let summary = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{summary}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        summary.contains("2 error objects, 3 records, 4 events recovered; 2 objects written, 0 already there; 0 records failed"),
        "{summary}"
    );
    let events_prefix = format!("activity-streams/events/{RID}/READ/2026/11/22/");
    let first = replayed(&s3, bucket, "activity-streams/events/").await;
    let statements = |lines: &[Value]| -> Vec<u64> {
        lines
            .iter()
            .map(|e| e["statementId"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(first.len(), 2, "{first:?}");
    assert_eq!(
        first[0].0,
        format!("{events_prefix}replayed-sluice-das-1-2026-11-22-13-45-01-aaaa.gz")
    );
    assert_eq!(statements(&first[0].1), [1, 2, 3]);
    assert_eq!(first[0].1[0]["commandText"], "SELECT -- cli-1");
    assert_eq!(
        first[1].0,
        format!("{events_prefix}replayed-sluice-das-1-2026-11-22-13-50-01-bbbb.gz")
    );
    assert_eq!(statements(&first[1].1), [3]);

    // Idempotent: a second run finds both and writes nothing.
    let out = replay(&from);
    let summary = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        summary.contains("0 objects written, 2 already there"),
        "{summary}"
    );
    assert_eq!(
        replayed(&s3, bucket, "activity-streams/events/").await,
        first
    );

    // A record whose key KMS refuses: reported, exit non-zero, its object replays nothing.
    let out = replay(&format!("{errors}/elsewhere/"));
    let summary = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!out.status.success());
    assert!(
        summary.contains("1 records failed")
            && summary.contains("elsewhere/sluice-das-1-2026-11-22-13-55-01-cccc #1: KMS Decrypt"),
        "{summary}"
    );
    assert_eq!(
        replayed(&s3, bucket, "activity-streams/events/")
            .await
            .len(),
        2
    );
}

#[tokio::test]
async fn given_redact_literals_when_replayed_then_replayed_events_are_redacted_and_plain_decrypt_is_not()
 {
    let moto = Moto::shared();
    let statement = "SELECT id FROM customers WHERE email = 'jane.doe@example.com' AND card_no = 4111111111111111";
    let pg = json!({"type": "record", "class": "READ", "command": "SELECT", "logTime": T1,
        "serverType": "PostgreSQL", "commandText": statement, "paramList": ["jane.doe@example.com"],
        "databaseName": "billing", "dbUserName": "app", "statementId": 7});
    let payload = json!({"type": "DatabaseActivityMonitoringRecord", "clusterId": RID,
        "instanceId": "db-CLI", "databaseActivityEventList": [pg]});
    let firehose = support::make_event(
        moto,
        &json!({"resource_id": RID, "records": [{"record_id": "r", "payload": payload}]}),
    );
    let record = STANDARD
        .decode(firehose["records"][0]["data"].as_str().unwrap())
        .unwrap();
    let s3 = sluice_runtime::aws::s3_client(
        &moto.sdk_config(),
        &sluice_runtime::config::Env::from_pairs([("AWS_ENDPOINT_URL", "set")]),
    );
    let bucket = "das-replay-redact";
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    s3.put_object()
        .bucket(bucket)
        .key("activity-streams-errors/processing-failed/2026/11/22/sluice-das-1-2026-11-22-13-45-01-dddd")
        .body(error_record(&record).into_bytes().into())
        .send()
        .await
        .unwrap();
    let out = Command::new(paths::bin_path("das-decrypt"))
        .args([
            "replay",
            "--from",
            &format!("s3://{bucket}/activity-streams-errors/"),
            "--to",
            &format!("s3://{bucket}/activity-streams"),
            "--resource-id",
            RID,
        ])
        .envs(moto.env())
        .env("DAS_REDACT_LITERALS", "true")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let replayed = replayed(&s3, bucket, "activity-streams/events/").await;
    assert_eq!(replayed.len(), 1, "{replayed:?}");
    let event = &replayed[0].1[0];
    assert_eq!(
        event["commandText"],
        "SELECT id FROM customers WHERE email = ? AND card_no = ?"
    );
    assert_eq!(event["paramList"], json!(["?"]));
    assert_eq!(event["statementId"], 7);
    // Without `replay`, the operator's forensic view: the statement as recorded.
    let out = run(moto, &["--resource-id", RID], &record);
    assert_eq!(lines(&out)[0]["commandText"], statement);
}
