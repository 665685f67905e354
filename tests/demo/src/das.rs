//! Activity-stream audit: DAS records of a made-up Aurora cluster, encrypted like RDS does it
//! (Python aws-encryption-sdk, wrapping keys KMS-encrypted by moto under the cluster's context),
//! through the real `das-transformer` binary as Firehose would call it.

use std::io::Write;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use sluice_runtime::config::Env;
use sluice_testbed::lambda::FunctionSpec;
use sluice_testbed::paths;

use crate::Stage;
use crate::output;
use crate::report::Report;

const FUNCTION: &str = "das-transformer";
const CLUSTER: &str = "cluster-ACMEDEMO0001";
const BUCKET: &str = "sluice-demo-das";
const PREFIX: &str = "activity-streams";
const T: &str = "2026-11-22 13:45:01.123456+00";
const T2: &str = "2026-11-22 13:46:10.000001+00";
const T3: &str = "2026-11-22 13:47:30.500000+00";

fn pg(class: &str, command: &str, user: &str, text: &str) -> Value {
    pg_at(T, class, command, user, text)
}

/// An Aurora PostgreSQL event at `time` (field names and shapes as in AWS's examples).
fn pg_at(time: &str, class: &str, command: &str, user: &str, text: &str) -> Value {
    json!({"logTime": time, "statementId": 4, "substatementId": 1, "command": command, "databaseName": "compass",
        "dbUserName": user, "remoteHost": "10.0.1.108", "sessionId": "60b98a86.4f64", "commandText": text,
        "class": class, "serverType": "PostgreSQL", "type": "record", "startTime": time, "errorMessage": null})
}

/// A login (`CONNECT`, class `MISC` as in AWS's example): `commandText` is null; a refused one
/// carries the server's error message.
fn login(time: &str, user: &str, host: &str, error: Option<&str>) -> Value {
    let mut e = pg_at(time, "MISC", "CONNECT", user, "");
    e["commandText"] = Value::Null;
    e["remoteHost"] = json!(host);
    e["errorMessage"] = json!(error);
    e
}

fn doc(events: Vec<Value>) -> Value {
    json!({"type": "DatabaseActivityMonitoringRecord", "clusterId": CLUSTER, "instanceId": "db-ACMEDEMO0001",
           "databaseActivityEventList": events})
}

/// Builds the Firehose event with the generator script the transformer's tests use.
fn firehose_event(stage: &Stage) -> anyhow::Result<Value> {
    let hb = json!({"type": "heartbeat", "logTime": T});
    let spec = json!({"resource_id": CLUSTER, "invocation_id": "demo-invocation-1", "records": [
        {"record_id": "ddl+heartbeat", "version": "1.1", "payload": doc(vec![hb.clone(),
            pg("DDL", "CREATE INDEX", "compass", "CREATE INDEX scale_slow ON scale_data (section, id1, id2);")])},
        {"record_id": "reads", "version": "1.2", "payload": doc(vec![
            pg("READ", "SELECT", "app", "SELECT * FROM orders WHERE id = $1"),
            pg("READ", "SELECT", "rdsadmin", "SELECT 1")])},
        {"record_id": "heartbeat-only", "version": "1.2", "payload": doc(vec![hb])},
        {"record_id": "logins", "version": "1.2", "payload": doc(vec![
            login(T, "app", "10.0.1.108", None),
            login(T2, "mallory", "203.0.113.7", Some("password authentication failed for user \"mallory\"")),
            login(T3, "mallory", "203.0.113.7", Some("password authentication failed for user \"mallory\""))])},
        {"record_id": "schema-change", "version": "1.2", "payload": doc(vec![
            pg_at(T2, "DDL", "CREATE TABLE", "dba", "CREATE TABLE audit_note (id bigint, note text);"),
            pg_at(T3, "DDL", "ALTER TABLE", "dba", "ALTER TABLE audit_note ADD COLUMN at timestamptz;")])},
        {"record_id": "app-writes", "version": "1.2", "payload": doc(vec![
            pg_at(T2, "WRITE", "INSERT", "app", "INSERT INTO orders (id, total) VALUES ($1, $2)"),
            pg_at(T3, "READ", "SELECT", "app", "SELECT total FROM orders WHERE id = $1")])},
        {"record_id": "other-cluster-key", "payload": doc(vec![pg("WRITE", "INSERT", "app", "INSERT ...")]),
         "context": {"aws:rds:dbc-id": "cluster-SOMEONEELSE"}},
        {"record_id": "not-das", "raw": "hello"},
    ]});
    let mut child = Command::new(paths::python())
        .arg(paths::workspace_root().join("crates/das/fixtures/make_event.py"))
        .envs(stage.moto.env())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdin"))?
        .write_all(spec.to_string().as_bytes())?;
    let out = child.wait_with_output()?;
    anyhow::ensure!(
        out.status.success(),
        "make_event.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// Runs the scenario and reports each record's result and destination.
pub async fn run(stage: &Stage, report: &mut Report) -> anyhow::Result<()> {
    let env = Env::from_pairs([("AWS_ENDPOINT_URL", "set")]);
    let s3 = sluice_runtime::aws::s3_client(&stage.moto.sdk_config(), &env);
    s3.create_bucket().bucket(BUCKET).send().await?;
    let mut fenv = stage.moto.env();
    for (k, v) in [
        ("DAS_COPIES_ENABLED", "true"),
        ("DAS_COPIES_BUCKET", BUCKET),
        ("DAS_COPIES_PREFIX", "activity-streams/"),
        ("DAS_DROP_USERS", "rdsadmin"),
    ] {
        fenv.push((k.to_owned(), v.to_owned()));
    }
    stage.host.add_function(
        FUNCTION,
        &paths::bin_path(FUNCTION),
        FunctionSpec {
            env: fenv,
            ..FunctionSpec::default()
        },
    );
    let event = firehose_event(stage)?;
    output::clear(&format!("{PREFIX}/"));
    let response = stage
        .host
        .invoke(FUNCTION, &event)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {}", e.error_type, e.error_message))?;

    let section = report.section("Activity-stream audit: das-transformer on a made-up cluster");
    section.line(format!(
        "cluster {CLUSTER}; DAS_DROP_USERS=rdsadmin; per-command copies on"
    ));
    let mut counts = [0usize; 3];
    for rec in response["records"].as_array().into_iter().flatten() {
        let id = rec["recordId"].as_str().unwrap_or("?");
        let result = rec["result"].as_str().unwrap_or("?");
        let keys = &rec["metadata"]["partitionKeys"];
        let dest = match result {
            "Ok" => {
                counts[0] += 1;
                let k = |n: &str| keys[n].as_str().unwrap_or("?").to_owned();
                let key = format!(
                    "{PREFIX}/events/{}/{}/{}/{}/{}/",
                    k("resource"),
                    k("class"),
                    k("yyyy"),
                    k("mm"),
                    k("dd")
                );
                // Where the delivery stream would put the events, for `make query-check`.
                let data = STANDARD.decode(rec["data"].as_str().unwrap_or_default())?;
                output::write(&format!("{key}{id}.jsonl"), &data)?;
                format!("s3://{BUCKET}/{key}")
            }
            "Dropped" => {
                counts[1] += 1;
                "nowhere (nothing kept)".to_owned()
            }
            _ => {
                counts[2] += 1;
                format!(
                    "s3://{BUCKET}/{PREFIX}-errors/processing-failed/<yyyy>/<mm>/<dd>/ (still encrypted)"
                )
            }
        };
        section.line(format!("{id:<18} {result:<16} → {dest}"));
    }
    section.line(format!(
        "records: {} Ok, {} Dropped, {} ProcessingFailed",
        counts[0], counts[1], counts[2]
    ));
    let logs = stage.host.logs(FUNCTION);
    if let Some(emf) = logs.lines().find(|l| l.contains("\"EventsKept\"")) {
        let v: Value = serde_json::from_str(emf.trim()).unwrap_or(Value::Null);
        // EMF writes counts as JSON numbers such as 2.0; shown as whole numbers.
        let count = |name: &str| {
            v[name]
                .as_f64()
                .map_or("?".to_owned(), |n| format!("{n:.0}"))
        };
        section.line(format!(
            "events: {} kept, {} dropped (heartbeats, rdsadmin); KMS calls: {}",
            count("EventsKept"),
            count("EventsDropped"),
            count("KmsCalls")
        ));
    }
    let listed = s3.list_objects_v2().bucket(BUCKET).send().await?;
    for obj in listed.contents() {
        section.line(format!(
            "copy written: s3://{BUCKET}/{}",
            obj.key().unwrap_or("?")
        ));
    }
    section.line(format!(
        "plaintext in function logs: {}",
        if logs.contains("scale_slow") {
            "YES (bug)"
        } else {
            "none"
        }
    ));
    Ok(())
}
