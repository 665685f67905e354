//! `restore-validator` Lambda entry point: an AWS Backup `Restore Job State Change` event
//! (EventBridge) may start a validation run; any other request is one step of that run
//! (`statemachines/restore-validation.asl.json`). The steps are
//! `snapshot_steps::restore_validation`.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use sluice_runtime::config::Env;
use snapshot_steps::restore_validation::{ValidatorDeps, handler};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    sluice_runtime::init_tracing();
    let env = Env::from_process();
    let sdk = sluice_runtime::aws::sdk_config().await;
    let deps = ValidatorDeps::from_sdk(&sdk, &env);
    // A configuration error fails every step, naming the variable.
    if let Err(error) = &deps.config {
        tracing::error!(%error, "restore-testing validation is not configured");
    }
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler(event.payload, deps).await
    }))
    .await
}
