//! A stand-in for the parts of RDS that moto lacks: `DescribeDBLogFiles` (Query API) and the
//! REST download `GET /v13/downloadCompleteLogFile/<instance>/<file>`, served from files in a
//! temp dir (`<dir>/<instance>/<file name with folders>`; last-written = the file's mtime).
//!
//! Every request's SigV4 signature is checked (service `rds`, us-east-1, `testing`/`testing`,
//! session token `testing` when sent): a bad one gets 403. Every other Query action
//! (`DescribeDBInstances`, `ListTagsForResource`, …) is forwarded to moto when the endpoint was
//! started with [`RdsLogs::with_moto`], so a function needs only `AWS_ENDPOINT_URL_RDS` pointed
//! here. Faults ([`Fault`]) are injected per request kind; [`Counts`] tells tests what was asked.

mod query;
mod server;
mod verify;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use tempfile::TempDir;

/// Which requests a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `DescribeDBLogFiles`.
    Describe,
    /// The REST download.
    Download,
}

/// A fault for the next `times` matching requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Describe: 400 `Throttling` XML; download: 429.
    Throttle {
        /// Which requests.
        target: Target,
        /// How many.
        times: u32,
    },
    /// 503 Service Unavailable.
    ServerError {
        /// Which requests.
        target: Target,
        /// How many.
        times: u32,
    },
    /// A download that sends `after_bytes` and then drops the connection. Only a file longer
    /// than `after_bytes` takes it.
    Disconnect {
        /// Bytes sent before the cut.
        after_bytes: u64,
        /// How many downloads.
        times: u32,
    },
    /// A download answered 200 with an empty body (as a MySQL error log can be).
    EmptyBody {
        /// How many downloads.
        times: u32,
    },
    /// A download during which RDS rotates the file away: after `after_bytes` are sent the
    /// file is deleted (no longer listed or served) and the connection drops. Only a file
    /// longer than `after_bytes` takes it.
    RotateAway {
        /// Bytes sent before the file goes.
        after_bytes: u64,
        /// How many downloads.
        times: u32,
    },
    /// A download during which `bytes` are appended to the file (after its first chunk).
    Grow {
        /// What is appended.
        bytes: Vec<u8>,
        /// How many downloads.
        times: u32,
    },
}

/// Requests seen, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// `DescribeDBLogFiles` calls (pages).
    pub describe: u64,
    /// Downloads started (including refused ones).
    pub download: u64,
    /// Requests forwarded to moto.
    pub proxied: u64,
    /// Requests refused for their signature.
    pub rejected: u64,
}

#[derive(Debug, Default)]
struct Counters {
    describe: AtomicU64,
    download: AtomicU64,
    proxied: AtomicU64,
    rejected: AtomicU64,
}

/// What the server and the test share.
#[derive(Debug)]
struct Shared {
    root: PathBuf,
    moto: Option<String>,
    page_size: AtomicUsize,
    faults: Mutex<Vec<Fault>>,
    missing: Mutex<Vec<String>>,
    counters: Counters,
    http: reqwest::Client,
}

impl Shared {
    fn path(&self, instance: &str, name: &str) -> PathBuf {
        self.root.join(instance).join(name.trim_start_matches('/'))
    }

    /// Takes one use of the first fault matching `pick`.
    fn take_fault<T>(&self, pick: impl Fn(&Fault) -> Option<T>) -> Option<T> {
        let mut faults = self
            .faults
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (i, out) = faults
            .iter()
            .enumerate()
            .find_map(|(i, f)| pick(f).map(|o| (i, o)))?;
        let times = match &mut faults[i] {
            Fault::Throttle { times, .. }
            | Fault::ServerError { times, .. }
            | Fault::Disconnect { times, .. }
            | Fault::RotateAway { times, .. }
            | Fault::EmptyBody { times }
            | Fault::Grow { times, .. } => {
                *times = times.saturating_sub(1);
                *times
            }
        };
        if times == 0 {
            faults.remove(i);
        }
        Some(out)
    }
}

/// The running endpoint; it stops when dropped.
pub struct RdsLogs {
    shared: Arc<Shared>,
    port: u16,
    _dir: TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl RdsLogs {
    /// Starts an endpoint that answers only log-file requests.
    pub fn start() -> RdsLogs {
        Self::launch(None)
    }

    /// Starts an endpoint that forwards every other RDS Query action to moto.
    pub fn with_moto(moto_endpoint: &str) -> RdsLogs {
        Self::launch(Some(moto_endpoint.trim_end_matches('/').to_owned()))
    }

    fn launch(moto: Option<String>) -> RdsLogs {
        let dir = tempfile::tempdir().expect("temp dir for RDS log files");
        let shared = Arc::new(Shared {
            root: dir.path().to_path_buf(),
            moto,
            page_size: AtomicUsize::new(0),
            faults: Mutex::new(Vec::new()),
            missing: Mutex::new(Vec::new()),
            counters: Counters::default(),
            http: reqwest::Client::new(),
        });
        let (port, stop) = crate::serve::spawn(
            "RDS log endpoint",
            axum::Router::new()
                .fallback(server::handle)
                .with_state(shared.clone()),
        );
        RdsLogs {
            shared,
            port,
            _dir: dir,
            _stop: stop,
        }
    }

    /// The endpoint URL, for `AWS_ENDPOINT_URL_RDS`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `("AWS_ENDPOINT_URL_RDS", endpoint)`, for a function's environment.
    pub fn env(&self) -> (String, String) {
        ("AWS_ENDPOINT_URL_RDS".to_owned(), self.endpoint())
    }

    /// Where an instance's files live (`<dir>/<instance>/…`).
    pub fn dir(&self) -> &Path {
        &self.shared.root
    }

    /// Makes `instance` exist, even with no log file.
    pub fn add_instance(&self, instance: &str) {
        std::fs::create_dir_all(self.shared.root.join(instance)).expect("create instance dir");
    }

    /// Writes (replaces) a log file.
    pub fn write(&self, instance: &str, name: &str, bytes: &[u8]) {
        let path = self.shared.path(instance, name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create log dir");
        }
        std::fs::write(&path, bytes).expect("write log file");
    }

    /// Appends to a log file.
    pub fn append(&self, instance: &str, name: &str, bytes: &[u8]) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.shared.path(instance, name))
            .expect("open log file");
        f.write_all(bytes).expect("append to log file");
    }

    /// Deletes a log file (rotated away).
    pub fn remove(&self, instance: &str, name: &str) {
        std::fs::remove_file(self.shared.path(instance, name)).expect("remove log file");
    }

    /// Sets a file's last-written time (Unix ms).
    pub fn set_last_written(&self, instance: &str, name: &str, ms: u64) {
        let f = std::fs::File::options()
            .write(true)
            .open(self.shared.path(instance, name))
            .expect("open log file");
        f.set_modified(UNIX_EPOCH + Duration::from_millis(ms))
            .expect("set mtime");
    }

    /// Caps `DescribeDBLogFiles` pages at `n` records (0: no cap beyond `MaxRecords`).
    pub fn set_page_size(&self, n: usize) {
        self.shared.page_size.store(n, Ordering::SeqCst);
    }

    /// Queues a fault.
    pub fn inject(&self, fault: Fault) {
        self.shared.faults.lock().expect("faults").push(fault);
    }

    /// Makes every request about `instance` answer `DBInstanceNotFound`.
    pub fn fail_instance(&self, instance: &str) {
        self.shared
            .missing
            .lock()
            .expect("missing")
            .push(instance.to_owned());
    }

    /// Requests seen so far.
    pub fn counts(&self) -> Counts {
        let c = &self.shared.counters;
        Counts {
            describe: c.describe.load(Ordering::SeqCst),
            download: c.download.load(Ordering::SeqCst),
            proxied: c.proxied.load(Ordering::SeqCst),
            rejected: c.rejected.load(Ordering::SeqCst),
        }
    }
}
