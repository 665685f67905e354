//! The subscriber of run notifications, standing in for the alarm topic's: the template's
//! notification rule (its `EventPattern`, narrowed to one run) put on moto's default bus with an
//! SQS queue as its target, so a test reads what the real run's result event makes EventBridge
//! deliver.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::iam_gate::TEST_KEY;
use crate::moto::{Moto, REGION};

/// One queue subscribed to one rule.
pub struct Subscriber {
    endpoint: String,
    queue_url: String,
    /// The template rule's input transformer (`InputPathsMap`), to hold against the events.
    pub input_paths: Value,
}

/// One JSON-protocol call to moto, signed with the test's key.
async fn call(
    endpoint: &str,
    service: &str,
    target: &str,
    json_version: &str,
    body: Value,
) -> Value {
    let answer = reqwest::Client::new()
        .post(format!("{endpoint}/"))
        .header("x-amz-target", target)
        .header(
            "content-type",
            format!("application/x-amz-json-{json_version}"),
        )
        .header(
            "authorization",
            crate::serve::unsigned_authorization(TEST_KEY, REGION, service),
        )
        .body(body.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{target}: {e}"));
    let status = answer.status();
    let text = answer.text().await.unwrap_or_default();
    assert!(status.is_success(), "{target}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// The template's `EventPattern` of rule `logical_id`, its `Fn::If` on `NotifySuccessToo`
/// resolved to `success`.
pub fn template_pattern(logical_id: &str, success: bool) -> Value {
    let rule = &crate::template::load()["Resources"][logical_id];
    assert!(!rule.is_null(), "template.yaml has no {logical_id}");
    let mut pattern = rule["Properties"]["EventPattern"].clone();
    if let Some(branches) = pattern["detail-type"]["Fn::If"].as_array() {
        assert_eq!(branches[0], "NotifySuccessToo", "{pattern}");
        pattern["detail-type"] = branches[if success { 1 } else { 2 }].clone();
    }
    pattern
}

impl Subscriber {
    /// Puts rule `logical_id` of the template (with `NotifyOnSuccess` = `success`), narrowed
    /// to `detail.runId` = `run_id`, on moto's default bus with a new queue as its target.
    pub async fn subscribe(
        moto: &Moto,
        logical_id: &str,
        run_id: &str,
        success: bool,
    ) -> Subscriber {
        let endpoint = moto.endpoint();
        let mut pattern = template_pattern(logical_id, success);
        pattern["detail"] = json!({ "runId": [run_id] });
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!(
            "notify-{}-{n}",
            run_id.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
        );
        let queue_url = call(
            &endpoint,
            "sqs",
            "AmazonSQS.CreateQueue",
            "1.0",
            json!({ "QueueName": name }),
        )
        .await["QueueUrl"]
            .as_str()
            .expect("QueueUrl")
            .to_owned();
        let queue_arn = call(
            &endpoint,
            "sqs",
            "AmazonSQS.GetQueueAttributes",
            "1.0",
            json!({ "QueueUrl": queue_url, "AttributeNames": ["QueueArn"] }),
        )
        .await["Attributes"]["QueueArn"]
            .as_str()
            .expect("QueueArn")
            .to_owned();
        call(
            &endpoint,
            "events",
            "AWSEvents.PutRule",
            "1.1",
            json!({ "Name": name, "EventBusName": "default", "EventPattern": pattern.to_string(), "State": "ENABLED" }),
        )
        .await;
        call(
            &endpoint,
            "events",
            "AWSEvents.PutTargets",
            "1.1",
            json!({ "Rule": name, "EventBusName": "default", "Targets": [{ "Id": "subscriber", "Arn": queue_arn }] }),
        )
        .await;
        let rule = &crate::template::load()["Resources"][logical_id];
        Subscriber {
            endpoint,
            queue_url,
            input_paths: rule["Properties"]["Targets"][0]["InputTransformer"]["InputPathsMap"]
                .clone(),
        }
    }

    /// The events delivered so far (waiting up to `wait` for the first).
    pub async fn events(&self, wait: Duration) -> Vec<Value> {
        let started = Instant::now();
        let mut out = Vec::new();
        loop {
            let got = call(
                &self.endpoint,
                "sqs",
                "AmazonSQS.ReceiveMessage",
                "1.0",
                json!({ "QueueUrl": self.queue_url, "MaxNumberOfMessages": 10 }),
            )
            .await;
            let messages = got["Messages"].as_array().cloned().unwrap_or_default();
            for m in &messages {
                let body = m["Body"].as_str().unwrap_or_default();
                out.push(serde_json::from_str(body).unwrap_or_else(|_| json!(body)));
            }
            if messages.is_empty() && (!out.is_empty() || started.elapsed() >= wait) {
                return out;
            }
            if messages.is_empty() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// The value at a JSONPath of the simple form `$.a.b` (what `InputPathsMap` uses here).
pub fn at_path<'a>(event: &'a Value, path: &str) -> &'a Value {
    path.trim_start_matches("$.")
        .split('.')
        .fold(event, |v, key| &v[key])
}
