//! Lambda entry point of the DAS Firehose transformation; logic is in the library.

use das_transformer::Handler;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use sluice_das::DasConfig;
use sluice_firehose::FirehoseEvent;
use sluice_runtime::config::Env;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sluice_runtime::init_tracing();
    let env = Env::from_process();
    let config = DasConfig::from_env(&env)?;
    let handler = Handler::from_sdk(config, &sluice_runtime::aws::sdk_config().await, &env);
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<FirehoseEvent>| async move {
        handler.handle(&event.payload).await
    }))
    .await
}
