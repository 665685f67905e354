//! Shared by every Sluice function: configuration from the environment, the one AWS SDK
//! config load, tracing, the error types Step Functions matches on, EMF metrics, and content
//! pins ([`pin`]: the SHA-256 an object must have).
//!
//! A function's `main` calls [`init_tracing`], builds its `Config` with
//! [`config::Env::from_process`], loads [`aws::sdk_config`] once and runs its handler.

pub mod aws;
pub mod config;
pub mod error;
pub mod metrics;
pub mod pin;

pub use error::{ErrorKind, StepError};

/// Initialises tracing for a Lambda function.
///
/// Emits JSON when the function's `LoggingConfig.LogFormat` is `JSON` (Lambda then sets
/// `AWS_LAMBDA_LOG_FORMAT`), plain text otherwise; level from `AWS_LAMBDA_LOG_LEVEL` or
/// `RUST_LOG`. This is the runtime's own subscriber: nothing hand-rolled.
pub fn init_tracing() {
    lambda_runtime::tracing::init_default_subscriber();
}
