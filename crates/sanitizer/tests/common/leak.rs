//! The leak check's fixture: customers (name, e-mail, a Luhn-valid card) and their orders
//! (a contact e-mail, a card written with dashes), with production-shaped values, and helpers
//! that read the summary's `leak_check` and prove no fixture value left the task.

use serde_json::Value;
use sluice_sanitizer::detect::luhn_valid;

use super::Run;

/// Rows in each fixture table.
pub const ROWS: u32 = 40;

/// Customer `id`'s name.
pub fn name(id: u32) -> String {
    format!("Margarethe Vollbrecht-{id}")
}

/// Customer `id`'s e-mail address.
pub fn email(id: u32) -> String {
    format!("m.vollbrecht{id}@corp-mail.com")
}

/// Customer `id`'s card number: 16 Luhn-valid digits in groups of four.
pub fn card(id: u32) -> String {
    let digits = luhn(&format!("411111111111{id:03}"));
    let groups: Vec<&str> = (0..4).map(|g| &digits[g * 4..g * 4 + 4]).collect();
    groups.join(" ")
}

/// Order `id`'s contact e-mail address.
pub fn contact(id: u32) -> String {
    format!("buyer{id}@shop-mail.net")
}

/// Order `id`'s payment card: 16 Luhn-valid digits in groups split by dashes.
pub fn payment_card(id: u32) -> String {
    let digits = luhn(&format!("550000000000{id:03}"));
    format!(
        "{}-{}-{}-{}",
        &digits[..4],
        &digits[4..8],
        &digits[8..12],
        &digits[12..]
    )
}

fn luhn(body: &str) -> String {
    (0..10)
        .map(|d| format!("{body}{d}"))
        .find(|n| luhn_valid(n))
        .unwrap_or_default()
}

/// Every production value of the fixture.
pub fn all_values() -> Vec<String> {
    (1..=ROWS)
        .flat_map(|id| [name(id), email(id), card(id), contact(id), payment_card(id)])
        .collect()
}

/// The fixture's statements, table names prefixed with `schema` (e.g. `app.`), `text_type`
/// for every text column.
pub fn fixture(schema: &str, text_type: &str) -> Vec<String> {
    let customers: Vec<String> = (1..=ROWS)
        .map(|id| format!("({id}, '{}', '{}', '{}')", name(id), email(id), card(id)))
        .collect();
    let orders: Vec<String> = (1..=ROWS)
        .map(|id| {
            format!(
                "({id}, {id}, '{}', '{}', 'gift wrap {id}')",
                contact(id),
                payment_card(id)
            )
        })
        .collect();
    vec![
        format!(
            "CREATE TABLE {schema}customers (id int PRIMARY KEY, name {text_type}, email {text_type} NOT NULL, card {text_type})"
        ),
        format!(
            "CREATE TABLE {schema}orders (id int PRIMARY KEY, customer_id int, contact_email {text_type}, payment_card {text_type}, note {text_type})"
        ),
        format!(
            "INSERT INTO {schema}customers (id, name, email, card) VALUES {}",
            customers.join(", ")
        ),
        format!(
            "INSERT INTO {schema}orders (id, customer_id, contact_email, payment_card, note) VALUES {}",
            orders.join(", ")
        ),
    ]
}

/// Asserts that no production value of the fixture is in the summary or the logs.
pub fn assert_no_fixture_value(run: &Run) {
    let summary = run.summary.to_string();
    for (what, text) in [("summary", &summary), ("logs", &run.stderr)] {
        for value in all_values() {
            assert!(
                !text.contains(&value),
                "the {what} quote a sampled value {value}:\n{text}"
            );
        }
    }
}

/// The leak report's sensitive columns as (column, sampled, remaining).
pub fn sensitive(summary: &Value) -> Vec<(String, u64, u64)> {
    summary["leak_check"]["sensitive"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    (
                        s["column"].as_str().unwrap_or_default().to_owned(),
                        s["sampled"].as_u64().unwrap_or(u64::MAX),
                        s["remaining"].as_u64().unwrap_or(u64::MAX),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The leak report's detector hits as (column, detector, rows, allowed), sorted.
pub fn hits(summary: &Value) -> Vec<(String, String, u64, bool)> {
    let mut hits: Vec<_> = summary["leak_check"]["hits"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|h| {
                    (
                        h["column"].as_str().unwrap_or_default().to_owned(),
                        h["detector"].as_str().unwrap_or_default().to_owned(),
                        h["rows"].as_u64().unwrap_or(u64::MAX),
                        h["allowed"].as_bool().unwrap_or(false),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    hits.sort();
    hits
}

/// Asserts that the run exited non-zero because the gate failed, with exactly `error`.
pub fn assert_gate_failed(run: &Run, error: &str) {
    assert_ne!(run.code, Some(0));
    assert_eq!(
        run.summary["outcome"], "verification_failed",
        "{}",
        run.summary
    );
    assert_eq!(run.summary["error"], error);
}

/// Validation mode (restore testing): only the verify queries and the detectors, read-only.
pub const VALIDATE: &[(&str, &str)] = &[("SANITIZER_MODE", "validate")];

/// `db` after `statements` ran on it (e.g. masking what a clean restore would hold).
pub fn after(
    db: sluice_testbed::db::DbServer,
    statements: &[&str],
) -> sluice_testbed::db::DbServer {
    for sql in statements {
        db.sql(sql);
    }
    db
}

/// Asserts that a validation passed read-only: exit 0, nothing committed, no statement run,
/// every verify query (one of which returns a row unless the session is read-only) and the
/// leak check passed.
pub fn assert_validation_passed(run: &Run) {
    assert_eq!(run.code, Some(0), "{}\n{}", run.summary, run.stderr);
    assert_eq!(run.summary["outcome"], "validation_passed");
    assert_eq!(run.summary["read_only"], true);
    assert_eq!(run.summary["committed"], false);
    assert_eq!(run.summary["statements"], serde_json::json!([]));
    let verification = run.summary["verification"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        verification.len() >= 2 && verification.iter().all(|v| v["passed"] == true),
        "{}",
        run.summary
    );
    assert_eq!(run.summary["leak_check"]["passed"], true);
}
