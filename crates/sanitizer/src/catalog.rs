//! The database's catalog as the leak check needs it: the columns of every user table, which
//! of them hold text, the connection's schema, and identifiers quoted for each dialect.
//!
//! Under [`crate::leak`]; every query goes through [`Session::query_text`] and selects text.

use std::fmt;

use crate::engine::Family;
use crate::run::{DbError, Session};
use crate::script::ColumnRef;

/// A column of a user table, as the catalog names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Column {
    /// Schema (PostgreSQL) or database (MySQL family).
    pub schema: String,
    /// Table name.
    pub table: String,
    /// Column name.
    pub column: String,
    /// A type the detectors read.
    pub text: bool,
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.schema, self.table, self.column)
    }
}

/// `name` quoted as an identifier of `family`.
pub fn quote_ident(family: Family, name: &str) -> String {
    match family {
        Family::Postgres => format!("\"{}\"", name.replace('"', "\"\"")),
        Family::Mysql => format!("`{}`", name.replace('`', "``")),
    }
}

/// `schema.table` of the column, quoted.
pub fn table_sql(family: Family, c: &Column) -> String {
    format!(
        "{}.{}",
        quote_ident(family, &c.schema),
        quote_ident(family, &c.table)
    )
}

/// The column's value as text (any type).
pub fn as_text(family: Family, c: &Column) -> String {
    let col = quote_ident(family, &c.column);
    match family {
        Family::Postgres => format!("{col}::text"),
        Family::Mysql => format!("CAST({col} AS CHAR)"),
    }
}

const PG_CATALOG: &str = "SELECT c.table_schema::text, c.table_name::text, c.column_name::text, \
c.data_type::text, c.udt_name::text FROM information_schema.columns c \
JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
WHERE t.table_type = 'BASE TABLE' AND c.table_schema NOT IN ('pg_catalog', 'information_schema') \
AND c.table_schema NOT LIKE 'pg\\_toast%' AND c.table_schema NOT LIKE 'pg\\_temp%' \
ORDER BY 1, 2, c.ordinal_position";

const MYSQL_CATALOG: &str = "SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, c.DATA_TYPE, \
c.DATA_TYPE FROM information_schema.COLUMNS c JOIN information_schema.TABLES t \
ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME \
WHERE t.TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') \
AND c.TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys') \
ORDER BY c.TABLE_SCHEMA, c.TABLE_NAME, c.ORDINAL_POSITION";

/// Whether a catalog type is one the detectors read.
fn is_text(family: Family, data_type: &str, udt: &str) -> bool {
    let t = data_type.to_ascii_lowercase();
    match family {
        Family::Postgres => {
            matches!(t.as_str(), "text" | "character varying" | "character")
                || udt.eq_ignore_ascii_case("citext")
        }
        Family::Mysql => matches!(
            t.as_str(),
            "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext"
        ),
    }
}

/// Every column of every user table (system schemas left out), in table order.
pub async fn columns<S: Session>(session: &mut S, family: Family) -> Result<Vec<Column>, DbError> {
    let sql = match family {
        Family::Postgres => PG_CATALOG,
        Family::Mysql => MYSQL_CATALOG,
    };
    let rows = session.query_text(sql, &[]).await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| match row.as_slice() {
            [Some(schema), Some(table), Some(column), data_type, udt] => Some(Column {
                schema: schema.clone(),
                table: table.clone(),
                column: column.clone(),
                text: is_text(
                    family,
                    data_type.as_deref().unwrap_or(""),
                    udt.as_deref().unwrap_or(""),
                ),
            }),
            _ => None,
        })
        .collect())
}

/// The schema a bare `table.column` names: `current_schema()`, or the MySQL connection's database.
pub async fn current_schema<S: Session>(
    session: &mut S,
    family: Family,
) -> Result<String, DbError> {
    let sql = match family {
        Family::Postgres => "SELECT current_schema()::text",
        Family::Mysql => "SELECT DATABASE()",
    };
    let rows = session.query_text(sql, &[]).await?;
    Ok(rows
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next().flatten())
        .unwrap_or_default())
}

/// The catalog column `r` names in `default_schema` (unless it gives its own): the exact
/// spelling if there is one, else the one that matches ignoring ASCII case.
pub fn resolve(columns: &[Column], r: &ColumnRef, default_schema: &str) -> Option<Column> {
    let schema = r.schema.as_deref().unwrap_or(default_schema);
    let exact = |c: &&Column| c.schema == schema && c.table == r.table && c.column == r.column;
    let loose = |c: &&Column| {
        c.schema.eq_ignore_ascii_case(schema)
            && c.table.eq_ignore_ascii_case(&r.table)
            && c.column.eq_ignore_ascii_case(&r.column)
    };
    columns
        .iter()
        .find(exact)
        .or_else(|| columns.iter().find(loose))
        .cloned()
}

/// The first `chars` characters of the column's value as text.
pub fn prefix(family: Family, c: &Column, chars: u32) -> String {
    match family {
        Family::Postgres => format!("left({}, {chars})", as_text(family, c)),
        Family::Mysql => format!("LEFT({}, {chars})", as_text(family, c)),
    }
}
