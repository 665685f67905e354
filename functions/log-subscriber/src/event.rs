//! What an invocation asks for, read from its event: a scheduled pass (any event, the default),
//! `{"mode":"remove"}`, or a new log group reported by CloudTrail through EventBridge.
//!
//! The optional `CreateLogGroup` rule (template parameter `CwlSubscribeNewGroups`) delivers
//! CloudTrail's record of the call, e.g. `events/create-log-group.json`:
//! `{"source":"aws.logs","detail-type":"AWS API Call via CloudTrail","detail":{"eventName":
//! "CreateLogGroup","requestParameters":{"logGroupName":"/app/web"},…},…}`
//! (<https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail.html>).
//! It only makes new groups exported sooner: the schedule stays the source of truth.

use serde::Serialize;
use serde_json::Value;

/// The `detail-type` of an API call EventBridge received from CloudTrail.
pub const CLOUDTRAIL_DETAIL_TYPE: &str = "AWS API Call via CloudTrail";
/// The CloudTrail `eventName` the optional rule matches.
pub const CREATE_LOG_GROUP: &str = "CreateLogGroup";

/// What an invocation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Put our filter where it is missing or different (the schedule's default).
    Subscribe,
    /// Delete our filter (only ours) wherever it is.
    Remove,
    /// Subscribe the one log group a `CreateLogGroup` event names, by the same rules.
    NewGroup,
}

/// A parsed request: the mode, and for [`Mode::NewGroup`] the group it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A pass over every listed group, in this mode ([`Mode::Subscribe`] or [`Mode::Remove`]).
    Pass(Mode),
    /// A `CreateLogGroup` call succeeded for this group.
    NewGroup(String),
    /// A `CreateLogGroup` call that failed (CloudTrail records those too): nothing to do.
    FailedCall {
        /// CloudTrail's `errorCode`.
        error_code: String,
    },
}

/// Why an event was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The payload asked for an unknown mode.
    #[error("unknown mode {0:?}: expected \"subscribe\" or \"remove\"")]
    UnknownMode(String),
    /// A `CreateLogGroup` event without `detail.requestParameters.logGroupName`.
    #[error("CreateLogGroup event without detail.requestParameters.logGroupName")]
    NoGroupName,
}

/// Reads what `event` asks for: a CloudTrail `CreateLogGroup` event names one group;
/// `{"mode":"remove"}` removes; anything else (a schedule event) subscribes.
pub fn request_of(event: &Value) -> Result<Request, EventError> {
    if is_create_log_group(event) {
        let detail = &event["detail"];
        if let Some(code) = detail.get("errorCode").and_then(Value::as_str) {
            return Ok(Request::FailedCall {
                error_code: code.to_owned(),
            });
        }
        return detail["requestParameters"]["logGroupName"]
            .as_str()
            .filter(|n| !n.is_empty())
            .map(|n| Request::NewGroup(n.to_owned()))
            .ok_or(EventError::NoGroupName);
    }
    match event.get("mode").and_then(Value::as_str) {
        None | Some("subscribe") => Ok(Request::Pass(Mode::Subscribe)),
        Some("remove") => Ok(Request::Pass(Mode::Remove)),
        Some(other) => Err(EventError::UnknownMode(other.to_owned())),
    }
}

fn is_create_log_group(event: &Value) -> bool {
    event.get("detail-type").and_then(Value::as_str) == Some(CLOUDTRAIL_DETAIL_TYPE)
        && event["detail"]["eventName"].as_str() == Some(CREATE_LOG_GROUP)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn cloudtrail(detail: Value) -> Value {
        json!({
            "version": "0",
            "source": "aws.logs",
            "detail-type": CLOUDTRAIL_DETAIL_TYPE,
            "account": "123456789012",
            "region": "us-east-1",
            "detail": detail,
        })
    }

    #[test]
    fn given_the_sample_event_then_new_group() {
        let event: Value =
            serde_json::from_str(include_str!("../../../events/create-log-group.json"))
                .expect("sample event is JSON");
        assert_eq!(
            request_of(&event),
            Ok(Request::NewGroup("/app/checkout".into()))
        );
    }

    #[test]
    fn given_failed_create_call_then_nothing_to_do() {
        let event = cloudtrail(json!({
            "eventName": CREATE_LOG_GROUP,
            "errorCode": "ResourceAlreadyExistsException",
            "requestParameters": {"logGroupName": "/app/web"},
        }));
        assert_eq!(
            request_of(&event),
            Ok(Request::FailedCall {
                error_code: "ResourceAlreadyExistsException".into()
            })
        );
    }

    #[test]
    fn given_create_event_without_name_then_error() {
        let event = cloudtrail(json!({"eventName": CREATE_LOG_GROUP, "requestParameters": null}));
        assert_eq!(request_of(&event), Err(EventError::NoGroupName));
    }

    #[test]
    fn given_schedule_other_cloudtrail_call_or_modes_then_passes() {
        let schedule =
            json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
        assert_eq!(request_of(&schedule), Ok(Request::Pass(Mode::Subscribe)));
        let other = cloudtrail(json!({"eventName": "DeleteLogGroup"}));
        assert_eq!(request_of(&other), Ok(Request::Pass(Mode::Subscribe)));
        assert_eq!(
            request_of(&json!({"mode": "remove"})),
            Ok(Request::Pass(Mode::Remove))
        );
        assert_eq!(
            request_of(&json!({"mode": "purge"})),
            Err(EventError::UnknownMode("purge".into()))
        );
    }
}
