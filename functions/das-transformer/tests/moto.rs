//! The handler and the real binary on records made by the Python aws-encryption-sdk
//! (`crates/das/fixtures/make_event.py`) with wrapping keys KMS-encrypted by moto under the
//! cluster's encryption context, exactly as RDS does.
#![allow(clippy::unwrap_used)]

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use das_transformer::Handler;
use serde_json::{Value, json};
use sluice_das::DasConfig;
use sluice_firehose::{FirehoseEvent, FirehoseResponse, RecordResult, check_contract};
use sluice_runtime::config::Env;
use sluice_testbed::aws_proxy::AwsProxy;
use sluice_testbed::iam_gate::FirehoseBatch;
use sluice_testbed::lambda::{FunctionSpec, LambdaHost};
use sluice_testbed::moto::Moto;
use sluice_testbed::paths;

const RID: &str = "cluster-MOTO7TEST";
const T1: &str = "2026-11-22 13:45:01.123456+00";

/// Runs the Python generator against moto.
fn make_event(moto: &Moto, spec: &Value) -> FirehoseEvent {
    serde_json::from_value(support::make_event(moto, spec)).unwrap()
}

fn pg(class: &str, command: &str, n: u32) -> Value {
    json!({"logTime": T1, "statementId": n, "substatementId": 1, "objectType": null, "command": command,
        "objectName": null, "databaseName": "billing", "dbUserName": "app", "remoteHost": "10.0.1.108",
        "remotePort": "42216", "sessionId": "60b98a86.4f64", "rowCount": null,
        "commandText": format!("{command} -- plaintext-secret-{n}"), "paramList": [], "pid": 20324,
        "clientApplication": "psql", "exitCode": null, "class": class, "serverVersion": "2.7.2",
        "serverType": "PostgreSQL", "serviceName": "Amazon Aurora PostgreSQL-Compatible edition",
        "serverHost": "10.0.4.153", "netProtocol": "TCP", "dbProtocol": "Postgres 3.0", "type": "record",
        "startTime": T1, "errorMessage": null})
}

fn mysql(n: u32) -> Value {
    json!({"class": "MAIN", "clientApplication": null, "command": "QUERY",
        "commandText": format!("select 1 -- plaintext-secret-{n}"), "databaseName": "shop", "dbProtocol": "MySQL",
        "dbUserName": "app", "endTime": null, "errorMessage": null, "exitCode": 0, "logTime": T1,
        "netProtocol": "TCP", "objectName": "", "objectType": "TABLE", "paramList": null, "pid": 2830,
        "remoteHost": "10.0.2.11", "remotePort": "11054", "rowCount": 0, "serverHost": "master",
        "serverType": "MySQL", "serverVersion": "MySQL 8.0.39", "serviceName": "Amazon Aurora MySQL",
        "sessionId": 114, "startTime": T1, "statementId": n, "substatementId": 1, "transactionId": "0",
        "type": "record", "newFieldFromTheFuture": [1, {"a": null}]})
}

fn doc(events: Vec<Value>) -> Value {
    json!({"type": "DatabaseActivityMonitoringRecord", "clusterId": RID, "instanceId": "db-ABC",
           "databaseActivityEventList": events})
}

fn batch(moto: &Moto, invocation_id: &str) -> FirehoseEvent {
    make_event(
        moto,
        &json!({"resource_id": RID, "invocation_id": invocation_id, "records": [
            {"record_id": "pg", "version": "1.1", "payload": doc(vec![json!({"type": "heartbeat", "logTime": T1}), pg("DDL", "CREATE INDEX", 1), pg("READ", "SELECT", 2)])},
            {"record_id": "my", "version": "1.2", "payload": doc(vec![mysql(3)])},
            {"record_id": "hb", "version": "1.2", "payload": doc(vec![json!({"type": "heartbeat", "logTime": T1})])},
            {"record_id": "wrong-ctx", "payload": doc(vec![pg("READ", "SELECT", 4)]), "context": {"aws:rds:dbc-id": "cluster-SOMEONEELSE"}},
            {"record_id": "junk", "raw": "{\"type\":\"DatabaseActivityMonitoringRecords\""},
        ]}),
    )
}

fn assert_batch(event: &FirehoseEvent, response: &FirehoseResponse) {
    check_contract(event, response).unwrap();
    let results: Vec<_> = response.records.iter().map(|r| r.result).collect();
    use RecordResult::*;
    assert_eq!(
        results,
        [Ok, Ok, Dropped, ProcessingFailed, ProcessingFailed]
    );
    let pg = String::from_utf8(STANDARD.decode(&response.records[0].data).unwrap()).unwrap();
    assert_eq!(pg.lines().count(), 2);
    assert!(pg.contains("CREATE INDEX") && pg.ends_with('\n'));
    let my: Value =
        serde_json::from_slice(&STANDARD.decode(&response.records[1].data).unwrap()[..]).unwrap();
    assert_eq!(my["newFieldFromTheFuture"][1], json!({"a": null}));
    assert_eq!(response.records[3].data, event.records[3].data);
}

#[tokio::test]
async fn given_python_made_records_when_handled_then_results_per_record_and_copies_batched() {
    let moto = Moto::shared();
    let sdk = moto.sdk_config();
    let s3 = moto.s3_client();
    s3.create_bucket()
        .bucket("das-copies")
        .send()
        .await
        .unwrap();
    let env = Env::from_pairs([
        ("DAS_COPIES_ENABLED", "true"),
        ("DAS_COPIES_BUCKET", "das-copies"),
        ("AWS_ENDPOINT_URL", "x"),
    ]);
    let handler = Handler::from_sdk(DasConfig::from_env(&env).unwrap(), &sdk, &env);
    let event = batch(moto, "inv-direct");
    let response = handler.handle(&event).await.unwrap();
    let response: FirehoseResponse = serde_json::from_str(response.get()).unwrap();
    assert_batch(&event, &response);
    let listed = s3
        .list_objects_v2()
        .bucket("das-copies")
        .send()
        .await
        .unwrap();
    let mut keys: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "parsed/CREATE_INDEX/2026/11/22/inv-direct.jsonl",
            "parsed/QUERY/2026/11/22/inv-direct.jsonl",
            "parsed/SELECT/2026/11/22/inv-direct.jsonl",
        ]
    );
}

#[tokio::test]
async fn given_real_binary_when_firehose_invokes_then_contract_holds_and_logs_have_no_plaintext() {
    let moto = Moto::shared();
    let event = batch(moto, "inv-binary");
    // Judged by the IAM gate as deployed for this cluster and the key the batch's data keys
    // were encrypted with (moto's answer to the function's keyless Decrypt names it).
    let (deployment, stream) = support::deploy_das(&event, RID, "das-audit");
    let proxy = AwsProxy::gated(moto, deployment.clone());
    let host = LambdaHost::start();
    host.add_function(
        "das-transformer",
        &paths::bin_path("das-transformer"),
        FunctionSpec {
            env: proxy
                .env_as(moto, "DasTransformerFunctionRole")
                .into_iter()
                .chain([("RUST_LOG".to_owned(), "debug".to_owned())])
                .collect(),
            ..FunctionSpec::default()
        },
    );
    let out = host
        .invoke("das-transformer", &serde_json::to_value(&event).unwrap())
        .await
        .unwrap();
    let response: FirehoseResponse = serde_json::from_value(out.clone()).unwrap();
    assert_batch(&event, &response);
    // What Firehose then does with its role: the objects at the keys the partition keys make.
    let keys = out["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["result"] == "Ok")
        .map(|r| {
            let p = &r["metadata"]["partitionKeys"];
            format!(
                "activity-streams/events/{}/{}/{}/{}/{}/sluice-test-das-1-x.gz",
                p["resource"].as_str().unwrap(),
                p["class"].as_str().unwrap(),
                p["yyyy"].as_str().unwrap(),
                p["mm"].as_str().unwrap(),
                p["dd"].as_str().unwrap()
            )
        })
        .chain(["activity-streams-errors/processing-failed/2026/12/06/x".to_owned()])
        .collect();
    deployment.require_firehose(&FirehoseBatch {
        role: "DasFirehoseRole".into(),
        source_stream_arn: stream,
        function: "das-transformer".into(),
        bucket: "das-audit".into(),
        keys,
        log_group: "/aws/kinesisfirehose/sluice-test-das".into(),
        log_stream: "DestinationDelivery".into(),
    });
    let logs = host.logs("das-transformer");
    assert!(
        logs.contains("wrong-ctx") && logs.contains("InvalidCiphertextException"),
        "{logs}"
    );
    assert!(
        !logs.contains("plaintext-secret"),
        "plaintext leaked into logs: {logs}"
    );
    assert!(logs.contains("\"RecordsOk\":2"), "EMF line: {logs}");
}

#[tokio::test]
async fn given_kms_unreachable_when_invoked_then_invocation_fails_for_retry() {
    let moto = Moto::shared();
    let host = LambdaHost::start();
    let env: Vec<(String, String)> = moto
        .env()
        .into_iter()
        .chain([
            (
                "AWS_ENDPOINT_URL_KMS".to_owned(),
                "http://127.0.0.1:9".to_owned(),
            ),
            ("AWS_MAX_ATTEMPTS".to_owned(), "1".to_owned()),
        ])
        .collect();
    host.add_function(
        "das-transformer",
        &paths::bin_path("das-transformer"),
        FunctionSpec {
            env,
            ..FunctionSpec::default()
        },
    );
    let event = batch(moto, "inv-outage");
    let err = host
        .invoke("das-transformer", &serde_json::to_value(&event).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.error_type, "AwsError");
    assert!(
        err.error_message.contains("KMS unavailable"),
        "{}",
        err.error_message
    );
}

#[tokio::test]
async fn given_a_record_over_firehoses_record_limit_when_the_binary_runs_as_deployed_then_its_events_are_read_back_from_s3()
 {
    let moto = Moto::shared();
    // ~1.2 MB of events in one record: over the 1,000 KiB a transformed record may be.
    let big: Vec<Value> = (0..2_000)
        .map(|n| pg("READ", "SELECT", 10_000 + n))
        .collect();
    let event = make_event(
        moto,
        &json!({"resource_id": RID, "invocation_id": "inv-spill", "records": [
            {"record_id": "small", "version": "1.1", "payload": doc(vec![pg("DDL", "CREATE INDEX", 1)])},
            {"record_id": "big", "version": "1.2", "payload": doc(big)},
        ]}),
    );
    let (deployment, _) = support::deploy_das(&event, RID, "das-spill");
    let s3 = moto.s3_client();
    s3.create_bucket().bucket("das-spill").send().await.unwrap();
    let proxy = AwsProxy::gated(moto, deployment);
    let host = LambdaHost::start();
    // As the template sets them: the delivery stream's bucket and events prefix.
    let env = proxy
        .env_as(moto, "DasTransformerFunctionRole")
        .into_iter()
        .chain([
            ("DAS_SPILL_BUCKET".to_owned(), "das-spill".to_owned()),
            (
                "DAS_SPILL_PREFIX".to_owned(),
                "activity-streams/events/".to_owned(),
            ),
        ])
        .collect();
    host.add_function(
        "das-transformer",
        &paths::bin_path("das-transformer"),
        FunctionSpec {
            env,
            ..FunctionSpec::default()
        },
    );
    let out = host
        .invoke("das-transformer", &serde_json::to_value(&event).unwrap())
        .await
        .unwrap();
    let response: FirehoseResponse = serde_json::from_value(out).unwrap();
    check_contract(&event, &response).unwrap();
    let results: Vec<_> = response.records.iter().map(|r| r.result).collect();
    assert_eq!(results, [RecordResult::Ok, RecordResult::Dropped]);
    let key = format!("activity-streams/events/{RID}/READ/2026/11/22/spill-inv-spill.gz");
    let body = s3
        .get_object()
        .bucket("das-spill")
        .key(&key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{key}: {e:?}"));
    let gz = body.body.collect().await.unwrap().into_bytes();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text).unwrap();
    let ids: Vec<u64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["statementId"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(
        ids,
        (10_000..12_000).collect::<Vec<u64>>(),
        "every event of the big record, in order"
    );
    let logs = host.logs("das-transformer");
    assert!(
        logs.contains("\"RecordsSpilled\":1") && logs.contains("\"EventsSpilled\":2000"),
        "{logs}"
    );
    assert!(
        !logs.contains("plaintext-secret"),
        "plaintext leaked into logs"
    );
}
