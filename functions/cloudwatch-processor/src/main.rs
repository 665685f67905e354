//! Lambda entry point of the CloudWatch Logs Firehose transformation; logic is in the library.

use cloudwatch_processor::aws::AwsReingest;
use cloudwatch_processor::{Config, ProcessError, handle};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::value::RawValue;
use sluice_firehose::FirehoseEvent;
use sluice_runtime::config::Env;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sluice_runtime::init_tracing();
    let config = Config::from_env(&Env::from_process())?;
    let reingest = AwsReingest::new(&sluice_runtime::aws::sdk_config().await);
    let (config, reingest) = (&config, &reingest);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<FirehoseEvent>| async move {
            let done = handle(&event.payload, config, reingest).await?;
            done.stats.emit();
            // The response's JSON text, sent as it is (not serialised again).
            let raw: Result<Box<RawValue>, ProcessError> = done.into_raw();
            raw
        },
    ))
    .await
}
