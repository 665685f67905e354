//! Sanitized snapshots: the real state machine, `snapshot-steps` and `sanitizer` binaries on
//! the stand-ins; the local PostgreSQL plays the restored temp database.

use std::time::Duration;

use sluice_testbed::moto::Moto;
use sluice_testbed::notifications::Subscriber;
use sluice_testbed::sanitized::{MISSES_CARD, Options, Stage};

use crate::report::Report;

/// One run that succeeds and one the verification gate stops.
pub async fn run(report: &mut Report) -> anyhow::Result<()> {
    let section =
        report.section("Sanitized snapshots: restore → sanitize → verify → snapshot → share");
    let good = Stage::new(Options::default()).await;
    let first = |stage: &Stage| {
        stage
            .db
            .sql("SELECT id, name, email, card_number FROM customers WHERE id = 1")
            .trim()
            .replace('\t', " | ")
    };
    section.line(format!(
        "source {} (production, only read and snapshotted)",
        good.source
    ));
    section.line(format!("before: {}", first(&good)));
    let run = good.run().await;
    section.line(format!("run {}: {}", good.run_id(), run.status));
    section.line(format!("  path: {}", run.path().join(" → ")));
    section.line(format!("after:  {}", first(&good)));
    for (snapshot, shared) in good.kept().await {
        section.line(format!("kept {snapshot}, shared with {shared:?}"));
    }
    let left: Vec<String> = good
        .leftovers()
        .await
        .into_iter()
        .filter(|l| !l.starts_with("snapshot ") || !l.contains("-sanitized-"))
        .collect();
    section.line(format!("temp resources left: {left:?}"));
    if let Some(uri) = run.output.as_ref().and_then(|o| o["report"].as_str()) {
        let (bucket, key) = uri
            .strip_prefix("s3://")
            .and_then(|r| r.split_once('/'))
            .ok_or_else(|| anyhow::anyhow!("report URI {uri}"))?;
        let body = Moto::shared()
            .s3_client()
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await?
            .body
            .collect()
            .await?
            .into_bytes();
        section.line(format!(
            "attestation report {uri} (its SHA-256 is the snapshot's sluice:report-sha256 tag):"
        ));
        let pretty = serde_json::from_slice::<serde_json::Value>(&body)
            .and_then(|v| serde_json::to_string_pretty(&v))
            .unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned());
        for line in pretty.lines() {
            section.line(format!("  {line}"));
        }
    }
    if let Some(task) = good.ecs.run_task_requests().first() {
        let names: Vec<String> = task["overrides"]["containerOverrides"][0]["environment"]
            .as_array()
            .map(|env| {
                env.iter()
                    .filter_map(|v| v["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        section.line(format!(
            "task overrides (names only, no password): {names:?}"
        ));
    }
    anyhow::ensure!(
        run.succeeded(),
        "the sanitized snapshot run failed: {:?}",
        run.cause
    );

    let gated = Stage::new(Options {
        script: MISSES_CARD,
        ..Options::default()
    })
    .await;
    // The alarm topic's subscriber, as the template's notification rule feeds it.
    let subscriber = Subscriber::subscribe(
        Moto::shared(),
        "SanitizedSnapshotNotifyRule",
        &gated.run_id(),
        false,
    )
    .await;
    let run = gated.run().await;
    for event in subscriber.events(Duration::from_secs(10)).await {
        section.line(format!(
            "alarm topic subscriber got: {} (run {}): {}",
            event["detail-type"].as_str().unwrap_or("?"),
            event["detail"]["runId"].as_str().unwrap_or("?"),
            event["detail"]["error"].as_str().unwrap_or("?"),
        ));
    }
    section.line(format!(
        "script that forgets card_number: {} with {} via {}",
        run.status,
        run.error.as_deref().unwrap_or("-"),
        run.path().join(" → ")
    ));
    section.line(format!(
        "  kept snapshots: {}, resources left: {:?}",
        gated.kept().await.len(),
        gated.leftovers().await
    ));
    anyhow::ensure!(
        !run.succeeded(),
        "the verification gate let a bad script through"
    );
    Ok(())
}
