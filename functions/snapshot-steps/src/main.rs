//! `snapshot-steps` Lambda entry point: config and clients once, then one step per invocation.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use sluice_runtime::config::Env;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    sluice_runtime::init_tracing();
    let env = Env::from_process();
    // A stack may run either pipeline alone: a configuration error fails only that pipeline's
    // steps, each naming the variable.
    let config = snapshot_steps::Config::from_env(&env);
    let backup_config = snapshot_steps::BackupConfig::from_env(&env);
    if let (Err(sanitized), Err(backup)) = (&config, &backup_config) {
        tracing::error!(%sanitized, %backup, "neither pipeline is configured");
    }
    let event_bus = snapshot_steps::config::event_bus(&env);
    let sdk = sluice_runtime::aws::sdk_config().await;
    let deps = snapshot_steps::Deps::from_sdk(&sdk, &env, config, backup_config, event_bus);
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        snapshot_steps::handler(event.payload, deps).await
    }))
    .await
}
