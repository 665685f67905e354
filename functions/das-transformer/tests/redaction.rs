//! Literal redaction (`DAS_REDACT_LITERALS`) end to end: the real binary behind the Lambda host,
//! records made by the Python aws-encryption-sdk against moto's KMS, AWS calls through the IAM
//! gate as deployed. The events answered to Firehose and the events spilled to S3 both carry
//! the redacted statement; with the setting off, both carry it as recorded.
#![allow(clippy::unwrap_used)]

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sluice_firehose::{FirehoseEvent, FirehoseResponse, RecordResult, check_contract};
use sluice_testbed::aws_proxy::AwsProxy;
use sluice_testbed::lambda::{FunctionSpec, LambdaHost};
use sluice_testbed::moto::Moto;
use sluice_testbed::paths;

const RID: &str = "cluster-REDACT7TEST";
const T1: &str = "2026-11-22 13:45:01.123456+00";
const EMAIL: &str = "jane.doe@example.com";
const CARD: &str = "4111111111111111";

/// An Aurora PostgreSQL `SELECT` numbered `n` looking up a customer by e-mail and card number.
fn lookup(n: u32) -> Value {
    json!({"logTime": T1, "statementId": n, "substatementId": 1, "objectType": null,
        "command": "SELECT", "objectName": null, "databaseName": "billing", "dbUserName": "app",
        "remoteHost": "10.0.1.108", "remotePort": "42216", "sessionId": "60b98a86.4f64", "rowCount": null,
        "commandText": format!("SELECT id FROM customers WHERE email = '{EMAIL}' AND card_no = {CARD} AND n = {n}"),
        "paramList": [], "pid": 20324, "clientApplication": "psql", "exitCode": null, "class": "READ",
        "serverVersion": "2.7.2", "serverType": "PostgreSQL",
        "serviceName": "Amazon Aurora PostgreSQL-Compatible edition", "serverHost": "10.0.4.153",
        "netProtocol": "TCP", "dbProtocol": "Postgres 3.0", "type": "record", "startTime": T1,
        "errorMessage": null})
}

const REDACTED: &str = "SELECT id FROM customers WHERE email = ? AND card_no = ? AND n = ?";

/// One small record (answered `Ok`) and one over Firehose's 1,000 KiB record limit (spilled).
fn batch(moto: &Moto, invocation_id: &str) -> FirehoseEvent {
    let doc = |events: Vec<Value>| {
        json!({"type": "DatabaseActivityMonitoringRecord", "clusterId": RID, "instanceId": "db-ABC",
               "databaseActivityEventList": events})
    };
    let big: Vec<Value> = (0..2_500).map(|n| lookup(10_000 + n)).collect();
    let spec = json!({"resource_id": RID, "invocation_id": invocation_id, "records": [
        {"record_id": "small", "version": "1.2", "payload": doc(vec![lookup(1)])},
        {"record_id": "big", "version": "1.2", "payload": doc(big)},
    ]});
    serde_json::from_value(support::make_event(moto, &spec)).unwrap()
}

/// Invokes the binary as deployed (spill target as the template sets it) with
/// `DAS_REDACT_LITERALS=redact`; returns the `Ok` record's events, the spilled events, the logs.
async fn run(moto: &Moto, redact: &str, invocation_id: &str) -> (Vec<Value>, Vec<Value>, String) {
    let event = batch(moto, invocation_id);
    let (deployment, _) = support::deploy_das(&event, RID, "das-redact");
    let s3 = moto.s3_client();
    let _ = s3.create_bucket().bucket("das-redact").send().await;
    let proxy = AwsProxy::gated(moto, deployment);
    let host = LambdaHost::start();
    let env = proxy
        .env_as(moto, "DasTransformerFunctionRole")
        .into_iter()
        .chain(
            [
                ("DAS_SPILL_BUCKET", "das-redact"),
                ("DAS_SPILL_PREFIX", "activity-streams/events/"),
                ("DAS_REDACT_LITERALS", redact),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        )
        .collect();
    let spec = FunctionSpec {
        env,
        ..FunctionSpec::default()
    };
    host.add_function("das-transformer", &paths::bin_path("das-transformer"), spec);
    let out = host
        .invoke("das-transformer", &serde_json::to_value(&event).unwrap())
        .await
        .unwrap();
    let response: FirehoseResponse = serde_json::from_value(out).unwrap();
    check_contract(&event, &response).unwrap();
    let results: Vec<_> = response.records.iter().map(|r| r.result).collect();
    assert_eq!(results, [RecordResult::Ok, RecordResult::Dropped]);
    let lines = |text: &str| -> Vec<Value> {
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let answered = String::from_utf8(STANDARD.decode(&response.records[0].data).unwrap()).unwrap();
    let key = format!("activity-streams/events/{RID}/READ/2026/11/22/spill-{invocation_id}.gz");
    let object = s3
        .get_object()
        .bucket("das-redact")
        .key(&key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{key}: {e:?}"));
    let gz = object.body.collect().await.unwrap().into_bytes();
    let mut spilled = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut spilled)
        .unwrap();
    (
        lines(&answered),
        lines(&spilled),
        host.logs("das-transformer"),
    )
}

#[tokio::test]
async fn given_redaction_on_when_the_binary_runs_then_answered_and_spilled_events_carry_no_literal()
{
    let (answered, spilled, logs) = run(Moto::shared(), "true", "inv-redact-on").await;
    assert_eq!((answered.len(), spilled.len()), (1, 2_500));
    for event in answered.iter().chain(&spilled) {
        assert_eq!(event["commandText"], REDACTED);
        let text = event.to_string();
        assert!(!text.contains(EMAIL) && !text.contains(CARD), "{text}");
        // Everything else is as recorded.
        assert_eq!(event["serverType"], "PostgreSQL");
        assert_eq!(event["dbUserName"], "app");
    }
    let ids: Vec<u64> = spilled
        .iter()
        .map(|e| e["statementId"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, (10_000..12_500).collect::<Vec<u64>>());
    assert!(!logs.contains(EMAIL) && !logs.contains(CARD), "{logs}");
}

#[tokio::test]
async fn given_redaction_off_when_the_binary_runs_then_statements_are_delivered_as_recorded() {
    let (answered, spilled, _) = run(Moto::shared(), "false", "inv-redact-off").await;
    assert_eq!((answered.len(), spilled.len()), (1, 2_500));
    assert_eq!(
        answered[0]["commandText"],
        format!("SELECT id FROM customers WHERE email = '{EMAIL}' AND card_no = {CARD} AND n = 1")
    );
    assert_eq!(
        spilled[0]["commandText"],
        format!(
            "SELECT id FROM customers WHERE email = '{EMAIL}' AND card_no = {CARD} AND n = 10000"
        )
    );
}
