//! What of a MySQL-family server error message may reach logs and the task summary.
//!
//! Sits between the MySQL adapter ([`crate::mysql`]), which calls [`redact`] on every server
//! error, and what shows errors: [`crate::run`] logs them and puts them in the
//! [`crate::summary::Summary`]. MySQL and MariaDB write row values into the message itself
//! (`Duplicate entry 'alice@example.com' for key 'email'`), and unescaped: a value that
//! holds a quote is printed as is (`Duplicate entry 'x-1-y'z' for key 'ab'` for the values
//! `x-1` and `y'z`). So they are cut out of the text, by error code, with the rules
//! [`crate::redact`] shares with PostgreSQL ([`crate::pg_message`]):
//!
//! 1. [`KEPT`]: formats that quote only identifiers, script text or nothing (`Unknown column
//!    'x' in 'field list'`, `Column 'email' cannot be null`, foreign-key failures): kept as the
//!    server wrote them, because they are what a script's author needs to read.
//! 2. `SLOTS`: formats known to print a row value at a known place: that value, and only
//!    it, becomes [`PLACEHOLDER`]; the key, column or function named around it stays. A text
//!    without the expected shape (a server set to another language, a new server version) is
//!    withheld whole.
//! 3. [`WITHHELD_CODES`] and SQLSTATE `45000`: free text (`SIGNAL … SET MESSAGE_TEXT`, which
//!    a trigger may build from the row): withheld whole.
//! 4. Any other code: everything from the first single quote to the last becomes one
//!    `'<redacted>'`. Not quote by quote, because the quotes inside an unescaped value cannot
//!    be told from those around it. This may hide an identifier, never a quoted value;
//!    backquoted identifiers (MariaDB's `` `db`.`table` ``) stay. A format that prints a value
//!    without quotes is caught only if it is in `SLOTS`.
//!
//! The lists were checked against MariaDB 10.11's message catalogue (`errmsg-utf8.txt`) and
//! MySQL 8.0's error reference. Codes from 1900 on mean different things in MySQL and
//! MariaDB, so [`KEPT`] holds none of them.

use std::borrow::Cow;

use crate::redact::{End, Rules, Slot, quoted_span};
pub use crate::redact::{PLACEHOLDER, WITHHELD};

/// Codes whose messages are shown as the server wrote them: they quote identifiers, the
/// script's own text (1064 `near '…'`) or nothing.
pub const KEPT: [u16; 43] = [
    1022, // Can't write; duplicate key in table 't'
    1044, // Access denied for user 'u'@'h' to database 'd'
    1045, // Access denied for user 'u'@'h' (using password: YES)
    1046, // No database selected
    1048, // Column 'c' cannot be null
    1049, // Unknown database 'd'
    1050, // Table 't' already exists
    1051, // Unknown table 't'
    1052, // Column 'c' in field list is ambiguous
    1054, // Unknown column 'c' in 'field list'
    1060, // Duplicate column name 'c'
    1061, // Duplicate key name 'k'
    1064, // You have an error in your SQL syntax; … near '<script text>' at line 1
    1091, // Can't DROP COLUMN `c`; check that it exists
    1093, // Table 't' is specified twice, both as a target for 'UPDATE' and as a separate source
    1109, // Unknown table 't' in field list
    1136, // Column count doesn't match value count at row 1
    1142, // UPDATE command denied to user 'u'@'h' for table `d`.`t`
    1143, // SELECT command denied to user 'u'@'h' for column 'c' in table 't'
    1146, // Table 'd.t' doesn't exist
    1169, // Can't write, because of unique constraint, to table 't'
    1175, // You are using safe update mode and you tried to update a table without a WHERE …
    1205, // Lock wait timeout exceeded; try restarting transaction
    1213, // Deadlock found when trying to get lock; try restarting transaction
    1216, // Cannot add or update a child row: a foreign key constraint fails
    1217, // Cannot delete or update a parent row: a foreign key constraint fails
    1241, // Operand should contain 1 column(s)
    1242, // Subquery returns more than 1 row
    1263, // Column set to default value; NULL supplied to NOT NULL column 'c' at row 1
    1264, // Out of range value for column 'c' at row 1
    1265, // Data truncated for column 'c' at row 1
    1267, // Illegal mix of collations (…,IMPLICIT) and (…,COERCIBLE) for operation '='
    1270, // Illegal mix of collations (…), (…), (…) for operation 'concat'
    1271, // Illegal mix of collations for operation 'concat'
    1290, // The MariaDB server is running with the --read-only option so it cannot execute …
    1317, // Query execution was interrupted
    1364, // Field 'c' doesn't have a default value
    1406, // Data too long for column 'c' at row 1
    // Cannot delete or update a parent row: a foreign key constraint fails (`d`.`t`,
    // CONSTRAINT `fk` FOREIGN KEY (`c`) REFERENCES `p` (`id`)): the constraint, no values.
    1451,
    1452, // Cannot add or update a child row: a foreign key constraint fails (same shape)
    1859, // Duplicate entry for key 'k'
    3024, // (MySQL) Query execution was interrupted, maximum statement execution time exceeded
    3819, // (MySQL) Check constraint 'c' is violated.
];

/// Codes whose whole message is free text that may come from a row: 1644 is `SIGNAL` (a
/// trigger's `SET MESSAGE_TEXT = CONCAT('bad ', OLD.email)`), 1105 `Unknown error` carries a
/// storage engine's or plugin's own text.
pub const WITHHELD_CODES: [u16; 2] = [1105, 1644];

/// The formats that print row values, each with an example from a real server.
const SLOTS: [Slot<u16>; 14] = [
    // Duplicate entry 'alice@example.com' for key 'email' (MySQL 8: for key 't.email');
    // 1569: ALTER TABLE causes auto_increment resequencing, resulting in duplicate entry '…'.
    Slot::new(&[1062, 1569, 1586], "entry '", &[End::Before("' for key ")]),
    // Incorrect integer value: 'alice' for column `app`.`c`.`n` at row 1 (MySQL: 'n');
    // Incorrect string value: '\xE6\x97\xA5' for column …
    Slot::new(&[1366], " value: '", &[End::Before("' for column ")]),
    // Truncated incorrect DOUBLE value: 'alice'
    // Incorrect date value: 'alice' for column `app`.`c`.`d` at row 1
    Slot::new(
        &[1292],
        " value: '",
        &[End::ClosingQuote, End::Before("' for column ")],
    ),
    // Incorrect datetime value: 'alice' for function str_to_date
    Slot::new(&[1411], " value: '", &[End::Before("' for function ")]),
    // Incorrect DATE value: 'alice'
    Slot::new(&[1525], " value: '", &[End::ClosingQuote]),
    // Illegal double '1e500' value found during parsing
    Slot::new(
        &[1367],
        " '",
        &[End::Before("' value found during parsing")],
    ),
    // Invalid utf8mb4 character string: 'F0A4AD'
    Slot::new(&[1300], "string: '", &[End::ClosingQuote]),
    // Variable 'sql_mode' can't be set to the value of 'bob@example.com'
    Slot::new(&[1231], "the value of '", &[End::ClosingQuote]),
    // String 'alice' is too long for user name (should be no longer than 80)
    Slot::new(&[1470], "String '", &[End::Before("' is too long for ")]),
    // Foreign key constraint for table 'p', record 'alice' would lead to a duplicate entry …
    Slot::new(
        &[1761, 1762],
        "record '",
        &[End::Before("' would lead to a duplicate entry")],
    ),
    // (MySQL 5.x) Upholding foreign key constraints for table 'p', entry 'alice', key 2 would …
    Slot::new(&[1557], "entry '", &[End::Before("', key ")]),
    // (MariaDB) Got overflow when converting 'v' to INT. Value truncated
    Slot::new(&[1916], "converting '", &[End::Before("' to ")]),
    // (MariaDB) Truncated value 'v' … / Encountered illegal value 'v' when converting to INT
    Slot::new(
        &[1917, 1918],
        "value '",
        &[End::Before("' when converting to ")],
    ),
    // Table has no partition for value 77 (unquoted)
    Slot::new(&[1526], "for value ", &[End::Rest]),
];

/// The MySQL family's lists.
const RULES: Rules<u16> = Rules {
    quote: '\'',
    kept: &KEPT,
    withheld: &WITHHELD_CODES,
    slots: &SLOTS,
};

/// `message` (server error `code`, `sqlstate`) without the row values it may quote; see the
/// module docs for what is kept.
pub fn redact<'m>(code: u16, sqlstate: &str, message: &'m str) -> Cow<'m, str> {
    if sqlstate == "45000" {
        return Cow::Borrowed(WITHHELD);
    }
    RULES
        .known(&code, message)
        .unwrap_or_else(|| quoted_span('\'', message))
}

#[cfg(test)]
#[path = "mysql_message_tests.rs"]
mod tests;
