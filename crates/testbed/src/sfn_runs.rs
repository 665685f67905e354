//! Step Functions executions of one state machine that really run, for a pipeline that starts
//! another one (backup actions start sanitized-snapshot runs): moto's executions never end.
//!
//! [`RealRuns::route`] sends a proxy's `StartExecution` and `DescribeExecution` of one machine's
//! executions here (after the IAM gate judged them; the rest still goes to moto). A
//! `StartExecution` hands its name and input to the [`Runner`] on a
//! thread of its own (the real ASL, as [`crate::sanitized::Stage::run_named`] runs it) and
//! answers as Step Functions does; the same name and input again is the same execution.
//! `DescribeExecution` of such an execution answers its status, output or error and cause,
//! holding the answer up to [`HOLD`] while it runs, so a caller polling with zero retry
//! intervals does not spend its attempts before the run ends.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// How long a `DescribeExecution` of a running execution is held before it answers `RUNNING`.
pub const HOLD: Duration = Duration::from_secs(20);

/// A state machine named `name` in moto, for a function's `StartExecution` (its definition is
/// a placeholder: the stage runs the real ASL itself). Returns its ARN.
pub async fn placeholder_machine(sdk: &aws_config::SdkConfig, name: &str) -> String {
    aws_sdk_sfn::Client::new(sdk)
        .create_state_machine()
        .name(name)
        .definition(r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#)
        .role_arn("arn:aws:iam::123456789012:role/sluice-test")
        .send()
        .await
        .expect("CreateStateMachine")
        .state_machine_arn()
        .to_owned()
}

/// The executions of `machine` in moto, as (name, input).
pub async fn executions_of(sdk: &aws_config::SdkConfig, machine: &str) -> Vec<(String, Value)> {
    let sfn = aws_sdk_sfn::Client::new(sdk);
    let listed = sfn
        .list_executions()
        .state_machine_arn(machine)
        .send()
        .await
        .expect("ListExecutions");
    let mut out = Vec::new();
    for e in listed.executions() {
        let described = sfn
            .describe_execution()
            .execution_arn(e.execution_arn())
            .send()
            .await
            .expect("DescribeExecution");
        let input = described
            .input()
            .and_then(|i| serde_json::from_str(i).ok())
            .unwrap_or(Value::Null);
        out.push((e.name().to_owned(), input));
    }
    out
}

/// How an execution ended: `SUCCEEDED` with its output, or `FAILED` with error and cause.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// `SUCCEEDED` or `FAILED`.
    pub status: String,
    /// The output (JSON), when it succeeded.
    pub output: Option<Value>,
    /// The error name, when it failed.
    pub error: Option<String>,
    /// The cause, when it failed.
    pub cause: Option<String>,
}

/// Runs one execution, given its name and input, to its end (called on a thread of its own).
pub type Runner = Arc<dyn Fn(String, Value) -> Outcome + Send + Sync>;

struct Run {
    name: String,
    input: String,
    started: f64,
    outcome: Option<Outcome>,
}

struct Shared {
    machine: String,
    runner: Runner,
    runs: Mutex<HashMap<String, Run>>,
    ended: tokio::sync::Notify,
}

/// The running stand-in; it stops when dropped.
pub struct RealRuns {
    port: u16,
    machine: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl RealRuns {
    /// Runs the executions of `machine` with `runner`.
    pub fn start(machine: &str, runner: Runner) -> RealRuns {
        let shared = Arc::new(Shared {
            machine: machine.to_owned(),
            runner,
            runs: Mutex::default(),
            ended: tokio::sync::Notify::new(),
        });
        let (port, stop) = crate::serve::spawn(
            "Step Functions runs",
            axum::Router::new().fallback(handle).with_state(shared),
        );
        RealRuns {
            port,
            machine: machine.to_owned(),
            _stop: stop,
        }
    }

    /// Sends `proxy`'s `StartExecution` of the machine and `DescribeExecution` of its
    /// executions here.
    pub fn route(&self, proxy: &crate::aws_proxy::AwsProxy) {
        let endpoint = format!("http://127.0.0.1:{}", self.port);
        let executions = self.machine.replacen(":stateMachine:", ":execution:", 1);
        proxy.route_action_when("states", "StartExecution", &self.machine, &endpoint);
        proxy.route_action_when("states", "DescribeExecution", &executions, &endpoint);
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

fn answer(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/x-amz-json-1.0")],
        body.to_string(),
    )
        .into_response()
}

async fn handle(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let arn = request["executionArn"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    match target.rsplit('.').next().unwrap_or_default() {
        "StartExecution" if request["stateMachineArn"] == shared.machine.as_str() => {
            start(&shared, &request)
        }
        "DescribeExecution" if shared.runs.lock().unwrap().contains_key(&arn) => {
            describe(&shared, &arn).await
        }
        other => answer(
            StatusCode::BAD_REQUEST,
            &json!({"__type": "ExecutionDoesNotExist", "message": format!("the test bed runs no such execution ({other} {arn})")}),
        ),
    }
}

fn start(shared: &Arc<Shared>, request: &Value) -> Response {
    let name = request["name"].as_str().unwrap_or_default().to_owned();
    let input = request["input"].as_str().unwrap_or("{}").to_owned();
    let arn = format!(
        "{}:{name}",
        shared.machine.replacen(":stateMachine:", ":execution:", 1)
    );
    let mut runs = shared.runs.lock().unwrap();
    if let Some(run) = runs.get(&arn) {
        if run.input != input {
            return answer(
                StatusCode::BAD_REQUEST,
                &json!({"__type": "ExecutionAlreadyExists", "message": format!("Execution Already Exists: '{arn}'")}),
            );
        }
        return answer(
            StatusCode::OK,
            &json!({"executionArn": arn, "startDate": run.started}),
        );
    }
    let started = now();
    runs.insert(
        arn.clone(),
        Run {
            name: name.clone(),
            input: input.clone(),
            started,
            outcome: None,
        },
    );
    drop(runs);
    let (shared_run, key) = (shared.clone(), arn.clone());
    std::thread::spawn(move || {
        let runner = shared_run.runner.clone();
        let parsed: Value = serde_json::from_str(&input).unwrap_or(Value::Null);
        let outcome = std::thread::spawn(move || runner(name, parsed))
            .join()
            .unwrap_or_else(|_| Outcome {
                status: "FAILED".into(),
                error: Some("States.Runtime".into()),
                cause: Some("the test bed's run panicked (see the test's output)".into()),
                ..Outcome::default()
            });
        if let Some(run) = shared_run.runs.lock().unwrap().get_mut(&key) {
            run.outcome = Some(outcome);
        }
        shared_run.ended.notify_waiters();
    });
    answer(
        StatusCode::OK,
        &json!({"executionArn": arn, "startDate": started}),
    )
}

async fn describe(shared: &Arc<Shared>, arn: &str) -> Response {
    let deadline = tokio::time::Instant::now() + HOLD;
    loop {
        let ended = shared.ended.notified();
        let body = {
            let runs = shared.runs.lock().unwrap();
            let run = &runs[arn];
            let mut body = json!({
                "executionArn": arn,
                "stateMachineArn": shared.machine,
                "name": run.name,
                "status": "RUNNING",
                "startDate": run.started,
                "input": run.input,
            });
            if let Some(o) = &run.outcome {
                body["status"] = json!(o.status);
                body["stopDate"] = json!(now());
                if let Some(output) = &o.output {
                    body["output"] = json!(output.to_string());
                }
                if let Some(error) = &o.error {
                    body["error"] = json!(error);
                }
                if let Some(cause) = &o.cause {
                    body["cause"] = json!(cause);
                }
                return answer(StatusCode::OK, &body);
            }
            body
        };
        if tokio::time::timeout_at(deadline, ended).await.is_err() {
            return answer(StatusCode::OK, &body);
        }
    }
}
