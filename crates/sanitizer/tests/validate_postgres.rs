//! Validation mode (`SANITIZER_MODE=validate`, AWS Backup restore testing) on a private
//! PostgreSQL: only the verify queries and the leak check's detectors run, in a read-only
//! transaction; the script's statements never run and nothing is written.

mod common;

use common::leak::*;
use common::*;
use sluice_testbed::db::DbServer;

/// What a clean restore holds: the fixture with every production value masked.
const MASK: [&str; 2] = [
    "UPDATE customers SET email = 'customer' || id || '@example.invalid', card = NULL, name = 'Customer ' || id",
    "UPDATE orders SET contact_email = 'buyer' || id || '@example.invalid', payment_card = 'XXXX'",
];

/// A validation script whose statements would destroy the data if they ran; its verify
/// queries pass only on masked data, in a read-only transaction.
const SCRIPT: &str = "
-- @sensitive customers.email
-- @allow customers.email, orders.contact_email
UPDATE customers SET name = 'changed by the script';
DELETE FROM orders;
-- @verify
SELECT id FROM customers WHERE card IS NOT NULL;
SELECT 1 WHERE current_setting('transaction_read_only') <> 'on';
";

fn loaded(masked: &[&str]) -> DbServer {
    let db = DbServer::postgres();
    for sql in fixture("", "text") {
        db.sql(&sql);
    }
    for sql in masked {
        db.sql(sql);
    }
    db
}

fn dump(db: &DbServer) -> String {
    db.sql("SELECT c.name, c.email, c.card, o.contact_email, o.payment_card FROM customers c JOIN orders o ON o.customer_id = c.id ORDER BY c.id")
}

async fn validate(db: &DbServer, script: &str) -> Run {
    let mut vars = db_vars("postgres", db.port(), "postgres", &secret_arn().await);
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
    assert_eq!(run.summary["committed"], false);
    assert_eq!(run.summary["statements"], serde_json::json!([]));
    // The second query returns a row unless the transaction is read-only.
    assert_eq!(run.summary["verification"][1]["passed"], true);
    // Sampling needs a before and an after: a validation samples nothing.
    assert_eq!(sensitive(&run.summary), vec![]);
    assert_eq!(run.summary["leak_check"]["passed"], true);
    assert_eq!(dump(&db), before);
    assert_eq!(db.sql("SELECT count(*) FROM orders").trim(), "40");
}

#[tokio::test]
async fn given_a_restore_with_a_leaking_column_then_validation_fails_naming_it_and_its_count() {
    let _slot = slot().await;
    // Orders' payment cards are left as they were in production.
    let db = loaded(&[
        MASK[0],
        "UPDATE orders SET contact_email = 'buyer' || id || '@example.invalid'",
    ]);
    let before = dump(&db);

    let run = validate(&db, SCRIPT).await;

    assert_ne!(run.code, Some(0));
    assert_eq!(
        run.summary["outcome"], "verification_failed",
        "{}",
        run.summary
    );
    assert_eq!(
        run.summary["error"],
        "leak check failed: public.orders.payment_card: detector card fired on 40 of the rows scanned"
    );
    assert_eq!(dump(&db), before);
}

#[tokio::test]
async fn given_a_verify_query_that_hides_a_write_then_the_read_only_transaction_refuses_it() {
    let _slot = slot().await;
    let db = loaded(&MASK);
    let script = "
-- @verify
WITH gone AS (DELETE FROM orders RETURNING id) SELECT id FROM gone WHERE false;
";

    let run = validate(&db, script).await;

    assert_ne!(run.code, Some(0));
    assert_eq!(run.summary["outcome"], "verification_failed");
    let error = run.summary["verification"][0]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(error.contains("read-only transaction"), "{}", run.summary);
    assert_eq!(db.sql("SELECT count(*) FROM orders").trim(), "40");
}
