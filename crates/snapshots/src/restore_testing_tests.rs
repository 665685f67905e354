use super::*;

/// A plan ARN as AWS writes it: name, then `-` and an id.
const PLAN: &str = "arn:aws:backup:eu-west-1:123456789012:restore-testing-plan:nightly_db-867cbaf4-a45d-464e-ba8b-6035bc96770b";

fn job<'a>(status: &'a str, plan: Option<&'a str>, kind: &'a str, arn: &'a str) -> RestoreJob<'a> {
    RestoreJob {
        status,
        restore_testing_plan_arn: plan,
        resource_type: kind,
        created_resource_arn: Some(arn),
    }
}

#[test]
fn given_a_completed_restore_test_of_an_instance_or_cluster_then_it_is_validated() {
    let instance = job(
        "COMPLETED",
        Some(PLAN),
        "RDS",
        "arn:aws:rds:eu-west-1:123456789012:db:awsbackup-restore-test-1",
    );
    assert_eq!(
        target(&instance, &[]),
        Ok(Target {
            plan: "nightly_db".into(),
            kind: SourceKind::Instance,
            id: "awsbackup-restore-test-1".into(),
        })
    );
    let cluster = job(
        "COMPLETED",
        Some(PLAN),
        "Aurora",
        "arn:aws:rds:eu-west-1:123456789012:cluster:restored",
    );
    let t = target(&cluster, &["other".into(), "nightly_db".into()]).expect("listed plan");
    assert_eq!((t.kind, t.id.as_str()), (SourceKind::Cluster, "restored"));
}

#[test]
fn given_any_other_restore_job_then_it_is_left_alone_with_the_reason() {
    let rds = "arn:aws:rds:eu-west-1:123456789012:db:x";
    for (j, plans, why) in [
        (job("RUNNING", Some(PLAN), "RDS", rds), vec![], "RUNNING"),
        (job("FAILED", Some(PLAN), "RDS", rds), vec![], "FAILED"),
        (
            job("COMPLETED", None, "RDS", rds),
            vec![],
            "no restore testing plan",
        ),
        (
            job("COMPLETED", Some(PLAN), "RDS", rds),
            vec!["weekly".to_owned()],
            "nightly_db is not one of weekly",
        ),
        (
            job(
                "COMPLETED",
                Some(PLAN),
                "EBS",
                "arn:aws:ec2:eu-west-1:1:volume/vol-1",
            ),
            vec![],
            "\"EBS\"",
        ),
        (
            job(
                "COMPLETED",
                Some(PLAN),
                "RDS",
                "arn:aws:rds:eu-west-1:1:cluster:c",
            ),
            vec![],
            "not an RDS db ARN",
        ),
        (
            job(
                "COMPLETED",
                Some("arn:aws:backup:eu-west-1:1:backup-plan:p"),
                "RDS",
                rds,
            ),
            vec![],
            "not a restore testing plan ARN",
        ),
    ] {
        let err = target(&j, &plans).expect_err("left alone");
        assert!(err.contains(why), "{j:?}: {err}");
    }
    let no_resource = RestoreJob {
        created_resource_arn: None,
        ..job("COMPLETED", Some(PLAN), "RDS", rds)
    };
    assert!(target(&no_resource, &[]).is_err());
}

#[test]
fn given_plan_arns_then_the_name_ends_at_the_first_dash() {
    assert_eq!(plan_name(PLAN), Some("nightly_db"));
    assert_eq!(
        plan_name("arn:aws:backup:us-east-1:1:restore-testing-plan:plain"),
        Some("plain")
    );
    assert_eq!(
        plan_name("arn:aws:backup:us-east-1:1:restore-testing-plan:-x"),
        None
    );
    assert_eq!(plan_name("nightly_db"), None);
}

#[test]
fn given_results_then_messages_hold_counts_and_stay_within_the_limit() {
    assert_eq!(ValidationStatus::Successful.as_str(), "SUCCESSFUL");
    assert_eq!(ValidationStatus::Failed.as_str(), "FAILED");
    let ok = passed_message(2, 6);
    assert!(
        ok.contains("2 verify queries") && ok.contains("6 text columns"),
        "{ok}"
    );
    let why = "leak check failed: public.orders.payment_card: detector card fired on 40 of the rows scanned";
    assert_eq!(
        failed_message(why),
        format!("Sluice verification gate failed: {why}")
    );
    let long = failed_message(&"é".repeat(2000));
    assert_eq!(long.chars().count(), MESSAGE_MAX_CHARS);
    assert!(long.ends_with('…'));
}
