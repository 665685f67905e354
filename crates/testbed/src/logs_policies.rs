//! A CloudWatch Logs account-policy stand-in: moto 5.2 has no `PutAccountPolicy`,
//! `DescribeAccountPolicies` or `DeleteAccountPolicy`.
//!
//! It answers those three (JSON 1.1 protocol, `X-Amz-Target: Logs_20140328.<Action>`) from
//! memory, as the API reference says CloudWatch Logs does
//! (<https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutAccountPolicy.html>):
//! - one `SUBSCRIPTION_FILTER_POLICY` per account and Region: putting one under another name
//!   while one exists is `LimitExceededException`; the same name replaces it;
//! - `selectionCriteria` only with that type, only `LogGroupName NOT IN [<JSON strings>]`, at
//!   most 25 KB: otherwise `InvalidParameterException`; a name starting `aws/`, or a policy
//!   document that is not a JSON object, likewise;
//! - deleting a policy that does not exist is `ResourceNotFoundException`.
//!
//! Other Logs actions go to moto: point the [`crate::aws_proxy::AwsProxy`] at this stand-in for
//! these actions only ([`AccountPolicies::route_through`]). Signatures are not checked.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The actions this stand-in answers.
pub const ACTIONS: [&str; 3] = [
    "PutAccountPolicy",
    "DescribeAccountPolicies",
    "DeleteAccountPolicy",
];

/// CloudWatch Logs' limit on `selectionCriteria`, in UTF-8 bytes.
const SELECTION_CRITERIA_MAX_BYTES: usize = 25_000;

/// Policies by (type, name).
type Policies = BTreeMap<(String, String), Value>;
type Shared = Arc<Mutex<Policies>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Policies> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The running stand-in; it stops serving when dropped.
pub struct AccountPolicies {
    shared: Shared,
    port: u16,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl AccountPolicies {
    /// Starts the stand-in on a free loopback port.
    pub fn start() -> AccountPolicies {
        let shared = Shared::default();
        let (port, stop) = crate::serve::spawn(
            "CloudWatch Logs account-policy stand-in",
            axum::Router::new()
                .fallback(answer)
                .with_state(shared.clone()),
        );
        AccountPolicies {
            shared,
            port,
            _stop: stop,
        }
    }

    /// The endpoint URL.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Sends the proxy's requests for [`ACTIONS`] here; every other Logs call still goes to
    /// the proxy's upstream (moto).
    pub fn route_through(&self, proxy: &crate::aws_proxy::AwsProxy) {
        for action in ACTIONS {
            proxy.route_action("logs", action, &self.endpoint());
        }
    }

    /// Every policy held now, as `DescribeAccountPolicies` would list it.
    pub fn policies(&self) -> Vec<Value> {
        lock(&self.shared).values().cloned().collect()
    }

    /// Puts a policy as someone else would (a foreign policy in the account), unchecked.
    pub fn insert(&self, policy_type: &str, name: &str, document: &str, criteria: Option<&str>) {
        let policy = policy_json(policy_type, name, document, criteria);
        lock(&self.shared).insert((policy_type.to_owned(), name.to_owned()), policy);
    }
}

fn policy_json(policy_type: &str, name: &str, document: &str, criteria: Option<&str>) -> Value {
    let mut p = json!({
        "policyName": name,
        "policyDocument": document,
        "policyType": policy_type,
        "scope": "ALL",
        "accountId": "123456789012",
        "lastUpdatedTime": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
    });
    if let Some(c) = criteria {
        p["selectionCriteria"] = json!(c);
    }
    p
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"__type": code, "message": message}).to_string();
    (
        status,
        [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amzn-errortype", code),
        ],
        body,
    )
        .into_response()
}

fn bad(message: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "InvalidParameterException",
        message,
    )
}

fn ok(body: Value) -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/x-amz-json-1.1")],
        body.to_string(),
    )
        .into_response()
}

/// Whether `criteria` is `LogGroupName NOT IN [<JSON strings>]`.
fn valid_subscription_criteria(criteria: &str) -> bool {
    criteria
        .trim()
        .strip_prefix("LogGroupName NOT IN")
        .and_then(|list| serde_json::from_str::<Vec<String>>(list.trim()).ok())
        .is_some_and(|names| names.iter().all(|n| !n.is_empty()))
}

async fn answer(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let action = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or_default()
        .to_owned();
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "SerializationException",
            "body is not JSON",
        );
    };
    let text = |k: &str| request[k].as_str().unwrap_or_default().to_owned();
    let policy_type = text("policyType");
    if policy_type.is_empty() {
        return bad("policyType is required");
    }
    match action.as_str() {
        "PutAccountPolicy" => put(&shared, &request, &policy_type),
        "DescribeAccountPolicies" => {
            let name = request["policyName"].as_str();
            let policies: Vec<Value> = lock(&shared)
                .iter()
                .filter(|((t, n), _)| *t == policy_type && name.is_none_or(|want| want == n))
                .map(|(_, p)| p.clone())
                .collect();
            ok(json!({ "accountPolicies": policies }))
        }
        "DeleteAccountPolicy" => {
            let name = text("policyName");
            match lock(&shared).remove(&(policy_type.clone(), name.clone())) {
                Some(_) => ok(json!({})),
                None => error(
                    StatusCode::BAD_REQUEST,
                    "ResourceNotFoundException",
                    &format!("Policy with name [{name}] does not exist"),
                ),
            }
        }
        other => error(
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            &format!("the account-policy stand-in does not answer {other:?}"),
        ),
    }
}

fn put(shared: &Shared, request: &Value, policy_type: &str) -> Response {
    let name = request["policyName"].as_str().unwrap_or_default();
    let document = request["policyDocument"].as_str().unwrap_or_default();
    let criteria = request["selectionCriteria"].as_str();
    if name.is_empty() || name.starts_with("aws/") {
        return bad("policyName is required and cannot start with aws/");
    }
    if !serde_json::from_str::<Value>(document).is_ok_and(|d| d.is_object()) {
        return bad("policyDocument is not a JSON object");
    }
    if request["scope"].as_str().is_some_and(|s| s != "ALL") {
        return bad("scope must be ALL");
    }
    let subscription = policy_type == "SUBSCRIPTION_FILTER_POLICY";
    if let Some(c) = criteria {
        if c.len() > SELECTION_CRITERIA_MAX_BYTES {
            return bad("selectionCriteria is longer than 25KB");
        }
        if subscription && !valid_subscription_criteria(c) {
            return bad("Invalid selection criteria: only LogGroupName NOT IN [] is supported");
        }
    }
    if subscription {
        let document: Value = serde_json::from_str(document).unwrap_or_default();
        if document["DestinationArn"]
            .as_str()
            .is_none_or(str::is_empty)
        {
            return bad("the subscription filter policy needs a DestinationArn");
        }
    }
    let mut policies = lock(shared);
    let other = policies
        .keys()
        .find(|(t, n)| subscription && t == policy_type && n != name)
        .map(|(_, n)| n.clone());
    if let Some(other) = other {
        return error(
            StatusCode::BAD_REQUEST,
            "LimitExceededException",
            &format!(
                "Account already has a subscription filter policy ({other}); only one is allowed"
            ),
        );
    }
    let policy = policy_json(policy_type, name, document, criteria);
    policies.insert((policy_type.to_owned(), name.to_owned()), policy.clone());
    ok(json!({ "accountPolicy": policy }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_criteria_then_only_not_in_a_list_of_names_is_valid() {
        assert!(valid_subscription_criteria(
            r#"LogGroupName NOT IN ["/a","/b"]"#
        ));
        assert!(valid_subscription_criteria(r#"LogGroupName NOT IN []"#));
        assert!(!valid_subscription_criteria(
            r#"LogGroupNamePrefix NOT IN ["/a"]"#
        ));
        assert!(!valid_subscription_criteria(r#"LogGroupName IN ["/a"]"#));
        assert!(!valid_subscription_criteria(r#"LogGroupName NOT IN [/a]"#));
    }
}
