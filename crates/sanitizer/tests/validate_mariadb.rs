//! Validation mode (`SANITIZER_MODE=validate`, AWS Backup restore testing) on a private
//! MariaDB: only the verify queries and the leak check's detectors run, in a read-only
//! transaction; the script's statements never run and nothing is written.

mod common;

use common::leak::*;
use common::*;
use sluice_testbed::db::DbServer;

/// What a clean restore holds: the fixture with every production value masked.
const MASK: [&str; 2] = [
    "UPDATE app.customers SET email = CONCAT('customer', id, '@example.invalid'), card = NULL, name = CONCAT('Customer ', id)",
    "UPDATE app.orders SET contact_email = CONCAT('buyer', id, '@example.invalid'), payment_card = 'XXXX'",
];

/// A validation script whose statements would destroy the data if they ran; its verify
/// queries pass only on masked data, in a read-only transaction.
const SCRIPT: &str = "
-- @allow customers.email, orders.contact_email
UPDATE customers SET name = 'changed by the script';
DROP TABLE orders;
-- @verify
SELECT id FROM customers WHERE card IS NOT NULL;
SELECT 1 FROM DUAL WHERE @@session.tx_read_only = 0;
";

fn loaded(masked: &[&str]) -> DbServer {
    let db = mariadb_started();
    db.sql("CREATE DATABASE app");
    for sql in fixture("app.", "varchar(100)") {
        db.sql(&sql);
    }
    for sql in masked {
        db.sql(sql);
    }
    db
}

fn dump(db: &DbServer) -> String {
    db.sql("SELECT c.name, c.email, c.card, o.contact_email, o.payment_card FROM app.customers c JOIN app.orders o ON o.customer_id = c.id ORDER BY c.id")
}

async fn validate(db: &DbServer, script: &str) -> Run {
    let mut vars = db_vars("mariadb", db.port(), "app", &secret_arn().await);
    vars.extend([
        ("SANITIZER_TLS", "require".to_owned()),
        ("SANITIZER_MODE", "validate".to_owned()),
        ("SANITIZER_SCRIPT", script.to_owned()),
    ]);
    let run = run_sanitizer(&vars);
    assert_no_fixture_value(&run);
    run
}

#[tokio::test]
async fn given_a_clean_restore_then_validation_passes_read_only_and_the_scripts_statements_never_run()
 {
    let _slot = slot().await;
    let db = loaded(&MASK);
    let before = dump(&db);

    let run = validate(&db, SCRIPT).await;

    assert_eq!(run.code, Some(0), "{}\n{}", run.summary, run.stderr);
    assert_eq!(run.summary["outcome"], "validation_passed");
    assert_eq!(run.summary["read_only"], true);
    assert_eq!(run.summary["statements"], serde_json::json!([]));
    // The second query returns a row unless the session is read-only.
    assert_eq!(run.summary["verification"][1]["passed"], true);
    assert_eq!(run.summary["leak_check"]["passed"], true);
    assert_eq!(dump(&db), before);
}

#[tokio::test]
async fn given_a_restore_with_a_leaking_column_then_validation_fails_naming_it_and_its_count() {
    let _slot = slot().await;
    // Customers' e-mail addresses are left as they were in production, and not allowed.
    let db = loaded(&[
        "UPDATE app.customers SET card = NULL, name = CONCAT('Customer ', id)",
        MASK[1],
    ]);
    let before = dump(&db);
    let script = SCRIPT.replace("customers.email, ", "");

    let run = validate(&db, &script).await;

    assert_ne!(run.code, Some(0));
    assert_eq!(
        run.summary["outcome"], "verification_failed",
        "{}",
        run.summary
    );
    assert_eq!(
        run.summary["error"],
        "leak check failed: app.customers.email: detector email fired on 40 of the rows scanned"
    );
    assert_eq!(dump(&db), before);
}

#[tokio::test]
async fn given_a_verify_statement_that_writes_then_nothing_runs_and_the_query_is_named() {
    let _slot = slot().await;
    let db = loaded(&MASK);
    let script = "
-- @verify
SELECT id FROM customers WHERE card IS NOT NULL;
DELETE FROM orders;
";

    let run = validate(&db, script).await;

    assert_ne!(run.code, Some(0));
    assert_eq!(run.summary["outcome"], "failed");
    let error = run.summary["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("verification query 2") && error.contains("DELETE"),
        "{}",
        run.summary
    );
    assert_eq!(db.sql("SELECT count(*) FROM app.orders").trim(), "40");
}
