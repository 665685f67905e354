//! Backfill against moto, every call through the IAM gate as the subscriber's role: events
//! written before our filter existed arrive in the Kinesis stream the filter targets, each once,
//! as subscription `DATA_MESSAGE`s; a second run sends nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_kinesis::types::ShardIteratorType;
use log_subscriber::backfill::{DONE, MARKER_KEY};
use log_subscriber::kinesis::AwsKinesis;
use log_subscriber::logs::AwsLogs;
use log_subscriber::{Aws, Config, handle};
use serde_json::json;
use sluice_cwlogs::{MessageType, Payload, decode};
use sluice_runtime::config::Env;
use sluice_testbed::aws_proxy::AwsProxy;
use sluice_testbed::iam_gate::{DeploySpec, Gate};
use sluice_testbed::moto::Moto;

const STREAM: &str = "cwlstream";
const ROLE: &str = "arn:aws:iam::123456789012:role/cwl-to-kinesis";

/// Every payload on the stream's shards, from the start.
async fn on_stream(kinesis: &aws_sdk_kinesis::Client) -> Vec<Payload> {
    let shards = kinesis
        .list_shards()
        .stream_name(STREAM)
        .send()
        .await
        .expect("shards");
    let mut out = Vec::new();
    for shard in shards.shards() {
        let mut iterator = kinesis
            .get_shard_iterator()
            .stream_name(STREAM)
            .shard_id(shard.shard_id())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("iterator")
            .shard_iterator()
            .map(str::to_owned);
        while let Some(it) = iterator.take() {
            let got = kinesis
                .get_records()
                .shard_iterator(it)
                .send()
                .await
                .expect("records");
            for r in got.records() {
                out.push(
                    decode(r.data().as_ref(), 16 << 20).expect("a gzipped subscription payload"),
                );
            }
            if !got.records().is_empty() {
                iterator = got.next_shard_iterator().map(str::to_owned);
            }
        }
    }
    out
}

#[tokio::test]
async fn given_events_written_before_subscription_when_subscribed_then_each_arrives_once_on_the_stream_and_a_second_run_sends_nothing()
 {
    let moto = Moto::start();
    let kinesis = aws_sdk_kinesis::Client::new(&moto.sdk_config());
    kinesis
        .create_stream()
        .stream_name(STREAM)
        .shard_count(2)
        .send()
        .await
        .expect("stream");
    let stream_arn = kinesis
        .describe_stream_summary()
        .stream_name(STREAM)
        .send()
        .await
        .expect("stream summary")
        .stream_description_summary()
        .map(|d| d.stream_arn().to_owned())
        .expect("stream arn");
    let logs = aws_sdk_cloudwatchlogs::Client::new(&moto.sdk_config());
    let mut written = BTreeMap::new();
    let mut arns = BTreeMap::new();
    for group in ["/app/orders", "/app/billing"] {
        logs.create_log_group()
            .log_group_name(group)
            .send()
            .await
            .expect("group");
        let described = logs
            .describe_log_groups()
            .log_group_name_prefix(group)
            .send()
            .await
            .expect("groups");
        let created = described.log_groups()[0]
            .creation_time()
            .expect("creation time");
        arns.insert(
            group,
            described.log_groups()[0]
                .log_group_arn()
                .expect("arn")
                .to_owned(),
        );
        for (s, stream) in ["i-0abc", "i-0def"].into_iter().enumerate() {
            logs.create_log_stream()
                .log_group_name(group)
                .log_stream_name(stream)
                .send()
                .await
                .expect("log stream");
            let events: Vec<_> = (0..15)
                .map(|i| {
                    let message = format!("{group} {stream} line {i}");
                    written.insert(message.clone(), (group, stream));
                    aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                        .timestamp(created + 1 + i64::try_from(s * 15 + i).expect("small"))
                        .message(message)
                        .build()
                        .expect("event")
                })
                .collect();
            logs.put_log_events()
                .log_group_name(group)
                .log_stream_name(stream)
                .set_log_events(Some(events))
                .send()
                .await
                .expect("events");
        }
    }
    // The filter is put after every event's time.
    tokio::time::sleep(Duration::from_millis(100)).await;

    let deployment = Gate::shared().deploy(
        &DeploySpec::new("sluice-test", [("EnableCloudWatchLogsExport", "true")]).physical([
            ("CwlLogsToKinesisRole", "cwl-to-kinesis"),
            ("CwlStream", STREAM),
        ]),
    );
    let proxy = AwsProxy::gated(&moto, deployment);
    let sdk = proxy.sdk_config_as("CwlSubscriberFunctionRole");
    let gated_logs = AwsLogs::new(aws_sdk_cloudwatchlogs::Client::new(&sdk));
    let gated_kinesis = AwsKinesis::new(aws_sdk_kinesis::Client::new(&sdk));
    let aws = Aws {
        logs: &gated_logs,
        stream: &gated_kinesis,
    };
    let config = Config::from_env(&Env::from_pairs([
        ("DESTINATION_ARN", stream_arn.as_str()),
        ("ROLE_ARN", ROLE),
        ("BACKFILL_MAX_HOURS", "1"),
    ]))
    .expect("config");

    let report = handle(&json!({}), &config, aws).await.expect("ran");
    assert_eq!((report.subscribed, report.failed), (2, 0));
    assert_eq!((report.backfilled, report.backfill_events), (2, 60));

    let payloads = on_stream(&kinesis).await;
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    for p in &payloads {
        assert_eq!(p.message_type, MessageType::Data);
        assert_eq!(p.owner, "123456789012");
        assert_eq!(p.subscription_filters, ["sluice-export"]);
        for e in &p.log_events {
            assert_eq!(
                written.get(&e.message),
                Some(&(p.log_group.as_str(), p.log_stream.as_str())),
                "{} arrived under {}/{}",
                e.message,
                p.log_group,
                p.log_stream
            );
            *seen.entry(e.message.clone()).or_default() += 1;
        }
    }
    assert_eq!(
        seen.len(),
        written.len(),
        "every event written before the filter"
    );
    assert!(seen.values().all(|n| *n == 1), "each once: {seen:?}");

    let tags = logs
        .list_tags_for_resource()
        .resource_arn(&arns["/app/orders"])
        .send()
        .await
        .expect("tags");
    assert_eq!(
        tags.tags()
            .and_then(|t| t.get(MARKER_KEY))
            .map(String::as_str),
        Some(DONE)
    );

    let again = handle(&json!({}), &config, aws).await.expect("ran");
    assert_eq!(
        (again.already, again.backfilled, again.backfill_events),
        (2, 0, 0)
    );
    assert_eq!(
        on_stream(&kinesis).await.len(),
        payloads.len(),
        "nothing sent again"
    );
}
