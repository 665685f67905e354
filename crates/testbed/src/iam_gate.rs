//! The IAM gate, test-bed side (ARCHITECTURE.md, "Test layers", item 7).
//!
//! moto evaluates no IAM. Here every AWS request the product makes in a test is attributed to
//! the principal that makes it in AWS and evaluated by a real policy engine
//! (`tests/iam-gate/gate.mjs`) against that principal's policies in the **SAM-translated**
//! template, deployed with the parameters and names the test uses:
//!
//! - [`Gate::shared`]: one engine process per test binary;
//! - [`Gate::deploy`]: translates `template.yaml` for one stage's parameters and physical names
//!   (`tests/iam-gate/translate.py`) and loads it as a deployment of its own, so stages running
//!   side by side in one binary are judged each against its own names;
//! - [`Deployment::eval`]: one raw HTTP request as the SDK sent it, with the condition-context
//!   facts the request does not carry (resource tags looked up in moto, the service calling on
//!   the principal's behalf, `aws:SourceArn`).
//!
//! Attribution: a process runs with an access key id that **is** its principal's logical id
//! (e.g. `LogSyncerFunctionRole`), see [`principal_env`]. moto ignores the key (every key maps
//! to its default account); the [`crate::aws_proxy::AwsProxy`] in front of it reads the key
//! from the SigV4 credential scope, asks the gate, and answers a denial as AWS would
//! (`AccessDenied`), recording it so the test fails. Requests signed with the test's own key
//! ([`TEST_KEY`]: the test arranging its fixtures) are not evaluated.
//!
//! Each engine process writes its running totals to `target/iam-gate/<pid>.json`; `make test`
//! sums them into one line (`scripts/iam-gate-summary.py`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use serde_json::{Value, json};

use crate::moto::{ACCOUNT, REGION};
use crate::paths;

/// The access key id of requests the test itself makes (fixtures, assertions): not evaluated.
pub const TEST_KEY: &str = "testing";

/// The environment that makes a process's AWS calls those of `principal` (a role's logical id
/// in the template): its access key id is the principal's name.
pub fn principal_env(principal: &str) -> Vec<(String, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID".to_owned(), principal.to_owned()),
        // The secret the stand-ins that check signatures accept (crate::rds_logs).
        ("AWS_SECRET_ACCESS_KEY".to_owned(), "testing".to_owned()),
        ("AWS_SESSION_TOKEN".to_owned(), "testing".to_owned()),
    ]
}

/// `env` with its credentials replaced by `principal`'s (see [`principal_env`]).
pub fn as_principal(env: Vec<(String, String)>, principal: &str) -> Vec<(String, String)> {
    let own = principal_env(principal);
    let mut out: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| !own.iter().any(|(o, _)| o == k))
        .collect();
    out.extend(own);
    out
}

/// The access key id, region and service of a SigV4-signed request: from the `Authorization`
/// header's credential scope, else a presigned URL's `X-Amz-Credential`.
pub fn credential_scope(authorization: Option<&str>, query: Option<&str>) -> Option<Scope> {
    let from_header = authorization.and_then(|a| {
        let at = a.find("Credential=")? + "Credential=".len();
        let rest = &a[at..];
        Some(rest[..rest.find([',', ' ']).unwrap_or(rest.len())].to_owned())
    });
    let credential = from_header.or_else(|| {
        crate::serve::parse_form(query.unwrap_or_default().as_bytes())
            .into_iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("X-Amz-Credential"))
            .map(|(_, v)| v)
    })?;
    let mut parts = credential.split('/');
    let key = parts.next()?.to_owned();
    let _date = parts.next()?;
    let region = parts.next()?.to_owned();
    let service = parts.next()?.to_owned();
    Some(Scope {
        key,
        region,
        service,
    })
}

/// A SigV4 credential scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The access key id (here: the principal).
    pub key: String,
    /// The signing region.
    pub region: String,
    /// The signing name of the service (`rds`, `s3`, `ecs`, …).
    pub service: String,
}

struct Io {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// One engine process, shared by every test of a test binary.
pub struct Gate {
    io: Mutex<Io>,
    deployments: AtomicU64,
}

static SHARED: OnceLock<Gate> = OnceLock::new();

impl Gate {
    /// The engine of this test binary, started on first use.
    pub fn shared() -> &'static Gate {
        SHARED.get_or_init(Gate::start)
    }

    fn start() -> Gate {
        let root = paths::workspace_root();
        let stats_dir = root.join("target/iam-gate");
        let _ = std::fs::create_dir_all(&stats_dir);
        let mut child = Command::new(paths::node())
            .arg(root.join("tests/iam-gate/gate.mjs"))
            .env(
                "IAM_GATE_STATS",
                stats_dir.join(format!("{}.json", std::process::id())),
            )
            .env(
                "IAM_GATE_BINARY",
                std::env::current_exe()
                    .ok()
                    .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .unwrap_or_default(),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the IAM gate (tests/iam-gate/gate.mjs; `make tools` installs node)");
        let stdin = child.stdin.take().expect("gate stdin");
        let stdout = BufReader::new(child.stdout.take().expect("gate stdout"));
        Gate {
            io: Mutex::new(Io {
                child,
                stdin,
                stdout,
            }),
            deployments: AtomicU64::new(0),
        }
    }

    /// Sends one protocol request and returns its answer; an `error` answer is a panic (never
    /// read as allowed).
    fn request(&self, message: &Value) -> Value {
        let mut io = self.io.lock().unwrap_or_else(PoisonError::into_inner);
        let mut line = message.to_string();
        line.push('\n');
        io.stdin
            .write_all(line.as_bytes())
            .and_then(|()| io.stdin.flush())
            .expect("write to the IAM gate");
        let mut answer = String::new();
        io.stdout
            .read_line(&mut answer)
            .expect("read from the IAM gate");
        if answer.is_empty() {
            let status = io.child.try_wait().ok().flatten();
            panic!("the IAM gate exited ({status:?}); its stderr is above");
        }
        let answer: Value = serde_json::from_str(&answer).expect("the IAM gate answers JSON");
        if let Some(error) = answer.get("error") {
            panic!("the IAM gate could not answer {message}: {error}");
        }
        answer
    }

    /// Translates the template for `spec` and loads it as a deployment of its own.
    pub fn deploy(&'static self, spec: &DeploySpec) -> Deployment {
        let n = self.deployments.fetch_add(1, Ordering::SeqCst);
        let name = format!("{}-{n}", spec.stack);
        let dir = tempfile::tempdir().expect("temp dir for the gate's translation");
        let params = dir.path().join("params.json");
        let physical = dir.path().join("physical.json");
        let out = dir.path().join("principals.json");
        std::fs::write(
            &params,
            serde_json::to_vec(&spec.params).expect("params JSON"),
        )
        .expect("write params");
        std::fs::write(
            &physical,
            serde_json::to_vec(&spec.physical).expect("names JSON"),
        )
        .expect("write physical names");
        let root = paths::workspace_root();
        let template = spec
            .template
            .clone()
            .unwrap_or_else(|| root.join("template.yaml"));
        let status = Command::new(paths::python())
            .arg(root.join("tests/iam-gate/translate.py"))
            .arg("--template")
            .arg(&template)
            .arg("--params")
            .arg(&params)
            .arg("--physical")
            .arg(&physical)
            .arg("--stack-name")
            .arg(&spec.stack)
            .arg("--account")
            .arg(ACCOUNT)
            .arg("--region")
            .arg(REGION)
            .arg("--out")
            .arg(&out)
            .status()
            .expect("run tests/iam-gate/translate.py");
        assert!(
            status.success(),
            "translate.py refused the stage's parameters {:?} ({status})",
            spec.params
        );
        let mut document: Value =
            serde_json::from_slice(&std::fs::read(&out).expect("read the translation"))
                .expect("translation JSON");
        if let Some(extra) = spec.extra.as_object() {
            for (k, v) in extra {
                document[k] = v.clone();
            }
        }
        self.request(&json!({"op": "load", "deployment": name, "principals": document}));
        Deployment { gate: self, name }
    }
}

/// A copy of the workspace's `template.yaml` without the policy statement `sid` (its
/// `- Sid: <sid>` item, up to the next item or the end of its list), in a temporary folder
/// that lives as long as the returned value. For tests that prove the gate can fail.
pub fn template_without_statement(sid: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let text = std::fs::read_to_string(paths::workspace_root().join("template.yaml"))
        .expect("read template.yaml");
    let lines: Vec<&str> = text.lines().collect();
    let needle = format!("- Sid: {sid}");
    let start = lines
        .iter()
        .position(|l| l.trim_start() == needle)
        .unwrap_or_else(|| panic!("template.yaml has no statement {sid}"));
    let indent = lines[start].len() - lines[start].trim_start().len();
    let end = lines[start + 1..]
        .iter()
        .position(|l| {
            let i = l.len() - l.trim_start().len();
            !l.trim().is_empty() && (i < indent || (i == indent && l.trim_start().starts_with('-')))
        })
        .map_or(lines.len(), |n| start + 1 + n);
    let kept: Vec<&str> = lines[..start]
        .iter()
        .chain(&lines[end..])
        .copied()
        .collect();
    let dir = tempfile::tempdir().expect("temp dir for the altered template");
    // The template names its state machines by relative path.
    std::os::unix::fs::symlink(
        paths::workspace_root().join("statemachines"),
        dir.path().join("statemachines"),
    )
    .expect("link statemachines/ beside the altered template");
    let path = dir.path().join("template.yaml");
    std::fs::write(&path, kept.join("\n") + "\n").expect("write the altered template");
    (dir, path)
}

/// What a stage deploys: the stack name, template parameters, physical names by logical id,
/// and extra fields of the gate's `load` document (`bucketKmsKeys`, `keyPolicies`, …).
#[derive(Debug, Clone, Default)]
pub struct DeploySpec {
    /// The stack name (`${AWS::StackName}` in names and ARNs).
    pub stack: String,
    /// Template parameters (every `Enable*` the stage needs, and what they require).
    pub params: BTreeMap<String, String>,
    /// Physical names of the resources the stage created (`DataBucket` → its bucket, …).
    pub physical: BTreeMap<String, String>,
    /// Extra fields of the load document.
    pub extra: Value,
    /// Another template than the workspace's `template.yaml` (a test's altered copy).
    pub template: Option<std::path::PathBuf>,
}

impl DeploySpec {
    /// A stack named `stack` with the parameters `params`.
    pub fn new<'a>(stack: &str, params: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        DeploySpec {
            stack: stack.to_owned(),
            params: params
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            physical: BTreeMap::new(),
            extra: Value::Null,
            template: None,
        }
    }

    /// Deploys `template` instead of the workspace's.
    pub fn template(mut self, template: &std::path::Path) -> Self {
        self.template = Some(template.to_path_buf());
        self
    }

    /// Adds physical names by logical id.
    pub fn physical<'a>(mut self, names: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        self.physical
            .extend(names.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())));
        self
    }
}

/// One deployment loaded into the shared gate.
#[derive(Clone)]
pub struct Deployment {
    gate: &'static Gate,
    name: String,
}

/// The gate's answer to one request.
#[derive(Debug, Clone)]
pub struct Decision {
    /// The whole answer (principal, action, resource, context, closest statement, every
    /// evaluation).
    pub answer: Value,
}

impl Decision {
    /// Whether IAM would allow the request (its own action and every implied one).
    pub fn allowed(&self) -> bool {
        self.answer["decision"] == "Allowed"
    }

    /// The decisive action (`s3:PutObject`, …).
    pub fn action(&self) -> &str {
        self.answer["action"].as_str().unwrap_or_default()
    }

    /// A denial as a test failure reads it: principal, action, resource, context and the
    /// statement that came closest, with why it did not match.
    pub fn describe(&self) -> String {
        let a = &self.answer;
        let mut out = format!(
            "IAM gate: {} {} for {} on {}",
            a["decision"].as_str().unwrap_or("?"),
            a["action"].as_str().unwrap_or("?"),
            a["principal"].as_str().unwrap_or("?"),
            a["resource"].as_str().unwrap_or("?"),
        );
        if let Some(by) = a["impliedBy"].as_str() {
            out += &format!(
                " (implied by {by}, rule {}: {})",
                a["rule"].as_str().unwrap_or("?"),
                a["doc"].as_str().unwrap_or("")
            );
        }
        out += &format!("\n  context: {}", a["context"]);
        let closest = &a["closest"];
        if !closest.is_null() {
            out += &format!(
                "\n  closest statement: {} {} — {}\n  {}",
                closest["policy"].as_str().unwrap_or(""),
                closest["sid"].as_str().unwrap_or(""),
                closest["why"].as_str().unwrap_or(""),
                closest["statement"]
            );
        }
        out
    }
}

impl Deployment {
    /// The deployment's name in the gate.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Counts `n` of the denials so far as meant by the test (it proves the gate can fail):
    /// the summary line reports them apart.
    pub fn expected(&self, n: usize) {
        if n > 0 {
            self.gate.request(&json!({"op": "expected", "count": n}));
        }
    }

    /// Evaluates one request made by `principal` (a role's logical id, or
    /// `service:<principal>` for a service authorized by a resource policy). `request` is the
    /// gate's request object (`method`, `path`, `query`, `headers`, `body`); `facts` adds the
    /// condition-context facts the request does not carry (`resourceTags`, `via`, `sourceArn`,
    /// `sourceAccount`, `resource`, …).
    pub fn eval(&self, principal: &str, request: Value, facts: Value) -> Decision {
        let mut message = json!({
            "op": "eval",
            "deployment": self.name,
            "principal": principal,
            "request": request,
        });
        if let Some(facts) = facts.as_object() {
            for (k, v) in facts {
                message[k] = v.clone();
            }
        }
        Decision {
            answer: self.gate.request(&message),
        }
    }

    /// A request AWS makes on a principal's behalf, which no SDK in the test bed sends
    /// (Firehose invoking a function, RDS writing an export, …): `service` is the signing
    /// name, `target` the JSON protocol's `X-Amz-Target` (or `None`), `path` the REST path.
    pub fn eval_service_call(&self, principal: &str, call: &ServiceCall, facts: Value) -> Decision {
        let mut headers = json!({
            "host": format!("{}.{REGION}.amazonaws.com", call.service),
            "authorization": crate::serve::unsigned_authorization(principal, REGION, &call.service),
        });
        if let Some(target) = &call.target {
            headers["x-amz-target"] = json!(target);
            headers["content-type"] = json!("application/x-amz-json-1.1");
        }
        let query = call.path.split_once('?').map_or("", |(_, q)| q);
        let request = json!({
            "method": call.method,
            "path": call.path,
            "query": query,
            "headers": headers,
            "body": call.body,
        });
        self.eval(principal, request, facts)
    }

    /// Whether `service` may assume `role` under the role's trust policy, with the source
    /// context the service sends.
    pub fn assume(&self, role: &str, service: &str, source_arn: Option<&str>) -> Decision {
        let mut message = json!({
            "op": "assume",
            "deployment": self.name,
            "role": role,
            "service": service,
            "sourceAccount": ACCOUNT,
        });
        if let Some(arn) = source_arn {
            message["sourceArn"] = json!(arn);
        }
        Decision {
            answer: self.gate.request(&message),
        }
    }

    /// Like [`Deployment::eval_service_call`], panicking with the gate's explanation unless
    /// the call is allowed.
    pub fn require_service_call(&self, principal: &str, call: &ServiceCall, facts: Value) {
        let decision = self.eval_service_call(principal, call, facts);
        assert!(decision.allowed(), "{}", decision.describe());
    }

    /// Panics unless the gate denies the call (least privilege a test asserts); the denial is
    /// counted as meant, apart from the ones that fail tests. Returns the gate's answer.
    pub fn require_denied(&self, principal: &str, call: &ServiceCall, facts: Value) -> Decision {
        let decision = self.eval_service_call(principal, call, facts);
        assert!(
            !decision.allowed(),
            "{principal} may {} {}, which the template should refuse",
            call.method,
            call.path
        );
        self.expected(1);
        decision
    }

    /// Panics with the gate's explanation unless `service` may assume `role`.
    pub fn require_assume(&self, role: &str, service: &str, source_arn: Option<&str>) {
        let decision = self.assume(role, service, source_arn);
        assert!(decision.allowed(), "{}", decision.describe());
    }
}

/// One batch of a Firehose delivery stream with a Lambda transformation and an S3
/// destination, as Firehose makes it with its role: read the Kinesis source, invoke the
/// function, write the objects and failed records, log delivery errors.
/// <https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html>
#[derive(Debug, Clone)]
pub struct FirehoseBatch {
    /// The delivery stream's role (logical id).
    pub role: String,
    /// The Kinesis stream Firehose reads.
    pub source_stream_arn: String,
    /// The transformation function's name.
    pub function: String,
    /// The destination bucket.
    pub bucket: String,
    /// Keys of the objects the batch writes (from the transformation's partition keys), and
    /// of the failed-records object.
    pub keys: Vec<String>,
    /// The error log group and stream.
    pub log_group: String,
    /// The error log stream.
    pub log_stream: String,
}

impl Deployment {
    /// Panics with the gate's explanation unless the delivery stream's role may do all of
    /// `batch` (and Firehose may assume it).
    pub fn require_firehose(&self, batch: &FirehoseBatch) {
        let stream = json!({ "StreamARN": batch.source_stream_arn, "ShardIterator": "x" });
        let mut calls = vec![];
        for op in [
            "DescribeStream",
            "ListShards",
            "GetShardIterator",
            "GetRecords",
        ] {
            calls.push(ServiceCall::json(
                "kinesis",
                &format!("Kinesis_20131202.{op}"),
                &stream,
            ));
        }
        calls.push(ServiceCall::invoke(&batch.function));
        calls.push(ServiceCall::rest(
            "lambda",
            "GET",
            &format!("/2015-03-31/functions/{}/configuration", batch.function),
        ));
        calls.push(ServiceCall::rest(
            "s3",
            "GET",
            &format!("/{}?location=", batch.bucket),
        ));
        for key in &batch.keys {
            calls.push(ServiceCall::rest(
                "s3",
                "PUT",
                &format!("/{}/{key}", batch.bucket),
            ));
        }
        calls.push(ServiceCall::json(
            "logs",
            "Logs_20140328.PutLogEvents",
            &json!({ "logGroupName": batch.log_group, "logStreamName": batch.log_stream, "logEvents": [] }),
        ));
        for call in &calls {
            self.require_service_call(&batch.role, call, json!({}));
        }
    }
}

/// A call AWS makes on a principal's behalf (see [`Deployment::eval_service_call`]).
#[derive(Debug, Clone)]
pub struct ServiceCall {
    /// Signing name: `lambda`, `s3`, `kinesis`, `firehose`, …
    pub service: String,
    /// HTTP method.
    pub method: String,
    /// Path (and query) of the REST call, `/` for JSON protocols.
    pub path: String,
    /// `X-Amz-Target` of a JSON-protocol call.
    pub target: Option<String>,
    /// The request body (JSON text for JSON protocols).
    pub body: String,
}

impl ServiceCall {
    /// `lambda:InvokeFunction` of the function named `function`.
    pub fn invoke(function: &str) -> ServiceCall {
        ServiceCall::rest(
            "lambda",
            "POST",
            &format!("/2015-03-31/functions/{function}/invocations"),
        )
    }

    /// A REST call (S3, Lambda, …) without a body.
    pub fn rest(service: &str, method: &str, path: &str) -> ServiceCall {
        ServiceCall {
            service: service.to_owned(),
            method: method.to_owned(),
            path: path.to_owned(),
            target: None,
            body: String::new(),
        }
    }

    /// A JSON-protocol call: `target` is the `X-Amz-Target` (`Kinesis_20131202.PutRecord`).
    pub fn json(service: &str, target: &str, body: &Value) -> ServiceCall {
        ServiceCall {
            service: service.to_owned(),
            method: "POST".to_owned(),
            path: "/".to_owned(),
            target: Some(target.to_owned()),
            body: body.to_string(),
        }
    }
}
