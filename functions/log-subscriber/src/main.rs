//! Lambda entry point of the CloudWatch Logs subscriber; logic is in the library.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use log_subscriber::custom_resource::{self, HttpResponder};
use log_subscriber::kinesis::AwsKinesis;
use log_subscriber::logs::AwsLogs;
use log_subscriber::{Aws, Config, Report, SubscribeError, handle};
use serde_json::Value;
use sluice_runtime::config::Env;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sluice_runtime::init_tracing();
    let config = Config::from_env(&Env::from_process())?;
    let sdk = sluice_runtime::aws::sdk_config().await;
    let logs = AwsLogs::new(aws_sdk_cloudwatchlogs::Client::new(&sdk));
    let stream = AwsKinesis::new(aws_sdk_kinesis::Client::new(&sdk));
    let responder = HttpResponder::default();
    let (config, responder) = (&config, &responder);
    let aws = Aws {
        logs: &logs,
        stream: &stream,
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let report = match custom_resource::request_of(&event.payload) {
            Some(request) => custom_resource::run(&request, config, aws, responder).await?,
            None => handle(&event.payload, config, aws).await?,
        };
        report.metrics().flush();
        Ok::<Report, SubscribeError>(report)
    }))
    .await
}
