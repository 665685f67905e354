//! The subscriber against moto: 60 log groups (two DescribeLogGroups pages), some already
//! subscribed by us, some holding two foreign filters, some excluded, Sluice's own skipped.

use aws_sdk_firehose::types::{DeliveryStreamType, ExtendedS3DestinationConfiguration};
use log_subscriber::account::PolicyOutcome;
use log_subscriber::kinesis::AwsKinesis;
use log_subscriber::logs::AwsLogs;
use log_subscriber::{Aws, Config, Mode, handle};
use serde_json::json;
use sluice_runtime::config::Env;
use sluice_testbed::aws_proxy::AwsProxy;
use sluice_testbed::iam_gate::{DeploySpec, Gate};
use sluice_testbed::logs_policies::AccountPolicies;
use sluice_testbed::moto::Moto;

const ROLE: &str = "arn:aws:iam::123456789012:role/cwl-to-firehose";

/// The subscriber's client as deployed: its calls judged by the IAM gate as
/// `CwlSubscriberFunctionRole` (`ROLE` is the template's `CwlLogsToKinesisRole`).
/// Account policies (asked for by `remove`) are answered by the test bed's stand-in.
fn gated_logs(moto: &Moto) -> ((AwsProxy, AccountPolicies), aws_sdk_cloudwatchlogs::Client) {
    let deployment = Gate::shared().deploy(
        &DeploySpec::new(
            "sluice-test",
            [
                ("EnableCloudWatchLogsExport", "true"),
                ("CwlSubscribeNewGroups", "true"),
            ],
        )
        .physical([("CwlLogsToKinesisRole", "cwl-to-firehose")]),
    );
    let proxy = AwsProxy::gated(moto, deployment);
    let policies = AccountPolicies::start();
    policies.route_through(&proxy);
    let client =
        aws_sdk_cloudwatchlogs::Client::new(&proxy.sdk_config_as("CwlSubscriberFunctionRole"));
    ((proxy, policies), client)
}

async fn firehose_arn(moto: &Moto, name: &str) -> String {
    let s3 = sluice_runtime::aws::s3_client(
        &moto.sdk_config(),
        &Env::from_pairs([("AWS_ENDPOINT_URL", moto.endpoint().as_str())]),
    );
    s3.create_bucket()
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
                .build()
                .expect("config"),
        )
        .send()
        .await
        .expect("stream")
        .delivery_stream_arn()
        .expect("arn")
        .to_owned()
}

#[tokio::test]
async fn given_60_groups_in_moto_when_subscribed_then_counts_match_and_second_run_is_a_no_op() {
    let moto = Moto::start();
    let target = firehose_arn(&moto, "subscriber-target").await;
    let other = firehose_arn(&moto, "foreign-target").await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&moto.sdk_config());
    let put = |group: String, name: &'static str, dest: String| {
        let logs = logs.clone();
        async move {
            logs.put_subscription_filter()
                .log_group_name(group)
                .filter_name(name)
                .filter_pattern("")
                .destination_arn(dest)
                .role_arn(ROLE)
                .send()
                .await
                .expect("filter");
        }
    };
    let mut names = Vec::new();
    names.extend((0..40).map(|i| format!("/app/new-{i:02}")));
    names.extend((0..6).map(|i| format!("/app/ours-{i}")));
    names.extend((0..4).map(|i| format!("/app/stale-{i}")));
    names.extend((0..5).map(|i| format!("/app/full-{i}")));
    names.extend((0..3).map(|i| format!("/app/noisy-{i}-debug")));
    names.extend((0..2).map(|i| format!("/aws/lambda/sluice-fn{i}")));
    for n in &names {
        logs.create_log_group()
            .log_group_name(n)
            .send()
            .await
            .expect("group");
    }
    for i in 0..6 {
        put(format!("/app/ours-{i}"), "sluice-export", target.clone()).await;
    }
    for i in 0..4 {
        put(format!("/app/stale-{i}"), "sluice-export", other.clone()).await;
    }
    for i in 0..5 {
        put(format!("/app/full-{i}"), "team-a", other.clone()).await;
        put(format!("/app/full-{i}"), "team-b", other.clone()).await;
    }

    let config = Config::from_env(&Env::from_pairs([
        ("DESTINATION_ARN", target.as_str()),
        ("ROLE_ARN", ROLE),
        ("EXCLUDE_REGEX", "-debug$"),
        (
            "OWN_LOG_GROUPS",
            "/aws/lambda/sluice-fn0,/aws/lambda/sluice-fn1",
        ),
    ]))
    .expect("config");
    let (_proxy, gated) = gated_logs(&moto);
    let adapter = AwsLogs::new(gated);
    // A Firehose target: no backfill, so the stream is never called.
    let unused = AwsKinesis::new(aws_sdk_kinesis::Client::new(&moto.sdk_config()));
    let adapter = Aws {
        logs: &adapter,
        stream: &unused,
    };
    let report = handle(&json!({}), &config, adapter).await.expect("ran");
    assert_eq!(report.groups, 60);
    assert_eq!(report.subscribed, 40);
    assert_eq!(report.already, 6);
    assert_eq!(report.updated, 4);
    assert_eq!(report.skipped_two_filters, 5);
    assert_eq!((report.excluded, report.own), (3, 2));
    assert_eq!(report.failed, 0);

    let filters = logs
        .describe_subscription_filters()
        .log_group_name("/app/stale-0")
        .send()
        .await
        .expect("filters");
    assert_eq!(
        filters.subscription_filters()[0].destination_arn(),
        Some(target.as_str())
    );

    let again = handle(&json!({}), &config, adapter).await.expect("ran");
    assert_eq!((again.subscribed, again.updated, again.already), (0, 0, 50));

    let removed = handle(&json!({"mode": "remove"}), &config, adapter)
        .await
        .expect("ran");
    assert_eq!(removed.removed, 50);
    assert_eq!(removed.policy, Some(PolicyOutcome::Absent));
    let full = logs
        .describe_subscription_filters()
        .log_group_name("/app/full-0")
        .send()
        .await
        .expect("filters");
    assert_eq!(full.subscription_filters().len(), 2);
}

/// The sample CloudTrail `CreateLogGroup` event (`events/create-log-group.json`), for `group`.
fn create_log_group_event(group: &str) -> serde_json::Value {
    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("../../../events/create-log-group.json"))
            .expect("sample event");
    event["detail"]["requestParameters"]["logGroupName"] = json!(group);
    event
}

#[tokio::test]
async fn given_create_log_group_events_in_moto_then_only_the_named_selected_group_is_subscribed() {
    let moto = Moto::start();
    let target = firehose_arn(&moto, "new-group-target").await;
    let other = firehose_arn(&moto, "new-group-foreign").await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&moto.sdk_config());
    // `/app/new-1` sorts after `/app/new` under the same prefix: the exact name must be picked.
    for n in [
        "/app/new",
        "/app/new-1",
        "/app/full",
        "/app/noisy-debug",
        "/aws/lambda/sluice-fn",
        "/aws/lambda/sluice-fn-app",
    ] {
        logs.create_log_group()
            .log_group_name(n)
            .send()
            .await
            .expect("group");
    }
    for name in ["team-a", "team-b"] {
        logs.put_subscription_filter()
            .log_group_name("/app/full")
            .filter_name(name)
            .filter_pattern("")
            .destination_arn(&other)
            .role_arn(ROLE)
            .send()
            .await
            .expect("foreign filter");
    }
    let config = Config::from_env(&Env::from_pairs([
        ("DESTINATION_ARN", target.as_str()),
        ("ROLE_ARN", ROLE),
        ("EXCLUDE_REGEX", "-debug$"),
        ("OWN_LOG_GROUPS", "/aws/lambda/sluice-fn"),
    ]))
    .expect("config");
    let (_proxy, gated) = gated_logs(&moto);
    let logs_adapter = AwsLogs::new(gated);
    let unused = AwsKinesis::new(aws_sdk_kinesis::Client::new(&moto.sdk_config()));
    let adapter = Aws {
        logs: &logs_adapter,
        stream: &unused,
    };
    let run = |group: &'static str| {
        let config = &config;
        async move {
            handle(&create_log_group_event(group), config, adapter)
                .await
                .expect("ran")
        }
    };
    let filters = |group: &'static str| {
        let logs = logs.clone();
        async move {
            logs.describe_subscription_filters()
                .log_group_name(group)
                .send()
                .await
                .expect("filters")
                .subscription_filters()
                .iter()
                .map(|f| f.filter_name().unwrap_or_default().to_owned())
                .collect::<Vec<_>>()
        }
    };

    let new = run("/app/new").await;
    assert_eq!(new.mode, Some(Mode::NewGroup));
    assert_eq!((new.groups, new.subscribed, new.failed), (1, 1, 0));
    assert_eq!(filters("/app/new").await, ["sluice-export"]);
    assert!(
        filters("/app/new-1").await.is_empty(),
        "only the named group"
    );

    let again = run("/app/new").await;
    assert_eq!((again.subscribed, again.already), (0, 1));

    let full = run("/app/full").await;
    assert_eq!(full.skipped_two_filters, 1);
    assert_eq!(filters("/app/full").await, ["team-a", "team-b"]);

    assert_eq!(run("/app/noisy-debug").await.excluded, 1);
    assert_eq!(run("/aws/lambda/sluice-fn").await.own, 1);
    assert!(filters("/app/noisy-debug").await.is_empty());
    assert!(filters("/aws/lambda/sluice-fn").await.is_empty());
    // Only exact names are own: a group sharing the own group's name as a prefix is subscribed.
    assert_eq!(run("/aws/lambda/sluice-fn-app").await.subscribed, 1);
    assert_eq!(
        filters("/aws/lambda/sluice-fn-app").await,
        ["sluice-export"]
    );

    let gone = run("/app/deleted-since").await;
    assert_eq!((gone.groups, gone.subscribed, gone.failed), (0, 0, 0));
}
