//! The REST download of a complete log file:
//! `GET <rds endpoint>/v13/downloadCompleteLogFile/<instance>/<file name>`, SigV4-signed for
//! service `rds` with the function's credentials (session token included), streamed.
//!
//! Unlike `DownloadDBLogFilePortion` it neither truncates lines nor splits multibyte
//! characters: the bytes are the file's. Throttling (429, 400 `Throttling`) and 5xx are
//! retried with exponential backoff and full jitter before any byte is read.
//! See <https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/DownloadCompleteDBLogFile.html>.

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use futures_util::future::BoxFuture;

use crate::error::DownloadError;
use crate::ports::LogStream;

/// How often and how patiently to retry a throttled or failing download request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Backoff before the second attempt (doubling after).
    pub base: Duration,
    /// The longest backoff.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The backoff before attempt `attempt + 1`: uniform in `0..=min(cap, base·2^attempt)`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.cap);
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(if nanos == 0 { 0 } else { random % (nanos + 1) })
    }
}

/// The HTTP client for downloads: connect timeout 10 s, and a read that stalls for 60 s fails
/// (and is retried by the next run) instead of hanging the function.
pub fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(60))
        .build()
}

/// Percent-encodes a path, keeping `/` and RFC 3986 unreserved characters.
pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Signs and sends download requests to one RDS endpoint.
#[derive(Debug, Clone)]
pub struct RdsDownloader {
    http: reqwest::Client,
    endpoint: String,
    region: String,
    credentials: SharedCredentialsProvider,
    retry: RetryPolicy,
}

impl RdsDownloader {
    /// A downloader for `endpoint` (e.g. `https://rds.eu-west-1.amazonaws.com`) in `region`.
    pub fn new(
        http: reqwest::Client,
        endpoint: impl Into<String>,
        region: impl Into<String>,
        credentials: SharedCredentialsProvider,
        retry: RetryPolicy,
    ) -> Self {
        Self {
            http,
            endpoint: endpoint.into().trim_end_matches('/').to_owned(),
            region: region.into(),
            credentials,
            retry,
        }
    }

    /// The download URL of `file` (its folders kept as path segments).
    pub fn url(&self, instance: &str, file: &str) -> String {
        format!(
            "{}/v13/downloadCompleteLogFile/{}/{}",
            self.endpoint,
            encode_path(instance),
            encode_path(file.trim_start_matches('/'))
        )
    }

    /// Opens the file, retrying throttling, 5xx and connection failures with backoff.
    pub async fn open(&self, instance: &str, file: &str) -> Result<HttpLogStream, DownloadError> {
        let mut attempt = 0;
        loop {
            let (error, retryable) = match self.send(instance, file).await {
                Ok(response) if response.status().is_success() => {
                    return Ok(HttpLogStream {
                        response,
                        instance: instance.to_owned(),
                        file: file.to_owned(),
                    });
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    let body = response.text().await.unwrap_or_default();
                    let throttled = status == 429 || body.contains("Throttl");
                    let retryable = throttled || (500..600).contains(&status);
                    let body: String = body.chars().take(300).collect();
                    let error = DownloadError::Status {
                        instance: instance.to_owned(),
                        file: file.to_owned(),
                        status,
                        body,
                    };
                    (error, retryable)
                }
                Err(error @ DownloadError::Transport { .. }) => (error, true),
                Err(error) => (error, false),
            };
            attempt += 1;
            if !retryable || attempt >= self.retry.max_attempts {
                return Err(error);
            }
            let delay = self.retry.backoff(attempt - 1);
            tracing::warn!(instance, file, attempt, ?delay, error = %error, "download retried");
            tokio::time::sleep(delay).await;
        }
    }

    async fn send(&self, instance: &str, file: &str) -> Result<reqwest::Response, DownloadError> {
        let url = self.url(instance, file);
        let sign_err = |reason: String| DownloadError::Sign {
            instance: instance.to_owned(),
            file: file.to_owned(),
            reason,
        };
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| sign_err(crate::error::chain(&e)))?;
        let identity: Identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("rds")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| sign_err(e.to_string()))?
            .into();
        let request = SignableRequest::new(
            "GET",
            url.as_str(),
            std::iter::empty(),
            SignableBody::Bytes(&[]),
        )
        .map_err(|e| sign_err(e.to_string()))?;
        let (instructions, _signature) = sign(request, &params)
            .map_err(|e| sign_err(e.to_string()))?
            .into_parts();
        let mut builder = self.http.get(&url);
        for (name, value) in instructions.headers() {
            builder = builder.header(name, value);
        }
        builder
            .send()
            .await
            .map_err(|source| DownloadError::Transport {
                instance: instance.to_owned(),
                file: file.to_owned(),
                source,
            })
    }
}

/// A download in progress.
#[derive(Debug)]
pub struct HttpLogStream {
    response: reqwest::Response,
    instance: String,
    file: String,
}

impl LogStream for HttpLogStream {
    fn next_chunk(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, DownloadError>> {
        Box::pin(async move {
            self.response
                .chunk()
                .await
                .map_err(|source| DownloadError::Transport {
                    instance: self.instance.clone(),
                    file: self.file.clone(),
                    source,
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_file_with_folders_and_odd_characters_then_path_is_encoded_but_slashes_kept() {
        assert_eq!(
            encode_path("error/postgresql.log.2026-11-22-13"),
            "error/postgresql.log.2026-11-22-13"
        );
        assert_eq!(encode_path("log/my file+1ü"), "log/my%20file%2B1%C3%BC");
    }

    #[test]
    fn given_endpoint_with_trailing_slash_then_url_is_clean() {
        let creds = aws_credential_types::Credentials::new("a", "b", None, None, "test");
        let d = RdsDownloader::new(
            reqwest::Client::new(),
            "https://rds.eu-west-1.amazonaws.com/",
            "eu-west-1",
            SharedCredentialsProvider::new(creds),
            RetryPolicy::default(),
        );
        assert_eq!(
            d.url("db-1", "/trace/alert_ORCL.log"),
            "https://rds.eu-west-1.amazonaws.com/v13/downloadCompleteLogFile/db-1/trace/alert_ORCL.log"
        );
    }

    #[test]
    fn given_any_attempt_then_backoff_stays_under_the_cap() {
        let p = RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(100),
            cap: Duration::from_millis(400),
        };
        for attempt in 0..40 {
            let d = p.backoff(attempt);
            assert!(d <= Duration::from_millis(400), "{attempt}: {d:?}");
            assert!(d <= Duration::from_millis(100) * (1 << attempt.min(16)));
        }
    }
}
