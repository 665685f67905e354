//! A fault-injecting forwarder in front of moto (or any upstream endpoint).
//!
//! Every request is forwarded as is (method, path and query, headers but `Host`, body) and the
//! upstream's answer returned verbatim, unless a rule set by the test matches the request's
//! action:
//! - Query protocol (RDS, EC2, STS, …): the `Action` field of a form-encoded body (or query);
//! - JSON protocols (Step Functions, EventBridge, Secrets Manager, ECS, …): what follows the last
//!   `.` of `X-Amz-Target`;
//! - REST protocols (S3): no action; such requests are only forwarded.
//!
//! [`AwsProxy::fail`] answers an action with a service error in the caller's protocol;
//! [`AwsProxy::replace_in_response`] edits the upstream's answer to an action. Point a
//! function at the proxy with `AWS_ENDPOINT_URL_<SERVICE>` = [`AwsProxy::endpoint`].
//!
//! Conditional writes (`If-Match` / `If-None-Match` on a PUT or POST, as S3's conditional
//! `PutObject` and `CompleteMultipartUpload`) are forwarded one at a time: moto checks the
//! condition and then writes, with no lock between, so two racing writes could both pass,
//! where S3 lets exactly one through. Serialising them here gives the test bed S3's answer.
//!
//! [`AwsProxy::hold_together`] holds requests (e.g. two runs' state reads) until all of them
//! have arrived, so runs started at once are made to race at the same step, every time.
//!
//! [`AwsProxy::route`] sends one service's requests (by SigV4 signing name) to another
//! stand-in (ECS, AWS Backup, the RDS log download), so a process needs one endpoint only.
//!
//! With [`AwsProxy::gate`], every request signed with a principal's key (see
//! [`crate::iam_gate`]) is first judged by the IAM gate. A denial is answered as AWS answers
//! it (`AccessDenied`) and recorded: the proxy panics when dropped while denials it recorded
//! were not taken by the test ([`AwsProxy::take_denials`]), so the test that made the call
//! fails, naming principal, action, resource, context and the closest statement.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::iam_gate::{Decision, Deployment, TEST_KEY, credential_scope};

/// One rule set by the test.
#[derive(Debug, Clone)]
enum Rule {
    /// Answer the action with a 400 service error, `times` more times (`None`: always).
    Fail {
        action: String,
        code: String,
        message: String,
        times: Option<u32>,
        /// Only requests whose body or query contains this text.
        when: Option<String>,
    },
    /// Replace `from` with `to` in the upstream's answers to the action.
    Replace {
        action: String,
        from: String,
        to: String,
        /// Only answers to requests whose (decoded) body or query contains this.
        when: Option<String>,
    },
    /// Replace `from` with `to` in the next `times` answers to the action that contain `needle`
    /// (and contain `from`).
    ReplaceInAnswer {
        action: String,
        needle: String,
        from: String,
        to: String,
        times: u32,
    },
    /// Cut the upstream's Query-protocol list answer into pages of `size` `<member>` elements.
    Paginate {
        action: String,
        member: String,
        size: usize,
    },
}

/// What the server and the test share.
struct Shared {
    upstream: String,
    rules: Mutex<Vec<Rule>>,
    calls: Mutex<Vec<String>>,
    /// Each request's action and its (form-decoded) parameters, `k=v&…`.
    requests: Mutex<Vec<(String, String)>>,
    http: reqwest::Client,
    ids: AtomicU64,
    /// Other upstreams by SigV4 signing name.
    routes: Mutex<Vec<(String, String)>>,
    /// Other upstreams by `<service>:<action>`, for requests that contain a needle.
    routes_when: Mutex<Vec<(String, String, String)>>,
    gate: Mutex<Option<Deployment>>,
    denials: Mutex<Vec<Decision>>,
    /// Text replaced in what the gate is shown (not in what moto gets).
    gate_aliases: Mutex<Vec<(String, String)>>,
    /// Real names moto refuses, and what moto stores them as (see [`AwsProxy::moto_name`]).
    moto_names: Mutex<Vec<(String, String)>>,
    /// Held while a conditional write is upstream (see the module docs).
    conditional_writes: tokio::sync::Mutex<()>,
    /// Requests held until a number of them arrived (see [`AwsProxy::hold_together`]).
    holds: Mutex<Vec<Hold>>,
}

/// Requests with this method whose path contains `needle` wait at `barrier`, `left` more.
struct Hold {
    method: String,
    needle: String,
    left: usize,
    barrier: Arc<tokio::sync::Barrier>,
}

/// How long a held request waits for the others before it goes on alone.
const HOLD_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn rules(&self) -> MutexGuard<'_, Vec<Rule>> {
        lock(&self.rules)
    }

    /// A route for `<service>:<action>` of a request containing its needle first (see
    /// [`AwsProxy::route_action_when`]), then for `<service>:<action>`
    /// ([`AwsProxy::route_action`]), then `<service>`.
    fn upstream_for(&self, service: Option<&str>, action: Option<&str>, seen: &str) -> String {
        if let (Some(s), Some(a)) = (service, action)
            && let Some((_, _, upstream)) = lock(&self.routes_when)
                .iter()
                .find(|(key, needle, _)| *key == format!("{s}:{a}") && seen.contains(needle))
        {
            return upstream.clone();
        }
        let routes = lock(&self.routes);
        let find = |key: &str| {
            routes
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, u)| u.clone())
        };
        service
            .and_then(|s| {
                action
                    .and_then(|a| find(&format!("{s}:{a}")))
                    .or_else(|| find(s))
            })
            .unwrap_or_else(|| self.upstream.clone())
    }

    /// Takes one use of the first `Fail` rule for `action`: its code and message.
    fn take_failure(&self, action: &str, request: &str) -> Option<(String, String)> {
        let mut rules = self.rules();
        let i = rules.iter().position(|r| {
            matches!(r, Rule::Fail { action: a, when, .. }
                if a == action && when.as_deref().is_none_or(|w| request.contains(w)))
        })?;
        let Rule::Fail {
            code,
            message,
            times,
            ..
        } = &mut rules[i]
        else {
            return None;
        };
        let out = (code.clone(), message.clone());
        if let Some(left) = times {
            *left = left.saturating_sub(1);
            if *left == 0 {
                rules.remove(i);
            }
        }
        Some(out)
    }

    /// The pagination rule for `action`: member element and page size.
    fn page_rule(&self, action: &str) -> Option<(String, usize)> {
        self.rules().iter().find_map(|r| match r {
            Rule::Paginate {
                action: a,
                member,
                size,
            } if a == action => Some((member.clone(), *size)),
            _ => None,
        })
    }

    /// The replacements for `action`, in the order they were set.
    fn replacements(&self, action: &str, seen: &str) -> Vec<(String, String)> {
        self.rules()
            .iter()
            .filter_map(|r| match r {
                Rule::Replace {
                    action: a,
                    from,
                    to,
                    when,
                } if a == action && when.as_deref().is_none_or(|w| seen.contains(w)) => {
                    Some((from.clone(), to.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// A request id shaped like a UUID.
    /// `answer` with the [`Rule::ReplaceInAnswer`] rules of `action` applied, each use counted.
    fn rewrite_answer(&self, action: &str, mut answer: String) -> String {
        let mut rules = self.rules();
        for rule in rules.iter_mut() {
            if let Rule::ReplaceInAnswer {
                action: a,
                needle,
                from,
                to,
                times,
            } = rule
                && a == action
                && *times > 0
                && answer.contains(needle.as_str())
                && answer.contains(from.as_str())
            {
                answer = answer.replace(from.as_str(), to);
                *times -= 1;
            }
        }
        answer
    }

    fn request_id(&self) -> String {
        let n = self.ids.fetch_add(1, Ordering::SeqCst);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let hex = format!("{:032x}", nanos ^ (u128::from(n) << 64));
        format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    }
}

/// The running proxy; it stops when dropped.
pub struct AwsProxy {
    shared: Arc<Shared>,
    port: u16,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl AwsProxy {
    /// Starts a proxy to `upstream` (e.g. moto's endpoint) on a free loopback port, on a thread
    /// and runtime of its own.
    pub fn start(upstream: &str) -> AwsProxy {
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            rules: Mutex::new(Vec::new()),
            calls: Mutex::new(Vec::new()),
            requests: Mutex::new(Vec::new()),
            http: reqwest::Client::new(),
            ids: AtomicU64::new(0),
            routes: Mutex::default(),
            routes_when: Mutex::default(),
            gate: Mutex::default(),
            denials: Mutex::default(),
            gate_aliases: Mutex::default(),
            moto_names: Mutex::default(),
            conditional_writes: tokio::sync::Mutex::new(()),
            holds: Mutex::default(),
        });
        let (port, stop) = crate::serve::spawn(
            "AWS proxy",
            axum::Router::new()
                .fallback(handle)
                .with_state(shared.clone()),
        );
        AwsProxy {
            shared,
            port,
            _stop: stop,
        }
    }

    /// A proxy to moto whose requests signed with a principal's key are judged by the IAM
    /// gate against `deployment`.
    pub fn gated(moto: &crate::moto::Moto, deployment: Deployment) -> AwsProxy {
        let proxy = AwsProxy::start(&moto.endpoint());
        proxy.gate(deployment);
        proxy
    }

    /// [`AwsProxy::env`] for a process whose calls are those of `principal` (a role's
    /// logical id in the template, see [`crate::iam_gate`]).
    pub fn env_as(&self, moto: &crate::moto::Moto, principal: &str) -> Vec<(String, String)> {
        crate::iam_gate::as_principal(self.env(moto), principal)
    }

    /// An SDK config whose calls go through this proxy as `principal`'s (for adapters a test
    /// drives in its own process, standing for the function that uses them in AWS).
    pub fn sdk_config_as(&self, principal: &str) -> aws_config::SdkConfig {
        use aws_credential_types::Credentials;
        use aws_credential_types::provider::SharedCredentialsProvider;
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .http_client(sluice_runtime::aws::http_client())
            .region(aws_config::Region::new(crate::moto::REGION))
            .endpoint_url(self.endpoint())
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                principal,
                "testing",
                Some("testing".to_owned()),
                None,
                "iam-gate",
            )))
            .build()
    }

    /// `moto`'s environment for a function process, with every AWS call sent through this
    /// proxy (`AWS_ENDPOINT_URL`).
    pub fn env(&self, moto: &crate::moto::Moto) -> Vec<(String, String)> {
        moto.env()
            .into_iter()
            .map(|(k, v)| {
                let v = if k == "AWS_ENDPOINT_URL" {
                    self.endpoint()
                } else {
                    v
                };
                (k, v)
            })
            .collect()
    }

    /// The proxy's URL, for `AWS_ENDPOINT_URL_<SERVICE>` or an SDK's `endpoint_url`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Answers `action` with HTTP 400 and the service error `code`/`message`, for the next
    /// `times` calls (`None`: every call until [`AwsProxy::clear`]).
    pub fn fail(&self, action: &str, code: &str, message: &str, times: Option<u32>) {
        if times == Some(0) {
            return;
        }
        self.shared.rules().push(Rule::Fail {
            action: action.to_owned(),
            code: code.to_owned(),
            message: message.to_owned(),
            times,
            when: None,
        });
    }

    /// Like [`AwsProxy::fail`], every call of `action` whose (form-decoded) body or query
    /// contains `needle`, e.g. `DBSnapshotIdentifier=my-snapshot`.
    pub fn fail_when(&self, action: &str, needle: &str, code: &str, message: &str) {
        self.shared.rules().push(Rule::Fail {
            action: action.to_owned(),
            code: code.to_owned(),
            message: message.to_owned(),
            times: None,
            when: Some(needle.to_owned()),
        });
    }

    /// Replaces every `from` with `to` in the upstream's answer to `action`, on every call.
    pub fn replace_in_response(&self, action: &str, from: &str, to: &str) {
        self.shared.rules().push(Rule::Replace {
            action: action.to_owned(),
            from: from.to_owned(),
            to: to.to_owned(),
            when: None,
        });
    }

    /// Like [`AwsProxy::replace_in_response`], in answers to the calls of `action` whose
    /// (form-decoded) body or query contains `needle`.
    pub fn replace_in_response_when(&self, action: &str, needle: &str, from: &str, to: &str) {
        self.shared.rules().push(Rule::Replace {
            action: action.to_owned(),
            from: from.to_owned(),
            to: to.to_owned(),
            when: Some(needle.to_owned()),
        });
    }

    /// Replaces `from` with `to` in the next `times` answers to `action` that contain `needle`,
    /// e.g. a status in the answers about one region's snapshots (their ARNs name the region):
    /// a copy that takes a while where moto's is done at once.
    pub fn replace_in_answers_containing(
        &self,
        action: &str,
        needle: &str,
        from: &str,
        to: &str,
        times: u32,
    ) {
        self.shared.rules().push(Rule::ReplaceInAnswer {
            action: action.to_owned(),
            needle: needle.to_owned(),
            from: from.to_owned(),
            to: to.to_owned(),
            times,
        });
    }

    /// Pages the upstream's (unpaginated) Query list answers to `action`: at most `size`
    /// `<member>` elements per answer, with a `<Marker>` while more follow (moto ignores
    /// `MaxRecords`/`Marker` for e.g. `DescribeDBSnapshots`, so pagination is tested here).
    pub fn paginate(&self, action: &str, member: &str, size: usize) {
        self.shared.rules().push(Rule::Paginate {
            action: action.to_owned(),
            member: member.to_owned(),
            size: size.max(1),
        });
    }

    /// Sends the requests signed for `service` (its SigV4 signing name: `ecs`, `backup`, …)
    /// to `upstream` instead of the default one.
    pub fn route(&self, service: &str, upstream: &str) {
        lock(&self.shared.routes).push((
            service.to_owned(),
            upstream.trim_end_matches('/').to_owned(),
        ));
    }

    /// Sends one action of `service` (e.g. `logs` `PutAccountPolicy`, which moto lacks) to
    /// `upstream`; the service's other actions go where they went.
    pub fn route_action(&self, service: &str, action: &str, upstream: &str) {
        lock(&self.shared.routes).push((
            format!("{service}:{action}"),
            upstream.trim_end_matches('/').to_owned(),
        ));
    }

    /// Like [`AwsProxy::route_action`], only the requests whose (decoded) body or query contains
    /// `needle` (e.g. one state machine's ARN).
    pub fn route_action_when(&self, service: &str, action: &str, needle: &str, upstream: &str) {
        lock(&self.shared.routes_when).push((
            format!("{service}:{action}"),
            needle.to_owned(),
            upstream.trim_end_matches('/').to_owned(),
        ));
    }

    /// Judges every request signed with a principal's key by the IAM gate, against
    /// `deployment` (see the module docs).
    pub fn gate(&self, deployment: Deployment) {
        *lock(&self.shared.gate) = Some(deployment);
    }

    /// A name AWS uses that moto refuses (e.g. AWS Backup's `awsbackup:job-…` snapshots) and
    /// the prefix moto stores it under: requests to moto carry `stand_in` (raw or
    /// percent-encoded `real` replaced), answers carry `real` again, so the caller sees AWS's
    /// names only. The gate judges the request as sent, with the real name.
    pub fn moto_name(&self, real: &str, stand_in: &str) {
        lock(&self.shared.moto_names).push((real.to_owned(), stand_in.to_owned()));
    }

    /// Shows the gate `to` wherever a request holds `from`, for names moto cannot hold as AWS
    /// does: AWS Backup's RDS recovery points are `awsbackup:job-…`, which moto refuses, so
    /// the stand-in's `awsbackup-job-…` is judged as the real name.
    pub fn gate_alias(&self, from: &str, to: &str) {
        lock(&self.shared.gate_aliases).push((from.to_owned(), to.to_owned()));
    }

    /// The denials recorded so far, which the test thereby expects (the proxy no longer fails
    /// the test for them).
    pub fn take_denials(&self) -> Vec<Decision> {
        let taken: Vec<Decision> = std::mem::take(&mut *lock(&self.shared.denials));
        if let Some(deployment) = lock(&self.shared.gate).as_ref() {
            deployment.expected(taken.len());
        }
        taken
    }

    /// Holds the next `parties` requests with `method` whose path contains `path_contains`
    /// until all of them have arrived, then forwards them together (a request left waiting
    /// goes on after 30 s, so a test that sends fewer fails on its assertions, not a hang).
    pub fn hold_together(&self, method: &str, path_contains: &str, parties: usize) {
        lock(&self.shared.holds).push(Hold {
            method: method.to_owned(),
            needle: path_contains.to_owned(),
            left: parties,
            barrier: Arc::new(tokio::sync::Barrier::new(parties)),
        });
    }

    /// Forgets every rule.
    pub fn clear(&self) {
        self.shared.rules().clear();
    }

    /// The actions seen, in order (`""` for requests without one, such as S3's).
    pub fn calls(&self) -> Vec<String> {
        self.shared
            .calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The parameters of every `action` request seen, in order, each as its form-decoded
    /// `k=v&…` (Query protocol) followed by the raw body: what the caller asked for, whatever
    /// the stand-in then made of it.
    pub fn requests(&self, action: &str) -> Vec<String> {
        lock(&self.shared.requests)
            .iter()
            .filter(|(a, _)| a == action)
            .map(|(_, seen)| seen.clone())
            .collect()
    }
}

impl Drop for AwsProxy {
    fn drop(&mut self) {
        let denials = std::mem::take(&mut *lock(&self.shared.denials));
        if denials.is_empty() {
            return;
        }
        let all: Vec<String> = denials.iter().map(Decision::describe).collect();
        if std::thread::panicking() {
            // The test already failed: a second panic would abort, so the denials (which may be
            // why it failed) go into its captured output instead.
            #[allow(clippy::print_stderr, reason = "shown with the failed test's output")]
            {
                eprintln!(
                    "{} request(s) the IAM gate denied during this failed test:\n{}",
                    denials.len(),
                    all.join("\n")
                );
            }
        } else {
            panic!(
                "{} request(s) AWS would deny (fix template.yaml, not the code):\n{}",
                denials.len(),
                all.join("\n")
            );
        }
    }
}

/// How the caller speaks, for an error in its own protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Protocol {
    /// Query protocol (RDS, STS, …).
    Query,
    /// EC2's flavour of the Query protocol.
    Ec2,
    /// A JSON protocol; the request's content type.
    Json(String),
    /// REST (S3, …): no action.
    Rest,
}

/// The request's action and protocol.
fn classify(headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> (Option<String>, Protocol) {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut form = Vec::new();
    if content_type.starts_with("application/x-www-form-urlencoded") {
        form = crate::serve::parse_form(body);
    }
    if !form.iter().any(|(k, _)| k == "Action")
        && let Some(query) = query
    {
        form.extend(crate::serve::parse_form(query.as_bytes()));
    }
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    if let Some(action) = field("Action") {
        let protocol = if field("Version").as_deref() == Some("2016-11-15") {
            Protocol::Ec2
        } else {
            Protocol::Query
        };
        return (Some(action), protocol);
    }
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok());
    if let Some(target) = target {
        let action = target.rsplit('.').next().unwrap_or(target).to_owned();
        let json = if content_type.starts_with("application/x-amz-json-1.0") {
            "application/x-amz-json-1.0"
        } else {
            "application/x-amz-json-1.1"
        };
        return (Some(action), Protocol::Json(json.to_owned()));
    }
    (None, Protocol::Rest)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A 400 service error in the caller's protocol.
fn error_response(protocol: &Protocol, code: &str, message: &str, request_id: &str) -> Response {
    let (content_type, body) = match protocol {
        Protocol::Json(content_type) => {
            let body = serde_json::json!({ "__type": code, "message": message }).to_string();
            (content_type.clone(), body)
        }
        Protocol::Ec2 => {
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{}</Code>\
                 <Message>{}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>",
                xml_escape(code),
                xml_escape(message)
            );
            ("text/xml".to_owned(), body)
        }
        Protocol::Query | Protocol::Rest => {
            let body = format!(
                "<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><Error>\
                 <Type>Sender</Type><Code>{}</Code><Message>{}</Message></Error>\
                 <RequestId>{request_id}</RequestId></ErrorResponse>",
                xml_escape(code),
                xml_escape(message)
            );
            ("text/xml".to_owned(), body)
        }
    };
    let mut response = (StatusCode::BAD_REQUEST, body).into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert(HeaderName::from_static("x-amzn-requestid"), v);
    }
    response
}

/// `AccessDenied` in the caller's protocol, as AWS answers a request IAM refuses.
fn access_denied(protocol: &Protocol, message: &str, request_id: &str) -> Response {
    match protocol {
        Protocol::Json(_) => {
            let mut r = error_response(protocol, "AccessDeniedException", message, request_id);
            *r.status_mut() = StatusCode::BAD_REQUEST;
            r
        }
        Protocol::Rest => {
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>\
                 <Message>{}</Message><RequestId>{request_id}</RequestId></Error>",
                xml_escape(message)
            );
            let mut r = (StatusCode::FORBIDDEN, body).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            );
            r
        }
        Protocol::Query | Protocol::Ec2 => {
            let mut r = error_response(protocol, "AccessDenied", message, request_id);
            *r.status_mut() = StatusCode::FORBIDDEN;
            r
        }
    }
}

/// `AccessDenied` for a denied decision, which is recorded for the test's failure.
fn deny(shared: &Shared, protocol: &Protocol, decision: Decision) -> Option<Response> {
    if decision.allowed() {
        return None;
    }
    let message = format!(
        "User: {} is not authorized to perform: {} on resource: {} (IAM gate)",
        decision.answer["principal"].as_str().unwrap_or_default(),
        decision.action(),
        decision.answer["resource"].as_str().unwrap_or_default(),
    );
    lock(&shared.denials).push(decision);
    Some(access_denied(protocol, &message, &shared.request_id()))
}

/// Asks the IAM gate about one request, with the resource tags its condition context needs
/// (looked up in moto for the RDS resources and Secrets Manager secrets the request names)
/// and `facts` (see [`Deployment::eval`]).
async fn judge(
    shared: &Shared,
    deployment: &Deployment,
    scope: &crate::iam_gate::Scope,
    parts: &axum::http::request::Parts,
    body: &Bytes,
    mut facts: Value,
) -> Decision {
    let headers: serde_json::Map<String, Value> = parts
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), json!(v.to_str().ok()?))))
        .collect();
    // Object bodies are not read by the gate (only a DeleteObjects body, whose keys are).
    let text = match std::str::from_utf8(body) {
        Ok(t) if body.len() <= 1 << 20 => t,
        _ => "",
    };
    let mut request = json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path_and_query().map_or("/", |p| p.as_str()),
        "query": parts.uri.query().unwrap_or_default(),
        "headers": headers,
        "body": text,
    });
    for (from, to) in lock(&shared.gate_aliases).iter() {
        for field in ["path", "query", "body"] {
            let text = request[field]
                .as_str()
                .unwrap_or_default()
                .replace(from, to);
            request[field] = json!(text);
        }
    }
    let tags = resource_tags(shared, scope, &parts.headers, parts.uri.query(), body).await;
    facts["resourceTags"] = tags;
    let principal = scope.key.clone();
    let deployment = deployment.clone();
    tokio::task::spawn_blocking(move || deployment.eval(&principal, request, facts))
        .await
        .expect("the IAM gate's evaluation thread")
}

/// RDS parameters that name a resource, and the ARN resource type of each.
const RDS_NAMES: &[(&str, &str)] = &[
    ("DBInstanceIdentifier", "db"),
    ("DBClusterIdentifier", "cluster"),
    ("DBSnapshotIdentifier", "snapshot"),
    ("DBClusterSnapshotIdentifier", "cluster-snapshot"),
    ("SourceDBSnapshotIdentifier", "snapshot"),
    ("SourceDBClusterSnapshotIdentifier", "cluster-snapshot"),
    ("TargetDBSnapshotIdentifier", "snapshot"),
    ("TargetDBClusterSnapshotIdentifier", "cluster-snapshot"),
    ("ResourceName", ""),
    ("SourceArn", ""),
];

/// The tags of the resources a request names, by ARN, as the stand-in holds them now.
async fn resource_tags(
    shared: &Shared,
    scope: &crate::iam_gate::Scope,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Value {
    let mut out = serde_json::Map::new();
    let region = scope.region.as_str();
    match scope.service.as_str() {
        "rds" => {
            let form: Vec<(String, String)> = crate::serve::parse_form(body)
                .into_iter()
                .chain(crate::serve::parse_form(
                    query.unwrap_or_default().as_bytes(),
                ))
                .collect();
            let action = form
                .iter()
                .find(|(k, _)| k == "Action")
                .map(|(_, v)| v.as_str());
            if action.is_none_or(|a| a.starts_with("Describe") || a == "ListTagsForResource") {
                return Value::Object(out);
            }
            for (name, kind) in RDS_NAMES {
                let Some((_, value)) = form.iter().find(|(k, _)| k == name) else {
                    continue;
                };
                let arn = if value.starts_with("arn:") {
                    value.clone()
                } else if kind.is_empty() {
                    continue;
                } else {
                    format!(
                        "arn:aws:rds:{region}:{}:{kind}:{value}",
                        crate::moto::ACCOUNT
                    )
                };
                let tags = rds_tags(shared, region, &arn).await;
                out.insert(arn, tags);
            }
        }
        "secretsmanager" => {
            let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok());
            if let (Some(id), Some(_)) = (request["SecretId"].as_str(), target) {
                let answer = upstream_call(
                    shared,
                    region,
                    "secretsmanager",
                    Some("secretsmanager.DescribeSecret"),
                    json!({ "SecretId": id }).to_string(),
                )
                .await;
                let answer: Value = serde_json::from_str(&answer).unwrap_or(Value::Null);
                let tags: serde_json::Map<String, Value> = answer["Tags"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| Some((t["Key"].as_str()?.to_owned(), t["Value"].clone())))
                    .collect();
                out.insert(id.to_owned(), Value::Object(tags.clone()));
                if let Some(arn) = answer["ARN"].as_str() {
                    out.insert(arn.to_owned(), Value::Object(tags));
                }
            }
        }
        _ => {}
    }
    Value::Object(out)
}

/// `ListTagsForResource` of one RDS ARN in moto, as `{key: value}` (empty when it fails).
async fn rds_tags(shared: &Shared, region: &str, arn: &str) -> Value {
    let body = format!(
        "Action=ListTagsForResource&Version=2014-10-31&ResourceName={}",
        crate::serve::url_encode(arn)
    );
    let xml = upstream_call(shared, region, "rds", None, body).await;
    let mut tags = serde_json::Map::new();
    for tag in xml.split("<Tag>").skip(1) {
        let field = |name: &str| {
            let open = format!("<{name}>");
            let close = format!("</{name}>");
            let from = tag.find(&open)? + open.len();
            let to = tag[from..].find(&close)? + from;
            Some(tag[from..to].to_owned())
        };
        if let (Some(k), Some(v)) = (field("Key"), field("Value")) {
            tags.insert(xml_unescape(&k), json!(xml_unescape(&v)));
        }
    }
    Value::Object(tags)
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// One request of the test bed's own (the test's key) straight to moto; its body, or `""`.
async fn upstream_call(
    shared: &Shared,
    region: &str,
    service: &str,
    target: Option<&str>,
    body: String,
) -> String {
    let scope = crate::serve::unsigned_authorization(TEST_KEY, region, service);
    let mut request = shared
        .http
        .post(format!("{}/", shared.upstream))
        .header(header::AUTHORIZATION, scope)
        .body(body);
    request = match target {
        Some(t) => request
            .header("x-amz-target", t)
            .header(header::CONTENT_TYPE, "application/x-amz-json-1.1"),
        None => request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded"),
    };
    // An empty answer would be judged as "no tags" and denied: the lookup is patient.
    match send_to_moto(request, true).await {
        Ok(answer) if !answer.status().is_server_error() => answer.text().await.unwrap_or_default(),
        _ => String::new(),
    }
}

/// Sends `request`; when `patient`, asks again (up to [`UPSTREAM_ATTEMPTS`] times, backing off)
/// while the connection drops or the answer is a 500. moto's threaded server does both now and
/// then while another test changes the collection a read is iterating; AWS does not fail that
/// way, and the functions here run with `AWS_MAX_ATTEMPTS=1`.
async fn send_to_moto(
    mut request: reqwest::RequestBuilder,
    patient: bool,
) -> reqwest::Result<reqwest::Response> {
    let attempts = if patient { UPSTREAM_ATTEMPTS } else { 1 };
    let mut attempt = 1;
    loop {
        let again = if attempt < attempts {
            request.try_clone()
        } else {
            None
        };
        let result = request.send().await;
        let failed = match &result {
            Ok(answer) => answer.status().is_server_error(),
            Err(_) => true,
        };
        match again {
            Some(next) if failed => {
                tokio::time::sleep(std::time::Duration::from_millis(50 * u64::from(attempt))).await;
                request = next;
                attempt += 1;
            }
            _ => return result,
        }
    }
}

/// How often the test bed's own lookups in moto are tried.
const UPSTREAM_ATTEMPTS: u32 = 4;

/// Headers that describe one hop's framing, not the message: never copied across.
/// `path` and `body` with every real name in `names` (raw or percent-encoded) as moto's.
fn to_moto_names(names: &[(String, String)], path: String, body: Bytes) -> (String, Bytes) {
    if names.is_empty() {
        return (path, body);
    }
    let swap = |mut text: String| {
        for (real, stand_in) in names {
            let encoded = real.replace(':', "%3A");
            text = text
                .replace(real.as_str(), stand_in)
                .replace(&encoded, stand_in);
        }
        text
    };
    let body = match std::str::from_utf8(&body) {
        Ok(text) => Bytes::from(swap(text.to_owned())),
        Err(_) => body,
    };
    (swap(path), body)
}

fn hop_by_hop(name: &HeaderName) -> bool {
    name == header::HOST
        || name == header::CONTENT_LENGTH
        || name == header::TRANSFER_ENCODING
        || name == header::CONNECTION
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 64 << 20).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let (action, protocol) = classify(&parts.headers, parts.uri.query(), &body);
    let request_body = body.clone();
    shared
        .calls
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(action.clone().unwrap_or_default());
    let decoded: String = crate::serve::parse_form(&request_body)
        .into_iter()
        .chain(crate::serve::parse_form(
            parts.uri.query().unwrap_or_default().as_bytes(),
        ))
        .map(|(k, v)| format!("{k}={v}&"))
        .collect();
    let seen = format!("{decoded}{}", String::from_utf8_lossy(&request_body));
    if let Some(action) = &action
        && seen.len() <= 64 << 10
    {
        lock(&shared.requests).push((action.clone(), seen.clone()));
    }
    let scope = credential_scope(
        parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
        parts.uri.query(),
    );
    let gate = lock(&shared.gate)
        .clone()
        .zip(scope.clone())
        .filter(|(_, scope)| scope.key != TEST_KEY);
    // KMS Decrypt without KeyId names its key only inside the ciphertext: judged once moto's
    // answer says which key it was (Decrypt changes nothing, so answering AccessDenied after
    // the fact is what the caller would have seen).
    let keyless_decrypt = gate.as_ref().is_some_and(|(_, scope)| {
        scope.service == "kms"
            && action.as_deref() == Some("Decrypt")
            && serde_json::from_slice::<Value>(&request_body)
                .map(|v| v.get("KeyId").is_none())
                .unwrap_or(false)
    });
    if let Some((deployment, scope)) = &gate
        && !keyless_decrypt
    {
        let decision = judge(&shared, deployment, scope, &parts, &request_body, json!({})).await;
        if let Some(denied) = deny(&shared, &protocol, decision) {
            return denied;
        }
    }
    if let Some(action) = &action
        && let Some((code, message)) = shared.take_failure(action, &seen)
    {
        return error_response(&protocol, &code, &message, &shared.request_id());
    }
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let held = {
        let mut holds = lock(&shared.holds);
        holds
            .iter_mut()
            .find(|h| h.left > 0 && h.method == parts.method.as_str() && path.contains(&h.needle))
            .map(|h| {
                h.left -= 1;
                h.barrier.clone()
            })
    };
    if let Some(barrier) = held {
        let _ = tokio::time::timeout(HOLD_PATIENCE, barrier.wait()).await;
    }
    let is_head = parts.method == axum::http::Method::HEAD;
    let Ok(method) = reqwest::Method::from_bytes(parts.method.as_str().as_bytes()) else {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    };
    let base = shared.upstream_for(
        scope.as_ref().map(|s| s.service.as_str()),
        action.as_deref(),
        &seen,
    );
    // A routed stand-in may check the SigV4 signature, which covers `Host`: keep the caller's.
    let keep_host = base != shared.upstream;
    let names = if keep_host {
        Vec::new()
    } else {
        lock(&shared.moto_names).clone()
    };
    let (path, body) = to_moto_names(&names, path, body);
    let mut upstream = shared
        .http
        .request(method, format!("{base}{path}"))
        .body(body);
    for (name, value) in &parts.headers {
        if !hop_by_hop(name) || (keep_host && name == header::HOST) {
            upstream = upstream.header(name.as_str(), value.as_bytes());
        }
    }
    let conditional = matches!(
        parts.method,
        axum::http::Method::PUT | axum::http::Method::POST
    ) && (parts.headers.contains_key(header::IF_MATCH)
        || parts.headers.contains_key(header::IF_NONE_MATCH));
    let one_at_a_time = if conditional {
        Some(shared.conditional_writes.lock().await)
    } else {
        None
    };
    // Reads from moto (not from a routed stand-in, whose faults are the tests' own) are patient.
    let rereadable = !keep_host
        && action
            .as_deref()
            .is_some_and(|a| a.starts_with("Describe") || a.starts_with("List"));
    let answer = match send_to_moto(upstream, rereadable).await {
        Ok(a) => a,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    drop(one_at_a_time);
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut headers = HeaderMap::new();
    for (name, value) in answer.headers() {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) else {
            continue;
        };
        // A HEAD answer has no body: its length is the upstream's, kept as sent.
        let keep_length = is_head && name == header::CONTENT_LENGTH;
        if keep_length || !hop_by_hop(&name) {
            headers.append(name, value);
        }
    }
    let mut body: Bytes = match answer.bytes().await {
        Ok(b) => b,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    if !names.is_empty() {
        let mut text = String::from_utf8_lossy(&body).into_owned();
        for (real, stand_in) in &names {
            text = text.replace(stand_in.as_str(), real);
        }
        body = Bytes::from(text);
    }
    if keyless_decrypt
        && let Some((deployment, scope)) = &gate
        && let Some(key) = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v["KeyId"].as_str().map(str::to_owned))
    {
        let facts = json!({ "resource": key });
        let decision = judge(&shared, deployment, scope, &parts, &request_body, facts).await;
        if let Some(denied) = deny(&shared, &protocol, decision) {
            return denied;
        }
    }
    let replacements = action
        .as_deref()
        .map(|a| shared.replacements(a, &seen))
        .unwrap_or_default();
    if !replacements.is_empty() {
        let mut text = String::from_utf8_lossy(&body).into_owned();
        for (from, to) in replacements {
            text = text.replace(&from, &to);
        }
        body = Bytes::from(text);
    }
    if let Some(action) = &action
        && shared.rules().iter().any(
            |r| matches!(r, Rule::ReplaceInAnswer { action: a, times, .. } if a == action && *times > 0),
        )
    {
        let text = String::from_utf8_lossy(&body).into_owned();
        body = Bytes::from(shared.rewrite_answer(action, text));
    }
    if let Some(action) = &action
        && let Some((member, size)) = shared.page_rule(action)
    {
        let marker = crate::serve::parse_form(&request_body)
            .into_iter()
            .chain(crate::serve::parse_form(
                parts.uri.query().unwrap_or_default().as_bytes(),
            ))
            .find(|(k, _)| k == "Marker")
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0);
        body = Bytes::from(page(&String::from_utf8_lossy(&body), &member, marker, size));
    }
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// Elements `offset..offset + size` of the `<member>…</member>` list in `xml`, followed by a
/// `<Marker>` (the next offset) when more remain; anything around the list is kept.
fn page(xml: &str, member: &str, offset: usize, size: usize) -> String {
    let open = format!("<{member}>");
    let close = format!("</{member}>");
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(start) = xml[from..].find(&open).map(|i| i + from) {
        let Some(end) = xml[start..].find(&close).map(|i| i + start + close.len()) else {
            break;
        };
        spans.push((start, end));
        from = end;
    }
    let (Some(first), Some(last)) = (spans.first(), spans.last()) else {
        return xml.to_owned();
    };
    let kept: String = spans
        .iter()
        .skip(offset)
        .take(size)
        .map(|&(a, b)| &xml[a..b])
        .collect();
    let rest = &xml[last.1..];
    let marker = if offset + size < spans.len() {
        // The marker goes after the list's closing tag, as RDS places it.
        let at = rest.find('>').map_or(0, |i| i + 1);
        format!(
            "{}<Marker>{}</Marker>{}",
            &rest[..at],
            offset + size,
            &rest[at..]
        )
    } else {
        rest.to_owned()
    };
    format!("{}{kept}{marker}", &xml[..first.0])
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = "<R><Result><Xs><X>a</X><X>b</X><X>c</X></Xs></Result><Meta/></R>";

    #[test]
    fn given_list_then_pages_carry_a_marker_until_the_last() {
        assert_eq!(
            page(LIST, "X", 0, 2),
            "<R><Result><Xs><X>a</X><X>b</X></Xs><Marker>2</Marker></Result><Meta/></R>"
        );
        assert_eq!(
            page(LIST, "X", 2, 2),
            "<R><Result><Xs><X>c</X></Xs></Result><Meta/></R>"
        );
        assert_eq!(page("<R><Xs/></R>", "X", 0, 2), "<R><Xs/></R>");
    }
}
