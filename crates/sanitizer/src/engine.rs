//! Which database engine the task talks to, and how it secures the connection.

use std::fmt;
use std::str::FromStr;

/// The engines a temp database can run (`SANITIZER_ENGINE`, RDS engine names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Engine {
    /// RDS for PostgreSQL.
    Postgres,
    /// Aurora PostgreSQL.
    AuroraPostgresql,
    /// RDS for MySQL.
    Mysql,
    /// RDS for MariaDB.
    Mariadb,
    /// Aurora MySQL.
    AuroraMysql,
}

/// The wire protocol and SQL dialect an engine speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// PostgreSQL and Aurora PostgreSQL.
    Postgres,
    /// MySQL, MariaDB and Aurora MySQL.
    Mysql,
}

impl Engine {
    /// Every engine, in the order the docs list them.
    pub const ALL: [Engine; 5] = [
        Engine::Postgres,
        Engine::AuroraPostgresql,
        Engine::Mysql,
        Engine::Mariadb,
        Engine::AuroraMysql,
    ];

    /// The RDS engine name.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::AuroraPostgresql => "aurora-postgresql",
            Engine::Mysql => "mysql",
            Engine::Mariadb => "mariadb",
            Engine::AuroraMysql => "aurora-mysql",
        }
    }

    /// The protocol family.
    pub fn family(self) -> Family {
        match self {
            Engine::Postgres | Engine::AuroraPostgresql => Family::Postgres,
            Engine::Mysql | Engine::Mariadb | Engine::AuroraMysql => Family::Mysql,
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Engine {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Engine::ALL
            .into_iter()
            .find(|e| e.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                let names: Vec<_> = Engine::ALL.iter().map(|e| e.name()).collect();
                format!("expected one of {}", names.join(", "))
            })
    }
}

/// How the connection is secured (`SANITIZER_TLS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// TLS is required (the connection fails without it) but the certificate is not checked.
    Require,
    /// TLS with the certificate checked against `SANITIZER_CA_BUNDLE` (e.g. the RDS CA
    /// bundle) and the host name checked against the endpoint.
    VerifyFull,
    /// No TLS at all. Only for local tests against servers without certificates.
    Disable,
}

impl FromStr for TlsMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "require" => Ok(TlsMode::Require),
            "verify-full" => Ok(TlsMode::VerifyFull),
            "disable" => Ok(TlsMode::Disable),
            _ => Err("expected require, verify-full or disable".into()),
        }
    }
}

/// What the task does (`SANITIZER_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Runs the script's statements, then the verification gate (the sanitized-snapshot run).
    Sanitize,
    /// Runs only the verification gate (the script's verify queries and the leak check's
    /// detectors) in a read-only transaction; never the script's statements. For restore
    /// testing, where the database is a restored production copy that must stay untouched.
    Validate,
}

impl FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sanitize" => Ok(Mode::Sanitize),
            "validate" => Ok(Mode::Validate),
            _ => Err("expected sanitize or validate".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_mode_names_then_only_the_two_parse() {
        assert_eq!("validate".parse(), Ok(Mode::Validate));
        assert_eq!(" Sanitize ".parse(), Ok(Mode::Sanitize));
        assert!("verify".parse::<Mode>().unwrap_err().contains("validate"));
    }

    #[test]
    fn given_rds_engine_names_then_each_parses_to_its_family() {
        for e in Engine::ALL {
            assert_eq!(e.name().parse::<Engine>(), Ok(e));
        }
        assert_eq!(Engine::AuroraPostgresql.family(), Family::Postgres);
        assert_eq!(Engine::Mariadb.family(), Family::Mysql);
        assert!(
            "oracle-ee"
                .parse::<Engine>()
                .unwrap_err()
                .contains("mariadb")
        );
    }

    #[test]
    fn given_tls_modes_then_only_the_three_names_parse() {
        assert_eq!("verify-full".parse(), Ok(TlsMode::VerifyFull));
        assert_eq!("Require".parse(), Ok(TlsMode::Require));
        assert_eq!("disable".parse(), Ok(TlsMode::Disable));
        assert!("prefer".parse::<TlsMode>().is_err());
    }
}
