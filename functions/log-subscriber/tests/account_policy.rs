//! Account-policy mode (issue 23, item 2) through the IAM gate: the subscriber's calls judged as
//! `CwlSubscriberFunctionRole` deployed with `CwlSubscriptionMode=account-policy`; log groups
//! and filters in moto, account policies in the test bed's stand-in (moto has none).

use std::io::{Read, Write};
use std::sync::Mutex;

use log_subscriber::account::PolicyOutcome;
use log_subscriber::custom_resource::{self, HttpResponder, RespondError, Responder};
use log_subscriber::kinesis::AwsKinesis;
use log_subscriber::logs::{AwsLogs, BoxFuture};
use log_subscriber::{Aws, Config, handle};
use serde_json::{Value, json};
use sluice_runtime::config::Env;
use sluice_testbed::aws_proxy::AwsProxy;
use sluice_testbed::iam_gate::{DeploySpec, Gate};
use sluice_testbed::logs_policies::AccountPolicies;
use sluice_testbed::moto::Moto;

const ROLE: &str = "arn:aws:iam::123456789012:role/cwl-to-kinesis";
const STREAM: &str = "arn:aws:kinesis:us-east-1:123456789012:stream/sluice-test-cwlogs";
const POLICY: &str = "sluice-sluice-test-export";
const SUBSCRIBER_GROUP: &str = "/aws/lambda/sluice-test-log-subscriber";
const FIREHOSE_GROUP: &str = "/aws/kinesisfirehose/sluice-test-cwlogs";

/// The test bed: moto, the account-policy stand-in, and the gated proxy in front of both.
struct Bed {
    moto: Moto,
    policies: AccountPolicies,
    proxy: AwsProxy,
    gated: AwsLogs,
    unused_stream: AwsKinesis,
}

impl Bed {
    async fn start() -> Bed {
        Bed::deployed_as("account-policy").await
    }

    /// The bed with the subscriber's role as deployed with `CwlSubscriptionMode` = `mode`.
    async fn deployed_as(mode: &str) -> Bed {
        let moto = Moto::start();
        // The stream our filters target, so moto accepts them.
        aws_sdk_kinesis::Client::new(&moto.sdk_config())
            .create_stream()
            .stream_name("sluice-test-cwlogs")
            .shard_count(1)
            .send()
            .await
            .expect("stream");
        let deployment = Gate::shared().deploy(
            &DeploySpec::new(
                "sluice-test",
                [
                    ("EnableCloudWatchLogsExport", "true"),
                    ("CwlSubscriptionMode", mode),
                ],
            )
            .physical([("CwlLogsToKinesisRole", "cwl-to-kinesis")]),
        );
        let proxy = AwsProxy::gated(&moto, deployment);
        let policies = AccountPolicies::start();
        policies.route_through(&proxy);
        let sdk = proxy.sdk_config_as("CwlSubscriberFunctionRole");
        let gated = AwsLogs::new(aws_sdk_cloudwatchlogs::Client::new(&sdk));
        let unused_stream = AwsKinesis::new(aws_sdk_kinesis::Client::new(&moto.sdk_config()));
        Bed {
            moto,
            policies,
            proxy,
            gated,
            unused_stream,
        }
    }

    fn aws(&self) -> Aws<'_> {
        Aws {
            logs: &self.gated,
            stream: &self.unused_stream,
        }
    }

    fn logs(&self) -> aws_sdk_cloudwatchlogs::Client {
        aws_sdk_cloudwatchlogs::Client::new(&self.moto.sdk_config())
    }

    async fn group(&self, name: &str, filters: &[&str]) {
        let logs = self.logs();
        logs.create_log_group()
            .log_group_name(name)
            .send()
            .await
            .expect("group");
        for f in filters {
            logs.put_subscription_filter()
                .log_group_name(name)
                .filter_name(*f)
                .filter_pattern("")
                .destination_arn(STREAM)
                .role_arn(ROLE)
                .send()
                .await
                .expect("filter");
        }
    }

    async fn filters(&self, group: &str) -> Vec<String> {
        self.logs()
            .describe_subscription_filters()
            .log_group_name(group)
            .send()
            .await
            .expect("filters")
            .subscription_filters()
            .iter()
            .map(|f| f.filter_name().unwrap_or_default().to_owned())
            .collect()
    }
}

/// The subscriber's configuration as the template sets it (`CwlSubscriptionMode` → mode).
fn config(mode: &str) -> Config {
    Config::from_env(&Env::from_pairs([
        ("DESTINATION_ARN", STREAM),
        ("ROLE_ARN", ROLE),
        ("SUBSCRIPTION_MODE", mode),
        ("ACCOUNT_POLICY_NAME", POLICY),
        (
            "OWN_LOG_GROUPS",
            &format!("{SUBSCRIBER_GROUP},,{FIREHOSE_GROUP}"),
        ),
        ("BACKFILL_MAX_HOURS", "0"),
    ]))
    .expect("config")
}

/// Custom resource answers, as CloudFormation would receive them.
#[derive(Default)]
struct Answers(Mutex<Vec<Value>>);

impl Responder for Answers {
    fn respond<'a>(
        &'a self,
        url: &'a str,
        body: String,
    ) -> BoxFuture<'a, Result<(), RespondError>> {
        Box::pin(async move {
            assert_eq!(url, "https://cfn.example/response");
            let body = serde_json::from_str(&body).expect("JSON answer");
            self.0.lock().expect("lock").push(body);
            Ok(())
        })
    }
}

impl Answers {
    fn last(&self) -> Value {
        self.0
            .lock()
            .expect("lock")
            .last()
            .cloned()
            .expect("an answer")
    }
}

fn cfn(request_type: &str) -> custom_resource::CfnRequest {
    custom_resource::request_of(&json!({
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:sluice-test-log-subscriber",
        "ResponseURL": "https://cfn.example/response",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/sluice-test/1",
        "RequestId": "r-1",
        "ResourceType": "Custom::SluiceAccountSubscriptionPolicy",
        "LogicalResourceId": "CwlAccountSubscriptionPolicy",
        "PhysicalResourceId": POLICY,
        "ResourceProperties": {},
    }))
    .expect("a custom resource request")
}

fn only_policy(bed: &Bed) -> Value {
    let all = bed.policies.policies();
    assert_eq!(all.len(), 1, "{all:?}");
    all[0].clone()
}

#[tokio::test]
async fn given_account_policy_mode_when_scheduled_then_the_policy_excludes_exactly_the_own_groups_and_our_filters_go()
 {
    let bed = Bed::start().await;
    bed.group("/app/web", &["sluice-export"]).await;
    bed.group("/app/worker", &["team-a"]).await;
    bed.group(SUBSCRIBER_GROUP, &[]).await;

    let report = handle(&json!({}), &config("account-policy"), bed.aws())
        .await
        .expect("ran");
    assert_eq!(report.policy, Some(PolicyOutcome::Created));
    assert_eq!((report.removed, report.failed), (1, 0));

    let p = only_policy(&bed);
    assert_eq!(p["policyName"], POLICY);
    assert_eq!(p["policyType"], "SUBSCRIPTION_FILTER_POLICY");
    assert_eq!(p["scope"], "ALL");
    assert_eq!(
        p["selectionCriteria"],
        format!(
            r#"LogGroupName NOT IN ["{FIREHOSE_GROUP}","{SUBSCRIBER_GROUP}","/sluice/owned-by/{POLICY}"]"#
        )
    );
    let doc: Value = serde_json::from_str(p["policyDocument"].as_str().expect("text"))
        .expect("document is JSON");
    assert_eq!(
        doc,
        json!({"DestinationArn": STREAM, "RoleArn": ROLE, "FilterPattern": "", "Distribution": "Random"})
    );
    // Our per-group filter would deliver twice: gone. Another's filter stays.
    assert!(bed.filters("/app/web").await.is_empty());
    assert_eq!(bed.filters("/app/worker").await, ["team-a"]);

    let again = handle(&json!({}), &config("account-policy"), bed.aws())
        .await
        .expect("ran");
    assert_eq!(
        (again.policy, again.removed),
        (Some(PolicyOutcome::Unchanged), 0)
    );
}

#[tokio::test]
async fn given_a_foreign_account_policy_then_it_is_refused_left_untouched_and_named() {
    let bed = Bed::start().await;
    bed.group("/app/web", &["sluice-export"]).await;
    let foreign_doc =
        r#"{"DestinationArn":"arn:aws:logs:us-east-1:999999999999:destination:siem"}"#;
    bed.policies.insert(
        "SUBSCRIPTION_FILTER_POLICY",
        "central-siem",
        foreign_doc,
        None,
    );
    let before = bed.policies.policies();

    let err = handle(&json!({}), &config("account-policy"), bed.aws())
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("\"central-siem\""), "{err}");
    assert_eq!(bed.policies.policies(), before);
    // Nothing else changed either: our per-group filter still delivers.
    assert_eq!(bed.filters("/app/web").await, ["sluice-export"]);

    // The stack's Create is answered FAILED with that reason (and rolls back).
    let answers = Answers::default();
    custom_resource::run(
        &cfn("Create"),
        &config("account-policy"),
        bed.aws(),
        &answers,
    )
    .await
    .expect("answered");
    let answer = answers.last();
    assert_eq!(answer["Status"], "FAILED");
    assert!(
        answer["Reason"]
            .as_str()
            .is_some_and(|r| r.contains("central-siem")),
        "{answer}"
    );
    assert_eq!(bed.policies.policies(), before);
}

#[tokio::test]
async fn given_a_policy_of_our_name_without_our_marker_then_it_is_neither_overwritten_nor_deleted()
{
    let bed = Bed::start().await;
    let doc = format!(r#"{{"DestinationArn":"{STREAM}"}}"#);
    bed.policies.insert(
        "SUBSCRIPTION_FILTER_POLICY",
        POLICY,
        &doc,
        Some(r#"LogGroupName NOT IN ["/x"]"#),
    );
    let before = bed.policies.policies();
    let err = handle(&json!({}), &config("account-policy"), bed.aws())
        .await
        .expect_err("refused");
    assert!(err.to_string().contains(POLICY), "{err}");
    assert!(err.to_string().contains("marker"), "{err}");

    let answers = Answers::default();
    custom_resource::run(
        &cfn("Delete"),
        &config("account-policy"),
        bed.aws(),
        &answers,
    )
    .await
    .expect("answered");
    assert_eq!(answers.last()["Status"], "SUCCESS");
    assert_eq!(bed.policies.policies(), before, "not ours: left in place");
}

#[tokio::test]
async fn given_our_policy_when_the_stack_is_deleted_then_ours_goes_and_a_foreign_one_later_stays() {
    let bed = Bed::start().await;
    bed.group("/app/web", &[]).await;
    let answers = Answers::default();
    let account = config("account-policy");
    custom_resource::run(&cfn("Create"), &account, bed.aws(), &answers)
        .await
        .expect("answered");
    let created = answers.last();
    assert_eq!(created["Status"], "SUCCESS", "{created}");
    assert_eq!(created["PhysicalResourceId"], POLICY);
    assert_eq!(only_policy(&bed)["policyName"], POLICY);

    custom_resource::run(&cfn("Delete"), &account, bed.aws(), &answers)
        .await
        .expect("answered");
    assert_eq!(answers.last()["Status"], "SUCCESS");
    assert!(bed.policies.policies().is_empty(), "ours deleted");

    // Someone else's policy now: a later Delete (or a remove run) leaves it.
    bed.policies.insert(
        "SUBSCRIPTION_FILTER_POLICY",
        "central-siem",
        r#"{"DestinationArn":"arn:aws:logs:us-east-1:999999999999:destination:siem"}"#,
        None,
    );
    custom_resource::run(&cfn("Delete"), &account, bed.aws(), &answers)
        .await
        .expect("answered");
    assert_eq!(answers.last()["Status"], "SUCCESS");
    let removed = handle(&json!({"mode": "remove"}), &account, bed.aws())
        .await
        .expect("ran");
    assert_eq!(removed.policy, Some(PolicyOutcome::Absent));
    assert_eq!(only_policy(&bed)["policyName"], "central-siem");
}

#[tokio::test]
async fn given_the_mode_set_back_to_per_group_when_the_custom_resource_goes_then_filters_come_back_before_the_policy_goes()
 {
    let bed = Bed::start().await;
    bed.group("/app/web", &[]).await;
    bed.group(SUBSCRIBER_GROUP, &[]).await;
    handle(&json!({}), &config("account-policy"), bed.aws())
        .await
        .expect("ran");
    assert_eq!(bed.policies.policies().len(), 1);

    // CloudFormation updated the function first (SUBSCRIPTION_MODE=per-group), then deletes the
    // custom resource, whose condition no longer holds.
    let answers = Answers::default();
    let report = custom_resource::run(&cfn("Delete"), &config("per-group"), bed.aws(), &answers)
        .await
        .expect("answered");
    assert_eq!(answers.last()["Status"], "SUCCESS");
    assert_eq!(report.policy, Some(PolicyOutcome::Deleted));
    assert_eq!((report.subscribed, report.own), (1, 1));
    assert!(bed.policies.policies().is_empty());
    assert_eq!(bed.filters("/app/web").await, ["sluice-export"]);
    assert!(bed.filters(SUBSCRIBER_GROUP).await.is_empty());

    // Per-group mode's `remove` asks for the account policy too, and finds none.
    let removed = handle(&json!({"mode": "remove"}), &config("per-group"), bed.aws())
        .await
        .expect("ran");
    assert_eq!(
        (removed.removed, removed.policy),
        (1, Some(PolicyOutcome::Absent))
    );
}

#[tokio::test]
async fn given_a_response_url_then_the_answer_is_put_with_an_empty_content_type() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "http://{}/cfn-response?sig=x",
        listener.local_addr().expect("addr")
    );
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("a connection");
        conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .expect("timeout");
        let mut got = Vec::new();
        let mut buf = [0_u8; 4096];
        while !String::from_utf8_lossy(&got).contains("\"Status\"") {
            let n = conn.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .expect("answer");
        String::from_utf8_lossy(&got).into_owned()
    });
    HttpResponder::default()
        .respond(&url, r#"{"Status":"SUCCESS"}"#.into())
        .await
        .expect("sent");
    let request = server.join().expect("server");
    assert!(request.starts_with("PUT /cfn-response?sig=x "), "{request}");
    let lower = request.to_ascii_lowercase();
    assert!(lower.contains("\r\ncontent-type: \r\n"), "{request}");
    assert!(request.ends_with(r#"{"Status":"SUCCESS"}"#), "{request}");
}

#[tokio::test]
async fn given_the_role_deployed_per_group_when_the_policy_is_put_then_iam_refuses_put_account_policy()
 {
    // Least privilege: only account-policy mode's role may put an account policy.
    let bed = Bed::deployed_as("per-group").await;
    let err = handle(&json!({}), &config("account-policy"), bed.aws())
        .await
        .expect_err("denied");
    assert!(err.to_string().contains("PutAccountPolicy"), "{err}");
    let denied = bed.proxy.take_denials();
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert_eq!(denied[0].action(), "logs:PutAccountPolicy");
    assert!(bed.policies.policies().is_empty());
}

#[tokio::test]
async fn given_the_stand_in_then_it_answers_as_cloudwatch_logs_does_for_a_second_policy_and_bad_criteria()
 {
    let bed = Bed::start().await;
    let client = aws_sdk_cloudwatchlogs::Client::from_conf(
        aws_sdk_cloudwatchlogs::config::Builder::from(&bed.moto.sdk_config())
            .endpoint_url(bed.policies.endpoint())
            .build(),
    );
    let put = |name: &'static str, criteria: &'static str| {
        client
            .put_account_policy()
            .policy_name(name)
            .policy_type(aws_sdk_cloudwatchlogs::types::PolicyType::SubscriptionFilterPolicy)
            .policy_document(format!(r#"{{"DestinationArn":"{STREAM}"}}"#))
            .selection_criteria(criteria)
            .send()
    };
    use aws_sdk_cloudwatchlogs::operation::put_account_policy::PutAccountPolicyError;
    let code = |e: aws_sdk_cloudwatchlogs::error::SdkError<PutAccountPolicyError, _>| {
        e.into_service_error().meta().code().map(str::to_owned)
    };
    put("first", r#"LogGroupName NOT IN ["/a"]"#)
        .await
        .expect("first");
    let second = put("second", r#"LogGroupName NOT IN ["/a"]"#)
        .await
        .expect_err("one only");
    assert_eq!(code(second).as_deref(), Some("LimitExceededException"));
    let prefix = put("first", r#"LogGroupNamePrefix NOT IN ["/a"]"#)
        .await
        .expect_err("not the subscription criteria");
    assert_eq!(code(prefix).as_deref(), Some("InvalidParameterException"));
    put("first", r#"LogGroupName NOT IN ["/b"]"#)
        .await
        .expect("same name replaces");
    assert_eq!(
        only_policy(&bed)["selectionCriteria"],
        r#"LogGroupName NOT IN ["/b"]"#
    );
    let gone = client
        .delete_account_policy()
        .policy_name("nope")
        .policy_type(aws_sdk_cloudwatchlogs::types::PolicyType::SubscriptionFilterPolicy)
        .send()
        .await
        .expect_err("no such policy");
    assert_eq!(
        gone.into_service_error().meta().code(),
        Some("ResourceNotFoundException")
    );
}
