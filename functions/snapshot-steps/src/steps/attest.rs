//! The attestation report of a kept snapshot: what made it, and the proof it passed the gate.
//!
//! `attest` runs once everything is published. It reads the sanitizer task's own summary (its
//! verification queries with their row counts and the leak check's counts, never a row value),
//! writes `sanitized-reports/<snapshot id>.json` next to the script (SSE: the bucket's default
//! encryption), and tags the kept snapshot with the report's SHA-256, so whoever restores the
//! snapshot can find the report and check it was not changed.

use serde_json::{Value, json};
use sluice_runtime::StepError;
use sluice_runtime::pin::Sha256Pin;

use super::{resource_failed, run_tags};
use crate::Deps;
use crate::aws::{ROLE_SANITIZED, aws_error, rds_tags};
use crate::script::split_s3_uri;
use crate::state::State;

/// Where reports go, in the script's bucket.
pub(crate) const REPORT_PREFIX: &str = "sanitized-reports/";
/// The kept snapshot's tag holding the report's SHA-256.
pub(crate) const REPORT_TAG: &str = "sluice:report-sha256";
/// Largest task summary read.
const MAX_SUMMARY_BYTES: usize = 4 * 1024 * 1024;

/// `s3://bucket/sanitized-reports/runs/<run id>/sanitizer.json`: where the task writes its
/// summary (`SANITIZER_SUMMARY_URI`), in the script's bucket.
pub(super) fn summary_uri(script_uri: &str, run_id: &str) -> Option<String> {
    let (bucket, _) = split_s3_uri(script_uri)?;
    Some(format!(
        "s3://{bucket}/{REPORT_PREFIX}runs/{run_id}/sanitizer.json"
    ))
}

/// Writes the kept snapshot's report and tags the snapshot with its SHA-256 (once: a report
/// already recorded in the state is not written again).
pub(super) async fn attest(s: &mut State, deps: &Deps, now: i64) -> Result<(), StepError> {
    if s.report_sha256.is_some() {
        return Ok(());
    }
    let c = s.settings(deps.config()?);
    let snapshot = State::need(&s.snapshot, "snapshot")?.clone();
    let snapshot_arn = State::need(&s.snapshot_arn, "snapshotArn")?.clone();
    let summary_at = summary_uri(&c.script_uri, &s.run_id)
        .ok_or_else(|| StepError::config(format!("SCRIPT_URI {:?}", c.script_uri)))?;
    let sanitizer = read_json(&deps.s3, &summary_at).await?;
    if !sanitizer["outcome"]
        .as_str()
        .is_some_and(|o| o.eq_ignore_ascii_case("succeeded"))
    {
        return Err(resource_failed(format!(
            "the sanitizer's summary at {summary_at} does not say it succeeded ({}); \
             the snapshot is not attested",
            sanitizer["outcome"]
        )));
    }
    let mut durations = s.durations.clone();
    if let Some(started) = s.started {
        durations.insert("total".into(), now - started);
    }
    let report = json!({
        "runId": s.run_id,
        "executionArn": s.execution_arn,
        "source": s.input.source,
        "engine": s.engine,
        "snapshot": snapshot,
        "snapshotArn": snapshot_arn,
        "sharedWith": s.accounts,
        "drSnapshotArn": s.dr_snapshot_arn,
        "script": { "uri": c.script_uri, "sha256": c.script_sha256 },
        "settings": c.mapping,
        "verification": sanitizer["verification"],
        "leakCheck": sanitizer["leak_check"],
        "sanitizer": {
            "outcome": sanitizer["outcome"],
            "database": sanitizer["database"],
            "transaction": sanitizer["transaction"],
            "statements": sanitizer["statements"],
        },
        "durationsSeconds": durations,
        "attestedAt": now,
    });
    let body = serde_json::to_vec(&report)
        .map_err(|e| StepError::new(sluice_runtime::ErrorKind::Internal, e.to_string()))?;
    let digest = Sha256Pin::of(&body).to_string();
    let (bucket, _) = split_s3_uri(&c.script_uri)
        .ok_or_else(|| StepError::config(format!("SCRIPT_URI {:?}", c.script_uri)))?;
    let key = format!("{REPORT_PREFIX}{snapshot}.json");
    deps.s3
        .put_object()
        .bucket(bucket)
        .key(&key)
        .content_type("application/json")
        .body(body.into())
        .send()
        .await
        .map_err(|e| aws_error("PutObject", &key, e))?;
    // The tag guard lets Sluice tag only what carries its run's tags: they are sent again.
    let mut tags = rds_tags(&run_tags(s, ROLE_SANITIZED));
    tags.push(
        aws_sdk_rds::types::Tag::builder()
            .key(REPORT_TAG)
            .value(&digest)
            .build(),
    );
    deps.rds
        .client
        .add_tags_to_resource()
        .resource_name(&snapshot_arn)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| aws_error("AddTagsToResource", &snapshot_arn, e))?;
    tracing::info!(report = %key, sha256 = %digest, "snapshot attested");
    s.report = Some(format!("s3://{bucket}/{key}"));
    s.report_sha256 = Some(digest);
    Ok(())
}

/// A sanitizer summary (JSON, at most 4 MiB) at S3 URI `uri`.
pub(crate) async fn read_json(s3: &aws_sdk_s3::Client, uri: &str) -> Result<Value, StepError> {
    let (bucket, key) =
        split_s3_uri(uri).ok_or_else(|| StepError::config(format!("not an S3 URI: {uri}")))?;
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| aws_error("GetObject", uri, e))?;
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| resource_failed(format!("reading {uri}: {e}")))?
        .into_bytes();
    if bytes.len() > MAX_SUMMARY_BYTES {
        return Err(resource_failed(format!(
            "{uri} is {} bytes, more than a sanitizer summary ({MAX_SUMMARY_BYTES})",
            bytes.len()
        )));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| resource_failed(format!("{uri} is not the sanitizer's summary: {e}")))
}
