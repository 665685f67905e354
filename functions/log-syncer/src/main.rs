//! `log-syncer` Lambda entry point: config and clients once, then the handler per event.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use sluice_runtime::config::Env;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    sluice_runtime::init_tracing();
    let env = Env::from_process();
    let config = log_syncer::Config::from_env(&env)?;
    let sdk = sluice_runtime::aws::sdk_config().await;
    let deps = log_syncer::Deps::from_sdk(&sdk, &env, config).await?;
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let invocation = log_syncer::Invocation::from_context(&event.context);
        log_syncer::handler(event.payload, deps, &invocation).await
    }))
    .await
}
