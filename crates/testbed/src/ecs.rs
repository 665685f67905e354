//! An ECS stand-in that runs each Fargate task as a local process.
//!
//! moto's ECS never reports a non-zero exit code, so the test bed answers the task calls itself:
//! `RunTask`, `DescribeTasks`, `ListTasks` and `StopTask` (awsJson1_1, `X-Amz-Target:
//! AmazonEC2ContainerServiceV20141113.<Op>`). Product code reaches it through
//! `AWS_ENDPOINT_URL_ECS` = [`FakeEcs::endpoint`]; signatures are not checked.
//!
//! Each `RunTask` asks the test's [`Launcher`] for a command built from the [`TaskLaunch`] (the
//! cluster, task definition, `startedBy`, container and its environment overrides). The process
//! runs with stdout and stderr captured; the task is `RUNNING` while it runs and `STOPPED`, with
//! the container's exit code, once it has exited. A launcher error becomes a `failures` entry.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::moto::{ACCOUNT, REGION};

/// The `X-Amz-Target` prefix of the ECS API.
const TARGET_PREFIX: &str = "AmazonEC2ContainerServiceV20141113.";
/// How long `StopTask` waits for a killed process to be reaped.
const STOP_WAIT: Duration = Duration::from_secs(5);
/// How long a finished process's output pipes may stay open (held by a grandchild).
const DRAIN_WAIT: Duration = Duration::from_secs(2);

/// What a task was asked to run: handed to the [`Launcher`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskLaunch {
    /// The cluster's name (an ARN is reduced to its name).
    pub cluster: String,
    /// The task definition as sent (family, `family:revision` or ARN).
    pub task_definition: String,
    /// `startedBy`, when sent.
    pub started_by: Option<String>,
    /// The first container override's name, else the task definition's family.
    pub container: String,
    /// `containerOverrides[0].environment`, in order.
    pub environment: Vec<(String, String)>,
}

/// Builds the local command for a task; an `Err` is reported as a `RunTask` failure reason.
pub type Launcher =
    Arc<dyn Fn(&TaskLaunch) -> Result<tokio::process::Command, String> + Send + Sync>;

/// A task as the test sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRecord {
    /// The task ARN.
    pub arn: String,
    /// `startedBy`, when sent.
    pub started_by: Option<String>,
    /// `RUNNING` or `STOPPED`.
    pub last_status: String,
    /// The container's exit code, once its process exited by itself.
    pub exit_code: Option<i32>,
    /// Everything the process wrote to stdout so far.
    pub stdout: String,
    /// Everything the process wrote to stderr so far.
    pub stderr: String,
}

/// One task, server side.
#[derive(Debug)]
struct Task {
    arn: String,
    cluster: String,
    task_definition_arn: String,
    started_by: Option<String>,
    container: String,
    overrides: Value,
    tags: Value,
    last_status: &'static str,
    exit_code: Option<i32>,
    stopped_reason: Option<String>,
    stop_code: Option<&'static str>,
    stop_requested: bool,
    kill: Option<tokio::sync::oneshot::Sender<()>>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Task {
    fn stopped(&self) -> bool {
        self.last_status == "STOPPED"
    }

    fn to_json(&self) -> Value {
        let mut container = json!({
            "name": self.container,
            "lastStatus": self.last_status,
            "taskArn": self.arn,
        });
        if let Some(code) = self.exit_code {
            container["exitCode"] = json!(code);
        }
        let mut task = json!({
            "taskArn": self.arn,
            "clusterArn": cluster_arn(&self.cluster),
            "taskDefinitionArn": self.task_definition_arn,
            "lastStatus": self.last_status,
            "desiredStatus": if self.stopped() || self.stop_requested { "STOPPED" } else { "RUNNING" },
            "launchType": "FARGATE",
            "containers": [container],
            "overrides": self.overrides,
            "tags": self.tags,
        });
        if let Some(by) = &self.started_by {
            task["startedBy"] = json!(by);
        }
        if let Some(reason) = &self.stopped_reason {
            task["stoppedReason"] = json!(reason);
        }
        if let Some(code) = self.stop_code {
            task["stopCode"] = json!(code);
        }
        task
    }

    fn record(&self) -> TaskRecord {
        TaskRecord {
            arn: self.arn.clone(),
            started_by: self.started_by.clone(),
            last_status: self.last_status.to_owned(),
            exit_code: self.exit_code,
            stdout: String::from_utf8_lossy(&self.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&self.stderr).into_owned(),
        }
    }
}

/// What the server and the test share.
struct Shared {
    launcher: Launcher,
    tasks: Mutex<Vec<Task>>,
    requests: Mutex<Vec<Value>>,
    ids: AtomicU64,
    seed: RandomState,
}

impl Shared {
    fn tasks(&self) -> MutexGuard<'_, Vec<Task>> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn with_task(&self, arn: &str, f: impl FnOnce(&mut Task)) {
        if let Some(task) = self.tasks().iter_mut().find(|t| t.arn == arn) {
            f(task);
        }
    }

    /// 32 lowercase hex digits, unique within this stand-in.
    fn task_id(&self) -> String {
        let n = self.ids.fetch_add(1, Ordering::SeqCst);
        let half = |salt: u64| {
            let mut h = self.seed.build_hasher();
            h.write_u64(n);
            h.write_u64(salt);
            h.finish()
        };
        format!("{:016x}{:016x}", half(1), half(2))
    }
}

/// The running stand-in; it stops serving when dropped (its processes are killed).
pub struct FakeEcs {
    shared: Arc<Shared>,
    port: u16,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl FakeEcs {
    /// Starts the stand-in on a free loopback port, on a thread and runtime of its own.
    pub fn start(launcher: Launcher) -> FakeEcs {
        let shared = Arc::new(Shared {
            launcher,
            tasks: Mutex::new(Vec::new()),
            requests: Mutex::new(Vec::new()),
            ids: AtomicU64::new(0),
            seed: RandomState::new(),
        });
        let (port, stop) = crate::serve::spawn(
            "ECS stand-in",
            axum::Router::new()
                .fallback(handle)
                .with_state(shared.clone()),
        );
        FakeEcs {
            shared,
            port,
            _stop: stop,
        }
    }

    /// The endpoint URL, for `AWS_ENDPOINT_URL_ECS`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every `RunTask` request body, in order (including refused ones).
    pub fn run_task_requests(&self) -> Vec<Value> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every task started, in order.
    pub fn tasks(&self) -> Vec<TaskRecord> {
        self.shared.tasks().iter().map(Task::record).collect()
    }

    /// Waits until every task is `STOPPED`; `false` if some still runs after `timeout`.
    pub fn wait_all_stopped(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.shared.tasks().iter().all(Task::stopped) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn answer(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/x-amz-json-1.1")],
        body.to_string(),
    )
        .into_response()
}

fn error(code: &str, message: &str) -> Response {
    answer(
        StatusCode::BAD_REQUEST,
        &json!({ "__type": code, "message": message }),
    )
}

fn invalid(message: &str) -> Response {
    error("InvalidParameterException", message)
}

async fn handle(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(op) = target.strip_prefix(TARGET_PREFIX) else {
        return error(
            "UnknownOperationException",
            &format!("not an ECS target: {target:?}"),
        );
    };
    let request: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => return error("SerializationException", &e.to_string()),
        }
    };
    match op {
        "RunTask" => run_task(&shared, request),
        "DescribeTasks" => describe_tasks(&shared, &request),
        "ListTasks" => list_tasks(&shared, &request),
        "StopTask" => stop_task(&shared, &request).await,
        other => error(
            "UnknownOperationException",
            &format!("the ECS stand-in does not serve {other}"),
        ),
    }
}

/// A cluster name from a name or an ARN (`…:cluster/<name>`); `default` when absent.
fn cluster_name(request: &Value) -> String {
    let cluster = request["cluster"].as_str().unwrap_or("default");
    cluster
        .rsplit_once(":cluster/")
        .map_or(cluster, |(_, name)| name)
        .to_owned()
}

fn cluster_arn(name: &str) -> String {
    format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{name}")
}

/// A required string field; the `Err` is an `InvalidParameterException` message.
fn non_empty_str<'a>(v: &'a Value, field: &str) -> Result<&'a str, String> {
    match v[field].as_str() {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(format!("{field} is required")),
    }
}

fn run_task(shared: &Arc<Shared>, request: Value) -> Response {
    shared
        .requests
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(request.clone());
    match launch(shared, &request) {
        Ok(body) => answer(StatusCode::OK, &body),
        Err(message) => invalid(&message),
    }
}

/// Starts the task; the `Err` is an `InvalidParameterException` message.
fn launch(shared: &Arc<Shared>, request: &Value) -> Result<Value, String> {
    non_empty_str(request, "cluster")?;
    let task_definition = non_empty_str(request, "taskDefinition")?.to_owned();
    if request["launchType"].as_str() != Some("FARGATE") {
        return Err(
            "launchType must be FARGATE (the ECS stand-in runs Fargate tasks only)".to_owned(),
        );
    }
    let subnets = &request["networkConfiguration"]["awsvpcConfiguration"]["subnets"];
    if subnets.as_array().is_none_or(Vec::is_empty) {
        return Err(
            "networkConfiguration.awsvpcConfiguration.subnets must not be empty".to_owned(),
        );
    }
    match request.get("count").map(Value::as_i64) {
        None | Some(Some(1)) => {}
        Some(_) => return Err("count: the ECS stand-in runs 1 task per RunTask".to_owned()),
    }
    let started_by = request["startedBy"].as_str().map(str::to_owned);
    let overrides = request
        .get("overrides")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let first = &overrides["containerOverrides"][0];
    let family = task_definition
        .rsplit_once(":task-definition/")
        .map_or(task_definition.as_str(), |(_, f)| f);
    let family = family.split(':').next().unwrap_or(family).to_owned();
    let container = first["name"].as_str().map_or(family, str::to_owned);
    let mut environment = Vec::new();
    for pair in first["environment"].as_array().into_iter().flatten() {
        let name = pair["name"].as_str().unwrap_or_default().to_owned();
        let value = pair["value"].as_str().unwrap_or_default().to_owned();
        environment.push((name, value));
    }
    let cluster = cluster_name(request);
    let launch = TaskLaunch {
        cluster: cluster.clone(),
        task_definition: task_definition.clone(),
        started_by: started_by.clone(),
        container: container.clone(),
        environment,
    };
    let task_definition_arn = if task_definition.starts_with("arn:") {
        task_definition
    } else {
        format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{task_definition}")
    };
    let arn = format!(
        "arn:aws:ecs:{REGION}:{ACCOUNT}:task/{cluster}/{}",
        shared.task_id()
    );
    let command = (shared.launcher)(&launch);
    let mut command = match command {
        Ok(c) => c,
        Err(reason) => {
            return Ok(json!({
                "tasks": [],
                "failures": [{ "arn": task_definition_arn, "reason": reason }],
            }));
        }
    };
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    let child = match command.spawn() {
        Ok(c) => c,
        Err(e) => {
            let reason = format!("CannotStartContainerError: {e}");
            return Ok(json!({
                "tasks": [],
                "failures": [{ "arn": task_definition_arn, "reason": reason }],
            }));
        }
    };
    let (kill, killed) = tokio::sync::oneshot::channel();
    let task = Task {
        arn: arn.clone(),
        cluster,
        task_definition_arn,
        started_by,
        container,
        overrides,
        tags: request.get("tags").cloned().unwrap_or_else(|| json!([])),
        last_status: "RUNNING",
        exit_code: None,
        stopped_reason: None,
        stop_code: None,
        stop_requested: false,
        kill: Some(kill),
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    let body = json!({ "tasks": [task.to_json()], "failures": [] });
    shared.tasks().push(task);
    tokio::spawn(monitor(shared.clone(), arn, child, killed));
    Ok(body)
}

/// Which output stream a reader appends to.
#[derive(Clone, Copy)]
enum Stream {
    Out,
    Err,
}

async fn drain(shared: Arc<Shared>, arn: String, stream: Stream, mut pipe: impl AsyncRead + Unpin) {
    let mut buf = vec![0u8; 8192];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => shared.with_task(&arn, |t| match stream {
                Stream::Out => t.stdout.extend_from_slice(&buf[..n]),
                Stream::Err => t.stderr.extend_from_slice(&buf[..n]),
            }),
        }
    }
}

/// Kills a task's whole process group (the launcher's command may have forked).
fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Watches one task's process until it exits (or is killed), then marks the task stopped.
async fn monitor(
    shared: Arc<Shared>,
    arn: String,
    mut child: tokio::process::Child,
    killed: tokio::sync::oneshot::Receiver<()>,
) {
    let pid = child.id();
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(tokio::spawn(drain(
            shared.clone(),
            arn.clone(),
            Stream::Out,
            out,
        )));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(tokio::spawn(drain(
            shared.clone(),
            arn.clone(),
            Stream::Err,
            err,
        )));
    }
    let (status, by_user) = tokio::select! {
        status = child.wait() => (status.ok(), false),
        Ok(()) = killed => {
            kill_group(pid);
            let _ = child.start_kill();
            let _ = child.wait().await;
            (None, true)
        }
    };
    let drained = async {
        for reader in readers {
            let _ = reader.await;
        }
    };
    if tokio::time::timeout(DRAIN_WAIT, drained).await.is_err() {
        // A grandchild holds the pipes open: the task is over all the same.
        kill_group(pid);
    }
    shared.with_task(&arn, |t| {
        t.last_status = "STOPPED";
        t.kill = None;
        if by_user {
            t.exit_code = None;
            return;
        }
        t.exit_code = status.and_then(|s| s.code());
        if t.stop_requested {
            // StopTask came after the process had exited by itself: keep the user's reason.
            return;
        }
        t.stopped_reason = Some("Essential container in task exited".to_owned());
        t.stop_code = Some("EssentialContainerExited");
    });
}

fn describe_tasks(shared: &Shared, request: &Value) -> Response {
    let Some(wanted) = request["tasks"].as_array() else {
        return invalid("tasks is required");
    };
    let cluster = cluster_name(request);
    let tasks = shared.tasks();
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for id in wanted {
        let id = id.as_str().unwrap_or_default();
        let task = tasks
            .iter()
            .find(|t| t.cluster == cluster && (t.arn == id || t.arn.ends_with(&format!("/{id}"))));
        match task {
            Some(t) => found.push(t.to_json()),
            None => failures.push(json!({ "arn": id, "reason": "MISSING" })),
        }
    }
    answer(
        StatusCode::OK,
        &json!({ "tasks": found, "failures": failures }),
    )
}

fn list_tasks(shared: &Shared, request: &Value) -> Response {
    let cluster = cluster_name(request);
    let started_by = request["startedBy"].as_str();
    let want_stopped = match request["desiredStatus"].as_str() {
        None | Some("RUNNING") => false,
        Some("STOPPED") => true,
        Some(other) => return invalid(&format!("desiredStatus {other:?} is not valid")),
    };
    let arns: Vec<String> = shared
        .tasks()
        .iter()
        .filter(|t| t.cluster == cluster)
        .filter(|t| started_by.is_none_or(|by| t.started_by.as_deref() == Some(by)))
        .filter(|t| (t.stopped() || t.stop_requested) == want_stopped)
        .map(|t| t.arn.clone())
        .collect();
    answer(StatusCode::OK, &json!({ "taskArns": arns }))
}

async fn stop_task(shared: &Shared, request: &Value) -> Response {
    let Some(id) = request["task"].as_str().filter(|s| !s.is_empty()) else {
        return invalid("task is required");
    };
    let cluster = cluster_name(request);
    let reason = request["reason"]
        .as_str()
        .unwrap_or("Task stopped by user")
        .to_owned();
    let arn = {
        let mut tasks = shared.tasks();
        let Some(task) = tasks
            .iter_mut()
            .find(|t| t.cluster == cluster && (t.arn == id || t.arn.ends_with(&format!("/{id}"))))
        else {
            return invalid(&format!("The referenced task was not found: {id}"));
        };
        if !task.stopped() {
            task.stop_requested = true;
            task.stopped_reason = Some(reason);
            task.stop_code = Some("UserInitiated");
            if let Some(kill) = task.kill.take() {
                let _ = kill.send(());
            }
        }
        task.arn.clone()
    };
    let deadline = Instant::now() + STOP_WAIT;
    loop {
        let json = {
            let tasks = shared.tasks();
            tasks
                .iter()
                .find(|t| t.arn == arn)
                .filter(|t| t.stopped() || Instant::now() >= deadline)
                .map(Task::to_json)
        };
        if let Some(task) = json {
            return answer(StatusCode::OK, &json!({ "task": task }));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
