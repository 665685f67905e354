//! The column lists of the script's leak-check directives, `-- @sensitive` and `-- @allow`:
//! comma-separated `table.column` or `schema.table.column`.
//!
//! [`crate::script`] finds the directive comments; this module reads their lists.

use std::fmt;

/// The directive that declares columns holding production values the script must replace.
pub const SENSITIVE_DIRECTIVE: &str = "@sensitive";

/// The directive that declares columns where the leak check's detectors may fire.
pub const ALLOW_DIRECTIVE: &str = "@allow";

/// A column named in a directive: `table.column` or `schema.table.column`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ColumnRef {
    /// Schema, when given (otherwise the connection's current schema or database).
    pub schema: Option<String>,
    /// Table name.
    pub table: String,
    /// Column name.
    pub column: String,
}

impl fmt::Display for ColumnRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(schema) = &self.schema {
            write!(f, "{schema}.")?;
        }
        write!(f, "{}.{}", self.table, self.column)
    }
}

/// An entry of a directive's list that is not a column name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entry `{entry}` {reason}")]
pub struct BadEntry {
    /// The entry as written (a column name, never a value).
    pub entry: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Parses one directive's list: comma-separated `table.column` or `schema.table.column`.
pub fn parse_columns(list: &str) -> Result<Vec<ColumnRef>, BadEntry> {
    let bad = |entry: &str, reason| BadEntry {
        entry: entry.to_owned(),
        reason,
    };
    if list.trim().is_empty() {
        return Err(bad("", "is empty: name at least one table.column"));
    }
    list.split(',')
        .map(|entry| {
            let entry = entry.trim();
            if entry.is_empty() {
                return Err(bad(entry, "is empty (two commas in a row, or a trailing comma?)"));
            }
            let parts: Vec<&str> = entry.split('.').collect();
            let valid = |p: &&str| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
            };
            if !parts.iter().all(valid) {
                return Err(bad(
                    entry,
                    "is not a plain name: expected table.column or schema.table.column (letters, digits, _ and $)",
                ));
            }
            match parts.as_slice() {
                [table, column] => Ok(ColumnRef {
                    schema: None,
                    table: (*table).to_owned(),
                    column: (*column).to_owned(),
                }),
                [schema, table, column] => Ok(ColumnRef {
                    schema: Some((*schema).to_owned()),
                    table: (*table).to_owned(),
                    column: (*column).to_owned(),
                }),
                _ => Err(bad(
                    entry,
                    "has the wrong form: expected table.column or schema.table.column",
                )),
            }
        })
        .collect()
}
