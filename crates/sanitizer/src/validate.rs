//! Validation mode (`SANITIZER_MODE=validate`): the verification gate alone, read-only, on a
//! database that must stay as it is (an AWS Backup restore-testing copy).
//!
//! Only the script's verify queries and the leak check's detectors run (e-mail, Luhn cards,
//! `SANITIZER_LEAK_PATTERNS`, honouring `-- @allow`), inside a read-only transaction on a
//! read-only session, and the transaction is always rolled back. The script's statements never
//! run, and a verify query that is not a query is refused before anything runs. The sampled
//! part of the leak check compares a before with an after, so it does not apply here.

use std::time::Duration;

use crate::leak;
use crate::run::{RunOptions, Session, abort, first_word, gate_failed, run_verification};
use crate::script::Plan;
use crate::summary::{Outcome, Summary};

/// First keywords a verify query may start with in validation mode: queries only.
const QUERY_WORDS: [&str; 4] = ["SELECT", "WITH", "VALUES", "TABLE"];

/// Why validation mode refuses `sql` as a verify query, if it does: anything but a query
/// (on MySQL-family engines a DDL statement would first commit the transaction implicitly).
pub fn query_refusal(sql: &str) -> Option<String> {
    let word = first_word(sql);
    (!QUERY_WORDS.contains(&word.as_str())).then(|| {
        format!("validation runs queries only, and `{word}` does not start one (SELECT or WITH)")
    })
}

/// Runs `plan`'s verify queries and the leak check's detectors read-only on `session` and
/// reports what happened, counts and column names only. Never runs `plan.statements`.
pub async fn validate<S: Session>(session: &mut S, plan: &Plan, opts: RunOptions) -> Summary {
    let mut summary = Summary::new(false);
    summary.read_only = true;
    if plan.verify.is_empty() {
        summary.fail(
            "the script has no verification queries (`-- @verify` section or SANITIZER_VERIFY)",
        );
        return summary;
    }
    if let Some((i, why)) = plan
        .verify
        .iter()
        .enumerate()
        .find_map(|(i, q)| query_refusal(q).map(|w| (i, w)))
    {
        summary.fail(&format!("verification query {}: {why}", i + 1));
        return summary;
    }
    tracing::info!(
        skipped_statements = plan.statements.len(),
        "validation mode: the script's statements do not run"
    );
    if let Err(e) = session.begin_read_only().await {
        summary.fail(&format!("starting a read-only transaction: {e}"));
        return summary;
    }
    summary.transaction = true;
    if let Err(e) = session
        .set_statement_timeout(opts.statement_timeout.as_secs())
        .await
    {
        let why = format!("setting the statement timeout: {e}");
        return abort(session, summary, why).await;
    }
    let prepared = match leak::prepare_detectors(session, plan, &opts.leak, opts.family).await {
        Ok(p) => p,
        Err(e) => return abort(session, summary, format!("leak check: {e}")).await,
    };
    // The detectors first: on PostgreSQL a failing verify query aborts the transaction, and
    // the leak check would then fail for that reason instead of reporting what it found.
    let report = match leak::check(session, &prepared).await {
        Ok(r) => r,
        Err(e) => return abort(session, summary, format!("leak check: {e}")).await,
    };
    let leaked = leak::failure(&report);
    summary.leak_check = Some(report);
    let limit = opts.statement_timeout + Duration::from_secs(5);
    run_verification(session, plan, limit, &mut summary).await;
    // Nothing to keep: a read-only transaction always ends in a rollback.
    summary.rolled_back = session.rollback().await.is_ok();
    if !gate_failed(&mut summary, leaked) {
        summary.outcome = Outcome::ValidationPassed;
    }
    summary
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
