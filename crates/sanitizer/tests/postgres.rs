//! The real `sanitizer` binary against a private PostgreSQL loaded with PII-shaped customers,
//! credentials from moto Secrets Manager, TLS required (and verified in one test).

mod common;

use common::*;
use sluice_runtime::pin::Sha256Pin;
use sluice_testbed::db::DbServer;

const TABLE: &str = "CREATE TABLE customers (id int PRIMARY KEY, name text, email text NOT NULL, card_number text, phone text)";

/// Masks every column that holds PII; the `DO` block and the quoted `;` prove splitting.
const FULL_SCRIPT: &str = "
-- Sanitize customers; every contact detail is replaced.
UPDATE customers SET email = 'customer' || id || '@example.invalid';
UPDATE customers SET card_number = NULL, phone = '+1 555 0100', name = 'Customer; ' || id;
DO $mask$ BEGIN UPDATE customers SET name = 'Customer ' || id WHERE name LIKE 'Customer;%'; END $mask$;
-- @verify
SELECT id FROM customers WHERE email NOT LIKE '%@example.invalid';
SELECT id FROM customers WHERE card_number IS NOT NULL;
";

/// Forgets the card number: the gate must stop it.
const MISSES_CARD: &str = "
UPDATE customers SET email = 'customer' || id || '@example.invalid';
-- @verify
SELECT id FROM customers WHERE email NOT LIKE '%@example.invalid';
SELECT id FROM customers WHERE card_number IS NOT NULL;
";

fn loaded() -> DbServer {
    let db = DbServer::postgres();
    db.sql(TABLE);
    db.sql(&insert_customers("customers"));
    db
}

fn dump(db: &DbServer) -> String {
    db.sql("SELECT id, name, email, card_number, phone FROM customers ORDER BY id")
}

fn tls_require() -> (&'static str, String) {
    ("SANITIZER_TLS", "require".to_owned())
}

#[tokio::test]
async fn given_pii_when_full_script_runs_over_tls_then_no_original_email_or_card_remains() {
    let _slot = slot().await;
    let db = loaded();
    assert!(
        db.ca_bundle().is_some(),
        "the test server should offer TLS (openssl CLI missing?)"
    );
    let mut vars = db_vars("postgres", db.port(), "postgres", &secret_arn().await);
    vars.extend([
        tls_require(),
        ("SANITIZER_SCRIPT", FULL_SCRIPT.to_owned()),
        // Passes only if the sanitizer's own session is encrypted.
        (
            "SANITIZER_VERIFY",
            "SELECT 1 FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND NOT ssl".to_owned(),
        ),
    ]);

    let run = run_sanitizer(&vars);

    assert_eq!(run.code, Some(0), "{}\n{}", run.summary, run.stderr);
    assert_eq!(run.summary["outcome"], "succeeded");
    assert_eq!(run.summary["transaction"], true);
    assert_eq!(rows_affected(&run.summary), vec![50, 50, 0]);
    let verification = run.summary["verification"]
        .as_array()
        .expect("verification");
    assert_eq!(verification.len(), 3);
    assert!(
        verification
            .iter()
            .all(|v| v["passed"] == true && v["rows"] == 0)
    );
    let after = dump(&db);
    assert_no_original_pii(&after);
    assert!(
        after.contains("customer7@example.invalid\t\t+1 555 0100"),
        "{after}"
    );
}

#[tokio::test]
async fn given_script_that_misses_a_column_then_gate_fails_names_query_and_nothing_changes() {
    let _slot = slot().await;
    let db = loaded();
    let mut vars = db_vars(
        "aurora-postgresql",
        db.port(),
        "postgres",
        &secret_arn().await,
    );
    vars.extend([tls_require(), ("SANITIZER_SCRIPT", MISSES_CARD.to_owned())]);

    let run = run_sanitizer(&vars);

    assert_ne!(run.code, Some(0));
    assert_eq!(run.summary["outcome"], "verification_failed");
    let failing = &run.summary["verification"][1];
    assert_eq!(failing["passed"], false);
    assert_eq!(failing["rows"], 50);
    assert!(
        failing["sql"]
            .as_str()
            .unwrap_or("")
            .contains("card_number IS NOT NULL")
    );
    assert_eq!(run.summary["rolled_back"], true);
    // The e-mail update ran, then was rolled back with the rest.
    assert_eq!(rows_affected(&run.summary), vec![50]);
    assert_all_original_pii(&dump(&db));
}

#[tokio::test]
async fn given_dry_run_then_everything_runs_passes_and_is_rolled_back() {
    let _slot = slot().await;
    let db = loaded();
    let before = dump(&db);
    let mut vars = db_vars("postgres", db.port(), "postgres", &secret_arn().await);
    vars.extend([
        tls_require(),
        ("SANITIZER_SCRIPT", FULL_SCRIPT.to_owned()),
        ("SANITIZER_DRY_RUN", "true".to_owned()),
    ]);

    let run = run_sanitizer(&vars);

    assert_eq!(run.code, Some(0), "{}", run.summary);
    assert_eq!(run.summary["outcome"], "dry_run_passed");
    assert_eq!(rows_affected(&run.summary), vec![50, 50, 0]);
    assert_eq!(dump(&db), before);
}

#[tokio::test]
async fn given_script_in_s3_and_inline_verify_with_verify_full_tls_then_it_runs_from_s3() {
    let _slot = slot().await;
    let db = loaded();
    let bundle = db
        .ca_bundle()
        .expect("TLS test server")
        .display()
        .to_string();
    let s3 = s3();
    let bucket = format!("scripts-{}", std::process::id());
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("bucket");
    let script =
        "UPDATE customers SET email = md5(email) || '@example.invalid', card_number = 'XXXX';";
    s3.put_object()
        .bucket(&bucket)
        .key("pg/sanitize.sql")
        .body(script.as_bytes().to_vec().into())
        .send()
        .await
        .expect("put script");
    let mut vars = db_vars("postgres", db.port(), "postgres", &secret_arn().await);
    vars.extend([
        ("SANITIZER_TLS", "verify-full".to_owned()),
        ("SANITIZER_CA_BUNDLE", bundle),
        ("SANITIZER_SCRIPT_URI", format!("s3://{bucket}/pg/sanitize.sql")),
        (
            "SANITIZER_SCRIPT_SHA256",
            Sha256Pin::of(script.as_bytes()).to_string(),
        ),
        (
            "SANITIZER_VERIFY",
            "SELECT 1 FROM customers WHERE card_number <> 'XXXX'; SELECT 1 FROM customers WHERE email LIKE '%corp-mail%'".to_owned(),
        ),
    ]);

    let run = run_sanitizer(&vars);

    assert_eq!(run.code, Some(0), "{}\n{}", run.summary, run.stderr);
    assert_eq!(
        run.summary["verification"].as_array().map(Vec::len),
        Some(2)
    );
    assert_no_original_pii(&dump(&db));
}

/// Runs `script` on the loaded customers; returns the run, which must have failed, after
/// checking that neither the summary nor the logs quote any original e-mail address.
async fn failing_run_without_pii(script: &str) -> (Run, String) {
    let db = loaded();
    let mut vars = db_vars("postgres", db.port(), "postgres", &secret_arn().await);
    vars.extend([
        tls_require(),
        ("SANITIZER_SCRIPT", script.to_owned()),
        (
            "SANITIZER_VERIFY",
            "SELECT id FROM customers WHERE card_number IS NOT NULL".to_owned(),
        ),
    ]);

    let run = run_sanitizer(&vars);

    assert_ne!(run.code, Some(0));
    assert_eq!(run.summary["outcome"], "failed", "{}", run.summary);
    assert_run_quotes_no_email(&run);
    assert!(
        run.stderr.contains("statement failed"),
        "the logs should record the failure:\n{}\n{}",
        run.summary,
        run.stderr
    );
    assert_all_original_pii(&dump(&db));
    let error = run.summary["error"].as_str().unwrap_or("").to_owned();
    (run, error)
}

#[tokio::test]
async fn given_a_cast_that_fails_on_a_pii_value_then_the_error_names_the_type_not_the_value() {
    let _slot = slot().await;
    // `phone = email::int` fails on the first row's address, which PostgreSQL quotes.
    let script = "
UPDATE customers SET card_number = NULL;
UPDATE customers SET phone = (email::int)::text WHERE id = 7;
";

    let (run, error) = failing_run_without_pii(script).await;

    assert_eq!(
        error,
        r#"statement 2 failed: ERROR 22P02: invalid input syntax for type integer: "<redacted>""#,
        "{}",
        run.summary
    );
    assert!(run.stderr.contains("<redacted>"), "{}", run.stderr);
}

#[tokio::test]
async fn given_raise_exception_with_a_pii_value_then_its_text_is_withheld() {
    let _slot = slot().await;
    // A check written as a DO block that reports the offending row, under its own code too.
    let script = "
DO $chk$ BEGIN RAISE EXCEPTION 'unmasked: %', (SELECT email FROM customers WHERE id = 7); END $chk$;
";
    let (run, error) = failing_run_without_pii(script).await;
    assert_eq!(
        error, "statement 1 failed: ERROR P0001: [message withheld: it may quote row values]",
        "{}",
        run.summary
    );

    let script = "
DO $chk$ BEGIN RAISE EXCEPTION USING ERRCODE = '23505', MESSAGE = 'dup ' || (SELECT email FROM customers WHERE id = 7); END $chk$;
";
    let (run, error) = failing_run_without_pii(script).await;
    assert_eq!(
        error, "statement 1 failed: ERROR 23505: [message withheld: it may quote row values]",
        "{}",
        run.summary
    );
}

#[tokio::test]
async fn given_script_in_s3_that_is_not_the_pinned_one_then_it_is_refused_before_connecting() {
    let _slot = slot().await;
    let db = loaded();
    let s3 = s3();
    let bucket = format!("pinned-{}", std::process::id());
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("bucket");
    // Pinned: the reviewed script. In the bucket: one that masks and verifies nothing.
    let replaced = "SELECT 1;\n-- @verify\nSELECT 1 WHERE 1 = 0;\n";
    s3.put_object()
        .bucket(&bucket)
        .key("sanitize.sql")
        .body(replaced.as_bytes().to_vec().into())
        .send()
        .await
        .expect("put script");
    let pinned = Sha256Pin::of(FULL_SCRIPT.as_bytes()).to_string();
    let found = Sha256Pin::of(replaced.as_bytes()).to_string();
    let mut vars = db_vars("postgres", db.port(), "postgres", &secret_arn().await);
    vars.extend([
        tls_require(),
        (
            "SANITIZER_SCRIPT_URI",
            format!("s3://{bucket}/sanitize.sql"),
        ),
        ("SANITIZER_SCRIPT_SHA256", pinned.clone()),
    ]);

    let run = run_sanitizer(&vars);

    assert_ne!(run.code, Some(0));
    assert_eq!(run.summary["outcome"], "failed");
    let error = run.summary["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("is not the pinned one")
            && error.contains(&pinned)
            && error.contains(&found)
            && error.contains(&format!("s3://{bucket}/sanitize.sql")),
        "{}",
        run.summary
    );
    assert!(
        run.summary["statements"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "nothing ran: {}",
        run.summary
    );
    for text in [run.summary.to_string(), run.stderr.clone()] {
        assert!(!text.contains("@verify"), "the script is shown: {text}");
    }
    // The task's own `connecting` line, and no connection to the database's port.
    assert!(
        !run.stderr.contains(r#""message":"connecting""#)
            && !run.stderr.contains(&format!("127.0.0.1:{}", db.port())),
        "it connected: {}",
        run.stderr
    );
    assert_all_original_pii(&dump(&db));
}

#[tokio::test]
async fn given_verify_full_with_a_foreign_ca_then_connection_is_refused() {
    let _slot = slot().await;
    let db = loaded();
    let other = DbServer::postgres();
    let foreign = other
        .ca_bundle()
        .expect("TLS test server")
        .display()
        .to_string();
    let mut vars = db_vars("postgres", db.port(), "postgres", &secret_arn().await);
    vars.extend([
        ("SANITIZER_TLS", "verify-full".to_owned()),
        ("SANITIZER_CA_BUNDLE", foreign),
        ("SANITIZER_SCRIPT", FULL_SCRIPT.to_owned()),
    ]);

    let run = run_sanitizer(&vars);

    assert_ne!(run.code, Some(0));
    assert_eq!(run.summary["outcome"], "failed");
    assert!(
        run.summary["error"]
            .as_str()
            .unwrap_or("")
            .contains("connecting"),
        "{}",
        run.summary
    );
    assert_all_original_pii(&dump(&db));
}

#[tokio::test]
async fn given_missing_endpoint_then_exit_nonzero_and_error_names_the_variable() {
    let vars = vec![
        ("SANITIZER_ENGINE", "postgres".to_owned()),
        ("SANITIZER_DATABASE", "app".to_owned()),
        (
            "SANITIZER_SECRET_ARN",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:x".to_owned(),
        ),
        ("SANITIZER_SCRIPT", FULL_SCRIPT.to_owned()),
    ];

    let run = run_sanitizer(&vars);

    assert_ne!(run.code, Some(0));
    assert_eq!(run.summary["outcome"], "failed");
    assert!(
        run.summary["error"]
            .as_str()
            .unwrap_or("")
            .contains("SANITIZER_ENDPOINT"),
        "{}",
        run.summary
    );
}
