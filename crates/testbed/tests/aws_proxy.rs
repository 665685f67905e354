//! The fault-injecting proxy in front of moto, driven through the real SDK clients.

use std::sync::atomic::{AtomicU32, Ordering};

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_sdk_rds::error::ProvideErrorMetadata;
use sluice_testbed::aws_proxy::AwsProxy;
use sluice_testbed::moto::Moto;

/// A name no other test of this binary uses (they share one moto).
fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// Moto's SDK config, pointed at the proxy, without retries (each call is one request).
fn config(proxy: &AwsProxy) -> SdkConfig {
    Moto::shared()
        .sdk_config()
        .into_builder()
        .endpoint_url(proxy.endpoint())
        .retry_config(RetryConfig::disabled())
        .build()
}

fn rds(proxy: &AwsProxy) -> aws_sdk_rds::Client {
    aws_sdk_rds::Client::new(&config(proxy))
}

async fn create_instance(rds: &aws_sdk_rds::Client, id: &str) {
    rds.create_db_instance()
        .db_instance_identifier(id)
        .engine("postgres")
        .db_instance_class("db.t3.micro")
        .master_username("sluice")
        .master_user_password("not-a-secret-1")
        .allocated_storage(20)
        .send()
        .await
        .expect("CreateDBInstance through the proxy");
}

#[tokio::test]
async fn query_calls_pass_through_unchanged() {
    let proxy = AwsProxy::start(&Moto::shared().endpoint());
    let rds = rds(&proxy);
    let id = unique("pass");
    create_instance(&rds, &id).await;
    let out = rds
        .describe_db_instances()
        .db_instance_identifier(&id)
        .send()
        .await
        .expect("DescribeDBInstances");
    let instance = &out.db_instances()[0];
    assert_eq!(instance.db_instance_identifier(), Some(id.as_str()));
    assert_eq!(instance.db_instance_status(), Some("available"));
    assert_eq!(
        proxy.calls(),
        vec!["CreateDBInstance", "DescribeDBInstances"]
    );

    // moto's own errors come back verbatim too.
    let err = rds
        .describe_db_instances()
        .db_instance_identifier("no-such-instance")
        .send()
        .await
        .expect_err("unknown instance");
    assert_eq!(
        err.as_service_error().and_then(|e| e.code()),
        Some("DBInstanceNotFound")
    );
}

#[tokio::test]
async fn a_failure_rule_fails_exactly_the_next_calls() {
    let proxy = AwsProxy::start(&Moto::shared().endpoint());
    let rds = rds(&proxy);
    let id = unique("fail");
    create_instance(&rds, &id).await;
    proxy.fail(
        "CreateDBSnapshot",
        "InvalidDBInstanceState",
        "boom",
        Some(1),
    );
    let snapshot = |name: String| {
        rds.create_db_snapshot()
            .db_instance_identifier(&id)
            .db_snapshot_identifier(name)
            .send()
    };
    let err = snapshot(unique("snap"))
        .await
        .expect_err("the injected failure");
    let service = err.as_service_error().expect("a service error");
    assert_eq!(service.code(), Some("InvalidDBInstanceState"));
    assert_eq!(service.message(), Some("boom"));
    assert!(service.is_invalid_db_instance_state_fault());

    let out = snapshot(unique("snap"))
        .await
        .expect("the second call passes");
    assert_eq!(
        out.db_snapshot().and_then(|s| s.db_instance_identifier()),
        Some(id.as_str())
    );
    assert_eq!(
        proxy.calls(),
        vec!["CreateDBInstance", "CreateDBSnapshot", "CreateDBSnapshot"]
    );

    // Every call until cleared.
    proxy.fail("DescribeDBInstances", "Throttling", "Rate exceeded", None);
    for _ in 0..3 {
        let err = rds
            .describe_db_instances()
            .send()
            .await
            .expect_err("always failing");
        assert_eq!(
            err.as_service_error().and_then(|e| e.code()),
            Some("Throttling")
        );
    }
    proxy.clear();
    rds.describe_db_instances()
        .send()
        .await
        .expect("cleared rules pass");
}

#[tokio::test]
async fn a_replacement_edits_the_upstream_answer() {
    let proxy = AwsProxy::start(&Moto::shared().endpoint());
    let rds = rds(&proxy);
    let id = unique("edit");
    create_instance(&rds, &id).await;
    proxy.replace_in_response(
        "DescribeDBInstances",
        "<DBInstanceStatus>available</DBInstanceStatus>",
        "<DBInstanceStatus>incompatible-network</DBInstanceStatus>",
    );
    for _ in 0..2 {
        let out = rds
            .describe_db_instances()
            .db_instance_identifier(&id)
            .send()
            .await
            .expect("DescribeDBInstances");
        assert_eq!(
            out.db_instances()[0].db_instance_status(),
            Some("incompatible-network")
        );
    }
    proxy.clear();
    let out = rds
        .describe_db_instances()
        .db_instance_identifier(&id)
        .send()
        .await
        .expect("DescribeDBInstances");
    assert_eq!(
        out.db_instances()[0].db_instance_status(),
        Some("available")
    );
}

#[tokio::test]
async fn json_protocol_calls_fail_in_their_own_protocol() {
    let proxy = AwsProxy::start(&Moto::shared().endpoint());
    let sfn = aws_sdk_sfn::Client::new(&config(&proxy));
    sfn.list_state_machines()
        .send()
        .await
        .expect("ListStateMachines passes through");
    proxy.fail("ListStateMachines", "ThrottlingException", "slow", None);
    for _ in 0..2 {
        let err = sfn
            .list_state_machines()
            .send()
            .await
            .expect_err("the injected failure");
        let service = err.as_service_error().expect("a service error");
        assert_eq!(service.code(), Some("ThrottlingException"));
        assert_eq!(service.message(), Some("slow"));
    }
    assert_eq!(
        proxy.calls(),
        vec![
            "ListStateMachines",
            "ListStateMachines",
            "ListStateMachines"
        ]
    );
}

#[tokio::test]
async fn rest_calls_are_forwarded_without_an_action() {
    let proxy = AwsProxy::start(&Moto::shared().endpoint());
    let conf = aws_sdk_s3::config::Builder::from(&config(&proxy))
        .force_path_style(true)
        .build();
    let s3 = aws_sdk_s3::Client::from_conf(conf);
    let bucket = unique("proxy-bucket");
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("CreateBucket");
    s3.put_object()
        .bucket(&bucket)
        .key("a/b.txt")
        .body(b"hello".to_vec().into())
        .send()
        .await
        .expect("PutObject");
    let head = s3
        .head_object()
        .bucket(&bucket)
        .key("a/b.txt")
        .send()
        .await
        .expect("HeadObject");
    assert_eq!(head.content_length(), Some(5));
    let body = s3
        .get_object()
        .bucket(&bucket)
        .key("a/b.txt")
        .send()
        .await
        .expect("GetObject")
        .body
        .collect()
        .await
        .expect("object body")
        .into_bytes();
    assert_eq!(&body[..], b"hello");
    assert_eq!(proxy.calls(), vec!["", "", "", ""]);
}
