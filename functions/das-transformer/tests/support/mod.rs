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
