//! `snapshot-steps` Lambda entry point: config and clients once, then one step of the
//! sanitized-snapshot state machine per invocation (backup actions run in `backup-actions`).

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use sluice_runtime::config::{ConfigError, Env};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    sluice_runtime::init_tracing();
    let env = Env::from_process();
    // A configuration error fails every step, naming the variable.
    let config = snapshot_steps::Config::from_env(&env);
    if let Err(error) = &config {
        tracing::error!(%error, "sanitized snapshots are not configured");
    }
    let backup = Err(ConfigError::invalid(
        "AWS_LAMBDA_FUNCTION_NAME",
        &std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default(),
        "the backup-action steps run in the backup-actions function",
    ));
    let event_bus = snapshot_steps::config::event_bus(&env);
    let sdk = sluice_runtime::aws::sdk_config().await;
    let deps = snapshot_steps::Deps::from_sdk(&sdk, &env, config, backup, event_bus);
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        snapshot_steps::handler(event.payload, deps).await
    }))
    .await
}
