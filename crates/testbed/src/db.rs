//! Private PostgreSQL and MariaDB servers for tests, each in its own temp dir on a free
//! loopback port. A server stops when dropped or when the test process exits (a small shell
//! watchdog stops it when its stdin closes), so none outlives its tests.
//!
//! Engines come from Debian's `postgresql` and `mariadb-server` (installed by
//! `scripts/bootstrap.sh`). As root, PostgreSQL runs as the `postgres` user (it refuses root).
//!
//! When the `openssl` CLI is present, each server also accepts TLS with a certificate for
//! `localhost` and `127.0.0.1` signed by a throw-away CA ([`DbServer::ca_bundle`]), so clients
//! can be tested with TLS required and with full verification.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// A running database server.
pub struct DbServer {
    dir: TempDir,
    port: u16,
    watchdog: Child,
    kind: Kind,
    tls: Option<TlsFiles>,
}

/// The PEM files of a server's TLS set-up, in its temp dir.
struct TlsFiles {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

/// Makes a throw-away CA and a server certificate for `localhost`/`127.0.0.1` in `dir`, or
/// `None` when the `openssl` CLI is missing.
fn make_tls(dir: &Path) -> Option<TlsFiles> {
    let openssl_works = Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !openssl_works {
        return None;
    }
    let files = TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    };
    let ext = dir.join("server-ext.cnf");
    std::fs::write(
        &ext,
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write certificate extensions");
    let ca_key = dir.join("ca.key");
    let csr = dir.join("server.csr");
    run(Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3",
        ])
        .args(["-subj", "/CN=sluice-test-ca"])
        .args(["-addext", "basicConstraints=critical,CA:TRUE"])
        .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        .arg("-keyout")
        .arg(&ca_key)
        .arg("-out")
        .arg(&files.ca)
        .stderr(Stdio::null()));
    run(Command::new("openssl")
        .args([
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(&files.key)
        .arg("-out")
        .arg(&csr)
        .stderr(Stdio::null()));
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "3", "-set_serial", "1"])
        .arg("-in")
        .arg(&csr)
        .arg("-CA")
        .arg(&files.ca)
        .arg("-CAkey")
        .arg(&ca_key)
        .arg("-extfile")
        .arg(&ext)
        .arg("-out")
        .arg(&files.cert)
        .stderr(Stdio::null()));
    // PostgreSQL refuses a key others can read.
    run(Command::new("chmod").arg("600").arg(&files.key));
    Some(files)
}

#[derive(Clone, Copy)]
enum Kind {
    Postgres,
    Mariadb,
}

/// User and password every test server accepts over TCP.
pub const USER: &str = "sluice";
/// The password of [`USER`].
pub const PASSWORD: &str = "sluice-test";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn is_root() -> bool {
    // The uid is the owner of /proc/self.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

fn pg_bin(tool: &str) -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    versions.sort();
    versions
        .last()
        .map(|b| b.join(tool))
        .filter(|p| p.exists())
        .unwrap_or_else(|| panic!("PostgreSQL's {tool} is missing: run `make tools`"))
}

/// Starts `server_cmd` under a watchdog shell that stops it when our end of its stdin closes.
fn watchdog(server_cmd: &str, stop_signal: &str) -> Child {
    let script = format!(
        "{server_cmd} & pid=$!; echo STARTED; read -r _; kill -{stop_signal} $pid; wait $pid"
    );
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start database watchdog");
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    child
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn quote(p: &Path) -> String {
    format!("'{}'", p.display())
}

impl DbServer {
    /// Starts PostgreSQL with user [`USER`] (superuser, password auth over TCP).
    pub fn postgres() -> DbServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, PASSWORD).expect("write password file");
        let tls = make_tls(dir.path());
        let as_pg = if is_root() {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path()));
            "setpriv --reuid=postgres --regid=postgres --init-groups --"
        } else {
            ""
        };
        run(Command::new("sh").arg("-c").arg(format!(
            "{as_pg} {} -D {} -U {USER} --auth=scram-sha-256 --pwfile={} -E UTF8 --locale=C.UTF-8 >/dev/null",
            quote(&pg_bin("initdb")),
            quote(&data),
            quote(&pwfile)
        )));
        let port = free_port();
        let ssl = tls
            .as_ref()
            .map(|t| {
                format!(
                    " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                    quote(&t.cert),
                    quote(&t.key)
                )
            })
            .unwrap_or_default();
        let server = format!(
            "{as_pg} {} -D {} -p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off{ssl}",
            quote(&pg_bin("postgres")),
            quote(&data),
            quote(dir.path())
        );
        let watchdog = watchdog(&server, "INT");
        wait_for_port(port, "PostgreSQL");
        let db = DbServer {
            dir,
            port,
            watchdog,
            kind: Kind::Postgres,
            tls,
        };
        // Ready for queries, not just listening.
        let deadline = Instant::now() + Duration::from_secs(30);
        while db.try_sql("SELECT 1").is_err() {
            assert!(Instant::now() < deadline, "PostgreSQL is not answering");
            std::thread::sleep(Duration::from_millis(100));
        }
        db
    }

    /// Starts MariaDB with user [`USER`]@`%` (all privileges, password auth over TCP).
    pub fn mariadb() -> DbServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let user = if is_root() { "root" } else { "" };
        let user_arg = if user.is_empty() {
            String::new()
        } else {
            format!("--user={user}")
        };
        // The bootstrap server mariadb-install-db runs has been seen to fail once on a loaded
        // machine (and pass when run again): up to three attempts on a fresh data folder,
        // failing with the last attempt's output.
        let log = dir.path().join("install-db.log");
        let mut attempt = 0;
        loop {
            attempt += 1;
            let _ = std::fs::remove_dir_all(&data);
            let status = Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "mariadb-install-db --no-defaults {user_arg} --datadir={} --auth-root-authentication-method=socket --skip-test-db >{} 2>&1",
                    quote(&data),
                    quote(&log)
                ))
                .status()
                .expect("run mariadb-install-db");
            if status.success() {
                break;
            }
            let output = std::fs::read_to_string(&log).unwrap_or_default();
            assert!(
                attempt < 3,
                "mariadb-install-db failed {attempt} times ({status}); last output:\n{}",
                output
                    .lines()
                    .rev()
                    .take(40)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        let port = free_port();
        let socket = dir.path().join("mysqld.sock");
        let tls = make_tls(dir.path());
        let ssl = tls
            .as_ref()
            .map(|t| {
                format!(
                    " --ssl-ca={} --ssl-cert={} --ssl-key={}",
                    quote(&t.ca),
                    quote(&t.cert),
                    quote(&t.key)
                )
            })
            .unwrap_or_default();
        let server = format!(
            "mariadbd --no-defaults {user_arg} --datadir={} --port={port} --bind-address=127.0.0.1 --socket={} --pid-file={} --skip-name-resolve --innodb-flush-log-at-trx-commit=0 --skip-log-bin{ssl}",
            quote(&data),
            quote(&socket),
            quote(&dir.path().join("mysqld.pid"))
        );
        let watchdog = watchdog(&server, "TERM");
        wait_for_port(port, "MariaDB");
        let db = DbServer {
            dir,
            port,
            watchdog,
            kind: Kind::Mariadb,
            tls,
        };
        run(Command::new("mariadb")
            .arg(format!("--socket={}", socket.display()))
            .args(["-u", "root", "-e"])
            .arg(format!(
                "CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}'; GRANT ALL ON *.* TO '{USER}'@'%' WITH GRANT OPTION;"
            )));
        db
    }

    /// The PEM CA bundle that verifies the server's certificate (for `localhost` and
    /// `127.0.0.1`), or `None` when the server runs without TLS (no `openssl` CLI).
    pub fn ca_bundle(&self) -> Option<&Path> {
        self.tls.as_ref().map(|t| t.ca.as_path())
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for [`USER`] on database `db`.
    pub fn url(&self, db: &str) -> String {
        let scheme = match self.kind {
            Kind::Postgres => "postgres",
            Kind::Mariadb => "mysql",
        };
        format!("{scheme}://{USER}:{PASSWORD}@127.0.0.1:{}/{db}", self.port)
    }

    /// Runs SQL with the engine's command-line client over TCP; tab-separated rows.
    pub fn try_sql(&self, sql: &str) -> Result<String, String> {
        let mut cmd = match self.kind {
            Kind::Postgres => {
                let mut c = Command::new(pg_bin("psql"));
                c.env("PGPASSWORD", PASSWORD)
                    .args(["-h", "127.0.0.1", "-U", USER, "-d", "postgres"])
                    .args(["-v", "ON_ERROR_STOP=1", "-X", "-q", "-A", "-t", "-F", "\t"])
                    .arg("-p")
                    .arg(self.port.to_string())
                    .arg("-c")
                    .arg(sql);
                c
            }
            Kind::Mariadb => {
                let mut c = Command::new("mariadb");
                c.env("MYSQL_PWD", PASSWORD)
                    .args(["-h", "127.0.0.1", "-u", USER, "-N", "-B"])
                    .arg(format!("--port={}", self.port))
                    .arg("-e")
                    .arg(sql);
                c
            }
        };
        let out = cmd.output().map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// Runs SQL and panics with the engine's message on failure.
    pub fn sql(&self, sql: &str) -> String {
        self.try_sql(sql)
            .unwrap_or_else(|e| panic!("SQL failed: {sql}: {e}"))
    }

    /// The server's temp dir (data, socket, logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for DbServer {
    fn drop(&mut self) {
        // Closing the watchdog's stdin stops the server cleanly; wait for it to finish.
        drop(self.watchdog.stdin.take());
        let _ = self.watchdog.wait();
    }
}
