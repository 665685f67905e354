//! The PostgreSQL adapter (RDS PostgreSQL and Aurora PostgreSQL): tokio-postgres over rustls.
//!
//! Statements go through the simple query protocol, so any statement a script may hold
//! (DDL, `DO` blocks, multi-row DML) runs as written and reports its row count.

use tokio_postgres::config::SslMode;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, SimpleQueryMessage};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::engine::TlsMode;
use crate::pg_message;
use crate::run::{DbError, Session};
use crate::tls;
use crate::{Credentials, Target};

/// An open PostgreSQL connection.
pub struct PgSession {
    client: tokio_postgres::Client,
}

fn db_error(e: &tokio_postgres::Error) -> DbError {
    // The detail field is left out and the message redacted on purpose: both can quote row
    // values (PII).
    match e.as_db_error() {
        Some(db) => DbError::server(
            db.severity(),
            db.code().code(),
            &pg_message::redact(db.code().code(), db.routine(), db.message()),
        ),
        None => DbError(e.to_string()),
    }
}

impl PgSession {
    /// Connects with the given credentials and TLS mode.
    pub async fn connect(target: &Target, creds: &Credentials) -> Result<Self, DbError> {
        let mut config = tokio_postgres::Config::new();
        config
            .host(&target.endpoint)
            .port(target.port)
            .dbname(&target.database)
            .user(&creds.username)
            .password(creds.password.as_bytes())
            .application_name("sluice-sanitizer")
            .connect_timeout(std::time::Duration::from_secs(30));
        let client = match target.tls {
            TlsMode::Disable => {
                config.ssl_mode(SslMode::Disable);
                let (client, conn) = config.connect(NoTls).await.map_err(|e| db_error(&e))?;
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::warn!(error = %e, "connection closed");
                    }
                });
                client
            }
            mode => {
                let tls_config = match (mode, &target.ca_bundle) {
                    (TlsMode::VerifyFull, Some(bundle)) => tls::verifying_config(bundle),
                    (TlsMode::VerifyFull, None) => {
                        return Err(DbError("verify-full needs a CA bundle".into()));
                    }
                    _ => tls::encrypting_config(),
                }
                .map_err(|e| DbError(e.to_string()))?;
                config.ssl_mode(SslMode::Require);
                let (client, conn) = config
                    .connect(MakeRustlsConnect::new(tls_config))
                    .await
                    .map_err(|e| db_error(&e))?;
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::warn!(error = %e, "connection closed");
                    }
                });
                client
            }
        };
        Ok(Self { client })
    }

    async fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.client
            .batch_execute(sql)
            .await
            .map_err(|e| db_error(&e))
    }
}

impl Session for PgSession {
    async fn begin(&mut self) -> Result<(), DbError> {
        self.batch("BEGIN").await
    }

    async fn begin_read_only(&mut self) -> Result<(), DbError> {
        // The session default too: a transaction a query might end is followed by read-only
        // ones. https://www.postgresql.org/docs/current/sql-set-transaction.html
        self.batch(
            "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY; START TRANSACTION READ ONLY",
        )
        .await
    }

    async fn set_statement_timeout(&mut self, seconds: u64) -> Result<(), DbError> {
        self.batch(&format!("SET statement_timeout = '{seconds}s'"))
            .await
    }

    async fn execute(&mut self, sql: &str) -> Result<u64, DbError> {
        let messages = self
            .client
            .simple_query(sql)
            .await
            .map_err(|e| db_error(&e))?;
        Ok(messages
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::CommandComplete(n) => Some(*n),
                _ => None,
            })
            .next_back()
            .unwrap_or(0))
    }

    async fn count_rows(&mut self, sql: &str) -> Result<u64, DbError> {
        let messages = self
            .client
            .simple_query(sql)
            .await
            .map_err(|e| db_error(&e))?;
        let rows = messages
            .iter()
            .filter(|m| matches!(m, SimpleQueryMessage::Row(_)))
            .count();
        Ok(u64::try_from(rows).unwrap_or(u64::MAX))
    }

    async fn query_text(
        &mut self,
        sql: &str,
        params: &[&str],
    ) -> Result<Vec<Vec<Option<String>>>, DbError> {
        let bound: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let rows = self
            .client
            .query(sql, &bound)
            .await
            .map_err(|e| db_error(&e))?;
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| {
                        row.try_get::<_, Option<String>>(i)
                            .map_err(|e| DbError(format!("column {} is not text: {e}", i + 1)))
                    })
                    .collect()
            })
            .collect()
    }

    async fn commit(&mut self) -> Result<(), DbError> {
        self.batch("COMMIT").await
    }

    async fn rollback(&mut self) -> Result<(), DbError> {
        self.batch("ROLLBACK").await
    }
}
