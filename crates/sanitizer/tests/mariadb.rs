//! The real `sanitizer` binary against a private MariaDB loaded with PII-shaped customers,
//! credentials from moto Secrets Manager, TLS required (and verified in one test).

mod common;

use common::*;
use sluice_testbed::db::DbServer;

const FULL_SCRIPT: &str = "
# Sanitize customers; every contact detail is replaced.
UPDATE customers SET email = CONCAT('customer', id, '@example.invalid');
UPDATE customers SET card_number = NULL, phone = '+1 555 0100', name = CONCAT('Customer; ', id);
-- @verify
SELECT id FROM customers WHERE email NOT LIKE '%@example.invalid';
SELECT id FROM customers WHERE card_number IS NOT NULL;
";

const MISSES_CARD: &str = "
UPDATE customers SET email = CONCAT('customer', id, '@example.invalid');
-- @verify
SELECT id FROM customers WHERE email NOT LIKE '%@example.invalid';
SELECT id FROM customers WHERE card_number IS NOT NULL;
";

fn loaded() -> DbServer {
    let db = mariadb_started();
    db.sql("CREATE DATABASE app");
    db.sql("CREATE TABLE app.customers (id int PRIMARY KEY, name varchar(100), email varchar(200) NOT NULL, card_number varchar(32), phone varchar(32))");
    db.sql(&insert_customers("app.customers"));
    db
}

fn dump(db: &DbServer) -> String {
    db.sql("SELECT id, name, email, card_number, phone FROM app.customers ORDER BY id")
}

#[tokio::test]
async fn given_pii_when_full_script_runs_over_tls_then_no_original_email_or_card_remains() {
    let _slot = slot().await;
    let db = loaded();
    assert!(
        db.ca_bundle().is_some(),
        "the test server should offer TLS (openssl CLI missing?)"
    );
    let mut vars = db_vars("mariadb", db.port(), "app", &secret_arn().await);
    vars.extend([
        ("SANITIZER_TLS", "require".to_owned()),
        ("SANITIZER_SCRIPT", FULL_SCRIPT.to_owned()),
        // Passes only if the sanitizer's own session is encrypted.
        (
            "SANITIZER_VERIFY",
            "SELECT 1 FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'SSL_CIPHER' AND VARIABLE_VALUE = ''".to_owned(),
        ),
    ]);

    let run = run_sanitizer(&vars);

    assert_eq!(run.code, Some(0), "{}\n{}", run.summary, run.stderr);
    assert_eq!(run.summary["outcome"], "succeeded");
    assert_eq!(run.summary["engine"], "mariadb");
    assert_eq!(rows_affected(&run.summary), vec![50, 50]);
    assert!(
        run.summary["verification"]
            .as_array()
            .is_some_and(|v| v.len() == 3 && v.iter().all(|q| q["passed"] == true))
    );
    let after = dump(&db);
    assert_no_original_pii(&after);
    assert!(
        after.contains("Customer; 7\tcustomer7@example.invalid\tNULL"),
        "{after}"
    );
}

#[tokio::test]
async fn given_script_that_misses_a_column_then_gate_fails_and_names_the_query() {
    let _slot = slot().await;
    let db = loaded();
    let mut vars = db_vars("mariadb", db.port(), "app", &secret_arn().await);
    vars.extend([
        ("SANITIZER_TLS", "require".to_owned()),
        ("SANITIZER_SCRIPT", MISSES_CARD.to_owned()),
    ]);

    let run = run_sanitizer(&vars);

    assert_ne!(run.code, Some(0));
    assert_eq!(run.summary["outcome"], "verification_failed");
    let failing = &run.summary["verification"][1];
    assert_eq!(
        (failing["passed"].clone(), failing["rows"].clone()),
        (false.into(), 50.into())
    );
    assert!(
        failing["sql"]
            .as_str()
            .unwrap_or("")
            .contains("card_number IS NOT NULL")
    );
    assert!(
        run.summary["error"].as_str().unwrap_or("").contains('2'),
        "{}",
        run.summary
    );
}

#[tokio::test]
async fn given_dry_run_with_verified_tls_then_everything_runs_and_data_is_unchanged() {
    let _slot = slot().await;
    let db = loaded();
    let before = dump(&db);
    let bundle = db
        .ca_bundle()
        .expect("TLS test server")
        .display()
        .to_string();
    let mut vars = db_vars("mariadb", db.port(), "app", &secret_arn().await);
    vars.extend([
        ("SANITIZER_TLS", "verify-full".to_owned()),
        ("SANITIZER_CA_BUNDLE", bundle),
        ("SANITIZER_SCRIPT", FULL_SCRIPT.to_owned()),
        ("SANITIZER_DRY_RUN", "true".to_owned()),
    ]);

    let run = run_sanitizer(&vars);

    assert_eq!(run.code, Some(0), "{}\n{}", run.summary, run.stderr);
    assert_eq!(run.summary["outcome"], "dry_run_passed");
    assert_eq!(rows_affected(&run.summary), vec![50, 50]);
    assert_eq!(dump(&db), before);
}

#[tokio::test]
async fn given_dry_run_with_ddl_then_nothing_runs_and_the_statement_is_named() {
    let _slot = slot().await;
    let db = loaded();
    let before = dump(&db);
    let mut vars = db_vars("aurora-mysql", db.port(), "app", &secret_arn().await);
    vars.extend([
        ("SANITIZER_TLS", "require".to_owned()),
        (
            "SANITIZER_SCRIPT",
            "UPDATE customers SET email = 'x'; ALTER TABLE customers DROP COLUMN card_number; -- @verify\n".to_owned(),
        ),
        ("SANITIZER_VERIFY", "SELECT 1 FROM customers WHERE email <> 'x'".to_owned()),
        ("SANITIZER_DRY_RUN", "true".to_owned()),
    ]);

    let run = run_sanitizer(&vars);

    assert_ne!(run.code, Some(0));
    assert!(
        run.summary["error"]
            .as_str()
            .unwrap_or("")
            .contains("statement 2"),
        "{}",
        run.summary
    );
    assert_eq!(dump(&db), before);
}

/// Shuffles e-mails one row up, a common masking step: on a unique key it collides with the
/// next customer's original address, which the server then quotes in its error.
const SHUFFLES_EMAILS: &str = "
UPDATE customers SET phone = '+1 555 0100';
UPDATE customers AS c JOIN customers AS d ON d.id = c.id + 1 SET c.email = d.email;
-- @verify
SELECT id FROM customers WHERE email LIKE '%@corp-mail.com';
";

#[tokio::test]
async fn given_a_duplicate_pii_value_then_the_run_fails_naming_the_statement_not_the_value() {
    let _slot = slot().await;
    let db = loaded();
    db.sql("ALTER TABLE app.customers ADD UNIQUE KEY email (email)");
    let mut vars = db_vars("mariadb", db.port(), "app", &secret_arn().await);
    vars.extend([
        ("SANITIZER_TLS", "require".to_owned()),
        ("SANITIZER_SCRIPT", SHUFFLES_EMAILS.to_owned()),
    ]);

    let run = run_sanitizer(&vars);

    assert_ne!(run.code, Some(0));
    assert_eq!(run.summary["outcome"], "failed");
    assert_run_quotes_no_email(&run);
    let error = run.summary["error"].as_str().unwrap_or("");
    assert_eq!(
        error,
        "statement 2 failed: ERROR 1062 (23000): Duplicate entry '<redacted>' for key 'email'",
        "{}",
        run.summary
    );
    assert_eq!(run.summary["statements"][1]["index"], 2);
    assert!(
        run.stderr.contains("statement failed") && run.stderr.contains("<redacted>"),
        "the logs should record the failure:\n{}",
        run.stderr
    );
    // The statement failed as a whole: no row holds another customer's address.
    assert_all_original_pii(&dump(&db));
}

#[tokio::test]
async fn given_verify_full_with_a_foreign_ca_then_connection_is_refused() {
    let _slot = slot().await;
    let db = loaded();
    let other = DbServer::mariadb();
    let foreign = other
        .ca_bundle()
        .expect("TLS test server")
        .display()
        .to_string();
    let mut vars = db_vars("mariadb", db.port(), "app", &secret_arn().await);
    vars.extend([
        ("SANITIZER_TLS", "verify-full".to_owned()),
        ("SANITIZER_CA_BUNDLE", foreign),
        ("SANITIZER_SCRIPT", FULL_SCRIPT.to_owned()),
    ]);

    let run = run_sanitizer(&vars);

    assert_ne!(run.code, Some(0));
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
