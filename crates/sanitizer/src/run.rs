//! The run itself: statements in order, then the verification gate, then commit or roll back.
//!
//! Engine-neutral: the database is a [`Session`] (PostgreSQL or MySQL adapter, or a fake in
//! tests). On PostgreSQL everything runs in one transaction, so a failed statement or a failed
//! verification leaves the database as it was. On MySQL-family engines DDL commits implicitly,
//! so statements run in autocommit mode; a failure still exits non-zero and the pipeline then
//! neither snapshots nor shares. A dry run always runs in a transaction that is rolled back
//! (on MySQL it refuses statements that would commit implicitly; see [`dry_run_refusal`]).

use std::future::Future;
use std::time::{Duration, Instant};

use crate::engine::Family;
use crate::leak::{self, LeakSettings};
use crate::script::Plan;
use crate::summary::{Outcome, StatementReport, Summary, VerificationReport};

/// A database error, as text the engine gave (already free of credentials and row values).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DbError(pub String);

impl DbError {
    /// An error the server reported, the same way for every engine: `ERROR 23505: …`,
    /// `ERROR 1062 (23000): …`. Each adapter passes only what may be shown: a `message`
    /// already free of row values.
    pub fn server(severity: &str, code: &str, message: &str) -> Self {
        Self(format!("{severity} {code}: {message}"))
    }
}

/// One open connection, as the runner needs it.
pub trait Session: Send {
    /// Starts a transaction.
    fn begin(&mut self) -> impl Future<Output = Result<(), DbError>> + Send;
    /// Makes the session read-only and starts a read-only transaction: the engine itself then
    /// refuses any write, even one a verification query hides in a function or a CTE.
    fn begin_read_only(&mut self) -> impl Future<Output = Result<(), DbError>> + Send;
    /// Sets the server-side per-statement limit (inside the transaction, when there is one).
    fn set_statement_timeout(
        &mut self,
        seconds: u64,
    ) -> impl Future<Output = Result<(), DbError>> + Send;
    /// Runs a statement; returns the rows it affected.
    fn execute(&mut self, sql: &str) -> impl Future<Output = Result<u64, DbError>> + Send;
    /// Runs a query; returns how many rows it returned.
    fn count_rows(&mut self, sql: &str) -> impl Future<Output = Result<u64, DbError>> + Send;
    /// Runs a query whose columns are all text, with `params` bound as text (`$1…` on
    /// PostgreSQL, `?` on MySQL); returns every row (`None` for NULL). Only the leak check
    /// uses it, and what it returns stays in memory.
    fn query_text(
        &mut self,
        sql: &str,
        params: &[&str],
    ) -> impl Future<Output = Result<Vec<Vec<Option<String>>>, DbError>> + Send;
    /// Commits the transaction.
    fn commit(&mut self) -> impl Future<Output = Result<(), DbError>> + Send;
    /// Rolls the transaction back.
    fn rollback(&mut self) -> impl Future<Output = Result<(), DbError>> + Send;
}

/// How a run behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOptions {
    /// Protocol family (decides transactions).
    pub family: Family,
    /// Roll everything back at the end.
    pub dry_run: bool,
    /// Per-statement limit; the client also gives up a little after it.
    pub statement_timeout: Duration,
    /// What the leak check reads.
    pub leak: LeakSettings,
}

/// Keywords a MySQL dry run accepts as a statement's first word: none of them commits.
const MYSQL_DRY_RUN_SAFE: [&str; 8] = [
    "UPDATE", "DELETE", "INSERT", "REPLACE", "SELECT", "WITH", "SET", "DO",
];

/// The statement's first keyword, upper-cased.
pub(crate) fn first_word(sql: &str) -> String {
    sql.trim_start_matches(|c: char| c.is_whitespace() || c == '(')
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_uppercase()
}

/// Why a PostgreSQL script cannot hold `sql`: transaction control would end the one
/// transaction the gate relies on. `SAVEPOINT` and `ROLLBACK TO` are fine.
pub fn transaction_control_refusal(sql: &str) -> Option<String> {
    let word = first_word(sql);
    let rollback_to = word == "ROLLBACK" && {
        let rest = sql
            .trim_start()
            .get(word.len()..)
            .unwrap_or("")
            .trim_start()
            .to_ascii_uppercase();
        rest.starts_with("TO ")
            || rest.starts_with("TRANSACTION TO ")
            || rest.starts_with("WORK TO ")
    };
    let ends = matches!(
        word.as_str(),
        "BEGIN" | "START" | "COMMIT" | "END" | "ABORT" | "ROLLBACK"
    ) && !rollback_to;
    ends.then(|| format!("`{word}` would end the transaction the verification gate relies on"))
}

/// Why a MySQL dry run cannot run `sql` (it would commit implicitly), if it cannot.
pub fn dry_run_refusal(sql: &str) -> Option<String> {
    let word = first_word(sql);
    let commits = !MYSQL_DRY_RUN_SAFE.contains(&word.as_str())
        || sql.to_ascii_lowercase().contains("autocommit");
    commits.then(|| {
        format!("a MySQL dry run cannot roll back `{word}` statements (they commit implicitly)")
    })
}

/// Runs `plan` on `session` and reports what happened. Never panics on database errors: they
/// end up in the summary with [`Outcome::Failed`].
pub async fn run<S: Session>(session: &mut S, plan: &Plan, opts: RunOptions) -> Summary {
    let mut summary = Summary::new(opts.dry_run);
    if plan.verify.is_empty() {
        summary.fail(
            "the script has no verification queries (`-- @verify` section or SANITIZER_VERIFY)",
        );
        return summary;
    }
    let refusal: Option<fn(&str) -> Option<String>> = match opts.family {
        Family::Postgres => Some(transaction_control_refusal),
        Family::Mysql if opts.dry_run => Some(dry_run_refusal),
        Family::Mysql => None,
    };
    if let Some((i, why)) = refusal.and_then(|refuse| {
        plan.statements
            .iter()
            .enumerate()
            .find_map(|(i, s)| refuse(s).map(|w| (i, w)))
    }) {
        summary.fail(&format!("statement {}: {why}", i + 1));
        return summary;
    }
    let transactional = opts.family == Family::Postgres || opts.dry_run;
    let limit = opts.statement_timeout + Duration::from_secs(5);
    if transactional {
        if let Err(e) = session.begin().await {
            summary.fail(&format!("begin: {e}"));
            return summary;
        }
        summary.transaction = true;
    }
    if let Err(e) = session
        .set_statement_timeout(opts.statement_timeout.as_secs())
        .await
    {
        return abort(
            session,
            summary,
            format!("setting the statement timeout: {e}"),
        )
        .await;
    }
    // Samples the sensitive columns before any statement changes them.
    // Each of its queries is bounded by the server-side statement timeout set above.
    let prepared = match leak::prepare(session, plan, &opts.leak, opts.family).await {
        Ok(p) => p,
        Err(e) => return abort(session, summary, format!("leak check: {e}")).await,
    };
    for (i, sql) in plan.statements.iter().enumerate() {
        let started = Instant::now();
        let result = timed(limit, session.execute(sql)).await;
        let elapsed_ms = millis(started);
        match result {
            Ok(rows) => {
                tracing::info!(
                    statement = i + 1,
                    rows_affected = rows,
                    elapsed_ms,
                    "statement done"
                );
                summary.statements.push(StatementReport {
                    index: i + 1,
                    sql: excerpt(sql),
                    rows_affected: Some(rows),
                    elapsed_ms,
                    error: None,
                });
            }
            Err(e) => {
                tracing::error!(statement = i + 1, error = %e, "statement failed");
                summary.statements.push(StatementReport {
                    index: i + 1,
                    sql: excerpt(sql),
                    rows_affected: None,
                    elapsed_ms,
                    error: Some(e.0.clone()),
                });
                return abort(session, summary, format!("statement {} failed: {e}", i + 1)).await;
            }
        }
    }
    run_verification(session, plan, limit, &mut summary).await;
    let report = match leak::check(session, &prepared).await {
        Ok(r) => r,
        Err(e) => return abort(session, summary, format!("leak check: {e}")).await,
    };
    let leaked = leak::failure(&report);
    summary.leak_check = Some(report);
    if gate_failed(&mut summary, leaked) {
        if transactional {
            summary.rolled_back = session.rollback().await.is_ok();
        }
        return summary;
    }
    if opts.dry_run {
        summary.rolled_back = session.rollback().await.is_ok();
        if !summary.rolled_back {
            summary.fail("dry run: rollback failed");
            return summary;
        }
        summary.outcome = Outcome::DryRunPassed;
        return summary;
    }
    if transactional && let Err(e) = session.commit().await {
        summary.fail(&format!("commit: {e}"));
        return summary;
    }
    summary.committed = true;
    summary.outcome = Outcome::Succeeded;
    summary
}

/// Runs every verification query and records its report; a query that fails is reported as
/// failed, never fatal, so every query runs.
pub(crate) async fn run_verification<S: Session>(
    session: &mut S,
    plan: &Plan,
    limit: Duration,
    summary: &mut Summary,
) {
    for (i, sql) in plan.verify.iter().enumerate() {
        let result = timed(limit, session.count_rows(sql)).await;
        let report = match result {
            Ok(rows) => VerificationReport {
                index: i + 1,
                sql: excerpt(sql),
                rows: Some(rows),
                passed: rows == 0,
                error: None,
            },
            Err(e) => VerificationReport {
                index: i + 1,
                sql: excerpt(sql),
                rows: None,
                passed: false,
                error: Some(e.0),
            },
        };
        if !report.passed {
            tracing::error!(query = i + 1, rows = report.rows, "verification failed");
        }
        summary.verification.push(report);
    }
}

/// Marks `summary` failed by the gate when a verification query or the leak check (`leaked`)
/// failed; whether it did.
pub(crate) fn gate_failed(summary: &mut Summary, leaked: Option<String>) -> bool {
    let failed: Vec<_> = summary
        .verification
        .iter()
        .filter(|v| !v.passed)
        .map(|v| v.index.to_string())
        .collect();
    if failed.is_empty() && leaked.is_none() {
        return false;
    }
    summary.outcome = Outcome::VerificationFailed;
    let queries = (!failed.is_empty()).then(|| {
        format!(
            "verification queries {} returned rows or failed",
            failed.join(", ")
        )
    });
    summary.error = Some(
        queries
            .into_iter()
            .chain(leaked)
            .collect::<Vec<_>>()
            .join("; "),
    );
    true
}

pub(crate) async fn abort<S: Session>(
    session: &mut S,
    mut summary: Summary,
    why: String,
) -> Summary {
    if summary.transaction {
        summary.rolled_back = session.rollback().await.is_ok();
    }
    summary.fail(&why);
    summary
}

pub(crate) async fn timed<T>(
    limit: Duration,
    fut: impl Future<Output = Result<T, DbError>>,
) -> Result<T, DbError> {
    tokio::time::timeout(limit, fut).await.unwrap_or_else(|_| {
        Err(DbError(format!(
            "no answer within {} s (client-side limit)",
            limit.as_secs()
        )))
    })
}

fn millis(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The statement as the summary shows it: at most 500 characters.
pub(crate) fn excerpt(sql: &str) -> String {
    const MAX: usize = 500;
    match sql.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &sql[..cut]),
        None => sql.to_owned(),
    }
}

#[cfg(test)]
#[path = "run_tests.rs"]
pub(crate) mod tests;
