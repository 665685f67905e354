//! The AWS Backup stand-in's restore testing, driven through the real `aws_sdk_backup` client:
//! the wire shapes product code will read and send.

use aws_sdk_backup::Client;
use aws_sdk_backup::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_backup::error::ProvideErrorMetadata;
use aws_sdk_backup::types::{RestoreJobStatus, RestoreValidationStatus};
use sluice_testbed::backup::FakeBackup;
use sluice_testbed::restore_testing::{PostedResult, RestoreJob};

const PLAN: &str = "arn:aws:backup:us-east-1:123456789012:restore-testing-plan:nightly_db-867cbaf4-a45d-464e-ba8b-6035bc96770b";

fn client(fake: &FakeBackup) -> Client {
    let conf = aws_sdk_backup::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(sluice_runtime::aws::http_client())
        .region(Region::new("us-east-1"))
        .endpoint_url(fake.endpoint())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .build();
    Client::from_conf(conf)
}

fn job(id: &str, plan: Option<&str>) -> RestoreJob {
    RestoreJob {
        job_id: id.to_owned(),
        status: "COMPLETED".to_owned(),
        restore_testing_plan_arn: plan.map(str::to_owned),
        resource_type: "RDS".to_owned(),
        created_resource_arn: "arn:aws:rds:us-east-1:123456789012:db:awsbackup-restore-test-1"
            .to_owned(),
        recovery_point_arn: "arn:aws:rds:us-east-1:123456789012:snapshot:awsbackup:job-1"
            .to_owned(),
    }
}

#[tokio::test]
async fn given_a_restore_test_then_describe_answers_its_plan_and_a_posted_result_is_recorded_and_read_back()
 {
    let fake = FakeBackup::start();
    fake.add_restore_job(job("r-1", Some(PLAN)));
    let backup = client(&fake);

    let described = backup
        .describe_restore_job()
        .restore_job_id("r-1")
        .send()
        .await
        .expect("describe");
    assert_eq!(described.status(), Some(&RestoreJobStatus::Completed));
    assert_eq!(
        described
            .created_by()
            .and_then(|c| c.restore_testing_plan_arn()),
        Some(PLAN)
    );
    assert_eq!(described.resource_type(), Some("RDS"));
    assert_eq!(
        described.validation_status(),
        Some(&RestoreValidationStatus::Validating)
    );

    backup
        .put_restore_validation_result()
        .restore_job_id("r-1")
        .validation_status(RestoreValidationStatus::Failed)
        .validation_status_message("leak check failed: app.customers.email: 40 rows")
        .send()
        .await
        .expect("put result");

    assert_eq!(
        fake.validation_results(),
        vec![PostedResult {
            job_id: "r-1".into(),
            status: "FAILED".into(),
            message: Some("leak check failed: app.customers.email: 40 rows".into()),
        }]
    );
    let after = backup
        .describe_restore_job()
        .restore_job_id("r-1")
        .send()
        .await
        .expect("describe again");
    assert_eq!(
        after.validation_status(),
        Some(&RestoreValidationStatus::Failed)
    );
}

#[tokio::test]
async fn given_a_restore_no_plan_created_or_an_unknown_job_then_results_are_refused_and_not_recorded()
 {
    let fake = FakeBackup::start();
    fake.add_restore_job(job("manual", None));
    let backup = client(&fake);

    let described = backup
        .describe_restore_job()
        .restore_job_id("manual")
        .send()
        .await
        .expect("describe");
    assert!(described.created_by().is_none());
    assert!(described.validation_status().is_none());

    for (id, code) in [
        ("manual", "InvalidRequestException"),
        ("missing", "ResourceNotFoundException"),
    ] {
        let err = backup
            .put_restore_validation_result()
            .restore_job_id(id)
            .validation_status(RestoreValidationStatus::Successful)
            .send()
            .await
            .expect_err("refused");
        assert_eq!(err.into_service_error().code(), Some(code), "{id}");
    }
    assert_eq!(fake.validation_results(), vec![]);
    assert_eq!(
        fake.calls(),
        vec![
            "DescribeRestoreJob",
            "PutRestoreValidationResult",
            "PutRestoreValidationResult"
        ]
    );
}
