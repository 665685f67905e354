//! RDS log sync: a fake instance with a few log files (one multibyte, one not UTF-8 at all),
//! a first sync by the real `log-syncer` binary, an append, and a second sync that copies only
//! the grown file.

use serde_json::{Value, json};
use sluice_runtime::config::Env;
use sluice_testbed::lambda::FunctionSpec;
use sluice_testbed::paths;
use sluice_testbed::rds_logs::RdsLogs;

use crate::Stage;
use crate::report::Report;

const FUNCTION: &str = "log-syncer";
const BUCKET: &str = "sluice-demo-rds-logs";
const INSTANCE: &str = "demo-postgres";

/// Runs the scenario and reports what each sync copied and skipped.
pub async fn run(stage: &Stage, report: &mut Report) -> anyhow::Result<()> {
    let rds = RdsLogs::with_moto(&stage.moto.endpoint());
    rds.write(
        INSTANCE,
        "error/postgresql.log.2026-11-22-12",
        "2026-11-22 12:00:01 UTC LOG:  connexion reçue — ユーザー ✓\n"
            .repeat(20)
            .as_bytes(),
    );
    rds.write(
        INSTANCE,
        "error/postgresql.log.2026-11-22-13",
        b"2026-11-22 13:00:01 UTC LOG:  checkpoint starting\n",
    );
    rds.write(INSTANCE, "log/ERROR", b"latin-1 bytes: caf\xe9 \xff\n");
    let env = Env::from_pairs([("AWS_ENDPOINT_URL", "set")]);
    let s3 = sluice_runtime::aws::s3_client(&stage.moto.sdk_config(), &env);
    s3.create_bucket().bucket(BUCKET).send().await?;

    let mut fenv = stage.moto.env();
    fenv.push(rds.env());
    fenv.push(("LOG_BUCKET".into(), BUCKET.into()));
    fenv.push(("RDS_INSTANCES".into(), INSTANCE.into()));
    stage.host.add_function(
        FUNCTION,
        &paths::bin_path(FUNCTION),
        FunctionSpec {
            env: fenv,
            ..FunctionSpec::default()
        },
    );
    let section = report.section("RDS log sync: log-syncer");
    section.line(format!(
        "test-bed RDS endpoint {} (SigV4 checked), S3 bucket {BUCKET} on moto",
        rds.endpoint()
    ));
    let scheduled = json!({"source": "aws.events", "detail-type": "Scheduled Event"});
    let first = stage.host.invoke(FUNCTION, &scheduled).await?;
    describe("first sync", &first, section);
    rds.append(
        INSTANCE,
        "error/postgresql.log.2026-11-22-13",
        "2026-11-22 13:05:00 UTC LOG:  checkpoint complete ✓\n".as_bytes(),
    );
    section.line("appended a line to error/postgresql.log.2026-11-22-13");
    let second = stage.host.invoke(FUNCTION, &scheduled).await?;
    describe("second sync", &second, section);
    let listed = s3.list_objects_v2().bucket(BUCKET).send().await?;
    for object in listed.contents() {
        section.line(format!(
            "  s3://{BUCKET}/{} ({} bytes)",
            object.key().unwrap_or_default(),
            object.size().unwrap_or_default()
        ));
    }
    section.line(format!(
        "signatures refused: {} (of {} downloads)",
        rds.counts().rejected,
        rds.counts().download
    ));
    Ok(())
}

fn describe(label: &str, out: &Value, section: &mut crate::report::Section) {
    section.line(format!(
        "{label}: {} copied, {} unchanged, {} instance(s) failed",
        out["files_copied"], out["files_unchanged"], out["instances_failed"]
    ));
    for instance in out["instances"].as_array().into_iter().flatten() {
        for file in instance["files"].as_array().into_iter().flatten() {
            section.line(format!(
                "  {} {} → {} ({} bytes, {})",
                file["outcome"].as_str().unwrap_or_default(),
                file["file"].as_str().unwrap_or_default(),
                file["key"].as_str().unwrap_or_default(),
                file["source_bytes"],
                file["reason"].as_str().unwrap_or_default()
            ));
        }
    }
}
