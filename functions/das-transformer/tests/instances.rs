//! RDS for Oracle and RDS for SQL Server sources, end to end: an instance resource id (`db-…`),
//! data keys KMS-encrypted under the `aws:rds:db-id` context (as RDS does for instances), the
//! real binary invoked as Firehose would, every AWS call judged by the IAM gate as deployed with
//! `DasResourceId=db-…`. The events are AWS's documented examples:
//! Oracle's `LOGON` record from
//! <https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/DBActivityStreams.AuditLog.html>, and a
//! SQL Server login record with the fields of
//! <https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/DBActivityStreams.AuditLog.databaseActivityEventList.html>
//! (a hex `statementId`, seven-digit fractions in `logTime`, `engineNativeAuditFields`).
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

fn oracle_logon() -> Value {
    json!({"class": "Standard", "clientApplication": "JDBC Thin Client", "command": "LOGON",
        "commandText": null, "dbid": "0123456789", "databaseName": "ORCL", "dbProtocol": "oracle",
        "dbUserName": "TEST", "endTime": null, "errorMessage": null, "exitCode": 0,
        "logTime": "2021-01-15 00:15:36.233787", "netProtocol": "tcp", "objectName": null,
        "objectType": null, "paramList": [], "pid": 17904, "remoteHost": "123.456.789.012",
        "remotePort": "25440", "rowCount": null, "serverHost": "987.654.321.098",
        "serverType": "oracle", "serverVersion": "19.0.0.0.ru-2020-01.rur-2020-01.r1.EE.3",
        "serviceName": "oracle-ee", "sessionId": 987654321, "startTime": null, "statementId": 1,
        "substatementId": null, "transactionId": "0000000000000000",
        "engineNativeAuditFields": {"UNIFIED_AUDIT_POLICIES": "TEST_POL_EVERYTHING",
            "FGA_POLICY_NAME": null, "DV_OBJECT_STATUS": null, "SYSTEM_PRIVILEGE_USED": "CREATE SESSION",
            "OLS_LABEL_COMPONENT_TYPE": null, "XS_SESSIONID": null, "ADDITIONAL_INFO": null},
        "type": "record"})
}

fn sqlserver_login() -> Value {
    json!({"class": "LOGIN", "clientApplication": "Microsoft SQL Server Management Studio",
        "command": "LOGIN SUCCEEDED",
        "commandText": "Login succeeded for user 'test'. Connection made using SQL Server authentication. [CLIENT: local-machine]",
        "databaseName": "", "dbProtocol": "SQLSERVER", "dbUserName": "test", "endTime": null,
        "errorMessage": null, "exitCode": 1, "logTime": "2022-10-06 21:24:59.9422268+00",
        "netProtocol": null, "objectName": "", "objectType": "LOGIN", "paramList": null, "pid": null,
        "remoteHost": "local machine", "remotePort": null, "rowCount": 0,
        "serverHost": "172.31.30.159", "serverType": "SQLSERVER",
        "serverVersion": "15.00.4073.23.v1.R1", "serviceName": "sqlserver-ee", "sessionId": 62,
        "startTime": null, "statementId": "0x1eb0d1808d34a94b9d3dcf5432750f02",
        "substatementId": 1, "transactionId": "0", "type": "record",
        "engineNativeAuditFields": {"target_database_principal_id": 0, "server_principal_id": 0,
            "response_rows": 0, "is_column_permission": false, "object_id": 0,
            "server_instance_name": "EC2AMAZ-NFUJJNO", "duration_milliseconds": 0,
            "connection_id": "98B4F537-0F82-49E3-AB08-B9D33B5893EF", "audit_schema_version": 1,
            "host_name": "EC2AMAZ-NFUJJNO"}})
}

/// Runs the real binary on `events` from instance `rid`, deployed for it, judged by the gate.
async fn transform_as_deployed(rid: &str, events: Vec<Value>) -> (FirehoseEvent, Value, String) {
    let moto = Moto::shared();
    let heartbeat = json!({"type": "heartbeat", "logTime": "2022-10-06 21:24:59.000000+00"});
    let doc = |events: Vec<Value>| {
        json!({"type": "DatabaseActivityMonitoringRecord", "instanceId": rid,
               "databaseActivityEventList": events})
    };
    let event: FirehoseEvent = serde_json::from_value(support::make_event(
        moto,
        &json!({"resource_id": rid, "invocation_id": "inv-instance", "records": [
            {"record_id": "events", "version": "1.3", "payload": doc(events)},
            {"record_id": "heartbeat", "version": "1.3", "payload": doc(vec![heartbeat])},
            {"record_id": "cluster-context", "payload": doc(vec![oracle_logon()]),
             "context": {"aws:rds:dbc-id": rid}},
        ]}),
    ))
    .unwrap();
    let (deployment, _) = support::deploy_das(&event, rid, "das-audit");
    let proxy = AwsProxy::gated(moto, deployment);
    let host = LambdaHost::start();
    host.add_function(
        "das-transformer",
        &paths::bin_path("das-transformer"),
        FunctionSpec {
            env: proxy.env_as(moto, "DasTransformerFunctionRole"),
            ..FunctionSpec::default()
        },
    );
    let out = host
        .invoke("das-transformer", &serde_json::to_value(&event).unwrap())
        .await
        .unwrap();
    (event, out, host.logs("das-transformer"))
}

/// The one `Ok` record's partition keys and events.
fn delivered(event: &FirehoseEvent, out: &Value) -> (Value, Vec<Value>) {
    let response: FirehoseResponse = serde_json::from_value(out.clone()).unwrap();
    check_contract(event, &response).unwrap();
    let results: Vec<_> = response.records.iter().map(|r| r.result).collect();
    // The record under the cluster context key is refused by KMS: an instance's keys are
    // encrypted under aws:rds:db-id, so the transformer asks for that one.
    assert_eq!(
        results,
        [
            RecordResult::Ok,
            RecordResult::Dropped,
            RecordResult::ProcessingFailed
        ]
    );
    let text = String::from_utf8(STANDARD.decode(&response.records[0].data).unwrap()).unwrap();
    let events = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (
        out["records"][0]["metadata"]["partitionKeys"].clone(),
        events,
    )
}

#[tokio::test]
async fn given_rds_for_oracle_instance_when_transformed_as_deployed_then_events_partitioned_under_it()
 {
    let rid = "db-ORCL4JCWQLUZVFYP7DIWP6JVQ77O3Q";
    let (event, out, logs) = transform_as_deployed(rid, vec![oracle_logon()]).await;
    let (keys, events) = delivered(&event, &out);
    assert_eq!(
        keys,
        json!({"resource": rid, "class": "STANDARD", "yyyy": "2021", "mm": "01", "dd": "15"})
    );
    assert_eq!(events, [oracle_logon()]);
    assert!(logs.contains("cluster-context"), "{logs}");
}

#[tokio::test]
async fn given_rds_for_sql_server_instance_when_transformed_as_deployed_then_events_partitioned_under_it()
 {
    let rid = "db-MSSQL4JCWQLUZVFYP7DIWP6JVQ77O";
    let (event, out, _) = transform_as_deployed(rid, vec![sqlserver_login()]).await;
    let (keys, events) = delivered(&event, &out);
    assert_eq!(
        keys,
        json!({"resource": rid, "class": "LOGIN", "yyyy": "2022", "mm": "10", "dd": "06"})
    );
    assert_eq!(events, [sqlserver_login()]);
}
