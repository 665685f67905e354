//! A moto server on a free loopback port, started for the test process that asks for it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;

use crate::paths;

/// The region every test-bed resource lives in.
pub const REGION: &str = "us-east-1";
/// The account id moto reports.
pub const ACCOUNT: &str = "123456789012";

/// A running moto server. It stops when its owner drops it or the test process exits.
pub struct Moto {
    child: Child,
    port: u16,
}

static SHARED: OnceLock<Moto> = OnceLock::new();

impl Moto {
    /// The server shared by every test of this test binary.
    pub fn shared() -> &'static Moto {
        SHARED.get_or_init(Moto::start)
    }

    /// Starts a server of one's own (for tests that must not see other tests' resources).
    pub fn start() -> Moto {
        let mut child = Command::new(paths::python())
            .arg(paths::workspace_root().join("crates/testbed/moto_runner.py"))
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto server");
        let stdout = child.stdout.take().expect("moto stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read moto readiness line");
        let port = line
            .trim()
            .strip_prefix("READY ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("moto did not start: {line:?}"));
        Moto { child, port }
    }

    /// The server's URL, e.g. `http://127.0.0.1:40123`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Environment for a process that should talk to this server through the standard
    /// variables (the same ones a function reads in AWS; only the endpoint differs).
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_SESSION_TOKEN", "testing".into()),
            ("AWS_REGION", REGION.into()),
            ("AWS_DEFAULT_REGION", REGION.into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// An SDK config pointing at this server, for tests that call AWS themselves.
    pub fn sdk_config(&self) -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(sluice_runtime::aws::http_client())
            .region(Region::new(REGION))
            .endpoint_url(self.endpoint())
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "testing", "testing", None, None, "testbed",
            )))
            .build()
    }

    /// An S3 client on this server, path-style (moto serves no bucket subdomains).
    pub fn s3_client(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.sdk_config())
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// Forgets every resource (moto's `/moto-api/reset`).
    pub async fn reset(&self) {
        reqwest::Client::new()
            .post(format!("{}/moto-api/reset", self.endpoint()))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("reset moto");
    }

    /// A CloudWatch Logs call answered as JSON (moto's log event timestamps are floats, which
    /// the SDK refuses).
    pub async fn logs_json(&self, operation: &str, body: serde_json::Value) -> serde_json::Value {
        let response = reqwest::Client::new()
            .post(self.endpoint())
            .header("X-Amz-Target", format!("Logs_20140328.{operation}"))
            .header("Content-Type", "application/x-amz-json-1.1")
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20261122/us-east-1/logs/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(body.to_string())
            .send()
            .await
            .expect("moto logs");
        assert!(
            response.status().is_success(),
            "{operation}: {}",
            response.status()
        );
        response.json().await.unwrap_or(serde_json::Value::Null)
    }

    /// The messages a log group receives when `pattern` (an EventBridge rule's pattern, put into
    /// moto's EventBridge with that group as its target) is fed `events`: what the rule would
    /// deliver.
    pub async fn rule_deliveries(
        &self,
        pattern: &serde_json::Value,
        events: &[serde_json::Value],
    ) -> Vec<String> {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("rule-{}-{n}", std::process::id());
        let group = format!("/test/{name}");
        self.logs_json("CreateLogGroup", serde_json::json!({"logGroupName": group}))
            .await;
        let bridge = aws_sdk_eventbridge::Client::new(&self.sdk_config());
        bridge
            .put_rule()
            .name(&name)
            .event_pattern(pattern.to_string())
            .send()
            .await
            .expect("PutRule");
        bridge
            .put_targets()
            .rule(&name)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("log")
                    .arn(format!(
                        "arn:aws:logs:us-east-1:123456789012:log-group:{group}"
                    ))
                    .build()
                    .expect("target"),
            )
            .send()
            .await
            .expect("PutTargets");
        for event in events {
            bridge
                .put_events()
                .entries(
                    aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                        .source(event["source"].as_str().unwrap_or_default())
                        .detail_type(event["detail-type"].as_str().unwrap_or_default())
                        .detail(event["detail"].to_string())
                        .build(),
                )
                .send()
                .await
                .expect("PutEvents");
        }
        let delivered = self
            .logs_json(
                "FilterLogEvents",
                serde_json::json!({"logGroupName": group}),
            )
            .await;
        delivered["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["message"].as_str().map(str::to_owned))
            .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
