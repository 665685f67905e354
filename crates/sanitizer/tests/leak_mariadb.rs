//! The leak check of the verification gate, on a private MariaDB: sampled sensitive columns,
//! the e-mail and card detectors over every text column of every user schema, the
//! allow-list, and no sampled value in the summary or the logs.
//! Also validation mode (`SANITIZER_MODE=validate`, restore testing): the gate alone, read-only.

mod common;

use common::leak::*;
use common::*;
use sluice_testbed::db::DbServer;

const MASKS_ALL: &str = "
-- @sensitive customers.email, customers.card, app.customers.name
UPDATE customers SET email = CONCAT('customer', id, '@example.invalid'), card = NULL, name = CONCAT('Customer ', id);
UPDATE orders SET contact_email = CONCAT('buyer', id, '@example.invalid'), payment_card = 'XXXX';
-- @verify
SELECT id FROM customers WHERE card IS NOT NULL;
";

/// Forgets `customers.card`, which the script declares sensitive.
const MISSES_CARD: &str = "
-- @sensitive customers.email, customers.card, customers.name
UPDATE customers SET email = CONCAT('customer', id, '@example.invalid'), name = CONCAT('Customer ', id);
UPDATE orders SET contact_email = CONCAT('buyer', id, '@example.invalid'), payment_card = 'XXXX';
-- @verify
SELECT id FROM customers WHERE email NOT LIKE '%@example.invalid';
";

/// Forgets the whole `orders` table.
const MISSES_ORDERS: &str = "
-- @sensitive customers.email, customers.card, customers.name
UPDATE customers SET email = CONCAT('customer', id, '@example.invalid'), card = NULL, name = CONCAT('Customer ', id);
-- @verify
SELECT id FROM customers WHERE card IS NOT NULL;
";

fn loaded() -> DbServer {
    let db = mariadb_started();
    db.sql("CREATE DATABASE app");
    for sql in fixture("app.", "varchar(100)") {
        db.sql(&sql);
    }
    db
}

fn dump(db: &DbServer) -> String {
    db.sql("SELECT c.name, c.email, c.card, o.contact_email, o.payment_card FROM app.customers c JOIN app.orders o ON o.customer_id = c.id ORDER BY c.id")
}

async fn run_script(db: &DbServer, script: &str) -> Run {
    run_with(db, script, &[]).await
}

async fn run_with(db: &DbServer, script: &str, extra: &[(&'static str, &str)]) -> Run {
    let mut vars = db_vars("mariadb", db.port(), "app", &secret_arn().await);
    vars.extend([
        ("SANITIZER_TLS", "require".to_owned()),
        ("SANITIZER_SCRIPT", script.to_owned()),
    ]);
    vars.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let run = run_sanitizer(&vars);
    assert_no_fixture_value(&run);
    run
}

#[tokio::test]
async fn given_a_script_that_masks_everything_then_the_leak_check_passes_with_counts() {
    let _slot = slot().await;
    let db = loaded();

    let run = run_script(&db, MASKS_ALL).await;

    assert_eq!(run.code, Some(0), "{}\n{}", run.summary, run.stderr);
    assert_eq!(run.summary["outcome"], "succeeded");
    assert_eq!(
        sensitive(&run.summary),
        vec![
            ("app.customers.email".to_owned(), 40, 0),
            ("app.customers.card".to_owned(), 40, 0),
            ("app.customers.name".to_owned(), 40, 0),
        ]
    );
    assert_eq!(hits(&run.summary), vec![]);
    assert!(
        run.summary["leak_check"]["text_columns_scanned"]
            .as_u64()
            .is_some_and(|n| n >= 6),
        "{}",
        run.summary
    );
    let after = dump(&db);
    for value in all_values() {
        assert!(!after.contains(&value), "{value} is still there");
    }
}

#[tokio::test]
async fn given_a_script_that_misses_a_sensitive_column_then_the_gate_fails_naming_it_with_a_count()
{
    let _slot = slot().await;
    let db = loaded();

    let run = run_script(&db, MISSES_CARD).await;

    assert_ne!(run.code, Some(0));
    assert_eq!(
        run.summary["outcome"], "verification_failed",
        "{}",
        run.summary
    );
    assert!(
        sensitive(&run.summary).contains(&("app.customers.card".to_owned(), 40, 40)),
        "{}",
        run.summary
    );
    let error = run.summary["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("leak check failed: app.customers.card: 40 of 40 sampled values remain"),
        "{error}"
    );
    assert_eq!(run.summary["verification"][0]["passed"], true);
}

#[tokio::test]
async fn given_a_script_that_misses_a_table_then_the_detectors_name_its_columns() {
    let _slot = slot().await;
    let db = loaded();

    let run = run_script(&db, MISSES_ORDERS).await;

    assert_ne!(run.code, Some(0));
    assert_eq!(
        run.summary["outcome"], "verification_failed",
        "{}",
        run.summary
    );
    assert_eq!(
        hits(&run.summary),
        vec![
            (
                "app.orders.contact_email".to_owned(),
                "email".to_owned(),
                40,
                false
            ),
            (
                "app.orders.payment_card".to_owned(),
                "card".to_owned(),
                40,
                false
            ),
        ]
    );
}

#[tokio::test]
async fn given_the_missed_table_is_allow_listed_then_the_run_passes_and_reports_the_hits() {
    let _slot = slot().await;
    let db = loaded();
    let script =
        format!("-- @allow orders.contact_email, app.orders.payment_card\n{MISSES_ORDERS}");

    let run = run_script(&db, &script).await;

    assert_eq!(run.code, Some(0), "{}\n{}", run.summary, run.stderr);
    assert_eq!(
        hits(&run.summary),
        vec![
            (
                "app.orders.contact_email".to_owned(),
                "email".to_owned(),
                40,
                true
            ),
            (
                "app.orders.payment_card".to_owned(),
                "card".to_owned(),
                40,
                true
            ),
        ]
    );
}

#[tokio::test]
async fn given_a_table_in_another_schema_that_the_script_misses_then_the_detectors_find_it() {
    let _slot = slot().await;
    let db = loaded();
    // The snapshot holds every database on the server, not only the one the task connects to.
    db.sql("CREATE DATABASE crm");
    db.sql("CREATE TABLE crm.leads (id int PRIMARY KEY, mail text)");
    db.sql(&format!(
        "INSERT INTO crm.leads VALUES (1, 'lead: {}')",
        common::leak::email(1)
    ));

    let run = run_script(&db, MASKS_ALL).await;

    assert_ne!(run.code, Some(0));
    assert_eq!(
        hits(&run.summary),
        vec![("crm.leads.mail".to_owned(), "email".to_owned(), 1, false)]
    );
}

// Validation mode (AWS Backup restore testing): the verify queries and the detectors only, in a
// read-only transaction; the script's statements never run and nothing is written.

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

#[tokio::test]
async fn given_a_clean_restore_then_validation_passes_read_only_and_the_scripts_statements_never_run()
 {
    let _slot = slot().await;
    let db = after(loaded(), &MASK);
    let before = dump(&db);

    let run = run_with(&db, SCRIPT, VALIDATE).await;

    assert_validation_passed(&run);
    assert_eq!(dump(&db), before);
}

#[tokio::test]
async fn given_a_restore_with_a_leaking_column_then_validation_fails_naming_it_and_its_count() {
    let _slot = slot().await;
    // Customers' e-mail addresses are left as they were in production, and not allowed.
    let db = after(
        loaded(),
        &[
            "UPDATE app.customers SET card = NULL, name = CONCAT('Customer ', id)",
            MASK[1],
        ],
    );
    let before = dump(&db);
    let script = SCRIPT.replace("customers.email, ", "");

    let run = run_with(&db, &script, VALIDATE).await;

    assert_gate_failed(
        &run,
        "leak check failed: app.customers.email: detector email fired on 40 of the rows scanned",
    );
    assert_eq!(dump(&db), before);
}

#[tokio::test]
async fn given_a_verify_statement_that_writes_then_nothing_runs_and_the_query_is_named() {
    let _slot = slot().await;
    let db = after(loaded(), &MASK);
    let script = "
-- @verify
SELECT id FROM customers WHERE card IS NOT NULL;
DELETE FROM orders;
";

    let run = run_with(&db, script, VALIDATE).await;

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
