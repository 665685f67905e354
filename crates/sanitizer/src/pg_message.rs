//! What of a PostgreSQL server error message may reach logs and the task summary.
//!
//! Sits between the PostgreSQL adapter ([`crate::pg`]), which calls [`redact`] on every
//! server error and leaves out its detail field (which quotes the row: `Key (email)=(…)
//! already exists.`), and what shows errors: [`crate::run`] logs them and puts them in the
//! [`crate::summary::Summary`]. The main message may quote a value too (`invalid input syntax
//! for type integer: "alice@example.com"`), unescaped, in the same double quotes that
//! PostgreSQL puts around identifiers. So what is shown is decided by SQLSTATE, with the
//! rules [`crate::redact`] shares with the MySQL family ([`crate::mysql_message`]):
//!
//! 1. Free text: withheld whole. That is every message a PL/pgSQL `RAISE` or `ASSERT` built
//!    ([`USER_TEXT_ROUTINES`], whatever `ERRCODE` it chose: `RAISE … USING ERRCODE =
//!    '23505'` is not a server format) and the codes in [`WITHHELD_CODES`] and classes 38
//!    and 39, which other procedural languages (PL/Perl `elog`, PL/Python `plpy.error`) use.
//! 2. [`FIXED`]: data exceptions whose text has no argument (`integer out of range`): kept.
//! 3. `SLOTS`: formats known to print a row value at a known place: that value, and only
//!    it, becomes [`PLACEHOLDER`] (`invalid input syntax for type integer: "<redacted>"`).
//! 4. [`KEPT`]: formats that quote only identifiers, script text or nothing (constraint
//!    violations of class 23, the syntax and undefined-object errors of class 42): kept as
//!    the server wrote them, because they are what a script's author needs to read.
//! 5. Any other message of class 22 (data exception): withheld whole, since its format may
//!    print a value without quotes (`date field value out of range: 2020-13-01`). So is a
//!    message of a code with slots that fits none of them (a server set to another language).
//! 6. Any other code: everything from the first `"` to the last becomes one `"<redacted>"`,
//!    which may hide an identifier, never a quoted value.
//!
//! The lists were checked against messages PostgreSQL 15 sent (see the tests). Known gap: a
//! script that turns a row value into a name (`email::regclass`, `nextval(email)`) gets it
//! back quoted as one in a kept message (`relation "alice" does not exist`).

use std::borrow::Cow;

use crate::redact::{End, Rules, Slot, quoted_span};
pub use crate::redact::{PLACEHOLDER, WITHHELD};

/// Server routines (the error's `R` field) that report text a script wrote: PL/pgSQL's
/// `RAISE` and `ASSERT`.
pub const USER_TEXT_ROUTINES: [&str; 2] = ["exec_stmt_raise", "exec_stmt_assert"];

/// Codes whose whole message is free text: `P0001` is `RAISE EXCEPTION`'s default, `P0004`
/// a failed `ASSERT`, `XX000` what PL/Perl's and PL/Python's errors get by default.
pub const WITHHELD_CODES: [&str; 3] = ["P0001", "P0004", "XX000"];

/// Classes whose messages are free text from a function in another language.
const WITHHELD_CLASSES: [&str; 2] = ["38", "39"];

/// Data exceptions whose text has no argument, kept as written.
pub const FIXED: [&str; 7] = [
    "integer out of range",
    "smallint out of range",
    "bigint out of range",
    "division by zero",
    "invalid input syntax for type json",
    "negative substring length not allowed",
    "invalid escape string",
];

/// Codes whose messages are shown as the server wrote them: they quote identifiers, the
/// script's own text (`42601 syntax error at or near "SELEC"`) or nothing.
pub const KEPT: [&str; 28] = [
    "21000", // more than one row returned by a subquery used as an expression
    "22001", // value too long for type character varying(5)
    "22012", // division by zero
    "23000", // integrity constraint violation
    "23001", // update or delete on table "p" violates RESTRICT setting of foreign key …
    "23502", // null value in column "e" of relation "t" violates not-null constraint
    "23503", // insert or update on table "c" violates foreign key constraint "c_pid_fkey"
    "23505", // duplicate key value violates unique constraint "t_email_key"
    "23514", // new row for relation "t" violates check constraint "t_n_check"
    "23P01", // conflicting key value violates exclusion constraint "x"
    "25P02", // current transaction is aborted, commands ignored until end of transaction block
    "40001", // could not serialize access due to concurrent update
    "40P01", // deadlock detected
    "42501", // permission denied for table t
    "42601", // syntax error at or near "SELEC" (but see the jsonpath slot)
    "42701", // column "c" specified more than once
    "42702", // column reference "id" is ambiguous
    "42703", // column "nosuch" does not exist
    "42704", // type "x" does not exist
    "42710", // constraint "c" for relation "t" already exists
    "42804", // column "n" is of type integer but expression is of type text
    "42809", // "t" is not a view
    "42846", // cannot cast type tsvector to integer
    "42883", // function nosuchfn(text) does not exist; operator does not exist: text = integer
    "42P01", // relation "nosuch" does not exist
    "42P07", // relation "t" already exists
    "55P03", // could not obtain lock on row in relation "t"
    "57014", // canceling statement due to statement timeout
];

/// The formats that print row values, each with an example from PostgreSQL 15. Several
/// share a code, and a value may hold another format's text, so each names the text the
/// message begins with.
const SLOTS: [Slot<&str>; 16] = [
    // invalid input syntax for type integer: "alice@example.com" (any type)
    Slot::led(
        &["22P02", "22007"],
        "invalid input syntax for type ",
        ": \"",
        &[End::ClosingQuote],
    ),
    // invalid input value for enum mood: "alice@example.com"
    Slot::led(
        &["22P02"],
        "invalid input value for enum ",
        ": \"",
        &[End::ClosingQuote],
    ),
    // malformed array literal: "…"; malformed range literal: "…"; … record literal: "…"
    Slot::led(
        &["22P02"],
        "malformed ",
        " literal: \"",
        &[End::ClosingQuote],
    ),
    // "a" is not a valid binary digit
    Slot::led(&["22P02"], "\"", "", &[End::Before("\" is not a valid ")]),
    // value "99999999999" is out of range for type integer
    Slot::led(
        &["22003"],
        "value \"",
        "",
        &[End::Before("\" is out of range for type ")],
    ),
    // "1e400" is out of range for type double precision
    Slot::led(
        &["22003"],
        "\"",
        "",
        &[End::Before("\" is out of range for type ")],
    ),
    // invalid value "alic" for "YYYY" (to_date, to_timestamp)
    Slot::led(
        &["22007"],
        "invalid value \"",
        "",
        &[End::Before("\" for \"")],
    ),
    // date/time field value out of range: "2024-13-45"
    Slot::led(
        &["22008"],
        "date/time field value out of range: \"",
        "",
        &[End::ClosingQuote],
    ),
    // date field value out of range: 2020-13-01 (make_date; unquoted)
    Slot::led(
        &["22008"],
        "date field value out of range: ",
        "",
        &[End::Rest],
    ),
    // invalid hexadecimal digit: "Z"
    Slot::led(
        &["22023"],
        "invalid hexadecimal digit: \"",
        "",
        &[End::ClosingQuote],
    ),
    // unrecognized encoding: "alice@example.com"
    Slot::led(
        &["22023"],
        "unrecognized encoding: \"",
        "",
        &[End::ClosingQuote],
    ),
    // invalid value for parameter "TimeZone": "alice@example.com"
    Slot::led(
        &["22023"],
        "invalid value for parameter \"",
        "\": \"",
        &[End::ClosingQuote],
    ),
    // unit "alice@example.com" not recognized for type timestamp with time zone
    Slot::led(
        &["22023"],
        "unit \"",
        "",
        &[End::Before("\" not recognized")],
    ),
    // time zone "alice@example.com" not recognized
    Slot::led(
        &["22023"],
        "time zone \"",
        "",
        &[End::Before("\" not recognized")],
    ),
    // invalid symbol "@" found while decoding base64 sequence
    Slot::led(
        &["22023"],
        "invalid symbol \"",
        "",
        &[End::Before("\" found while decoding ")],
    ),
    // syntax error at or near "@" of jsonpath input (a row value cast to jsonpath)
    Slot::led(
        &["42601"],
        "syntax error at or near \"",
        "",
        &[End::Before("\" of jsonpath input")],
    ),
];

/// PostgreSQL's lists.
const RULES: Rules<&str> = Rules {
    quote: '"',
    kept: &KEPT,
    withheld: &WITHHELD_CODES,
    slots: &SLOTS,
};

/// `message` (SQLSTATE `code`, reported by server `routine`) without the row values it may
/// quote; see the module docs for what is kept.
pub fn redact<'m>(code: &str, routine: Option<&str>, message: &'m str) -> Cow<'m, str> {
    let class = code.get(..2).unwrap_or(code);
    if routine.is_some_and(|r| USER_TEXT_ROUTINES.contains(&r)) || WITHHELD_CLASSES.contains(&class)
    {
        return Cow::Borrowed(WITHHELD);
    }
    if class == "22" && FIXED.contains(&message) {
        return Cow::Borrowed(message);
    }
    match RULES.known(&code, message) {
        Some(shown) => shown,
        None if class == "22" => Cow::Borrowed(WITHHELD),
        None => quoted_span('"', message),
    }
}

#[cfg(test)]
#[path = "pg_message_tests.rs"]
mod tests;
