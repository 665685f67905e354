//! `snapshot-steps` Lambda entry point: config and clients once, then one step per invocation.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use sluice_runtime::config::Env;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    sluice_runtime::init_tracing();
    let config = snapshot_steps::Config::from_env(&Env::from_process())?;
    let sdk = sluice_runtime::aws::sdk_config().await;
    let deps = snapshot_steps::Deps::from_sdk(&sdk, config);
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        snapshot_steps::handler(event.payload, deps).await
    }))
    .await
}
