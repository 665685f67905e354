//! The MySQL-family adapter (RDS MySQL, MariaDB, Aurora MySQL): mysql_async over rustls.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, Params, SslOpts, Value};

use crate::engine::{Engine, TlsMode};
use crate::mysql_message;
use crate::run::{DbError, Session};
use crate::{Credentials, Target};

/// An open MySQL-family connection.
pub struct MySession {
    conn: Conn,
    engine: Engine,
}

fn db_error(e: &mysql_async::Error) -> DbError {
    // The message is redacted on purpose: it can quote row values (PII) inline.
    match e {
        mysql_async::Error::Server(s) => DbError::server(
            "ERROR",
            &format!("{} ({})", s.code, s.state),
            &mysql_message::redact(s.code, &s.state, &s.message),
        ),
        other => DbError(other.to_string()),
    }
}

impl MySession {
    /// Connects with the given credentials and TLS mode.
    pub async fn connect(target: &Target, creds: &Credentials) -> Result<Self, DbError> {
        let ssl = match target.tls {
            TlsMode::Disable => None,
            TlsMode::Require => Some(SslOpts::default().with_danger_accept_invalid_certs(true)),
            TlsMode::VerifyFull => {
                let bundle = target
                    .ca_bundle
                    .clone()
                    .ok_or_else(|| DbError("verify-full needs a CA bundle".into()))?;
                Some(
                    SslOpts::default()
                        .with_root_certs(vec![bundle.into()])
                        .with_disable_built_in_roots(true),
                )
            }
        };
        crate::tls::install_default_provider();
        let opts = OptsBuilder::default()
            .ip_or_hostname(target.endpoint.clone())
            .tcp_port(target.port)
            .db_name(Some(target.database.clone()))
            .user(Some(creds.username.clone()))
            .pass(Some(creds.password.clone()))
            .prefer_socket(false)
            .ssl_opts(ssl);
        let conn = Conn::new(opts).await.map_err(|e| db_error(&e))?;
        Ok(Self {
            conn,
            engine: target.engine,
        })
    }
}

impl Session for MySession {
    async fn begin(&mut self) -> Result<(), DbError> {
        self.conn
            .query_drop("START TRANSACTION")
            .await
            .map_err(|e| db_error(&e))
    }

    async fn begin_read_only(&mut self) -> Result<(), DbError> {
        // The session's access mode too: it also holds statements that run outside the
        // transaction (after an implicit commit), and refuses DDL on permanent tables.
        // https://dev.mysql.com/doc/refman/8.0/en/set-transaction.html
        // https://mariadb.com/kb/en/start-transaction/
        for sql in [
            "SET SESSION TRANSACTION READ ONLY",
            "START TRANSACTION READ ONLY",
        ] {
            self.conn.query_drop(sql).await.map_err(|e| db_error(&e))?;
        }
        Ok(())
    }

    async fn set_statement_timeout(&mut self, seconds: u64) -> Result<(), DbError> {
        // MariaDB limits every statement; MySQL's max_execution_time limits SELECTs only (the
        // client-side limit in the runner covers the rest).
        let sql = match self.engine {
            Engine::Mariadb => format!("SET SESSION max_statement_time = {seconds}"),
            _ => format!(
                "SET SESSION max_execution_time = {}",
                seconds.saturating_mul(1000)
            ),
        };
        self.conn.query_drop(sql).await.map_err(|e| db_error(&e))
    }

    async fn execute(&mut self, sql: &str) -> Result<u64, DbError> {
        self.conn.query_drop(sql).await.map_err(|e| db_error(&e))?;
        Ok(self.conn.affected_rows())
    }

    async fn count_rows(&mut self, sql: &str) -> Result<u64, DbError> {
        let rows: Vec<mysql_async::Row> = self.conn.query(sql).await.map_err(|e| db_error(&e))?;
        Ok(u64::try_from(rows.len()).unwrap_or(u64::MAX))
    }

    async fn query_text(
        &mut self,
        sql: &str,
        params: &[&str],
    ) -> Result<Vec<Vec<Option<String>>>, DbError> {
        let rows: Vec<mysql_async::Row> = if params.is_empty() {
            self.conn.query(sql).await
        } else {
            let bound: Vec<Value> = params.iter().map(|p| Value::from(*p)).collect();
            self.conn.exec(sql, Params::Positional(bound)).await
        }
        .map_err(|e| db_error(&e))?;
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| match row.as_ref(i) {
                        None | Some(Value::NULL) => Ok(None),
                        Some(Value::Bytes(b)) => Ok(Some(String::from_utf8_lossy(b).into_owned())),
                        Some(Value::Int(n)) => Ok(Some(n.to_string())),
                        Some(Value::UInt(n)) => Ok(Some(n.to_string())),
                        Some(_) => Err(DbError(format!("column {} is not text", i + 1))),
                    })
                    .collect()
            })
            .collect()
    }

    async fn commit(&mut self) -> Result<(), DbError> {
        self.conn
            .query_drop("COMMIT")
            .await
            .map_err(|e| db_error(&e))
    }

    async fn rollback(&mut self) -> Result<(), DbError> {
        self.conn
            .query_drop("ROLLBACK")
            .await
            .map_err(|e| db_error(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_duplicate_entry_from_the_server_then_the_error_keeps_code_state_and_key_only() {
        let e = mysql_async::Error::Server(mysql_async::ServerError {
            code: 1062,
            message: "Duplicate entry 'alice@example.com' for key 'email'".into(),
            state: "23000".into(),
        });

        assert_eq!(
            db_error(&e).0,
            "ERROR 1062 (23000): Duplicate entry '<redacted>' for key 'email'"
        );
    }
}
