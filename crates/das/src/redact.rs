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
        Some(dialect) => Lexer::new(sql, dialect).run(),
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

/// One pass over the text: kept spans are copied, literal spans replaced.
struct Lexer<'a> {
    sql: &'a str,
    bytes: &'a [u8],
    dialect: Dialect,
    pos: usize,
    /// The text is copied to `out` up to here.
    copied: usize,
    out: String,
}

impl<'a> Lexer<'a> {
    fn new(sql: &'a str, dialect: Dialect) -> Self {
        Self {
            sql,
            bytes: sql.as_bytes(),
            dialect,
            pos: 0,
            copied: 0,
            out: String::new(),
        }
    }

    fn at(&self, i: usize) -> Option<u8> {
        self.bytes.get(i).copied()
    }

    /// Replaces `start..end` with `with`; the cursor moves to `end`. Every span boundary is at
    /// an ASCII byte or the end, so slicing stays on character boundaries.
    fn replace(&mut self, start: usize, end: usize, with: &str) {
        self.out
            .push_str(self.sql.get(self.copied..start).unwrap_or_default());
        self.out.push_str(with);
        self.copied = end;
        self.pos = end;
    }

    fn run(mut self) -> Cow<'a, str> {
        while let Some(c) = self.at(self.pos) {
            let next = self.at(self.pos + 1);
            let d = self.dialect;
            match c {
                b'\'' => {
                    let end = self.quoted(self.pos, b'\'', d == Dialect::MySql);
                    self.replace(self.pos, end, MARK);
                }
                b'"' if d == Dialect::MySql => {
                    let end = self.quoted(self.pos, b'"', true);
                    self.replace(self.pos, end, MARK);
                }
                b'"' => self.identifier(b'"'),
                b'`' if d == Dialect::MySql => self.identifier(b'`'),
                b'[' if d == Dialect::SqlServer => self.identifier(b']'),
                b'-' if next == Some(b'-') => self.line_comment(2),
                b'#' if d == Dialect::MySql => self.line_comment(1),
                b'/' if next == Some(b'*') => self.block_comment(),
                b'$' if d == Dialect::Postgres => self.dollar(),
                b':' if d == Dialect::Oracle && next.is_some_and(is_ident_cont) => {
                    // A bind variable (`:1`, `:name`) is a placeholder, kept.
                    self.pos = self.word_end(self.pos + 1);
                }
                b'0'..=b'9' => self.number(),
                b'.' if next.is_some_and(|n| n.is_ascii_digit()) => self.number(),
                c if self.is_ident_start(c) => self.word(),
                _ => self.pos += 1,
            }
        }
        if self.copied == 0 {
            return Cow::Borrowed(self.sql);
        }
        self.out
            .push_str(self.sql.get(self.copied..).unwrap_or_default());
        Cow::Owned(self.out)
    }

    fn is_ident_start(&self, c: u8) -> bool {
        c.is_ascii_alphabetic()
            || c == b'_'
            || c >= 0x80
            || (self.dialect == Dialect::SqlServer && matches!(c, b'@' | b'#'))
    }

    /// Where the word (identifier or keyword) starting at `from` ends.
    fn word_end(&self, from: usize) -> usize {
        let server = self.dialect == Dialect::SqlServer;
        let mut end = from;
        while self
            .at(end)
            .is_some_and(|c| is_ident_cont(c) || (server && matches!(c, b'@' | b'#')))
        {
            end += 1;
        }
        end
    }

    /// Where the string opening at `open` ends (after its closing quote, or the end of the text
    /// when it has none). A doubled quote is one quote; with `backslash`, `\` escapes the next
    /// character.
    fn quoted(&self, open: usize, quote: u8, backslash: bool) -> usize {
        let mut i = open + 1;
        while let Some(c) = self.at(i) {
            if backslash && c == b'\\' {
                i += 2;
            } else if c == quote {
                if self.at(i + 1) == Some(quote) {
                    i += 2;
                } else {
                    return i + 1;
                }
            } else {
                i += 1;
            }
        }
        self.bytes.len()
    }

    /// A quoted identifier closed by `close` (doubled, it is one character), kept;
    /// unterminated, it is replaced to the end (fail closed).
    fn identifier(&mut self, close: u8) {
        let start = self.pos;
        let mut i = start + 1;
        while let Some(c) = self.at(i) {
            if c == close {
                if self.at(i + 1) != Some(close) {
                    self.pos = i + 1;
                    return;
                }
                i += 1;
            }
            i += 1;
        }
        self.replace(start, self.bytes.len(), MARK);
    }

    /// `--` (or MySQL `#`) to the end of the line: its body becomes `?`, the newline is kept.
    fn line_comment(&mut self, marker: usize) {
        let start = self.pos;
        let body = start + marker;
        let end = memchr::memchr2(b'\n', b'\r', self.bytes.get(body..).unwrap_or_default())
            .map_or(self.bytes.len(), |n| body + n);
        let opener = self.sql.get(start..body).unwrap_or_default();
        let with = format!("{opener}{MARK}");
        self.replace(start, end, &with);
    }

    /// `/* … */`, nested in PostgreSQL: becomes `/*?*/`; unterminated, `/*?` to the end.
    fn block_comment(&mut self) {
        let start = self.pos;
        let nests = self.dialect == Dialect::Postgres;
        let mut depth = 1usize;
        let mut i = start + 2;
        while i < self.bytes.len() {
            match (self.at(i), self.at(i + 1)) {
                (Some(b'*'), Some(b'/')) => {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        self.replace(start, i, "/*?*/");
                        return;
                    }
                }
                (Some(b'/'), Some(b'*')) if nests => {
                    depth += 1;
                    i += 2;
                }
                _ => i += 1,
            }
        }
        self.replace(start, self.bytes.len(), "/*?");
    }

    /// PostgreSQL `$`: a parameter `$1` (kept), a dollar-quoted string `$$…$$` / `$tag$…$tag$`
    /// (replaced, to the end when unclosed), or a lone `$`.
    fn dollar(&mut self) {
        let start = self.pos;
        match self.at(start + 1) {
            Some(c) if c.is_ascii_digit() => {
                let mut i = start + 1;
                while self.at(i).is_some_and(|c| c.is_ascii_digit()) {
                    i += 1;
                }
                self.pos = i;
                return;
            }
            Some(c) if c == b'$' || c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {}
            _ => {
                self.pos += 1;
                return;
            }
        }
        let mut i = start + 1;
        while self
            .at(i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80)
        {
            i += 1;
        }
        if self.at(i) != Some(b'$') {
            self.pos += 1;
            return;
        }
        let body = i + 1;
        let tag = self.bytes.get(start..body).unwrap_or_default();
        let end = memchr::memmem::find(self.bytes.get(body..).unwrap_or_default(), tag)
            .map_or(self.bytes.len(), |n| body + n + tag.len());
        self.replace(start, end, MARK);
    }

    /// A numeric literal: digits, decimals, exponents, `0x…`/`0b…`/`0o…`, `_` separators. It
    /// runs on over any identifier character after it (MySQL allows names such as `2fa`; they
    /// are redacted, never partly kept). A leading `-` is not part of it and stays.
    fn number(&mut self) {
        let start = self.pos;
        let hex = self.at(start) == Some(b'0') && matches!(self.at(start + 1), Some(b'x' | b'X'));
        let mut i = start;
        while let Some(c) = self.at(i) {
            let signed_exponent = !hex
                && matches!(c, b'+' | b'-')
                && matches!(self.at(i.wrapping_sub(1)), Some(b'e' | b'E'))
                && self.at(i + 1).is_some_and(|n| n.is_ascii_digit());
            if is_ident_cont(c) || c == b'.' || signed_exponent {
                i += 1;
            } else {
                break;
            }
        }
        self.replace(start, i, MARK);
    }

    /// An identifier or keyword, kept; or the prefix of a literal (`E'…'`, `X'…'`, `B'…'`,
    /// `N'…'`, `U&'…'`, Oracle `q'[…]'`, MySQL `_charset'…'`), replaced with it.
    fn word(&mut self) {
        let start = self.pos;
        let end = self.word_end(start);
        let word = self.sql.get(start..end).unwrap_or_default();
        let lower = word.to_ascii_lowercase();
        let d = self.dialect;
        let quote_at = |i: usize| self.at(i) == Some(b'\'');
        let literal_end = match lower.as_str() {
            "e" if d == Dialect::Postgres && quote_at(end) => Some(self.quoted(end, b'\'', true)),
            "x" | "b" | "n" if quote_at(end) => Some(self.quoted(end, b'\'', d == Dialect::MySql)),
            "u" if d == Dialect::Postgres && self.at(end) == Some(b'&') && quote_at(end + 1) => {
                Some(self.quoted(end + 1, b'\'', false))
            }
            "q" | "nq" if d == Dialect::Oracle && quote_at(end) => Some(self.q_quoted(end)),
            w if d == Dialect::MySql && w.starts_with('_') && quote_at(end) => {
                Some(self.quoted(end, b'\'', true))
            }
            _ => None,
        };
        match literal_end {
            Some(literal_end) => self.replace(start, literal_end, MARK),
            None => self.pos = end,
        }
    }

    /// Oracle's alternative quoting from the quote at `open`: `q'<d>…<d'>'` where `<d'>` closes
    /// `<d>` (`[]`, `()`, `{}`, `<>`, else the same character).
    fn q_quoted(&self, open: usize) -> usize {
        let Some(delim) = self.at(open + 1) else {
            return self.bytes.len();
        };
        let close = match delim {
            b'[' => b']',
            b'(' => b')',
            b'{' => b'}',
            b'<' => b'>',
            other => other,
        };
        let body = open + 2;
        memchr::memmem::find(self.bytes.get(body..).unwrap_or_default(), &[close, b'\''])
            .map_or(self.bytes.len(), |n| body + n + 2)
    }
}

/// A character that can continue a word: letters, digits, `_`, `$`, and any non-ASCII byte.
fn is_ident_cont(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

#[cfg(test)]
#[path = "redact_tests.rs"]
mod tests;
