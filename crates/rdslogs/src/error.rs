//! Errors of each step, each naming the instance, file or key it failed on.

use crate::ports::BoxError;

/// A download from the RDS REST endpoint failed.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The request could not be signed (no credentials, bad endpoint URL, …).
    #[error("cannot sign the download of {file} of {instance}: {reason}")]
    Sign {
        /// The instance id.
        instance: String,
        /// The log file name.
        file: String,
        /// What went wrong.
        reason: String,
    },
    /// RDS answered with an error status (after retries, when retryable).
    #[error("downloading {file} of {instance}: HTTP {status}: {body}")]
    Status {
        /// The instance id.
        instance: String,
        /// The log file name.
        file: String,
        /// The HTTP status.
        status: u16,
        /// The start of the error body.
        body: String,
    },
    /// The connection failed or broke (before or during the body).
    #[error("downloading {file} of {instance}: connection failed")]
    Transport {
        /// The instance id.
        instance: String,
        /// The log file name.
        file: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
}

/// An S3 request failed.
#[derive(Debug, thiserror::Error)]
#[error("S3 {operation} of {key} failed")]
pub struct StoreError {
    /// The S3 operation (`GetObject`, `UploadPart`, …).
    pub operation: &'static str,
    /// The object key.
    pub key: String,
    /// The SDK error.
    #[source]
    pub source: BoxError,
}

/// Copying one log file failed; nothing was left at its key as if complete.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The download failed.
    #[error(transparent)]
    Download(#[from] DownloadError),
    /// S3 refused a request.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Compression failed.
    #[error("compressing {key}")]
    Gzip {
        /// The object key.
        key: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// RDS served fewer bytes than it listed: the copy was not completed.
    #[error("{file} of {instance}: downloaded {got} of the {listed} bytes listed; copy discarded")]
    Short {
        /// The instance id.
        instance: String,
        /// The log file name.
        file: String,
        /// Bytes received.
        got: u64,
        /// Bytes listed by DescribeDBLogFiles.
        listed: u64,
    },
}

/// An instance could not be synced at all.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    /// `DescribeDBLogFiles` failed.
    #[error("listing the log files of {instance}")]
    List {
        /// The instance id.
        instance: String,
        /// The adapter error.
        #[source]
        source: BoxError,
    },
    /// Listing the instance's copies for a reconciliation failed.
    #[error("listing the copies of {instance} to reconcile them")]
    Reconcile {
        /// The instance id.
        instance: String,
        /// The S3 error.
        #[source]
        source: StoreError,
    },
    /// The state object could not be read or written.
    #[error("state of {instance}")]
    State {
        /// The instance id.
        instance: String,
        /// The S3 error.
        #[source]
        source: StoreError,
    },
}

/// Renders an error with its whole source chain, `a: b: c`.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut next = error.source();
    while let Some(e) = next {
        let s = e.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        next = e.source();
    }
    out
}
