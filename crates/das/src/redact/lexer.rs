//! The lexer behind [`super::redact_sql`]: one pass, kept spans copied, literal spans replaced.

use std::borrow::Cow;

use super::{Dialect, MARK};

/// One pass over the text: kept spans are copied, literal spans replaced.
pub(super) struct Lexer<'a> {
    sql: &'a str,
    bytes: &'a [u8],
    dialect: Dialect,
    pos: usize,
    /// The text is copied to `out` up to here.
    copied: usize,
    out: String,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(sql: &'a str, dialect: Dialect) -> Self {
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

    pub(super) fn run(mut self) -> Cow<'a, str> {
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
