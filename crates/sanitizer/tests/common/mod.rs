//! Shared set-up of the engine tests: PII-shaped customers, the credentials secret in moto,
//! and the real `sanitizer` binary run as a process (build it first: `cargo build --bins`).

#![allow(dead_code)]

pub mod leak;

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;
use sluice_testbed::db::{PASSWORD, USER};
use sluice_testbed::moto::Moto;
use sluice_testbed::paths;

/// At most two tests of a binary hold database servers at once: the machine is small and
/// shared, and `mariadb-install-db` fails when too many start together.
pub async fn slot() -> tokio::sync::SemaphorePermit<'static> {
    static SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
    SLOTS.acquire().await.expect("semaphore is never closed")
}

/// A CA bundle that did not sign the test servers' certificates (the system's public roots).
pub const FOREIGN_CA: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Customers in the fixture table.
pub const CUSTOMERS: u32 = 50;

/// The fixture's original e-mail address of customer `id`.
pub fn email(id: u32) -> String {
    format!("jane.doe{id}@corp-mail.com")
}

/// The fixture's original card number of customer `id` (Luhn not needed: shape only).
pub fn card(id: u32) -> String {
    format!("4111 1111 1111 {id:04}")
}

/// `INSERT` of every fixture row into `table` (names with a quote and a semicolon, to prove
/// quoting survives).
pub fn insert_customers(table: &str) -> String {
    let rows: Vec<String> = (1..=CUSTOMERS)
        .map(|id| {
            format!(
                "({id}, 'O''Brien; {id}', '{}', '{}', '+1 555 01{id:02}')",
                email(id),
                card(id)
            )
        })
        .collect();
    format!(
        "INSERT INTO {table} (id, name, email, card_number, phone) VALUES {}",
        rows.join(", ")
    )
}

/// Asserts that `dump` (the table's rows as text) holds no original e-mail or card number.
pub fn assert_no_original_pii(dump: &str) {
    for id in 1..=CUSTOMERS {
        assert!(
            !dump.contains(&email(id)),
            "original e-mail {} is still there",
            email(id)
        );
        assert!(
            !dump.contains(&card(id)),
            "original card {} is still there",
            card(id)
        );
    }
}

/// Asserts that `dump` still holds every original e-mail and card number.
pub fn assert_all_original_pii(dump: &str) {
    for id in 1..=CUSTOMERS {
        assert!(
            dump.contains(&email(id)) && dump.contains(&card(id)),
            "row {id} changed"
        );
    }
}

/// A fresh RDS-shaped secret (`{"username", "password"}`) in the shared moto; its ARN.
pub async fn secret_arn() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let client = aws_sdk_secretsmanager::Client::new(&Moto::shared().sdk_config());
    let name = format!(
        "rds!db-sanitizer-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    let out = client
        .create_secret()
        .name(name)
        .secret_string(serde_json::json!({"username": USER, "password": PASSWORD}).to_string())
        .send()
        .await
        .expect("create secret");
    out.arn().expect("secret arn").to_owned()
}

/// An S3 client on the shared moto.
pub fn s3() -> aws_sdk_s3::Client {
    Moto::shared().s3_client()
}

/// What one run of the binary left behind.
pub struct Run {
    /// Exit code (`None` when killed).
    pub code: Option<i32>,
    /// The JSON summary from stdout.
    pub summary: Value,
    /// Everything on stderr (the logs).
    pub stderr: String,
}

/// Asserts that neither the run's summary nor its logs quote any original e-mail address.
pub fn assert_run_quotes_no_email(run: &Run) {
    let summary = run.summary.to_string();
    for (what, text) in [("summary", &summary), ("logs", &run.stderr)] {
        for id in 1..=CUSTOMERS {
            assert!(
                !text.contains(&email(id)),
                "the {what} quote {}:\n{text}",
                email(id)
            );
        }
    }
}

/// Runs the real `sanitizer` binary with only moto's variables and `vars`; asserts that
/// stdout is exactly one JSON summary and that the password appears nowhere.
pub fn run_sanitizer(vars: &[(&str, String)]) -> Run {
    let mut cmd = Command::new(paths::bin_path("sanitizer"));
    cmd.env_clear()
        .envs(Moto::shared().env())
        .env("RUST_LOG", "debug");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run sanitizer");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    for (what, text) in [("stdout", &stdout), ("stderr", &stderr)] {
        assert!(
            !text.contains(PASSWORD),
            "the password is on {what}:\n{text}"
        );
    }
    let summary: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON summary ({e}):\n{stdout}\n{stderr}"));
    Run {
        code: out.status.code(),
        summary,
        stderr,
    }
}

/// The base variables for a database on loopback.
pub fn db_vars(
    engine: &str,
    port: u16,
    database: &str,
    secret_arn: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("SANITIZER_ENGINE", engine.to_owned()),
        ("SANITIZER_ENDPOINT", "127.0.0.1".to_owned()),
        ("SANITIZER_PORT", port.to_string()),
        ("SANITIZER_DATABASE", database.to_owned()),
        ("SANITIZER_SECRET_ARN", secret_arn.to_owned()),
        ("SANITIZER_STATEMENT_TIMEOUT_SECONDS", "60".to_owned()),
    ]
}

/// The rows-affected numbers the summary reports, in order.
pub fn rows_affected(summary: &Value) -> Vec<u64> {
    summary["statements"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s["rows_affected"].as_u64())
                .collect()
        })
        .unwrap_or_default()
}

/// A MariaDB server; `mariadb-install-db` fails now and then on a busy shared machine (the test
/// bed's issue, not the sanitizer's), so a failed start is retried twice.
#[allow(dead_code, reason = "used by the MariaDB test binaries only")]
pub fn mariadb_started() -> sluice_testbed::db::DbServer {
    for _ in 0..2 {
        if let Ok(db) = std::panic::catch_unwind(sluice_testbed::db::DbServer::mariadb) {
            return db;
        }
    }
    sluice_testbed::db::DbServer::mariadb()
}
