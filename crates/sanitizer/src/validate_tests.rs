use super::*;
use crate::engine::Family;
use crate::run::tests::{Fake, opts, plan, with_values};

#[tokio::test]
async fn given_a_script_with_statements_then_validation_runs_only_its_queries_read_only_and_rolls_back()
 {
    let mut db = Fake::default();
    let s = validate(
        &mut db,
        &plan(&["UPDATE t SET c = 1", "DROP TABLE t"], &["SELECT ROWS=0"]),
        opts(Family::Postgres, false),
    )
    .await;
    assert_eq!(s.outcome, Outcome::ValidationPassed, "{:?}", s.error);
    assert_eq!(
        db.log,
        vec!["BEGIN READ ONLY", "TIMEOUT 60", "SELECT ROWS=0", "ROLLBACK"]
    );
    assert!(s.ok() && s.read_only && s.rolled_back && !s.committed);
    assert!(s.statements.is_empty());
}

#[tokio::test]
async fn given_a_verify_statement_that_is_not_a_query_then_nothing_runs_and_it_is_named() {
    for family in [Family::Postgres, Family::Mysql] {
        let mut db = Fake::default();
        let s = validate(
            &mut db,
            &plan(&[], &["SELECT ROWS=0", "DELETE FROM t"]),
            opts(family, false),
        )
        .await;
        assert_eq!(s.outcome, Outcome::Failed);
        assert!(db.log.is_empty(), "{:?}", db.log);
        let why = s.error.unwrap_or_default();
        assert!(
            why.contains("verification query 2") && why.contains("DELETE"),
            "{why}"
        );
    }
}

#[tokio::test]
async fn given_a_detector_hit_then_validation_fails_naming_column_and_count_without_sampling() {
    let mut db = with_values();
    let p = Plan {
        sensitive: crate::directive::parse_columns("t.c").expect("column"),
        ..plan(&[], &["SELECT ROWS=0"])
    };
    let s = validate(&mut db, &p, opts(Family::Mysql, false)).await;
    assert_eq!(s.outcome, Outcome::VerificationFailed);
    assert_eq!(
        s.error.as_deref(),
        Some("leak check failed: public.t.c: detector email fired on 2 of the rows scanned")
    );
    let report = s.leak_check.expect("leak report");
    assert!(report.sensitive.is_empty(), "{:?}", report.sensitive);
    assert!(!db.log.iter().any(|l| l == "COMMIT"));
    assert_eq!(db.log.last().map(String::as_str), Some("ROLLBACK"));
}

#[tokio::test]
async fn given_an_allowed_column_and_rows_from_a_query_then_only_the_query_fails_the_gate() {
    let mut db = with_values();
    let p = Plan {
        allow: crate::directive::parse_columns("t.c").expect("column"),
        ..plan(&[], &["SELECT ROWS=3", "SELECT ROWS=0"])
    };
    let s = validate(&mut db, &p, opts(Family::Postgres, false)).await;
    assert_eq!(s.outcome, Outcome::VerificationFailed);
    assert_eq!(
        s.error.as_deref(),
        Some("verification queries 1 returned rows or failed")
    );
    assert_eq!(s.verification[0].rows, Some(3));
}

#[test]
fn given_queries_then_select_and_with_pass_and_writes_are_refused() {
    assert_eq!(query_refusal("  (SELECT 1)"), None);
    assert_eq!(query_refusal("with x as (select 1) select * from x"), None);
    for sql in [
        "UPDATE t SET a = 1",
        "COMMIT",
        "CREATE TABLE x (a int)",
        "SET x = 1",
    ] {
        assert!(query_refusal(sql).is_some(), "{sql}");
    }
}
