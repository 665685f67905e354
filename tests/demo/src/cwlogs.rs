//! CloudWatch Logs export: log groups in moto, the real `log-subscriber` binary putting our
//! filter, log events put, their subscription payloads (written to S3 by moto's Firehose) through
//! the real `cloudwatch-processor` binary as Firehose would call it, and the S3 layout that
//! Firehose's dynamic partitioning makes from the returned partition keys.
//!
//! The demo crate has no CloudWatch Logs or Firehose SDK dependency, so the AWS setup steps use
//! the test bed's Python (boto3) against the same moto server; everything under test is Rust.

use std::collections::BTreeMap;
use std::process::Command;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sluice_runtime::config::Env;
use sluice_testbed::lambda::FunctionSpec;
use sluice_testbed::paths;

use crate::Stage;
use crate::output;
use crate::report::Report;

const SUBSCRIBER: &str = "log-subscriber";
const PROCESSOR: &str = "cloudwatch-processor";
const BUCKET: &str = "sluice-demo-cwlogs";

/// boto3 steps: `setup` (bucket, delivery stream, log groups, foreign filters) and `put`.
const AWS_STEPS: &str = r#"
import json, sys, time, boto3
op, endpoint, bucket = sys.argv[1], sys.argv[2], sys.argv[3]
c = lambda s: boto3.client(s, endpoint_url=endpoint, region_name="us-east-1")
logs = c("logs")
if op == "setup":
    c("s3").create_bucket(Bucket=bucket)
    arn = c("firehose").create_delivery_stream(
        DeliveryStreamName=bucket, DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={"RoleARN": "arn:aws:iam::123456789012:role/fh",
            "BucketARN": f"arn:aws:s3:::{bucket}", "Prefix": "subscription-raw/"})["DeliveryStreamARN"]
    for g in ["/app/web", "/app/worker", "/app/batch-debug", "/aws/lambda/sluice-demo-processor", "/legacy/two-filters"]:
        logs.create_log_group(logGroupName=g)
    for name in ["team-a", "team-b"]:
        logs.put_subscription_filter(logGroupName="/legacy/two-filters", filterName=name,
            filterPattern="", destinationArn=arn, roleArn="arn:aws:iam::123456789012:role/other")
    print(arn)
elif op == "put":
    # CloudWatch Logs (and moto) refuse events older than 14 days: ten minutes ago.
    t0 = (int(time.time()) - 600) * 1000 + 123
    for g, lines in {"/app/web": ["GET /orders 200 12ms", "GET /health 200 1ms", "POST /orders 201 40ms",
                                  "POST /orders 500 ERROR upstream timeout"],
                     "/app/worker": ["job 17 started", "job 17 done in 2.1s\n",
                                     "job 18 failed: Exception: connection reset"]}.items():
        logs.create_log_stream(logGroupName=g, logStreamName="i-0abc")
        logs.put_log_events(logGroupName=g, logStreamName="i-0abc",
            logEvents=[{"timestamp": t0 + i, "message": m} for i, m in enumerate(lines)])
    print(t0)
"#;

fn aws_step(stage: &Stage, op: &str) -> anyhow::Result<String> {
    let out = Command::new(paths::python())
        .args(["-c", AWS_STEPS, op, &stage.moto.endpoint(), BUCKET])
        .envs(stage.moto.env())
        .output()
        .context("run the boto3 setup step")?;
    anyhow::ensure!(
        out.status.success(),
        "boto3 step {op} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Runs the scenario and adds its section to the report.
pub async fn run(stage: &Stage, report: &mut Report) -> anyhow::Result<()> {
    let section = report.section("CloudWatch Logs export: subscriber → Firehose → processor → S3");
    output::clear("cloudwatch-logs/");
    let target = aws_step(stage, "setup")?;
    section.line(format!("moto: 5 log groups, delivery stream {target}"));

    let mut env = stage.moto.env();
    env.extend(
        [
            ("DESTINATION_ARN", target.as_str()),
            ("ROLE_ARN", "arn:aws:iam::123456789012:role/cwl-to-firehose"),
            ("EXCLUDE_REGEX", "-debug$"),
            ("OWN_LOG_GROUPS", "/aws/lambda/sluice-demo-processor"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    stage.host.add_function(
        SUBSCRIBER,
        &paths::bin_path(SUBSCRIBER),
        FunctionSpec {
            env,
            ..FunctionSpec::default()
        },
    );
    let first = stage.host.invoke(SUBSCRIBER, &json!({})).await?;
    section.line(format!("log-subscriber, first run:  {first}"));
    let second = stage.host.invoke(SUBSCRIBER, &json!({})).await?;
    section.line(format!("log-subscriber, second run: {second}"));

    let t0 = aws_step(stage, "put")?;
    // The events' time, for `make query-check` (tests/queries/expected.json names it).
    output::note("cwl_t0_ms", &t0)?;
    let s3 = sluice_runtime::aws::s3_client(
        &stage.moto.sdk_config(),
        &Env::from_pairs([("AWS_ENDPOINT_URL", stage.moto.endpoint().as_str())]),
    );
    let listed = s3
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix("subscription-raw/")
        .send()
        .await?;
    let mut records = Vec::new();
    for (i, obj) in listed.contents().iter().enumerate() {
        let key = obj.key().unwrap_or_default();
        let body = s3.get_object().bucket(BUCKET).key(key).send().await?;
        let bytes = body.body.collect().await?.into_bytes();
        records.push(json!({"recordId": format!("r{i}"), "data": STANDARD.encode(&bytes)}));
    }
    section.line(format!(
        "log events put; moto's Firehose wrote {} gzipped subscription payloads",
        records.len()
    ));

    let mut env = stage.moto.env();
    env.push(("OUTPUT_FORMAT".into(), "jsonl".into()));
    stage.host.add_function(
        PROCESSOR,
        &paths::bin_path(PROCESSOR),
        FunctionSpec {
            env,
            ..FunctionSpec::default()
        },
    );
    let event = json!({
        "invocationId": "demo",
        "deliveryStreamArn": target,
        "region": "us-east-1",
        "records": records,
    });
    let response = stage.host.invoke(PROCESSOR, &event).await?;
    let answers = response["records"].as_array().cloned().unwrap_or_default();
    let mut results: BTreeMap<String, usize> = BTreeMap::new();
    for (n, r) in answers.iter().enumerate() {
        let result = r["result"].as_str().unwrap_or("?").to_owned();
        *results.entry(result.clone()).or_default() += 1;
        if result != "Ok" {
            continue;
        }
        // What Firehose's dynamic partitioning does with the keys.
        let k = &r["metadata"]["partitionKeys"];
        let key = format!(
            "cloudwatch-logs/{}/{}/{}/{}/{}/demo-{n}",
            text(&k["account"]),
            text(&k["logGroup"]),
            text(&k["year"]),
            text(&k["month"]),
            text(&k["day"])
        );
        let data = STANDARD
            .decode(text(&r["data"]))
            .context("processor data is base64")?;
        output::write(&key, &data)?;
        s3.put_object()
            .bucket(BUCKET)
            .key(key)
            .body(data.into())
            .send()
            .await?;
    }
    section.line(format!("cloudwatch-processor answers: {results:?}"));
    let layout = s3
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix("cloudwatch-logs/")
        .send()
        .await?;
    for obj in layout.contents() {
        let key = obj.key().unwrap_or_default();
        section.line(format!("s3://{BUCKET}/{key}"));
        let body = s3.get_object().bucket(BUCKET).key(key).send().await?;
        let bytes = body.body.collect().await?.into_bytes();
        for line in String::from_utf8_lossy(&bytes).lines().take(3) {
            section.line(format!("    {line}"));
        }
    }
    Ok(())
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("_")
}
