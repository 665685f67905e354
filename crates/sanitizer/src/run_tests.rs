use super::*;

/// Records what the runner asks for; fails statements containing `FAIL`; a query's row count
/// is the number after `ROWS=` in it.
/// With `values`, the database holds one table `public.t` with a text column `c`; a statement
/// containing `MASK` replaces every value with `masked`.
#[derive(Default)]
pub(crate) struct Fake {
    pub(crate) log: Vec<String>,
    pub(crate) values: Option<Vec<String>>,
}

impl Session for Fake {
    async fn begin(&mut self) -> Result<(), DbError> {
        self.log.push("BEGIN".into());
        Ok(())
    }
    async fn begin_read_only(&mut self) -> Result<(), DbError> {
        self.log.push("BEGIN READ ONLY".into());
        Ok(())
    }
    async fn set_statement_timeout(&mut self, seconds: u64) -> Result<(), DbError> {
        self.log.push(format!("TIMEOUT {seconds}"));
        Ok(())
    }
    async fn execute(&mut self, sql: &str) -> Result<u64, DbError> {
        self.log.push(sql.to_owned());
        if sql.contains("MASK")
            && let Some(values) = &mut self.values
        {
            values.iter_mut().for_each(|v| *v = "masked".to_owned());
        }
        if sql.contains("FAIL") {
            Err(DbError("syntax error".into()))
        } else {
            Ok(3)
        }
    }
    async fn count_rows(&mut self, sql: &str) -> Result<u64, DbError> {
        self.log.push(sql.to_owned());
        Ok(sql
            .split("ROWS=")
            .nth(1)
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0))
    }
    async fn query_text(
        &mut self,
        sql: &str,
        params: &[&str],
    ) -> Result<Vec<Vec<Option<String>>>, DbError> {
        let Some(values) = &self.values else {
            // An empty database: no catalog rows, no current schema.
            return Ok(Vec::new());
        };
        let text = |v: &str| vec![Some(v.to_owned())];
        Ok(if sql.contains("information_schema") {
            vec![
                ["public", "t", "c", "text", "text"]
                    .map(Some)
                    .map(|v| v.map(str::to_owned))
                    .to_vec(),
            ]
        } else if sql.contains("current_schema") || sql.contains("DATABASE()") {
            vec![text("public")]
        } else if sql.to_ascii_lowercase().contains("count(distinct") {
            let n = values
                .iter()
                .filter(|v| params.contains(&v.as_str()))
                .count();
            vec![text(&n.to_string())]
        } else {
            values.iter().map(|v| text(v)).collect()
        })
    }
    async fn commit(&mut self) -> Result<(), DbError> {
        self.log.push("COMMIT".into());
        Ok(())
    }
    async fn rollback(&mut self) -> Result<(), DbError> {
        self.log.push("ROLLBACK".into());
        Ok(())
    }
}

pub(crate) fn plan(statements: &[&str], verify: &[&str]) -> Plan {
    Plan {
        statements: statements.iter().map(|s| s.to_string()).collect(),
        verify: verify.iter().map(|s| s.to_string()).collect(),
        ..Plan::default()
    }
}

pub(crate) fn opts(family: Family, dry_run: bool) -> RunOptions {
    RunOptions {
        family,
        dry_run,
        statement_timeout: Duration::from_secs(60),
        leak: LeakSettings::default(),
    }
}

#[tokio::test]
async fn given_postgres_and_passing_verification_then_one_transaction_is_committed() {
    let mut db = Fake::default();
    let s = run(
        &mut db,
        &plan(&["U1", "U2"], &["V ROWS=0"]),
        opts(Family::Postgres, false),
    )
    .await;
    assert_eq!(s.outcome, Outcome::Succeeded);
    assert_eq!(
        db.log,
        vec!["BEGIN", "TIMEOUT 60", "U1", "U2", "V ROWS=0", "COMMIT"]
    );
    assert_eq!(
        s.statements
            .iter()
            .map(|r| r.rows_affected)
            .collect::<Vec<_>>(),
        vec![Some(3), Some(3)]
    );
    assert!(s.committed && s.ok());
}

#[tokio::test]
async fn given_a_verification_query_with_rows_then_all_queries_run_and_postgres_rolls_back() {
    let mut db = Fake::default();
    let s = run(
        &mut db,
        &plan(&["U1"], &["V1 ROWS=2", "V2 ROWS=0"]),
        opts(Family::Postgres, false),
    )
    .await;
    assert_eq!(s.outcome, Outcome::VerificationFailed);
    assert_eq!(db.log.last().map(String::as_str), Some("ROLLBACK"));
    assert!(db.log.contains(&"V2 ROWS=0".to_owned()));
    assert!(!s.verification[0].passed && s.verification[1].passed);
    assert!(s.error.as_deref().unwrap_or("").contains('1'));
    assert!(s.rolled_back && !s.committed && !s.ok());
}

#[tokio::test]
async fn given_a_failing_statement_then_later_statements_do_not_run() {
    let mut db = Fake::default();
    let s = run(
        &mut db,
        &plan(&["U1", "FAIL", "U3"], &["V ROWS=0"]),
        opts(Family::Postgres, false),
    )
    .await;
    assert_eq!(s.outcome, Outcome::Failed);
    assert!(!db.log.contains(&"U3".to_owned()));
    assert_eq!(s.statements[1].error.as_deref(), Some("syntax error"));
    assert!(s.rolled_back);
}

#[tokio::test]
async fn given_mysql_then_statements_run_without_a_transaction() {
    let mut db = Fake::default();
    let s = run(
        &mut db,
        &plan(&["U1"], &["V ROWS=0"]),
        opts(Family::Mysql, false),
    )
    .await;
    assert_eq!(s.outcome, Outcome::Succeeded);
    assert_eq!(db.log, vec!["TIMEOUT 60", "U1", "V ROWS=0"]);
    assert!(!s.transaction);
}

#[tokio::test]
async fn given_dry_run_then_everything_runs_and_is_rolled_back() {
    for family in [Family::Postgres, Family::Mysql] {
        let mut db = Fake::default();
        let s = run(
            &mut db,
            &plan(&["UPDATE t SET a = 1"], &["V ROWS=0"]),
            opts(family, true),
        )
        .await;
        assert_eq!(s.outcome, Outcome::DryRunPassed);
        assert_eq!(db.log.first().map(String::as_str), Some("BEGIN"));
        assert_eq!(db.log.last().map(String::as_str), Some("ROLLBACK"));
        assert!(!db.log.contains(&"COMMIT".to_owned()));
    }
}

#[tokio::test]
async fn given_mysql_dry_run_with_ddl_then_nothing_runs() {
    let mut db = Fake::default();
    let s = run(
        &mut db,
        &plan(&["UPDATE t SET a = 1", "ALTER TABLE t DROP c"], &["V"]),
        opts(Family::Mysql, true),
    )
    .await;
    assert_eq!(s.outcome, Outcome::Failed);
    assert!(db.log.is_empty());
    assert!(s.error.as_deref().unwrap_or("").contains("statement 2"));
}

#[tokio::test]
async fn given_no_verification_queries_then_the_run_refuses_to_start() {
    let mut db = Fake::default();
    let s = run(&mut db, &plan(&["U1"], &[]), opts(Family::Postgres, false)).await;
    assert_eq!(s.outcome, Outcome::Failed);
    assert!(db.log.is_empty());
}

#[test]
fn given_statements_then_only_non_committing_ones_pass_the_mysql_dry_run_check() {
    assert_eq!(dry_run_refusal("  update t set a = 1"), None);
    assert_eq!(dry_run_refusal("(SELECT 1)"), None);
    assert!(dry_run_refusal("TRUNCATE t").is_some());
    assert!(dry_run_refusal("SET autocommit = 1").is_some());
}

#[test]
fn given_a_long_statement_then_the_summary_shows_an_excerpt() {
    let long = "x".repeat(600);
    assert_eq!(excerpt(&long).chars().count(), 501);
    assert_eq!(excerpt("short"), "short");
}

#[test]
fn given_transaction_control_then_postgres_refuses_it_but_not_savepoints() {
    for sql in [
        "COMMIT",
        "begin",
        "END",
        "ROLLBACK",
        "start transaction",
        "abort",
    ] {
        assert!(transaction_control_refusal(sql).is_some(), "{sql}");
    }
    for sql in [
        "SAVEPOINT a",
        "ROLLBACK TO a",
        "rollback to savepoint a",
        "UPDATE t SET a = 1",
    ] {
        assert_eq!(transaction_control_refusal(sql), None, "{sql}");
    }
}

#[tokio::test]
async fn given_postgres_script_with_commit_then_nothing_runs() {
    let mut db = Fake::default();
    let s = run(
        &mut db,
        &plan(&["U1", "COMMIT", "U2"], &["V"]),
        opts(Family::Postgres, false),
    )
    .await;
    assert_eq!(s.outcome, Outcome::Failed);
    assert!(db.log.is_empty());
    assert!(s.error.as_deref().unwrap_or("").contains("statement 2"));
}

fn leak_plan(statements: &[&str]) -> Plan {
    Plan {
        sensitive: crate::directive::parse_columns("t.c").expect("column"),
        ..plan(statements, &["V ROWS=0"])
    }
}

pub(crate) fn with_values() -> Fake {
    Fake {
        values: Some(vec![
            "jane@corp-mail.com".into(),
            "joe@corp-mail.com".into(),
        ]),
        ..Fake::default()
    }
}

#[tokio::test]
async fn given_a_sampled_value_left_by_the_script_then_the_gate_fails_closed_and_postgres_rolls_back()
 {
    let mut db = with_values();
    let s = run(&mut db, &leak_plan(&["U1"]), opts(Family::Postgres, false)).await;
    assert_eq!(s.outcome, Outcome::VerificationFailed);
    assert_eq!(
        s.error.as_deref(),
        Some(
            "leak check failed: public.t.c: 2 of 2 sampled values remain; public.t.c: detector email fired on 2 of the rows scanned"
        )
    );
    assert_eq!(db.log.last().map(String::as_str), Some("ROLLBACK"));
    assert!(!s.committed && s.rolled_back && !s.ok());
    let report = s.leak_check.expect("leak report");
    assert!(!report.passed);
    assert_eq!(
        (report.sensitive[0].sampled, report.sensitive[0].remaining),
        (2, 2)
    );
}

#[tokio::test]
async fn given_the_script_masks_the_sampled_column_then_the_gate_passes_and_commits() {
    let mut db = with_values();
    let s = run(
        &mut db,
        &leak_plan(&["MASK"]),
        opts(Family::Postgres, false),
    )
    .await;
    assert_eq!(s.outcome, Outcome::Succeeded, "{:?}", s.error);
    assert_eq!(db.log.last().map(String::as_str), Some("COMMIT"));
    let report = s.leak_check.expect("leak report");
    assert!(report.passed && report.hits.is_empty());
    assert_eq!(report.text_columns_scanned, 1);
}

#[tokio::test]
async fn given_a_leak_on_mysql_outside_a_transaction_then_the_run_fails_without_claiming_a_commit()
{
    let mut db = with_values();
    let s = run(&mut db, &leak_plan(&["U1"]), opts(Family::Mysql, false)).await;
    assert_eq!(s.outcome, Outcome::VerificationFailed);
    assert!(!s.committed && !s.ok());
    assert!(!db.log.iter().any(|l| l == "COMMIT"));
}

#[tokio::test]
async fn given_a_declared_column_missing_from_the_database_then_no_statement_runs() {
    let mut db = Fake::default();
    let s = run(&mut db, &leak_plan(&["U1"]), opts(Family::Postgres, false)).await;
    assert_eq!(s.outcome, Outcome::Failed);
    assert_eq!(
        s.error.as_deref(),
        Some(
            "leak check: @sensitive column t.c does not exist (looked in schema (none: the connection has no current schema))"
        )
    );
    assert!(!db.log.iter().any(|l| l == "U1"));
}
