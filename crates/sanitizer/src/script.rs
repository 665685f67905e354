//! The sanitizing script: split into statements and verification queries.
//!
//! First step of a run: the script text (inline or from S3) becomes a [`Plan`]. Statements are
//! split on `;` outside quotes (`'…'`, `"…"`, and on MySQL `` `…` ``), comments (`--`, `/* */`,
//! and on MySQL `#`) and PostgreSQL dollar quotes (`$$…$$`, `$tag$…$tag$`).
//!
//! A line comment that reads exactly `-- @verify` (between statements) starts the verification
//! section: every statement after it is a verification query that must return no rows.
//! MySQL's `DELIMITER` command is a client feature and is not supported.
//!
//! Before `-- @verify`, line comments `-- @sensitive t.c, …` and `-- @allow t.c, …` declare
//! the columns the leak check samples and the columns where its detectors may fire
//! ([`crate::leak`]); any other `-- @word` comment is refused, so a typo cannot switch a
//! check off.

pub use crate::directive::ColumnRef;
use crate::directive::{self, ALLOW_DIRECTIVE, SENSITIVE_DIRECTIVE};
use crate::engine::Family;

/// The comment that starts the verification section of a script.
pub const VERIFY_MARKER: &str = "@verify";

/// What a script asks for: statements to run in order, then queries that must return no rows,
/// and the columns the leak check samples or allows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Sanitizing statements, in order.
    pub statements: Vec<String>,
    /// Verification queries; each must return no rows.
    pub verify: Vec<String>,
    /// Columns declared with `-- @sensitive`, in order, without repeats.
    pub sensitive: Vec<ColumnRef>,
    /// Columns declared with `-- @allow`, in order, without repeats.
    pub allow: Vec<ColumnRef>,
}

/// A script that cannot be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    /// A quote, comment or dollar quote is still open at the end of the script.
    #[error("unterminated {what} starting at byte {offset}")]
    Unterminated {
        /// What is open (`'…' string`, `/* */ comment`, …).
        what: &'static str,
        /// Where it starts.
        offset: usize,
    },
    /// The `-- @verify` marker appears in the middle of a statement.
    #[error("the -- {VERIFY_MARKER} marker at byte {offset} is inside a statement")]
    MarkerInsideStatement {
        /// Where the marker is.
        offset: usize,
    },
    /// The verification section appears twice.
    #[error("the -- {VERIFY_MARKER} marker appears more than once (byte {offset})")]
    DuplicateMarker {
        /// Where the second marker is.
        offset: usize,
    },
    /// A `-- @word` comment that is no directive this task knows.
    #[error(
        "unknown directive `-- @{name}` at byte {offset} (known: -- {VERIFY_MARKER}, -- {SENSITIVE_DIRECTIVE}, -- {ALLOW_DIRECTIVE})"
    )]
    UnknownDirective {
        /// The word after `@`.
        name: String,
        /// Where the comment is.
        offset: usize,
    },
    /// A directive that must come before `-- @verify` comes after it.
    #[error(
        "-- {directive} at byte {offset} comes after -- {VERIFY_MARKER}; declare columns before it"
    )]
    DirectiveAfterVerify {
        /// `@sensitive` or `@allow`.
        directive: &'static str,
        /// Where the directive is.
        offset: usize,
    },
    /// A directive entry that is not `table.column` or `schema.table.column`.
    #[error("-- {directive} at byte {offset}: entry `{entry}` {reason}")]
    BadColumn {
        /// `@sensitive` or `@allow`.
        directive: &'static str,
        /// Where the directive is.
        offset: usize,
        /// The entry as written (a column name, never a value).
        entry: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Parses a script: statements, then (after `-- @verify`) verification queries.
pub fn parse(script: &str, family: Family) -> Result<Plan, ScriptError> {
    let pieces = split(script, family)?;
    let mut plan = Plan::default();
    let mut in_verify = false;
    for piece in pieces {
        match piece {
            Piece::Statement(s) if in_verify => plan.verify.push(s),
            Piece::Statement(s) => plan.statements.push(s),
            Piece::Marker(offset) if in_verify => {
                return Err(ScriptError::DuplicateMarker { offset });
            }
            Piece::Marker(_) => in_verify = true,
            Piece::Directive {
                directive, offset, ..
            } if in_verify => {
                return Err(ScriptError::DirectiveAfterVerify { directive, offset });
            }
            Piece::Directive {
                directive,
                offset,
                list,
            } => {
                let into = if directive == SENSITIVE_DIRECTIVE {
                    &mut plan.sensitive
                } else {
                    &mut plan.allow
                };
                let columns =
                    directive::parse_columns(&list).map_err(|e| ScriptError::BadColumn {
                        directive,
                        offset,
                        entry: e.entry,
                        reason: e.reason,
                    })?;
                for column in columns {
                    if !into.contains(&column) {
                        into.push(column);
                    }
                }
            }
        }
    }
    Ok(plan)
}

/// Splits SQL into statements (trimmed; empty and comment-only statements dropped).
pub fn split_statements(sql: &str, family: Family) -> Result<Vec<String>, ScriptError> {
    Ok(split(sql, family)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Statement(s) => Some(s),
            Piece::Marker(_) | Piece::Directive { .. } => None,
        })
        .collect())
}

#[derive(Debug)]
enum Piece {
    Statement(String),
    Marker(usize),
    Directive {
        directive: &'static str,
        offset: usize,
        list: String,
    },
}

/// What a line comment's text (after `--`) is, if it starts with `@`.
fn directive(text: &str, offset: usize) -> Result<Option<Piece>, ScriptError> {
    let text = text.trim();
    let Some(rest) = text.strip_prefix('@') else {
        return Ok(None);
    };
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    let list = rest[name.len()..].to_owned();
    let known = [SENSITIVE_DIRECTIVE, ALLOW_DIRECTIVE]
        .into_iter()
        .find(|d| d[1..] == name);
    match known {
        Some(directive) if list.is_empty() || list.starts_with(char::is_whitespace) => {
            Ok(Some(Piece::Directive {
                directive,
                offset,
                list,
            }))
        }
        _ if name.is_empty() => Ok(None),
        _ => Err(ScriptError::UnknownDirective {
            name: rest
                .split(char::is_whitespace)
                .next()
                .unwrap_or(rest)
                .to_owned(),
            offset,
        }),
    }
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// The dollar-quote tag (`$tag$`, including both `$`) starting at `i`, if one starts there.
fn dollar_tag(bytes: &[u8], i: usize) -> Option<usize> {
    if i > 0 && (is_ident(bytes[i - 1]) || bytes[i - 1] == b'$') {
        return None;
    }
    let mut j = i + 1;
    if j < bytes.len() && bytes[j].is_ascii_digit() {
        return None;
    }
    while j < bytes.len() && (is_ident(bytes[j]) && bytes[j] != b'$') {
        j += 1;
    }
    (j < bytes.len() && bytes[j] == b'$').then_some(j + 1 - i)
}

fn split(sql: &str, family: Family) -> Result<Vec<Piece>, ScriptError> {
    let mysql = family == Family::Mysql;
    let bytes = sql.as_bytes();
    let mut pieces = Vec::new();
    // Where the current statement's first non-comment, non-blank byte is.
    let mut first: Option<usize> = None;
    let mut i = 0;
    let flush = |pieces: &mut Vec<Piece>, first: Option<usize>, to: usize| {
        if let Some(from) = first {
            pieces.push(Piece::Statement(sql[from..to].trim().to_owned()));
        }
    };
    while i < bytes.len() {
        let b = bytes[i];
        let next = bytes.get(i + 1).copied();
        match b {
            b';' => {
                flush(&mut pieces, first.take(), i);
                i += 1;
            }
            b'-' if next == Some(b'-')
                && (!mysql || bytes.get(i + 2).is_none_or(|c| c.is_ascii_whitespace())) =>
            {
                let end = bytes[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(bytes.len(), |p| i + p);
                let text = &sql[i + 2..end];
                if text.trim() == VERIFY_MARKER {
                    if first.is_some() {
                        return Err(ScriptError::MarkerInsideStatement { offset: i });
                    }
                    pieces.push(Piece::Marker(i));
                } else if let Some(piece) = directive(text, i)? {
                    pieces.push(piece);
                }
                i = end;
            }
            b'#' if mysql => {
                i = bytes[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(bytes.len(), |p| i + p);
            }
            b'/' if next == Some(b'*') => {
                let open = i;
                let mut depth = 1;
                i += 2;
                while depth > 0 {
                    match (bytes.get(i), bytes.get(i + 1)) {
                        (None, _) => {
                            return Err(ScriptError::Unterminated {
                                what: "/* */ comment",
                                offset: open,
                            });
                        }
                        (Some(b'*'), Some(b'/')) => {
                            depth -= 1;
                            i += 2;
                        }
                        // PostgreSQL nests block comments; MySQL does not.
                        (Some(b'/'), Some(b'*')) if !mysql => {
                            depth += 1;
                            i += 2;
                        }
                        _ => i += 1,
                    }
                }
            }
            b'\'' | b'"' | b'`' if b != b'`' || mysql => {
                first.get_or_insert(i);
                // Backslash escapes: MySQL strings, and PostgreSQL E'…' strings.
                let escapes = if mysql {
                    b != b'`'
                } else {
                    b == b'\''
                        && i > 0
                        && matches!(bytes[i - 1], b'E' | b'e')
                        && (i < 2 || !is_ident(bytes[i - 2]))
                };
                let open = i;
                i += 1;
                loop {
                    match bytes.get(i) {
                        None => {
                            return Err(ScriptError::Unterminated {
                                what: match b {
                                    b'\'' => "'…' string",
                                    b'"' => "\"…\" identifier or string",
                                    _ => "`…` identifier",
                                },
                                offset: open,
                            });
                        }
                        Some(b'\\') if escapes => i += 2,
                        Some(&c) if c == b => {
                            i += 1;
                            break;
                        }
                        _ => i += 1,
                    }
                }
            }
            b'$' if !mysql => {
                first.get_or_insert(i);
                match dollar_tag(bytes, i) {
                    Some(len) => {
                        let tag = &sql[i..i + len];
                        let body = i + len;
                        match sql[body..].find(tag) {
                            Some(p) => i = body + p + len,
                            None => {
                                return Err(ScriptError::Unterminated {
                                    what: "dollar-quoted string",
                                    offset: i,
                                });
                            }
                        }
                    }
                    None => i += 1,
                }
            }
            _ => {
                if !b.is_ascii_whitespace() {
                    first.get_or_insert(i);
                }
                i += 1;
            }
        }
    }
    flush(&mut pieces, first, bytes.len());
    Ok(pieces)
}

#[cfg(test)]
#[path = "script_tests.rs"]
mod tests;
