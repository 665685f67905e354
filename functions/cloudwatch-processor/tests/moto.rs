//! The real adapters and the real binary against moto: re-ingested payloads read back from where
//! moto delivered them (S3 behind a delivery stream; GetRecords on a Kinesis stream).

mod common;

use std::time::Duration;

use aws_sdk_firehose::types::{DeliveryStreamType, ExtendedS3DestinationConfiguration};
use cloudwatch_processor::aws::AwsReingest;
use cloudwatch_processor::reingest::reingest_all;
use cloudwatch_processor::{Config, Piece, Target};
use common::*;
use serde_json::Value;
use sluice_cwlogs::{Payload, decode_all};
use sluice_firehose::{FirehoseResponse, RecordResult};
use sluice_testbed::aws_proxy::AwsProxy;
use sluice_testbed::iam_gate::{DeploySpec, FirehoseBatch, Gate, ServiceCall};
use sluice_testbed::lambda::{FunctionSpec, LambdaHost};
use sluice_testbed::moto::Moto;
use sluice_testbed::paths;

const PROCESSOR: &str = "cloudwatch-processor";

fn s3(moto: &Moto) -> aws_sdk_s3::Client {
    moto.s3_client()
}

/// A Direct PUT delivery stream writing into a new bucket of the same name.
async fn delivery_stream(moto: &Moto, name: &str) {
    s3(moto)
        .create_bucket()
        .bucket(name)
        .send()
        .await
        .expect("bucket");
    aws_sdk_firehose::Client::new(&moto.sdk_config())
        .create_delivery_stream()
        .delivery_stream_name(name)
        .delivery_stream_type(DeliveryStreamType::DirectPut)
        .extended_s3_destination_configuration(
            ExtendedS3DestinationConfiguration::builder()
                .role_arn("arn:aws:iam::123456789012:role/firehose")
                .bucket_arn(format!("arn:aws:s3:::{name}"))
                .prefix("reingested/")
                .build()
                .expect("config"),
        )
        .send()
        .await
        .expect("delivery stream");
}

/// Every subscription payload moto wrote into `bucket`.
async fn delivered(moto: &Moto, bucket: &str) -> Vec<Payload> {
    let s3 = s3(moto);
    let listed = s3
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .expect("list");
    let mut out = Vec::new();
    for obj in listed.contents() {
        let body = s3
            .get_object()
            .bucket(bucket)
            .key(obj.key().expect("key"))
            .send()
            .await
            .expect("get")
            .body
            .collect()
            .await
            .expect("body")
            .into_bytes();
        out.extend(decode_all(&body, 1 << 28).expect("payloads"));
    }
    out
}

fn pieces(n: usize) -> Vec<Piece> {
    (0..n)
        .map(|i| Piece {
            record_id: format!("r{i}"),
            data: gz_payload(&format!("/g{i}"), 20 + i, 120),
            partition_key: format!("{i}-r{i}"),
        })
        .collect()
}

#[tokio::test]
async fn given_delivery_stream_in_moto_when_reingested_then_s3_holds_every_event() {
    let moto = Moto::shared();
    delivery_stream(moto, "reingest-firehose").await;
    let adapter = AwsReingest::new(&moto.sdk_config());
    let target = Target::DeliveryStream("reingest-firehose".into());
    let stats = reingest_all(&adapter, &target, pieces(12), &Config::default())
        .await
        .expect("accepted");
    assert_eq!(stats.calls, 1);
    let payloads = delivered(moto, "reingest-firehose").await;
    assert_eq!(payloads.len(), 12);
    let events: usize = payloads.iter().map(|p| p.log_events.len()).sum();
    assert_eq!(events, (0..12).map(|i| 20 + i).sum::<usize>());
}

#[tokio::test]
async fn given_missing_delivery_stream_when_reingested_then_error_keeps_the_service_code() {
    let moto = Moto::shared();
    let adapter = AwsReingest::new(&moto.sdk_config());
    let target = Target::DeliveryStream("no-such-stream".into());
    let config = Config {
        max_attempts: 2,
        backoff: Duration::ZERO,
        ..Config::default()
    };
    let err = reingest_all(&adapter, &target, pieces(1), &config)
        .await
        .expect_err("missing");
    assert!(
        err.to_string().contains("ResourceNotFoundException"),
        "{err}"
    );
}

#[tokio::test]
async fn given_kinesis_stream_in_moto_when_reingested_then_get_records_returns_every_piece() {
    let moto = Moto::shared();
    let kinesis = aws_sdk_kinesis::Client::new(&moto.sdk_config());
    kinesis
        .create_stream()
        .stream_name("reingest-kinesis")
        .shard_count(1)
        .send()
        .await
        .expect("stream");
    let adapter = AwsReingest::new(&moto.sdk_config());
    let sent = pieces(7);
    reingest_all(
        &adapter,
        &Target::KinesisStream("reingest-kinesis".into()),
        sent.clone(),
        &Config::default(),
    )
    .await
    .expect("accepted");
    let shard = kinesis
        .list_shards()
        .stream_name("reingest-kinesis")
        .send()
        .await
        .expect("shards")
        .shards()[0]
        .shard_id()
        .to_owned();
    let iterator = kinesis
        .get_shard_iterator()
        .stream_name("reingest-kinesis")
        .shard_id(shard)
        .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
        .send()
        .await
        .expect("iterator")
        .shard_iterator()
        .expect("some")
        .to_owned();
    let got = kinesis
        .get_records()
        .shard_iterator(iterator)
        .send()
        .await
        .expect("records");
    let datas: Vec<Vec<u8>> = got
        .records()
        .iter()
        .map(|r| r.data().as_ref().to_vec())
        .collect();
    let keys: Vec<&str> = got
        .records()
        .iter()
        .filter_map(|r| r.partition_key())
        .collect();
    assert_eq!(
        datas,
        sent.iter().map(|p| p.data.clone()).collect::<Vec<_>>()
    );
    assert_eq!(keys[3], "3-r3");
}

/// Every subscription payload in `stream` (all shards, from the trim horizon).
async fn in_stream(moto: &Moto, stream: &str) -> Vec<Payload> {
    let kinesis = aws_sdk_kinesis::Client::new(&moto.sdk_config());
    let shards = kinesis
        .list_shards()
        .stream_name(stream)
        .send()
        .await
        .expect("shards");
    let mut out = Vec::new();
    for shard in shards.shards() {
        let mut iterator = kinesis
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(shard.shard_id())
            .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("iterator")
            .shard_iterator()
            .map(str::to_owned);
        while let Some(it) = iterator {
            let got = kinesis
                .get_records()
                .shard_iterator(it)
                .send()
                .await
                .expect("records");
            if got.records().is_empty() {
                break;
            }
            for r in got.records() {
                out.extend(decode_all(r.data().as_ref(), 1 << 28).expect("payloads"));
            }
            iterator = got.next_shard_iterator().map(str::to_owned);
        }
    }
    out
}

/// The processor as deployed: the delivery stream reads `stream` (Kinesis source, created here),
/// the real binary on a Lambda host, every call through an IAM-gated proxy as the template's
/// processor role. `env` is added to the function's environment.
struct Deployed {
    host: LambdaHost,
    proxy: AwsProxy,
    deployment: sluice_testbed::iam_gate::Deployment,
    stream_arn: String,
}

async fn deployed(moto: &Moto, stream: &str, env: &[(&str, &str)]) -> Deployed {
    aws_sdk_kinesis::Client::new(&moto.sdk_config())
        .create_stream()
        .stream_name(stream)
        .shard_count(2)
        .send()
        .await
        .expect("stream");
    let deployment = Gate::shared().deploy(
        &DeploySpec::new("sluice-test", [("EnableCloudWatchLogsExport", "true")]).physical([
            ("CwlStream", stream),
            ("CwlProcessorFunction", PROCESSOR),
            ("DataBucket", "cwl-export"),
        ]),
    );
    let proxy = AwsProxy::gated(moto, deployment.clone());
    let host = LambdaHost::start();
    let mut function_env = proxy.env_as(moto, "CwlProcessorFunctionRole");
    function_env.push(("OUTPUT_FORMAT".into(), "jsonl".into()));
    function_env.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    host.add_function(
        PROCESSOR,
        &paths::bin_path(PROCESSOR),
        FunctionSpec {
            env: function_env,
            ..FunctionSpec::default()
        },
    );
    Deployed {
        host,
        proxy,
        deployment,
        stream_arn: format!("arn:aws:kinesis:us-east-1:123456789012:stream/{stream}"),
    }
}

/// A batch of three records from `stream`: a small app payload, one whose output (6,000 events
/// of ~250 bytes, ~2.6 MB of JSON lines) passes the 1,000 KiB record limit, and a control message.
fn big_batch(stream_arn: &str) -> Value {
    let big = gz_payload("/aws/lambda/big", 6_000, 250);
    let mut ev = event(&[MOTO_APP.to_vec(), big, gzip(CONTROL_JSON)]);
    ev.delivery_stream_arn =
        "arn:aws:firehose:us-east-1:123456789012:deliverystream/sluice-test-cwlogs".into();
    ev.source_kinesis_stream_arn = Some(stream_arn.to_owned());
    serde_json::to_value(&ev).expect("json")
}

fn assert_big_batch_answered(out: Value) {
    let response: FirehoseResponse = serde_json::from_value(out).expect("response");
    let results: Vec<_> = response.records.iter().map(|r| r.result).collect();
    assert_eq!(
        results,
        [
            RecordResult::Ok,
            RecordResult::Dropped,
            RecordResult::Dropped
        ]
    );
    assert_eq!(ok_lines(&response), 7);
}

/// As deployed: the delivery stream reads `CwlStream` (Kinesis source), so the processor
/// re-ingests what does not fit into that stream; every call judged by the IAM gate as the
/// template's roles (the processor's, then Firehose's for the batch).
#[tokio::test]
async fn given_real_binary_on_lambda_host_when_record_too_big_then_pieces_reach_the_source_stream_and_rest_ok()
 {
    let moto = Moto::shared();
    let stream = "binary-cwlstream";
    let Deployed {
        host,
        proxy,
        deployment,
        stream_arn,
    } = deployed(moto, stream, &[]).await;
    let out: Value = host
        .invoke(PROCESSOR, &big_batch(&stream_arn))
        .await
        .expect("invoked");
    assert_big_batch_answered(out);
    let payloads = in_stream(moto, stream).await;
    assert!(payloads.len() >= 3, "{}", payloads.len());
    assert_eq!(
        payloads.iter().map(|p| p.log_events.len()).sum::<usize>(),
        6_000
    );
    let logs = host.logs(PROCESSOR);
    assert!(logs.contains("\"EventsReingested\":6000"), "{logs}");
    assert_eq!(proxy.take_denials().len(), 0);
    // CloudWatch Logs put the subscription payloads into the stream with its role.
    deployment.require_assume(
        "CwlLogsToKinesisRole",
        "logs.amazonaws.com",
        Some("arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/big:*"),
    );
    deployment.require_service_call(
        "CwlLogsToKinesisRole",
        &ServiceCall::json(
            "kinesis",
            "Kinesis_20131202.PutRecord",
            &serde_json::json!({ "StreamARN": stream_arn, "PartitionKey": "x", "Data": "" }),
        ),
        serde_json::json!({}),
    );
    deployment.require_firehose(&FirehoseBatch {
        role: "CwlFirehoseRole".into(),
        source_stream_arn: stream_arn,
        function: PROCESSOR.into(),
        bucket: "cwl-export".into(),
        keys: vec![
            "cloudwatch-logs/123456789012/.app.orders/2026/12/06/sluice-test-cwlogs-1-x".into(),
            "cloudwatch-logs-errors/processing-failed/2026/12/06/x".into(),
        ],
        log_group: "/aws/kinesisfirehose/sluice-test-cwlogs".into(),
        log_stream: "DestinationDelivery".into(),
    });
}

/// Kinesis throttles the re-ingest (`ProvisionedThroughputExceededException` on the whole call,
/// as a hot shard answers): the processor backs off and puts the pieces again, the invocation
/// succeeds, and the stream holds every event exactly once.
#[tokio::test]
async fn given_reingest_throttled_by_kinesis_then_backs_off_and_every_event_lands_once() {
    let moto = Moto::shared();
    let stream = "binary-cwl-throttled";
    let Deployed {
        host,
        proxy,
        stream_arn,
        deployment: _deployment,
    } = deployed(
        moto,
        stream,
        &[("AWS_MAX_ATTEMPTS", "1"), ("REINGEST_BACKOFF_MS", "50")],
    )
    .await;
    proxy.fail(
        "PutRecords",
        "ProvisionedThroughputExceededException",
        "Rate exceeded for shard shardId-000000000000 in stream binary-cwl-throttled under account 123456789012.",
        Some(3),
    );
    let out: Value = host
        .invoke(PROCESSOR, &big_batch(&stream_arn))
        .await
        .unwrap_or_else(|e| panic!("{e:?}\n{}", host.logs(PROCESSOR)));
    assert_big_batch_answered(out);
    let payloads = in_stream(moto, stream).await;
    let ids: std::collections::BTreeSet<&str> = payloads
        .iter()
        .flat_map(|p| p.log_events.iter().map(|e| e.id.as_str()))
        .collect();
    assert_eq!(
        payloads.iter().map(|p| p.log_events.len()).sum::<usize>(),
        6_000,
        "every event once"
    );
    assert_eq!(ids.len(), 6_000, "no event twice");
    let puts = proxy
        .calls()
        .iter()
        .filter(|c| c.contains("PutRecords"))
        .count();
    assert!(
        puts >= 4,
        "3 throttled calls and at least one accepted: {puts}"
    );
    let logs = host.logs(PROCESSOR);
    assert!(!logs.contains("\"ReingestRetriedPieces\":0"), "{logs}");
    assert!(logs.contains("ReingestRetriedPieces"), "{logs}");
    assert_eq!(proxy.take_denials().len(), 0);
}

/// A batch about three responses long through the real binary, as deployed: the records past the
/// predicted end of the response go back to the source stream early (one `PutRecords`), the one
/// between the real end and that tail after the answers (a second), and every event of the batch
/// is either answered `Ok` or back in the stream, once.
#[tokio::test]
async fn given_batch_three_responses_long_when_invoked_then_tail_goes_back_early_and_every_event_lands_once()
 {
    let moto = Moto::shared();
    let stream = "binary-cwl-long";
    let Deployed {
        host,
        proxy,
        stream_arn,
        deployment: _deployment,
    } = deployed(moto, stream, &[]).await;
    // Each record answers ~0.9 MB (2,000 JSON lines, base64): about 6 fit in the 6 MB response.
    let records: Vec<Vec<u8>> = (0..24)
        .map(|i| gz_payload(&format!("/app/{i:02}"), 2_000, 250))
        .collect();
    let mut ev = event(&records);
    ev.delivery_stream_arn =
        "arn:aws:firehose:us-east-1:123456789012:deliverystream/sluice-test-cwlogs".into();
    ev.source_kinesis_stream_arn = Some(stream_arn);
    let out: Value = host
        .invoke(PROCESSOR, &serde_json::to_value(&ev).expect("json"))
        .await
        .unwrap_or_else(|e| panic!("{e:?}\n{}", host.logs(PROCESSOR)));
    let response: FirehoseResponse = serde_json::from_value(out).expect("response");
    let ok = response
        .records
        .iter()
        .take_while(|r| r.result == RecordResult::Ok)
        .count();
    assert!((4..12).contains(&ok), "{ok} records answered Ok");
    assert!(
        response.records[ok..]
            .iter()
            .all(|r| r.result == RecordResult::Dropped),
        "the rest Dropped"
    );
    let mut groups: Vec<String> = in_stream(moto, stream)
        .await
        .into_iter()
        .inspect(|p| assert_eq!(p.log_events.len(), 2_000, "{} whole", p.log_group))
        .map(|p| p.log_group)
        .collect();
    groups.sort();
    let expected: Vec<String> = (ok..24).map(|i| format!("/app/{i:02}")).collect();
    assert_eq!(
        groups, expected,
        "each record not answered Ok is back in the stream, once"
    );
    assert_eq!(ok_lines(&response), ok * 2_000);
    let puts = proxy
        .calls()
        .iter()
        .filter(|c| c.contains("PutRecords"))
        .count();
    assert_eq!(puts, 2, "the early tail, then the record before it");
    assert!(
        host.logs(PROCESSOR)
            .contains("re-ingested the batch's tail early"),
        "{}",
        host.logs(PROCESSOR)
    );
    assert_eq!(proxy.take_denials().len(), 0);
}
