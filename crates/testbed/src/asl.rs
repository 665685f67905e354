//! Runs an ASL file with aws-local-stepfunctions through `tests/asl-runner/run.mjs`.
//!
//! Lambda tasks are invoked on a [`crate::lambda::LambdaHost`]; a function's `errorType`
//! becomes the error name that `Retry`/`Catch` match, waits and retry intervals are zero.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

use crate::paths;

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct AslRunSpec {
    /// The ASL file, relative to the workspace root (e.g. `statemachines/x.asl.json`).
    pub definition: PathBuf,
    /// The execution input.
    pub input: Value,
    /// Values for the definition's `${Placeholders}`.
    pub substitutions: BTreeMap<String, String>,
    /// The Lambda host's Invoke API (see [`crate::lambda::LambdaHost::endpoint`]).
    pub lambda_endpoint: Option<String>,
    /// Results for non-Lambda tasks, by state name.
    pub mocks: BTreeMap<String, Value>,
    /// The state machine's role (logical id): the Lambda invocations are signed as its, for
    /// the IAM gate of a proxy at `lambda_endpoint` (see [`crate::iam_gate`]).
    pub principal: Option<String>,
    /// The Context Object (`$$`), e.g. `{"Execution": {"Id": …, "Name": …}}`.
    pub context: Option<Value>,
}

impl AslRunSpec {
    /// A run of `definition` as execution `name` of the state machine `machine_arn`, whose
    /// `${placeholder}` is the Lambda `function` served at `lambda_endpoint`.
    pub fn execution(
        definition: &str,
        placeholder: &str,
        function: &str,
        lambda_endpoint: String,
        machine_arn: &str,
        name: &str,
        input: Value,
    ) -> Self {
        let (region, account) = {
            let mut parts = machine_arn.split(':').skip(3);
            (
                parts.next().unwrap_or_default().to_owned(),
                parts.next().unwrap_or_default().to_owned(),
            )
        };
        let machine = machine_arn.rsplit(':').next().unwrap_or_default();
        Self {
            definition: PathBuf::from(definition),
            input,
            substitutions: BTreeMap::from([(
                placeholder.to_owned(),
                format!("arn:aws:lambda:{region}:{account}:function:{function}"),
            )]),
            lambda_endpoint: Some(lambda_endpoint),
            principal: None,
            context: Some(serde_json::json!({
                "Execution": {
                    "Id": format!("arn:aws:states:{region}:{account}:execution:{machine}:{name}"),
                    "Name": name,
                },
                "StateMachine": {"Id": machine_arn},
            })),
            ..Self::default()
        }
    }
}

/// One execution's outcome and event log.
#[derive(Debug, Clone, Deserialize)]
pub struct AslRun {
    /// `SUCCEEDED` or `FAILED`.
    pub status: String,
    /// The output when it succeeded.
    #[serde(default)]
    pub output: Option<Value>,
    /// The error name when it failed.
    #[serde(default)]
    pub error: Option<String>,
    /// The cause when it failed.
    #[serde(default)]
    pub cause: Option<String>,
    /// aws-local-stepfunctions' event log.
    pub events: Vec<Value>,
}

impl AslRun {
    /// Whether the execution succeeded.
    pub fn succeeded(&self) -> bool {
        self.status == "SUCCEEDED"
    }

    /// Panics unless the execution succeeded, showing its error, cause, path and `logs`.
    pub fn assert_succeeded(&self, logs: &str) {
        assert!(
            self.succeeded(),
            "{:?} {:?} {:?}\n{logs}",
            self.error,
            self.cause,
            self.path()
        );
    }

    /// The names of the states entered, in order (the path through the machine).
    pub fn path(&self) -> Vec<String> {
        self.events_of("StateEntered")
            .filter_map(|e| e["state"]["name"].as_str().map(str::to_owned))
            .collect()
    }

    /// How many times `state` was retried.
    pub fn retries(&self, state: &str) -> usize {
        self.events_of("StateRetried")
            .filter(|e| e["state"]["name"] == state)
            .count()
    }

    /// The error names `state` failed with, in order.
    pub fn failures(&self, state: &str) -> Vec<String> {
        self.events_of("StateFailed")
            .filter(|e| e["state"]["name"] == state)
            .filter_map(|e| e["Error"].as_str().map(str::to_owned))
            .collect()
    }

    /// Events of one type.
    pub fn events_of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.events.iter().filter(move |e| e["type"] == kind)
    }
}

/// Why the runner could not produce an outcome.
#[derive(Debug, thiserror::Error)]
pub enum AslError {
    /// Node could not be started.
    #[error("could not start the ASL runner: {0}")]
    Spawn(#[source] std::io::Error),
    /// The runner refused the definition or crashed.
    #[error("ASL runner failed ({status}): {stderr}")]
    Runner {
        /// Its exit status.
        status: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// The runner's output is not the expected JSON.
    #[error("ASL runner printed unreadable output: {0}")]
    Output(#[source] serde_json::Error),
}

/// Runs one execution to its end.
pub async fn run(spec: &AslRunSpec) -> Result<AslRun, AslError> {
    let root = paths::workspace_root();
    let mut cmd = tokio::process::Command::new(paths::node());
    cmd.current_dir(&root)
        .env("SLUICE_NODE_MODULES", paths::tools_dir().join("node"))
        .arg(root.join("tests/asl-runner/run.mjs"))
        .arg("--definition")
        .arg(root.join(&spec.definition))
        .arg("--input")
        .arg(spec.input.to_string())
        .arg("--subst")
        .arg(serde_json::to_string(&spec.substitutions).unwrap_or_default())
        .arg("--mocks")
        .arg(serde_json::to_string(&spec.mocks).unwrap_or_default());
    if let Some(endpoint) = &spec.lambda_endpoint {
        cmd.arg("--lambda-endpoint").arg(endpoint);
    }
    if let Some(context) = &spec.context {
        cmd.arg("--context").arg(context.to_string());
    }
    if let Some(principal) = &spec.principal {
        cmd.arg("--principal").arg(principal);
    }
    let out = cmd.output().await.map_err(AslError::Spawn)?;
    if !out.status.success() {
        return Err(AslError::Runner {
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    serde_json::from_slice(&out.stdout).map_err(AslError::Output)
}
