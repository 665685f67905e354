use proptest::prelude::*;

use super::*;

fn pg(sql: &str) -> Vec<String> {
    split_statements(sql, Family::Postgres).expect("split")
}

fn my(sql: &str) -> Vec<String> {
    split_statements(sql, Family::Mysql).expect("split")
}

#[test]
fn given_semicolons_in_quotes_and_comments_then_they_do_not_split() {
    let sql = "UPDATE t SET a = 'x;y' -- not; here\n, b = \"c;d\"; /* a; b */ DELETE FROM u;";
    assert_eq!(
        pg(sql),
        vec![
            "UPDATE t SET a = 'x;y' -- not; here\n, b = \"c;d\"",
            "DELETE FROM u"
        ]
    );
}

#[test]
fn given_doubled_quotes_then_the_string_continues() {
    assert_eq!(
        pg("SELECT 'it''s; fine'; SELECT 2"),
        vec!["SELECT 'it''s; fine'", "SELECT 2"]
    );
}

#[test]
fn given_dollar_quoted_function_body_then_it_stays_one_statement() {
    let sql = "CREATE FUNCTION f() RETURNS int AS $body$ BEGIN RETURN 1; END; $body$ LANGUAGE plpgsql;\nDO $$ BEGIN PERFORM 1; END $$;";
    let parts = pg(sql);
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert!(parts[0].ends_with("LANGUAGE plpgsql"));
    assert!(parts[1].starts_with("DO $$"));
}

#[test]
fn given_positional_parameters_and_dollar_in_identifiers_then_no_dollar_quote_starts() {
    assert_eq!(
        pg("SELECT $1; SELECT a$b$c FROM t; SELECT 3"),
        vec!["SELECT $1", "SELECT a$b$c FROM t", "SELECT 3"]
    );
}

#[test]
fn given_nested_block_comments_then_postgres_nests_and_mysql_does_not() {
    assert_eq!(pg("/* a /* b; */ c; */ SELECT 1"), vec!["SELECT 1"]);
    assert_eq!(
        my("/* a /* b; */ SELECT 1; SELECT 2"),
        vec!["SELECT 1", "SELECT 2"]
    );
}

#[test]
fn given_mysql_escapes_hash_comments_and_backticks_then_they_are_respected() {
    let sql = "UPDATE `t;x` SET a = 'it\\'s; ok' # hash; comment\n; SELECT 2";
    assert_eq!(
        my(sql),
        vec![
            "UPDATE `t;x` SET a = 'it\\'s; ok' # hash; comment",
            "SELECT 2"
        ]
    );
}

#[test]
fn given_postgres_escape_string_then_backslash_quote_does_not_end_it() {
    assert_eq!(
        pg("SELECT E'a\\'; b'; SELECT 2"),
        vec!["SELECT E'a\\'; b'", "SELECT 2"]
    );
    // Without the E prefix the backslash is an ordinary character.
    assert_eq!(
        pg("SELECT 'a\\'; SELECT 2"),
        vec!["SELECT 'a\\'", "SELECT 2"]
    );
}

#[test]
fn given_comment_only_and_empty_statements_then_they_are_dropped() {
    assert_eq!(pg(" ; -- nothing\n ; /* x */ ;"), Vec::<String>::new());
    assert_eq!(pg("-- lead\nSELECT 1"), vec!["SELECT 1"]);
}

#[test]
fn given_unterminated_quote_then_error_names_what_and_where() {
    let err = split_statements("SELECT 1; SELECT 'oops", Family::Postgres).unwrap_err();
    assert_eq!(
        err,
        ScriptError::Unterminated {
            what: "'…' string",
            offset: 17
        }
    );
    assert!(split_statements("DO $x$ BEGIN", Family::Postgres).is_err());
    assert!(split_statements("/* open", Family::Mysql).is_err());
}

#[test]
fn given_verify_marker_then_later_statements_are_verification_queries() {
    let plan = parse(
        "UPDATE c SET email = 'x';\n-- @verify\nSELECT 1 FROM c WHERE email LIKE '%@%';\nSELECT 2 WHERE false",
        Family::Postgres,
    )
    .expect("plan");
    assert_eq!(plan.statements, vec!["UPDATE c SET email = 'x'"]);
    assert_eq!(plan.verify.len(), 2);
}

#[test]
fn given_marker_inside_statement_or_twice_then_error() {
    assert!(matches!(
        parse("UPDATE c\n-- @verify\nSET a = 1", Family::Postgres),
        Err(ScriptError::MarkerInsideStatement { .. })
    ));
    assert!(matches!(
        parse("-- @verify\nSELECT 1;\n-- @verify\n", Family::Mysql),
        Err(ScriptError::DuplicateMarker { .. })
    ));
}

fn col(schema: Option<&str>, table: &str, column: &str) -> ColumnRef {
    ColumnRef {
        schema: schema.map(str::to_owned),
        table: table.to_owned(),
        column: column.to_owned(),
    }
}

#[test]
fn given_sensitive_and_allow_directives_then_the_plan_lists_their_columns_once_each() {
    let plan = parse(
        "-- @sensitive customers.email, customers.card\n\
         UPDATE customers SET email = 'x';\n\
         -- @sensitive  sales.orders.contact_email,customers.email\n\
         -- @allow support_tickets.contact_email\n\
         -- @verify\n\
         SELECT 1 WHERE false",
        Family::Postgres,
    )
    .expect("plan");
    assert_eq!(
        plan.sensitive,
        vec![
            col(None, "customers", "email"),
            col(None, "customers", "card"),
            col(Some("sales"), "orders", "contact_email"),
        ]
    );
    assert_eq!(
        plan.allow,
        vec![col(None, "support_tickets", "contact_email")]
    );
    assert_eq!(plan.statements, vec!["UPDATE customers SET email = 'x'"]);
    assert_eq!(plan.verify.len(), 1);
    assert_eq!(plan.sensitive[2].to_string(), "sales.orders.contact_email");
}

#[test]
fn given_a_bad_directive_entry_then_the_error_names_the_entry() {
    for (script, entry, says) in [
        (
            "-- @sensitive customers\n-- @verify\nSELECT 1",
            "customers",
            "wrong form",
        ),
        (
            "-- @sensitive a.b.c.d\n-- @verify\nSELECT 1",
            "a.b.c.d",
            "wrong form",
        ),
        ("-- @allow t.c,,u.d\n-- @verify\nSELECT 1", "", "is empty"),
        ("-- @sensitive t.c,\n-- @verify\nSELECT 1", "", "is empty"),
        ("-- @sensitive\n-- @verify\nSELECT 1", "", "is empty"),
        (
            "-- @sensitive t.\"c\"\n-- @verify\nSELECT 1",
            "t.\"c\"",
            "plain name",
        ),
        (
            "-- @sensitive t..c\n-- @verify\nSELECT 1",
            "t..c",
            "plain name",
        ),
    ] {
        let err = parse(script, Family::Mysql).expect_err(script);
        let text = err.to_string();
        assert!(
            matches!(&err, ScriptError::BadColumn { entry: e, .. } if e == entry),
            "{script}: {err:?}"
        );
        assert!(
            text.contains(says) && text.contains("-- @"),
            "{script}: {text}"
        );
    }
}

#[test]
fn given_an_unknown_or_late_directive_then_the_script_is_refused() {
    let err = parse("-- @sensitve t.c\n-- @verify\nSELECT 1", Family::Postgres).expect_err("typo");
    assert!(
        matches!(&err, ScriptError::UnknownDirective { name, .. } if name == "sensitve"),
        "{err:?}"
    );
    assert!(err.to_string().contains("@sensitive"), "{err}");
    assert!(matches!(
        parse("-- @verify\nSELECT 1;\n-- @allow t.c\n", Family::Postgres),
        Err(ScriptError::DirectiveAfterVerify {
            directive: "@allow",
            ..
        })
    ));
    // A plain comment that mentions an address is no directive.
    let plan = parse(
        "-- mail ops@corp.example\n-- @ note\n-- @verify\nSELECT 1",
        Family::Postgres,
    )
    .expect("plan");
    assert!(plan.sensitive.is_empty() && plan.allow.is_empty());
}

/// A statement piece that contains `;` only where splitting must ignore it.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z ]{1,8}".prop_map(|s| format!("SELECT {s}")),
        "[a-z; ]{0,8}".prop_map(|s| format!("'{s}'")),
        "[a-z; ]{0,8}".prop_map(|s| format!("\"{s}\"")),
        "[a-z; ]{0,8}".prop_map(|s| format!("$q${s}$q$")),
        "[a-z; ]{0,8}".prop_map(|s| format!("/*{s}*/ x")),
        "[a-z; ]{0,8}".prop_map(|s| format!("x --{s}\n")),
    ]
}

proptest! {
    #[test]
    fn given_statements_joined_by_semicolons_then_split_returns_them(
        stmts in prop::collection::vec(prop::collection::vec(piece(), 1..4), 1..6)
    ) {
        let stmts: Vec<String> = stmts.into_iter().map(|p| format!("X {}", p.join(" "))).collect();
        let sql = stmts.join(";\n");
        let expected: Vec<String> = stmts.iter().map(|s| s.trim().to_owned()).collect();
        prop_assert_eq!(split_statements(&sql, Family::Postgres).expect("split"), expected);
    }

    #[test]
    fn given_any_input_then_split_returns_an_error_or_statements_never_panics(sql in ".{0,200}") {
        for family in [Family::Postgres, Family::Mysql] {
            if let Ok(parts) = split_statements(&sql, family) {
                prop_assert!(parts.iter().all(|p| !p.is_empty()));
            }
        }
    }
}
