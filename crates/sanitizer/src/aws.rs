//! AWS adapters: the RDS-managed credentials secret and the script object in S3.

use aws_sdk_s3::Client as S3;
use aws_sdk_secretsmanager::Client as SecretsManager;

use crate::Credentials;

/// Largest script the task reads from S3.
pub const MAX_SCRIPT_BYTES: i64 = 16 * 1024 * 1024;

/// Fetching the secret or the script failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Secrets Manager refused or failed.
    #[error("reading secret {arn}: {message}")]
    Secret {
        /// The secret's ARN.
        arn: String,
        /// What failed (never the secret's value).
        message: String,
    },
    /// S3 refused or failed, or the object is not a usable script.
    #[error("reading script s3://{bucket}/{key}: {message}")]
    Script {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// What failed.
        message: String,
    },
}

/// `<code>: <message>` of a service error (the same metadata trait for every SDK crate).
pub(crate) fn describe(e: &impl aws_sdk_s3::error::ProvideErrorMetadata) -> String {
    format!(
        "{}: {}",
        e.code().unwrap_or("error"),
        e.message().unwrap_or("")
    )
}

/// Reads `{"username", "password"}` from the secret (the shape RDS-managed secrets have).
pub async fn credentials(client: &SecretsManager, arn: &str) -> Result<Credentials, FetchError> {
    let fail = |message: String| FetchError::Secret {
        arn: arn.to_owned(),
        message,
    };
    let out = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| fail(describe(&e.into_service_error())))?;
    let text = out
        .secret_string()
        .ok_or_else(|| fail("the secret has no SecretString".into()))?;
    // The parse error is not shown: serde_json quotes the input near the error.
    serde_json::from_str(text)
        .map_err(|_| fail("expected JSON with string fields username and password".into()))
}

/// Reads the script object (UTF-8, at most [`MAX_SCRIPT_BYTES`]).
pub async fn script(client: &S3, bucket: &str, key: &str) -> Result<String, FetchError> {
    let fail = |message: String| FetchError::Script {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        message,
    };
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| fail(describe(&e.into_service_error())))?;
    if out.content_length().unwrap_or(0) > MAX_SCRIPT_BYTES {
        return Err(fail(format!("larger than {MAX_SCRIPT_BYTES} bytes")));
    }
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| fail(e.to_string()))?
        .into_bytes();
    if i64::try_from(bytes.len()).unwrap_or(i64::MAX) > MAX_SCRIPT_BYTES {
        return Err(fail(format!("larger than {MAX_SCRIPT_BYTES} bytes")));
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| fail("not UTF-8".into()))
}
