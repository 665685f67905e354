//! `snapshot-steps`: every step of the sanitized-snapshot state machine
//! (`statemachines/sanitized-snapshot.asl.json`), dispatched on the request's `step` field.
//!
//! Each step is idempotent: a retried invocation finds by tag (`sluice:run-id`) what it already
//! created and carries on. A step waiting on AWS fails with `NotReady`, which the state
//! machine retries; a status that can never become ready fails with `ResourceFailed`. The
//! production source is only ever described and snapshotted.

pub mod aws;
pub mod config;
pub mod state;
mod steps;

use aws_config::SdkConfig;
use serde_json::Value;
use sluice_runtime::StepError;

pub use config::Config;
pub use state::{Kind, Request, State};

/// Clients and configuration, built once per container.
#[derive(Debug, Clone)]
pub struct Deps {
    /// Configuration.
    pub config: Config,
    /// RDS in the function's region.
    pub rds: aws::Rds,
    /// RDS in the DR region, when configured.
    pub dr_rds: Option<aws::Rds>,
    /// EC2 (security group checks).
    pub ec2: aws_sdk_ec2::Client,
    /// ECS (the sanitizer task).
    pub ecs: aws_sdk_ecs::Client,
    /// Step Functions (the concurrency guard).
    pub sfn: aws_sdk_sfn::Client,
    /// EventBridge (the result event).
    pub events: aws_sdk_eventbridge::Client,
}

impl Deps {
    /// Clients from one SDK configuration.
    pub fn from_sdk(sdk: &SdkConfig, config: Config) -> Self {
        let dr_rds = config.dr_region.as_ref().map(|region| {
            let conf = aws_sdk_rds::config::Builder::from(sdk)
                .region(aws_sdk_rds::config::Region::new(region.clone()))
                .build();
            aws::Rds {
                client: aws_sdk_rds::Client::from_conf(conf),
            }
        });
        Self {
            config,
            rds: aws::Rds {
                client: aws_sdk_rds::Client::new(sdk),
            },
            dr_rds,
            ec2: aws_sdk_ec2::Client::new(sdk),
            ecs: aws_sdk_ecs::Client::new(sdk),
            sfn: aws_sdk_sfn::Client::new(sdk),
            events: aws_sdk_eventbridge::Client::new(sdk),
        }
    }
}

/// The step names, in pipeline order.
pub const STEPS: &[&str] = &[
    "guard",
    "validate",
    "snapshotSource",
    "waitSourceSnapshot",
    "restore",
    "waitRestored",
    "runSanitizer",
    "waitSanitizer",
    "snapshotTemp",
    "waitTempSnapshot",
    "copyEncrypted",
    "waitSnapshot",
    "share",
    "copyToDr",
    "prune",
    "cleanup",
    "notify",
];

/// Runs one step and returns the new state.
pub async fn handler(event: Value, deps: &Deps) -> Result<Value, StepError> {
    let request: Request = serde_json::from_value(event)
        .map_err(|e| StepError::invalid_input(format!("not a snapshot-steps request: {e}")))?;
    tracing::info!(step = %request.step, run_id = %request.state.run_id, "step");
    let state = steps::run(request, deps, now()).await?;
    serde_json::to_value(&state)
        .map_err(|e| StepError::new(sluice_runtime::ErrorKind::Internal, e.to_string()))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
