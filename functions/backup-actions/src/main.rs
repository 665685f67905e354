//! `backup-actions` Lambda entry point: an AWS Backup job completion (EventBridge) may start a
//! backup-actions run; any other request is one step of that run
//! (`statemachines/backup-actions.asl.json`). The steps are `snapshot_steps::backup`; this
//! binary is separate from `snapshot-steps` so that each function's code holds only its own
//! pipeline (each is loaded at every cold start, and each has a size limit: see the Makefile).

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use sluice_runtime::config::{ConfigError, Env};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    sluice_runtime::init_tracing();
    let env = Env::from_process();
    // A configuration error fails every step, naming the variable.
    let backup_config = snapshot_steps::BackupConfig::from_env(&env);
    if let Err(error) = &backup_config {
        tracing::error!(%error, "backup actions are not configured");
    }
    let sanitized = Err(ConfigError::invalid(
        "AWS_LAMBDA_FUNCTION_NAME",
        &std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default(),
        "the sanitized-snapshot steps run in the snapshot-steps function",
    ));
    let event_bus = snapshot_steps::config::event_bus(&env);
    let sdk = sluice_runtime::aws::sdk_config().await;
    let deps = snapshot_steps::Deps::from_sdk(&sdk, &env, sanitized, backup_config, event_bus);
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        snapshot_steps::backup_handler(event.payload, deps).await
    }))
    .await
}
