//! Literal redaction of statement text (`DAS_REDACT_LITERALS`, off by default): every string and
//! numeric literal in an event's `commandText` becomes `?`, every comment's body `?`, so the trail
//! keeps the shape of each statement and none of the values it was run with.
//!
//! Sits in routing ([`crate::record::route_events`]): the one place every kept event passes before
//! it is written anywhere (the Firehose response, spilled objects, `das-decrypt replay`).
//!
//! A hand-written lexer per engine family ([`Dialect`], from the event's `serverType`), which
//! fails closed: an unterminated string, quoted identifier or comment is replaced from its opening
//! quote to the end of the text, and text of an engine it does not know is replaced whole.
//! It assumes PostgreSQL's default `standard_conforming_strings = on` (a backslash in `'…'` is a
//! character, not an escape) and MySQL's default SQL mode (`"…"` is a string, not an identifier).

use std::borrow::Cow;
use std::ops::Range;

use crate::event::EventView;

mod lexer;

/// What replaces each literal.
pub const MARK: &str = "?";

/// Whether kept events' statement literals are redacted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Redaction {
    /// Events are written as received (the default).
    #[default]
    Off,
    /// `commandText` literals and `paramList` values become `?` ([`redact_sql`], [`crate::record`]).
    Literals,
}

/// The SQL lexer an event's text is read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Aurora PostgreSQL: `E'…'`, dollar quotes, `"identifiers"`, `$1` parameters, nested `/* */`.
    Postgres,
    /// Aurora MySQL: backslash escapes in `'…'` and `"…"`, `` `identifiers` ``, `#` comments.
    MySql,
    /// RDS for Oracle: `'…'` with `''`, `q'[…]'` quoting, `"identifiers"`, `:1` bind variables.
    Oracle,
    /// RDS for SQL Server: `'…'` with `''`, `"identifiers"` and `[identifiers]`.
    SqlServer,
}

impl Dialect {
    /// The dialect of an event's `serverType` (`PostgreSQL`, `MySQL`, `ORACLE`, `SQLSERVER`,
    /// compared case-insensitively), `None` for any other.
    pub fn of_server_type(server_type: &str) -> Option<Self> {
        let is = |name: &str| server_type.eq_ignore_ascii_case(name);
        if is("PostgreSQL") || is("Postgres") {
            Some(Self::Postgres)
        } else if is("MySQL") {
            Some(Self::MySql)
        } else if is("ORACLE") {
            Some(Self::Oracle)
        } else if is("SQLSERVER") {
            Some(Self::SqlServer)
        } else {
            None
        }
    }
}

/// `sql` with every literal replaced by [`MARK`] and every comment's body by [`MARK`]
/// (`/*?*/`, `--?`, `#?`), read as `dialect`; with no dialect, all non-empty text becomes
/// [`MARK`]. Borrowed when nothing changed.
pub fn redact_sql(sql: &str, dialect: Option<Dialect>) -> Cow<'_, str> {
    match dialect {
        None if sql.is_empty() => Cow::Borrowed(sql),
        None => Cow::Borrowed(MARK),
        Some(dialect) => lexer::Lexer::new(sql, dialect).run(),
    }
}

/// The event's raw JSON text with `commandText` redacted ([`redact_sql`], by its `serverType`)
/// and every `paramList` value (the bind values of `$1`/`?`) replaced by `"?"`; borrowed when
/// there was nothing to replace. A `commandText` that cannot be decoded becomes `"?"` whole.
pub fn redact_event<'r>(raw: &'r str, view: &EventView<'_>) -> Cow<'r, str> {
    let mut edits: Vec<(Range<usize>, String)> = Vec::with_capacity(2);
    if let Some(span) = view.command_text.clone() {
        let token = raw.get(span.clone()).unwrap_or_default();
        let dialect = view
            .server_type
            .as_deref()
            .and_then(Dialect::of_server_type);
        match serde_json::from_str::<Cow<'_, str>>(token) {
            Ok(text) => {
                if let Cow::Owned(red) = redact_sql(&text, dialect) {
                    edits.push((span, json_string(&red)));
                } else if dialect.is_none() && !text.is_empty() {
                    edits.push((span, json_string(MARK)));
                }
            }
            Err(_) => edits.push((span, json_string(MARK))),
        }
    }
    if let Some(span) = view.param_list.clone() {
        let token = raw.get(span.clone()).unwrap_or_default();
        if let Some(with) = redacted_params(token) {
            edits.push((span, with));
        }
    }
    if edits.is_empty() {
        return Cow::Borrowed(raw);
    }
    edits.sort_by_key(|(span, _)| span.start);
    let mut out = String::with_capacity(raw.len());
    let mut copied = 0;
    for (span, with) in edits {
        out.push_str(raw.get(copied..span.start).unwrap_or_default());
        out.push_str(&with);
        copied = span.end;
    }
    out.push_str(raw.get(copied..).unwrap_or_default());
    Cow::Owned(out)
}

/// `paramList` redacted: an array keeps its length with each value `"?"`, any other value but
/// `null` or `""` becomes `"?"`; `None` when nothing needs replacing.
fn redacted_params(token: &str) -> Option<String> {
    use serde_json::Value;
    match serde_json::from_str::<Value>(token) {
        Ok(Value::Null) => None,
        Ok(Value::String(s)) if s.is_empty() => None,
        Ok(Value::Array(values)) => {
            let marks = vec![json_string(MARK); values.len()];
            let with = format!("[{}]", marks.join(","));
            (with != token).then_some(with)
        }
        _ => Some(json_string(MARK)),
    }
}

/// `text` as a JSON string.
fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

#[cfg(test)]
mod tests;
