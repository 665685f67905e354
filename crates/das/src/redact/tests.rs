use super::*;
use proptest::prelude::*;

fn pg(sql: &str) -> String {
    redact_sql(sql, Some(Dialect::Postgres)).into_owned()
}

fn my(sql: &str) -> String {
    redact_sql(sql, Some(Dialect::MySql)).into_owned()
}

#[test]
fn given_pg_statement_with_names_and_placeholders_only_then_borrowed_unchanged() {
    let sql = r#"SELECT t1.col_2, "Order 2"."x9" FROM t1 WHERE a = $1 AND b$c = $12::int"#;
    assert!(matches!(
        redact_sql(sql, Some(Dialect::Postgres)),
        Cow::Borrowed(_)
    ));
    let sql = "SELECT `t 1`.col_2 FROM `t 1` WHERE a = ? AND données = ?";
    assert_eq!(my(sql), sql);
}

#[test]
fn given_pg_strings_then_each_form_becomes_one_mark() {
    assert_eq!(
        pg("SELECT * FROM users WHERE email = 'o''hara@example.com' AND card = '4111 1111'"),
        "SELECT * FROM users WHERE email = ? AND card = ?"
    );
    // A backslash is a character in a standard string, an escape in E'…'.
    assert_eq!(pg(r"WHERE a = 'C:\' AND b = 'x'"), "WHERE a = ? AND b = ?");
    assert_eq!(
        pg(r"WHERE a = E'it\'s \\' AND b = e'x'"),
        "WHERE a = ? AND b = ?"
    );
    assert_eq!(
        pg("WHERE a = N'x' OR b = U&'d\\0061t'"),
        "WHERE a = ? OR b = ?"
    );
    assert_eq!(pg("SELECT 'a'\n'b'"), "SELECT ?\n?");
}

#[test]
fn given_pg_dollar_quotes_then_replaced_and_parameters_kept() {
    assert_eq!(pg("SELECT $$it's $1$$, $1"), "SELECT ?, $1");
    assert_eq!(
        pg("DO $fn$ BEGIN PERFORM 'x', $$y$$; END $fn$ LANGUAGE plpgsql"),
        "DO ? LANGUAGE plpgsql"
    );
    // Tags are case-sensitive: $A$ does not close $a$, so the rest is the literal.
    assert_eq!(pg("SELECT $a$ secret $A$ more"), "SELECT ?");
    assert_eq!(pg("SELECT a$b, $ 1"), "SELECT a$b, $ ?");
}

#[test]
fn given_mysql_strings_then_backslash_escapes_and_double_quotes_are_literals() {
    assert_eq!(
        my(r#"SELECT * FROM t1 WHERE a = 'it\'s' AND b = "say \"hi\"" AND c = 'o''k'"#),
        "SELECT * FROM t1 WHERE a = ? AND b = ? AND c = ?"
    );
    // The backslash escapes the quote, so the string runs on to the next one.
    assert_eq!(my(r"WHERE a = 'C:\' OR x = 'y'"), "WHERE a = ?y?");
    assert_eq!(
        my("WHERE a = _utf8mb4'x' AND b = N'y' AND `we``ird` = 1"),
        "WHERE a = ? AND b = ? AND `we``ird` = ?"
    );
}

#[test]
fn given_numbers_of_every_form_then_replaced_and_names_with_digits_kept() {
    assert_eq!(
        pg("SELECT 42, 3.14, .5, 1., 1.5e-3, 2E+10, 0x1F, X'1F', B'101', 1_000 FROM t1"),
        "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM t1"
    );
    assert_eq!(
        my("SELECT 0b101, x'ab', b'1' FROM col_2"),
        "SELECT ?, ?, ? FROM col_2"
    );
    assert_eq!(
        pg("WHERE n = -7 AND m - 3 > 0"),
        "WHERE n = -? AND m - ? > ?"
    );
    assert_eq!(
        pg("SELECT a[1] FROM t2 LIMIT 10 OFFSET 5"),
        "SELECT a[?] FROM t2 LIMIT ? OFFSET ?"
    );
    // A name that starts with a digit (MySQL) is redacted whole, never partly kept.
    assert_eq!(my("SELECT * FROM 2fa_codes"), "SELECT * FROM ?");
}

#[test]
fn given_quoted_identifiers_then_kept_in_pg_and_unterminated_ones_replaced() {
    assert_eq!(
        pg(r#"SELECT "it's ""42""" FROM t"#),
        r#"SELECT "it's ""42""" FROM t"#
    );
    assert_eq!(pg(r#"SELECT "unclosed 42 'x'"#), "SELECT ?");
    assert_eq!(my("SELECT `unclosed 'x'"), "SELECT ?");
}

#[test]
fn given_unterminated_string_then_everything_from_the_quote_is_replaced() {
    assert_eq!(
        pg("SELECT * FROM t WHERE a = 'secret AND b = 1"),
        "SELECT * FROM t WHERE a = ?"
    );
    assert_eq!(pg("WHERE a = E'x\\'"), "WHERE a = ?");
    assert_eq!(my(r"WHERE a = 'x\'"), "WHERE a = ?");
    assert_eq!(pg("WHERE a = $q$ never closed"), "WHERE a = ?");
}

#[test]
fn given_comments_then_their_bodies_become_a_mark() {
    assert_eq!(
        pg("SELECT 1 /* card 4111 'x' */ FROM t -- email a@b.c\nWHERE a = 2"),
        "SELECT ? /*?*/ FROM t --?\nWHERE a = ?"
    );
    // PostgreSQL block comments nest; MySQL's do not.
    assert_eq!(pg("SELECT /* a /* 'b' */ 42 */ 1"), "SELECT /*?*/ ?");
    assert_eq!(my("SELECT /* a /* 'b' */ 42 */ 1"), "SELECT /*?*/ ? */ ?");
    assert_eq!(my("SELECT 1 # 'x' 42\r\nFROM t"), "SELECT ? #?\r\nFROM t");
    assert_eq!(pg("SELECT 1 /* unclosed 42"), "SELECT ? /*?");
    // A quote inside a comment starts nothing; a comment opener inside a string is text.
    assert_eq!(
        pg("SELECT '--x', '/*' FROM t -- it's"),
        "SELECT ?, ? FROM t --?"
    );
}

#[test]
fn given_oracle_and_sql_server_then_their_quoting_is_understood() {
    let ora = |s: &str| redact_sql(s, Some(Dialect::Oracle)).into_owned();
    assert_eq!(
        ora("SELECT q'[it's]', nQ'{x}', 'a''b' FROM t1 WHERE id = :1 AND n = :name"),
        "SELECT ?, ?, ? FROM t1 WHERE id = :1 AND n = :name"
    );
    let mss = |s: &str| redact_sql(s, Some(Dialect::SqlServer)).into_owned();
    assert_eq!(
        mss("SELECT [it's 1]], x], @p1 FROM #tmp2 WHERE a = N'é' AND b = 0x0A AND c = 'x\\'"),
        "SELECT [it's 1]], x], @p1 FROM #tmp2 WHERE a = ? AND b = ? AND c = ?"
    );
}

#[test]
fn given_unknown_engine_then_the_whole_text_is_replaced() {
    assert_eq!(redact_sql("SELECT 'x'", None), "?");
    assert_eq!(redact_sql("", None), "");
    assert_eq!(Dialect::of_server_type("oracle"), Some(Dialect::Oracle));
    assert_eq!(
        Dialect::of_server_type("PostgreSQL"),
        Some(Dialect::Postgres)
    );
    assert_eq!(Dialect::of_server_type("MySQL"), Some(Dialect::MySql));
    assert_eq!(
        Dialect::of_server_type("SQLSERVER"),
        Some(Dialect::SqlServer)
    );
    assert_eq!(Dialect::of_server_type("db2"), None);
}

/// A piece of a generated statement: its text, its text once redacted, and the value it hides.
#[derive(Debug, Clone)]
struct Piece {
    text: String,
    shape: String,
    secret: Option<String>,
}

fn kept(text: &str) -> Piece {
    Piece {
        text: text.to_owned(),
        shape: text.to_owned(),
        secret: None,
    }
}

fn hidden(text: String, shape: &str, secret: String) -> Piece {
    Piece {
        text,
        shape: shape.to_owned(),
        secret: Some(secret),
    }
}

/// Names the generator uses; digits appear in the output only inside them and in parameters.
const PG_NAMES: [&str; 6] = ["t1", "col_2", "users", "email", "\"Order 2\"", "données"];
const MY_NAMES: [&str; 6] = ["t1", "col_2", "users", "email", "`order 2`", "données"];
/// Longest first, so that stripping `$1` leaves nothing of `$12`.
const PG_PARAMS: [&str; 3] = ["$12", "$1", "$2"];

/// String contents: quotes, escapes, `$`, comment openers, unicode; each carries a `€` marker
/// that nothing else in a statement has.
fn content() -> impl Strategy<Value = String> {
    "[a-z0-9 '\"\\\\$%_@.é✓\n-]{0,12}".prop_map(|s| format!("€{s}"))
}

fn pg_string() -> impl Strategy<Value = Piece> {
    (
        content(),
        0..5usize,
        prop::sample::select(vec!["", "x", "tag_1"]),
    )
        .prop_map(|(s, form, tag)| {
            let standard = format!("'{}'", s.replace('\'', "''"));
            let text = match form {
                0 => standard,
                1 => format!("E'{}'", s.replace('\\', r"\\").replace('\'', r"\'")),
                2 => format!("N{standard}"),
                _ => {
                    let delim = format!("${tag}$");
                    // Dollar quoting cannot hold its own delimiter: use a standard string then.
                    if format!("{s}{delim}").find(&delim) == Some(s.len()) {
                        format!("{delim}{s}{delim}")
                    } else {
                        standard
                    }
                }
            };
            hidden(text, "?", s)
        })
}

fn my_string() -> impl Strategy<Value = Piece> {
    (content(), 0..4usize).prop_map(|(s, form)| {
        let escaped = s.replace('\\', r"\\");
        let text = match form {
            0 => format!("'{}'", escaped.replace('\'', r"\'")),
            1 => format!("'{}'", escaped.replace('\'', "''")),
            2 => format!("\"{}\"", escaped.replace('"', "\\\"")),
            _ => format!("_utf8mb4'{}'", escaped.replace('\'', "''")),
        };
        hidden(text, "?", s)
    })
}

/// Numbers of every form (`mysql` adds `0b…`, PostgreSQL `_` separators); negative ones keep
/// their `-`.
fn number(mysql: bool) -> impl Strategy<Value = Piece> {
    (any::<u32>(), 1..1000u32, 0..9usize, any::<bool>()).prop_map(move |(n, m, form, negative)| {
        let text = match form {
            0 => n.to_string(),
            1 => format!("{n}.{m}"),
            2 => format!(".{m}"),
            3 => format!("{m}.{n}e-{}", m % 40),
            4 => format!("{n}E+{}", m % 40),
            5 => format!("0x{n:X}"),
            6 => format!("X'{n:x}'"),
            7 => format!("B'{m:b}'"),
            _ if mysql => format!("0b{m:b}"),
            _ => format!("{m}_{n:03}"),
        };
        let negative = negative && form < 5;
        let (text, shape) = match negative {
            true => (format!("-{text}"), "-?"),
            false => (text.clone(), "?"),
        };
        hidden(text.clone(), shape, text)
    })
}

fn comment(mysql: bool) -> impl Strategy<Value = Piece> {
    ("[a-z0-9 '\"$é✓-]{0,12}", 0..3usize).prop_map(move |(s, form)| match form {
        0 => hidden(format!("/* €{s} */"), "/*?*/", format!("€{s}")),
        1 => hidden(format!("-- €{s}\n"), "--?\n", format!("€{s}")),
        _ if mysql => hidden(format!("# €{s}\n"), "#?\n", format!("€{s}")),
        _ => kept(""),
    })
}

/// A statement of the small grammar, as pieces in order.
#[rustfmt::skip] // one line of the grammar per line of code
fn statement(mysql: bool) -> impl Strategy<Value = Vec<Piece>> {
    let names = if mysql { MY_NAMES } else { PG_NAMES };
    let name = prop::sample::select(names.to_vec()).prop_map(kept);
    let param = if mysql {
        Just(kept("?")).boxed()
    } else {
        prop::sample::select(PG_PARAMS.to_vec())
            .prop_map(kept)
            .boxed()
    };
    let string = if mysql {
        my_string().boxed()
    } else {
        pg_string().boxed()
    };
    let value = prop_oneof![4 => string, 3 => number(mysql), 1 => param];
    (
        0..4usize,
        prop::collection::vec(name, 3),
        prop::collection::vec(value, 4),
        comment(mysql),
    )
        .prop_map(|(kind, names, values, c)| {
            let n = |i: usize| names[i].clone();
            let v = |i: usize| values[i].clone();
            let k = kept;
            match kind {
                0 => vec![
                    k("SELECT"), n(0), k(","), n(1), k("FROM"), n(2), k("WHERE"), n(0), k("="),
                    v(0), k("AND"), n(1), k("IN ("), v(1), k(","), v(2), k(")"), c, k("LIMIT"),
                    v(3),
                ],
                1 => vec![
                    k("INSERT INTO"), n(2), c, k("("), n(0), k(","), n(1), k(") VALUES ("), v(0),
                    k(","), v(1), k("), ("), v(2), k(","), v(3), k(")"),
                ],
                2 => vec![
                    k("UPDATE"), n(2), k("SET"), n(0), k("="), v(0), k(","), n(1), k("="), v(1), c,
                    k("WHERE"), n(1), k(">="), v(2), k("OR"), n(1), k("<>"), v(3),
                ],
                _ => vec![
                    k("DELETE FROM"), n(2), k("WHERE"), n(0), k("="), v(0), k("AND"), n(1),
                    k("NOT IN ("), v(1), k(","), v(2), k(","), v(3), k(")"), c,
                ],
            }
        })
}

fn render(pieces: &[Piece], shape: bool) -> String {
    let texts: Vec<&str> = pieces
        .iter()
        .map(|p| {
            if shape {
                p.shape.as_str()
            } else {
                p.text.as_str()
            }
        })
        .collect();
    texts.join(" ")
}

/// (a) no literal survives: no `€` marker, no secret, no digit outside names and parameters;
/// (b) the output is the statement with every literal as `?`.
fn check(pieces: &[Piece], dialect: Dialect, names: &[&str]) -> Result<(), TestCaseError> {
    let sql = render(pieces, false);
    let out = redact_sql(&sql, Some(dialect)).into_owned();
    prop_assert!(!out.contains('€'), "{sql:?} → {out:?}");
    // Number secrets are digits, covered below; string and comment secrets carry the marker.
    let marked = pieces.iter().filter_map(|p| p.secret.as_deref());
    for secret in marked.filter(|s| s.contains('€')) {
        prop_assert!(!out.contains(secret), "{secret:?} survives in {out:?}");
    }
    let bare = names
        .iter()
        .chain(&PG_PARAMS)
        .fold(out.clone(), |s, n| s.replace(n, ""));
    prop_assert!(
        !bare.bytes().any(|b| b.is_ascii_digit()),
        "{sql:?} → {out:?}"
    );
    prop_assert_eq!(out, render(pieces, true), "{:?}", sql);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn given_generated_pg_statements_then_no_literal_survives_and_shape_is_kept(
        pieces in statement(false)
    ) {
        check(&pieces, Dialect::Postgres, &PG_NAMES)?;
    }

    #[test]
    fn given_generated_mysql_statements_then_no_literal_survives_and_shape_is_kept(
        pieces in statement(true)
    ) {
        check(&pieces, Dialect::MySql, &MY_NAMES)?;
    }

    /// Any text, any dialect: an answer, never a panic, and never longer than a mark per byte.
    #[test]
    fn given_any_text_then_redaction_never_panics(text in ".{0,64}", d in 0..4usize) {
        let dialect = [Dialect::Postgres, Dialect::MySql, Dialect::Oracle, Dialect::SqlServer][d];
        let out = redact_sql(&text, Some(dialect));
        prop_assert!(out.len() <= text.len() * 3 + 3);
    }
}
