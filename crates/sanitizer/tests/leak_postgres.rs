//! The leak check of the verification gate, on a private PostgreSQL: sampled sensitive
//! columns, the e-mail and card detectors over every text column, the allow-list, and no
//! sampled value in the summary or the logs.
//! Also validation mode (`SANITIZER_MODE=validate`, restore testing): the gate alone, read-only.

mod common;

use common::leak::*;
use common::*;
use sluice_testbed::db::DbServer;

/// Masks both tables.
const MASKS_ALL: &str = "
-- @sensitive customers.email, customers.card
-- @sensitive public.customers.name
UPDATE customers SET email = 'customer' || id || '@example.invalid', card = NULL, name = 'Customer ' || id;
UPDATE orders SET contact_email = 'buyer' || id || '@example.invalid', payment_card = 'XXXX';
-- @verify
SELECT id FROM customers WHERE card IS NOT NULL;
";

/// Forgets `customers.name`: no detector knows a name, only the sample does.
const MISSES_NAME: &str = "
-- @sensitive customers.email, customers.card, customers.name
UPDATE customers SET email = 'customer' || id || '@example.invalid', card = NULL;
UPDATE orders SET contact_email = 'buyer' || id || '@example.invalid', payment_card = 'XXXX';
-- @verify
SELECT id FROM customers WHERE card IS NOT NULL;
";

/// Forgets the whole `orders` table, and declares nothing about it.
const MISSES_ORDERS: &str = "
-- @sensitive customers.email, customers.card, customers.name
UPDATE customers SET email = 'customer' || id || '@example.invalid', card = NULL, name = 'Customer ' || id;
-- @verify
SELECT id FROM customers WHERE card IS NOT NULL;
";

fn loaded() -> DbServer {
    let db = DbServer::postgres();
    for sql in fixture("", "text") {
        db.sql(&sql);
    }
    db
}

fn dump(db: &DbServer) -> String {
    db.sql("SELECT c.name, c.email, c.card, o.contact_email, o.payment_card FROM customers c JOIN orders o ON o.customer_id = c.id ORDER BY c.id")
}

async fn run_script(db: &DbServer, script: &str) -> Run {
    run_with(db, script, &[]).await
}

async fn run_with(db: &DbServer, script: &str, extra: &[(&'static str, &str)]) -> Run {
    let mut vars = db_vars("postgres", db.port(), "postgres", &secret_arn().await);
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
    assert_eq!(run.summary["leak_check"]["passed"], true);
    assert_eq!(
        sensitive(&run.summary),
        vec![
            ("public.customers.email".to_owned(), 40, 0),
            ("public.customers.card".to_owned(), 40, 0),
            ("public.customers.name".to_owned(), 40, 0),
        ]
    );
    assert_eq!(hits(&run.summary), vec![]);
    // customers: name, email, card; orders: contact_email, payment_card, note.
    assert_eq!(run.summary["leak_check"]["text_columns_scanned"], 6);
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
    let before = dump(&db);

    let run = run_script(&db, MISSES_NAME).await;

    assert_ne!(run.code, Some(0));
    assert_eq!(
        run.summary["outcome"], "verification_failed",
        "{}",
        run.summary
    );
    assert_eq!(run.summary["leak_check"]["passed"], false);
    assert!(
        sensitive(&run.summary).contains(&("public.customers.name".to_owned(), 40, 40)),
        "{}",
        run.summary
    );
    assert_eq!(
        run.summary["error"],
        "leak check failed: public.customers.name: 40 of 40 sampled values remain"
    );
    // The script's own verify query passed: only the leak check stopped the run.
    assert_eq!(run.summary["verification"][0]["passed"], true);
    assert_eq!(run.summary["rolled_back"], true);
    assert_eq!(dump(&db), before);
}

#[tokio::test]
async fn given_a_script_that_misses_a_table_then_the_detectors_name_its_columns() {
    let _slot = slot().await;
    let db = loaded();
    let before = dump(&db);

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
                "public.orders.contact_email".to_owned(),
                "email".to_owned(),
                40,
                false
            ),
            (
                "public.orders.payment_card".to_owned(),
                "card".to_owned(),
                40,
                false
            ),
        ]
    );
    let error = run.summary["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("public.orders.contact_email: detector email fired on 40")
            && error.contains("public.orders.payment_card: detector card fired on 40"),
        "{error}"
    );
    assert!(
        sensitive(&run.summary)
            .iter()
            .all(|(_, s, r)| *s == 40 && *r == 0)
    );
    assert_eq!(dump(&db), before);
}

#[tokio::test]
async fn given_the_missed_table_is_allow_listed_then_the_run_passes_and_reports_the_hits() {
    let _slot = slot().await;
    let db = loaded();
    let script = format!("-- @allow orders.contact_email, orders.payment_card\n{MISSES_ORDERS}");

    let run = run_script(&db, &script).await;

    assert_eq!(run.code, Some(0), "{}\n{}", run.summary, run.stderr);
    assert_eq!(run.summary["outcome"], "succeeded");
    assert_eq!(run.summary["leak_check"]["passed"], true);
    assert_eq!(
        hits(&run.summary),
        vec![
            (
                "public.orders.contact_email".to_owned(),
                "email".to_owned(),
                40,
                true
            ),
            (
                "public.orders.payment_card".to_owned(),
                "card".to_owned(),
                40,
                true
            ),
        ]
    );
}

#[tokio::test]
async fn given_a_configured_pattern_and_small_samples_then_they_apply() {
    let _slot = slot().await;
    let db = loaded();
    let mut vars = db_vars("postgres", db.port(), "postgres", &secret_arn().await);
    vars.extend([
        ("SANITIZER_TLS", "require".to_owned()),
        ("SANITIZER_SCRIPT", MASKS_ALL.to_owned()),
        ("SANITIZER_LEAK_SAMPLE_VALUES", "5".to_owned()),
        ("SANITIZER_LEAK_SCAN_ROWS", "7".to_owned()),
        (
            "SANITIZER_LEAK_PATTERNS",
            r#"{"gift-note": "gift wrap \\d+"}"#.to_owned(),
        ),
    ]);

    let run = run_sanitizer(&vars);

    assert_no_fixture_value(&run);
    assert_ne!(run.code, Some(0));
    assert!(
        sensitive(&run.summary)
            .iter()
            .all(|(_, s, r)| *s == 5 && *r == 0)
    );
    assert_eq!(
        hits(&run.summary),
        vec![(
            "public.orders.note".to_owned(),
            "gift-note".to_owned(),
            7,
            false
        )]
    );
}

#[tokio::test]
async fn given_a_declared_column_that_does_not_exist_then_the_run_fails_naming_it_before_any_statement()
 {
    let _slot = slot().await;
    let db = loaded();
    let before = dump(&db);
    let script = MASKS_ALL.replace("customers.card", "customers.card_number");

    let run = run_script(&db, &script).await;

    assert_ne!(run.code, Some(0));
    assert_eq!(run.summary["outcome"], "failed");
    assert_eq!(
        run.summary["error"],
        "leak check: @sensitive column customers.card_number does not exist (looked in schema public)"
    );
    assert!(
        run.summary["statements"]
            .as_array()
            .is_none_or(Vec::is_empty)
    );
    assert_eq!(dump(&db), before);
}

// Validation mode (AWS Backup restore testing): the verify queries and the detectors only, in a
// read-only transaction; the script's statements never run and nothing is written.

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

#[tokio::test]
async fn given_a_clean_restore_then_validation_passes_read_only_and_the_scripts_statements_never_run()
 {
    let _slot = slot().await;
    let db = after(loaded(), &MASK);
    let before = dump(&db);

    let run = run_with(&db, SCRIPT, VALIDATE).await;

    assert_validation_passed(&run);
    // Sampling needs a before and an after: a validation samples nothing.
    assert_eq!(sensitive(&run.summary), vec![]);
    assert_eq!(dump(&db), before);
    assert_eq!(db.sql("SELECT count(*) FROM orders").trim(), "40");
}

#[tokio::test]
async fn given_a_restore_with_a_leaking_column_then_validation_fails_naming_it_and_its_count() {
    let _slot = slot().await;
    // Orders' payment cards are left as they were in production.
    let db = after(
        loaded(),
        &[
            MASK[0],
            "UPDATE orders SET contact_email = 'buyer' || id || '@example.invalid'",
        ],
    );
    let before = dump(&db);

    let run = run_with(&db, SCRIPT, VALIDATE).await;

    assert_gate_failed(
        &run,
        "leak check failed: public.orders.payment_card: detector card fired on 40 of the rows scanned",
    );
    assert_eq!(dump(&db), before);
}

#[tokio::test]
async fn given_a_verify_query_that_hides_a_write_then_the_read_only_transaction_refuses_it() {
    let _slot = slot().await;
    let db = after(loaded(), &MASK);
    let script = "
-- @verify
WITH gone AS (DELETE FROM orders RETURNING id) SELECT id FROM gone WHERE false;
";

    let run = run_with(&db, script, VALIDATE).await;

    assert_ne!(run.code, Some(0));
    assert_eq!(run.summary["outcome"], "verification_failed");
    let error = run.summary["verification"][0]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(error.contains("read-only transaction"), "{}", run.summary);
    assert_eq!(db.sql("SELECT count(*) FROM orders").trim(), "40");
}
