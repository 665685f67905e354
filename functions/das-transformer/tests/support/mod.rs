//! Shared by the function's tests: DAS batches made by the Python aws-encryption-sdk.
#![allow(clippy::unwrap_used, dead_code)]

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;
use sluice_testbed::moto::Moto;
use sluice_testbed::paths;

/// Runs `crates/das/fixtures/make_event.py` on `spec` against moto's KMS; returns the
/// Firehose event it prints.
pub fn make_event(moto: &Moto, spec: &Value) -> Value {
    let mut child = Command::new(paths::python())
        .arg(paths::workspace_root().join("crates/das/fixtures/make_event.py"))
        .envs(moto.env())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(spec.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The KMS key the batch's data keys are encrypted with: moto's ciphertext blob starts with
/// the key id (36 characters), which `make_event.py` created in the test bed's account.
pub fn das_key_arn(event: &sluice_firehose::FirehoseEvent) -> String {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::STANDARD;
    let record: Value =
        serde_json::from_slice(&engine.decode(&event.records[0].data).unwrap()).unwrap();
    let blob = engine.decode(record["key"].as_str().unwrap()).unwrap();
    let id = String::from_utf8_lossy(&blob[..36]).into_owned();
    format!("arn:aws:kms:us-east-1:123456789012:key/{id}")
}

/// The stack as deployed for activity-stream audit of `rid` (its `aws-rds-das-<rid>` stream and
/// the key `event`'s data keys are encrypted with), the data bucket named `bucket`, as the IAM
/// gate judges it; and the stream's ARN.
pub fn deploy_das(
    event: &sluice_firehose::FirehoseEvent,
    rid: &str,
    bucket: &str,
) -> (sluice_testbed::iam_gate::Deployment, String) {
    use sluice_testbed::iam_gate::{DeploySpec, Gate};
    let stream = format!("arn:aws:kinesis:us-east-1:123456789012:stream/aws-rds-das-{rid}");
    let key_arn = das_key_arn(event);
    let deployment = Gate::shared().deploy(
        &DeploySpec::new(
            "sluice-test",
            [
                ("EnableActivityStreamAudit", "true"),
                ("DasKinesisStreamArn", stream.as_str()),
                ("DasKmsKeyArn", key_arn.as_str()),
                ("DasResourceId", rid),
            ],
        )
        .physical([
            ("DasTransformerFunction", "das-transformer"),
            ("DataBucket", bucket),
        ]),
    );
    (deployment, stream)
}

/// A 1.2 Aurora PostgreSQL `SELECT` event numbered `n` (the benches' batches).
pub fn pg_select(n: usize, log_time: &str) -> Value {
    serde_json::json!({"logTime": log_time, "statementId": n, "substatementId": 1, "objectType": null,
        "command": "SELECT", "objectName": null, "databaseName": "billing", "dbUserName": "app",
        "remoteHost": "10.0.1.108", "remotePort": "42216", "sessionId": "60b98a86.4f64", "rowCount": null,
        "commandText": format!("SELECT * FROM invoices WHERE id = {n}"), "paramList": [], "pid": 20324,
        "clientApplication": "psql", "exitCode": null, "class": "READ", "serverVersion": "2.7.2",
        "serverType": "PostgreSQL", "serviceName": "Amazon Aurora PostgreSQL-Compatible edition",
        "serverHost": "10.0.4.153", "netProtocol": "TCP", "dbProtocol": "Postgres 3.0", "type": "record",
        "startTime": log_time, "errorMessage": null})
}
