//! A local Lambda host: runs a function's real binary against a Lambda runtime API of our
//! own and serves the Lambda Invoke API so anything (a test, the ASL runner) can invoke it by
//! name.
//!
//! Runtime API: <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>. Invoke
//! answers as AWS does: `200` with the result, or `200` with `X-Amz-Function-Error` and the
//! `{"errorType","errorMessage"}` payload when the handler failed.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{mpsc, oneshot};

use crate::moto::{ACCOUNT, REGION};

/// How long one invocation may take before the host gives up on it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// A handler failure as the Invoke API reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error_type}: {error_message}")]
pub struct FunctionError {
    /// The `errorType` (the `Diagnostic`'s, or `Runtime.*`/`Sandbox.*` from the host).
    pub error_type: String,
    /// The `errorMessage`.
    pub error_message: String,
}

impl FunctionError {
    fn host(error_type: &str, message: impl Into<String>) -> Self {
        Self {
            error_type: error_type.into(),
            error_message: message.into(),
        }
    }

    fn from_payload(body: &[u8]) -> Self {
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        Self {
            error_type: v["errorType"].as_str().unwrap_or("Unhandled").to_owned(),
            error_message: v["errorMessage"].as_str().unwrap_or_default().to_owned(),
        }
    }

    fn payload(&self) -> Value {
        serde_json::json!({"errorType": self.error_type, "errorMessage": self.error_message})
    }
}

type Outcome = Result<Bytes, FunctionError>;

struct Pending {
    payload: Bytes,
    reply: oneshot::Sender<Outcome>,
}

struct Function {
    queue: mpsc::UnboundedSender<Pending>,
    next: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>,
    inflight: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    logs: Arc<Mutex<Vec<u8>>>,
    dead: Mutex<Option<String>>,
    timeout: Duration,
    /// Just before the process was started.
    started: Instant,
    /// When the process first asked for an event: its init was done.
    ready: OnceLock<Instant>,
    /// Signalled when `ready` or `dead` is set.
    ready_signal: tokio::sync::Notify,
}

impl Function {
    fn fail_all(&self, err: &FunctionError) {
        let inflight: Vec<_> = lock(&self.inflight).drain().collect();
        for (_, tx) in inflight {
            let _ = tx.send(Err(err.clone()));
        }
    }
}

/// Options for one function on the host.
#[derive(Debug, Clone, Default)]
pub struct FunctionSpec {
    /// Environment variables (e.g. the moto env and the function's config).
    pub env: Vec<(String, String)>,
    /// Per-invocation timeout; [`DEFAULT_TIMEOUT`] when `None`.
    pub timeout: Option<Duration>,
    /// Echo the function's output to this process's stderr as it comes.
    pub echo: bool,
}

/// The host: a background runtime serving the Invoke API and one runtime API per function.
pub struct LambdaHost {
    rt: Option<tokio::runtime::Runtime>,
    functions: Arc<Mutex<HashMap<String, Arc<Function>>>>,
    invoke_addr: SocketAddr,
}

impl Drop for LambdaHost {
    fn drop(&mut self) {
        // Dropping the runtime drops the watcher tasks, which kills the processes.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

fn bind_loopback() -> (std::net::TcpListener, SocketAddr) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback port");
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let addr = listener.local_addr().expect("listener address");
    (listener, addr)
}

async fn serve(listener: std::net::TcpListener, app: Router) {
    if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
        let _ = axum::serve(listener, app).await;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

static REQUEST_SEQ: AtomicU64 = AtomicU64::new(1);

/// Lambda's synchronous payload limit, each way: 6 MB, which its errors spell 6291456 bytes
/// (<https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html>). axum's own
/// default (2 MB) would refuse responses Lambda takes.
const PAYLOAD_LIMIT: usize = 6 * 1024 * 1024;

impl LambdaHost {
    /// Starts the host's Invoke API on a free loopback port.
    pub fn start() -> LambdaHost {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("lambda host runtime");
        let functions: Arc<Mutex<HashMap<String, Arc<Function>>>> = Arc::default();
        let (listener, invoke_addr) = bind_loopback();
        let app = Router::new()
            .route(
                "/2015-03-31/functions/{name}/invocations",
                post(invoke_route),
            )
            .layer(DefaultBodyLimit::max(PAYLOAD_LIMIT))
            .with_state(functions.clone());
        rt.spawn(serve(listener, app));
        LambdaHost {
            rt: Some(rt),
            functions,
            invoke_addr,
        }
    }

    fn rt(&self) -> &tokio::runtime::Runtime {
        self.rt.as_ref().expect("runtime lives until drop")
    }

    /// A host running the workspace binary `name` as function `name` with `env`.
    pub fn serving(name: &str, env: Vec<(String, String)>) -> LambdaHost {
        let host = LambdaHost::start();
        host.add_function(
            name,
            &crate::paths::bin_path(name),
            FunctionSpec {
                env,
                ..FunctionSpec::default()
            },
        );
        host
    }

    /// The Invoke API base URL (what the ASL runner's `--lambda-endpoint` takes).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.invoke_addr)
    }

    /// Starts `binary` as function `name`: its own runtime API on a free port, the standard
    /// Lambda environment variables, plus `spec.env`.
    pub fn add_function(&self, name: &str, binary: &Path, spec: FunctionSpec) {
        let (tx, rx) = mpsc::unbounded_channel();
        let function = Arc::new(Function {
            queue: tx,
            next: tokio::sync::Mutex::new(rx),
            inflight: Mutex::default(),
            logs: Arc::default(),
            dead: Mutex::default(),
            timeout: spec.timeout.unwrap_or(DEFAULT_TIMEOUT),
            started: Instant::now(),
            ready: OnceLock::new(),
            ready_signal: tokio::sync::Notify::new(),
        });
        let rt = self.rt();
        let _guard = rt.enter();
        let (listener, api_addr) = bind_loopback();
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next_route))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response_route),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/error",
                post(error_route),
            )
            .route("/2018-06-01/runtime/init/error", post(init_error_route))
            .layer(DefaultBodyLimit::max(PAYLOAD_LIMIT))
            .with_state((name.to_owned(), function.clone()));
        rt.spawn(serve(listener, app));

        let mut cmd = tokio::process::Command::new(binary);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", api_addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
            .env("AWS_REGION", REGION)
            .env("AWS_DEFAULT_REGION", REGION)
            .env("RUST_LOG", "info")
            .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
        ]
        .into_iter()
        .flatten()
        {
            let logs = function.logs.clone();
            let echo = spec.echo;
            let fname = name.to_owned();
            rt.spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if echo {
                        use std::io::Write;
                        let _ = writeln!(std::io::stderr().lock(), "[{fname}] {line}");
                    }
                    let mut buf = lock(&logs);
                    buf.extend_from_slice(line.as_bytes());
                    buf.push(b'\n');
                }
            });
        }
        // The watcher owns the process: when it exits, pending invocations fail as Lambda's
        // would; when the host is dropped, the task is dropped and the process killed.
        let watched = function.clone();
        rt.spawn(async move {
            let status = child.wait().await;
            let err = FunctionError::host(
                "Runtime.ExitError",
                format!("the function's process exited: {status:?}"),
            );
            *lock(&watched.dead) = Some(err.error_message.clone());
            watched.ready_signal.notify_waiters();
            watched.fail_all(&err);
            if let Ok(mut rx) = watched.next.try_lock() {
                while let Ok(p) = rx.try_recv() {
                    let _ = p.reply.send(Err(err.clone()));
                }
            }
        });
        lock(&self.functions).insert(name.to_owned(), function);
    }

    /// Invokes function `name` with `payload` and waits for its result.
    pub async fn invoke(&self, name: &str, payload: &Value) -> Result<Value, FunctionError> {
        let body = Bytes::from(serde_json::to_vec(payload).unwrap_or_default());
        let out = self.invoke_bytes(name, body).await?;
        Ok(serde_json::from_slice(&out).unwrap_or(Value::Null))
    }

    /// Invokes function `name` with the JSON text `payload` and waits for the JSON text of its
    /// result: the bytes the runtime API carries each way, as Lambda's Invoke API does, without
    /// going through a [`Value`] (benchmarks time this, not a JSON round trip of their own).
    pub async fn invoke_bytes(&self, name: &str, payload: Bytes) -> Result<Bytes, FunctionError> {
        let function = lock(&self.functions)
            .get(name)
            .cloned()
            .ok_or_else(|| FunctionError::host("ResourceNotFoundException", name))?;
        dispatch(&function, payload).await
    }

    /// The function's init time, as Lambda reports it: from the start of its process to its
    /// first request for an event (config read, clients built, runtime started). Waits up to
    /// `limit`; `None` when the function died first or took longer.
    pub async fn init_duration(&self, name: &str, limit: Duration) -> Option<Duration> {
        let function = lock(&self.functions).get(name).cloned()?;
        let wait = async {
            loop {
                let signal = function.ready_signal.notified();
                if let Some(ready) = function.ready.get() {
                    return Some(ready.duration_since(function.started));
                }
                if lock(&function.dead).is_some() {
                    return None;
                }
                signal.await;
            }
        };
        tokio::time::timeout(limit, wait).await.ok().flatten()
    }

    /// Everything the function has written to stdout and stderr so far.
    pub fn logs(&self, name: &str) -> String {
        lock(&self.functions)
            .get(name)
            .map(|f| String::from_utf8_lossy(&lock(&f.logs)).into_owned())
            .unwrap_or_default()
    }
}

async fn dispatch(function: &Function, payload: Bytes) -> Outcome {
    if let Some(why) = lock(&function.dead).clone() {
        return Err(FunctionError::host("Runtime.ExitError", why));
    }
    let (reply, rx) = oneshot::channel();
    function
        .queue
        .send(Pending { payload, reply })
        .map_err(|_| FunctionError::host("Runtime.ExitError", "function stopped"))?;
    match tokio::time::timeout(function.timeout, rx).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(_)) => Err(FunctionError::host("Runtime.ExitError", "no reply")),
        Err(_) => Err(FunctionError::host(
            "Sandbox.Timedout",
            format!("Task timed out after {:?}", function.timeout),
        )),
    }
}

type Functions = Arc<Mutex<HashMap<String, Arc<Function>>>>;

async fn invoke_route(
    State(functions): State<Functions>,
    UrlPath(name): UrlPath<String>,
    body: Bytes,
) -> Response {
    let name = name.rsplit(':').next().map(str::to_owned).unwrap_or(name);
    let Some(function) = lock(&functions).get(&name).cloned() else {
        let msg =
            serde_json::json!({"Type": "User", "message": format!("Function not found: {name}")});
        return (StatusCode::NOT_FOUND, msg.to_string()).into_response();
    };
    match dispatch(&function, body).await {
        Ok(out) => (StatusCode::OK, out).into_response(),
        Err(e) => {
            let mut headers = HeaderMap::new();
            headers.insert(
                "X-Amz-Function-Error",
                HeaderValue::from_static("Unhandled"),
            );
            (StatusCode::OK, headers, e.payload().to_string()).into_response()
        }
    }
}

type FnState = (String, Arc<Function>);

async fn next_route(State((name, function)): State<FnState>) -> Response {
    if function.ready.set(Instant::now()).is_ok() {
        function.ready_signal.notify_waiters();
    }
    let pending = {
        let mut rx = function.next.lock().await;
        rx.recv().await
    };
    let Some(pending) = pending else {
        return StatusCode::GONE.into_response();
    };
    if let Some(why) = lock(&function.dead).clone() {
        let _ = pending
            .reply
            .send(Err(FunctionError::host("Runtime.ExitError", why)));
        return StatusCode::GONE.into_response();
    }
    let id = format!(
        "00000000-0000-4000-8000-{:012x}",
        REQUEST_SEQ.fetch_add(1, Ordering::Relaxed)
    );
    lock(&function.inflight).insert(id.clone(), pending.reply);
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| (d + function.timeout).as_millis())
        .unwrap_or_default();
    let arn = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}");
    let mut headers = HeaderMap::new();
    let mut put = |k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            headers.insert(k, v);
        }
    };
    put("Lambda-Runtime-Aws-Request-Id", id);
    put("Lambda-Runtime-Deadline-Ms", deadline.to_string());
    put("Lambda-Runtime-Invoked-Function-Arn", arn);
    put(
        "Lambda-Runtime-Trace-Id",
        "Root=1-00000000-000000000000000000000000;Sampled=0".into(),
    );
    (StatusCode::OK, headers, pending.payload).into_response()
}

async fn response_route(
    State((_, function)): State<FnState>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    if let Some(tx) = lock(&function.inflight).remove(&id) {
        let _ = tx.send(Ok(body));
    }
    StatusCode::ACCEPTED
}

async fn error_route(
    State((_, function)): State<FnState>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    if let Some(tx) = lock(&function.inflight).remove(&id) {
        let _ = tx.send(Err(FunctionError::from_payload(&body)));
    }
    StatusCode::ACCEPTED
}

async fn init_error_route(State((_, function)): State<FnState>, body: Bytes) -> StatusCode {
    let err = FunctionError::from_payload(&body);
    *lock(&function.dead) = Some(format!("init failed: {err}"));
    function.ready_signal.notify_waiters();
    function.fail_all(&err);
    StatusCode::ACCEPTED
}
