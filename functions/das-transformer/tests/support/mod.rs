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
