//! The test bed's own tests: moto reached through the real SDK, the local Lambda host, and
//! the ASL runner executing the NotReady and cleanup-then-Fail patterns for real.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};
use sluice_runtime::config::Env;
use sluice_testbed::asl::{self, AslRunSpec};
use sluice_testbed::lambda::{FunctionSpec, LambdaHost};
use sluice_testbed::moto::Moto;
use sluice_testbed::paths;

const FIXTURE_FN: &str = "sluice-fixture-fn";

fn host_with_fixture() -> LambdaHost {
    let host = LambdaHost::start();
    host.add_function(
        FIXTURE_FN,
        &paths::bin_path(FIXTURE_FN),
        FunctionSpec {
            env: Moto::shared().env(),
            ..FunctionSpec::default()
        },
    );
    host
}

fn fixture_spec(host: &LambdaHost, input: Value) -> AslRunSpec {
    AslRunSpec {
        definition: PathBuf::from("tests/fixtures/notready-then-cleanup.asl.json"),
        input,
        substitutions: BTreeMap::from([(
            "FixtureFunctionArn".to_owned(),
            format!("arn:aws:lambda:us-east-1:123456789012:function:{FIXTURE_FN}"),
        )]),
        lambda_endpoint: Some(host.endpoint()),
        ..AslRunSpec::default()
    }
}

#[tokio::test]
async fn given_moto_when_s3_put_and_get_through_the_sdk_then_bytes_round_trip() {
    let moto = Moto::shared();
    let s3 = sluice_runtime::aws::s3_client(
        &moto.sdk_config(),
        &Env::from_pairs([("AWS_ENDPOINT_URL", moto.endpoint().as_str())]),
    );
    s3.create_bucket()
        .bucket("foundation-s3")
        .send()
        .await
        .unwrap();
    let body = "héllo wörld\n".as_bytes().to_vec();
    s3.put_object()
        .bucket("foundation-s3")
        .key("a/b.txt")
        .body(body.clone().into())
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object()
        .bucket("foundation-s3")
        .key("a/b.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().to_vec(),
        body
    );
}

#[tokio::test]
async fn given_kms_key_when_decrypting_with_wrong_context_then_refused() {
    let kms = aws_sdk_kms::Client::new(&Moto::shared().sdk_config());
    let key = kms.create_key().send().await.unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_owned();
    let ctx =
        |v: &str| std::collections::HashMap::from([("aws:rds:dbc-id".to_owned(), v.to_owned())]);
    let enc = kms
        .encrypt()
        .key_id(&key_id)
        .plaintext(aws_sdk_kms::primitives::Blob::new(b"wrapping key".to_vec()))
        .set_encryption_context(Some(ctx("cluster-ABC")))
        .send()
        .await
        .unwrap();
    let blob = enc.ciphertext_blob().unwrap().clone();
    let ok = kms
        .decrypt()
        .ciphertext_blob(blob.clone())
        .set_encryption_context(Some(ctx("cluster-ABC")))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.plaintext().unwrap().as_ref(), b"wrapping key");
    let refused = kms
        .decrypt()
        .ciphertext_blob(blob)
        .set_encryption_context(Some(ctx("cluster-OTHER")))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        refused.into_service_error().meta().code(),
        Some("InvalidCiphertextException")
    );
}

#[tokio::test]
async fn given_function_binary_when_invoked_then_it_reaches_moto_through_its_env() {
    let host = host_with_fixture();
    let out = host
        .invoke(
            FIXTURE_FN,
            &json!({"op": "s3_roundtrip", "bucket": "from-lambda", "key": "k", "body": "ünïcode"}),
        )
        .await
        .unwrap();
    assert_eq!(out["body"], "ünïcode");
    let out = host
        .invoke(
            FIXTURE_FN,
            &json!({"op": "kms_roundtrip", "plaintext": "p", "context": {"a": "1"}, "decrypt_context": {"a": "1"}}),
        )
        .await
        .unwrap();
    assert_eq!(out["plaintext"], "p");
    let err = host
        .invoke(
            FIXTURE_FN,
            &json!({"op": "kms_roundtrip", "plaintext": "p", "context": {"a": "1"}, "decrypt_context": {"a": "2"}}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.error_type, "AwsError");
    assert!(
        err.error_message.contains("InvalidCiphertextException"),
        "{err}"
    );
}

#[tokio::test]
async fn given_step_not_ready_three_times_when_run_then_retried_until_it_succeeds() {
    let host = host_with_fixture();
    let spec = fixture_spec(
        &host,
        json!({"key": "retry-ok", "ready_after": 4, "work": {"op": "cleanup"}}),
    );
    let run = asl::run(&spec).await.unwrap();
    assert!(run.succeeded(), "{run:?}");
    assert_eq!(run.retries("WaitUntilReady"), 3);
    assert_eq!(run.failures("WaitUntilReady"), vec!["NotReady"; 3]);
    assert_eq!(run.output.as_ref().unwrap()["wait"]["attempts"], 4);
    assert_eq!(run.path(), ["WaitUntilReady", "Work", "Done"]);
}

#[tokio::test]
async fn given_step_fails_hard_when_run_then_cleanup_runs_and_execution_fails_with_cause() {
    let host = host_with_fixture();
    let spec = fixture_spec(
        &host,
        json!({"key": "hard-fail", "ready_after": 1,
               "work": {"op": "fail", "errorType": "ResourceFailed", "message": "db-1 is incompatible-network"}}),
    );
    let run = asl::run(&spec).await.unwrap();
    assert_eq!(run.status, "FAILED");
    assert_eq!(run.error.as_deref(), Some("ResourceFailed"));
    assert!(
        run.cause
            .as_deref()
            .unwrap()
            .contains("incompatible-network")
    );
    // A hard failure is not retried by the NotReady retrier; it is caught into cleanup.
    assert_eq!(run.retries("Work"), 0);
    assert_eq!(run.path(), ["WaitUntilReady", "Work", "Cleanup", "Failed"]);
}

#[tokio::test]
async fn given_function_process_missing_handler_error_when_invoked_then_error_type_is_stable() {
    let host = host_with_fixture();
    let err = host
        .invoke(FIXTURE_FN, &json!({"op": "nope"}))
        .await
        .unwrap_err();
    assert_eq!(err.error_type, "InvalidInput");
    assert!(err.error_message.contains("nope"));
    let missing = host.invoke("no-such-fn", &json!({})).await.unwrap_err();
    assert_eq!(missing.error_type, "ResourceNotFoundException");
}

#[test]
fn given_postgres_and_mariadb_when_started_then_they_answer_sql_and_stop_on_drop() {
    use sluice_testbed::db::DbServer;
    let pg = DbServer::postgres();
    assert_eq!(pg.sql("SELECT 'ü' || 1"), "ü1");
    let pg_port = pg.port();
    let maria = DbServer::mariadb();
    assert_eq!(maria.sql("SELECT CONCAT('ü', 1)"), "ü1");
    assert!(maria.url("app").starts_with("mysql://sluice:"));
    let maria_port = maria.port();
    drop(pg);
    drop(maria);
    for port in [pg_port, maria_port] {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "server on {port} still running after drop"
        );
    }
}
