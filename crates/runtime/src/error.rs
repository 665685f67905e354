//! The error types Step Functions matches on.
//!
//! A Lambda handler returns a [`StepError`]; the runtime reports its [`ErrorKind`] as the
//! `errorType`, which becomes the error name in `Retry`/`Catch`. These names are the only
//! custom error names an ASL file may use (a workspace test holds the ASL to [`ErrorKind::ALL`]).

use std::fmt;

use lambda_runtime::Diagnostic;

/// A stable error category, reported as the Lambda `errorType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A resource is still being created or changed; the state retries the step.
    NotReady,
    /// The function's or the execution's configuration is unusable.
    Config,
    /// The input the step received is malformed.
    InvalidInput,
    /// An AWS resource reached a state it can never leave for the one wanted
    /// (failed, incompatible-network, storage-full, deleted).
    ResourceFailed,
    /// A check on the data failed (e.g. a verification query returned rows).
    VerificationFailed,
    /// An AWS call failed in a way that retrying the step will not fix.
    Aws,
    /// A bug or an unexpected condition in Sluice.
    Internal,
}

impl ErrorKind {
    /// Every kind, for consistency checks against the ASL and the template.
    pub const ALL: [ErrorKind; 7] = [
        Self::NotReady,
        Self::Config,
        Self::InvalidInput,
        Self::ResourceFailed,
        Self::VerificationFailed,
        Self::Aws,
        Self::Internal,
    ];

    /// The `errorType` string Step Functions sees.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NotReady => "NotReady",
            Self::Config => "ConfigError",
            Self::InvalidInput => "InvalidInput",
            Self::ResourceFailed => "ResourceFailed",
            Self::VerificationFailed => "VerificationFailed",
            Self::Aws => "AwsError",
            Self::Internal => "InternalError",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A handler failure: its kind and a message for the operator (never a secret or payload).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct StepError {
    /// The category Step Functions matches on.
    pub kind: ErrorKind,
    /// What failed and on which resource.
    pub message: String,
}

impl StepError {
    /// Builds an error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// The resource is not ready yet; Step Functions retries.
    pub fn not_ready(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotReady, message)
    }

    /// Unusable configuration.
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    /// Malformed input.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }
}

impl From<crate::config::ConfigError> for StepError {
    fn from(e: crate::config::ConfigError) -> Self {
        Self::config(e.to_string())
    }
}

impl From<StepError> for Diagnostic {
    fn from(e: StepError) -> Self {
        Diagnostic {
            error_type: e.kind.as_str().to_owned(),
            error_message: e.message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostic_carries_stable_error_type() {
        let d: Diagnostic = StepError::not_ready("db-1 is creating").into();
        assert_eq!(d.error_type, "NotReady");
        assert_eq!(d.error_message, "db-1 is creating");
        let d: Diagnostic =
            StepError::from(crate::config::ConfigError::Missing { var: "X".into() }).into();
        assert_eq!(d.error_type, "ConfigError");
        assert!(d.error_message.contains('X'));
    }

    #[test]
    fn error_type_names_are_unique() {
        let mut names: Vec<_> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorKind::ALL.len());
    }
}
