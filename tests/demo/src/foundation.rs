//! The stand-ins themselves: moto reached through the SDK, a function on the Lambda host, and
//! the NotReady/cleanup patterns under the real ASL engine.

use std::collections::BTreeMap;

use serde_json::json;
use sluice_testbed::asl::{self, AslRunSpec};
use sluice_testbed::lambda::FunctionSpec;
use sluice_testbed::paths;

use crate::Stage;
use crate::report::Report;

const FIXTURE_FN: &str = "sluice-fixture-fn";

/// Runs the fixture state machine twice: once retried to success, once failing into cleanup.
pub async fn run(stage: &Stage, report: &mut Report) -> anyhow::Result<()> {
    stage.host.add_function(
        FIXTURE_FN,
        &paths::bin_path(FIXTURE_FN),
        FunctionSpec {
            env: stage.moto.env(),
            ..FunctionSpec::default()
        },
    );
    let section = report.section("Test bed: moto, Lambda host, ASL engine");
    section.line(format!("moto server at {}", stage.moto.endpoint()));
    section.line(format!("Lambda Invoke API at {}", stage.host.endpoint()));
    for (label, input) in [
        (
            "NotReady retried until ready",
            json!({"key": "demo", "ready_after": 3, "work": {"op": "cleanup"}}),
        ),
        (
            "hard failure → cleanup → Fail",
            json!({"key": "demo-fail", "ready_after": 1,
                   "work": {"op": "fail", "errorType": "ResourceFailed", "message": "temp-db is storage-full"}}),
        ),
    ] {
        let run = asl::run(&AslRunSpec {
            definition: "tests/fixtures/notready-then-cleanup.asl.json".into(),
            input,
            substitutions: BTreeMap::from([(
                "FixtureFunctionArn".to_owned(),
                format!("arn:aws:lambda:us-east-1:123456789012:function:{FIXTURE_FN}"),
            )]),
            lambda_endpoint: Some(stage.host.endpoint()),
            ..AslRunSpec::default()
        })
        .await?;
        section.line(format!(
            "{label}: {} via {} (retries of WaitUntilReady: {}){}",
            run.status,
            run.path().join(" → "),
            run.retries("WaitUntilReady"),
            run.error
                .as_ref()
                .map(|e| format!(", error {e}"))
                .unwrap_or_default()
        ));
    }
    Ok(())
}
